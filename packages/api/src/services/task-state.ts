// Task state (spec §4, execution plane): keyed by (dag run, task, map index), shared by every try.
// get/set/delete are one SQL statement each on success; failures take a second query to say why.
import type { Database, SqlRunner } from "@cairn/db";
import { notFound, versionMismatch } from "../errors.ts";
import { encodeValue } from "../values.ts";
import {
  decodeCursor,
  ENTRY_COLUMNS,
  LIVE,
  type Page,
  resolveExpiry,
  type StateEntry,
  type StateRow,
  toEntry,
  toPage,
} from "./state-entries.ts";
import { CURRENT_TRY_CTE, IN_NAMESPACE, resolveTaskInstance } from "./task-instance-scope.ts";

export interface StateLimits {
  maxValueBytes: number;
  defaultRetentionDays: number;
}

const GET_SQL = `WITH ${CURRENT_TRY_CTE}
SELECT ${ENTRY_COLUMNS} FROM task_state s JOIN ti ON ${IN_NAMESPACE}
WHERE s.key = $2 AND ${LIVE}`;

export async function getTaskState(
  db: Database,
  input: { taskInstanceId: string; key: string },
): Promise<StateEntry> {
  const rows = await db.sql.query<StateRow>(GET_SQL, [input.taskInstanceId, input.key], "task_state_get");
  const row = rows[0];
  if (row) return toEntry(row);
  await resolveTaskInstance(db.sql, input.taskInstanceId);
  throw notFound("key_not_found", `key "${input.key}" does not exist`);
}

// An expired row is a key that no longer exists: writing it starts again at version 1.
const NEXT_VERSION =
  "CASE WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN 1 ELSE s.version + 1 END";

const UPSERT_SQL = `WITH ${CURRENT_TRY_CTE}
INSERT INTO task_state AS s (dag_run_id, task_id, map_index, key, value, version, updated_at, expires_at)
SELECT ti.dag_run_id, ti.task_id, ti.map_index, $2, $3::jsonb, 1, now(), $4::timestamptz FROM ti
ON CONFLICT (dag_run_id, task_id, map_index, key) DO UPDATE
SET value = EXCLUDED.value, version = ${NEXT_VERSION}, updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at`;

/** Unconditional write: one race-free statement; concurrent writers all succeed, the last one wins. */
const SET_SQL = `${UPSERT_SQL}
RETURNING s.version`;

/** ifVersion 0: create only; an existing (unexpired) key is left alone and nothing is returned. */
const CREATE_SQL = `${UPSERT_SQL}
WHERE s.expires_at IS NOT NULL AND s.expires_at <= now()
RETURNING s.version`;

/** ifVersion n: compare-and-set. Concurrent writers of the same n: the row lock lets exactly one through. */
const COMPARE_AND_SET_SQL = `WITH ${CURRENT_TRY_CTE}
UPDATE task_state s SET value = $3::jsonb, version = s.version + 1, updated_at = now(), expires_at = $4::timestamptz
FROM ti WHERE ${IN_NAMESPACE} AND s.key = $2 AND s.version = $5 AND ${LIVE}
RETURNING s.version`;

export async function setTaskState(
  db: Database,
  limits: StateLimits,
  input: { taskInstanceId: string; key: string; value: unknown; expiresAt?: Date | null; ifVersion?: number },
): Promise<{ version: number }> {
  const json = encodeValue(input.value, limits.maxValueBytes);
  const expiresAt = resolveExpiry(input.expiresAt, limits.defaultRetentionDays);
  const params = [input.taskInstanceId, input.key, json, expiresAt];
  const { ifVersion } = input;
  const rows =
    ifVersion === undefined
      ? await db.sql.query<{ version: number }>(SET_SQL, params, "task_state_set")
      : ifVersion === 0
        ? await db.sql.query<{ version: number }>(CREATE_SQL, params, "task_state_create")
        : await db.sql.query<{ version: number }>(
            COMPARE_AND_SET_SQL,
            [...params, ifVersion],
            "task_state_cas",
          );
  const row = rows[0];
  if (row) return { version: row.version };
  await resolveTaskInstance(db.sql, input.taskInstanceId);
  throw versionMismatch(
    input.key,
    ifVersion ?? 0,
    await currentVersion(db.sql, input.taskInstanceId, input.key),
  );
}

