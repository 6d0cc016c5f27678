// The benchmark's own PostgreSQL databases: created fresh, migrated with Cairn's migrations, seeded with
// bulk SQL, dropped at the end.
import { openDatabase } from "@cairn/db";
import pg from "pg";
import { INSTANCE_ID_SQL } from "./common.ts";
import { HIT_KEY } from "./workloads.ts";

export interface PgServer {
  host: string;
  port: number;
  user: string;
  /** URL of the maintenance database (postgres), for CREATE / DROP DATABASE. */
  adminUrl: string;
}

export function pgServerFromEnv(): PgServer {
  const base = process.env.BENCH_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const url = new URL(base);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
    throw new Error(`BENCH_PG_URL must point at this machine (127.0.0.1), not ${url.hostname}`);
  }
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || "postgres"),
    adminUrl: base,
  };
}

export function databaseUrl(server: PgServer, database: string, port = server.port): string {
  const url = new URL(server.adminUrl);
  url.port = String(port);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(server: PgServer, name: string): Promise<string> {
  if (!/^cairn_bench_[a-z0-9_]+$/.test(name)) throw new Error(`refusing database name ${name}`);
  await withClient(server.adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = databaseUrl(server, name);
  const db = await openDatabase({ url, migrate: true, poolSize: 2 });
  await db.close();
  return url;
}

/**
 * Drops databases left by benchmark runs that were killed (SIGKILL leaves no chance to clean up): their
 * names end in the orchestrator's pid, and that process is gone. Returns the names dropped.
 */
export async function dropAbandoned(server: PgServer): Promise<string[]> {
  const names = await withClient(server.adminUrl, async (c) =>
    (
      await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'cairn_bench_%'")
    ).rows.map((r) => r.datname),
  );
  const dropped: string[] = [];
  for (const name of names) {
    const pid = Number(/^cairn_bench_[a-z0-9]+_(\d+)(?:_w4)?$/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // still running (or the pid was reused): leave it
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EPERM") continue;
    }
    await dropDatabase(server, name).catch(() => {});
    dropped.push(name);
  }
  return dropped;
}

export async function dropDatabase(server: PgServer, name: string): Promise<void> {
  if (!/^cairn_bench_[a-z0-9_]+$/.test(name)) return;
  await withClient(server.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/**
 * Task instances 0..n-1 (ids from instanceId(i)): 10 tasks per dag run, map index -1, try 1. Each gets
 * the key "hit" with a 100-byte value unless `stateKeys` names other keys (W4 seeds 5 keys each).
 * `from` lets W4 grow an existing seed.
 */
export async function seed(
  url: string,
  options: { from?: number; to: number; stateKeys?: string[]; chunk?: number },
): Promise<void> {
  const keys = options.stateKeys ?? [HIT_KEY];
  const chunk = options.chunk ?? 200_000;
  await withClient(url, async (c) => {
    await c.query("SET synchronous_commit = off");
    for (let lo = options.from ?? 0; lo < options.to; lo += chunk) {
      const hi = Math.min(options.to, lo + chunk) - 1;
      // Dag run r holds instances 10r..10r+9; ids are stable (r + 1) so later chunks find their run.
      await c.query(
        `INSERT INTO dag_run (id, dag_id, run_id)
         SELECT r + 1, 'bench_dag', 'run_' || r FROM generate_series($1::int / 10, $2::int / 10) r
         ON CONFLICT DO NOTHING`,
        [lo, hi],
      );
      await c.query(
        `INSERT INTO task_instance (id, dag_run_id, task_id, map_index, try_number)
         SELECT ${INSTANCE_ID_SQL("i")}, i / 10 + 1, 'task_' || (i % 10), -1, 1
         FROM generate_series($1::int, $2::int) i`,
        [lo, hi],
      );
      await c.query(
        `INSERT INTO task_state (dag_run_id, task_id, map_index, key, value, version, updated_at, expires_at)
         SELECT i / 10 + 1, 'task_' || (i % 10), -1, k,
                jsonb_build_object('v', substr(md5(i::text || k) || md5(k || i::text) || md5(i::text), 1, 88)),
                1, now(), NULL
         FROM generate_series($1::int, $2::int) i, unnest($3::text[]) k`,
        [lo, hi, keys],
      );
    }
    await c.query(`SELECT setval(pg_get_serial_sequence('dag_run', 'id'), (SELECT max(id) FROM dag_run))`);
    await c.query("VACUUM ANALYZE dag_run, task_instance, task_state");
  });
}

export interface PgInfo {
  version: string;
  pgStatStatements: "loaded" | "installable (not in shared_preload_libraries)" | "not installed";
}

export async function pgInfo(server: PgServer): Promise<PgInfo> {
  return withClient(server.adminUrl, async (c) => {
    const version = (await c.query<{ v: string }>("SELECT version() AS v")).rows[0]!.v;
    const preload = (await c.query<{ s: string }>("SELECT current_setting('shared_preload_libraries') AS s"))
      .rows[0]!.s;
    const available =
      (await c.query("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'")).rowCount! >
      0;
    return {
      version,
      pgStatStatements: preload.includes("pg_stat_statements")
        ? "loaded"
        : available
          ? "installable (not in shared_preload_libraries)"
          : "not installed",
    };
  });
}

export async function rowCount(url: string, table: string): Promise<number> {
  return withClient(url, async (c) =>
    Number((await c.query(`SELECT count(*)::bigint AS n FROM ${table}`)).rows[0].n),
  );
}
