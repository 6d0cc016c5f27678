// The statements of task state's hot path: get and unconditional set by task instance, for one call and
// for the concurrent calls of one event-loop turn (tick-batcher.ts). Both kinds of set write through one
// upsert, so one row and many rows cannot drift apart.
import type { SqlRunner } from "@cairn/db";
import { ENTRY_COLUMNS, LIVE, NEXT_VERSION, type StateRow } from "./state-entries.ts";
import {
  CURRENT_TRY,
  IN_NAMESPACE,
  namespaceKind,
  namespaceParam,
  perNamespace,
  type TaskNamespace,
} from "./task-instance-scope.ts";

/** Statement names are per SQL text: one per statement and kind of namespace. */
export function statement(name: string, ns: TaskNamespace): string {
  return namespaceKind(ns) === "instance" ? `task_state_${name}` : `task_state_${name}_by_address`;
}

export interface InstanceKey {
  taskInstanceId: string;
  key: string;
}

/** What a batch must not hold twice: a multi-row upsert may not touch one row twice. */
export function sameKey(item: InstanceKey): string {
  return `${item.taskInstanceId}\u0000${item.key}`;
}

/** A get whose namespace resolved: the row, or null when the key does not exist (or has expired). */
export interface Lookup {
  row: StateRow | null;
}

/** One row when the namespace resolves (its key columns null when the key is missing), none otherwise. */
const GET_SQL = perNamespace(
  (ti) => `WITH ${ti}
SELECT ${ENTRY_COLUMNS} FROM ti LEFT JOIN task_state s ON ${IN_NAMESPACE} AND s.key = $2 AND ${LIVE}`,
);

/** One statement for a hit and for a miss: null only when the namespace itself does not resolve. */
export async function getOne(sql: SqlRunner, input: TaskNamespace & { key: string }): Promise<Lookup | null> {
  const rows = await sql.query<StateRow>(
    GET_SQL[namespaceKind(input)],
    [namespaceParam(input), input.key],
    statement("get", input),
  );
  const row = rows[0];
  if (!row) return null;
  return { row: row.key === null ? null : row };
}

/**
 * Items per multi-row statement; a larger batch takes several statements. 50 is the typed client's batch
 * size, and keeps the prepared statements per connection to 2 × 50 (one per row count and kind).
 */
const MAX_ROWS_PER_STATEMENT = 50;

/**
 * SQL: a VALUES list of `count` rows, each of one parameter per cast in `casts` and a last column `ord`
 * numbering the rows from 1. A VALUES list, not a JSON or array parameter: the planner then knows the exact
 * number of rows, so the generic plan it caches for the prepared statement is the good one (index lookups)
 * and is not planned again on each call. A jsonb_array_elements input measured 5 to 10 times the database
 * CPU per key: re-planned on every call, and for small tables a sequential scan of task_instance.
 */
function valuesRows(count: number, casts: string[]): string {
  const rows: string[] = [];
  for (let row = 0; row < count; row++) {
    const params = casts.map((cast, column) => `$${row * casts.length + column + 1}::${cast}`);
    rows.push(`(${params.join(", ")}, ${row + 1})`);
  }
  return `VALUES ${rows.join(", ")}`;
}

/** The statement text for each row count, built on first use. */
function perRowCount(build: (count: number) => string): (count: number) => string {
  const texts: string[] = [];
  return (count) => {
    texts[count] ??= build(count);
    return texts[count];
  };
}

/** Concurrent gets by task instance in one statement; `ord` maps rows back to the items. */
const getManySql = perRowCount(
  (count) => `WITH input (ti_id, key, ord) AS (${valuesRows(count, ["uuid", "text"])})
SELECT i.ord, ${ENTRY_COLUMNS}
FROM input i JOIN task_instance t ON t.id = i.ti_id AND ${CURRENT_TRY}
LEFT JOIN task_state s ON s.dag_run_id = t.dag_run_id AND s.task_id = t.task_id AND s.map_index = t.map_index
  AND s.key = i.key AND ${LIVE}`,
);

export function getMany(sql: SqlRunner, items: InstanceKey[]): Promise<(Lookup | undefined)[]> {
  return inChunks(items, async (chunk) => {
    const params: unknown[] = [];
    for (const item of chunk) params.push(item.taskInstanceId, item.key);
    const rows = await sql.query<StateRow & { ord: number }>(
      getManySql(chunk.length),
      params,
      `task_state_get_many_${chunk.length}`,
    );
    // An item without a row has no current task instance: the single path explains it.
    const found: (Lookup | undefined)[] = chunk.map(() => undefined);
    for (const row of rows) found[row.ord - 1] = { row: row.key === null ? null : row };
    return found;
  });
}

