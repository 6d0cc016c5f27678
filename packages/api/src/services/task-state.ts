// Task state (spec §4, execution plane): keyed by (dag run, task, map index), shared by every try.
// get/set/delete are one SQL statement each on success; failures take a second query to say why. Gets and
// sets by task instance go through a TickBatcher to the statements of task-state-statements.ts.
import type { Database, SqlRunner } from "@cairn/db";
import { notFound, versionMismatch } from "../errors.ts";
import { encodeValue } from "../values.ts";
import {
  CLEARING,
  decodeCursor,
  ENTRY_COLUMNS,
  isParentDeleted,
  LIVE,
  type Page,
  type PageRow,
  resolveExpiry,
  type StateEntry,
  toEntry,
  toPage,
  withinByteBudget,
} from "./state-entries.ts";
import {
  IN_NAMESPACE,
  namespaceKind,
  namespaceParam,
  perNamespace,
  type ResolvedNamespace,
  resolveNamespace,
  type TaskNamespace,
} from "./task-instance-scope.ts";
import {
  getMany,
  getOne,
  SET_SQL,
  sameKey,
  setMany,
  setOne,
  statement,
  upsertOneSql,
} from "./task-state-statements.ts";
import { TickBatcher } from "./tick-batcher.ts";

export interface StateLimits {
  maxValueBytes: number;
  defaultRetentionDays: number;
}

/** Gets and unconditional sets by task instance made in one event-loop turn share one statement each. */
const gets = new TickBatcher(getMany, getOne, sameKey);
const sets = new TickBatcher(setMany, setOne, sameKey);

export async function getTaskState(
  db: Database,
  input: TaskNamespace & { key: string },
): Promise<StateEntry> {
  const lookup =
    "taskInstanceId" in input
      ? await gets.add(db.sql, { taskInstanceId: input.taskInstanceId, key: input.key })
      : await getOne(db.sql, input);
  if (lookup?.row) return toEntry(lookup.row);
  // No lookup: the namespace did not resolve (unknown or superseded try, unknown dag run); this says which.
  if (!lookup) await resolveNamespace(db.sql, input);
  throw notFound("key_not_found", `key "${input.key}" does not exist`);
}

/** ifVersion 0: create only; an existing (unexpired) key is left alone and nothing is returned. */
const CREATE_SQL = perNamespace(
  (ti) => `${upsertOneSql(ti)}
WHERE s.expires_at IS NOT NULL AND s.expires_at <= now()
RETURNING s.version`,
);

/** ifVersion n: compare-and-set. Concurrent writers of the same n: the row lock lets exactly one through. */
const COMPARE_AND_SET_SQL = perNamespace(
  (ti) => `WITH ${ti}
UPDATE task_state s SET value = $3::jsonb, version = s.version + 1, updated_at = now(), expires_at = $4::timestamptz
FROM ti WHERE ${IN_NAMESPACE} AND s.key = $2 AND s.version = $5 AND ${LIVE}
RETURNING s.version`,
);

export type SetTaskStateInput = TaskNamespace & {
  key: string;
  value: unknown;
  expiresAt?: Date | null | undefined;
  ifVersion?: number | undefined;
};

export async function setTaskState(
  db: Database,
  limits: StateLimits,
  input: SetTaskStateInput,
): Promise<{ version: number }> {
  try {
    return await writeTaskState(db, limits, input);
  } catch (error) {
    // Its dag run was deleted while the write ran: resolving the namespace now says so (NOT_FOUND).
    if (isParentDeleted(error)) await resolveNamespace(db.sql, input);
    throw error;
  }
}

async function writeTaskState(
  db: Database,
  limits: StateLimits,
  input: SetTaskStateInput,
): Promise<{ version: number }> {
  const json = encodeValue(input.value, limits.maxValueBytes);
  const expiresAt = resolveExpiry(input.expiresAt, limits.defaultRetentionDays);
  const kind = namespaceKind(input);
  const params = [namespaceParam(input), input.key, json, expiresAt];
  const { ifVersion } = input;
  if (ifVersion === undefined && "taskInstanceId" in input) {
    const written = await sets.add(db.sql, {
      taskInstanceId: input.taskInstanceId,
      key: input.key,
      json,
      expiresAt,
    });
    if (written) return written;
    await resolveNamespace(db.sql, input);
    throw new Error("an unconditional set of a current task instance wrote nothing");
  }
  const rows =
    ifVersion === undefined
      ? await db.sql.query<{ version: number }>(SET_SQL[kind], params, statement("set", input))
      : ifVersion === 0
        ? await db.sql.query<{ version: number }>(CREATE_SQL[kind], params, statement("create", input))
        : await db.sql.query<{ version: number }>(
            COMPARE_AND_SET_SQL[kind],
            [...params, ifVersion],
            statement("cas", input),
          );
  const row = rows[0];
  if (row) return { version: row.version };
  throw versionMismatch(input.key, ifVersion ?? 0, await versionNow(db.sql, input, input.key));
}

const VERSION_SQL = perNamespace(
  (ti) => `WITH ${ti} SELECT EXISTS (SELECT 1 FROM ti) AS resolved,
  (SELECT s.version FROM task_state s JOIN ti ON ${IN_NAMESPACE} WHERE s.key = $2 AND ${LIVE}) AS version`,
);

