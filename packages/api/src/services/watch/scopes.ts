// The scopes a watch stream can cover: one task's state (taskState.watch), one asset's state
// (assetState.watch, admin.watch), a dag run's, a dag's or all state (admin.watch). Each reads its snapshot
// in pages, each page one statement with its own pg_current_snapshot(), in byte order of its sort key
// (COLLATE "C" in SQL, compared as UTF-8 bytes in stream.ts).
import type { SqlRunner } from "@cairn/db";
import type { Principal } from "../../auth/tokens.ts";
import { notFound } from "../../errors.ts";
import type { AssetRef } from "../../schemas.ts";
import { usableAssetId } from "../asset-state.ts";
import { WRITER_COLUMNS, type WriterColumns, writerOf } from "../asset-state-admin.ts";
import { ENTRY_COLUMNS, LIVE, type StateRow, toEntry } from "../state-entries.ts";
import { dagRunIdOf, resolveTaskInstance } from "../task-instance-scope.ts";
import { describeRef } from "../task-instances.ts";
import type { Change, WatchWhere } from "./events.ts";
import type { Interest } from "./interest.ts";
import type { SnapshotItem, SnapshotPage, WatchScope } from "./stream.ts";

/**
 * A check of a scope's existence shared by the streams on it for a second: each stream checks every few
 * seconds, and 1 000 watchers of one task would otherwise query 200 times a second.
 */
const recentChecks = new WeakMap<SqlRunner, Map<string, { until: number; valid: Promise<boolean> }>>();
const SHARED_CHECK_MS = 1_000;

function sharedCheck(sql: SqlRunner, key: string, check: () => Promise<boolean>): Promise<boolean> {
  let checks = recentChecks.get(sql);
  if (!checks) {
    checks = new Map();
    recentChecks.set(sql, checks);
  }
  const now = Date.now();
  const recent = checks.get(key);
  if (recent && recent.until > now) return recent.valid;
  for (const [k, c] of checks) if (c.until <= now) checks.delete(k);
  const valid = check().catch(() => false);
  checks.set(key, { until: now + SHARED_CHECK_MS, valid });
  return valid;
}

/** Exactly one of them, or neither (every key of the scope). */
export interface KeyFilter {
  key?: string | undefined;
  prefix?: string | undefined;
}

function passes(filter: KeyFilter, key: string): boolean {
  if (filter.key !== undefined) return key === filter.key;
  if (filter.prefix !== undefined) return key.startsWith(filter.prefix);
  return true;
}

/** SQL conditions on `s.key`: $k (exact key), $p (prefix), $a (after this key, byte order). */
function keyConditions(k: string, p: string, a: string): string {
  return `($${k}::text IS NULL OR s.key = $${k}) AND ($${p}::text IS NULL OR starts_with(s.key, $${p}))
     AND ($${a}::text IS NULL OR s.key COLLATE "C" > $${a})`;
}

/**
 * One statement: the snapshot, and the page's rows in byte order of `order` (a row of nulls when the page
 * is empty).
 */
function pageSql(from: string, columns: string, where: string, limitParam: number, order = "s.key"): string {
  return `WITH snap AS (SELECT pg_current_snapshot()::text AS snapshot)
SELECT snap.snapshot, p.* FROM snap LEFT JOIN LATERAL (
  SELECT ${columns} FROM ${from} WHERE ${where} ORDER BY (${order}) COLLATE "C" LIMIT $${limitParam}) p ON true`;
}

type PageRow = Partial<StateRow> & {
  snapshot: string;
  sort_key?: string;
  task_id?: string;
  map_index?: number;
} & Partial<WriterColumns>;

function toPage(rows: PageRow[], withWriter: boolean, where?: (row: PageRow) => WatchWhere): SnapshotPage {
  const items: SnapshotItem[] = [];
  for (const row of rows) {
    if (row.key == null) continue;
    const entry = toEntry(row as StateRow);
    items.push({
      entry,
      ...(withWriter ? { writer: writerOf(row as WriterColumns) } : {}),
      ...(where ? { where: where(row) } : {}),
    });
  }
  const last = rows.at(-1);
  return {
    items,
    snapshot: rows[0]?.snapshot ?? "0:0:",
    lastSortKey: last?.key == null ? null : (last.sort_key ?? last.key),
  };
}

