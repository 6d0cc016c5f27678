// The admin state API (issue #4 §4): admin.taskState by { dagId, runId, taskId, mapIndex? } and
// admin.assetState with writer provenance, on PGlite and PostgreSQL.
import { describeEachDatabase } from "@cairn/db/testing";
import { describe, expect, it } from "vitest";
import { failure, fixtures, unique } from "../testing/fixtures.ts";

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAY_MS = 86_400_000;
const fromNow = (ms: number) => new Date(Date.now() + ms).toISOString();

describeEachDatabase("admin state API", (getDb) => {
  const f = fixtures(getDb);
  const taskState = () => f.admin().admin.taskState;
  const assetState = () => f.admin().admin.assetState;

  /** A task instance (map index -1 unless given) and its admin address. */
  async function task(opts: Parameters<typeof f.newTask>[0] = {}) {
    const t = await f.newTask(opts);
    return { ...t, address: { dagId: t.dagId, runId: t.runId, taskId: t.taskId } };
  }

  describe("taskState by address", () => {
    it("set and get: mapIndex defaults to -1, and the execution plane sees the same key", async () => {
      const t = await task();
      expect(await taskState().set({ ...t.address, key: "job", value: { id: "app-1" } })).toEqual({
        version: 1,
      });
      expect(await taskState().get({ ...t.address, key: "job" })).toEqual({
        key: "job",
        value: { id: "app-1" },
        version: 1,
        updatedAt: expect.stringMatching(ISO_UTC),
        expiresAt: expect.stringMatching(ISO_UTC),
      });
      expect(await taskState().get({ ...t.address, mapIndex: -1, key: "job" })).toMatchObject({
        value: { id: "app-1" },
      });
      expect(await t.caller.taskState.get({ taskInstanceId: t.id, key: "job" })).toMatchObject({
        value: { id: "app-1" },
        version: 1,
      });
      // The worker writes next; the operator reads its write at the next version.
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "job", value: { id: "app-2" } });
      expect(await taskState().get({ ...t.address, key: "job" })).toMatchObject({
        value: { id: "app-2" },
        version: 2,
      });
    });

    it("an execution-plane write is visible through the admin address, map index by map index", async () => {
      const m0 = await task({ mapIndex: 0 });
      const m3 = await task({ dagId: m0.dagId, runId: m0.runId, taskId: m0.taskId, mapIndex: 3 });
      await m0.caller.taskState.set({ taskInstanceId: m0.id, key: "k", value: "zero" });
      await m3.caller.taskState.set({ taskInstanceId: m3.id, key: "k", value: "three" });
      expect((await taskState().get({ ...m0.address, mapIndex: 0, key: "k" })).value).toBe("zero");
      expect((await taskState().get({ ...m0.address, mapIndex: 3, key: "k" })).value).toBe("three");
      expect(await failure(taskState().get({ ...m0.address, key: "k" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
      await taskState().set({ ...m0.address, mapIndex: 3, key: "k", value: "three, fixed" });
      expect((await m3.caller.taskState.get({ taskInstanceId: m3.id, key: "k" })).value).toBe("three, fixed");
      expect((await m0.caller.taskState.get({ taskInstanceId: m0.id, key: "k" })).value).toBe("zero");
    });

    it("every try of the task sees an admin write (state is not keyed by try)", async () => {
      const t = await task();
      const retry = await f.admin().admin.taskInstances.retry({ taskInstanceId: t.id });
      await taskState().set({ ...t.address, key: "resume_from", value: 41 });
      expect(
        (await f.asTask(retry.id).taskState.get({ taskInstanceId: retry.id, key: "resume_from" })).value,
      ).toBe(41);
    });

    it("set applies expiresAt, ifVersion and the default retention like the execution plane", async () => {
      const t = await task();
      const entry = async (key: string) => taskState().get({ ...t.address, key });
      await taskState().set({ ...t.address, key: "default", value: 1 });
      const expiresAt = Date.parse((await entry("default")).expiresAt!);
      expect(Math.abs(expiresAt - (Date.now() + 30 * DAY_MS))).toBeLessThan(60 * 60_000);

      await taskState().set({ ...t.address, key: "never", value: 1, expiresAt: null });
      expect((await entry("never")).expiresAt).toBeNull();

      const at = fromNow(DAY_MS);
      await taskState().set({ ...t.address, key: "explicit", value: 1, expiresAt: at });
      expect((await entry("explicit")).expiresAt).toBe(at);

      expect(
        await failure(taskState().set({ ...t.address, key: "never", value: 2, ifVersion: 0 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      expect(
        await failure(taskState().set({ ...t.address, key: "never", value: 2, ifVersion: 5 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      expect(await taskState().set({ ...t.address, key: "never", value: 2, ifVersion: 1 })).toEqual({
        version: 2,
      });
      expect(await taskState().set({ ...t.address, key: "fresh", value: 1, ifVersion: 0 })).toEqual({
        version: 1,
      });
      // A past expiresAt makes the key invisible at once.
      await taskState().set({ ...t.address, key: "explicit", value: 1, expiresAt: fromNow(-1000) });
      expect(await failure(entry("explicit"))).toMatchObject({ code: "NOT_FOUND", reason: "key_not_found" });
    });

    it("delete: deleted true, then false; ifVersion is checked", async () => {
      const t = await task();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 2 });
      expect(await failure(taskState().delete({ ...t.address, key: "k", ifVersion: 1 }))).toMatchObject({
        code: "CONFLICT",
        reason: "version_mismatch",
      });
      expect(await taskState().delete({ ...t.address, key: "k", ifVersion: 2 })).toEqual({ deleted: true });
      expect(await taskState().delete({ ...t.address, key: "k" })).toEqual({ deleted: false });
      expect(await failure(t.caller.taskState.get({ taskInstanceId: t.id, key: "k" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
    });

    it("clear: the addressed map index only; allMapIndices every map index of that task, no other task", async () => {
      const dagId = unique("dag");
      const runId = unique("run");
      const tasks = [];
      for (const mapIndex of [-1, 0, 1, 2])
        tasks.push(await task({ dagId, runId, taskId: "mapped", mapIndex }));
      const sibling = await task({ dagId, runId, taskId: "sibling" });
      for (const t of [...tasks, sibling]) {
        await t.caller.taskState.set({ taskInstanceId: t.id, key: "a", value: 1 });
        await t.caller.taskState.set({ taskInstanceId: t.id, key: "b", value: 1 });
      }
      const address = { dagId, runId, taskId: "mapped" };
      expect(await taskState().clear({ ...address, mapIndex: 1 })).toEqual({ deleted: 2 });
      expect((await taskState().list({ ...address, mapIndex: 1 })).total).toBe(0);
      expect((await taskState().list({ ...address, mapIndex: 0 })).total).toBe(2);
      expect(await taskState().clear(address)).toEqual({ deleted: 2 });
      expect((await taskState().list({ ...address, mapIndex: 2 })).total).toBe(2);
      expect(await taskState().clear({ ...address, mapIndex: 2, allMapIndices: true })).toEqual({
        deleted: 4,
      });
      for (const mapIndex of [-1, 0, 1, 2])
        expect((await taskState().list({ ...address, mapIndex })).total).toBe(0);
      expect((await taskState().list({ dagId, runId, taskId: "sibling" })).total).toBe(2);
      expect(await taskState().clear({ ...address, allMapIndices: true })).toEqual({ deleted: 0 });
    });

    it("list: pages with a total, a prefix filter, and version, updatedAt and expiresAt", async () => {
      const t = await task();
      for (let i = 0; i < 7; i++) {
        await t.caller.taskState.set({ taskInstanceId: t.id, key: `spark/${i}`, value: i, expiresAt: null });
      }
      for (let i = 0; i < 3; i++) await taskState().set({ ...t.address, key: `dbt/${i}`, value: i });
      await taskState().set({ ...t.address, key: "spark/0", value: "again", expiresAt: null });
      await taskState().set({ ...t.address, key: "spark/expired", value: 1, expiresAt: fromNow(-1000) });

      const all = await taskState().list(t.address);
      expect(all.total).toBe(10);
      expect(all.nextCursor).toBeNull();
      expect(all.items.map((e) => e.key)).toEqual([
        "dbt/0",
        "dbt/1",
        "dbt/2",
        ...Array.from({ length: 7 }, (_, i) => `spark/${i}`),
      ]);
      expect(all.items.find((e) => e.key === "spark/0")).toEqual({
        key: "spark/0",
        value: "again",
        version: 2,
        updatedAt: expect.stringMatching(ISO_UTC),
        expiresAt: null,
      });
      expect(all.items.find((e) => e.key === "dbt/0")?.expiresAt).toMatch(ISO_UTC);

      const keys: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: { key: string }[]; nextCursor: string | null; total: number } =
          await taskState().list({ ...t.address, prefix: "spark/", limit: 3, cursor });
        expect(page.total).toBe(7);
        expect(page.items.length).toBeLessThanOrEqual(3);
        keys.push(...page.items.map((e) => e.key));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null);
      expect(pages).toBe(3);
      expect(keys).toEqual(Array.from({ length: 7 }, (_, i) => `spark/${i}`));

      const dbt = await taskState().list({ ...t.address, prefix: "dbt/", limit: 2 });
      expect(dbt).toMatchObject({ total: 3, items: [{ key: "dbt/0" }, { key: "dbt/1" }] });
      expect(dbt.nextCursor).toEqual(expect.any(String));
      expect(await taskState().list({ ...t.address, prefix: "none/" })).toEqual({
        items: [],
        nextCursor: null,
        total: 0,
      });
    });

    it("a task of an existing run without state lists empty; a bad cursor is BAD_REQUEST", async () => {
      const t = await task();
      expect(await taskState().list({ ...t.address, taskId: "never_ran" })).toEqual({
        items: [],
        nextCursor: null,
        total: 0,
      });
      expect(await failure(taskState().list({ ...t.address, cursor: "!!" }))).toMatchObject({
        code: "BAD_REQUEST",
      });
    });

    it("an unknown dag run is NOT_FOUND dag_run_not_found for every verb", async () => {
      const t = await task();
      for (const address of [
        { dagId: unique("dag"), runId: t.runId, taskId: t.taskId },
        { dagId: t.dagId, runId: unique("run"), taskId: t.taskId },
      ]) {
        const calls = {
          get: () => taskState().get({ ...address, key: "k" }),
          set: () => taskState().set({ ...address, key: "k", value: 1 }),
          create: () => taskState().set({ ...address, key: "k", value: 1, ifVersion: 0 }),
          cas: () => taskState().set({ ...address, key: "k", value: 1, ifVersion: 3 }),
          delete: () => taskState().delete({ ...address, key: "k" }),
          deleteIf: () => taskState().delete({ ...address, key: "k", ifVersion: 3 }),
          clear: () => taskState().clear(address),
          clearAll: () => taskState().clear({ ...address, allMapIndices: true }),
          list: () => taskState().list(address),
        };
        for (const [verb, call] of Object.entries(calls)) {
          expect(await failure(call()), verb).toMatchObject({
            code: "NOT_FOUND",
            reason: "dag_run_not_found",
          });
        }
      }
      // Nothing was written for the unknown runs.
      const rows = await getDb().sql.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM task_state s JOIN dag_run r ON r.id = s.dag_run_id WHERE r.dag_id = $1",
        [t.dagId],
      );
      expect(rows[0]!.n).toBe(0);
    });

    it("validates the address and refuses unknown fields", async () => {
      const t = await task();
      const bad = [
        { ...t.address, dagId: "has space", key: "k" },
        { ...t.address, taskId: "", key: "k" },
        { ...t.address, runId: "", key: "k" },
        { ...t.address, mapIndex: -2, key: "k" },
        { ...t.address, mapIndex: 1.5, key: "k" },
        { ...t.address, key: "" },
        { ...t.address, key: "k", taskInstanceId: t.id },
        { runId: t.runId, taskId: t.taskId, key: "k" },
      ];
      for (const input of bad) {
        expect(await failure(taskState().get(input as never)), JSON.stringify(input)).toMatchObject({
          code: "BAD_REQUEST",
        });
      }
      expect(
        await failure(taskState().set({ ...t.address, key: "k", value: 1, ifversion: 1 } as never)),
      ).toMatchObject({
        code: "BAD_REQUEST",
      });
      expect(await failure(taskState().set({ ...t.address, key: "k", value: null }))).toMatchObject({
        code: "BAD_REQUEST",
      });
      expect(await failure(taskState().list({ ...t.address, limit: 0 }))).toMatchObject({
        code: "BAD_REQUEST",
      });
      expect(await failure(taskState().list({ ...t.address, limit: 1001 }))).toMatchObject({
        code: "BAD_REQUEST",
      });
    });
  });

  describe("assetState", () => {
    it("set, get, delete by name or uri; writes are recorded with writer kind admin", async () => {
      const asset = await f.newAsset();
      expect(await assetState().set({ asset: { name: asset.name }, key: "wm", value: "2026-05-01" })).toEqual(
        {
          version: 1,
        },
      );
      const entry = await assetState().get({ asset: { uri: asset.uri }, key: "wm" });
      expect(entry).toEqual({
        key: "wm",
        value: "2026-05-01",
        version: 1,
        updatedAt: expect.stringMatching(ISO_UTC),
        expiresAt: null,
      });
      const [writer] = await getDb().sql.query(
        `SELECT s.writer_kind, s.writer_dag_id, s.writer_run_id, s.writer_task_id, s.writer_map_index
         FROM asset_state s JOIN asset a ON a.id = s.asset_id WHERE a.name = $1 AND s.key = 'wm'`,
        [asset.name],
      );
      expect(writer).toEqual({
        writer_kind: "admin",
        writer_dag_id: null,
        writer_run_id: null,
        writer_task_id: null,
        writer_map_index: null,
      });
      expect(
        await failure(assetState().set({ asset: { name: asset.name }, key: "wm", value: "x", ifVersion: 0 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      expect(await assetState().delete({ asset: { uri: asset.uri }, key: "wm", ifVersion: 1 })).toEqual({
        deleted: true,
      });
      expect(await assetState().delete({ asset: { name: asset.name }, key: "wm" })).toEqual({
        deleted: false,
      });
      expect(await failure(assetState().get({ asset: { name: asset.name }, key: "wm" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
    });

    it("an admin may touch an asset no task declares; expiry only when the write says so", async () => {
      const asset = await f.newAsset();
      const ref = { name: asset.name };
      await assetState().set({ asset: ref, key: "forever", value: 1 });
      const at = fromNow(DAY_MS);
      await assetState().set({ asset: ref, key: "until", value: 1, expiresAt: at });
      await assetState().set({ asset: ref, key: "gone", value: 1, expiresAt: fromNow(-1000) });
      const list = await assetState().list({ asset: ref });
      expect(list.total).toBe(2);
      expect(list.items.map((e) => [e.key, e.expiresAt])).toEqual([
        ["forever", null],
        ["until", at],
      ]);
    });

    it("list shows who wrote last: a task's write, then an admin's", async () => {
      const asset = await f.newAsset();
      const ref = { name: asset.name };
      const t = await f.newTask({ outlets: [ref], mapIndex: 4 });
      await t.caller.assetState.set({ asset: ref, key: "by_task", value: 1 });
      await t.caller.assetState.set({ asset: ref, key: "overwritten", value: 1 });
      await assetState().set({ asset: ref, key: "by_admin", value: 2 });
      await assetState().set({ asset: ref, key: "overwritten", value: 2 });

      const list = await assetState().list({ asset: { uri: asset.uri } });
      expect(list.total).toBe(3);
      expect(list.nextCursor).toBeNull();
      const admin = { kind: "admin", dagId: null, runId: null, taskId: null, mapIndex: null };
      expect(list.items).toEqual([
        {
          key: "by_admin",
          value: 2,
          version: 1,
          updatedAt: expect.stringMatching(ISO_UTC),
          expiresAt: null,
          writer: admin,
        },
        {
          key: "by_task",
          value: 1,
          version: 1,
          updatedAt: expect.stringMatching(ISO_UTC),
          expiresAt: null,
          writer: { kind: "task", dagId: t.dagId, runId: t.runId, taskId: t.taskId, mapIndex: 4 },
        },
        {
          key: "overwritten",
          value: 2,
          version: 2,
          updatedAt: expect.stringMatching(ISO_UTC),
          expiresAt: null,
          writer: admin,
        },
      ]);
      // The task writes again: the writer is the task once more.
      await t.caller.assetState.set({ asset: ref, key: "overwritten", value: 3 });
      const again = await assetState().list({ asset: ref, prefix: "over" });
      expect(again.total).toBe(1);
      expect(again.items[0]).toMatchObject({ version: 3, writer: { kind: "task", taskId: t.taskId } });
    });

    it("list pages with a total and a prefix filter", async () => {
      const asset = await f.newAsset();
      const ref = { name: asset.name };
      for (let i = 0; i < 5; i++) await assetState().set({ asset: ref, key: `wm/${i}`, value: i });
      await assetState().set({ asset: ref, key: "other", value: 0 });
      const first = await assetState().list({ asset: ref, prefix: "wm/", limit: 2 });
      expect(first.total).toBe(5);
      expect(first.items.map((e) => e.key)).toEqual(["wm/0", "wm/1"]);
      const second = await assetState().list({
        asset: ref,
        prefix: "wm/",
        limit: 2,
        cursor: first.nextCursor,
      });
      expect(second.items.map((e) => e.key)).toEqual(["wm/2", "wm/3"]);
      const third = await assetState().list({
        asset: ref,
        prefix: "wm/",
        limit: 2,
        cursor: second.nextCursor,
      });
      expect(third).toMatchObject({ total: 5, nextCursor: null, items: [{ key: "wm/4" }] });
      expect((await assetState().list({ asset: ref })).total).toBe(6);
    });

    it("clear deletes every key of the asset and no other asset's", async () => {
      const asset = await f.newAsset();
      const other = await f.newAsset();
      for (const key of ["a", "b", "c"])
        await assetState().set({ asset: { name: asset.name }, key, value: 1 });
      await assetState().set({ asset: { name: other.name }, key: "a", value: 1 });
      expect(await assetState().clear({ asset: { uri: asset.uri } })).toEqual({ deleted: 3 });
      expect(await assetState().clear({ asset: { name: asset.name } })).toEqual({ deleted: 0 });
      expect((await assetState().list({ asset: { name: asset.name } })).total).toBe(0);
      expect((await assetState().list({ asset: { name: other.name } })).total).toBe(1);
    });

    it("an unknown or inactive asset is NOT_FOUND asset_not_found for every verb", async () => {
      const inactive = await f.newAsset();
      await f.admin().admin.assets.setActive({ name: inactive.name, active: false });
      for (const asset of [{ name: unique("missing") }, { uri: "s3://nowhere/x" }, { name: inactive.name }]) {
        const calls = {
          get: () => assetState().get({ asset, key: "k" }),
          set: () => assetState().set({ asset, key: "k", value: 1 }),
          delete: () => assetState().delete({ asset, key: "k" }),
          clear: () => assetState().clear({ asset }),
          list: () => assetState().list({ asset }),
        };
        for (const [verb, call] of Object.entries(calls)) {
          expect(await failure(call()), `${verb} ${JSON.stringify(asset)}`).toMatchObject({
            code: "NOT_FOUND",
            reason: "asset_not_found",
          });
        }
      }
    });

    it("refuses an asset ref naming both name and uri, and unknown fields", async () => {
      const asset = await f.newAsset();
      expect(
        await failure(assetState().list({ asset: { name: asset.name, uri: asset.uri } as never })),
      ).toMatchObject({ code: "BAD_REQUEST" });
      expect(
        await failure(
          assetState().set({ asset: { name: asset.name }, key: "k", value: 1, writer: "me" } as never),
        ),
      ).toMatchObject({ code: "BAD_REQUEST" });
    });
  });

  it("an execution token is FORBIDDEN on every admin state verb, even for its own task and declared asset", async () => {
    const asset = await f.newAsset();
    const ref = { name: asset.name };
    const t = await task({ inlets: [ref] });
    await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 });
    await t.caller.assetState.set({ asset: ref, key: "k", value: 1 });
    const own = t.caller.admin;
    const calls = {
      "taskState.list": () => own.taskState.list(t.address),
      "taskState.get": () => own.taskState.get({ ...t.address, key: "k" }),
      "taskState.set": () => own.taskState.set({ ...t.address, key: "k", value: 2 }),
      "taskState.delete": () => own.taskState.delete({ ...t.address, key: "k" }),
      "taskState.clear": () => own.taskState.clear(t.address),
      "assetState.list": () => own.assetState.list({ asset: ref }),
      "assetState.get": () => own.assetState.get({ asset: ref, key: "k" }),
      "assetState.set": () => own.assetState.set({ asset: ref, key: "k", value: 2 }),
      "assetState.delete": () => own.assetState.delete({ asset: ref, key: "k" }),
      "assetState.clear": () => own.assetState.clear({ asset: ref }),
    };
    for (const [verb, call] of Object.entries(calls)) {
      expect(await failure(call()), verb).toMatchObject({ code: "FORBIDDEN", reason: "insufficient_scope" });
    }
    expect(await taskState().get({ ...t.address, key: "k" })).toMatchObject({ value: 1, version: 1 });
    expect(await assetState().get({ asset: ref, key: "k" })).toMatchObject({ value: 1, version: 1 });
    expect(await failure(f.anonymous().admin.taskState.list(t.address))).toMatchObject({
      code: "UNAUTHORIZED",
    });
  });
});
