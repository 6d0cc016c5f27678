// Concurrent task-state calls by task instance (a tRPC batch reaches the service this way) served by one
// multi-row statement each: one round trip and one commit instead of one per call.
import type { Database, SqlRunner } from "@cairn/db";
import { ENTRY_COLUMNS, LIVE, NEXT_VERSION, type StateRow } from "./state-entries.ts";
import { CURRENT_TRY } from "./task-instance-scope.ts";
import { TickBatcher } from "./tick-batcher.ts";

/** Concurrent gets by task instance in one statement; `ord` maps rows back to the items. */
const GET_MANY_SQL = `WITH input AS (
  SELECT (e->>'id')::uuid AS ti_id, e->>'key' AS key, ord
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, ord))
SELECT i.ord::int AS ord, ${ENTRY_COLUMNS}
FROM input i JOIN task_instance t ON t.id = i.ti_id AND ${CURRENT_TRY}
LEFT JOIN task_state s ON s.dag_run_id = t.dag_run_id AND s.task_id = t.task_id AND s.map_index = t.map_index
  AND s.key = i.key AND ${LIVE}`;

/** A get whose namespace resolved: the row, or null when the key does not exist (or has expired). */
export interface Lookup {
  row: StateRow | null;
}

async function getMany(
  sql: SqlRunner,
  items: { taskInstanceId: string; key: string }[],
): Promise<(Lookup | undefined)[]> {
  const rows = await sql.query<StateRow & { ord: number }>(
    GET_MANY_SQL,
    [JSON.stringify(items.map((item) => ({ id: item.taskInstanceId, key: item.key })))],
    "task_state_get_many",
  );
  // An item without a row has no current task instance: the single path explains it.
  const found: (Lookup | undefined)[] = items.map(() => undefined);
  for (const row of rows) found[row.ord - 1] = { row: row.key === null ? null : row };
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

export interface SetItem {
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

interface Batchers {
  get: TickBatcher<{ taskInstanceId: string; key: string }, Lookup | null>;
  set: TickBatcher<SetItem, { version: number } | null>;
}

const batchers = new WeakMap<Database, Batchers>();

function sameKey(item: { taskInstanceId: string; key: string }): string {
  return `${item.taskInstanceId}\u0000${item.key}`;
}

export interface SinglePaths {
  getOne(sql: SqlRunner, item: { taskInstanceId: string; key: string }): Promise<Lookup | null>;
  setOne(sql: SqlRunner, item: SetItem): Promise<{ version: number } | undefined>;
}

export function batchersOf(db: Database, singles: SinglePaths): Batchers {
  const existing = batchers.get(db);
  if (existing) return existing;
  const created: Batchers = {
    get: new TickBatcher<{ taskInstanceId: string; key: string }, Lookup | null>(
      (items) => getMany(db.sql, items),
      (item) => singles.getOne(db.sql, item),
      sameKey,
    ),
    set: new TickBatcher<SetItem, { version: number } | null>(
      (items) => setMany(db.sql, items),
      // A missing version sends the item down the single path's diagnosis in setTaskState.
      async (item) => (await singles.setOne(db.sql, item)) ?? null,
      sameKey,
    ),
  };
  batchers.set(db, created);
  return created;
}