/** The changed row's entry now, by its address (for a change too large for its notification). */
async function readChangedEntry(sql: SqlRunner, change: Change): Promise<SnapshotItem | null> {
  const rows =
    change.plane === "asset"
      ? await sql.query<PageRow>(
          `SELECT '' AS snapshot, ${ENTRY_COLUMNS}, ${WRITER_COLUMNS} FROM asset_state s
           WHERE s.asset_id = $1::bigint AND s.key = $2 AND ${LIVE}`,
          [change.assetId, change.key],
        )
      : await sql.query<PageRow>(
          `SELECT '' AS snapshot, ${ENTRY_COLUMNS} FROM task_state s
           WHERE s.dag_run_id = $1::bigint AND s.task_id = $2 AND s.map_index = $3 AND s.key = $4 AND ${LIVE}`,
          [change.dagRunId, change.taskId, change.mapIndex, change.key],
        );
  return toPage(rows, change.plane === "asset").items[0] ?? null;
}

/** Looks ids up once (dag runs, assets, for `where`); forgets everything past 10 000 of them. */
function cachedLookup<T>(load: (id: string) => Promise<T | null>): (id: string) => Promise<T | null> {
  const known = new Map<string, T | null>();
  return async (id) => {
    if (!known.has(id)) {
      const found = await load(id);
      if (known.size >= 10_000) known.clear();
      known.set(id, found);
    }
    return known.get(id) ?? null;
  };
}

/** A bigint id as a fixed-width string, so that ids sort as strings the way they sort as numbers. */
const padId = (id: string) => id.padStart(20, "0");
/** Within one dag run: task, map index (fixed width, so the strings sort as the numbers) and key. */
const runSortKey = (taskId: string, mapIndex: number, key: string) =>
  `${taskId}\u0001${String(mapIndex + 2147483648).padStart(10, "0")}\u0001${key}`;
/** runSortKey in SQL. */
const RUN_SORT_SQL = `s.task_id || chr(1) || lpad((s.map_index::bigint + 2147483648)::text, 10, '0') || chr(1) || s.key`;
/** A sort key past every task state key: the asset pages start after it. */
const TASKS_DONE = "t\u0001~";

/** taskState.watch: the task state of a task instance's task (resolved now: unknown or superseded throws). */
export async function taskWatchScope(
  sql: SqlRunner,
  taskInstanceId: string,
  filter: KeyFilter,
  tokenValid: () => boolean,
): Promise<WatchScope> {
  const ns = await resolveTaskInstance(sql, taskInstanceId);
  const where = `s.dag_run_id = $1::bigint AND s.task_id = $2 AND s.map_index = $3 AND ${LIVE} AND ${keyConditions("4", "5", "6")}`;
  const read = async (after: string | null, limit: number) =>
    toPage(
      await sql.query<PageRow>(pageSql("task_state s", ENTRY_COLUMNS, where, 7), [
        ns.dagRunId,
        ns.taskId,
        ns.mapIndex,
        filter.key ?? null,
        filter.prefix ?? null,
        after,
        limit,
      ]),
      false,
    );
  return {
    interest: { plane: "task", dagRunId: ns.dagRunId, taskId: ns.taskId, mapIndex: ns.mapIndex },
    wants: (change) =>
      change.plane === "task" &&
      change.dagRunId === ns.dagRunId &&
      change.taskId === ns.taskId &&
      change.mapIndex === ns.mapIndex &&
      passes(filter, change.key),
    sortKey: (change) => change.key,
    readPage: read,
    readEntry: (change) => readChangedEntry(sql, change),
    stillValid: async () =>
      tokenValid() &&
      sharedCheck(sql, `task ${taskInstanceId}`, () =>
        resolveTaskInstance(sql, taskInstanceId).then(() => true),
      ),
  };
}

