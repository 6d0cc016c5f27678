// GET /console: the console's build served by the server (the page, its hashed assets, nothing else),
// and the two queries it needs, admin.session and admin.metrics.recent, through real HTTP round trips.
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { signToken } from "@cairn/api";
import { testConfig } from "@cairn/api/testing";
import { describeEachDatabase } from "@cairn/db/testing";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningServer, startServer } from "./http-server.ts";
import { createMetrics } from "./metrics.ts";

const api = testConfig({ maxValueBytes: 2048 });
// vitest's global setup builds the server, and turbo builds the console before it.
const CONSOLE_BUILD = fileURLToPath(new URL("../../console/dist/", import.meta.url));

describeEachDatabase("the console's files and queries", (getDb) => {
  let server: RunningServer;
  let admin: string;
  let viewer: string;
  const expiresAt = new Date(Math.floor(Date.now() / 1000 + 600) * 1000);
  beforeAll(async () => {
    server = await startServer({
      db: getDb(),
      api,
      logger: pino({ level: "silent" }),
      maxBodyBytes: 100_000,
      metrics: createMetrics(),
    });
    admin = await signToken(api.tokenKeys, { sub: "ops-alice", scope: "admin" }, expiresAt);
    viewer = await signToken(api.tokenKeys, { sub: "night-shift", scope: "viewer" }, expiresAt);
  });
  afterAll(() => server?.close());

  const call = async (path: string, token: string, input?: unknown) => {
    const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    const res = await fetch(`${server.url}/trpc/${path}${query}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return {
      status: res.status,
      body: (await res.json()) as { result?: { data: unknown }; error?: unknown },
    };
  };

  it("redirects /console to /console/ (the page's asset URLs are relative to it)", async () => {
    const res = await fetch(`${server.url}/console`, { redirect: "manual" });
    expect(res.status).toBe(308);
    expect(res.headers.get("location")).toBe("console/");
  });

  it("serves the page with a strict CSP, and its hashed assets cached for good", async () => {
    const page = await fetch(`${server.url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await readdir(`${CONSOLE_BUILD}assets`)).map((name) => `assets/${name}`)).toContain(script);
    const asset = await fetch(`${server.url}/console/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    // A reload of a view's URL gets the page too (views live in the fragment; this is a stray path).
    expect((await fetch(`${server.url}/console/runs`)).headers.get("content-type")).toContain("text/html");
  });

  it("serves nothing outside the build: a missing asset or file type is 404, a traversal gets the page", async () => {
    expect((await fetch(`${server.url}/console/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/console/assets/x.exe`)).status).toBe(404);
    // fetch resolves a plain "../"; encoded, it reaches the server, which never treats it as a file path.
    for (const path of ["assets/..%2f..%2fpackage.json", "..%2f..%2f..%2fpackage.json", "assets/a/b.js"]) {
      const res = await fetch(`${server.url}/console/${path}`);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  it("admin.session says who the token is for, its scope and expiry, and the value limit", async () => {
    expect((await call("admin.session", admin)).body.result?.data).toEqual({
      sub: "ops-alice",
      scope: "admin",
      expiresAt: expiresAt.toISOString(),
      maxValueBytes: 2048,
    });
    expect((await call("admin.session", viewer)).body.result?.data).toMatchObject({
      sub: "night-shift",
      scope: "viewer",
    });
    expect((await call("admin.session", "not-a-token")).status).toBe(401);
  });

  it("admin.metrics.recent counts this server's calls, errors and p99 per procedure", async () => {
    await call("admin.assets.list", admin, { limit: 5 });
    await call("admin.assets.list", viewer, { limit: 5 });
    await call("admin.assets.list", admin, { limit: 0 }); // BAD_REQUEST
    const { body } = await call("admin.metrics.recent", viewer);
    const recent = body.result?.data as {
      intervalSeconds: number;
      from: string;
      procedures: { path: string; calls: number[]; errors: number[]; p99Ms: (number | null)[] }[];
    };
    expect(recent.intervalSeconds).toBe(10);
    expect(Date.now() - Date.parse(recent.from)).toBeGreaterThan(14 * 60_000);
    const lists = recent.procedures.find((line) => line.path === "admin.assets.list");
    expect(lists?.calls).toHaveLength(90);
    expect(lists?.calls.reduce((a, b) => a + b, 0)).toBe(3);
    expect(lists?.errors.reduce((a, b) => a + b, 0)).toBe(1);
    expect(lists?.p99Ms.filter((ms) => ms !== null).every((ms) => (ms as number) > 0)).toBe(true);
  });
});
