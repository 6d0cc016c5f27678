// The operator read API and the viewer scope (spec §7) through the router, on PGlite and PostgreSQL:
// dag runs newest first, a run's task instances (current tries), assets with their tasks, counts; pages
// through opaque cursors; a viewer reads everything an admin reads and writes nothing.
import { describeEachDatabase } from "@cairn/db/testing";
import { describe, expect, it } from "vitest";
import { failure, fixtures, unique } from "../testing/fixtures.ts";

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
const inTwoDays = () => new Date(Date.now() + 2 * 86_400_000).toISOString();

describeEachDatabase("operator reads", (getDb) => {
  const f = fixtures(getDb);
  const admin = () => f.admin().admin;

  /** Makes a key expired (a test cannot wait for time to pass). */
  const expire = (table: "task_state" | "asset_state", key: string) =>
    getDb().sql.query(`UPDATE ${table} SET expires_at = now() - interval '1 minute' WHERE key = $1`, [key]);

  /** Every item of a list, a page of `limit` at a time, following nextCursor. */
  async function pages<T>(
    list: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null; total: number }>,
  ) {
    const items: T[] = [];
    const totals = new Set<number>();
    let cursor: string | null = null;
    let calls = 0;
    do {
      const page = await list(cursor);
      items.push(...page.items);
      totals.add(page.total);
      cursor = page.nextCursor;
      calls++;
    } while (cursor !== null && calls < 100);
    return { items, totals: [...totals], calls };
  }

  describe("admin.dagRuns.list", () => {
    it("lists a dag's runs newest first with their task instance and live key counts, page by page", async () => {
      const dagId = unique("dag");
      const runs = ["r1", "r2", "r3", "r4", "r5"];
      for (const runId of runs) {
        await admin().taskInstances.create({ dagId, runId, taskId: "a" });
        await new Promise((resolve) => setTimeout(resolve, 5)); // distinct created_at
      }
      const two = await f.newTask({ dagId, runId: "r3", taskId: "b" });
      await f.newTask({ dagId, runId: "r3", taskId: "c", mapIndex: 0 });
      await f.newTask({ dagId, runId: "r3", taskId: "c", mapIndex: 1 });
      await two.caller.taskState.set({ taskInstanceId: two.id, key: "live", value: 1 });
      await two.caller.taskState.set({ taskInstanceId: two.id, key: "gone", value: 1 });
      await expire("task_state", "gone");

      const all = await pages((cursor) => admin().dagRuns.list({ dagId, limit: 2, cursor }));
      expect(all.calls).toBe(3);
      expect(all.totals).toEqual([5]);
      expect(all.items.map((r) => r.runId)).toEqual(["r5", "r4", "r3", "r2", "r1"]);
      expect(all.items.find((r) => r.runId === "r3")).toEqual({
        dagId,
        runId: "r3",
        createdAt: expect.stringMatching(/Z$/),
        taskInstances: 4,
        keys: 1,
      });
      const other = await admin().dagRuns.list({ dagId: unique("other") });
      expect(other).toEqual({ items: [], nextCursor: null, total: 0 });
    });

    it("filters by run id prefix, across dags when no dag is given", async () => {
      const prefix = unique("scheduled__");
      for (const dagId of [unique("d1"), unique("d2")]) {
        await admin().taskInstances.create({ dagId, runId: `${prefix}2026-11-30`, taskId: "t" });
        await admin().taskInstances.create({ dagId, runId: `manual__${prefix}`, taskId: "t" });
      }
      const found = await admin().dagRuns.list({ runIdPrefix: prefix });
      expect(found.total).toBe(2);
      expect(found.items.every((r) => r.runId.startsWith(prefix))).toBe(true);
    });
  });

  describe("admin.taskInstances.list", () => {
    it("lists the current try of each task and map index, by task id prefix, with live keys", async () => {
      const where = { dagId: unique("dag"), runId: unique("run") };
      const extract = await f.newTask({ ...where, taskId: "extract" });
      const retried = await admin().taskInstances.retry({ taskInstanceId: extract.id });
      const mapped = [0, 1, 2];
      for (const mapIndex of mapped) await f.newTask({ ...where, taskId: "load", mapIndex });
      await admin().taskInstances.setState({ taskInstanceId: retried.id, state: "running" });
      const current = f.asTask(retried.id);
      await current.taskState.set({ taskInstanceId: retried.id, key: "job", value: "j-1" });

      const all = await pages((cursor) => admin().taskInstances.list({ ...where, limit: 2, cursor }));
      expect(all.totals).toEqual([4]);
      expect(all.items.map((t) => [t.taskId, t.mapIndex, t.tryNumber])).toEqual([
        ["extract", -1, 2],
        ["load", 0, 1],
        ["load", 1, 1],
        ["load", 2, 1],
      ]);
      expect(all.items[0]).toEqual({
        id: retried.id,
        taskId: "extract",
        mapIndex: -1,
        tryNumber: 2,
        state: "running",
        keys: 1,
        updatedAt: expect.stringMatching(/Z$/),
      });
      const loads = await admin().taskInstances.list({ ...where, taskIdPrefix: "lo" });
      expect([loads.total, loads.items.map((t) => t.mapIndex)]).toEqual([3, mapped]);
    });

    it("an unknown dag run is NOT_FOUND dag_run_not_found; a cursor it did not make is BAD_REQUEST invalid_value", async () => {
      expect(
        await failure(admin().taskInstances.list({ dagId: unique("dag"), runId: unique("run") })),
      ).toMatchObject({ code: "NOT_FOUND", reason: "dag_run_not_found" });
      const task = await f.newTask();
      for (const cursor of ["!!", "WzFd", Buffer.from('["a","b"]').toString("base64url")]) {
        expect(
          await failure(admin().taskInstances.list({ dagId: task.dagId, runId: task.runId, cursor })),
          cursor,
        ).toMatchObject({ code: "BAD_REQUEST", reason: "invalid_value" });
      }
      expect(await failure(admin().dagRuns.list({ cursor: "e30" }))).toMatchObject({
        code: "BAD_REQUEST",
        reason: "invalid_value",
      });
    });
  });

  describe("admin.assets.list", () => {
    it("finds assets by part of the name or uri in any case, by active, with live keys and their tasks", async () => {
      const tag = unique("Orders").toLowerCase();
      const orders = { name: `${tag}_daily`, uri: `s3://lake/${tag}/daily` };
      const archive = { name: unique("archive"), uri: `s3://cold/${tag.toUpperCase()}` };
      await admin().assets.upsert({ ...orders, group: "sales" });
      await admin().assets.upsert(archive);
      await admin().assets.setActive({ name: archive.name, active: false });
      const dagId = unique("dag");
      const writer = await f.newTask({ dagId, taskId: "load", outlets: [{ name: orders.name }] });
      await f.newTask({ dagId, taskId: "report", inlets: [{ uri: orders.uri }] });
      await writer.caller.assetState.set({ asset: { name: orders.name }, key: "watermark", value: 7 });
      await writer.caller.assetState.set({ asset: { name: orders.name }, key: "old", value: 1 });
      await expire("asset_state", "old");

      const found = await admin().assets.list({ search: tag.toUpperCase() });
      expect(found.total).toBe(2);
      expect(found.items.find((a) => a.name === orders.name)).toEqual({
        ...orders,
        group: "sales",
        active: true,
        keys: 1,
        inlets: [{ dagId, taskId: "report" }],
        outlets: [{ dagId, taskId: "load" }],
      });
      const inactive = await admin().assets.list({ search: tag, active: false });
      expect(inactive.items.map((a) => a.name)).toEqual([archive.name]);
      const onePerPage = await pages((cursor) => admin().assets.list({ search: tag, limit: 1, cursor }));
      expect(onePerPage.items.map((a) => a.name)).toEqual([archive.name, orders.name].sort());
    });
  });

  describe("admin.stats", () => {
    it("counts what exists, live keys, what expires within a day and what awaits cleanup", async () => {
      const before = await admin().stats();
      const task = await f.newTask();
      const asset = await f.newAsset();
      await task.caller.taskState.set({ taskInstanceId: task.id, key: "forever", value: 1 });
      await task.caller.taskState.set({
        taskInstanceId: task.id,
        key: unique("soon"),
        value: 1,
        expiresAt: inAnHour(),
      });
      await task.caller.taskState.set({
        taskInstanceId: task.id,
        key: "later",
        value: 1,
        expiresAt: inTwoDays(),
      });
      const expired = unique("expired");
      await admin().assetState.set({ asset: { name: asset.name }, key: expired, value: 1 });
      await expire("asset_state", expired);
      const after = await admin().stats();
      expect({
        dagRuns: after.dagRuns - before.dagRuns,
        taskInstances: after.taskInstances - before.taskInstances,
        taskKeys: after.taskKeys - before.taskKeys,
        assets: after.assets - before.assets,
        assetKeys: after.assetKeys - before.assetKeys,
        expiringWithin24h: after.expiringWithin24h - before.expiringWithin24h,
        expiredAwaitingCleanup: after.expiredAwaitingCleanup - before.expiredAwaitingCleanup,
      }).toEqual({
        dagRuns: 1,
        taskInstances: 1,
        taskKeys: 3,
        assets: 1,
        assetKeys: 0,
        expiringWithin24h: 1,
        expiredAwaitingCleanup: 1,
      });
    });
  });

  describe("the viewer scope", () => {
    it("reads the admin plane as an admin does", async () => {
      const task = await f.newTask();
      await task.caller.taskState.set({ taskInstanceId: task.id, key: "k", value: "v" });
      const viewer = f.viewer().admin;
      const address = { dagId: task.dagId, runId: task.runId, taskId: task.taskId, mapIndex: -1 };
      expect((await viewer.taskState.get({ ...address, key: "k" })).value).toBe("v");
      expect((await viewer.taskState.list(address)).total).toBe(1);
      expect((await viewer.taskInstances.list({ dagId: task.dagId, runId: task.runId })).total).toBe(1);
      expect((await viewer.dagRuns.list({ dagId: task.dagId })).total).toBe(1);
      expect(await viewer.stats()).toEqual(await admin().stats());
      expect(await viewer.cleanup.preview({})).toBeDefined();
    });

    it("is FORBIDDEN insufficient_scope on every admin mutation and on the execution plane", async () => {
      const task = await f.newTask();
      const asset = await f.newAsset();
      const viewer = f.viewer();
      const address = { dagId: task.dagId, runId: task.runId, taskId: task.taskId, mapIndex: -1 };
      const refused = [
        viewer.admin.taskState.set({ ...address, key: "k", value: 1 }),
        viewer.admin.taskState.delete({ ...address, key: "k" }),
        viewer.admin.taskState.clear(address),
        viewer.admin.assetState.set({ asset: { name: asset.name }, key: "k", value: 1 }),
        viewer.admin.taskInstances.create({ dagId: task.dagId, runId: task.runId, taskId: "new" }),
        viewer.admin.taskInstances.setState({ taskInstanceId: task.id, state: "failed" }),
        viewer.admin.dagRuns.delete({ dagId: task.dagId, runId: task.runId }),
        viewer.admin.assets.setActive({ name: asset.name, active: false }),
        viewer.admin.tokens.issue({ taskInstanceId: task.id }),
        viewer.admin.cleanup.run({}),
        viewer.taskState.get({ taskInstanceId: task.id, key: "k" }),
        viewer.taskState.set({ taskInstanceId: task.id, key: "k", value: 1 }),
        viewer.assetState.get({ asset: { name: asset.name }, key: "k" }),
      ];
      for (const call of refused) {
        expect(await failure(call)).toMatchObject({ code: "FORBIDDEN", reason: "insufficient_scope" });
      }
      // Nothing was written.
      expect((await admin().taskState.list(address)).total).toBe(0);
      expect((await admin().taskInstances.list({ dagId: task.dagId, runId: task.runId })).total).toBe(1);
    });
  });
});