/** The state of one asset (by id), its snapshot in pages; for assetState.watch and admin.watch. */
function assetScope(
  sql: SqlRunner,
  assetId: string,
  filter: KeyFilter,
  where?: WatchWhere,
): Omit<WatchScope, "stillValid"> {
  const conditions = `s.asset_id = $1::bigint AND ${LIVE} AND ${keyConditions("2", "3", "4")}`;
  const columns = `${ENTRY_COLUMNS}, ${WRITER_COLUMNS}`;
  const read = async (after: string | null, limit: number) =>
    toPage(
      await sql.query<PageRow>(pageSql("asset_state s", columns, conditions, 5), [
        assetId,
        filter.key ?? null,
        filter.prefix ?? null,
        after,
        limit,
      ]),
      true,
      where && (() => where),
    );
  return {
    interest: { plane: "asset", assetId },
    wants: (change: Change) =>
      change.plane === "asset" && change.assetId === assetId && passes(filter, change.key),
    sortKey: (change) => change.key,
    readPage: read,
    readEntry: (change) => readChangedEntry(sql, change),
    ...(where ? { whereOf: () => where } : {}),
  };
}

/** assetState.watch: an asset the caller may use (checked now: not declared or inactive throws). */
export async function assetWatchScope(
  sql: SqlRunner,
  principal: Principal,
  ref: AssetRef,
  filter: KeyFilter,
  tokenValid: () => boolean,
): Promise<WatchScope> {
  const assetId = await usableAssetId(sql, principal, ref);
  return {
    ...assetScope(sql, assetId, filter),
    stillValid: async () =>
      tokenValid() &&
      sharedCheck(
        sql,
        `asset ${principal.scope === "execution" ? principal.taskInstanceId : "admin"} ${JSON.stringify(ref)}`,
        () => usableAssetId(sql, principal, ref).then((id) => id === assetId),
      ),
  };
}

/** admin.watch of an asset (active or not): its events say where they happened. */
export async function adminAssetWatchScope(
  sql: SqlRunner,
  ref: AssetRef,
  prefix: string | undefined,
  tokenValid: () => boolean,
): Promise<WatchScope> {
  const column = "name" in ref ? "name" : "uri";
  const found = async () =>
    (
      await sql.query<{ id: string; name: string; uri: string }>(
        `SELECT id::text, name, uri FROM asset WHERE ${column} = $1`,
        ["name" in ref ? ref.name : ref.uri],
      )
    )[0];
  const asset = await found();
  if (!asset) throw notFound("asset_not_found", `asset ${describeRef(ref)} does not exist`);
  return {
    ...assetScope(sql, asset.id, { prefix }, { asset: { name: asset.name, uri: asset.uri } }),
    stillValid: async () =>
      tokenValid() &&
      sharedCheck(sql, `admin asset ${JSON.stringify(ref)}`, async () => (await found())?.id === asset.id),
  };
}

/**
 * admin.watch of a dag run: the task state of all its tasks. Pages go by task, map index and key; the
 * map index is written as a fixed-width text so that the order of the strings is that of the numbers.
 */
export async function runWatchScope(
  sql: SqlRunner,
  dagId: string,
  runId: string,
  prefix: string | undefined,
  tokenValid: () => boolean,
): Promise<WatchScope> {
  const run = { id: await dagRunIdOf(sql, dagId, runId) };
  const where = `s.dag_run_id = $1::bigint AND ${LIVE} AND ($2::text IS NULL OR starts_with(s.key, $2))
    AND ($3::text IS NULL OR (${RUN_SORT_SQL}) COLLATE "C" > $3)`;
  const columns = `${ENTRY_COLUMNS}, s.task_id, s.map_index, ${RUN_SORT_SQL} AS sort_key`;
  return {
    interest: { plane: "task", dagRunId: run.id },
    wants: (change) =>
      change.plane === "task" && change.dagRunId === run.id && passes({ prefix }, change.key),
    sortKey: (change) => runSortKey(change.taskId!, change.mapIndex!, change.key),
    readPage: async (after, limit) =>
      toPage(
        await sql.query<PageRow>(pageSql("task_state s", columns, where, 4, RUN_SORT_SQL), [
          run.id,
          prefix ?? null,
          after,
          limit,
        ]),
        false,
        (row) => ({ dagId, runId, taskId: row.task_id!, mapIndex: row.map_index! }),
      ),
    readEntry: (change) => readChangedEntry(sql, change),
    whereOf: (change) => ({ dagId, runId, taskId: change.taskId!, mapIndex: change.mapIndex! }),
    stillValid: async () =>
      tokenValid() &&
      sharedCheck(
        sql,
        `run ${JSON.stringify([dagId, runId])}`,
        async () => (await dagRunIdOf(sql, dagId, runId)) === run.id,
      ),
  };
}

