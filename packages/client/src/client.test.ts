// Every verb through real HTTP round trips: the server runs in-process on 127.0.0.1:0 over each test database.
import { randomUUID } from "node:crypto";
import { describeEachDatabase } from "@cairn/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BadRequestError,
  type CairnClient,
  type CairnClientOptions,
  CairnError,
  createCairnClient,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValueTooLargeError,
  VersionConflictError,
} from "./index.ts";
import { countingFetch, failure, startTestServer, type TestServer, unique } from "./testing/harness.ts";

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describeEachDatabase("client", (getDb) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(getDb());
  });
  afterAll(async () => {
    await server?.close();
  });

  const bind = (token: string, extra: Partial<CairnClientOptions> = {}) =>
    createCairnClient({ url: server.url, token, retries: 0, ...extra });

  async function newClient(extra: Partial<CairnClientOptions> = {}): Promise<CairnClient> {
    const task = await server.newTask();
    return bind(task.token, extra);
  }

  describe("task state", () => {
    it("get returns the fallback for a missing key, the value otherwise", async () => {
      const cairn = await newClient();
      expect(await cairn.get("offset", 0)).toBe(0);
      expect(await cairn.get("offset")).toBeUndefined();
      expect(await cairn.entry("offset")).toBeNull();
      expect(await cairn.set("offset", 42)).toEqual({ version: 1 });
      expect(await cairn.get("offset", 0)).toBe(42);
      await cairn.set("spark/job_id", { id: "app-1", nested: [1, null, "x"] });
      expect(await cairn.get("spark/job_id", null)).toEqual({ id: "app-1", nested: [1, null, "x"] });
    });

    it("set bumps versions; entry has the whole entry", async () => {
      const cairn = await newClient();
      expect(await cairn.set("k", "a")).toEqual({ version: 1 });
      expect(await cairn.set("k", "b")).toEqual({ version: 2 });
      const entry = await cairn.entry<string>("k");
      expect(entry).toMatchObject({ key: "k", value: "b", version: 2 });
      expect(new Date(entry!.updatedAt).toISOString()).toBe(entry!.updatedAt);
      // Default retention: about 30 days from now.
      const expires = new Date(entry!.expiresAt!).getTime();
      expect(expires).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    });

    it("expiresAt accepts a Date, a string and null", async () => {
      const cairn = await newClient();
      const at = new Date(Date.now() + 3_600_000);
      at.setMilliseconds(0);
      await cairn.set("date", 1, { expiresAt: at });
      expect((await cairn.entry("date"))?.expiresAt).toBe(at.toISOString());
      await cairn.set("string", 1, { expiresAt: "2099-01-01T00:00:00+00:00" });
      expect((await cairn.entry("string"))?.expiresAt).toBe("2099-01-01T00:00:00.000Z");
      await cairn.set("never", 1, { expiresAt: null });
      expect((await cairn.entry("never"))?.expiresAt).toBeNull();
      await cairn.set("past", 1, { expiresAt: new Date(Date.now() - 1000) });
      expect(await cairn.get("past", "gone")).toBe("gone");
    });

    it("ifVersion: compare-and-set and create-only; a mismatch is a VersionConflictError", async () => {
      const cairn = await newClient();
      expect(await cairn.set("cas", "a", { ifVersion: 0 })).toEqual({ version: 1 });
      const exists = await failure(cairn.set("cas", "again", { ifVersion: 0 }));
      expect(exists).toBeInstanceOf(VersionConflictError);
      expect(await cairn.set("cas", "b", { ifVersion: 1 })).toEqual({ version: 2 });
      const stale = await failure(cairn.set("cas", "c", { ifVersion: 1 }));
      expect(stale).toBeInstanceOf(VersionConflictError);
      expect(stale).toBeInstanceOf(CairnError);
      expect(stale).toMatchObject({
        code: "CONFLICT",
        httpStatus: 409,
        reason: "version_mismatch",
        path: "taskState.set",
      });
      expect((stale as Error).message).toMatch(/version 2/);
      expect(await cairn.get("cas", "")).toBe("b");
    });

    it("delete returns whether the key existed; ifVersion conflicts", async () => {
      const cairn = await newClient();
      await cairn.set("d", 1);
      await cairn.set("d", 2);
      expect(await failure(cairn.delete("d", { ifVersion: 1 }))).toBeInstanceOf(VersionConflictError);
      expect(await cairn.delete("d", { ifVersion: 2 })).toBe(true);
      expect(await cairn.delete("d")).toBe(false);
      expect(await cairn.get("d", "none")).toBe("none");
    });

    it("clear deletes this task's keys and returns how many", async () => {
      const cairn = await newClient();
      const other = await newClient();
      await Promise.all([cairn.set("a", 1), cairn.set("b", 2), other.set("a", 1)]);
      expect(await cairn.clear()).toBe(2);
      expect(await cairn.clear()).toBe(0);
      expect(await other.get("a", 0)).toBe(1);
    });

    it("list follows nextCursor across pages, in key order, with a prefix", async () => {
      const task = await server.newTask();
      const cairn = bind(task.token);
      const keys = Array.from({ length: 25 }, (_, i) => `part/${String(i).padStart(3, "0")}`);
      await Promise.all(keys.map((key, i) => cairn.set(key, i)));
      await cairn.set("other", true);
      const counter = countingFetch();
      const counted = bind(task.token, { fetch: counter.fetch });
      const entries = await collect(counted.list<number>({ prefix: "part/", pageSize: 10 }));
      expect(entries.map((e) => e.key)).toEqual(keys);
      expect(entries.map((e) => e.value)).toEqual(keys.map((_, i) => i));
      expect(entries[0]).toMatchObject({ version: 1 });
      expect(counter.calls).toHaveLength(3);
      const all = await collect(cairn.list());
      expect(all).toHaveLength(26);
      expect(await collect(cairn.list({ prefix: "nothing/" }))).toEqual([]);
    });

    it("rejects bad input and oversized values with typed errors", async () => {
      const cairn = await newClient();
      const empty = await failure(cairn.set("", 1));
      expect(empty).toBeInstanceOf(BadRequestError);
      expect(empty).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(await failure(cairn.set("k", "a\u0000b"))).toMatchObject({
        name: "BadRequestError",
        reason: "invalid_value",
      });
      const big = await failure(cairn.set("big", "x".repeat(70_000)));
      expect(big).toBeInstanceOf(ValueTooLargeError);
      expect(big).toMatchObject({ code: "PAYLOAD_TOO_LARGE", httpStatus: 413, reason: "value_too_large" });
    });
  });

  describe("tokens", () => {
    it("reads the task instance from the token's sub", async () => {
      const task = await server.newTask();
      expect(bind(task.token).taskInstanceId).toBe(task.id);
    });

    it("an admin token works with an explicit taskInstanceId", async () => {
      const task = await server.newTask();
      const adminToken = await server.sign({ sub: "scheduler", scope: "admin" });
      expect(() => bind(adminToken)).toThrow(/admin token.*taskInstanceId/);
      const asAdmin = bind(adminToken, { taskInstanceId: task.id.toUpperCase() });
      await asAdmin.set("from-admin", 1);
      expect(await bind(task.token).get("from-admin", 0)).toBe(1);
    });

    it("a forged token is an UnauthorizedError", async () => {
      const task = await server.newTask();
      const forged = await server.sign(
        { sub: task.id, scope: "execution" },
        { secret: "another-secret-with-enough-entropy-0123456789abcdef" },
      );
      const error = await failure(bind(forged).get("k", 0));
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect(error).toMatchObject({ code: "UNAUTHORIZED", httpStatus: 401, reason: "invalid_token" });
    });

    it("an expired token is an UnauthorizedError", async () => {
      const task = await server.newTask();
      const expired = await server.sign(
        { sub: task.id, scope: "execution" },
        { expiresAt: new Date(Date.now() - 60_000) },
      );
      expect(await failure(bind(expired).set("k", 1))).toMatchObject({
        name: "UnauthorizedError",
        reason: "token_expired",
      });
    });

    it("a token for a task instance that does not exist: NotFoundError, never the fallback", async () => {
      const token = await server.sign({ sub: randomUUID(), scope: "execution" });
      const cairn = bind(token);
      expect(await failure(cairn.get("k", 0))).toMatchObject({
        name: "NotFoundError",
        reason: "task_instance_not_found",
      });
      expect(await failure(cairn.entry("k"))).toBeInstanceOf(NotFoundError);
      expect(await failure(collect(cairn.list()))).toMatchObject({ reason: "task_instance_not_found" });
    });

    it("another task's id with an execution token is refused before any call", async () => {
      const task = await server.newTask();
      const other = await server.newTask();
      expect(() => bind(task.token, { taskInstanceId: other.id })).toThrow(/own state/);
    });
  });

  describe("retried task", () => {
    it("a new try reads the same state; the old try's token gets task_instance_superseded", async () => {
      const first = await server.newTask();
      const old = bind(first.token);
      await old.set("checkpoint", { step: 3 });
      const retry = await server.admin.admin.taskInstances.retry({ taskInstanceId: first.id });
      expect(retry.id).not.toBe(first.id);
      expect(retry.tryNumber).toBe(2);
      const { token } = await server.admin.admin.tokens.issue({ taskInstanceId: retry.id });
      const current = bind(token);
      expect(current.taskInstanceId).toBe(retry.id);
      expect(await current.get("checkpoint", null)).toEqual({ step: 3 });
      expect((await current.set("checkpoint", { step: 4 })).version).toBe(2);

      // get's fallback is for a missing key only, never for a superseded try.
      const error = await failure(old.get("checkpoint", { step: 0 }));
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toMatchObject({ code: "NOT_FOUND", httpStatus: 404, reason: "task_instance_superseded" });
      expect(await failure(old.set("checkpoint", 1))).toMatchObject({ reason: "task_instance_superseded" });
      expect(await failure(old.entry("missing"))).toMatchObject({ reason: "task_instance_superseded" });
    });
  });

  describe("mapped tasks", () => {
    it("map indexes have separate state; clear({ allMapIndices }) clears them all", async () => {
      const dagId = unique("dag");
      const runId = unique("run");
      const taskId = unique("mapped");
      const clients = await Promise.all(
        [0, 1, 2].map(async (mapIndex) =>
          bind((await server.newTask({ dagId, runId, taskId, mapIndex })).token),
        ),
      );
      const [c0, c1, c2] = clients as [CairnClient, CairnClient, CairnClient];
      await Promise.all(clients.map((c, i) => c.set("shard", i)));
      await c2.set("extra", true);
      expect(await Promise.all(clients.map((c) => c.get("shard", -1)))).toEqual([0, 1, 2]);
      expect(await c1.clear()).toBe(1);
      expect(await c1.get("shard", -1)).toBe(-1);
      expect(await c0.get("shard", -1)).toBe(0);
      expect(await c0.clear({ allMapIndices: true })).toBe(3);
      expect(await Promise.all(clients.map((c) => c.get("shard", -1)))).toEqual([-1, -1, -1]);
      expect(await collect(c2.list())).toEqual([]);
    });
  });

  describe("asset state", () => {
    it("by name and by uri reach the same state; every verb works", async () => {
      const asset = await server.newAsset();
      const task = await server.newTask({ outlets: [{ name: asset.name }] });
      const cairn = bind(task.token);
      const byName = cairn.asset({ name: asset.name });
      const byUri = cairn.asset({ uri: asset.uri });
      expect(byName.ref).toEqual({ name: asset.name });
      expect(await byName.get("watermark", "1970-01-01")).toBe("1970-01-01");
      expect(await byName.entry("watermark")).toBeNull();
      expect(await byName.set("watermark", "2026-05-01")).toEqual({ version: 1 });
      expect(await byUri.get("watermark", "")).toBe("2026-05-01");
      expect(await cairn.asset(asset.name).get("watermark", "")).toBe("2026-05-01");
      expect(await byUri.set("watermark", "2026-05-02", { ifVersion: 1 })).toEqual({ version: 2 });
      expect(await failure(byName.set("watermark", "x", { ifVersion: 1 }))).toBeInstanceOf(
        VersionConflictError,
      );
      // Asset state never expires unless the write says so.
      expect((await byName.entry("watermark"))?.expiresAt).toBeNull();
      // Asset state is not task state.
      expect(await cairn.get("watermark", "task")).toBe("task");

      for (let i = 0; i < 12; i++) await byName.set(`files/${String(i).padStart(2, "0")}`, i);
      const files = await collect(byUri.list<number>({ prefix: "files/", pageSize: 5 }));
      expect(files.map((e) => e.value)).toEqual(Array.from({ length: 12 }, (_, i) => i));
      expect(await byName.delete("files/00")).toBe(true);
      expect(await byName.delete("files/00")).toBe(false);
      expect(await byUri.clear()).toBe(12);
      expect(await collect(byName.list())).toEqual([]);
    });

    it("another task of the same dag that declares the asset as inlet reads the watermark", async () => {
      const asset = await server.newAsset();
      const writer = await server.newTask({ outlets: [{ uri: asset.uri }] });
      const reader = await server.newTask({ dagId: unique("dag"), inlets: [{ name: asset.name }] });
      await bind(writer.token).asset({ uri: asset.uri }).set("wm", 7);
      expect(await bind(reader.token).asset({ name: asset.name }).get("wm", 0)).toBe(7);
    });

    it("an undeclared asset is a ForbiddenError, whether or not it exists", async () => {
      const asset = await server.newAsset();
      const cairn = await newClient();
      const error = await failure(cairn.asset({ name: asset.name }).get("k", 0));
      expect(error).toBeInstanceOf(ForbiddenError);
      expect(error).toMatchObject({ code: "FORBIDDEN", httpStatus: 403, reason: "asset_not_registered" });
      expect(await failure(cairn.asset({ name: unique("nope") }).set("k", 1))).toMatchObject({
        name: "ForbiddenError",
        reason: "asset_not_registered",
      });
    });

    it("an unknown or inactive asset is a NotFoundError, even with a fallback", async () => {
      const task = await server.newTask();
      const adminToken = await server.sign({ sub: "operator", scope: "admin" });
      const asAdmin = bind(adminToken, { taskInstanceId: task.id });
      const error = await failure(asAdmin.asset({ name: unique("unknown") }).get("k", 0));
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toMatchObject({ code: "NOT_FOUND", reason: "asset_not_found" });

      const asset = await server.newAsset();
      const declared = await server.newTask({ inlets: [{ name: asset.name }] });
      await server.admin.admin.assets.setActive({ name: asset.name, active: false });
      expect(await failure(bind(declared.token).asset({ uri: asset.uri }).get("k", 0))).toMatchObject({
        name: "NotFoundError",
        reason: "asset_not_found",
      });
    });

    it("asset(ref) needs exactly one of name and uri", async () => {
      const cairn = await newClient();
      expect(() => cairn.asset({} as never)).toThrow(/exactly one/);
      expect(() => cairn.asset({ name: "a", uri: "b" } as never)).toThrow(/exactly one/);
      expect(() => cairn.asset("")).toThrow(/non-empty/);
    });
  });

  describe("batching", () => {
    it("concurrent calls share HTTP requests (at most 50 calls each)", async () => {
      const task = await server.newTask();
      const counter = countingFetch();
      const cairn = bind(task.token, { fetch: counter.fetch });
      await Promise.all(Array.from({ length: 20 }, (_, i) => cairn.set(`k${i}`, i)));
      expect(counter.calls).toHaveLength(1);
      expect(counter.calls[0]).toMatch(/^POST .*\/trpc\/taskState\.set,taskState\.set.*batch=1/);

      counter.calls.length = 0;
      const values = await Promise.all(Array.from({ length: 120 }, (_, i) => cairn.get(`k${i}`, -1)));
      expect(values).toEqual(Array.from({ length: 120 }, (_, i) => (i < 20 ? i : -1)));
      expect(counter.calls).toHaveLength(3);
      expect(counter.calls.every((call) => call.startsWith("GET "))).toBe(true);
    });

    it("one batch mixes results and errors, each mapped to its own call", async () => {
      const asset = await server.newAsset();
      const task = await server.newTask();
      const counter = countingFetch();
      const cairn = bind(task.token, { fetch: counter.fetch });
      await cairn.set("here", "yes");
      counter.calls.length = 0;
      const [here, missing, entry, forbidden] = await Promise.allSettled([
        cairn.get("here", "no"),
        cairn.get("missing", "fallback"),
        cairn.entry("missing"),
        cairn.asset({ name: asset.name }).get("k", 0),
      ]);
      expect(counter.calls).toHaveLength(1);
      expect(here).toEqual({ status: "fulfilled", value: "yes" });
      expect(missing).toEqual({ status: "fulfilled", value: "fallback" });
      expect(entry).toEqual({ status: "fulfilled", value: null });
      expect(forbidden.status).toBe("rejected");
      expect((forbidden as PromiseRejectedResult).reason).toBeInstanceOf(ForbiddenError);
    });

    it("large writes go in requests of their own, so a batch stays under the server's body limit", async () => {
      const task = await server.newTask();
      const counter = countingFetch();
      const cairn = bind(task.token, { fetch: counter.fetch });
      // 25 values of 60 KB: 1.5 MB in one batch, past the server's 1 MiB body limit.
      const big = "x".repeat(60_000);
      const written = await Promise.all(Array.from({ length: 25 }, (_, i) => cairn.set(`big${i}`, big)));
      expect(written).toEqual(Array.from({ length: 25 }, () => ({ version: 1 })));
      expect(counter.calls).toHaveLength(25);
      expect(counter.calls.every((call) => !call.includes("batch=1"))).toBe(true);

      counter.calls.length = 0;
      await Promise.all(Array.from({ length: 25 }, (_, i) => cairn.set(`small${i}`, i)));
      expect(counter.calls).toHaveLength(1);

      // Sizes are UTF-8 bytes: 6 000 "é" are 12 KB (alone, past the 10 KiB share of a batch), 4 000 are
      // 8 KB (batched), though both are fewer than 10 240 characters.
      counter.calls.length = 0;
      await Promise.all(Array.from({ length: 3 }, (_, i) => cairn.set(`wide${i}`, "é".repeat(6_000))));
      expect(counter.calls.filter((call) => !call.includes("batch=1"))).toHaveLength(3);
      counter.calls.length = 0;
      await Promise.all(Array.from({ length: 3 }, (_, i) => cairn.set(`narrow${i}`, "é".repeat(4_000))));
      expect(counter.calls).toHaveLength(1);
    });

    it("more than 50 concurrent writes go in requests of 50", async () => {
      const task = await server.newTask();
      const counter = countingFetch();
      const cairn = bind(task.token, { fetch: counter.fetch });
      const written = await Promise.all(Array.from({ length: 120 }, (_, i) => cairn.set(`many${i}`, i)));
      expect(written).toEqual(Array.from({ length: 120 }, () => ({ version: 1 })));
      expect(counter.calls).toHaveLength(3);
      expect(counter.calls.map((call) => call.split("?")[0]!.split(",").length)).toEqual([50, 50, 20]);
      expect(await cairn.get("many119", -1)).toBe(119);
    });

    it("a batch the server refuses as a whole fails each of its calls with the server's error", async () => {
      const task = await server.newTask();
      // With nothing sent alone, 25 values of 60 KB make one 1.5 MB request, past the 1 MiB body limit.
      const cairn = bind(task.token, { maxBatchBytes: 100 * 1024 * 1024 });
      const big = "x".repeat(60_000);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 25 }, (_, i) => cairn.set(`huge${i}`, big)),
      );
      for (const outcome of outcomes) {
        expect(outcome.status).toBe("rejected");
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(ValueTooLargeError);
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({ reason: "body_too_large" });
      }
      expect(await cairn.get("huge0", null)).toBeNull();
    });

    it("long keys split a batch by URL length instead of failing", async () => {
      const task = await server.newTask();
      const counter = countingFetch();
      const cairn = bind(task.token, { fetch: counter.fetch });
      const keys = Array.from({ length: 30 }, (_, i) => `${i}-${"é".repeat(480)}`);
      expect(await Promise.all(keys.map((key) => cairn.get(key, 0)))).toEqual(keys.map(() => 0));
      expect(counter.calls.length).toBeGreaterThan(1);
      expect(counter.calls.every((call) => call.length - "GET ".length <= 8000)).toBe(true);
    });
  });

  describe("raw tRPC client", () => {
    it("is exposed, typed, and talks plain JSON", async () => {
      const cairn = await newClient();
      await cairn.trpc.taskState.set.mutate({ taskInstanceId: cairn.taskInstanceId, key: "raw", value: [1] });
      const entry = await cairn.trpc.taskState.get.query({
        taskInstanceId: cairn.taskInstanceId,
        key: "raw",
      });
      expect(entry.value).toEqual([1]);
      expect(await cairn.get("raw", [])).toEqual([1]);
    });
  });
});
