// The scopes a watch stream can cover: one task's state (taskState.watch) and one asset's state
// (assetState.watch). Each reads its snapshot in pages, each page one statement with its own
// pg_current_snapshot(), in byte order of the keys (COLLATE "C", compared the same way in stream.ts).
import type { SqlRunner } from "@cairn/db";
import type { Principal } from "../../auth/tokens.ts";
import type { AssetRef } from "../../schemas.ts";
import { usableAssetId } from "../asset-state.ts";
import { LIVE, type StateRow, toEntry } from "../state-entries.ts";
import { resolveTaskInstance } from "../task-instance-scope.ts";
import type { AssetWriter, Change } from "./events.ts";
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

type PageRow = Partial<StateRow> & { snapshot: string } & Partial<WriterRow>;

interface WriterRow {
  writer_kind: "task" | "admin";
  writer_dag_id: string | null;
  writer_run_id: string | null;
  writer_task_id: string | null;
  writer_map_index: number | null;
}

function toPage(rows: PageRow[], withWriter: boolean): SnapshotPage {
  const items: SnapshotItem[] = [];
  for (const row of rows) {
    if (row.key == null) continue;
    const entry = toEntry(row as StateRow);
    items.push(withWriter ? { entry, writer: writerOf(row as WriterRow) } : { entry });
  }
  return { items, snapshot: rows[0]?.snapshot ?? "0:0:" };
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
  const base = [ns.dagRunId, ns.taskId, ns.mapIndex];
  return {
    interest: { plane: "task", dagRunId: ns.dagRunId, taskId: ns.taskId, mapIndex: ns.mapIndex },
    wants: (change) =>
      change.plane === "task" &&
      change.dagRunId === ns.dagRunId &&
      change.taskId === ns.taskId &&
      change.mapIndex === ns.mapIndex &&
      passes(filter, change.key),
    readPage: async (afterKey, limit) =>
      toPage(
        await sql.query<PageRow>(pageSql("task_state s", ENTRY, where, 7), [
          ...base,
          filter.key ?? null,
          filter.prefix ?? null,
          afterKey,
          limit,
        ]),
        false,
      ),
    readEntry: async (key) =>
      toPage(
        await sql.query<PageRow>(pageSql("task_state s", ENTRY, where, 7), [...base, key, null, null, 1]),
        false,
      ).items[0] ?? null,
    stillValid: async () =>
      tokenValid() &&
      resolveTaskInstance(sql, taskInstanceId).then(
        () => true,
        () => false,
      ),
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
  const where = `s.asset_id = $1::bigint AND ${LIVE} AND ${keyConditions("2", "3", "4")}`;
  const columns = `${ENTRY}, ${WRITER}`;
  return {
    interest: { plane: "asset", assetId },
    wants: (change: Change) =>
      change.plane === "asset" && change.assetId === assetId && passes(filter, change.key),
    readPage: async (afterKey, limit) =>
      toPage(
        await sql.query<PageRow>(pageSql("asset_state s", columns, where, 5), [
          assetId,
          filter.key ?? null,
          filter.prefix ?? null,
          afterKey,
          limit,
        ]),
        true,
      ),
    readEntry: async (key) =>
      toPage(
        await sql.query<PageRow>(pageSql("asset_state s", columns, where, 5), [assetId, key, null, null, 1]),
        true,
      ).items[0] ?? null,
    stillValid: async () =>
      tokenValid() &&
      usableAssetId(sql, principal, ref).then(
        (id) => id === assetId,
        () => false,
      ),
  };
}
