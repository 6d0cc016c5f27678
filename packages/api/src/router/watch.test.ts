// taskState.watch and assetState.watch (spec §6) through createCaller, on each database: the snapshot,
// `synced`, live changes with their causes, key and prefix filters, refusals, resuming and resetting, and
// the end of a superseded try's stream.
import type { Database } from "@cairn/db";
import { describeEachDatabase } from "@cairn/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/tokens.ts";
import { createContextInner } from "../context.ts";
import { createCaller } from "../root.ts";
import type { WatchEvent } from "../services/watch/events.ts";
import { WatchHub } from "../services/watch/hub.ts";
import { failure, fixtures, testConfig, unique } from "../testing/fixtures.ts";

const config = testConfig();

/**
 * Reads a stream in the background; `until` waits for an event, `close` ends the stream through the
 * caller's signal, as a client going away does over HTTP.
 */
function watcher(stream: AsyncIterable<unknown>, abort: AbortController) {
  const events: { id: string; data: WatchEvent }[] = [];
  const iterator = stream[Symbol.asyncIterator]();
  let ended = false;
  let failed: unknown;
  const done = (async () => {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        // createCaller hands out tRPC's tracked envelopes: [id, data, symbol].
        const [id, data] = next.value as [string, WatchEvent];
        events.push({ id, data });
      }
    } catch (error) {
      failed = error;
    } finally {
      ended = true;
    }
  })();
  return {
    events,
    ops: () => events.map((e) => e.data),
    get ended() {
      return ended;
    },
    get failed() {
      return failed;
    },
    async until(predicate: (event: WatchEvent) => boolean, ms = 5_000): Promise<WatchEvent> {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = events.find((e) => predicate(e.data));
        if (found) return found.data;
        if (ended) throw new Error(`the stream ended first: ${JSON.stringify(this.ops())} ${String(failed)}`);
        if (Date.now() > deadline) throw new Error(`timed out; events so far: ${JSON.stringify(this.ops())}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      abort.abort();
      await done;
    },
  };
}

describeEachDatabase("watch", (getDb) => {
  let hub: WatchHub;
  const f = fixtures(getDb, config);
  beforeAll(() => {
    hub = new WatchHub(getDb(), { validityCheckMs: 200 });
  });
  afterAll(async () => {
    await hub.close();
  });
  const as = (principal: Principal, db: Database = getDb()) =>
    createCaller(createContextInner({ db, config, principal, watch: hub }));
  const asTask = (id: string) => as({ scope: "execution", sub: id, taskInstanceId: id });
  type Caller = ReturnType<typeof as>;
  /** Opens a watch as the task instance `id` (or as an admin). */
  async function open(id: string | "admin", start: (caller: Caller) => Promise<AsyncIterable<unknown>>) {
    const abort = new AbortController();
    const principal: Principal =
      id === "admin" ? { scope: "admin", sub: "ops" } : { scope: "execution", sub: id, taskInstanceId: id };
    const caller = createCaller(createContextInner({ db: getDb(), config, principal, watch: hub }), {
      signal: abort.signal,
    });
    return watcher(await start(caller), abort);
  }
  const synced = (e: WatchEvent) => e.op === "synced";

  describe("taskState.watch", () => {
    it("sends the snapshot, then synced, then every change with its cause", async () => {
      const t = await f.newTask();
      const task = asTask(t.id);
      await task.taskState.set({ taskInstanceId: t.id, key: "a", value: 1 });
      await task.taskState.set({ taskInstanceId: t.id, key: "b", value: { x: [1, null] } });
      const w = await open(t.id, (c) => c.taskState.watch({ taskInstanceId: t.id }));
      await w.until(synced);
      expect(
        w.ops().map((e) => (e.op === "set" ? [e.op, e.key, e.entry.value, e.entry.version] : [e.op])),
      ).toEqual([["set", "a", 1, 1], ["set", "b", { x: [1, null] }, 1], ["synced"]]);

      await task.taskState.set({ taskInstanceId: t.id, key: "a", value: 2 });
      await task.taskState.delete({ taskInstanceId: t.id, key: "b" });
      await task.taskState.set({
        taskInstanceId: t.id,
        key: "c",
        value: "x",
        expiresAt: new Date(Date.now() + 300).toISOString(),
      });
      await w.until((e) => e.op === "set" && e.key === "c");
      await task.taskState.set({ taskInstanceId: t.id, key: "d", value: true });
      await task.taskState.clear({ taskInstanceId: t.id });
      await w.until((e) => e.op === "delete" && e.key === "d");
      const live = w.ops().slice(3);
      expect(live).toEqual([
        { op: "set", key: "a", entry: expect.objectContaining({ key: "a", value: 2, version: 2 }) },
        { op: "delete", key: "b", cause: "delete" },
        {
          op: "set",
          key: "c",
          entry: expect.objectContaining({ value: "x", expiresAt: expect.any(String) }),
        },
        { op: "set", key: "d", entry: expect.objectContaining({ value: true }) },
        { op: "delete", key: "a", cause: "clear" },
        // c had expired by the time clear removed it.
        expect.objectContaining({ op: "delete", key: "c" }),
        { op: "delete", key: "d", cause: "clear" },
      ]);
      // Events ids grow and name this stream.
      const ids = w.events.slice(3).map((e) => Number(e.id.split(".")[1]));
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      await w.close();
    });

    it("an expired key is a delete with cause expired when the cleanup removes it", async () => {
      const t = await f.newTask();
      const task = asTask(t.id);
      const w = await open(t.id, (c) => c.taskState.watch({ taskInstanceId: t.id, key: "lease" }));
      await w.until(synced);
      await task.taskState.set({
        taskInstanceId: t.id,
        key: "lease",
        value: 1,
        expiresAt: new Date(Date.now() + 200).toISOString(),
      });
      await w.until((e) => e.op === "set");
      await new Promise((resolve) => setTimeout(resolve, 300));
      await as({ scope: "admin", sub: "ops" }).admin.cleanup.run({});
      expect(await w.until((e) => e.op === "delete")).toEqual({
        op: "delete",
        key: "lease",
        cause: "expired",
      });
      await w.close();
    });

    it("key and prefix filters; another task's state never shows", async () => {
      const t = await f.newTask();
      const other = await f.newTask({ dagId: t.dagId, runId: t.runId });
      const task = asTask(t.id);
      const byKey = await open(t.id, (c) => c.taskState.watch({ taskInstanceId: t.id, key: "p/1" }));
      const byPrefix = await open(t.id, (c) => c.taskState.watch({ taskInstanceId: t.id, prefix: "p/" }));
      await byKey.until(synced);
      await byPrefix.until(synced);
      for (const key of ["p/1", "p/2", "q/1"])
        await task.taskState.set({ taskInstanceId: t.id, key, value: key });
      await asTask(other.id).taskState.set({ taskInstanceId: other.id, key: "p/1", value: "other" });
      await task.taskState.set({ taskInstanceId: t.id, key: "end", value: 0 });
      await byPrefix.until((e) => e.op === "set" && e.key === "p/2");
      await byKey.until((e) => e.op === "set" && e.key === "p/1");
      // Give a wrongly routed change the time to arrive.
      const all = await open(t.id, (c) => c.taskState.watch({ taskInstanceId: t.id }));
      await all.until((e) => e.op === "set" && e.key === "end");
      const keys = (w: ReturnType<typeof watcher>) =>
        w.ops().flatMap((e) => (e.op === "set" ? [`${e.key}=${String(e.entry.value)}`] : []));
      expect(keys(byKey)).toEqual(["p/1=p/1"]);
      expect(keys(byPrefix)).toEqual(["p/1=p/1", "p/2=p/2"]);
      await Promise.all([byKey.close(), byPrefix.close(), all.close()]);
    });

    it("refuses before streaming: another task instance, a superseded try, an unknown one, key with prefix", async () => {
      const t = await f.newTask();
      const stranger = await f.newTask();
      expect(await failure(asTask(stranger.id).taskState.watch({ taskInstanceId: t.id }))).toMatchObject({
        code: "FORBIDDEN",
      });
      const retry = await as({ scope: "admin", sub: "ops" }).admin.taskInstances.retry({
        taskInstanceId: t.id,
      });
      expect(await failure(asTask(t.id).taskState.watch({ taskInstanceId: t.id }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "task_instance_superseded",
      });
      const missing = "0191f7a0-0000-7000-8000-0000000000aa";
      expect(
        await failure(as({ scope: "admin", sub: "ops" }).taskState.watch({ taskInstanceId: missing })),
      ).toMatchObject({
        code: "NOT_FOUND",
      });
      expect(
        await failure(asTask(retry.id).taskState.watch({ taskInstanceId: retry.id, key: "a", prefix: "a" })),
      ).toMatchObject({ code: "BAD_REQUEST" });
    });

    it("the stream of a try ends when a newer try starts", async () => {
      const t = await f.newTask();
      const w = await open(t.id, (c) => c.taskState.watch({ taskInstanceId: t.id }));
      await w.until(synced);
      await as({ scope: "admin", sub: "ops" }).admin.taskInstances.retry({ taskInstanceId: t.id });
      await expect.poll(() => w.ended, { timeout: 5_000 }).toBe(true);
      expect(w.failed).toBeUndefined();
    });

    it("resumes after the last event it got: what changed meanwhile, then synced; an unknown id resets", async () => {
      const t = await f.newTask();
      const task = asTask(t.id);
      await task.taskState.set({ taskInstanceId: t.id, key: "a", value: 1 });
      const first = await open(t.id, (c) => c.taskState.watch({ taskInstanceId: t.id }));
      await first.until(synced);
      await task.taskState.set({ taskInstanceId: t.id, key: "a", value: 2 });
      await first.until((e) => e.op === "set" && e.entry.version === 2);
      const lastEventId = first.events.at(-1)!.id;
      await first.close();

      // While disconnected: two changes.
      await task.taskState.set({ taskInstanceId: t.id, key: "a", value: 3 });
      await task.taskState.set({ taskInstanceId: t.id, key: "b", value: 1 });
      const resumed = await open(t.id, (c) => c.taskState.watch({ taskInstanceId: t.id, lastEventId }));
      await resumed.until(synced);
      expect(resumed.ops()).toEqual([
        { op: "set", key: "a", entry: expect.objectContaining({ value: 3, version: 3 }) },
        { op: "set", key: "b", entry: expect.objectContaining({ value: 1 }) },
        { op: "synced" },
      ]);
      await resumed.close();

      const reset = await open(t.id, (c) =>
        c.taskState.watch({
          taskInstanceId: t.id,
          lastEventId: "00000000.5.0191f7a0-0000-7000-8000-0000000000aa",
        }),
      );
      await reset.until(synced);
      expect(reset.ops().map((e) => e.op)).toEqual(["reset", "set", "set", "synced"]);
      await reset.close();
    });

    it("writes racing the start of 10 watches: each converges on the stored state", async () => {
      const t = await f.newTask();
      const task = asTask(t.id);
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          await task.taskState.set({ taskInstanceId: t.id, key: `k${i % 5}`, value: i });
        }
      })();
      const watchers = [];
      for (let i = 0; i < 10; i++) {
        watchers.push(await open(t.id, (c) => c.taskState.watch({ taskInstanceId: t.id })));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      writing = false;
      await writer;
      const stored = (await task.taskState.list({ taskInstanceId: t.id })).items.map((e) => [e.key, e.value]);
      const marker = await task.taskState.set({ taskInstanceId: t.id, key: "zz", value: "end" });
      for (const w of watchers) {
        await w.until((e) => e.op === "set" && e.key === "zz" && e.entry.version === marker.version);
        const view = new Map<string, unknown>();
        for (const e of w.ops()) if (e.op === "set") view.set(e.key, e.entry.value);
        view.delete("zz");
        expect([...view].sort()).toEqual(stored.sort());
        await w.close();
      }
    });
  });

  describe("admin.watch", () => {
    it("a dag run's task state, every task and map index, each event saying where", async () => {
      const a = await f.newTask();
      const b = await f.newTask({ dagId: a.dagId, runId: a.runId, taskId: "mapped", mapIndex: 2 });
      await asTask(a.id).taskState.set({ taskInstanceId: a.id, key: "k", value: "a" });
      const w = await open("admin", (c) => c.admin.watch({ dagId: a.dagId, runId: a.runId }));
      await w.until(synced);
      await asTask(b.id).taskState.set({ taskInstanceId: b.id, key: "k", value: "b" });
      await asTask(b.id).taskState.clear({ taskInstanceId: b.id });
      await w.until((e) => e.op === "delete");
      expect(w.ops()).toEqual([
        {
          op: "set",
          key: "k",
          entry: expect.objectContaining({ value: "a" }),
          where: { dagId: a.dagId, runId: a.runId, taskId: a.taskId, mapIndex: -1 },
        },
        { op: "synced" },
        {
          op: "set",
          key: "k",
          entry: expect.objectContaining({ value: "b" }),
          where: { dagId: a.dagId, runId: a.runId, taskId: "mapped", mapIndex: 2 },
        },
        {
          op: "delete",
          key: "k",
          cause: "clear",
          where: { dagId: a.dagId, runId: a.runId, taskId: "mapped", mapIndex: 2 },
        },
      ]);
      await w.close();
    });

    it("a whole dag: every run's task state (runs made later too), other dags' never", async () => {
      const a = await f.newTask();
      const b = await f.newTask({ dagId: a.dagId });
      const other = await f.newTask();
      const key = unique("k");
      await asTask(a.id).taskState.set({ taskInstanceId: a.id, key, value: "a" });
      await asTask(b.id).taskState.set({ taskInstanceId: b.id, key, value: "b" });
      await asTask(other.id).taskState.set({ taskInstanceId: other.id, key, value: "other" });
      const w = await open("admin", (c) => c.admin.watch({ dagId: a.dagId, prefix: key }));
      await w.until(synced);
      const later = await f.newTask({ dagId: a.dagId });
      await asTask(other.id).taskState.set({ taskInstanceId: other.id, key, value: "other again" });
      await asTask(later.id).taskState.set({ taskInstanceId: later.id, key, value: "later" });
      await w.until((e) => e.op === "set" && e.entry.value === "later");
      const seen = w
        .ops()
        .map((e) =>
          e.op === "set" ? `${e.entry.value}@${e.where && "runId" in e.where ? e.where.runId : "?"}` : e.op,
        );
      // Runs in the order they were made (their ids); the other dag's writes never show.
      expect(seen).toEqual([`a@${a.runId}`, `b@${b.runId}`, "synced", `later@${later.runId}`]);
      await w.close();
    });

    it("everything: all task state, then all asset state, under a prefix; live changes of both", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ outlets: [{ name: asset.name }] });
      const key = unique("every");
      await asTask(t.id).taskState.set({ taskInstanceId: t.id, key, value: 1 });
      await asTask(t.id).assetState.set({ asset: { name: asset.name }, key, value: 2 });
      const w = await open("admin", (c) => c.admin.watch({ prefix: key }));
      await w.until(synced);
      expect(w.ops().slice(0, 3)).toEqual([
        expect.objectContaining({
          op: "set",
          key,
          where: { dagId: t.dagId, runId: t.runId, taskId: t.taskId, mapIndex: -1 },
        }),
        expect.objectContaining({ op: "set", key, where: { asset: { name: asset.name, uri: asset.uri } } }),
        { op: "synced" },
      ]);
      await asTask(t.id).assetState.delete({ asset: { uri: asset.uri }, key });
      await asTask(t.id).taskState.set({ taskInstanceId: t.id, key, value: 3 });
      await w.until((e) => e.op === "set" && e.entry.value === 3);
      expect(w.ops().slice(3)).toEqual([
        { op: "delete", key, cause: "delete", where: { asset: { name: asset.name, uri: asset.uri } } },
        expect.objectContaining({ op: "set", key, where: expect.objectContaining({ runId: t.runId }) }),
      ]);
      await w.close();
    });

    it("an asset's state; refusals: an execution token, an unknown run, two scopes, a run without its dag", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ outlets: [{ name: asset.name }] });
      const w = await open("admin", (c) => c.admin.watch({ asset: { name: asset.name } }));
      await w.until(synced);
      await as({ scope: "admin", sub: "ops" }).admin.assetState.set({
        asset: { uri: asset.uri },
        key: "m",
        value: 1,
      });
      expect(await w.until((e) => e.op === "set")).toMatchObject({
        where: { asset: { name: asset.name, uri: asset.uri } },
        writer: { kind: "admin" },
      });
      await w.close();
      expect(await failure(asTask(t.id).admin.watch({ asset: { name: asset.name } }))).toMatchObject({
        code: "FORBIDDEN",
        reason: "insufficient_scope",
      });
      const admin = as({ scope: "admin", sub: "ops" });
      expect(await failure(admin.admin.watch({ dagId: t.dagId, runId: "nope" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "dag_run_not_found",
      });
      expect(
        await failure(admin.admin.watch({ dagId: t.dagId, runId: t.runId, asset: { name: asset.name } })),
      ).toMatchObject({ code: "BAD_REQUEST" });
      expect(await failure(admin.admin.watch({ runId: t.runId }))).toMatchObject({ code: "BAD_REQUEST" });
    });
  });

  describe("assetState.watch", () => {
    it("streams an asset's changes with their writer; an undeclared asset is refused", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ outlets: [{ name: asset.name }] });
      const task = asTask(t.id);
      await task.assetState.set({ asset: { name: asset.name }, key: "mark", value: "2026-01-01" });
      const w = await open(t.id, (c) => c.assetState.watch({ asset: { uri: asset.uri } }));
      await w.until(synced);
      await as({ scope: "admin", sub: "ops" }).admin.assetState.set({
        asset: { name: asset.name },
        key: "mark",
        value: "2026-01-02",
      });
      const moved = await w.until((e) => e.op === "set" && e.entry.version === 2);
      expect(w.ops()[0]).toMatchObject({ op: "set", writer: { kind: "task", taskId: t.taskId } });
      expect(moved).toMatchObject({ writer: { kind: "admin" }, entry: { value: "2026-01-02" } });

      const stranger = await f.newTask();
      expect(
        await failure(asTask(stranger.id).assetState.watch({ asset: { name: asset.name } })),
      ).toMatchObject({
        code: "FORBIDDEN",
      });
      expect(await failure(task.assetState.watch({ asset: { name: unique("nope") } }))).toMatchObject({
        code: "FORBIDDEN",
      });
      await w.close();
    });

    it("a value too large for a notification is read from the table", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ outlets: [{ name: asset.name }] });
      const task = asTask(t.id);
      const w = await open(t.id, (c) => c.assetState.watch({ asset: { name: asset.name } }));
      await w.until(synced);
      const big = "é".repeat(10_000);
      await task.assetState.set({ asset: { name: asset.name }, key: "big", value: big });
      expect(await w.until((e) => e.op === "set")).toMatchObject({
        entry: { value: big },
        writer: { kind: "task" },
      });
      await w.close();
    });
  });
});
