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
import {
  CURRENT_TRY,
  IN_NAMESPACE,
  namespaceKind,
  namespaceParam,
  perNamespace,
  type ResolvedNamespace,
  resolveNamespace,
  type TaskNamespace,
} from "./task-instance-scope.ts";
import { TickBatcher } from "./tick-batcher.ts";

export interface StateLimits {
  maxValueBytes: number;
  defaultRetentionDays: number;
}

// An expired row is a key that no longer exists: writing it starts again at version 1.
const NEXT_VERSION =
  "CASE WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN 1 ELSE s.version + 1 END";

const GET_SQL = perNamespace(
  (ti) => `WITH ${ti}
SELECT ${ENTRY_COLUMNS} FROM task_state s JOIN ti ON ${IN_NAMESPACE}
WHERE s.key = $2 AND ${LIVE}`,
);

/** Statement names are per SQL text: one per statement and kind of namespace. */
function statement(name: string, ns: TaskNamespace): string {
  return namespaceKind(ns) === "instance" ? `task_state_${name}` : `task_state_${name}_by_address`;
}

export async function getTaskState(
  db: Database,
  input: TaskNamespace & { key: string },
): Promise<StateEntry> {
  const row =
    "taskInstanceId" in input
      ? await batchersOf(db).get.add({ taskInstanceId: input.taskInstanceId, key: input.key })
      : await getOne(db.sql, input);
  if (row) return toEntry(row);
  await resolveNamespace(db.sql, input);
  throw notFound("key_not_found", `key "${input.key}" does not exist`);
}

async function getOne(sql: SqlRunner, input: TaskNamespace & { key: string }): Promise<StateRow | null> {
  const rows = await sql.query<StateRow>(
    GET_SQL[namespaceKind(input)],
    [namespaceParam(input), input.key],
    statement("get", input),
  );
  return rows[0] ?? null;
}

/** Concurrent gets by task instance in one statement; `ord` maps rows back to the items. */
const GET_MANY_SQL = `WITH input AS (
  SELECT (e->>'id')::uuid AS ti_id, e->>'key' AS key, ord
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, ord))
SELECT i.ord::int AS ord, ${ENTRY_COLUMNS}
FROM input i JOIN task_instance t ON t.id = i.ti_id AND ${CURRENT_TRY}
JOIN task_state s ON s.dag_run_id = t.dag_run_id AND s.task_id = t.task_id AND s.map_index = t.map_index
  AND s.key = i.key AND ${LIVE}`;

async function getMany(
  sql: SqlRunner,
  items: { taskInstanceId: string; key: string }[],
): Promise<(StateRow | null | undefined)[]> {
  const rows = await sql.query<StateRow & { ord: number }>(
    GET_MANY_SQL,
    [JSON.stringify(items.map((item) => ({ id: item.taskInstanceId, key: item.key })))],
    "task_state_get_many",
  );
  const found: (StateRow | null | undefined)[] = items.map(() => null);
  for (const row of rows) found[row.ord - 1] = row;
  return found;
}

/**
 * Concurrent unconditional sets by task instance in one statement. Rows are written in key order so that
 * two such statements lock rows in the same order (no deadlock). Items without a returned version (unknown
 * or superseded task instance) take the single path, which says why.
 */
const SET_MANY_SQL = `WITH input AS (
  SELECT (e->>'id')::uuid AS ti_id, e->>'key' AS key, e->'value' AS value,
    (e->>'expiresAt')::timestamptz AS expires_at, ord
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, ord)),
target AS (
  SELECT i.ord, t.dag_run_id, t.task_id, t.map_index, i.key, i.value, i.expires_at
  FROM input i JOIN task_instance t ON t.id = i.ti_id AND ${CURRENT_TRY}),
written AS (
  INSERT INTO task_state AS s (dag_run_id, task_id, map_index, key, value, version, updated_at, expires_at)
  SELECT dag_run_id, task_id, map_index, key, value, 1, now(), expires_at FROM target
  ORDER BY dag_run_id, task_id, map_index, key
  ON CONFLICT (dag_run_id, task_id, map_index, key) DO UPDATE
  SET value = EXCLUDED.value, version = ${NEXT_VERSION},
    updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at
  RETURNING s.dag_run_id, s.task_id, s.map_index, s.key, s.version)
SELECT target.ord::int AS ord, written.version FROM target JOIN written USING (dag_run_id, task_id, map_index, key)`;

interface SetItem {
  taskInstanceId: string;
  key: string;
  json: string;
  expiresAt: string | null;
}

async function setMany(sql: SqlRunner, items: SetItem[]): Promise<({ version: number } | undefined)[]> {
  // The value goes in as JSON inside the JSON parameter: one parameter, whatever the number of items.
  const payload = `[${items
    .map(
      (item) =>
        `{"id":${JSON.stringify(item.taskInstanceId)},"key":${JSON.stringify(item.key)},"value":${item.json},"expiresAt":${JSON.stringify(item.expiresAt)}}`,
    )
    .join(",")}]`;
  const rows = await sql.query<{ ord: number; version: number }>(
    SET_MANY_SQL,
    [payload],
    "task_state_set_many",
  );
  const versions: ({ version: number } | undefined)[] = items.map(() => undefined);
  for (const row of rows) versions[row.ord - 1] = { version: row.version };
  return versions;
}

