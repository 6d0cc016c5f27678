// admin.taskInstances.list (spec §7): the current try of each task (and map index) of a dag run.
import type { SqlRunner } from "@cairn/db";
import { LIVE, toIso } from "../state-entries.ts";
import { CURRENT_TRY, dagRunIdOf } from "../task-instance-scope.ts";
import { decodeListCursor, listPage } from "./cursor.ts";

export interface TaskInstanceItem {
  id: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  state: string | null;
  keys: number;
  updatedAt: string;
}

const FILTER = `t.dag_run_id = $1::bigint AND ${CURRENT_TRY} AND ($2::text IS NULL OR starts_with(t.task_id, $2))`;

const PAGE_SQL = `SELECT t.id::text AS id, t.task_id, t.map_index, t.try_number, t.state, t.updated_at,
  (SELECT count(*)::int FROM task_state s
     WHERE s.dag_run_id = t.dag_run_id AND s.task_id = t.task_id AND s.map_index = t.map_index AND ${LIVE}) AS keys
FROM task_instance t
WHERE ${FILTER} AND ($3::text IS NULL OR (t.task_id, t.map_index) > ($3::text, $4::int))
ORDER BY t.task_id, t.map_index LIMIT $5`;

const COUNT_SQL = `SELECT count(*)::int AS total FROM task_instance t WHERE ${FILTER}`;

interface Row {
  id: string;
  task_id: string;
  map_index: number;
  try_number: number;
  state: string | null;
  updated_at: Date | string;
  keys: number;
}

export async function listTaskInstances(
  sql: SqlRunner,
  input: {
    dagId: string;
    runId: string;
    taskIdPrefix?: string | undefined;
    limit: number;
    cursor?: string | null;
  },
) {
  const after = decodeListCursor<[string, number]>(input.cursor, ["string", "number"]);
  const dagRunId = await dagRunIdOf(sql, input.dagId, input.runId);
  const filter = [dagRunId, input.taskIdPrefix || null];
  const [rows, [count]] = await Promise.all([
    sql.query<Row>(
      PAGE_SQL,
      [...filter, after?.[0] ?? null, after?.[1] ?? null, input.limit + 1],
      "operator_task_instance_list",
    ),
    sql.query<{ total: number }>(COUNT_SQL, filter, "operator_task_instance_count"),
  ]);
  return listPage(
    rows,
    input.limit,
    count?.total ?? 0,
    (row): TaskInstanceItem => ({
      id: row.id,
      taskId: row.task_id,
      mapIndex: row.map_index,
      tryNumber: row.try_number,
      state: row.state,
      keys: row.keys,
      updatedAt: toIso(row.updated_at),
    }),
    (row) => [row.task_id, row.map_index],
  );
}
