// Deleting expired state rows in small batches: each batch is its own short statement (no long locks, no
// giant transaction), and SKIP LOCKED lets several server replicas run the same job at once without
// waiting on each other or deleting a row twice.
import type { SqlRunner } from "@cairn/db";

export type StatePlane = "task" | "asset";
const TABLES: Record<StatePlane, string> = { task: "task_state", asset: "asset_state" };

export interface CleanupCounts {
  task: number;
  asset: number;
}

/** Deletes up to batchSize expired rows of one plane; returns how many it deleted. */
export async function deleteExpiredBatch(
  sql: SqlRunner,
  plane: StatePlane,
  batchSize: number,
): Promise<number> {
  const table = TABLES[plane];
  const rows = await sql.query<{ deleted: number }>(
    `WITH d AS (
       DELETE FROM ${table} WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM ${table} WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED))
       RETURNING 1)
     SELECT count(*)::int AS deleted FROM d`,
    [batchSize],
    `cleanup_${plane}`,
  );
  return rows[0]?.deleted ?? 0;
}

export interface CleanupOptions {
  batchSize?: number;
  /** Stop after this many batches per plane (a bounded run); default: until nothing expired is left. */
  maxBatches?: number;
  /** Checked before each batch: lets a shutting-down server stop between batches. */
  shouldStop?: () => boolean;
  /** Called after each batch with the running totals. */
  onProgress?: (totals: CleanupCounts) => void;
}

/** Deletes every expired row (or up to maxBatches per plane); `done` says whether none is left. */
export async function deleteExpired(
  sql: SqlRunner,
  options: CleanupOptions = {},
): Promise<CleanupCounts & { done: boolean }> {
  const batchSize = options.batchSize ?? 1000;
  const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
  const totals: CleanupCounts = { task: 0, asset: 0 };
  let done = true;
  for (const plane of ["task", "asset"] as const) {
    for (let batch = 0; ; batch++) {
      if (batch >= maxBatches || options.shouldStop?.()) {
        done = false;
        break;
      }
      const deleted = await deleteExpiredBatch(sql, plane, batchSize);
      totals[plane] += deleted;
      options.onProgress?.({ ...totals });
      if (deleted < batchSize) break;
    }
  }
  return { ...totals, done };
}

export interface ExpiredRow {
  plane: StatePlane;
  /** `dagId/runId/taskId[mapIndex]` for task state, the asset name for asset state. */
  owner: string;
  key: string;
  expiresAt: string;
}

/** What a cleanup would delete now: the totals and the first `limit` rows, oldest expiry first. */
export async function previewExpired(
  sql: SqlRunner,
  limit: number,
): Promise<{ total: CleanupCounts; items: ExpiredRow[] }> {
  const [counts] = await sql.query<{ task: number; asset: number }>(
    `SELECT (SELECT count(*) FROM task_state WHERE expires_at <= now())::int AS task,
            (SELECT count(*) FROM asset_state WHERE expires_at <= now())::int AS asset`,
  );
  const rows = await sql.query<{ plane: StatePlane; owner: string; key: string; expires_at: Date }>(
    `(SELECT 'task' AS plane, r.dag_id || '/' || r.run_id || '/' || s.task_id || '[' || s.map_index || ']' AS owner,
             s.key, s.expires_at
      FROM task_state s JOIN dag_run r ON r.id = s.dag_run_id
      WHERE s.expires_at <= now() ORDER BY s.expires_at LIMIT $1)
     UNION ALL
     (SELECT 'asset', a.name, s.key, s.expires_at
      FROM asset_state s JOIN asset a ON a.id = s.asset_id
      WHERE s.expires_at <= now() ORDER BY s.expires_at LIMIT $1)
     ORDER BY expires_at LIMIT $1`,
    [limit],
  );
  return {
    total: { task: counts?.task ?? 0, asset: counts?.asset ?? 0 },
    items: rows.map((row) => ({
      plane: row.plane,
      owner: row.owner,
      key: row.key,
      expiresAt: new Date(row.expires_at).toISOString(),
    })),
  };
}