/**
 * The key's version now (null when it does not exist), in one statement with the namespace, so a dag run
 * deleted between two queries cannot pass for a missing key. Throws why when the namespace is gone.
 */
async function versionNow(sql: SqlRunner, ns: TaskNamespace, key: string): Promise<number | null> {
  const rows = await sql.query<{ resolved: boolean; version: number | null }>(
    VERSION_SQL[namespaceKind(ns)],
    [namespaceParam(ns), key],
    statement("version", ns),
  );
  if (!rows[0]?.resolved) await resolveNamespace(sql, ns);
  return rows[0]?.version ?? null;
}

const DELETE_SQL = perNamespace(
  (ti) => `WITH ${ti}
DELETE FROM task_state s USING ti
WHERE ${IN_NAMESPACE} AND s.key = $2 AND ($3::int IS NULL OR (s.version = $3 AND ${LIVE}))
RETURNING ${LIVE} AS live`,
);

export async function deleteTaskState(
  db: Database,
  input: TaskNamespace & { key: string; ifVersion?: number | undefined },
): Promise<{ deleted: boolean }> {
  const { key, ifVersion } = input;
  if (ifVersion === 0) {
    // "Only if it does not exist": nothing to delete either way; an existing key is a conflict.
    const current = await versionNow(db.sql, input, key);
    if (current !== null) throw versionMismatch(key, 0, current);
    return { deleted: false };
  }
  const rows = await db.sql.query<{ live: boolean }>(
    DELETE_SQL[namespaceKind(input)],
    [namespaceParam(input), key, ifVersion ?? null],
    statement("delete", input),
  );
  const row = rows[0];
  // An expired row is deleted too, but it was already invisible: it does not count as deleted.
  if (row) return { deleted: row.live };
  const current = await versionNow(db.sql, input, key);
  if (ifVersion === undefined) return { deleted: false };
  throw versionMismatch(key, ifVersion, current);
}

/** Deletes the namespace's keys (every map index of the task with allMapIndices); returns how many were live. */
export async function clearTaskState(
  db: Database,
  input: TaskNamespace & { allMapIndices?: boolean | undefined },
): Promise<{ deleted: number }> {
  const scope = await resolveNamespace(db.sql, input);
  return clearResolvedNamespace(db.sql, scope, input.allMapIndices ?? false);
}

export async function clearResolvedNamespace(
  sql: SqlRunner,
  scope: ResolvedNamespace,
  allMapIndices: boolean,
): Promise<{ deleted: number }> {
  const rows = await sql.query<{ deleted: number }>(
    `WITH d AS (
       DELETE FROM task_state s
       WHERE s.dag_run_id = $1::bigint AND s.task_id = $2 AND ($3::int IS NULL OR s.map_index = $3) AND ${CLEARING}
       RETURNING ${LIVE} AS live)
     SELECT count(*) FILTER (WHERE live)::int AS deleted FROM d`,
    [scope.dagRunId, scope.taskId, allMapIndices ? null : scope.mapIndex],
    "task_state_clear",
  );
  return { deleted: rows[0]?.deleted ?? 0 };
}

const LIST_SQL = perNamespace(
  (ti) => `WITH ${ti}
${withinByteBudget(
  `SELECT ${ENTRY_COLUMNS} FROM task_state s JOIN ti ON ${IN_NAMESPACE}
WHERE ${LIVE} AND ($2::text IS NULL OR starts_with(s.key, $2)) AND ($3::text IS NULL OR s.key > $3)
ORDER BY s.key LIMIT $4`,
  "$5",
)}`,
);

export type ListTaskStateInput = TaskNamespace & {
  prefix?: string | undefined;
  limit: number;
  cursor?: string | null | undefined;
};

export async function listTaskState(
  db: Database,
  input: ListTaskStateInput,
  maxPageBytes: number,
): Promise<Page<StateEntry>> {
  const after = decodeCursor(input.cursor);
  const rows = await db.sql.query<PageRow>(
    LIST_SQL[namespaceKind(input)],
    [namespaceParam(input), input.prefix || null, after, input.limit + 1, maxPageBytes],
    statement("list", input),
  );
  // An empty page may mean an unknown or superseded task instance: say so rather than "no keys".
  if (rows.length === 0) await resolveNamespace(db.sql, input);
  return toPage(rows, input.limit);
}

const COUNT_SQL = perNamespace(
  (ti) => `WITH ${ti}
SELECT count(*)::int AS total FROM task_state s JOIN ti ON ${IN_NAMESPACE}
WHERE ${LIVE} AND ($2::text IS NULL OR starts_with(s.key, $2))`,
);

/** Admin listing: a page and the number of live keys matching the prefix. */
export async function listTaskStateWithTotal(
  db: Database,
  input: ListTaskStateInput,
  maxPageBytes: number,
): Promise<Page<StateEntry> & { total: number }> {
  const page = await listTaskState(db, input, maxPageBytes);
  const [count] = await db.sql.query<{ total: number }>(
    COUNT_SQL[namespaceKind(input)],
    [namespaceParam(input), input.prefix || null],
    statement("count", input),
  );
  return { ...page, total: count?.total ?? 0 };
}
