// The OpenAPI document and its reference page: docs/openapi.json is what the router gives (else `pnpm
// openapi`), an independent validator accepts it, and the server serves both without a token, the page
// loading its scripts and styles from this server only.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { testConfig } from "@cairn/api/testing";
import type { Database } from "@cairn/db";
import { compileErrors, validate } from "@readme/openapi-parser";
import type { OpenAPIV3_1 } from "openapi-types";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiText } from "./api-docs.ts";
import { type RunningServer, startServer } from "./http-server.ts";
import { REPO_ROOT } from "./testing/server-process.ts";

const COMMITTED = join(REPO_ROOT, "docs", "openapi.json");

/** The top-level entries of paths and components that differ between two documents. */
function differences(a: Record<string, unknown>, b: Record<string, unknown>, prefix = ""): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out: string[] = [];
  for (const key of keys) {
    const [x, y] = [a[key], b[key]];
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    const nested = ["paths", "components", "schemas", "responses"].includes(key);
    if (nested && x && y && typeof x === "object" && typeof y === "object") {
      out.push(
        ...differences(x as Record<string, unknown>, y as Record<string, unknown>, `${prefix}${key}.`),
      );
    } else {
      out.push(`${prefix}${key}`);
    }
  }
  return out;
}

describe("docs/openapi.json", () => {
  it("is the document the router gives (run `pnpm openapi` after changing the API)", async () => {
    const committed = await readFile(COMMITTED, "utf8").catch(() => "{}");
    const generated = openApiText();
    if (committed !== generated) {
      const where = differences(JSON.parse(committed), JSON.parse(generated)).slice(0, 20);
      expect.fail(
        `docs/openapi.json does not match the router (differs at: ${where.join(", ") || "formatting"}). Run \`pnpm openapi\` and commit docs/openapi.json and e2e/src/generated/openapi.ts.`,
      );
    }
  });

  it("is a valid OpenAPI 3.1 document for @readme/openapi-parser, every $ref resolving", async () => {
    const result = await validate(JSON.parse(openApiText()) as OpenAPIV3_1.Document);
    expect(result.valid, result.valid ? "" : compileErrors(result)).toBe(true);
    expect(result.specification).toBe("OpenAPI");
    expect(result.warnings).toEqual([]);
  });
});

describe("GET /openapi.json and /docs", () => {
  let server: RunningServer;
  const db = { ping: async () => {} } as unknown as Database;
  beforeAll(async () => {
    server = await startServer({
      db,
      api: testConfig(),
      logger: pino({ level: "silent" }),
      maxBodyBytes: 8000,
    });
  });
  afterAll(() => server?.close());

  it("serve the document without a token", async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.text()).toBe(openApiText());
  });

  it("serve Swagger UI without a token, every script and style from this server", async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(urls.length).toBeGreaterThanOrEqual(4);
    for (const url of urls) {
      expect(url).not.toMatch(/^(https?:)?\/\//);
      const asset = await fetch(new URL(url, `${server.url}/docs`));
      expect(asset.status, url).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, url).toBeGreaterThan(100);
    }
    const init = await (await fetch(`${server.url}/docs/init.js`)).text();
    expect(init).toContain('new URL("openapi.json", document.baseURI)');
    expect(init).toContain("validatorUrl: null");
  });

  it("serve nothing else under /docs/, and /docs/ sends the browser to /docs", async () => {
    expect((await fetch(`${server.url}/docs/package.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/docs/..%2Fpackage.json`)).status).toBe(404);
    const slash = await fetch(`${server.url}/docs/`, { redirect: "manual" });
    expect(slash.status).toBe(308);
    expect(new URL(slash.headers.get("location")!, `${server.url}/docs/`).href).toBe(`${server.url}/docs`);
  });
});
