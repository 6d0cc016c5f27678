// The admin plane (spec §4) through the router, on PGlite and PostgreSQL.
import { describeEachDatabase } from "@cairn/db/testing";
import { describe, expect, it } from "vitest";
import { verifyToken } from "../auth/tokens.ts";
import { failure, fixtures, unique } from "../testing/fixtures.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describeEachDatabase("admin", (getDb) => {
  const f = fixtures(getDb);
  const admin = () => f.admin().admin;

  async function registrations(dagId: string, taskId: string) {
    return getDb().sql.query<{ name: string; direction: string }>(
      `SELECT a.name, ta.direction FROM task_asset ta JOIN asset a ON a.id = ta.asset_id
       WHERE ta.dag_id = $1 AND ta.task_id = $2 ORDER BY a.name, ta.direction`,
      [dagId, taskId],
    );
  }

  async function countRuns(dagId: string, runId: string) {
    const rows = await getDb().sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM dag_run WHERE dag_id = $1 AND run_id = $2",
      [dagId, runId],
    );
    return rows[0]!.n;
  }

  describe("taskInstances.create", () => {
    it("creates the dag run if absent and returns a UUID and try 1", async () => {
      const dagId = unique("dag");
      const runId = unique("manual__2026-05-15T12:00:00+00:00");
      expect(await countRuns(dagId, runId)).toBe(0);
      const created = await admin().taskInstances.create({ dagId, runId, taskId: "extract" });
      expect(created).toEqual({ id: expect.stringMatching(UUID), tryNumber: 1 });
      expect(await countRuns(dagId, runId)).toBe(1);
      // A second task of the same run reuses the run.
      const second = await admin().taskInstances.create({ dagId, runId, taskId: "load" });
      expect(second.id).not.toBe(created.id);
      expect(await countRuns(dagId, runId)).toBe(1);
      const rows = await getDb().sql.query<{ map_index: number; try_number: number }>(
        "SELECT map_index, try_number FROM task_instance WHERE id = $1::uuid",
        [created.id],
      );
      expect(rows).toEqual([{ map_index: -1, try_number: 1 }]);
    });

    it("the same run, task and map index twice is CONFLICT task_instance_exists; other map indexes are fine", async () => {
      const input = { dagId: unique("dag"), runId: unique("run"), taskId: "t" };
      await admin().taskInstances.create(input);
      expect(await failure(admin().taskInstances.create(input))).toMatchObject({
        code: "CONFLICT",
        reason: "task_instance_exists",
      });
      expect(await failure(admin().taskInstances.create({ ...input, mapIndex: -1 }))).toMatchObject({
        code: "CONFLICT",
        reason: "task_instance_exists",
      });
      const ids = new Set<string>();
      for (const mapIndex of [0, 1, 2]) {
        const created = await admin().taskInstances.create({ ...input, mapIndex });
        expect(created.tryNumber).toBe(1);
        ids.add(created.id);
      }
      expect(ids.size).toBe(3);
      expect(await failure(admin().taskInstances.create({ ...input, mapIndex: 1 }))).toMatchObject({
        code: "CONFLICT",
        reason: "task_instance_exists",
      });
      // Also after a retry: the task instance still exists (as try 2).
      const single = { dagId: unique("dag"), runId: unique("run"), taskId: "t" };
      const { id } = await admin().taskInstances.create(single);
      await admin().taskInstances.retry({ taskInstanceId: id });
      expect(await failure(admin().taskInstances.create(single))).toMatchObject({
        code: "CONFLICT",
        reason: "task_instance_exists",
      });
    });

    it("concurrent creates of one task instance: one wins, the others are CONFLICT", async () => {
      const input = { dagId: unique("dag"), runId: unique("run"), taskId: "t" };
      const settled = await Promise.allSettled(
        Array.from({ length: 6 }, () => admin().taskInstances.create(input)),
      );
      expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(1);
      for (const s of settled) {
        if (s.status === "rejected") {
          expect(await failure(Promise.reject(s.reason))).toMatchObject({
            code: "CONFLICT",
            reason: "task_instance_exists",
          });
        }
      }
      expect(await countRuns(input.dagId, input.runId)).toBe(1);
    });

    it("registers inlets and outlets (by name or uri) for the task of the dag", async () => {
      const a = await f.newAsset();
      const b = await f.newAsset();
      const c = await f.newAsset();
      const dagId = unique("dag");
      await admin().taskInstances.create({
        dagId,
        runId: unique("run"),
        taskId: "t",
        inlets: [{ name: a.name }, { uri: b.uri }],
        outlets: [{ uri: b.uri }, { name: b.name }],
      });
      expect(await registrations(dagId, "t")).toEqual(
        [
          { name: a.name, direction: "inlet" },
          { name: b.name, direction: "inlet" },
          { name: b.name, direction: "outlet" },
        ].sort((x, y) => x.name.localeCompare(y.name) || x.direction.localeCompare(y.direction)),
      );
      // A later run adds to the registrations; it does not replace them.
      await admin().taskInstances.create({
        dagId,
        runId: unique("run"),
        taskId: "t",
        outlets: [{ name: c.name }],
      });
      const names = (await registrations(dagId, "t")).map((r) => `${r.name}:${r.direction}`).sort();
      expect(names).toEqual(
        [`${a.name}:inlet`, `${b.name}:inlet`, `${b.name}:outlet`, `${c.name}:outlet`].sort(),
      );
    });

    it("an unknown asset is NOT_FOUND asset_not_found and nothing is created", async () => {
      const a = await f.newAsset();
      const input = { dagId: unique("dag"), runId: unique("run"), taskId: "t" };
      for (const refs of [
        { inlets: [{ name: "no-such-asset" }] },
        { outlets: [{ uri: "s3://no/such" }] },
        { inlets: [{ name: a.name }], outlets: [{ name: "no-such-asset" }] },
      ]) {
        expect(await failure(admin().taskInstances.create({ ...input, ...refs }))).toMatchObject({
          code: "NOT_FOUND",
          reason: "asset_not_found",
        });
      }
      expect(await countRuns(input.dagId, input.runId)).toBe(0);
      expect(await registrations(input.dagId, "t")).toEqual([]);
      // The task instance can still be created afterwards.
      expect((await admin().taskInstances.create(input)).tryNumber).toBe(1);
    });

    it("validates ids and map index", async () => {
      const ok = { dagId: unique("dag"), runId: unique("run"), taskId: "t" };
      for (const bad of [
        { dagId: "" },
        { dagId: "has space" },
        { dagId: "x".repeat(251) },
        { taskId: "a/b" },
        { taskId: "" },
        { runId: "" },
        { runId: "r\u0000" },
        { runId: "r\ud800" },
        { mapIndex: -2 },
        { mapIndex: 1.5 },
        { mapIndex: 2 ** 31 },
        { inlets: [{ name: "a", uri: "b" }] },
        { inlets: [{}] },
        { outlets: "x" },
        { tryNumber: 2 },
      ]) {
        expect(
          await failure(admin().taskInstances.create({ ...ok, ...bad } as never)),
          JSON.stringify(bad),
        ).toMatchObject({ code: "BAD_REQUEST" });
      }
      // Airflow-style ids and run ids with any printable characters are fine.
      expect(
        await admin().taskInstances.create({
          dagId: unique("my.dag-1"),
          runId: "scheduled__2026-05-15T12:00:00+00:00 ünïcode/🙂",
          taskId: "group.task_1",
          mapIndex: 2 ** 31 - 1,
        }),
      ).toMatchObject({ tryNumber: 1 });
    });
  });

  describe("taskInstances.retry", () => {
    it("returns a new id with the next try number; state carries over", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: "v" });
      const second = await admin().taskInstances.retry({ taskInstanceId: t.id });
      expect(second).toEqual({ id: expect.stringMatching(UUID), tryNumber: 2 });
      expect(second.id).not.toBe(t.id);
      const third = await admin().taskInstances.retry({ taskInstanceId: second.id.toUpperCase() });
      expect(third.tryNumber).toBe(3);
      expect(new Set([t.id, second.id, third.id]).size).toBe(3);
      expect((await f.asTask(third.id).taskState.get({ taskInstanceId: third.id, key: "k" })).value).toBe(
        "v",
      );
    });

    it("an unknown task instance is NOT_FOUND task_instance_not_found", async () => {
      expect(
        await failure(
          admin().taskInstances.retry({ taskInstanceId: "0191f7a0-0000-7000-8000-0000000000aa" }),
        ),
      ).toMatchObject({ code: "NOT_FOUND", reason: "task_instance_not_found" });
      expect(await failure(admin().taskInstances.retry({ taskInstanceId: "nope" }))).toMatchObject({
        code: "BAD_REQUEST",
      });
    });

    it("concurrent retries each get their own try", async () => {
      const t = await f.newTask();
      const retries = await Promise.all(
        Array.from({ length: 20 }, () => admin().taskInstances.retry({ taskInstanceId: t.id })),
      );
      expect(retries.map((r) => r.tryNumber).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 2),
      );
      expect(new Set(retries.map((r) => r.id)).size).toBe(20);
      const latest = retries.find((r) => r.tryNumber === 21)!;
      expect(await f.asTask(latest.id).taskState.list({ taskInstanceId: latest.id })).toEqual({
        items: [],
        nextCursor: null,
      });
      for (const r of retries.filter((x) => x.tryNumber < 21)) {
        expect(await failure(f.asTask(r.id).taskState.list({ taskInstanceId: r.id }))).toMatchObject({
          reason: "task_instance_superseded",
        });
      }
    });
  });

  describe("dagRuns.delete", () => {
    it("deletes the run, its task instances and their state", async () => {
      const t = await f.newTask({ mapIndex: 0 });
      const m1 = await f.newTask({ dagId: t.dagId, runId: t.runId, taskId: t.taskId, mapIndex: 1 });
      const other = await f.newTask({ dagId: t.dagId, taskId: t.taskId });
      for (const x of [t, m1, other])
        await x.caller.taskState.set({ taskInstanceId: x.id, key: "k", value: 1 });
      const retry = await admin().taskInstances.retry({ taskInstanceId: t.id });
      expect(await admin().dagRuns.delete({ dagId: t.dagId, runId: t.runId })).toEqual({ deleted: true });
      for (const id of [t.id, m1.id, retry.id]) {
        expect(await failure(f.asTask(id).taskState.get({ taskInstanceId: id, key: "k" }))).toMatchObject({
          code: "NOT_FOUND",
          reason: "task_instance_not_found",
        });
      }
      const left = await getDb().sql.query(
        `SELECT 1 FROM task_state s JOIN dag_run r ON r.id = s.dag_run_id WHERE r.dag_id = $1 AND r.run_id = $2`,
        [t.dagId, t.runId],
      );
      expect(left).toEqual([]);
      expect(await countRuns(t.dagId, t.runId)).toBe(0);
      // Another run of the same dag keeps its state.
      expect((await other.caller.taskState.get({ taskInstanceId: other.id, key: "k" })).value).toBe(1);
      // Deleting again: nothing to delete.
      expect(await admin().dagRuns.delete({ dagId: t.dagId, runId: t.runId })).toEqual({ deleted: false });
      // The run can be created again, with empty state.
      const again = await f.newTask({ dagId: t.dagId, runId: t.runId, taskId: t.taskId, mapIndex: 0 });
      expect(await failure(again.caller.taskState.get({ taskInstanceId: again.id, key: "k" }))).toMatchObject(
        {
          reason: "key_not_found",
        },
      );
    });

    it("an unknown run is deleted: false; bad ids are BAD_REQUEST", async () => {
      expect(await admin().dagRuns.delete({ dagId: unique("dag"), runId: "r" })).toEqual({ deleted: false });
      expect(await failure(admin().dagRuns.delete({ dagId: "", runId: "r" }))).toMatchObject({
        code: "BAD_REQUEST",
      });
      expect(await failure(admin().dagRuns.delete({ dagId: "d" } as never))).toMatchObject({
        code: "BAD_REQUEST",
      });
    });
  });

  describe("assets", () => {
    async function assetRow(name: string) {
      const rows = await getDb().sql.query<{ id: string; uri: string; group: string; active: boolean }>(
        `SELECT id::text, uri, "group", active FROM asset WHERE name = $1`,
        [name],
      );
      return rows[0];
    }

    it("upsert creates, then updates uri and group and re-activates, keeping the id", async () => {
      const name = unique("asset");
      const { id } = await admin().assets.upsert({ name, uri: `s3://b/${name}`, group: "raw" });
      expect(id).toMatch(/^\d+$/);
      expect(await assetRow(name)).toEqual({ id, uri: `s3://b/${name}`, group: "raw", active: true });
      // Omitting group keeps it.
      expect(await admin().assets.upsert({ name, uri: `s3://b/${name}/v2` })).toEqual({ id });
      expect(await assetRow(name)).toEqual({ id, uri: `s3://b/${name}/v2`, group: "raw", active: true });
      expect(await admin().assets.upsert({ name, uri: `s3://b/${name}/v2`, group: "gold" })).toEqual({ id });
      expect((await assetRow(name))!.group).toBe("gold");
      await admin().assets.setActive({ name, active: false });
      expect((await assetRow(name))!.active).toBe(false);
      expect(await admin().assets.upsert({ name, uri: `s3://b/${name}/v2` })).toEqual({ id });
      expect((await assetRow(name))!.active).toBe(true);
      // Without a group, a new asset has the empty group.
      const plain = unique("asset");
      await admin().assets.upsert({ name: plain, uri: `s3://b/${plain}` });
      expect((await assetRow(plain))!.group).toBe("");
    });

    it("concurrent upserts of one new asset all succeed with the same id", async () => {
      // The race is narrow: several rounds make a lost one show.
      for (let round = 0; round < 20; round++) {
        const name = unique("asset");
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            admin().assets.upsert({ name, uri: `s3://b/${name}`, group: `g${i}` }),
          ),
        );
        expect(new Set(results.map((r) => r.id)).size).toBe(1);
        expect((await assetRow(name))!.id).toBe(results[0]!.id);
      }
    });

    it("a uri that belongs to another asset is CONFLICT", async () => {
      const a = await f.newAsset();
      const b = await f.newAsset();
      expect(await failure(admin().assets.upsert({ name: b.name, uri: a.uri }))).toMatchObject({
        code: "CONFLICT",
        reason: "asset_uri_taken",
      });
      expect(await failure(admin().assets.upsert({ name: unique("asset"), uri: a.uri }))).toMatchObject({
        code: "CONFLICT",
        reason: "asset_uri_taken",
      });
      expect((await assetRow(b.name))!.uri).toBe(b.uri);
      // An asset's name may equal another asset's uri: they are separate namespaces.
      expect(await admin().assets.upsert({ name: a.uri, uri: unique("s3://x") })).toEqual({
        id: expect.any(String),
      });
    });

    it("validates names, uris and groups", async () => {
      const asciiOk = "n".repeat(1500);
      expect(await admin().assets.upsert({ name: asciiOk, uri: unique("s3://long") })).toEqual({
        id: expect.any(String),
      });
      // 1500 characters of three UTF-8 bytes each would overflow PostgreSQL's index entry: refused up front.
      const wide = Array.from({ length: 1500 }, (_, i) =>
        String.fromCodePoint(0x4e00 + ((i * 7919) % 20000)),
      ).join("");
      for (const bad of [
        { name: "" },
        { uri: "" },
        { name: "n".repeat(1501) },
        { name: wide },
        { uri: wide },
        { name: "a\u0000b" },
        { uri: "a\ud800" },
        { group: "g\u0000" },
        { group: "g\udfff" },
        { group: "g".repeat(1501) },
        { active: true },
      ]) {
        expect(
          await failure(
            admin().assets.upsert({ name: unique("asset"), uri: unique("s3://ok"), ...bad } as never),
          ),
          JSON.stringify(bad).slice(0, 40),
        ).toMatchObject({ code: "BAD_REQUEST" });
      }
      // Multi-byte names within the byte bound are fine.
      const name = `${"é".repeat(600)}${unique("")}`;
      await admin().assets.upsert({ name, uri: unique("s3://é"), group: "日本" });
      expect(await f.admin().assetState.set({ asset: { name }, key: "k", value: 1 })).toEqual({ version: 1 });
    });

    it("setActive toggles; an unknown asset is NOT_FOUND asset_not_found", async () => {
      const a = await f.newAsset();
      expect(await admin().assets.setActive({ name: a.name, active: false })).toEqual({ active: false });
      expect(await admin().assets.setActive({ name: a.name, active: false })).toEqual({ active: false });
      expect(await admin().assets.setActive({ name: a.name, active: true })).toEqual({ active: true });
      expect(await failure(admin().assets.setActive({ name: "no-such-asset", active: true }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "asset_not_found",
      });
      expect(await failure(admin().assets.setActive({ name: a.name } as never))).toMatchObject({
        code: "BAD_REQUEST",
      });
    });

    it("delete removes the asset and its state; again is deleted: false", async () => {
      const a = await f.newAsset();
      await f.admin().assetState.set({ asset: { name: a.name }, key: "k", value: 1 });
      const { id } = (await assetRow(a.name))!;
      expect(await admin().assets.delete({ name: a.name })).toEqual({ deleted: true });
      expect(await assetRow(a.name)).toBeUndefined();
      expect(await getDb().sql.query("SELECT 1 FROM asset_state WHERE asset_id = $1::bigint", [id])).toEqual(
        [],
      );
      expect(await admin().assets.delete({ name: a.name })).toEqual({ deleted: false });
      expect(await failure(f.admin().assetState.get({ asset: { uri: a.uri }, key: "k" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "asset_not_found",
      });
      // The uri is free again.
      expect(await admin().assets.upsert({ name: unique("asset"), uri: a.uri })).toEqual({
        id: expect.any(String),
      });
    });
  });

  describe("tokens.issue", () => {
    it("issues an execution token for the task instance, valid for ttlSeconds", async () => {
      const t = await f.newTask();
      const issued = await admin().tokens.issue({ taskInstanceId: t.id, ttlSeconds: 120 });
      expect(issued).toEqual({ token: expect.any(String), expiresAt: expect.stringMatching(/Z$/) });
      expect(Math.abs(Date.parse(issued.expiresAt) - (Date.now() + 120_000))).toBeLessThan(5_000);
      expect(await verifyToken(f.config.tokenKeys, issued.token)).toEqual({
        scope: "execution",
        sub: t.id,
        taskInstanceId: t.id,
      });
      const [, payload] = issued.token.split(".");
      const claims = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8"));
      expect(claims).toMatchObject({
        sub: t.id,
        scope: "execution",
        exp: Date.parse(issued.expiresAt) / 1000,
      });
      const header = JSON.parse(Buffer.from(issued.token.split(".")[0]!, "base64url").toString("utf8"));
      expect(header.alg).toBe("HS512");
    });

    it("defaults to the configured token lifetime; an uppercase id gets a lowercase subject", async () => {
      const t = await f.newTask();
      const issued = await admin().tokens.issue({ taskInstanceId: t.id.toUpperCase() });
      const ahead = Date.parse(issued.expiresAt) - Date.now();
      expect(Math.abs(ahead - f.config.defaultTokenTtlSeconds * 1000)).toBeLessThan(5_000);
      expect((await verifyToken(f.config.tokenKeys, issued.token)).sub).toBe(t.id);
    });

    it("refuses unknown and superseded task instances, and bad ttlSeconds", async () => {
      expect(
        await failure(admin().tokens.issue({ taskInstanceId: "0191f7a0-0000-7000-8000-0000000000bb" })),
      ).toMatchObject({ code: "NOT_FOUND", reason: "task_instance_not_found" });
      const t = await f.newTask();
      await admin().taskInstances.retry({ taskInstanceId: t.id });
      expect(await failure(admin().tokens.issue({ taskInstanceId: t.id }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "task_instance_superseded",
      });
      for (const ttlSeconds of [0, -1, 1.5, 30 * 86_400 + 1, Number.MAX_SAFE_INTEGER]) {
        expect(await failure(admin().tokens.issue({ taskInstanceId: t.id, ttlSeconds }))).toMatchObject({
          code: "BAD_REQUEST",
        });
      }
    });
  });
});
