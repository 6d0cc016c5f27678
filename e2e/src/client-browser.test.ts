// The built client (packages/client/dist/index.js, as published) in a real browser: a page on the
// server's origin imports it as an ES module, watches its task's state, waits for a value with waitFor and
// writes; a worker in Node writes the same state meanwhile. The page is served through Playwright's
// routing on the server's origin (the server serves no test pages).
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type CairnClient, createCairnClient, type WatchChange } from "@cairn/client";
import { postgresAvailable, stopAllServers } from "@cairn/server/testing";
import type { Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { launchBrowser, skipBrowserTests } from "./browser.ts";
import { startPostgresServers } from "./servers.ts";
import { newTaskInstance } from "./workers.ts";

const CLIENT_BUILD = fileURLToPath(new URL("../../packages/client/dist/index.js", import.meta.url));

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cairn client</title></head>
<body><script type="module">
  import { createCairnClient } from "./client.js";
  globalThis.createCairnClient = createCairnClient;
  globalThis.ready = true;
</script></body></html>`;

/** What the page keeps on globalThis. */
interface PageGlobals {
  ready?: boolean;
  createCairnClient: typeof createCairnClient;
  cairn: CairnClient;
  seen: WatchChange<unknown>[];
  stop: AbortController;
  failed?: string;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe.skipIf(skipBrowserTests() || !postgresAvailable())("the client in a browser (Chromium)", () => {
  it("watch and waitFor in a page see a worker's writes; the page's own write reaches the worker", async () => {
    const { adminToken, urls } = await startPostgresServers(1, cleanups);
    const url = urls[0]!;
    const { token } = await newTaskInstance(url, adminToken, { dagId: "browser", runId: "r1", taskId: "t" });
    const browser: Browser = await launchBrowser();
    cleanups.push(() => browser.close());
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    const client = await readFile(CLIENT_BUILD, "utf8");
    await page.route(`${url}/browser-test/**`, (route) => {
      const script = route.request().url().endsWith("/client.js");
      return route.fulfill({
        contentType: script ? "text/javascript" : "text/html",
        body: script ? client : PAGE,
      });
    });
    await page.goto(`${url}/browser-test/index.html`);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).ready === true);

    await page.evaluate((token) => {
      const g = globalThis as unknown as PageGlobals;
      g.cairn = g.createCairnClient({
        url: (globalThis as unknown as { location: { origin: string } }).location.origin,
        token,
      });
      g.seen = [];
      g.stop = new AbortController();
      void (async () => {
        for await (const change of g.cairn.watch(undefined, { signal: g.stop.signal })) g.seen.push(change);
      })().catch((error: unknown) => {
        g.failed = String(error);
      });
    }, token);
    await page.waitForFunction(() =>
      (globalThis as unknown as PageGlobals).seen.some((c) => c.op === "synced"),
    );

    // A worker elsewhere writes (not ASCII, to check the stream's framing in the browser too).
    const worker = createCairnClient({ url, token });
    await worker.set("progress", { done: 3, note: "naïve ✓ 待機" });
    await page.waitForFunction(() =>
      (globalThis as unknown as PageGlobals).seen.some((c) => c.op === "set" && c.key === "progress"),
    );
    const waiting = page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      const entry = await g.cairn.waitFor<{ done: number }>("progress", (e) => e.value.done >= 5, {
        timeoutMs: 10_000,
      });
      return entry.value;
    });
    await worker.set("progress", { done: 5, note: "" });
    expect(await waiting).toEqual({ done: 5, note: "" });

    await page.evaluate(() => (globalThis as unknown as PageGlobals).cairn.set("from-page", true));
    expect(await worker.get("from-page")).toBe(true);
    await page.waitForFunction(() =>
      (globalThis as unknown as PageGlobals).seen.some((c) => c.op === "set" && c.key === "from-page"),
    );
    const seen = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      g.stop.abort();
      return {
        failed: g.failed,
        changes: g.seen.map((c) => (c.op === "set" ? `set ${c.key}=${JSON.stringify(c.entry.value)}` : c.op)),
      };
    });
    expect(seen).toEqual({
      failed: undefined,
      changes: [
        "synced",
        'set progress={"done":3,"note":"naïve ✓ 待機"}',
        'set progress={"done":5,"note":""}',
        "set from-page=true",
      ],
    });
    expect(problems).toEqual([]);
  }, 90_000);
});
