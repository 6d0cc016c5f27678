// The SQL of Cairn's task-state hot path, copied from packages/api/src/services/task-state.ts and
// task-instance-scope.ts (as of this harness's writing) so the baselines B1 and B2 do the same database
// work as P: one statement per get and per set, the current-try check folded into a CTE, and a second
// query only to explain a miss. When Cairn's SQL changes, the baselines keep measuring this reference
// shape; update it here if the reference should move too.

const CURRENT_TRY_CTE = `ti AS (
  SELECT t.dag_run_id, t.task_id, t.map_index FROM task_instance t
  WHERE t.id = $1::uuid AND NOT EXISTS (
    SELECT 1 FROM task_instance n
    WHERE n.dag_run_id = t.dag_run_id AND n.task_id = t.task_id AND n.map_index = t.map_index
      AND n.try_number > t.try_number))`;

const IN_NAMESPACE = "s.dag_run_id = ti.dag_run_id AND s.task_id = ti.task_id AND s.map_index = ti.map_index";
const ENTRY_COLUMNS = "s.key, s.value, s.version, s.updated_at, s.expires_at";
const LIVE = "(s.expires_at IS NULL OR s.expires_at > now())";
const NEXT_VERSION =
  "CASE WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN 1 ELSE s.version + 1 END";

export const GET_SQL = `WITH ${CURRENT_TRY_CTE}
SELECT ${ENTRY_COLUMNS} FROM task_state s JOIN ti ON ${IN_NAMESPACE}
WHERE s.key = $2 AND ${LIVE}`;

const UPSERT_SQL = `WITH ${CURRENT_TRY_CTE}
INSERT INTO task_state AS s (dag_run_id, task_id, map_index, key, value, version, updated_at, expires_at)
SELECT ti.dag_run_id, ti.task_id, ti.map_index, $2, $3::jsonb, 1, now(), $4::timestamptz FROM ti
ON CONFLICT (dag_run_id, task_id, map_index, key) DO UPDATE
SET value = EXCLUDED.value, version = ${NEXT_VERSION}, updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at`;

export const SET_SQL = `${UPSERT_SQL}
RETURNING s.version`;

export const CREATE_SQL = `${UPSERT_SQL}
WHERE s.expires_at IS NOT NULL AND s.expires_at <= now()
RETURNING s.version`;

export const COMPARE_AND_SET_SQL = `WITH ${CURRENT_TRY_CTE}
UPDATE task_state s SET value = $3::jsonb, version = s.version + 1, updated_at = now(), expires_at = $4::timestamptz
FROM ti WHERE ${IN_NAMESPACE} AND s.key = $2 AND s.version = $5 AND ${LIVE}
RETURNING s.version`;

/** Cold path: why a get or set found nothing (unknown or superseded task instance). */
export const RESOLVE_SQL = `SELECT t.dag_run_id::text, r.dag_id, r.run_id, t.task_id, t.map_index, t.try_number,
       EXISTS (SELECT 1 FROM task_instance n
               WHERE n.dag_run_id = t.dag_run_id AND n.task_id = t.task_id AND n.map_index = t.map_index
                 AND n.try_number > t.try_number) AS superseded
     FROM task_instance t JOIN dag_run r ON r.id = t.dag_run_id WHERE t.id = $1::uuid`;

/** Cairn's default retention (CAIRN_DEFAULT_RETENTION_DAYS = 30) as the expiry of a write. */
export function defaultExpiry(): string {
  return new Date(Date.now() + 30 * 86_400_000).toISOString();
}
