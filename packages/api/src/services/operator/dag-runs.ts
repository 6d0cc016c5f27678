// admin.dagRuns.list (spec §7): dag runs newest first, with how many task instances and live keys each has.
import type { SqlRunner } from "@cairn/db";
import { LIVE, toIso } from "../state-entries.ts";
import { decodeListCursor, listPage } from "./cursor.ts";

export interface DagRunItem {
  dagId: string;
  runId: string;
  createdAt: string;
  /** Task instances (current tries: one per task and map index). */
  taskInstances: number;
  keys: number;
}

const FILTER = "($1::text IS NULL OR r.dag_id = $1) AND ($2::text IS NULL OR starts_with(r.run_id, $2))";

// Newest first by (created_at, id), which the index dag_run_created_at_id_idx serves: a page costs its
// rows, whatever the table's size.
const PAGE_SQL = `SELECT r.id::text AS id, r.dag_id, r.run_id, r.created_at,
  (SELECT count(*)::int FROM (SELECT DISTINCT t.task_id, t.map_index FROM task_instance t
     WHERE t.dag_run_id = r.id) d) AS task_instances,
  (SELECT count(*)::int FROM task_state s WHERE s.dag_run_id = r.id AND ${LIVE}) AS keys
FROM dag_run r
WHERE ${FILTER} AND ($3::timestamptz IS NULL OR (r.created_at, r.id) < ($3::timestamptz, $4::bigint))
ORDER BY r.created_at DESC, r.id DESC LIMIT $5`;

const COUNT_SQL = `SELECT count(*)::int AS total FROM dag_run r WHERE ${FILTER}`;

interface Row {
  id: string;
  dag_id: string;
  run_id: string;
  created_at: Date | string;
  task_instances: number;
  keys: number;
}

export async function listDagRuns(
  sql: SqlRunner,
  input: {
    dagId?: string | undefined;
    runIdPrefix?: string | undefined;
    limit: number;
    cursor?: string | null;
  },
) {
  const after = decodeListCursor<[string, string]>(input.cursor, ["string", "string"]);
  const filter = [input.dagId ?? null, input.runIdPrefix || null];
  const [rows, [count]] = await Promise.all([
    sql.query<Row>(
      PAGE_SQL,
      [...filter, after?.[0] ?? null, after?.[1] ?? null, input.limit + 1],
      "operator_dag_run_list",
    ),
    sql.query<{ total: number }>(COUNT_SQL, filter, "operator_dag_run_count"),
  ]);
  return listPage(
    rows,
    input.limit,
    count?.total ?? 0,
    (row): DagRunItem => ({
      dagId: row.dag_id,
      runId: row.run_id,
      createdAt: toIso(row.created_at),
      taskInstances: row.task_instances,
      keys: row.keys,
    }),
    (row) => [toIso(row.created_at), row.id],
  );
}
