// admin.stats (spec §7): what the console's overview shows. Counts of live state are of unexpired rows;
// expired rows wait for the cleanup (CAIRN_CLEANUP_INTERVAL_SECONDS, or admin.cleanup.run).
import type { SqlRunner } from "@cairn/db";
import { LIVE } from "../state-entries.ts";
import { CURRENT_TRY } from "../task-instance-scope.ts";

export interface Stats {
  dagRuns: number;
  taskInstances: number;
  taskKeys: number;
  assets: number;
  assetKeys: number;
  expiringWithin24h: number;
  expiredAwaitingCleanup: number;
}

const count = (from: string, where = "true") => `(SELECT count(*) FROM ${from} WHERE ${where})::float8`;
const bothPlanes = (where: string) => `${count("task_state s", where)} + ${count("asset_state s", where)}`;

const STATS_SQL = `SELECT
  ${count("dag_run")} AS dag_runs,
  ${count("task_instance t", CURRENT_TRY)} AS task_instances,
  ${count("task_state s", LIVE)} AS task_keys,
  ${count("asset")} AS assets,
  ${count("asset_state s", LIVE)} AS asset_keys,
  ${bothPlanes("s.expires_at > now() AND s.expires_at <= now() + interval '24 hours'")} AS expiring_within_24h,
  ${bothPlanes("s.expires_at <= now()")} AS expired_awaiting_cleanup`;

export async function stats(sql: SqlRunner): Promise<Stats> {
  const [row] = await sql.query<Record<string, number>>(STATS_SQL, [], "operator_stats");
  const n = (column: string) => Number(row?.[column] ?? 0);
  return {
    dagRuns: n("dag_runs"),
    taskInstances: n("task_instances"),
    taskKeys: n("task_keys"),
    assets: n("assets"),
    assetKeys: n("asset_keys"),
    expiringWithin24h: n("expiring_within_24h"),
    expiredAwaitingCleanup: n("expired_awaiting_cleanup"),
  };
}