/**
 * Runs `run` on chunks of at most MAX_ROWS_PER_STATEMENT items, concurrently; results in item order. A
 * chunk whose statement fails leaves its items undefined (the single path runs each of them, and says
 * why), so the other chunks' writes are neither lost nor applied twice.
 */
async function inChunks<Item, Result>(
  items: Item[],
  run: (chunk: Item[]) => Promise<(Result | undefined)[]>,
): Promise<(Result | undefined)[]> {
  const chunks: Item[][] = [];
  for (let start = 0; start < items.length; start += MAX_ROWS_PER_STATEMENT) {
    chunks.push(items.slice(start, start + MAX_ROWS_PER_STATEMENT));
  }
  const results = await Promise.all(
    chunks.map((chunk) => run(chunk).catch(() => chunk.map(() => undefined))),
  );
  return results.flat();
}

/**
 * SQL: the one upsert of task state. `rows` is a SELECT of dag_run_id, task_id, map_index, key, value
 * (jsonb) and expires_at: a new key starts at version 1, an existing one gets the next (NEXT_VERSION).
 */
function upsertSql(rows: string): string {
  return `INSERT INTO task_state AS s (dag_run_id, task_id, map_index, key, value, version, updated_at, expires_at)
SELECT r.dag_run_id, r.task_id, r.map_index, r.key, r.value, 1, now(), r.expires_at FROM (${rows}) r
ON CONFLICT (dag_run_id, task_id, map_index, key) DO UPDATE
SET value = EXCLUDED.value, version = ${NEXT_VERSION}, updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at`;
}

/** SQL, before its RETURNING: the upsert of key $2 = $3, expiring at $4, in the namespace CTE `ti` ($1). */
export function upsertOneSql(ti: string): string {
  return `WITH ${ti}
${upsertSql("SELECT ti.dag_run_id, ti.task_id, ti.map_index, $2::text AS key, $3::jsonb AS value, $4::timestamptz AS expires_at FROM ti")}`;
}

/** Unconditional write: one race-free statement; concurrent writers all succeed, the last one wins. */
export const SET_SQL = perNamespace(
  (ti) => `${upsertOneSql(ti)}
RETURNING s.version`,
);

export interface SetItem extends InstanceKey {
  /** The value as JSON text (encodeValue). */
  json: string;
  expiresAt: string | null;
}

/** null when the task instance is unknown or superseded. */
export async function setOne(sql: SqlRunner, item: SetItem): Promise<{ version: number } | null> {
  const rows = await sql.query<{ version: number }>(
    SET_SQL.instance,
    [item.taskInstanceId, item.key, item.json, item.expiresAt],
    statement("set", item),
  );
  return rows[0] ?? null;
}

/**
 * Concurrent unconditional sets by task instance in one statement. Rows are written in key order so that
 * two such statements lock rows in the same order (no deadlock; the chunks of one batch hold distinct
 * keys). Items without a returned version (unknown or superseded task instance) take the single path,
 * which says why.
 */
const setManySql = perRowCount(
  (count) => `WITH input (ti_id, key, value, expires_at, ord) AS (
  ${valuesRows(count, ["uuid", "text", "jsonb", "timestamptz"])}),
target AS (
  SELECT i.ord, t.dag_run_id, t.task_id, t.map_index, i.key, i.value, i.expires_at
  FROM input i JOIN task_instance t ON t.id = i.ti_id AND ${CURRENT_TRY}),
written AS (
  ${upsertSql(`SELECT dag_run_id, task_id, map_index, key, value, expires_at FROM target
    ORDER BY dag_run_id, task_id, map_index, key`)}
  RETURNING s.dag_run_id, s.task_id, s.map_index, s.key, s.version)
SELECT target.ord, written.version FROM target JOIN written USING (dag_run_id, task_id, map_index, key)`,
);

export function setMany(sql: SqlRunner, items: SetItem[]): Promise<({ version: number } | undefined)[]> {
  return inChunks(items, async (chunk) => {
    const params: unknown[] = [];
    for (const item of chunk) params.push(item.taskInstanceId, item.key, item.json, item.expiresAt);
    const rows = await sql.query<{ ord: number; version: number }>(
      setManySql(chunk.length),
      params,
      `task_state_set_many_${chunk.length}`,
    );
    const versions: ({ version: number } | undefined)[] = chunk.map(() => undefined);
    for (const row of rows) versions[row.ord - 1] = { version: row.version };
    return versions;
  });
}