async function setOne(sql: SqlRunner, item: SetItem): Promise<{ version: number } | undefined> {
  const rows = await sql.query<{ version: number }>(
    SET_SQL.instance,
    [item.taskInstanceId, item.key, item.json, item.expiresAt],
    "task_state_set",
  );
  return rows[0];
}

interface Batchers {
  get: TickBatcher<{ taskInstanceId: string; key: string }, StateRow | null>;
  set: TickBatcher<SetItem, { version: number } | null>;
}

const batchers = new WeakMap<Database, Batchers>();

function sameKey(item: { taskInstanceId: string; key: string }): string {
  return `${item.taskInstanceId}\u0000${item.key}`;
}

function batchersOf(db: Database): Batchers {
  const existing = batchers.get(db);
  if (existing) return existing;
  const created: Batchers = {
    get: new TickBatcher<{ taskInstanceId: string; key: string }, StateRow | null>(
      (items) => getMany(db.sql, items),
      (item) => getOne(db.sql, item),
      sameKey,
    ),
    set: new TickBatcher<SetItem, { version: number } | null>(
      (items) => setMany(db.sql, items),
      // A missing version sends the item down the single path's diagnosis in setTaskState.
      async (item) => (await setOne(db.sql, item)) ?? null,
      sameKey,
    ),
  };
  batchers.set(db, created);
  return created;
}

const upsertSql = (ti: string) => `WITH ${ti}
INSERT INTO task_state AS s (dag_run_id, task_id, map_index, key, value, version, updated_at, expires_at)
SELECT ti.dag_run_id, ti.task_id, ti.map_index, $2, $3::jsonb, 1, now(), $4::timestamptz FROM ti
ON CONFLICT (dag_run_id, task_id, map_index, key) DO UPDATE
SET value = EXCLUDED.value, version = ${NEXT_VERSION}, updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at`;

/** Unconditional write: one race-free statement; concurrent writers all succeed, the last one wins. */
const SET_SQL = perNamespace(
  (ti) => `${upsertSql(ti)}
RETURNING s.version`,
);

/** ifVersion 0: create only; an existing (unexpired) key is left alone and nothing is returned. */
const CREATE_SQL = perNamespace(
  (ti) => `${upsertSql(ti)}
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
  const json = encodeValue(input.value, limits.maxValueBytes);
  const expiresAt = resolveExpiry(input.expiresAt, limits.defaultRetentionDays);
  const kind = namespaceKind(input);
  const params = [namespaceParam(input), input.key, json, expiresAt];
  const { ifVersion } = input;
  if (ifVersion === undefined && "taskInstanceId" in input) {
    const written = await batchersOf(db).set.add({
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
  await resolveNamespace(db.sql, input);
  throw versionMismatch(input.key, ifVersion ?? 0, await currentVersion(db.sql, input, input.key));
}

const VERSION_SQL = perNamespace(
  (ti) =>
    `WITH ${ti} SELECT s.version FROM task_state s JOIN ti ON ${IN_NAMESPACE} WHERE s.key = $2 AND ${LIVE}`,
);

async function currentVersion(sql: SqlRunner, ns: TaskNamespace, key: string): Promise<number | null> {
  const rows = await sql.query<{ version: number }>(
    VERSION_SQL[namespaceKind(ns)],
    [namespaceParam(ns), key],
    statement("version", ns),
  );
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
    await resolveNamespace(db.sql, input);
    const current = await currentVersion(db.sql, input, key);
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
  await resolveNamespace(db.sql, input);
  if (ifVersion === undefined) return { deleted: false };
  throw versionMismatch(key, ifVersion, await currentVersion(db.sql, input, key));
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
       WHERE s.dag_run_id = $1::bigint AND s.task_id = $2 AND ($3::int IS NULL OR s.map_index = $3)
       RETURNING ${LIVE} AS live)
     SELECT count(*) FILTER (WHERE live)::int AS deleted FROM d`,
    [scope.dagRunId, scope.taskId, allMapIndices ? null : scope.mapIndex],
    "task_state_clear",
  );
  return { deleted: rows[0]?.deleted ?? 0 };
}

const LIST_SQL = perNamespace(
  (ti) => `WITH ${ti}
SELECT ${ENTRY_COLUMNS} FROM task_state s JOIN ti ON ${IN_NAMESPACE}
WHERE ${LIVE} AND ($2::text IS NULL OR starts_with(s.key, $2)) AND ($3::text IS NULL OR s.key > $3)
ORDER BY s.key LIMIT $4`,
);

export type ListTaskStateInput = TaskNamespace & {
  prefix?: string | undefined;
  limit: number;
  cursor?: string | null | undefined;
};

export async function listTaskState(db: Database, input: ListTaskStateInput): Promise<Page<StateEntry>> {
  const after = decodeCursor(input.cursor);
  const rows = await db.sql.query<StateRow>(
    LIST_SQL[namespaceKind(input)],
    [namespaceParam(input), input.prefix || null, after, input.limit + 1],
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
): Promise<Page<StateEntry> & { total: number }> {
  const page = await listTaskState(db, input);
  const [count] = await db.sql.query<{ total: number }>(
    COUNT_SQL[namespaceKind(input)],
    [namespaceParam(input), input.prefix || null],
    statement("count", input),
  );
  return { ...page, total: count?.total ?? 0 };
}