async function currentVersion(sql: SqlRunner, taskInstanceId: string, key: string): Promise<number | null> {
  const rows = await sql.query<{ version: number }>(
    `WITH ${CURRENT_TRY_CTE} SELECT s.version FROM task_state s JOIN ti ON ${IN_NAMESPACE} WHERE s.key = $2 AND ${LIVE}`,
    [taskInstanceId, key],
    "task_state_version",
  );
  return rows[0]?.version ?? null;
}

const DELETE_SQL = `WITH ${CURRENT_TRY_CTE}
DELETE FROM task_state s USING ti
WHERE ${IN_NAMESPACE} AND s.key = $2 AND ($3::int IS NULL OR (s.version = $3 AND ${LIVE}))
RETURNING ${LIVE} AS live`;

export async function deleteTaskState(
  db: Database,
  input: { taskInstanceId: string; key: string; ifVersion?: number },
): Promise<{ deleted: boolean }> {
  const { taskInstanceId, key, ifVersion } = input;
  if (ifVersion === 0) {
    // "Only if it does not exist": nothing to delete either way; an existing key is a conflict.
    await resolveTaskInstance(db.sql, taskInstanceId);
    const current = await currentVersion(db.sql, taskInstanceId, key);
    if (current !== null) throw versionMismatch(key, 0, current);
    return { deleted: false };
  }
  const rows = await db.sql.query<{ live: boolean }>(
    DELETE_SQL,
    [taskInstanceId, key, ifVersion ?? null],
    "task_state_delete",
  );
  const row = rows[0];
  // An expired row is deleted too, but it was already invisible: it does not count as deleted.
  if (row) return { deleted: row.live };
  await resolveTaskInstance(db.sql, taskInstanceId);
  if (ifVersion === undefined) return { deleted: false };
  throw versionMismatch(key, ifVersion, await currentVersion(db.sql, taskInstanceId, key));
}

export async function clearTaskState(
  db: Database,
  input: { taskInstanceId: string; allMapIndices?: boolean },
): Promise<{ deleted: number }> {
  const scope = await resolveTaskInstance(db.sql, input.taskInstanceId);
  const rows = await db.sql.query<{ deleted: number }>(
    `WITH d AS (
       DELETE FROM task_state s
       WHERE s.dag_run_id = $1::bigint AND s.task_id = $2 AND ($3::int IS NULL OR s.map_index = $3)
       RETURNING ${LIVE} AS live)
     SELECT count(*) FILTER (WHERE live)::int AS deleted FROM d`,
    [scope.dagRunId, scope.taskId, input.allMapIndices ? null : scope.mapIndex],
    "task_state_clear",
  );
  return { deleted: rows[0]?.deleted ?? 0 };
}

const LIST_SQL = `WITH ${CURRENT_TRY_CTE}
SELECT ${ENTRY_COLUMNS} FROM task_state s JOIN ti ON ${IN_NAMESPACE}
WHERE ${LIVE} AND ($2::text IS NULL OR starts_with(s.key, $2)) AND ($3::text IS NULL OR s.key > $3)
ORDER BY s.key LIMIT $4`;

export async function listTaskState(
  db: Database,
  input: {
    taskInstanceId: string;
    prefix?: string | undefined;
    limit: number;
    cursor?: string | null | undefined;
  },
): Promise<Page<StateEntry>> {
  const after = decodeCursor(input.cursor);
  const rows = await db.sql.query<StateRow>(
    LIST_SQL,
    [input.taskInstanceId, input.prefix || null, after, input.limit + 1],
    "task_state_list",
  );
  // An empty page may mean an unknown or superseded task instance: say so rather than "no keys".
  if (rows.length === 0) await resolveTaskInstance(db.sql, input.taskInstanceId);
  return toPage(rows, input.limit);
}
