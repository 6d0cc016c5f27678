// Concurrent calls (a tRPC batch reaches the service this way) are served by one multi-row statement:
// same results and errors as one by one, fewer statements.
import type { Database } from "@cairn/db";
import { describeEachDatabase } from "@cairn/db/testing";
import { expect, it } from "vitest";
import { failure, fixtures, unique } from "../testing/fixtures.ts";

/** The database, with every statement's name recorded. */
function counting(db: Database) {
  const names: (string | undefined)[] = [];
  const counted: Database = {
    ...db,
    sql: {
      query: (text, values, name) => {
        names.push(name);
        return db.sql.query(text, values, name);
      },
    },
  };
  return { counted, names };
}

/** A key the database refuses to insert (a trigger raises), which fails any multi-row statement holding it. */
async function refuseKey(db: Database): Promise<string> {
  const refused = unique("refused");
  await db.sql.query(
    `CREATE FUNCTION ${refused}() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN IF NEW.key = '${refused}' THEN RAISE EXCEPTION 'key % refused', NEW.key; END IF; RETURN NEW; END $$`,
  );
  await db.sql.query(
    `CREATE TRIGGER ${refused} BEFORE INSERT ON task_state FOR EACH ROW EXECUTE FUNCTION ${refused}()`,
  );
  return refused;
}

async function dropRefusal(db: Database, refused: string): Promise<void> {
  await db.sql.query(`DROP TRIGGER ${refused} ON task_state`);
  await db.sql.query(`DROP FUNCTION ${refused}()`);
}

