// The scopes a watch stream can cover: one task's state (taskState.watch) and one asset's state
// (assetState.watch). Each reads its snapshot in pages, each page one statement with its own
// pg_current_snapshot(), in byte order of the keys (COLLATE "C", compared the same way in stream.ts).
import type { SqlRunner } from "@cairn/db";
import type { Principal } from "../../auth/tokens.ts";
import { notFound } from "../../errors.ts";
import type { AssetRef } from "../../schemas.ts";
import { usableAssetId } from "../asset-state.ts";
import { LIVE, type StateRow, toEntry } from "../state-entries.ts";
import { resolveTaskInstance } from "../task-instance-scope.ts";
import { describeRef } from "../task-instances.ts";
import type { AssetWriter, Change, WatchWhere } from "./events.ts";
import type { Interest } from "./interest.ts";
import type { SnapshotItem, SnapshotPage, WatchScope } from "./stream.ts";

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

/** One statement: the snapshot, and the page's rows (a row of nulls when the page is empty). */
function pageSql(from: string, columns: string, where: string, limitParam: number): string {
  return `WITH snap AS (SELECT pg_current_snapshot()::text AS snapshot)
SELECT snap.snapshot, p.* FROM snap LEFT JOIN LATERAL (
  SELECT ${columns} FROM ${from} WHERE ${where} ORDER BY s.key COLLATE "C" LIMIT $${limitParam}) p ON true`;
}

type PageRow = Partial<StateRow> & {
  snapshot: string;
  sort_key?: string;
  task_id?: string;
  map_index?: number;
} & Partial<WriterRow>;

interface WriterRow {
  writer_kind: "task" | "admin";
  writer_dag_id: string | null;
  writer_run_id: string | null;
  writer_task_id: string | null;
  writer_map_index: number | null;
}

