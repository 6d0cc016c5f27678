// Asset state through the router (spec §4 execution plane, Semantics), on PGlite and PostgreSQL.
import { describeEachDatabase } from "@cairn/db/testing";
import { describe, expect, it } from "vitest";
import type { AssetRef } from "../schemas.ts";
import { type Caller, failure, fixtures, testConfig } from "../testing/fixtures.ts";

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Every verb on one asset; each result, or the failure's code and reason. */
async function everyVerb(caller: Caller, asset: AssetRef) {
  const outcome = (call: Promise<unknown>) =>
    call.then(
      (ok) => ({ ok }),
      (error: unknown) => failure(Promise.reject(error)),
    );
  return {
    get: await outcome(caller.assetState.get({ asset, key: "k" })),
    set: await outcome(caller.assetState.set({ asset, key: "k", value: 1 })),
    create: await outcome(caller.assetState.set({ asset, key: "k", value: 1, ifVersion: 0 })),
    cas: await outcome(caller.assetState.set({ asset, key: "k", value: 1, ifVersion: 7 })),
    delete: await outcome(caller.assetState.delete({ asset, key: "k" })),
    deleteIf: await outcome(caller.assetState.delete({ asset, key: "k", ifVersion: 7 })),
    deleteIf0: await outcome(caller.assetState.delete({ asset, key: "k", ifVersion: 0 })),
    clear: await outcome(caller.assetState.clear({ asset })),
    list: await outcome(caller.assetState.list({ asset })),
  };
}

/** Asserts every verb failed with this code and reason. */
async function expectEveryVerbFails(caller: Caller, asset: AssetRef, code: string, reason: string) {
  const results = await everyVerb(caller, asset);
  for (const [verb, result] of Object.entries(results)) {
    expect(result, verb).toMatchObject({ code, reason });
  }
}

