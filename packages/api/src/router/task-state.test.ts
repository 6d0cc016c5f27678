// Task state through the router (spec §4 execution plane, Semantics), on PGlite and PostgreSQL.
import { describeEachDatabase } from "@cairn/db/testing";
import { describe, expect, it } from "vitest";
import { failure, fixtures, listAllKeysOneByOne, testConfig, unique } from "../testing/fixtures.ts";

const DAY_MS = 86_400_000;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** An ISO date `ms` from now. */
const fromNow = (ms: number) => new Date(Date.now() + ms).toISOString();

/** Asserts an ISO timestamp lies within `slackMs` of now + `aheadMs`. */
function expectAbout(iso: string | null, aheadMs: number, slackMs = 60_000) {
  expect(iso).toMatch(ISO_UTC);
  const delta = Date.parse(iso as string) - (Date.now() + aheadMs);
  expect(Math.abs(delta)).toBeLessThan(slackMs);
}

describeEachDatabase("taskState", (getDb) => {
  const f = fixtures(getDb);

  describe("get and set", () => {
    it("versions start at 1 and grow by 1 per write; get returns the whole entry", async () => {
      const t = await f.newTask();
      const id = t.id;
      expect(await t.caller.taskState.set({ taskInstanceId: id, key: "job", value: "a" })).toEqual({
        version: 1,
      });
      const first = await t.caller.taskState.get({ taskInstanceId: id, key: "job" });
      expect(first).toEqual({
        key: "job",
        value: "a",
        version: 1,
        updatedAt: expect.stringMatching(ISO_UTC),
        expiresAt: expect.stringMatching(ISO_UTC),
      });
      expectAbout(first.updatedAt, 0);
      for (let v = 2; v <= 5; v++) {
        expect(await t.caller.taskState.set({ taskInstanceId: id, key: "job", value: v })).toEqual({
          version: v,
        });
      }
      const last = await t.caller.taskState.get({ taskInstanceId: id, key: "job" });
      expect(last).toMatchObject({ key: "job", value: 5, version: 5 });
      expect(Date.parse(last.updatedAt)).toBeGreaterThanOrEqual(Date.parse(first.updatedAt));
    });

    it("keys are independent: each has its own version", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "a", value: 1 });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "a", value: 2 });
      expect(await t.caller.taskState.set({ taskInstanceId: t.id, key: "b", value: 1 })).toEqual({
        version: 1,
      });
    });

    it("a missing key is NOT_FOUND key_not_found", async () => {
      const t = await f.newTask();
      expect(await failure(t.caller.taskState.get({ taskInstanceId: t.id, key: "missing" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
    });

    it("keys with `/` are ordinary keys", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "spark/job_id", value: "app-1" });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "spark", value: "other" });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "/lead//trail/", value: 3 });
      expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "spark/job_id" })).value).toBe(
        "app-1",
      );
      expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "spark" })).value).toBe("other");
      expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "/lead//trail/" })).value).toBe(3);
    });

    it("state is per task: another task of the same run, and the same task of another run, do not see it", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: "mine" });
      const sibling = await f.newTask({ dagId: t.dagId, runId: t.runId });
      const otherRun = await f.newTask({ dagId: t.dagId, taskId: t.taskId });
      const otherDag = await f.newTask({ runId: t.runId, taskId: t.taskId });
      for (const other of [sibling, otherRun, otherDag]) {
        expect(
          await failure(other.caller.taskState.get({ taskInstanceId: other.id, key: "k" })),
        ).toMatchObject({ code: "NOT_FOUND", reason: "key_not_found" });
      }
    });
  });

  describe("ifVersion", () => {
    it("ifVersion 0 creates only when the key does not exist", async () => {
      const t = await f.newTask();
      const id = t.id;
      expect(await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 1, ifVersion: 0 })).toEqual({
        version: 1,
      });
      expect(
        await failure(t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 2, ifVersion: 0 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      expect((await t.caller.taskState.get({ taskInstanceId: id, key: "k" })).value).toBe(1);
    });

    it("ifVersion n is compare-and-set", async () => {
      const t = await f.newTask();
      const id = t.id;
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: "v1" });
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: "v2" });
      expect(
        await failure(t.caller.taskState.set({ taskInstanceId: id, key: "k", value: "x", ifVersion: 1 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      expect(
        await failure(t.caller.taskState.set({ taskInstanceId: id, key: "k", value: "x", ifVersion: 3 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      expect(
        await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: "v3", ifVersion: 2 }),
      ).toEqual({ version: 3 });
      expect(await t.caller.taskState.get({ taskInstanceId: id, key: "k" })).toMatchObject({
        value: "v3",
        version: 3,
      });
    });

    it("ifVersion n on a missing key is CONFLICT version_mismatch", async () => {
      const t = await f.newTask();
      expect(
        await failure(t.caller.taskState.set({ taskInstanceId: t.id, key: "nope", value: 1, ifVersion: 1 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      expect(await failure(t.caller.taskState.get({ taskInstanceId: t.id, key: "nope" }))).toMatchObject({
        reason: "key_not_found",
      });
    });

    it("the largest integer version is accepted (and does not match)", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 });
      expect(
        await failure(
          t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1, ifVersion: 2 ** 31 - 1 }),
        ),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      expect(
        await failure(t.caller.taskState.delete({ taskInstanceId: t.id, key: "k", ifVersion: 2 ** 31 - 1 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
    });
  });

  describe("delete", () => {
    it("deletes an existing key; a missing key is deleted: false", async () => {
      const t = await f.newTask();
      const id = t.id;
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 1 });
      expect(await t.caller.taskState.delete({ taskInstanceId: id, key: "k" })).toEqual({ deleted: true });
      expect(await failure(t.caller.taskState.get({ taskInstanceId: id, key: "k" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
      expect(await t.caller.taskState.delete({ taskInstanceId: id, key: "k" })).toEqual({ deleted: false });
      expect(await t.caller.taskState.delete({ taskInstanceId: id, key: "never" })).toEqual({
        deleted: false,
      });
    });

    it("a deleted key starts again at version 1", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 2 });
      await t.caller.taskState.delete({ taskInstanceId: t.id, key: "k" });
      expect(
        await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 3, ifVersion: 0 }),
      ).toEqual({ version: 1 });
    });

    it("delete with ifVersion deletes only at that version", async () => {
      const t = await f.newTask();
      const id = t.id;
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 1 });
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 2 });
      expect(
        await failure(t.caller.taskState.delete({ taskInstanceId: id, key: "k", ifVersion: 1 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      expect((await t.caller.taskState.get({ taskInstanceId: id, key: "k" })).version).toBe(2);
      expect(await t.caller.taskState.delete({ taskInstanceId: id, key: "k", ifVersion: 2 })).toEqual({
        deleted: true,
      });
      // The key is gone now: a conditional delete has nothing at that version.
      expect(
        await failure(t.caller.taskState.delete({ taskInstanceId: id, key: "k", ifVersion: 2 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
    });

    it("delete with ifVersion 0 succeeds only when the key does not exist", async () => {
      const t = await f.newTask();
      expect(await t.caller.taskState.delete({ taskInstanceId: t.id, key: "k", ifVersion: 0 })).toEqual({
        deleted: false,
      });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 });
      expect(
        await failure(t.caller.taskState.delete({ taskInstanceId: t.id, key: "k", ifVersion: 0 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
    });
  });

  describe("clear", () => {
    it("removes every key of the caller's namespace and counts them; empty is 0", async () => {
      const t = await f.newTask();
      const id = t.id;
      expect(await t.caller.taskState.clear({ taskInstanceId: id })).toEqual({ deleted: 0 });
      for (const key of ["a", "b", "c/d"])
        await t.caller.taskState.set({ taskInstanceId: id, key, value: 1 });
      expect(await t.caller.taskState.clear({ taskInstanceId: id })).toEqual({ deleted: 3 });
      expect(await t.caller.taskState.list({ taskInstanceId: id })).toEqual({ items: [], nextCursor: null });
      expect(await t.caller.taskState.clear({ taskInstanceId: id })).toEqual({ deleted: 0 });
    });

    it("does not touch other tasks or other runs", async () => {
      const t = await f.newTask();
      const sibling = await f.newTask({ dagId: t.dagId, runId: t.runId });
      const otherRun = await f.newTask({ dagId: t.dagId, taskId: t.taskId });
      for (const x of [t, sibling, otherRun])
        await x.caller.taskState.set({ taskInstanceId: x.id, key: "k", value: 1 });
      expect(await t.caller.taskState.clear({ taskInstanceId: t.id, allMapIndices: true })).toEqual({
        deleted: 1,
      });
      for (const x of [sibling, otherRun]) {
        expect((await x.caller.taskState.get({ taskInstanceId: x.id, key: "k" })).value).toBe(1);
      }
    });
  });

  describe("list", () => {
    it("pages through every key with limit and cursor, in key order, each once", async () => {
      const t = await f.newTask();
      const id = t.id;
      const keys = Array.from({ length: 23 }, (_, i) => `item/${String(i).padStart(3, "0")}`);
      for (const key of keys) await t.caller.taskState.set({ taskInstanceId: id, key, value: { key } });
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: { key: string; value: unknown }[]; nextCursor: string | null } =
          await t.caller.taskState.list({ taskInstanceId: id, limit: 5, cursor });
        pages++;
        expect(page.items.length).toBeLessThanOrEqual(5);
        for (const item of page.items) expect(item.value).toEqual({ key: item.key });
        seen.push(...page.items.map((item) => item.key));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(pages).toBe(5);
      expect(seen).toEqual(keys);
    });

    it("a page that ends exactly at the last key has no next cursor", async () => {
      const t = await f.newTask();
      for (const key of ["a", "b", "c", "d"])
        await t.caller.taskState.set({ taskInstanceId: t.id, key, value: 1 });
      const first = await t.caller.taskState.list({ taskInstanceId: t.id, limit: 2 });
      expect(first.items.map((i) => i.key)).toEqual(["a", "b"]);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await t.caller.taskState.list({
        taskInstanceId: t.id,
        limit: 2,
        cursor: first.nextCursor,
      });
      expect(second).toMatchObject({ items: [{ key: "c" }, { key: "d" }], nextCursor: null });
      expect((await t.caller.taskState.list({ taskInstanceId: t.id, limit: 4 })).nextCursor).toBeNull();
    });

    it("default limit is 100; limit 1000 is allowed", async () => {
      const t = await f.newTask();
      const db = getDb();
      // Bulk insert through the caller's own namespace would take 101 round trips; one statement is enough.
      const scope = await db.sql.query<{ dag_run_id: string }>(
        "SELECT dag_run_id::text FROM task_instance WHERE id = $1::uuid",
        [t.id],
      );
      await db.sql.query(
        `INSERT INTO task_state (dag_run_id, task_id, map_index, key, value, version)
         SELECT $1::bigint, $2, -1, 'k' || lpad(g::text, 4, '0'), to_jsonb(g), 1 FROM generate_series(1, 150) g`,
        [scope[0]!.dag_run_id, t.taskId],
      );
      const page = await t.caller.taskState.list({ taskInstanceId: t.id });
      expect(page.items).toHaveLength(100);
      expect(page.nextCursor).not.toBeNull();
      const all = await t.caller.taskState.list({ taskInstanceId: t.id, limit: 1000 });
      expect(all.items).toHaveLength(150);
      expect(all.nextCursor).toBeNull();
      expect(all.items[149]).toMatchObject({ key: "k0150", value: 150, version: 1, expiresAt: null });
    });

    it("prefix filters keys literally (no wildcards), also across pages", async () => {
      const t = await f.newTask();
      const id = t.id;
      const keys = ["spark/a", "spark/b", "spark/c", "sparkle", "spa", "other/spark/x", "sp_rk", "sp%rk"];
      for (const key of keys) await t.caller.taskState.set({ taskInstanceId: id, key, value: 1 });
      const page1 = await t.caller.taskState.list({ taskInstanceId: id, prefix: "spark/", limit: 2 });
      expect(page1.items.map((i) => i.key)).toEqual(["spark/a", "spark/b"]);
      const page2 = await t.caller.taskState.list({
        taskInstanceId: id,
        prefix: "spark/",
        limit: 2,
        cursor: page1.nextCursor,
      });
      expect(page2).toMatchObject({ items: [{ key: "spark/c" }], nextCursor: null });
      const spark = await t.caller.taskState.list({ taskInstanceId: id, prefix: "spark" });
      expect(spark.items.map((i) => i.key).sort()).toEqual(["spark/a", "spark/b", "spark/c", "sparkle"]);
      expect(
        (await t.caller.taskState.list({ taskInstanceId: id, prefix: "sp_" })).items.map((i) => i.key),
      ).toEqual(["sp_rk"]);
      expect(
        (await t.caller.taskState.list({ taskInstanceId: id, prefix: "sp%" })).items.map((i) => i.key),
      ).toEqual(["sp%rk"]);
      expect(await t.caller.taskState.list({ taskInstanceId: id, prefix: "zzz" })).toEqual({
        items: [],
        nextCursor: null,
      });
      // An empty prefix is no filter.
      expect((await t.caller.taskState.list({ taskInstanceId: id, prefix: "" })).items).toHaveLength(
        keys.length,
      );
    });

    it("pages through keys with non-ASCII characters, U+FFFD included", async () => {
      const t = await f.newTask();
      const keys = ["a\uFFFDb", "a\uFFFDc", "é/1", "é/2", "😀/1", "😀/2", "中文"];
      for (const key of keys) await t.caller.taskState.set({ taskInstanceId: t.id, key, value: key });
      const seen = await listAllKeysOneByOne(t.caller, t.id);
      expect(seen.sort()).toEqual([...keys].sort());
    });

    it("a bogus cursor is BAD_REQUEST", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "a", value: 1 });
      for (const cursor of ["!!!", "not a cursor", "____", "AA", "gICA", "a".repeat(3000), "\u0000"]) {
        expect(await failure(t.caller.taskState.list({ taskInstanceId: t.id, cursor }))).toMatchObject({
          code: "BAD_REQUEST",
        });
      }
      // null and "" mean "from the start".
      expect((await t.caller.taskState.list({ taskInstanceId: t.id, cursor: null })).items).toHaveLength(1);
      expect((await t.caller.taskState.list({ taskInstanceId: t.id, cursor: "" })).items).toHaveLength(1);
    });
  });

  describe("retention and expiry", () => {
    it("omitted expiresAt gets the default retention (30 days)", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 });
      const entry = await t.caller.taskState.get({ taskInstanceId: t.id, key: "k" });
      expectAbout(entry.expiresAt, 30 * DAY_MS);
      const listed = await t.caller.taskState.list({ taskInstanceId: t.id });
      expect(listed.items[0]!.expiresAt).toBe(entry.expiresAt);
    });

    it("expiresAt null means never; each write sets the expiry anew", async () => {
      const t = await f.newTask();
      const id = t.id;
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 1, expiresAt: null });
      expect((await t.caller.taskState.get({ taskInstanceId: id, key: "k" })).expiresAt).toBeNull();
      // An omitted expiresAt on a later write is the default again, not "keep what it had".
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 2 });
      expectAbout((await t.caller.taskState.get({ taskInstanceId: id, key: "k" })).expiresAt, 30 * DAY_MS);
      const later = fromNow(2 * DAY_MS);
      await t.caller.taskState.set({
        taskInstanceId: id,
        key: "k",
        value: 3,
        expiresAt: later,
        ifVersion: 2,
      });
      expect((await t.caller.taskState.get({ taskInstanceId: id, key: "k" })).expiresAt).toBe(later);
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 4, expiresAt: null, ifVersion: 3 });
      expect((await t.caller.taskState.get({ taskInstanceId: id, key: "k" })).expiresAt).toBeNull();
    });

    it("accepts Z and numeric offsets; returns UTC with Z", async () => {
      const t = await f.newTask();
      const id = t.id;
      const cases: [string, string][] = [
        ["2099-05-15T12:00:00Z", "2099-05-15T12:00:00.000Z"],
        ["2099-05-15T12:00:00+00:00", "2099-05-15T12:00:00.000Z"],
        ["2099-05-15T14:30:00+02:30", "2099-05-15T12:00:00.000Z"],
        ["2099-05-15T07:00:00-05:00", "2099-05-15T12:00:00.000Z"],
        ["2099-05-15T12:00:00.123Z", "2099-05-15T12:00:00.123Z"],
        ["2099-12-31T23:30:00-01:00", "2100-01-01T00:30:00.000Z"],
      ];
      for (const [input, output] of cases) {
        await t.caller.taskState.set({ taskInstanceId: id, key: input, value: 1, expiresAt: input });
        expect((await t.caller.taskState.get({ taskInstanceId: id, key: input })).expiresAt).toBe(output);
      }
    });

    it("refuses dates that are not ISO-8601 date-times with a zone", async () => {
      const t = await f.newTask();
      for (const expiresAt of [
        "2099-05-15",
        "2099-05-15T12:00:00",
        "2099-05-15 12:00:00Z",
        "2099-02-30T12:00:00Z",
        "tomorrow",
        "",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:00:00-02:00",
      ]) {
        expect(
          await failure(t.caller.taskState.set({ taskInstanceId: t.id, key: "d", value: 1, expiresAt })),
          expiresAt,
        ).toMatchObject({ code: "BAD_REQUEST" });
      }
      for (const expiresAt of [0, 1_800_000_000_000, true, {}, []]) {
        expect(
          await failure(
            t.caller.taskState.set({ taskInstanceId: t.id, key: "d", value: 1, expiresAt } as never),
          ),
        ).toMatchObject({ code: "BAD_REQUEST" });
      }
      // The extremes PostgreSQL can hold are fine (the earliest is already in the past).
      expect(
        await t.caller.taskState.set({
          taskInstanceId: t.id,
          key: "d",
          value: 1,
          expiresAt: "9999-12-31T23:59:59Z",
        }),
      ).toEqual({ version: 1 });
      await t.caller.taskState.set({
        taskInstanceId: t.id,
        key: "d",
        value: 1,
        expiresAt: "0001-01-01T00:00:00Z",
      });
      expect(await failure(t.caller.taskState.get({ taskInstanceId: t.id, key: "d" }))).toMatchObject({
        reason: "key_not_found",
      });
    });

    it("a past expiresAt makes the key invisible at once; it then starts over at version 1", async () => {
      const t = await f.newTask();
      const id = t.id;
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 1 });
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 2 });
      await t.caller.taskState.set({ taskInstanceId: id, key: "live", value: 1 });
      expect(
        await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 3, expiresAt: fromNow(-60_000) }),
      ).toEqual({ version: 3 });
      expect(await failure(t.caller.taskState.get({ taskInstanceId: id, key: "k" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
      expect((await t.caller.taskState.list({ taskInstanceId: id })).items.map((i) => i.key)).toEqual([
        "live",
      ]);
      expect((await t.caller.taskState.list({ taskInstanceId: id, prefix: "k" })).items).toEqual([]);
      // A compare-and-set against the expired version finds nothing.
      expect(
        await failure(t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 4, ifVersion: 3 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      // Create-only succeeds on it, at version 1.
      expect(await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 5, ifVersion: 0 })).toEqual({
        version: 1,
      });
      expect(await t.caller.taskState.get({ taskInstanceId: id, key: "k" })).toMatchObject({
        value: 5,
        version: 1,
      });
    });

    it("an expired key restarts at version 1 on an unconditional write too", async () => {
      const t = await f.newTask();
      const id = t.id;
      await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 1 });
      await t.caller.taskState.set({
        taskInstanceId: id,
        key: "k",
        value: 2,
        expiresAt: "2001-01-01T00:00:00+00:00",
      });
      expect(await t.caller.taskState.set({ taskInstanceId: id, key: "k", value: 3 })).toEqual({
        version: 1,
      });
      expect((await t.caller.taskState.get({ taskInstanceId: id, key: "k" })).value).toBe(3);
    });

    it("an expired key does not count as deleted, and clear does not count it", async () => {
      const t = await f.newTask();
      const id = t.id;
      await t.caller.taskState.set({ taskInstanceId: id, key: "gone", value: 1, expiresAt: fromNow(-1000) });
      expect(await t.caller.taskState.delete({ taskInstanceId: id, key: "gone" })).toEqual({
        deleted: false,
      });
      await t.caller.taskState.set({ taskInstanceId: id, key: "gone", value: 1, expiresAt: fromNow(-1000) });
      expect(await t.caller.taskState.delete({ taskInstanceId: id, key: "gone", ifVersion: 0 })).toEqual({
        deleted: false,
      });
      expect(
        await failure(t.caller.taskState.delete({ taskInstanceId: id, key: "gone", ifVersion: 1 })),
      ).toMatchObject({ code: "CONFLICT", reason: "version_mismatch" });
      await t.caller.taskState.set({ taskInstanceId: id, key: "live", value: 1 });
      expect(await t.caller.taskState.clear({ taskInstanceId: id })).toEqual({ deleted: 1 });
    });
  });

  describe("mapped tasks", () => {
    it("each map index has its own namespace", async () => {
      const base = await f.newTask({ mapIndex: 0 });
      const m1 = await f.newTask({ dagId: base.dagId, runId: base.runId, taskId: base.taskId, mapIndex: 1 });
      const m2 = await f.newTask({ dagId: base.dagId, runId: base.runId, taskId: base.taskId, mapIndex: 2 });
      const maps = [base, m1, m2];
      for (const [i, m] of maps.entries()) {
        expect(await m.caller.taskState.set({ taskInstanceId: m.id, key: "k", value: `map ${i}` })).toEqual({
          version: 1,
        });
      }
      for (const [i, m] of maps.entries()) {
        expect(await m.caller.taskState.get({ taskInstanceId: m.id, key: "k" })).toMatchObject({
          value: `map ${i}`,
          version: 1,
        });
        expect((await m.caller.taskState.list({ taskInstanceId: m.id })).items).toHaveLength(1);
      }
      expect(await m1.caller.taskState.delete({ taskInstanceId: m1.id, key: "k" })).toEqual({
        deleted: true,
      });
      expect((await base.caller.taskState.get({ taskInstanceId: base.id, key: "k" })).value).toBe("map 0");
      expect((await m2.caller.taskState.get({ taskInstanceId: m2.id, key: "k" })).value).toBe("map 2");
    });

    it("clear removes the own map index only; allMapIndices removes all of them", async () => {
      const m0 = await f.newTask({ mapIndex: 0 });
      const same = { dagId: m0.dagId, runId: m0.runId, taskId: m0.taskId };
      const m1 = await f.newTask({ ...same, mapIndex: 1 });
      const m2 = await f.newTask({ ...same, mapIndex: 2 });
      for (const m of [m0, m1, m2]) {
        await m.caller.taskState.set({ taskInstanceId: m.id, key: "a", value: 1 });
        await m.caller.taskState.set({ taskInstanceId: m.id, key: "b", value: 1 });
      }
      expect(await m0.caller.taskState.clear({ taskInstanceId: m0.id })).toEqual({ deleted: 2 });
      expect(await m0.caller.taskState.clear({ taskInstanceId: m0.id, allMapIndices: false })).toEqual({
        deleted: 0,
      });
      expect((await m1.caller.taskState.list({ taskInstanceId: m1.id })).items).toHaveLength(2);
      expect(await m1.caller.taskState.clear({ taskInstanceId: m1.id, allMapIndices: true })).toEqual({
        deleted: 4,
      });
      for (const m of [m0, m1, m2]) {
        expect((await m.caller.taskState.list({ taskInstanceId: m.id })).items).toEqual([]);
      }
    });
  });

  describe("task instances", () => {
    it("a retry gets a new id and the same state; the old id is superseded on every verb", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "checkpoint", value: { offset: 42 } });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "other", value: 1 });
      const retry = await f.admin().admin.taskInstances.retry({ taskInstanceId: t.id });
      expect(retry.id).not.toBe(t.id);
      expect(retry.tryNumber).toBe(2);
      const r = f.asTask(retry.id);
      expect(await r.taskState.get({ taskInstanceId: retry.id, key: "checkpoint" })).toMatchObject({
        value: { offset: 42 },
        version: 1,
      });
      expect(
        await r.taskState.set({ taskInstanceId: retry.id, key: "checkpoint", value: { offset: 43 } }),
      ).toEqual({
        version: 2,
      });
      const superseded = { code: "NOT_FOUND", reason: "task_instance_superseded" };
      const old = t.caller.taskState;
      const oldId = t.id;
      expect(await failure(old.get({ taskInstanceId: oldId, key: "checkpoint" }))).toMatchObject(superseded);
      expect(await failure(old.get({ taskInstanceId: oldId, key: "missing" }))).toMatchObject(superseded);
      expect(await failure(old.set({ taskInstanceId: oldId, key: "checkpoint", value: 0 }))).toMatchObject(
        superseded,
      );
      expect(
        await failure(old.set({ taskInstanceId: oldId, key: "new", value: 0, ifVersion: 0 })),
      ).toMatchObject(superseded);
      expect(
        await failure(old.set({ taskInstanceId: oldId, key: "checkpoint", value: 0, ifVersion: 2 })),
      ).toMatchObject(superseded);
      expect(await failure(old.delete({ taskInstanceId: oldId, key: "checkpoint" }))).toMatchObject(
        superseded,
      );
      expect(await failure(old.delete({ taskInstanceId: oldId, key: "missing" }))).toMatchObject(superseded);
      expect(await failure(old.delete({ taskInstanceId: oldId, key: "other", ifVersion: 1 }))).toMatchObject(
        superseded,
      );
      expect(await failure(old.delete({ taskInstanceId: oldId, key: "other", ifVersion: 0 }))).toMatchObject(
        superseded,
      );
      expect(await failure(old.clear({ taskInstanceId: oldId }))).toMatchObject(superseded);
      expect(await failure(old.clear({ taskInstanceId: oldId, allMapIndices: true }))).toMatchObject(
        superseded,
      );
      expect(await failure(old.list({ taskInstanceId: oldId }))).toMatchObject(superseded);
      // The admin plane sees the same for the old id.
      expect(
        await failure(f.admin().taskState.get({ taskInstanceId: oldId, key: "checkpoint" })),
      ).toMatchObject(superseded);
      // Nothing the old try attempted changed the state.
      expect(await r.taskState.get({ taskInstanceId: retry.id, key: "checkpoint" })).toMatchObject({
        value: { offset: 43 },
        version: 2,
      });
      expect((await r.taskState.list({ taskInstanceId: retry.id })).items.map((i) => i.key)).toEqual([
        "checkpoint",
        "other",
      ]);
      // A third try supersedes the second.
      const third = await f.admin().admin.taskInstances.retry({ taskInstanceId: retry.id });
      expect(third.tryNumber).toBe(3);
      expect(await failure(r.taskState.list({ taskInstanceId: retry.id }))).toMatchObject(superseded);
      expect((await f.asTask(third.id).taskState.get({ taskInstanceId: third.id, key: "other" })).value).toBe(
        1,
      );
    });

    it("a retry of one map index supersedes only that map index", async () => {
      const m0 = await f.newTask({ mapIndex: 0 });
      const m1 = await f.newTask({ dagId: m0.dagId, runId: m0.runId, taskId: m0.taskId, mapIndex: 1 });
      await f.admin().admin.taskInstances.retry({ taskInstanceId: m0.id });
      expect(await m1.caller.taskState.set({ taskInstanceId: m1.id, key: "k", value: 1 })).toEqual({
        version: 1,
      });
      expect(await failure(m0.caller.taskState.list({ taskInstanceId: m0.id }))).toMatchObject({
        reason: "task_instance_superseded",
      });
    });

    it("an unknown task instance is NOT_FOUND task_instance_not_found on every verb", async () => {
      const unknown = "0191f7a0-0000-7000-8000-000000000000";
      const notFound = { code: "NOT_FOUND", reason: "task_instance_not_found" };
      for (const caller of [f.admin(), f.asTask(unknown)]) {
        const ts = caller.taskState;
        expect(await failure(ts.get({ taskInstanceId: unknown, key: "k" }))).toMatchObject(notFound);
        expect(await failure(ts.set({ taskInstanceId: unknown, key: "k", value: 1 }))).toMatchObject(
          notFound,
        );
        expect(
          await failure(ts.set({ taskInstanceId: unknown, key: "k", value: 1, ifVersion: 0 })),
        ).toMatchObject(notFound);
        expect(
          await failure(ts.set({ taskInstanceId: unknown, key: "k", value: 1, ifVersion: 3 })),
        ).toMatchObject(notFound);
        expect(await failure(ts.delete({ taskInstanceId: unknown, key: "k" }))).toMatchObject(notFound);
        expect(await failure(ts.delete({ taskInstanceId: unknown, key: "k", ifVersion: 0 }))).toMatchObject(
          notFound,
        );
        expect(await failure(ts.delete({ taskInstanceId: unknown, key: "k", ifVersion: 1 }))).toMatchObject(
          notFound,
        );
        expect(await failure(ts.clear({ taskInstanceId: unknown }))).toMatchObject(notFound);
        expect(await failure(ts.list({ taskInstanceId: unknown }))).toMatchObject(notFound);
        expect(await failure(ts.list({ taskInstanceId: unknown, prefix: "x", cursor: "eA" }))).toMatchObject(
          notFound,
        );
      }
    });

    it("a malformed task instance id is BAD_REQUEST for an admin", async () => {
      for (const taskInstanceId of [
        "",
        "not-a-uuid",
        "0191f7a0-0000-7000-8000-00000000000",
        "0191f7a0000070008000000000000000",
      ]) {
        expect(await failure(f.admin().taskState.get({ taskInstanceId, key: "k" }))).toMatchObject({
          code: "BAD_REQUEST",
        });
      }
    });
  });

  describe("concurrency", () => {
    it("20 concurrent unconditional writers of one key: no error, final version 20, value one of theirs", async () => {
      const t = await f.newTask();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          f.asTask(t.id).taskState.set({ taskInstanceId: t.id, key: "hot", value: { writer: i } }),
        ),
      );
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const entry = await t.caller.taskState.get({ taskInstanceId: t.id, key: "hot" });
      expect(entry.version).toBe(20);
      const writer = (entry.value as { writer: number }).writer;
      expect(writer).toBeGreaterThanOrEqual(0);
      expect(writer).toBeLessThan(20);
      // The writer that got version 20 is the one whose value stayed.
      expect(results.findIndex((r) => r.version === 20)).toBe(writer);
    });

    it("10 concurrent compare-and-set writers with the same ifVersion: exactly one wins", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "cas", value: "start" });
      const settled = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          f.asTask(t.id).taskState.set({ taskInstanceId: t.id, key: "cas", value: i, ifVersion: 1 }),
        ),
      );
      const won = settled.flatMap((s, i) =>
        s.status === "fulfilled" ? [{ i, version: s.value.version }] : [],
      );
      expect(won).toHaveLength(1);
      expect(won[0]!.version).toBe(2);
      for (const s of settled) {
        if (s.status === "rejected") {
          expect(await failure(Promise.reject(s.reason))).toMatchObject({
            code: "CONFLICT",
            reason: "version_mismatch",
          });
        }
      }
      expect(await t.caller.taskState.get({ taskInstanceId: t.id, key: "cas" })).toMatchObject({
        value: won[0]!.i,
        version: 2,
      });
    });

    it("10 concurrent create-only writers: exactly one wins", async () => {
      const t = await f.newTask();
      const settled = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          f.asTask(t.id).taskState.set({ taskInstanceId: t.id, key: "lock", value: i, ifVersion: 0 }),
        ),
      );
      const won = settled.flatMap((s, i) =>
        s.status === "fulfilled" ? [{ i, version: s.value.version }] : [],
      );
      expect(won).toEqual([{ i: expect.any(Number), version: 1 }]);
      for (const s of settled) {
        if (s.status === "rejected") {
          expect(await failure(Promise.reject(s.reason))).toMatchObject({
            code: "CONFLICT",
            reason: "version_mismatch",
          });
        }
      }
      expect(await t.caller.taskState.get({ taskInstanceId: t.id, key: "lock" })).toMatchObject({
        value: won[0]!.i,
        version: 1,
      });
    });

    it("concurrent writers of different keys and a concurrent clear never error", async () => {
      const t = await f.newTask();
      const writes = Array.from({ length: 15 }, (_, i) =>
        t.caller.taskState.set({ taskInstanceId: t.id, key: `k${i}`, value: i }),
      );
      const deletes = Array.from({ length: 5 }, (_, i) =>
        t.caller.taskState.delete({ taskInstanceId: t.id, key: `k${i}` }),
      );
      await Promise.all([...writes, ...deletes, t.caller.taskState.clear({ taskInstanceId: t.id })]);
    });
  });
});

describeEachDatabase("taskState retention config", (getDb) => {
  it("defaultRetentionDays 0 means task state never expires by default", async () => {
    const f = fixtures(getDb, testConfig({ defaultRetentionDays: 0 }));
    const t = await f.newTask();
    await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 });
    expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "k" })).expiresAt).toBeNull();
    const explicit = fromNow(DAY_MS);
    await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1, expiresAt: explicit });
    expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "k" })).expiresAt).toBe(explicit);
  });

  it("defaultRetentionDays 7 gives a week", async () => {
    const f = fixtures(getDb, testConfig({ defaultRetentionDays: 7 }));
    const t = await f.newTask();
    await t.caller.taskState.set({ taskInstanceId: t.id, key: unique("k"), value: 1 });
    const [entry] = (await t.caller.taskState.list({ taskInstanceId: t.id })).items;
    expectAbout(entry!.expiresAt, 7 * DAY_MS);
  });
});