function toPage(rows: PageRow[], withWriter: boolean, where?: (row: PageRow) => WatchWhere): SnapshotPage {
  const items: SnapshotItem[] = [];
  for (const row of rows) {
    if (row.key == null) continue;
    const entry = toEntry(row as StateRow);
    items.push({
      entry,
      ...(withWriter ? { writer: writerOf(row as WriterRow) } : {}),
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

function writerOf(row: WriterRow): AssetWriter {
  return {
    kind: row.writer_kind,
    dagId: row.writer_dag_id,
    runId: row.writer_run_id,
    taskId: row.writer_task_id,
    mapIndex: row.writer_map_index,
  };
}

const ENTRY = "s.key, s.value, s.version, s.updated_at, s.expires_at";
const WRITER = "s.writer_kind, s.writer_dag_id, s.writer_run_id, s.writer_task_id, s.writer_map_index";

/** taskState.watch: the task state of a task instance's task (resolved now: unknown or superseded throws). */
export async function taskWatchScope(
  sql: SqlRunner,
  taskInstanceId: string,
  filter: KeyFilter,
  tokenValid: () => boolean,
): Promise<WatchScope> {
  const ns = await resolveTaskInstance(sql, taskInstanceId);
  const where = `s.dag_run_id = $1::bigint AND s.task_id = $2 AND s.map_index = $3 AND ${LIVE} AND ${keyConditions("4", "5", "6")}`;
  const read = async (key: string | null, prefix: string | null, after: string | null, limit: number) =>
    toPage(
      await sql.query<PageRow>(pageSql("task_state s", ENTRY, where, 7), [
        ns.dagRunId,
        ns.taskId,
        ns.mapIndex,
        key,
        prefix,
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
    readPage: (after, limit) => read(filter.key ?? null, filter.prefix ?? null, after, limit),
    readEntry: async (change) => (await read(change.key, null, null, 1)).items[0] ?? null,
    stillValid: async () =>
      tokenValid() &&
      resolveTaskInstance(sql, taskInstanceId).then(
        () => true,
        () => false,
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
  const columns = `${ENTRY}, ${WRITER}`;
  const read = async (key: string | null, prefix: string | null, after: string | null, limit: number) =>
    toPage(
      await sql.query<PageRow>(pageSql("asset_state s", columns, conditions, 5), [
        assetId,
        key,
        prefix,
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
    readPage: (after, limit) => read(filter.key ?? null, filter.prefix ?? null, after, limit),
    readEntry: async (change) => (await read(change.key, null, null, 1)).items[0] ?? null,
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
      usableAssetId(sql, principal, ref).then(
        (id) => id === assetId,
        () => false,
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
    stillValid: async () => tokenValid() && (await found())?.id === asset.id,
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
  const found = async () =>
    (
      await sql.query<{ id: string }>("SELECT id::text FROM dag_run WHERE dag_id = $1 AND run_id = $2", [
        dagId,
        runId,
      ])
    )[0];
  const run = await found();
  if (!run) throw notFound("dag_run_not_found", `dag run ${dagId}/${runId} does not exist`);
  const sortSql = `s.task_id || chr(1) || lpad((s.map_index::bigint + 2147483648)::text, 10, '0') || chr(1) || s.key`;
  const sortKey = (taskId: string, mapIndex: number, key: string) =>
    `${taskId}\u0001${String(mapIndex + 2147483648).padStart(10, "0")}\u0001${key}`;
  const read = async (
    task: { taskId: string; mapIndex: number; key: string } | null,
    after: string | null,
    limit: number,
  ) =>
    toPage(
      await sql.query<PageRow>(
        `WITH snap AS (SELECT pg_current_snapshot()::text AS snapshot)
SELECT snap.snapshot, p.* FROM snap LEFT JOIN LATERAL (
  SELECT ${ENTRY}, s.task_id, s.map_index, ${sortSql} AS sort_key FROM task_state s
  WHERE s.dag_run_id = $1::bigint AND ${LIVE} AND ($2::text IS NULL OR starts_with(s.key, $2))
    AND ($3::text IS NULL OR (${sortSql}) COLLATE "C" > $3)
    AND ($5::text IS NULL OR (s.task_id = $5 AND s.map_index = $6 AND s.key = $7))
  ORDER BY (${sortSql}) COLLATE "C" LIMIT $4) p ON true`,
        [
          run.id,
          prefix ?? null,
          after,
          limit,
          task?.taskId ?? null,
          task?.mapIndex ?? null,
          task?.key ?? null,
        ],
      ),
      false,
      (row) => ({ dagId, runId, taskId: row.task_id!, mapIndex: row.map_index! }),
    );
  return {
    interest: { plane: "task", dagRunId: run.id },
    wants: (change) =>
      change.plane === "task" && change.dagRunId === run.id && passes({ prefix }, change.key),
    sortKey: (change) => sortKey(change.taskId!, change.mapIndex!, change.key),
    readPage: (after, limit) => read(null, after, limit),
    readEntry: async (change) =>
      (await read({ taskId: change.taskId!, mapIndex: change.mapIndex!, key: change.key }, null, 1))
        .items[0] ?? null,
    whereOf: (change) => ({ dagId, runId, taskId: change.taskId!, mapIndex: change.mapIndex! }),
    stillValid: async () => tokenValid() && (await found())?.id === run.id,
  };
}

/** A sort key past every task state key: the asset pages start after it. */
const TASKS_DONE = "t\u0001~";

/** A bigint id as a fixed-width string, so that ids sort as strings the way they sort as numbers. */
const padId = (id: string) => id.padStart(20, "0");
const padMapIndex = (mapIndex: number) => String(mapIndex + 2147483648).padStart(10, "0");
/** Within one dag run (or asset), in SQL: the same strings as padMapIndex and the key. */
const RUN_SORT_SQL = `s.task_id || chr(1) || lpad((s.map_index::bigint + 2147483648)::text, 10, '0') || chr(1) || s.key`;

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
  const runs = new Map<string, { dagId: string; runId: string } | null>();
  const assets = new Map<string, { name: string; uri: string } | null>();
  const runOf = async (id: string) => {
    if (!runs.has(id)) {
      const [row] = await sql.query<{ dag_id: string; run_id: string }>(
        "SELECT dag_id, run_id FROM dag_run WHERE id = $1::bigint",
        [id],
      );
      if (runs.size > 10_000) runs.clear();
      runs.set(id, row ? { dagId: row.dag_id, runId: row.run_id } : null);
    }
    return runs.get(id) ?? null;
  };
  const assetOf = async (id: string) => {
    if (!assets.has(id)) {
      const [row] = await sql.query<{ name: string; uri: string }>(
        "SELECT name, uri FROM asset WHERE id = $1::bigint",
        [id],
      );
      if (assets.size > 10_000) assets.clear();
      assets.set(id, row ?? null);
    }
    return assets.get(id) ?? null;
  };

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
  SELECT ${ENTRY}, s.task_id, s.map_index, s.dag_run_id::text, r.dag_id, r.run_id, ${RUN_SORT_SQL} AS sort_key
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
  SELECT ${ENTRY}, ${WRITER}, s.asset_id::text, a.name, a.uri
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
        ? `t\u0001${padId(change.dagRunId!)}\u0001${change.taskId}\u0001${padMapIndex(change.mapIndex!)}\u0001${change.key}`
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
    readEntry: async (change) => {
      if (change.plane === "asset") {
        const [row] = await sql.query<PageRow>(
          `SELECT '' AS snapshot, ${ENTRY}, ${WRITER} FROM asset_state s
           WHERE s.asset_id = $1::bigint AND s.key = $2 AND ${LIVE}`,
          [change.assetId, change.key],
        );
        return row ? (toPage([row], true).items[0] ?? null) : null;
      }
      const [row] = await sql.query<PageRow>(
        `SELECT '' AS snapshot, ${ENTRY} FROM task_state s
         WHERE s.dag_run_id = $1::bigint AND s.task_id = $2 AND s.map_index = $3 AND s.key = $4 AND ${LIVE}`,
        [change.dagRunId, change.taskId, change.mapIndex, change.key],
      );
      return row ? (toPage([row], false).items[0] ?? null) : null;
    },
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
