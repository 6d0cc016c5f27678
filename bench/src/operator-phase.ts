// --operator (issue 13): the operator read API at scale. Seeds 100 k dag runs over 100 dags, a task
// instance each and 10 keys each (1 M task-state rows), and 10 k assets, beside the benchmark's own data;
// then one P server answers pages over HTTP, each call timed alone (one at a time, after a warm-up call):
// the first page of every run, a page 50 pages deep, one dag's runs, a run id prefix across dags, a run's
// task instances, assets (first page and a search), and the counts of admin.stats.
import { fastToken, median, percentile } from "./common.ts";
import { withClient } from "./db.ts";
import type { PhaseContext } from "./phases.ts";
import { startServer } from "./servers.ts";

export interface OperatorResult {
  seedSeconds: number;
  dagRuns: number;
  taskStateRows: number;
  assets: number;
  cells: { name: string; p50Ms: number; p95Ms: number; total: number }[];
}

/** Statements and which count each one's $1 is. */
const SEED: [string, "runs" | "keysPerRun" | "assets" | null][] = [
  [
    `INSERT INTO dag_run (dag_id, run_id, created_at)
     SELECT 'op_dag_' || (g % 100), 'op_run_' || g, now() - g * interval '1 second'
     FROM generate_series(1, $1::int) g`,
    "runs",
  ],
  [
    `INSERT INTO task_instance (id, dag_run_id, task_id, map_index, try_number)
     SELECT gen_random_uuid(), r.id, 'work', -1, 1 FROM dag_run r WHERE starts_with(r.dag_id, 'op_dag_')`,
    null,
  ],
  [
    `INSERT INTO task_state (dag_run_id, task_id, map_index, key, value)
     SELECT r.id, 'work', -1, 'key_' || k, to_jsonb(k)
     FROM dag_run r, generate_series(1, $1::int) k WHERE starts_with(r.dag_id, 'op_dag_')`,
    "keysPerRun",
  ],
  [
    `INSERT INTO asset (name, uri) SELECT 'op_asset_' || g, 's3://op/' || g FROM generate_series(1, $1::int) g`,
    "assets",
  ],
  ["ANALYZE dag_run", null],
  ["ANALYZE task_instance", null],
  ["ANALYZE task_state", null],
  ["ANALYZE asset", null],
];

export async function operatorPhase(
  ctx: PhaseContext,
  opts: { runs: number; keysPerRun: number; assets: number; calls: number },
): Promise<OperatorResult> {
  const seeding = performance.now();
  await withClient(ctx.databaseUrl, async (client) => {
    for (const [sql, count] of SEED) await client.query(sql, count ? [opts[count]] : []);
  });
  const seedSeconds = (performance.now() - seeding) / 1000;
  ctx.log(
    `operator: seeded ${opts.runs} dag runs, ${opts.runs * opts.keysPerRun} task-state rows, ${opts.assets} assets in ${seedSeconds.toFixed(1)} s`,
  );
  const server = await startServer("P", {
    databaseUrl: ctx.databaseUrl,
    bearer: ctx.target.bearer[0]!,
    taskInstanceId: ctx.target.ids[0]!,
  });
  const authorization = `Bearer ${fastToken("bench-operator", "admin")}`;
  const query = async (path: string, input: object) => {
    const url = `${server.url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`;
    const started = performance.now();
    const response = await fetch(url, { headers: { authorization } });
    const body = (await response.json()) as { result?: { data: { total?: number; nextCursor?: string } } };
    const ms = performance.now() - started;
    if (!response.ok || !body.result)
      throw new Error(`${path}: HTTP ${response.status} ${JSON.stringify(body)}`);
    return { ms, data: body.result.data };
  };
  try {
    // A cursor 50 pages into every run, newest first.
    let deep: string | undefined;
    for (let page = 0; page < 50; page++) {
      deep = (await query("admin.dagRuns.list", deep ? { cursor: deep } : {})).data.nextCursor;
    }
    const cells: [string, string, object][] = [
      ["dagRuns.list, first page of 100 k", "admin.dagRuns.list", {}],
      ["dagRuns.list, 50 pages deep", "admin.dagRuns.list", { cursor: deep }],
      ["dagRuns.list, one dag (1 k runs)", "admin.dagRuns.list", { dagId: "op_dag_42" }],
      ["dagRuns.list, run id prefix across dags", "admin.dagRuns.list", { runIdPrefix: "op_run_99" }],
      ["taskInstances.list, one run", "admin.taskInstances.list", { dagId: "op_dag_42", runId: "op_run_42" }],
      ["assets.list, first page of 10 k", "admin.assets.list", {}],
      ["assets.list, search", "admin.assets.list", { search: "ASSET_77" }],
      ["stats (counts over all rows)", "admin.stats", {}],
    ];
    const results: OperatorResult["cells"] = [];
    for (const [name, path, input] of cells) {
      const first = await query(path, input); // warm-up: plan cached, pages in memory
      const times: number[] = [];
      for (let i = 0; i < opts.calls; i++) times.push((await query(path, input)).ms);
      times.sort((a, b) => a - b);
      results.push({
        name,
        p50Ms: median(times),
        p95Ms: percentile(times, 95),
        total: first.data.total ?? 0,
      });
    }
    return {
      seedSeconds,
      dagRuns: opts.runs,
      taskStateRows: opts.runs * opts.keysPerRun,
      assets: opts.assets,
      cells: results,
    };
  } finally {
    await server.child.stop();
  }
}
