// Task instance lifecycle (issue #4 §3): admin.taskInstances.setState and .clear, clear-on-success,
// on PGlite and PostgreSQL.
import { randomUUID } from "node:crypto";
import { describeEachDatabase } from "@cairn/db/testing";
import { describe, expect, it } from "vitest";
import { TASK_INSTANCE_STATES } from "../services/task-lifecycle.ts";
import { failure, fixtures, testConfig } from "../testing/fixtures.ts";

const past = () => new Date(Date.now() - 60_000).toISOString();

describeEachDatabase("task instance lifecycle", (getDb) => {
  const f = fixtures(getDb);
  const clearing = fixtures(getDb, testConfig({ clearOnSuccess: true }));

  async function stateColumn(taskInstanceId: string) {
    const rows = await getDb().sql.query<{ state: string | null; updated_at: Date }>(
      "SELECT state, updated_at FROM task_instance WHERE id = $1::uuid",
      [taskInstanceId],
    );
    return rows[0];
  }

  /** Live keys of one namespace, straight from the table. */
  async function keysOf(t: { dagId: string; runId: string; taskId: string }, mapIndex = -1) {
    const rows = await getDb().sql.query<{ key: string }>(
      `SELECT s.key FROM task_state s JOIN dag_run r ON r.id = s.dag_run_id
       WHERE r.dag_id = $1 AND r.run_id = $2 AND s.task_id = $3 AND s.map_index = $4 ORDER BY s.key`,
      [t.dagId, t.runId, t.taskId, mapIndex],
    );
    return rows.map((row) => row.key);
  }

  /** A mapped task: map indexes 0, 1 and 2 of one task in one run, each with keys a and b. */
  async function mappedTask(fx: typeof f) {
    const first = await fx.newTask({ mapIndex: 0 });
    const rest = [];
    for (const mapIndex of [1, 2]) {
      rest.push(await fx.newTask({ dagId: first.dagId, runId: first.runId, taskId: first.taskId, mapIndex }));
    }
    const all = [first, ...rest];
    for (const t of all) {
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "a", value: t.mapIndex });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "b", value: t.mapIndex });
    }
    return all;
  }

  describe("setState", () => {
    it("accepts every Airflow task instance state and records it", async () => {
      const t = await f.newTask();
      expect((await stateColumn(t.id))?.state).toBeNull();
      for (const state of TASK_INSTANCE_STATES) {
        expect(await f.admin().admin.taskInstances.setState({ taskInstanceId: t.id, state })).toEqual({
          state,
          deletedKeys: 0,
        });
        expect((await stateColumn(t.id))?.state).toBe(state);
      }
    });

    it("moves updated_at forward", async () => {
      const t = await f.newTask();
      const before = (await stateColumn(t.id))!.updated_at;
      await f.admin().admin.taskInstances.setState({ taskInstanceId: t.id, state: "running" });
      const after = (await stateColumn(t.id))!.updated_at;
      expect(new Date(after).getTime()).toBeGreaterThanOrEqual(new Date(before).getTime());
    });

    it("accepts an uppercase task instance id", async () => {
      const t = await f.newTask();
      await f.admin().admin.taskInstances.setState({ taskInstanceId: t.id.toUpperCase(), state: "queued" });
      expect((await stateColumn(t.id))?.state).toBe("queued");
    });

    it("success with CAIRN_CLEAR_ON_SUCCESS off (the default) keeps the task's state", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "checkpoint", value: 7 });
      expect(
        await f.admin().admin.taskInstances.setState({ taskInstanceId: t.id, state: "success" }),
      ).toEqual({ state: "success", deletedKeys: 0 });
      expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "checkpoint" })).value).toBe(7);
    });

    it("success with clearOnSuccess deletes the task's own map index only", async () => {
      const [m0, m1, m2] = await mappedTask(clearing);
      const other = await clearing.newTask({ dagId: m0!.dagId, runId: m0!.runId });
      await other.caller.taskState.set({ taskInstanceId: other.id, key: "a", value: "other task" });

      expect(
        await clearing.admin().admin.taskInstances.setState({ taskInstanceId: m1!.id, state: "success" }),
      ).toEqual({ state: "success", deletedKeys: 2 });
      expect(await keysOf(m1!, 1)).toEqual([]);
      expect(await keysOf(m0!, 0)).toEqual(["a", "b"]);
      expect(await keysOf(m2!, 2)).toEqual(["a", "b"]);
      expect(await keysOf(other)).toEqual(["a"]);
      expect(await failure(m1!.caller.taskState.get({ taskInstanceId: m1!.id, key: "a" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "key_not_found",
      });
      expect((await stateColumn(m1!.id))?.state).toBe("success");
    });

    it("with clearOnSuccess, states other than success keep the state", async () => {
      const t = await clearing.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "job", value: "app-1" });
      for (const state of TASK_INSTANCE_STATES.filter((s) => s !== "success")) {
        expect(await clearing.admin().admin.taskInstances.setState({ taskInstanceId: t.id, state })).toEqual({
          state,
          deletedKeys: 0,
        });
      }
      expect(await keysOf(t)).toEqual(["job"]);
    });

    it("with clearOnSuccess, success counts only live keys but removes expired ones too", async () => {
      const t = await clearing.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "live", value: 1 });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "gone", value: 2, expiresAt: past() });
      expect(
        await clearing.admin().admin.taskInstances.setState({ taskInstanceId: t.id, state: "success" }),
      ).toEqual({ state: "success", deletedKeys: 1 });
      expect(await keysOf(t)).toEqual([]);
    });

    it("with clearOnSuccess, success of a task without state deletes nothing; a later try starts empty", async () => {
      const t = await clearing.newTask();
      expect(
        await clearing.admin().admin.taskInstances.setState({ taskInstanceId: t.id, state: "success" }),
      ).toEqual({ state: "success", deletedKeys: 0 });

      const u = await clearing.newTask();
      await u.caller.taskState.set({ taskInstanceId: u.id, key: "k", value: 1 });
      const retry = await clearing.admin().admin.taskInstances.retry({ taskInstanceId: u.id });
      expect(
        await clearing.admin().admin.taskInstances.setState({ taskInstanceId: retry.id, state: "success" }),
      ).toEqual({ state: "success", deletedKeys: 1 });
      const next = clearing.asTask(retry.id);
      expect((await next.taskState.list({ taskInstanceId: retry.id })).items).toEqual([]);
    });

    it("an unknown task instance is NOT_FOUND task_instance_not_found", async () => {
      for (const fx of [f, clearing]) {
        expect(
          await failure(
            fx.admin().admin.taskInstances.setState({ taskInstanceId: randomUUID(), state: "success" }),
          ),
        ).toMatchObject({ code: "NOT_FOUND", reason: "task_instance_not_found" });
      }
    });

    it("an invalid state, a bad id or an unknown field is BAD_REQUEST", async () => {
      const t = await f.newTask();
      const setState = (input: unknown) =>
        failure(f.admin().admin.taskInstances.setState(input as { taskInstanceId: string; state: "queued" }));
      for (const input of [
        { taskInstanceId: t.id, state: "done" },
        { taskInstanceId: t.id, state: "SUCCESS" },
        { taskInstanceId: t.id, state: "" },
        { taskInstanceId: t.id, state: null },
        { taskInstanceId: t.id },
        { taskInstanceId: "not-a-uuid", state: "success" },
        { taskInstanceId: t.id, state: "success", keepTaskState: true },
      ]) {
        expect(await setState(input)).toMatchObject({ code: "BAD_REQUEST" });
      }
      expect((await stateColumn(t.id))?.state).toBeNull();
    });
  });

  describe("clear", () => {
    it("resets the state to none and discards the task's state", async () => {
      const t = await f.newTask();
      await f.admin().admin.taskInstances.setState({ taskInstanceId: t.id, state: "failed" });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "a", value: 1 });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "b", value: 2 });
      expect(await f.admin().admin.taskInstances.clear({ taskInstanceId: t.id })).toEqual({
        deletedKeys: 2,
      });
      expect((await stateColumn(t.id))?.state).toBeNull();
      expect(await keysOf(t)).toEqual([]);
      // The task instance still exists: its token keeps working on an empty namespace.
      expect(await t.caller.taskState.set({ taskInstanceId: t.id, key: "a", value: 3 })).toEqual({
        version: 1,
      });
    });

    it("keepTaskState keeps the state; keepTaskState: false discards it", async () => {
      const t = await f.newTask();
      await f.admin().admin.taskInstances.setState({ taskInstanceId: t.id, state: "success" });
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "watermark", value: "2026-05-15" });
      expect(
        await f.admin().admin.taskInstances.clear({ taskInstanceId: t.id, keepTaskState: true }),
      ).toEqual({ deletedKeys: 0 });
      expect((await stateColumn(t.id))?.state).toBeNull();
      expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "watermark" })).value).toBe(
        "2026-05-15",
      );
      expect(
        await f.admin().admin.taskInstances.clear({ taskInstanceId: t.id, keepTaskState: false }),
      ).toEqual({ deletedKeys: 1 });
      expect(await keysOf(t)).toEqual([]);
    });

    it("discards the task's own map index only; other map indexes and tasks keep theirs", async () => {
      const [m0, m1, m2] = await mappedTask(f);
      const other = await f.newTask({ dagId: m0!.dagId, runId: m0!.runId });
      await other.caller.taskState.set({ taskInstanceId: other.id, key: "x", value: 1 });
      expect(await f.admin().admin.taskInstances.clear({ taskInstanceId: m2!.id })).toEqual({
        deletedKeys: 2,
      });
      expect(await keysOf(m2!, 2)).toEqual([]);
      expect(await keysOf(m0!, 0)).toEqual(["a", "b"]);
      expect(await keysOf(m1!, 1)).toEqual(["a", "b"]);
      expect(await keysOf(other)).toEqual(["x"]);
    });

    it("clearing a retried task discards the state its tries share", async () => {
      const t = await f.newTask();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 });
      const retry = await f.admin().admin.taskInstances.retry({ taskInstanceId: t.id });
      expect(await f.admin().admin.taskInstances.clear({ taskInstanceId: retry.id })).toEqual({
        deletedKeys: 1,
      });
      expect(await keysOf(t)).toEqual([]);
    });

    it("a task without state clears with deletedKeys 0; an unknown id is NOT_FOUND", async () => {
      const t = await f.newTask();
      expect(await f.admin().admin.taskInstances.clear({ taskInstanceId: t.id })).toEqual({
        deletedKeys: 0,
      });
      expect(
        await failure(f.admin().admin.taskInstances.clear({ taskInstanceId: randomUUID() })),
      ).toMatchObject({ code: "NOT_FOUND", reason: "task_instance_not_found" });
      expect(
        await failure(
          f.admin().admin.taskInstances.clear({ taskInstanceId: randomUUID(), keepTaskState: true }),
        ),
      ).toMatchObject({ code: "NOT_FOUND", reason: "task_instance_not_found" });
    });

    it("bad input is BAD_REQUEST", async () => {
      const t = await f.newTask();
      const clear = (input: unknown) =>
        failure(f.admin().admin.taskInstances.clear(input as { taskInstanceId: string }));
      for (const input of [
        { taskInstanceId: "nope" },
        { taskInstanceId: t.id, keepTaskState: "yes" },
        { taskInstanceId: t.id, keepState: true },
        {},
      ]) {
        expect(await clear(input)).toMatchObject({ code: "BAD_REQUEST" });
      }
    });
  });

  it("with clear-on-success, only the current try's success discards the state its retry shares", async () => {
    const t = await clearing.newTask();
    await t.caller.taskState.set({ taskInstanceId: t.id, key: "checkpoint", value: 4 });
    const { id: newer } = await clearing.admin().admin.taskInstances.retry({ taskInstanceId: t.id });
    // A late "success" for the superseded try must not wipe the checkpoint try 2 resumes from.
    expect(
      await clearing.admin().admin.taskInstances.setState({ taskInstanceId: t.id, state: "success" }),
    ).toEqual({ state: "success", deletedKeys: 0 });
    expect(await keysOf(t)).toEqual(["checkpoint"]);
    expect(
      await clearing.admin().admin.taskInstances.setState({ taskInstanceId: newer, state: "success" }),
    ).toEqual({ state: "success", deletedKeys: 1 });
    expect(await keysOf(t)).toEqual([]);
  });

  it("an execution token is FORBIDDEN, even for its own task instance, and changes nothing", async () => {
    const t = await clearing.newTask();
    await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 });
    expect(
      await failure(t.caller.admin.taskInstances.setState({ taskInstanceId: t.id, state: "success" })),
    ).toMatchObject({ code: "FORBIDDEN", reason: "insufficient_scope" });
    expect(await failure(t.caller.admin.taskInstances.clear({ taskInstanceId: t.id }))).toMatchObject({
      code: "FORBIDDEN",
      reason: "insufficient_scope",
    });
    expect((await stateColumn(t.id))?.state).toBeNull();
    expect(await keysOf(t)).toEqual(["k"]);
    expect(
      await failure(f.anonymous().admin.taskInstances.setState({ taskInstanceId: t.id, state: "success" })),
    ).toMatchObject({ code: "UNAUTHORIZED" });
  });
});
