// Admin listing of asset state: every entry with who wrote it last, and the total matching the prefix.
import type { Database } from "@cairn/db";
import { notFound } from "../errors.ts";
import type { AssetRef } from "../schemas.ts";
import {
  decodeCursor,
  ENTRY_COLUMNS,
  LIVE,
  type PageRow,
  type StateEntry,
  toPage,
  withinByteBudget,
} from "./state-entries.ts";
import { describeRef } from "./task-instances.ts";

/** Who wrote an asset state entry last: a task (its address) or an admin token. */
export interface Writer {
  kind: "task" | "admin";
  dagId: string | null;
  runId: string | null;
  taskId: string | null;
  mapIndex: number | null;
}

/** Columns of a Writer, for SELECT lists (`s` is asset_state). */
export const WRITER_COLUMNS =
  "s.writer_kind, s.writer_dag_id, s.writer_run_id, s.writer_task_id, s.writer_map_index";

export interface WriterColumns {
  writer_kind: "task" | "admin";
  writer_dag_id: string | null;
  writer_run_id: string | null;
  writer_task_id: string | null;
  writer_map_index: number | null;
}

export function writerOf(row: WriterColumns): Writer {
  return {
    kind: row.writer_kind,
    dagId: row.writer_dag_id,
    runId: row.writer_run_id,
    taskId: row.writer_task_id,
    mapIndex: row.writer_map_index,
  };
}

interface WriterRow extends PageRow, WriterColumns {}

export async function listAssetStateWithWriters(
  db: Database,
  input: { asset: AssetRef; prefix?: string | undefined; limit: number; cursor?: string | null | undefined },
  maxPageBytes: number,
): Promise<{ items: (StateEntry & { writer: Writer })[]; nextCursor: string | null; total: number }> {
  const column = "name" in input.asset ? "name" : "uri";
  const value = "name" in input.asset ? input.asset.name : input.asset.uri;
  const [asset] = await db.sql.query<{ id: string }>(
    `SELECT id::text FROM asset WHERE ${column} = $1 AND active`,
    [value],
    `admin_asset_by_${column}`,
  );
  if (!asset)
    throw notFound("asset_not_found", `asset ${describeRef(input.asset)} does not exist or is inactive`);
  const rows = await db.sql.query<WriterRow>(
    withinByteBudget(
      `SELECT ${ENTRY_COLUMNS}, ${WRITER_COLUMNS}
     FROM asset_state s
     WHERE s.asset_id = $1::bigint AND ${LIVE} AND ($2::text IS NULL OR starts_with(s.key, $2))
       AND ($3::text IS NULL OR s.key > $3)
     ORDER BY s.key LIMIT $4`,
      "$5",
    ),
    [asset.id, input.prefix || null, decodeCursor(input.cursor), input.limit + 1, maxPageBytes],
    "admin_asset_state_list",
  );
  const [count] = await db.sql.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM asset_state s
     WHERE s.asset_id = $1::bigint AND ${LIVE} AND ($2::text IS NULL OR starts_with(s.key, $2))`,
    [asset.id, input.prefix || null],
    "admin_asset_state_count",
  );
  const page = toPage(rows, input.limit);
  return {
    items: page.items.map((entry, i) => ({ ...entry, writer: writerOf(rows[i]!) })),
    nextCursor: page.nextCursor,
    total: count?.total ?? 0,
  };
}