describeEachDatabase("batching concurrent calls", (getDb) => {
  const f = fixtures(getDb);

  it("serves 30 concurrent sets and 30 gets with one statement each, with the results of single calls", async () => {
    const { counted, names } = counting(getDb());
    const g = fixtures(() => counted);
    const t = await g.newTask();
    names.length = 0;
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    const versions = await Promise.all(
      keys.map((key, i) => t.caller.taskState.set({ taskInstanceId: t.id, key, value: { i } })),
    );
    expect(versions).toEqual(keys.map(() => ({ version: 1 })));
    expect(names.filter((n) => n === "task_state_set_many_30")).toHaveLength(1);
    expect(names.filter((n) => n === "task_state_set")).toHaveLength(0);

    names.length = 0;
    const entries = await Promise.all(
      keys.map((key) => t.caller.taskState.get({ taskInstanceId: t.id, key })),
    );
    expect(entries.map((e) => e.value)).toEqual(keys.map((_, i) => ({ i })));
    expect(names).toEqual(["task_state_get_many_30"]);

    // A miss is answered by the same one statement: no second query to say "key not found".
    names.length = 0;
    expect(await failure(t.caller.taskState.get({ taskInstanceId: t.id, key: "absent" }))).toMatchObject({
      code: "NOT_FOUND",
      reason: "key_not_found",
    });
    expect(names).toEqual(["task_state_get"]);
  });

  it("gives each call of a batch its own outcome: misses, unknown and superseded tries, repeated keys", async () => {
    const t = await f.newTask();
    const { id: newer } = await f.admin().admin.taskInstances.retry({ taskInstanceId: t.id });
    const old = f.asTask(t.id);
    const current = f.asTask(newer);
    const unknown = "01a213ac-0000-7000-8000-000000000000";
    const results = await Promise.allSettled([
      current.taskState.set({ taskInstanceId: newer, key: "a", value: 1 }),
      old.taskState.set({ taskInstanceId: t.id, key: "a", value: 2 }),
      f.asTask(unknown).taskState.set({ taskInstanceId: unknown, key: "a", value: 3 }),
      current.taskState.set({ taskInstanceId: newer, key: "same", value: "x" }),
      current.taskState.set({ taskInstanceId: newer, key: "same", value: "y" }),
      current.taskState.set({ taskInstanceId: newer, key: "same", value: "z" }),
    ]);
    expect(results[0]).toEqual({ status: "fulfilled", value: { version: 1 } });
    expect(results[1]).toMatchObject({ status: "rejected", reason: { code: "NOT_FOUND" } });
    expect((results[1] as PromiseRejectedResult).reason.cause.reason).toBe("task_instance_superseded");
    expect((results[2] as PromiseRejectedResult).reason.cause.reason).toBe("task_instance_not_found");
    // Three writes of one key in one batch: each a version of its own, the last one readable.
    const sameVersions = results
      .slice(3)
      .map((r) => (r as PromiseFulfilledResult<{ version: number }>).value.version);
    expect(sameVersions.sort()).toEqual([1, 2, 3]);
    expect((await current.taskState.get({ taskInstanceId: newer, key: "same" })).version).toBe(3);

    const gets = await Promise.allSettled([
      current.taskState.get({ taskInstanceId: newer, key: "a" }),
      current.taskState.get({ taskInstanceId: newer, key: "missing" }),
      old.taskState.get({ taskInstanceId: t.id, key: "a" }),
    ]);
    expect(gets[0]).toMatchObject({ status: "fulfilled", value: { key: "a", value: 1 } });
    expect((gets[1] as PromiseRejectedResult).reason.cause.reason).toBe("key_not_found");
    expect((gets[2] as PromiseRejectedResult).reason.cause.reason).toBe("task_instance_superseded");
  });

  it("when one row fails the whole batch, runs each call alone: the others succeed, that one gets its error", async () => {
    const { counted, names } = counting(getDb());
    const t = await fixtures(() => counted).newTask();
    // A row the database refuses (here by a trigger on its key) fails the multi-row statement as a whole.
    const refused = await refuseKey(getDb());
    try {
      names.length = 0;
      const results = await Promise.allSettled(
        ["a", refused, "b"].map((key) => t.caller.taskState.set({ taskInstanceId: t.id, key, value: key })),
      );
      expect(names).toEqual(["task_state_set_many_3", "task_state_set", "task_state_set", "task_state_set"]);
      // Version 1: the failed batch wrote nothing, each write is the single statement's.
      expect(results[0]).toEqual({ status: "fulfilled", value: { version: 1 } });
      expect(results[2]).toEqual({ status: "fulfilled", value: { version: 1 } });
      expect(results[1]).toMatchObject({
        status: "rejected",
        reason: { code: "INTERNAL_SERVER_ERROR", message: `key ${refused} refused` },
      });
      const read = await Promise.allSettled(
        ["a", refused, "b"].map((key) => t.caller.taskState.get({ taskInstanceId: t.id, key })),
      );
      expect(read.map((r) => (r.status === "fulfilled" ? r.value.value : r.reason.cause.reason))).toEqual([
        "a",
        "key_not_found",
        "b",
      ]);
      // A later write of the same key (the next round) waits for the earlier one's single statement.
      names.length = 0;
      await Promise.allSettled(
        [
          ["c", 1],
          [refused, 0],
          ["c", 2],
        ].map(([key, value]) => t.caller.taskState.set({ taskInstanceId: t.id, key: String(key), value })),
      );
      expect(names).toEqual(["task_state_set_many_2", "task_state_set", "task_state_set", "task_state_set"]);
      expect(await t.caller.taskState.get({ taskInstanceId: t.id, key: "c" })).toMatchObject({
        value: 2,
        version: 2,
      });
    } finally {
      await dropRefusal(getDb(), refused);
    }
  });

  it("serves 120 concurrent calls in statements of at most 50; a failing one runs only its own calls alone", async () => {
    const { counted, names } = counting(getDb());
    const t = await fixtures(() => counted).newTask();
    const refused = await refuseKey(getDb());
    try {
      // Chunks follow the order of arrival: calls 0-49, 50-99 and 100-119. Call 60 fails the second.
      const keys = Array.from({ length: 120 }, (_, i) => (i === 60 ? refused : `k${i}`));
      names.length = 0;
      const written = await Promise.allSettled(
        keys.map((key, i) => t.caller.taskState.set({ taskInstanceId: t.id, key, value: i })),
      );
      expect(names.filter((n) => n !== "task_state_set").sort()).toEqual([
        "task_state_set_many_20",
        "task_state_set_many_50",
        "task_state_set_many_50",
      ]);
      expect(names.filter((n) => n === "task_state_set")).toHaveLength(50);
      // Each write applied once (version 1): the chunks that succeeded were not run again.
      expect(written.map((r) => (r.status === "fulfilled" ? r.value.version : "refused"))).toEqual(
        keys.map((_, i) => (i === 60 ? "refused" : 1)),
      );

      names.length = 0;
      const read = await Promise.allSettled(
        keys.map((key) => t.caller.taskState.get({ taskInstanceId: t.id, key })),
      );
      expect(names.sort()).toEqual([
        "task_state_get_many_20",
        "task_state_get_many_50",
        "task_state_get_many_50",
      ]);
      expect(read.map((r) => (r.status === "fulfilled" ? r.value.value : r.reason.cause.reason))).toEqual(
        keys.map((_, i) => (i === 60 ? "key_not_found" : i)),
      );
    } finally {
      await dropRefusal(getDb(), refused);
    }
  });

  it("keeps tasks apart within one batch", async () => {
    const [a, b] = await Promise.all([f.newTask(), f.newTask()]);
    await Promise.all([
      a.caller.taskState.set({ taskInstanceId: a.id, key: "k", value: "a" }),
      b.caller.taskState.set({ taskInstanceId: b.id, key: "k", value: "b" }),
    ]);
    const [va, vb] = await Promise.all([
      a.caller.taskState.get({ taskInstanceId: a.id, key: "k" }),
      b.caller.taskState.get({ taskInstanceId: b.id, key: "k" }),
    ]);
    expect([va.value, vb.value]).toEqual(["a", "b"]);
    expect(await failure(a.caller.taskState.get({ taskInstanceId: b.id, key: "k" }))).toMatchObject({
      code: "FORBIDDEN",
    });
  });
});