describeEachDatabase("assetState", (getDb) => {
  const f = fixtures(getDb);

  async function writerOf(assetName: string, key: string) {
    const rows = await getDb().sql.query(
      `SELECT s.writer_kind, s.writer_dag_id, s.writer_run_id, s.writer_task_id, s.writer_map_index
       FROM asset_state s JOIN asset a ON a.id = s.asset_id WHERE a.name = $1 AND s.key = $2`,
      [assetName, key],
    );
    return rows[0];
  }

  describe("every verb", () => {
    it("by name and by uri reach the same state", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ inlets: [{ name: asset.name }] });
      const byName = { name: asset.name };
      const byUri = { uri: asset.uri };
      expect(await t.caller.assetState.set({ asset: byName, key: "wm", value: "2026-01-01" })).toEqual({
        version: 1,
      });
      expect(await t.caller.assetState.get({ asset: byUri, key: "wm" })).toEqual({
        key: "wm",
        value: "2026-01-01",
        version: 1,
        updatedAt: expect.stringMatching(ISO_UTC),
        expiresAt: null,
      });
      expect(
        await t.caller.assetState.set({ asset: byUri, key: "wm", value: "2026-01-02", ifVersion: 1 }),
      ).toEqual({
        version: 2,
      });
      expect((await t.caller.assetState.get({ asset: byName, key: "wm" })).value).toBe("2026-01-02");
      expect((await t.caller.assetState.list({ asset: byUri })).items.map((i) => i.key)).toEqual(["wm"]);
      expect(await t.caller.assetState.delete({ asset: byUri, key: "wm", ifVersion: 2 })).toEqual({
        deleted: true,
      });
      expect(await failure(t.caller.assetState.get({ asset: byName, key: "wm" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
    });

    it("get/set/delete/clear/list with versions, compare-and-set and create-only", async () => {
      const asset = await f.newAsset();
      const ref = { name: asset.name };
      const s = f.admin().assetState;
      expect(await s.list({ asset: ref })).toEqual({ items: [], nextCursor: null });
      expect(await s.clear({ asset: ref })).toEqual({ deleted: 0 });
      expect(await s.set({ asset: ref, key: "a", value: 1, ifVersion: 0 })).toEqual({ version: 1 });
      expect(await failure(s.set({ asset: ref, key: "a", value: 2, ifVersion: 0 }))).toMatchObject({
        code: "CONFLICT",
        reason: "version_mismatch",
      });
      expect(await s.set({ asset: ref, key: "a", value: 2 })).toEqual({ version: 2 });
      expect(await failure(s.set({ asset: ref, key: "a", value: 3, ifVersion: 1 }))).toMatchObject({
        code: "CONFLICT",
        reason: "version_mismatch",
      });
      expect(await failure(s.set({ asset: ref, key: "missing", value: 3, ifVersion: 1 }))).toMatchObject({
        code: "CONFLICT",
        reason: "version_mismatch",
      });
      expect(await s.set({ asset: ref, key: "a", value: 3, ifVersion: 2 })).toEqual({ version: 3 });
      expect(await s.get({ asset: ref, key: "a" })).toMatchObject({ value: 3, version: 3 });
      expect(await failure(s.get({ asset: ref, key: "missing" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
      expect(await s.delete({ asset: ref, key: "missing" })).toEqual({ deleted: false });
      expect(await s.delete({ asset: ref, key: "missing", ifVersion: 0 })).toEqual({ deleted: false });
      expect(await failure(s.delete({ asset: ref, key: "a", ifVersion: 0 }))).toMatchObject({
        code: "CONFLICT",
        reason: "version_mismatch",
      });
      expect(await failure(s.delete({ asset: ref, key: "a", ifVersion: 2 }))).toMatchObject({
        code: "CONFLICT",
        reason: "version_mismatch",
      });
      expect(await s.delete({ asset: ref, key: "a", ifVersion: 3 })).toEqual({ deleted: true });
      expect(await s.set({ asset: ref, key: "a", value: 4 })).toEqual({ version: 1 });

      for (const key of ["b/1", "b/2", "b/3", "c"]) await s.set({ asset: ref, key, value: key });
      const page1 = await s.list({ asset: ref, prefix: "b/", limit: 2 });
      expect(page1.items.map((i) => i.key)).toEqual(["b/1", "b/2"]);
      const page2 = await s.list({ asset: ref, prefix: "b/", limit: 2, cursor: page1.nextCursor });
      expect(page2).toMatchObject({ items: [{ key: "b/3", value: "b/3" }], nextCursor: null });
      const all: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: { key: string }[]; nextCursor: string | null } = await s.list({
          asset: { uri: asset.uri },
          limit: 2,
          cursor,
        });
        all.push(...page.items.map((i) => i.key));
        cursor = page.nextCursor;
      } while (cursor);
      expect(all).toEqual(["a", "b/1", "b/2", "b/3", "c"]);
      expect(await failure(s.list({ asset: ref, cursor: "@@not-a-cursor@@" }))).toMatchObject({
        code: "BAD_REQUEST",
      });
      expect(await s.clear({ asset: { uri: asset.uri } })).toEqual({ deleted: 5 });
      expect(await s.list({ asset: ref })).toEqual({ items: [], nextCursor: null });
    });

    it("assets have separate namespaces", async () => {
      const a = await f.newAsset();
      const b = await f.newAsset();
      const s = f.admin().assetState;
      await s.set({ asset: { name: a.name }, key: "k", value: "a" });
      await s.set({ asset: { name: b.name }, key: "k", value: "b" });
      expect((await s.get({ asset: { uri: a.uri }, key: "k" })).value).toBe("a");
      expect(await s.clear({ asset: { name: a.name } })).toEqual({ deleted: 1 });
      expect((await s.get({ asset: { uri: b.uri }, key: "k" })).value).toBe("b");
    });
  });

  describe("expiry", () => {
    it("asset state has no default expiry, even with a task-state retention configured", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ outlets: [{ uri: asset.uri }] });
      await t.caller.assetState.set({ asset: { name: asset.name }, key: "k", value: 1 });
      expect((await t.caller.assetState.get({ asset: { name: asset.name }, key: "k" })).expiresAt).toBeNull();
      await f.admin().assetState.set({ asset: { name: asset.name }, key: "k2", value: 1 });
      expect(
        (await f.admin().assetState.list({ asset: { name: asset.name } })).items.map((i) => i.expiresAt),
      ).toEqual([null, null]);
    });

    it("an explicit expiresAt is kept; a past one makes the key invisible at once; a rewrite starts at 1", async () => {
      const asset = await f.newAsset();
      const ref = { name: asset.name };
      const s = f.admin().assetState;
      await s.set({ asset: ref, key: "k", value: 1, expiresAt: "2099-01-01T01:00:00+01:00" });
      expect((await s.get({ asset: ref, key: "k" })).expiresAt).toBe("2099-01-01T00:00:00.000Z");
      // Each write sets the expiry anew: omitted means "never" for assets.
      await s.set({ asset: ref, key: "k", value: 2 });
      expect((await s.get({ asset: ref, key: "k" })).expiresAt).toBeNull();
      expect(await s.set({ asset: ref, key: "k", value: 3, expiresAt: "2000-01-01T00:00:00Z" })).toEqual({
        version: 3,
      });
      expect(await failure(s.get({ asset: ref, key: "k" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
      expect((await s.list({ asset: ref })).items).toEqual([]);
      expect(await failure(s.set({ asset: ref, key: "k", value: 4, ifVersion: 3 }))).toMatchObject({
        code: "CONFLICT",
        reason: "version_mismatch",
      });
      expect(await s.delete({ asset: ref, key: "k" })).toEqual({ deleted: false });
      await s.set({ asset: ref, key: "k", value: 5, expiresAt: "2000-01-01T00:00:00Z" });
      expect(await s.set({ asset: ref, key: "k", value: 6, ifVersion: 0 })).toEqual({ version: 1 });
      await s.set({ asset: ref, key: "gone", value: 5, expiresAt: "2000-01-01T00:00:00Z" });
      expect(await s.clear({ asset: ref })).toEqual({ deleted: 1 });
    });
  });

  describe("access", () => {
    it("unknown asset is NOT_FOUND asset_not_found for an admin, on every verb, by name and by uri", async () => {
      await expectEveryVerbFails(f.admin(), { name: "no-such-asset" }, "NOT_FOUND", "asset_not_found");
      await expectEveryVerbFails(f.admin(), { uri: "s3://no/such/asset" }, "NOT_FOUND", "asset_not_found");
    });

    it("execution token: an undeclared asset is FORBIDDEN asset_not_registered, whether or not it exists", async () => {
      const asset = await f.newAsset();
      await f.admin().assetState.set({ asset: { name: asset.name }, key: "k", value: 1 });
      const t = await f.newTask();
      for (const ref of [
        { name: asset.name },
        { uri: asset.uri },
        { name: "no-such-asset" },
        { uri: "s3://nope" },
      ]) {
        await expectEveryVerbFails(t.caller, ref, "FORBIDDEN", "asset_not_registered");
      }
      // An undeclared, inactive asset looks the same.
      await f.admin().admin.assets.setActive({ name: asset.name, active: false });
      await expectEveryVerbFails(t.caller, { name: asset.name }, "FORBIDDEN", "asset_not_registered");
      // Nothing was written through the refused calls.
      await f.admin().admin.assets.setActive({ name: asset.name, active: true });
      expect(await f.admin().assetState.get({ asset: { name: asset.name }, key: "k" })).toMatchObject({
        value: 1,
        version: 1,
      });
    });

    it("inlets and outlets both grant access, and share the state", async () => {
      const asset = await f.newAsset();
      const producer = await f.newTask({ outlets: [{ name: asset.name }] });
      const consumer = await f.newTask({ inlets: [{ uri: asset.uri }] });
      expect(
        await producer.caller.assetState.set({ asset: { name: asset.name }, key: "wm", value: 10 }),
      ).toEqual({
        version: 1,
      });
      expect((await consumer.caller.assetState.get({ asset: { name: asset.name }, key: "wm" })).value).toBe(
        10,
      );
      expect(
        await consumer.caller.assetState.set({
          asset: { uri: asset.uri },
          key: "wm",
          value: 11,
          ifVersion: 1,
        }),
      ).toEqual({ version: 2 });
      const results = await everyVerb(consumer.caller, { name: asset.name });
      for (const [verb, result] of Object.entries(results)) {
        if ("ok" in result) continue;
        // Only version conflicts and missing keys, never an access error.
        expect(["version_mismatch", "key_not_found"], verb).toContain(result.reason);
      }
    });

    it("the registration belongs to the task of the dag: other runs and map indexes share it", async () => {
      const asset = await f.newAsset();
      const first = await f.newTask({ mapIndex: 0, outlets: [{ name: asset.name }] });
      // Another run of the same dag and task, registered without outlets.
      const nextRun = await f.newTask({ dagId: first.dagId, taskId: first.taskId });
      const otherMap = await f.newTask({
        dagId: first.dagId,
        runId: first.runId,
        taskId: first.taskId,
        mapIndex: 1,
      });
      for (const t of [first, nextRun, otherMap]) {
        expect(
          await t.caller.assetState.set({ asset: { name: asset.name }, key: "k", value: t.id }),
        ).toMatchObject({
          version: expect.any(Number),
        });
      }
    });

    it("a task with the same task id in another dag does not get access", async () => {
      const asset = await f.newAsset();
      const owner = await f.newTask({ outlets: [{ name: asset.name }] });
      const stranger = await f.newTask({ taskId: owner.taskId, runId: owner.runId });
      await expectEveryVerbFails(stranger.caller, { name: asset.name }, "FORBIDDEN", "asset_not_registered");
      // And another task of the owner's own run does not either.
      const sibling = await f.newTask({ dagId: owner.dagId, runId: owner.runId });
      await expectEveryVerbFails(sibling.caller, { uri: asset.uri }, "FORBIDDEN", "asset_not_registered");
    });

    it("a declared but inactive asset is NOT_FOUND; re-activating restores access with state intact", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ inlets: [{ name: asset.name }] });
      await t.caller.assetState.set({ asset: { name: asset.name }, key: "k", value: "kept" });
      await t.caller.assetState.set({ asset: { name: asset.name }, key: "k", value: "kept" });
      expect(await f.admin().admin.assets.setActive({ name: asset.name, active: false })).toEqual({
        active: false,
      });
      await expectEveryVerbFails(t.caller, { name: asset.name }, "NOT_FOUND", "asset_not_found");
      await expectEveryVerbFails(t.caller, { uri: asset.uri }, "NOT_FOUND", "asset_not_found");
      await expectEveryVerbFails(f.admin(), { name: asset.name }, "NOT_FOUND", "asset_not_found");
      expect(await f.admin().admin.assets.setActive({ name: asset.name, active: true })).toEqual({
        active: true,
      });
      expect(await t.caller.assetState.get({ asset: { uri: asset.uri }, key: "k" })).toMatchObject({
        value: "kept",
        version: 2,
      });
      // Deactivate again, and re-activate through upsert this time.
      await f.admin().admin.assets.setActive({ name: asset.name, active: false });
      await expectEveryVerbFails(t.caller, { name: asset.name }, "NOT_FOUND", "asset_not_found");
      await f.admin().admin.assets.upsert({ name: asset.name, uri: asset.uri });
      expect(await t.caller.assetState.get({ asset: { name: asset.name }, key: "k" })).toMatchObject({
        value: "kept",
        version: 2,
      });
    });

    it("a superseded try is refused on a declared asset; its retry may use it", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ outlets: [{ name: asset.name }] });
      await t.caller.assetState.set({ asset: { name: asset.name }, key: "k", value: 1 });
      const retry = await f.admin().admin.taskInstances.retry({ taskInstanceId: t.id });
      await expectEveryVerbFails(t.caller, { name: asset.name }, "NOT_FOUND", "task_instance_superseded");
      expect((await f.asTask(retry.id).assetState.get({ asset: { name: asset.name }, key: "k" })).value).toBe(
        1,
      );
    });

    it("a deleted asset takes its state and its registrations with it", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ outlets: [{ name: asset.name }] });
      await t.caller.assetState.set({ asset: { name: asset.name }, key: "k", value: 1 });
      expect(await f.admin().admin.assets.delete({ name: asset.name })).toEqual({ deleted: true });
      await expectEveryVerbFails(f.admin(), { name: asset.name }, "NOT_FOUND", "asset_not_found");
      await f.admin().admin.assets.upsert({ name: asset.name, uri: asset.uri });
      expect(
        await failure(f.admin().assetState.get({ asset: { name: asset.name }, key: "k" })),
      ).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
      // The re-created asset is a new asset: the old registration is gone.
      await expectEveryVerbFails(t.caller, { name: asset.name }, "FORBIDDEN", "asset_not_registered");
    });

    it("an asset's uri can change: the new uri reaches the same state, the old one nothing", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ inlets: [{ uri: asset.uri }] });
      await t.caller.assetState.set({ asset: { uri: asset.uri }, key: "k", value: 1 });
      const newUri = `${asset.uri}/v2`;
      await f.admin().admin.assets.upsert({ name: asset.name, uri: newUri });
      expect((await t.caller.assetState.get({ asset: { uri: newUri }, key: "k" })).value).toBe(1);
      expect(await failure(f.admin().assetState.get({ asset: { uri: asset.uri }, key: "k" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "asset_not_found",
      });
      // For the task, the old uri names no asset it declares.
      expect(await failure(t.caller.assetState.get({ asset: { uri: asset.uri }, key: "k" }))).toMatchObject({
        code: "FORBIDDEN",
        reason: "asset_not_registered",
      });
    });
  });

  describe("writer provenance", () => {
    it("records the task (dag, run, task, map index) or the admin of every write", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ mapIndex: 3, outlets: [{ name: asset.name }] });
      await t.caller.assetState.set({ asset: { name: asset.name }, key: "k", value: 1 });
      const byTask = {
        writer_kind: "task",
        writer_dag_id: t.dagId,
        writer_run_id: t.runId,
        writer_task_id: t.taskId,
        writer_map_index: 3,
      };
      expect(await writerOf(asset.name, "k")).toEqual(byTask);
      await f.admin().assetState.set({ asset: { uri: asset.uri }, key: "k", value: 2 });
      const byAdmin = {
        writer_kind: "admin",
        writer_dag_id: null,
        writer_run_id: null,
        writer_task_id: null,
        writer_map_index: null,
      };
      expect(await writerOf(asset.name, "k")).toEqual(byAdmin);
      // Compare-and-set records its writer too.
      await t.caller.assetState.set({ asset: { name: asset.name }, key: "k", value: 3, ifVersion: 2 });
      expect(await writerOf(asset.name, "k")).toEqual(byTask);
      await f.admin().assetState.set({ asset: { name: asset.name }, key: "k", value: 4, ifVersion: 3 });
      expect(await writerOf(asset.name, "k")).toEqual(byAdmin);
      // Create-only, by another task of another dag.
      const other = await f.newTask({ inlets: [{ name: asset.name }] });
      await other.caller.assetState.set({ asset: { name: asset.name }, key: "new", value: 1, ifVersion: 0 });
      expect(await writerOf(asset.name, "new")).toEqual({
        writer_kind: "task",
        writer_dag_id: other.dagId,
        writer_run_id: other.runId,
        writer_task_id: other.taskId,
        writer_map_index: -1,
      });
    });

    it("a retried task writes as the same task", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ outlets: [{ name: asset.name }] });
      const retry = await f.admin().admin.taskInstances.retry({ taskInstanceId: t.id });
      await f.asTask(retry.id).assetState.set({ asset: { name: asset.name }, key: "k", value: 1 });
      expect(await writerOf(asset.name, "k")).toMatchObject({
        writer_kind: "task",
        writer_dag_id: t.dagId,
        writer_run_id: t.runId,
        writer_task_id: t.taskId,
        writer_map_index: -1,
      });
    });
  });

  describe("concurrency", () => {
    it("concurrent writers: unconditional all succeed; compare-and-set and create-only have one winner", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ outlets: [{ name: asset.name }] });
      const ref = { name: asset.name };
      const writes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          f.asTask(t.id).assetState.set({ asset: ref, key: "hot", value: i }),
        ),
      );
      expect(writes.map((w) => w.version).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const hot = await t.caller.assetState.get({ asset: ref, key: "hot" });
      expect(hot.version).toBe(20);
      expect(writes.findIndex((w) => w.version === 20)).toBe(hot.value);

      const cas = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          f.asTask(t.id).assetState.set({ asset: { uri: asset.uri }, key: "hot", value: i, ifVersion: 20 }),
        ),
      );
      expect(cas.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const creates = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          f.admin().assetState.set({ asset: ref, key: "once", value: i, ifVersion: 0 }),
        ),
      );
      expect(creates.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of [...cas, ...creates]) {
        if (r.status === "rejected") {
          expect(await failure(Promise.reject(r.reason))).toMatchObject({
            code: "CONFLICT",
            reason: "version_mismatch",
          });
        }
      }
    });
  });
});

describeEachDatabase("assetState value limit", (getDb) => {
  it("asset values obey CAIRN_MAX_VALUE_BYTES", async () => {
    const f = fixtures(getDb, testConfig({ maxValueBytes: 20 }));
    const asset = await f.newAsset();
    const s = f.admin().assetState;
    expect(await s.set({ asset: { name: asset.name }, key: "k", value: "x".repeat(18) })).toEqual({
      version: 1,
    });
    expect(
      await failure(s.set({ asset: { name: asset.name }, key: "k", value: "x".repeat(19) })),
    ).toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
      reason: "value_too_large",
    });
    expect(await failure(s.set({ asset: { name: asset.name }, key: "k", value: null }))).toMatchObject({
      code: "BAD_REQUEST",
    });
  });
});
