// Cleanup of expired state (issue #4 §2): admin.cleanup.run and .preview, batching, and several runners at
// once, on PGlite and PostgreSQL. Expired rows are written with an explicit past expiresAt.
import { describeEachDatabase } from "@cairn/db/testing";
import { beforeEach, describe, expect, it } from "vitest";
import { deleteExpired } from "../index.ts";
import { failure, fixtures } from "../testing/fixtures.ts";

const DAY_MS = 86_400_000;
const fromNow = (ms: number) => new Date(Date.now() + ms).toISOString();

describeEachDatabase("cleanup", (getDb) => {
  const f = fixtures(getDb);
  const cleanup = () => f.admin().admin.cleanup;

  // Counts below are exact: every test starts with nothing expired in this file's database.
  beforeEach(async () => {
    await deleteExpired(getDb().sql);
  });

  async function count(table: "task_state" | "asset_state", where = "true", params: unknown[] = []) {
    const rows = await getDb().sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} s WHERE ${where}`,
      params,
    );
    return rows[0]!.n;
  }

  /** Rows of one task's namespace (live or not), straight from the table. */
  async function keysOf(t: { dagId: string; runId: string; taskId: string }) {
    const rows = await getDb().sql.query<{ key: string }>(
      `SELECT s.key FROM task_state s JOIN dag_run r ON r.id = s.dag_run_id
       WHERE r.dag_id = $1 AND r.run_id = $2 AND s.task_id = $3 ORDER BY s.key`,
      [t.dagId, t.runId, t.taskId],
    );
    return rows.map((row) => row.key);
  }

  /** Inserts `n` task state rows that expired a minute ago (one statement), keys `${prefix}0000`... */
  async function insertExpired(
    t: { dagId: string; runId: string; taskId: string },
    n: number,
    prefix = "old",
  ) {
    await getDb().sql.query(
      `INSERT INTO task_state (dag_run_id, task_id, map_index, key, value, version, updated_at, expires_at)
       SELECT r.id, $3, -1, $4 || lpad(i::text, 4, '0'), to_jsonb(i), 1, now() - interval '2 days',
              now() - interval '1 minute'
       FROM dag_run r, generate_series(1, $5::int) AS i WHERE r.dag_id = $1 AND r.run_id = $2`,
      [t.dagId, t.runId, t.taskId, prefix, n],
    );
  }

  describe("admin.cleanup.run", () => {
    it("deletes expired task and asset state; fresh and never-expiring rows stay", async () => {
      const t = await f.newTask();
      const w = (key: string, expiresAt?: string | null) =>
        t.caller.taskState.set({
          taskInstanceId: t.id,
          key,
          value: key,
          ...(expiresAt === undefined ? {} : { expiresAt }),
        });
      await w("expired_1", fromNow(-60_000));
      await w("expired_2", fromNow(-DAY_MS));
      await w("default_retention");
      await w("never", null);
      await w("tomorrow", fromNow(DAY_MS));

      const asset = await f.newAsset();
      const a = (key: string, expiresAt?: string | null) =>
        f.admin().admin.assetState.set({
          asset: { name: asset.name },
          key,
          value: key,
          ...(expiresAt === undefined ? {} : { expiresAt }),
        });
      await a("expired", fromNow(-1000));
      await a("never_by_default");
      await a("never", null);
      await a("tomorrow", fromNow(DAY_MS));

      // Expired rows are invisible before cleanup, but still in the tables.
      expect((await t.caller.taskState.list({ taskInstanceId: t.id })).items.map((e) => e.key)).toEqual([
        "default_retention",
        "never",
        "tomorrow",
      ]);
      expect(await keysOf(t)).toHaveLength(5);

      expect(await cleanup().run({})).toEqual({ task: 2, asset: 1, done: true });
      expect(await keysOf(t)).toEqual(["default_retention", "never", "tomorrow"]);
      expect(
        (await f.admin().admin.assetState.list({ asset: { name: asset.name } })).items.map((e) => e.key),
      ).toEqual(["never", "never_by_default", "tomorrow"]);
      expect(await count("asset_state", "s.expires_at <= now()")).toBe(0);
      // Nothing left: a second run deletes nothing.
      expect(await cleanup().run({})).toEqual({ task: 0, asset: 0, done: true });
    });

    it("an expired key rewritten before cleanup is live again and is kept", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1, expiresAt: fromNow(-1000) });
      expect(await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 2 })).toEqual({
        version: 1,
      });
      expect(await cleanup().run({})).toEqual({ task: 0, asset: 0, done: true });
      expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "k" })).value).toBe(2);
    });

    it("batches: maxBatches bounds a run, repeated runs finish, fresh rows stay", async () => {
      const t = await f.newTask();
      await insertExpired(t, 10);
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "fresh", value: 1 });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "never", value: 1, expiresAt: null });

      expect(await cleanup().run({ batchSize: 3, maxBatches: 1 })).toEqual({
        task: 3,
        asset: 0,
        done: false,
      });
      expect(await count("task_state", "s.expires_at <= now()")).toBe(7);
      const runs = [];
      for (let i = 0; i < 10; i++) {
        const run = await cleanup().run({ batchSize: 3, maxBatches: 1 });
        runs.push(run);
        if (run.done) break;
      }
      expect(runs).toEqual([
        { task: 3, asset: 0, done: false },
        { task: 3, asset: 0, done: false },
        { task: 1, asset: 0, done: true },
      ]);
      expect(await keysOf(t)).toEqual(["fresh", "never"]);
    });

    it("without maxBatches, one run goes batch by batch until nothing is left", async () => {
      const t = await f.newTask();
      await insertExpired(t, 10);
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "fresh", value: 1 });
      const progress: { task: number; asset: number }[] = [];
      const result = await deleteExpired(getDb().sql, { batchSize: 4, onProgress: (p) => progress.push(p) });
      expect(result).toEqual({ task: 10, asset: 0, done: true });
      // Running totals after each batch: three task batches (4, 4, 2), then one asset batch.
      expect(progress).toEqual([
        { task: 4, asset: 0 },
        { task: 8, asset: 0 },
        { task: 10, asset: 0 },
        { task: 10, asset: 0 },
      ]);
      expect(await keysOf(t)).toEqual(["fresh"]);
    });

    it("shouldStop stops between batches and reports done: false", async () => {
      const t = await f.newTask();
      await insertExpired(t, 6);
      let batches = 0;
      const result = await deleteExpired(getDb().sql, {
        batchSize: 2,
        shouldStop: () => batches >= 1,
        onProgress: () => batches++,
      });
      expect(result).toEqual({ task: 2, asset: 0, done: false });
      expect(await count("task_state", "s.expires_at <= now()")).toBe(4);
    });

    it("validates its input", async () => {
      for (const input of [
        { batchSize: 0 },
        { batchSize: 1.5 },
        { maxBatches: 0 },
        { batchSize: 100_001 },
        { all: true },
      ]) {
        expect(await failure(cleanup().run(input as never)), JSON.stringify(input)).toMatchObject({
          code: "BAD_REQUEST",
        });
      }
      for (const input of [{ limit: -1 }, { limit: 10_001 }, { batchSize: 1 }]) {
        expect(await failure(cleanup().preview(input as never)), JSON.stringify(input)).toMatchObject({
          code: "BAD_REQUEST",
        });
      }
    });
  });

  describe("admin.cleanup.preview", () => {
    it("lists and counts what would go, oldest expiry first, without deleting", async () => {
      const t = await f.newTask({ mapIndex: 2 });
      await t.caller.taskState.set({
        taskInstanceId: t.id,
        key: "older",
        value: 1,
        expiresAt: fromNow(-2 * DAY_MS),
      });
      await t.caller.taskState.set({
        taskInstanceId: t.id,
        key: "newer",
        value: 1,
        expiresAt: fromNow(-60_000),
      });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "fresh", value: 1 });
      const asset = await f.newAsset();
      const expiredAt = fromNow(-DAY_MS);
      await f
        .admin()
        .admin.assetState.set({ asset: { name: asset.name }, key: "wm", value: 1, expiresAt: expiredAt });
      await f.admin().admin.assetState.set({ asset: { name: asset.name }, key: "kept", value: 1 });

      const preview = await cleanup().preview({});
      expect(preview.total).toEqual({ task: 2, asset: 1 });
      expect(preview.items).toEqual([
        {
          plane: "task",
          owner: `${t.dagId}/${t.runId}/${t.taskId}[2]`,
          key: "older",
          expiresAt: expect.any(String),
        },
        { plane: "asset", owner: asset.name, key: "wm", expiresAt: expiredAt },
        {
          plane: "task",
          owner: `${t.dagId}/${t.runId}/${t.taskId}[2]`,
          key: "newer",
          expiresAt: expect.any(String),
        },
      ]);
      // Nothing was deleted.
      expect(await keysOf(t)).toEqual(["fresh", "newer", "older"]);
      expect(await count("asset_state", "s.expires_at <= now()")).toBe(1);

      const limited = await cleanup().preview({ limit: 1 });
      expect(limited.total).toEqual({ task: 2, asset: 1 });
      expect(limited.items).toEqual([expect.objectContaining({ key: "older" })]);
      expect(await cleanup().preview({ limit: 0 })).toEqual({ total: { task: 2, asset: 1 }, items: [] });

      expect(await cleanup().run({})).toEqual({ task: 2, asset: 1, done: true });
      expect(await cleanup().preview({})).toEqual({ total: { task: 0, asset: 0 }, items: [] });
    });
  });

  describe("several runners at once", () => {
    it("four concurrent cleanups delete each of 200 expired rows exactly once and never fail", async () => {
      const tasks = [await f.newTask(), await f.newTask()];
      await insertExpired(tasks[0]!, 120);
      await insertExpired(tasks[1]!, 80);
      const asset = await f.newAsset();
      for (const t of tasks) {
        await t.caller.taskState.set({ taskInstanceId: t.id, key: "fresh", value: 1 });
        await t.caller.taskState.set({ taskInstanceId: t.id, key: "never", value: 1, expiresAt: null });
      }
      await f.admin().admin.assetState.set({
        asset: { name: asset.name },
        key: "fresh",
        value: 1,
        expiresAt: fromNow(DAY_MS),
      });
      expect(await count("task_state", "s.expires_at <= now()")).toBe(200);

      const results = await Promise.all(
        Array.from({ length: 4 }, () => deleteExpired(getDb().sql, { batchSize: 5 })),
      );
      const total = results.reduce((sum, r) => sum + r.task, 0);
      expect(total).toBe(200);
      for (const r of results) expect(r).toMatchObject({ asset: 0, done: true });
      expect(await count("task_state", "s.expires_at <= now()")).toBe(0);
      for (const t of tasks) expect(await keysOf(t)).toEqual(["fresh", "never"]);
      expect((await f.admin().admin.assetState.list({ asset: { name: asset.name } })).total).toBe(1);
    });

    it("concurrent cleanups through the API and writes to other keys all succeed", async () => {
      const t = await f.newTask();
      await insertExpired(t, 60);
      const writes = Array.from({ length: 20 }, (_, i) =>
        t.caller.taskState.set({ taskInstanceId: t.id, key: `new${i}`, value: i }),
      );
      const runs = Array.from({ length: 3 }, () => cleanup().run({ batchSize: 7 }));
      const [runResults] = await Promise.all([Promise.all(runs), Promise.all(writes)]);
      expect(runResults.reduce((sum, r) => sum + r.task, 0)).toBe(60);
      expect((await t.caller.taskState.list({ taskInstanceId: t.id })).items).toHaveLength(20);
    });

    it("expired keys rewritten while cleanups run are never lost", async () => {
      const t = await f.newTask();
      await insertExpired(t, 50, "k");
      const keys = Array.from({ length: 50 }, (_, i) => `k${String(i + 1).padStart(4, "0")}`);
      const address = { dagId: t.dagId, runId: t.runId, taskId: t.taskId };
      const [cleanups, writes] = await Promise.all([
        Promise.all([1, 2].map(() => deleteExpired(getDb().sql, { batchSize: 5 }))),
        Promise.all(
          keys.map((key) =>
            f.admin().admin.taskState.set({ ...address, key, value: "new", expiresAt: null }),
          ),
        ),
      ]);
      // Whether the cleanup or the write came first, the key starts again at version 1.
      for (const write of writes) expect(write).toEqual({ version: 1 });
      expect(cleanups.reduce((sum, r) => sum + r.task, 0)).toBeLessThanOrEqual(50);
      const list = await f.admin().admin.taskState.list({ ...address, limit: 1000 });
      expect(list.total).toBe(50);
      expect(list.items.every((e) => e.value === "new" && e.version === 1 && e.expiresAt === null)).toBe(
        true,
      );
    });
  });

  describe("asset state expiry", () => {
    it("an asset key with a past expiresAt is invisible at once and deleted by cleanup; others never expire", async () => {
      const asset = await f.newAsset();
      const ref = { name: asset.name };
      const t = await f.newTask({ outlets: [ref] });
      await t.caller.assetState.set({ asset: ref, key: "by_task", value: 1 });
      await t.caller.assetState.set({ asset: ref, key: "short", value: 1, expiresAt: fromNow(-1000) });
      await f.admin().admin.assetState.set({ asset: ref, key: "by_admin", value: 1 });
      expect(await failure(t.caller.assetState.get({ asset: ref, key: "short" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
      expect(await count("asset_state", "s.expires_at IS NULL AND s.key IN ('by_task', 'by_admin')")).toBe(2);
      expect(await cleanup().run({})).toEqual({ task: 0, asset: 1, done: true });
      expect((await t.caller.assetState.list({ asset: ref })).items.map((e) => e.key)).toEqual([
        "by_admin",
        "by_task",
      ]);
      expect(await count("asset_state", "s.key = 'short'")).toBe(0);
    });

    it("asset batches too: batchSize 2 over 5 expired asset rows", async () => {
      const asset = await f.newAsset();
      for (let i = 0; i < 5; i++) {
        await f.admin().admin.assetState.set({
          asset: { name: asset.name },
          key: `k${i}`,
          value: i,
          expiresAt: fromNow(-1000),
        });
      }
      expect(await cleanup().run({ batchSize: 2, maxBatches: 1 })).toEqual({
        task: 0,
        asset: 2,
        done: false,
      });
      expect(await cleanup().run({ batchSize: 2 })).toEqual({ task: 0, asset: 3, done: true });
    });
  });

  it("an execution token is FORBIDDEN", async () => {
    const t = await f.newTask();
    expect(await failure(t.caller.admin.cleanup.run({}))).toMatchObject({
      code: "FORBIDDEN",
      reason: "insufficient_scope",
    });
    expect(await failure(t.caller.admin.cleanup.preview({}))).toMatchObject({
      code: "FORBIDDEN",
      reason: "insufficient_scope",
    });
  });
});
