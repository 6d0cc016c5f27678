// The OpenAPI document as a stranger to this repository uses it: the built server serves it and its
// reference page without a token; openapi-typescript (an independent generator) makes the types of
// src/generated/openapi.ts from docs/openapi.json; openapi-fetch calls the live server with them.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { spawnServer, stopAllServers, tempDir } from "@cairn/server/testing";
import createClient from "openapi-fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { components, paths } from "./generated/openapi.ts";
import { CLIENT_TYPES_FILE, clientTypes, OPENAPI_FILE } from "./openapi-types.ts";

type Schemas = components["schemas"];

describe("the OpenAPI document against the built server", () => {
  let url: string;
  let adminToken: string;
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await stopAllServers();
    for (const cleanup of cleanups) await cleanup();
  });
  beforeAll(async () => {
    const data = await tempDir("cairn-openapi-");
    cleanups.push(data.remove);
    const server = spawnServer({ env: { CAIRN_DATA_DIR: data.path, LOG_LEVEL: "info" } });
    url = await server.listening();
    adminToken = (await readFile(join(data.path, "admin-token"), "utf8")).trim();
  }, 90_000);

  it("serves docs/openapi.json at /openapi.json, and /docs with its scripts and styles, without a token", async () => {
    const served = await fetch(`${url}/openapi.json`);
    expect(served.status).toBe(200);
    expect(await served.text()).toBe(await readFile(OPENAPI_FILE, "utf8"));
    const page = await fetch(`${url}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toEqual(expect.arrayContaining(["docs/swagger-ui-bundle.js", "docs/swagger-ui.css"]));
    for (const asset of assets) {
      const res = await fetch(new URL(asset, `${url}/docs`));
      expect(res.status, asset).toBe(200);
    }
  });

  it("src/generated/openapi.ts is what openapi-typescript makes of docs/openapi.json (else `pnpm openapi`)", async () => {
    const expected = await clientTypes(await readFile(OPENAPI_FILE, "utf8"));
    const committed = await readFile(CLIENT_TYPES_FILE, "utf8").catch(() => "");
    expect(committed === expected, "e2e/src/generated/openapi.ts is stale: run `pnpm openapi`").toBe(true);
  }, 30_000);

  it("an openapi-fetch client with the generated types: get, set with ifVersion, delete, list, an asset set", async () => {
    const client = (token: string) =>
      createClient<paths>({ baseUrl: url, headers: { authorization: `Bearer ${token}` } });
    const input = (value: object) => ({ params: { query: { input: JSON.stringify(value) } } });

    // The scheduler's part, with an admin token: an asset, a task instance declaring it, a token.
    const admin = client(adminToken);
    const asset = { name: "openapi.orders", uri: "s3://lake/openapi/orders" };
    expect((await admin.POST("/trpc/admin.assets.upsert", { body: asset })).response.status).toBe(200);
    const created = await admin.POST("/trpc/admin.taskInstances.create", {
      body: { dagId: "openapi", runId: "r1", taskId: "load", outlets: [{ name: asset.name }] },
    });
    const taskInstanceId = created.data!.result.data.id;
    const issued = await admin.POST("/trpc/admin.tokens.issue", { body: { taskInstanceId } });
    const worker = client(issued.data!.result.data.token);

    // The worker's part, with its execution token.
    const set = await worker.POST("/trpc/taskState.set", {
      body: { taskInstanceId, key: "checkpoint", value: { page: 1 } },
    });
    expect(set.data?.result.data).toEqual({ version: 1 });
    const get = await worker.GET(
      "/trpc/taskState.get",
      input({ taskInstanceId, key: "checkpoint" } satisfies Schemas["TaskStateGetInput"]),
    );
    const entry: Schemas["StateEntry"] | undefined = get.data?.result.data;
    expect(entry).toMatchObject({ key: "checkpoint", value: { page: 1 }, version: 1 });
    expect(entry?.expiresAt).toEqual(expect.any(String));

    const cas = await worker.POST("/trpc/taskState.set", {
      body: { taskInstanceId, key: "checkpoint", value: { page: 2 }, ifVersion: 1, expiresAt: null },
    });
    expect(cas.data?.result.data.version).toBe(2);
    const stale = await worker.POST("/trpc/taskState.set", {
      body: { taskInstanceId, key: "checkpoint", value: { page: 3 }, ifVersion: 1 },
    });
    expect(stale.response.status).toBe(409);
    expect(stale.error?.error.data).toMatchObject({
      code: "CONFLICT",
      httpStatus: 409,
      reason: "version_mismatch",
    });

    await worker.POST("/trpc/taskState.set", { body: { taskInstanceId, key: "other", value: "x" } });
    const listed = await worker.GET(
      "/trpc/taskState.list",
      input({ taskInstanceId, limit: 1 } satisfies Schemas["TaskStateListInput"]),
    );
    const page = listed.data!.result.data;
    expect(page.items.map((item) => [item.key, item.value])).toEqual([["checkpoint", { page: 2 }]]);
    const next = await worker.GET("/trpc/taskState.list", input({ taskInstanceId, cursor: page.nextCursor }));
    expect(next.data?.result.data).toMatchObject({ items: [{ key: "other" }], nextCursor: null });

    const deleted = await worker.POST("/trpc/taskState.delete", {
      body: { taskInstanceId, key: "checkpoint", ifVersion: 2 },
    });
    expect(deleted.data?.result.data).toEqual({ deleted: true });
    const gone = await worker.GET("/trpc/taskState.get", input({ taskInstanceId, key: "checkpoint" }));
    expect(gone.response.status).toBe(404);
    expect(gone.error?.error.data.reason).toBe("key_not_found");

    const watermark = await worker.POST("/trpc/assetState.set", {
      body: { asset: { uri: asset.uri }, key: "watermark", value: "2026-05-15", ifVersion: 0 },
    });
    expect(watermark.data?.result.data).toEqual({ version: 1 });
    const byAdmin = await admin.GET(
      "/trpc/admin.assetState.list",
      input({ asset: { name: asset.name } } satisfies Schemas["AdminAssetStateListInput"]),
    );
    expect(byAdmin.data?.result.data).toMatchObject({
      items: [
        { key: "watermark", value: "2026-05-15", writer: { kind: "task", dagId: "openapi", taskId: "load" } },
      ],
      total: 1,
    });

    // Another task's id is refused before anything else, as the document says.
    const other = await worker.GET(
      "/trpc/taskState.get",
      input({ taskInstanceId: crypto.randomUUID(), key: "k" }),
    );
    expect([other.response.status, other.error?.error.data.reason]).toEqual([403, "not_own_task_instance"]);
  });

  it("batches as the document describes: paths joined by commas, inputs keyed by index, an array answered", async () => {
    const created = await fetch(`${url}/trpc/admin.taskInstances.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ dagId: "openapi", runId: "r2", taskId: "batch" }),
    });
    const { id } = ((await created.json()) as { result: { data: { id: string } } }).result.data;
    const batch = encodeURIComponent(
      JSON.stringify({ 0: { taskInstanceId: id }, 1: { taskInstanceId: id, key: "k" } }),
    );
    const res = await fetch(`${url}/trpc/taskState.list,taskState.get?batch=1&input=${batch}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(res.status).toBe(207);
    expect(await res.json()).toEqual([
      { result: { data: { items: [], nextCursor: null } } },
      { error: expect.objectContaining({ data: expect.objectContaining({ reason: "key_not_found" }) }) },
    ]);
  });
});
