// Admin plane: a task instance's lifecycle. Success can discard the task's state (CAIRN_CLEAR_ON_SUCCESS);
// clearing a task for a fresh start discards it unless asked to keep it.
import type { Database } from "@cairn/db";
import { notFound } from "../errors.ts";
import { CURRENT_TRY } from "./task-instance-scope.ts";
import { clearResolvedNamespace } from "./task-state.ts";

/** Airflow's task instance states. */
export const TASK_INSTANCE_STATES = [
  "scheduled",
  "queued",
  "running",
  "success",
  "failed",
  "up_for_retry",
  "up_for_reschedule",
  "upstream_failed",
  "skipped",
  "deferred",
  "restarting",
  "removed",
] as const;
export type TaskInstanceState = (typeof TASK_INSTANCE_STATES)[number];

async function updateState(db: Database, taskInstanceId: string, state: TaskInstanceState | null) {
  const [row] = await db.sql.query<{
    dag_run_id: string;
    task_id: string;
    map_index: number;
    current: boolean;
  }>(
    `UPDATE task_instance t SET state = $2, updated_at = now() WHERE t.id = $1::uuid
     RETURNING t.dag_run_id::text, t.task_id, t.map_index, ${CURRENT_TRY} AS current`,
    [taskInstanceId, state],
    "task_instance_set_state",
  );
  if (!row) throw notFound("task_instance_not_found", `task instance ${taskInstanceId} does not exist`);
  return { dagRunId: row.dag_run_id, taskId: row.task_id, mapIndex: row.map_index, current: row.current };
}

export async function setTaskInstanceState(
  db: Database,
  clearOnSuccess: boolean,
  input: { taskInstanceId: string; state: TaskInstanceState },
): Promise<{ state: TaskInstanceState; deletedKeys: number }> {
  const scope = await updateState(db, input.taskInstanceId, input.state);
  // The state belongs to the task, not the try: only the current try's success may discard it.
  if (input.state !== "success" || !clearOnSuccess || !scope.current)
    return { state: input.state, deletedKeys: 0 };
  // The task is done for good: its checkpoints have served their purpose.
  const { deleted } = await clearResolvedNamespace(db.sql, scope, false);
  return { state: input.state, deletedKeys: deleted };
}

/** Resets a task instance for a fresh start (state none) and discards its state unless keepTaskState. */
export async function clearTaskInstance(
  db: Database,
  input: { taskInstanceId: string; keepTaskState?: boolean | undefined },
): Promise<{ deletedKeys: number }> {
  const scope = await updateState(db, input.taskInstanceId, null);
  if (input.keepTaskState) return { deletedKeys: 0 };
  const { deleted } = await clearResolvedNamespace(db.sql, scope, false);
  return { deletedKeys: deleted };
}