/**
 * admin.watch of a whole dag (`dagId`) or of everything: task state of every run (of that dag), then, for
 * everything, the state of every asset. Each snapshot page is one statement: it finds the first run (or
 * asset) with rows past the last page, by the primary key's index, and reads a page of that run's rows.
 * Sort keys: "t", the run id, then task, map index and key; "u", the asset id, then the key.
 */
export async function allWatchScope(
  sql: SqlRunner,
  dagId: string | undefined,
  prefix: string | undefined,
  tokenValid: () => boolean,
): Promise<WatchScope> {
  const runOf = cachedLookup(async (id) => {
    const [row] = await sql.query<{ dag_id: string; run_id: string }>(
      "SELECT dag_id, run_id FROM dag_run WHERE id = $1::bigint",
      [id],
    );
    return row ? { dagId: row.dag_id, runId: row.run_id } : null;
  });
  const assetOf = cachedLookup(
    async (id) =>
      (
        await sql.query<{ name: string; uri: string }>("SELECT name, uri FROM asset WHERE id = $1::bigint", [
          id,
        ])
      )[0] ?? null,
  );

  const taskPage = async (
    after: { run: string; within: string } | null,
    limit: number,
  ): Promise<SnapshotPage> => {
    const rows = await sql.query<PageRow & { dag_run_id: string; dag_id: string; run_id: string }>(
      `WITH snap AS (SELECT pg_current_snapshot()::text AS snapshot),
cur AS (
  SELECT s.dag_run_id FROM task_state s
  WHERE ($1::bigint IS NULL OR s.dag_run_id > $1::bigint
         OR (s.dag_run_id = $1::bigint AND (${RUN_SORT_SQL}) COLLATE "C" > $2))
    AND ${LIVE} AND ($3::text IS NULL OR starts_with(s.key, $3))
    AND ($4::text IS NULL OR s.dag_run_id IN (SELECT id FROM dag_run WHERE dag_id = $4))
  ORDER BY s.dag_run_id LIMIT 1)
SELECT snap.snapshot, p.* FROM snap LEFT JOIN LATERAL (
  SELECT ${ENTRY_COLUMNS}, s.task_id, s.map_index, s.dag_run_id::text, r.dag_id, r.run_id, ${RUN_SORT_SQL} AS sort_key
  FROM cur JOIN task_state s ON s.dag_run_id = cur.dag_run_id JOIN dag_run r ON r.id = s.dag_run_id
  WHERE ${LIVE} AND ($3::text IS NULL OR starts_with(s.key, $3))
    AND ($1::bigint IS NULL OR s.dag_run_id > $1::bigint OR (${RUN_SORT_SQL}) COLLATE "C" > $2)
  ORDER BY (${RUN_SORT_SQL}) COLLATE "C" LIMIT $5) p ON true`,
      [after?.run ?? null, after?.within ?? "", prefix ?? null, dagId ?? null, limit],
    );
    const page = toPage(rows, false, (row) => {
      const r = row as unknown as { dag_id: string; run_id: string; task_id: string; map_index: number };
      return { dagId: r.dag_id, runId: r.run_id, taskId: r.task_id, mapIndex: r.map_index };
    });
    const last = rows.at(-1) as { dag_run_id?: string } | undefined;
    return {
      ...page,
      lastSortKey: last?.dag_run_id ? `t\u0001${padId(last.dag_run_id)}\u0001${page.lastSortKey}` : null,
      last: page.items.length === 0,
    };
  };

  const assetPage = async (
    after: { asset: string; key: string } | null,
    limit: number,
  ): Promise<SnapshotPage> => {
    const rows = await sql.query<PageRow & { asset_id: string; name: string; uri: string }>(
      `WITH snap AS (SELECT pg_current_snapshot()::text AS snapshot),
cur AS (
  SELECT s.asset_id FROM asset_state s
  WHERE ($1::bigint IS NULL OR s.asset_id > $1::bigint OR (s.asset_id = $1::bigint AND s.key COLLATE "C" > $2))
    AND ${LIVE} AND ($3::text IS NULL OR starts_with(s.key, $3))
  ORDER BY s.asset_id LIMIT 1)
SELECT snap.snapshot, p.* FROM snap LEFT JOIN LATERAL (
  SELECT ${ENTRY_COLUMNS}, ${WRITER_COLUMNS}, s.asset_id::text, a.name, a.uri
  FROM cur JOIN asset_state s ON s.asset_id = cur.asset_id JOIN asset a ON a.id = s.asset_id
  WHERE ${LIVE} AND ($3::text IS NULL OR starts_with(s.key, $3))
    AND ($1::bigint IS NULL OR s.asset_id > $1::bigint OR s.key COLLATE "C" > $2)
  ORDER BY s.key COLLATE "C" LIMIT $4) p ON true`,
      [after?.asset ?? null, after?.key ?? "", prefix ?? null, limit],
    );
    const page = toPage(rows, true, (row) => {
      const r = row as unknown as { name: string; uri: string };
      return { asset: { name: r.name, uri: r.uri } };
    });
    const last = rows.at(-1) as { asset_id?: string } | undefined;
    return {
      ...page,
      lastSortKey: last?.asset_id ? `u\u0001${padId(last.asset_id)}\u0001${page.lastSortKey}` : null,
      last: page.items.length === 0,
    };
  };

  const interests: Interest[] =
    dagId === undefined ? [{ plane: "task_all" }, { plane: "asset_all" }] : [{ plane: "task_all" }];
  return {
    interest: interests,
    wants: (change) => (change.plane === "task" || dagId === undefined) && passes({ prefix }, change.key),
    sortKey: (change) =>
      change.plane === "task"
        ? `t\u0001${padId(change.dagRunId!)}\u0001${runSortKey(change.taskId!, change.mapIndex!, change.key)}`
        : `u\u0001${padId(change.assetId!)}\u0001${change.key}`,
    readPage: async (afterSortKey, limit) => {
      if (afterSortKey === TASKS_DONE) return assetPage(null, limit);
      // Where the last page ended: in the task state of a run, or in an asset's state.
      const [plane, id, ...rest] = (afterSortKey ?? "").split("\u0001");
      if (afterSortKey === null || plane === "t") {
        const page = await taskPage(
          afterSortKey === null ? null : { run: String(BigInt(id!)), within: rest.join("\u0001") },
          limit,
        );
        if (!page.last || dagId !== undefined) return page;
        // No task state left: this page (its statement's snapshot) covers the rest of the task range.
        return { ...page, last: false, lastSortKey: TASKS_DONE };
      }
      return assetPage({ asset: String(BigInt(id!)), key: rest.join("\u0001") }, limit);
    },
    readEntry: (change) => readChangedEntry(sql, change),
    whereOf: async (change) => {
      if (change.plane === "asset") {
        const asset = await assetOf(change.assetId!);
        return asset ? { asset } : null;
      }
      const run = await runOf(change.dagRunId!);
      if (!run || (dagId !== undefined && run.dagId !== dagId)) return null;
      return { dagId: run.dagId, runId: run.runId, taskId: change.taskId!, mapIndex: change.mapIndex! };
    },
    stillValid: async () => tokenValid(),
  };
}
