// The interleaved table: every variant started once, then each row's variants measured in rotating order,
// round after round, and printed as medians with P/B2 ratios; and the SQL statements per operation,
// sampled before the table and printed after it.
import { log, median, out, sleep } from "./common.ts";
import { type LoadResult, measure, runAutocannon, runB1, runBatched } from "./load.ts";
import { type Cell, formatTable, num, type Ratio, ratio, ratios, type Summary, summarize } from "./report.ts";
import { type RunningVariant, startB1, startServer } from "./servers.ts";
import type { BenchRun } from "./setup.ts";
import { formatStatements, type StatementSample, sampleStatements } from "./statements.ts";
import type { VariantId, Workload } from "./workloads.ts";

export async function sampleStatementsPhase(run: BenchRun): Promise<StatementSample[]> {
  if (!run.args.statements) return [];
  log("sampling SQL statements per operation through a counting proxy");
  const statements = await sampleStatements({
    pg: run.pg,
    database: run.database,
    target: run.target,
    workloads: {
      put: run.byId("W1 put c=32"),
      hit: run.byId("W2 get hit c=32"),
      miss: run.byId("W2 get miss c=32"),
    },
  });
  run.result.statements = statements;
  return statements;
}

export function printStatements(run: BenchRun, statements: StatementSample[]): void {
  if (statements.length === 0) return;
  out("");
  out(
    `SQL per operation, counted at the wire by a proxy (pg_stat_statements: ${run.postgres.pgStatStatements}); ` +
      "txns = transactions ended (ReadyForQuery idle); parses > 0 means statements are not (yet) prepared",
  );
  out(formatStatements(statements));
}

type Started = Record<"B1" | "B2" | "P", RunningVariant> & Partial<Record<VariantId, RunningVariant>>;
type TableRatios = Record<"ratios" | "logCostRatios" | "adapterRatios" | "fastPathRatios", Ratio[]>;

/** The table's summaries; none with --no-table or when --only leaves no row. */
export async function tablePhase(run: BenchRun): Promise<Summary[]> {
  const { args, workloads } = run;
  if (!args.table || workloads.length === 0) return [];
  const variantsUsed = new Set(workloads.flatMap((w) => w.variants));
  const started = await startVariants(run, variantsUsed);
  const runCell = cellRunner(run, started);
  // Warm-up: JIT, pool connections, prepared statements.
  const warm = run.byId("W3 90/10 c=32");
  const warmSeconds = args.quick ? 1 : 3;
  log(`warming up every variant (${warmSeconds} s of W3 each)`);
  for (const variant of variantsUsed) await runCell(variant, warm, warmSeconds);
  for (const variant of ["B2", "P", "P-fastify", "P-trpc"] as const) {
    const w6 = workloads.find((w) => w.kind === "batch" && w.variants.includes(variant));
    if (w6) await runCell(variant, w6, 0.5);
  }

  const cells: Cell[] = [];
  const totalCells = workloads.reduce((n, w) => n + w.variants.length, 0) * args.rounds;
  log(`${totalCells} cells of ${args.seconds} s (${args.rounds} rounds, variants in rotating order)`);
  for (let round = 0; round < args.rounds; round++) {
    for (const [wi, w] of workloads.entries()) {
      const shift = (round + wi) % w.variants.length;
      const order = [...w.variants.slice(shift), ...w.variants.slice(0, shift)];
      for (const variant of order) {
        if (run.interrupted()) throw new Error("interrupted");
        const m = await measure(started[variant]!.child.pid, run.database, () =>
          runCell(variant, w, args.seconds),
        );
        cells.push({ round, workload: w.id, variant, m });
        await sleep(20);
      }
    }
    log(`round ${round + 1}/${args.rounds} done`);
  }
  await Promise.all(Object.values(started).map((v) => v.child.stop()));
  const summaries = summarize(cells, workloads);
  const table: TableRatios = {
    ratios: ratios(summaries),
    logCostRatios: ratios(summaries, "P+log", "P"),
    adapterRatios: ratios(summaries, "P-fastify", "P"),
    fastPathRatios: ratios(summaries, "P-trpc", "P"),
  };
  Object.assign(run.result, { cells, summaries, ...table });
  printTable(run, summaries, table, started["P-fastify"] !== undefined);
  printBatchingCheck(cells);
  printContendedColdStart(started);
  return summaries;
}

/** Each variant the rows use, as its own process, started together. */
async function startVariants(run: BenchRun, variantsUsed: Set<VariantId>): Promise<Started> {
  const { databaseUrl } = run;
  const ready = { bearer: run.target.bearer[0]!, taskInstanceId: run.target.ids[0]! };
  log(
    `starting B1 (raw pg loop), B2 (node:http + pg) and P (Cairn)${variantsUsed.has("P-fastify") ? ", P-fastify (Cairn on Fastify)" : ""} as separate processes`,
  );
  const [b1, b2, p, plog, pfastify, ptrpc] = await Promise.all([
    startB1(databaseUrl, run.args.instances),
    startServer("B2", { databaseUrl, ...ready }),
    startServer("P", { databaseUrl, ...ready }),
    variantsUsed.has("P+log") ? startServer("P", { databaseUrl, ...ready, logLevel: "info" }) : undefined,
    variantsUsed.has("P-fastify") ? startServer("P-fastify", { databaseUrl, ...ready }) : undefined,
    variantsUsed.has("P-trpc")
      ? startServer("P", { databaseUrl, ...ready, env: { CAIRN_TRPC_FAST_PATH: "false" } })
      : undefined,
  ]);
  run.result.coldStart = {
    B2: { healthyMs: b2.healthyMs, firstPutMs: b2.firstPutMs },
    P: { healthyMs: p.healthyMs, firstPutMs: p.firstPutMs },
    ...(pfastify ? { "P-fastify": { healthyMs: pfastify.healthyMs, firstPutMs: pfastify.firstPutMs } } : {}),
  };
  return {
    B1: b1,
    B2: b2,
    P: p,
    ...(plog ? { "P+log": plog } : {}),
    ...(pfastify ? { "P-fastify": pfastify } : {}),
    ...(ptrpc ? { "P-trpc": ptrpc } : {}),
  };
}

function cellRunner(run: BenchRun, started: Started) {
  const { target } = run;
  return async (variant: VariantId, w: Workload, seconds: number): Promise<LoadResult> => {
    const v = started[variant]!;
    if (variant === "B1") return runB1(v.child, w, { seconds });
    if (w.kind !== "batch") return runAutocannon({ ...target, url: v.url }, w, { seconds });
    if (variant !== "B2") return runBatched({ ...target, url: v.url }, w, { seconds });
    // B2 counts what it received: proof that the typed client really sent `batch` calls per request.
    const stats = async () =>
      (await (await fetch(`${v.url}/stats`)).json()) as { requests: number; calls: number };
    const before = await stats();
    const load = await runBatched({ ...target, url: v.url }, w, { seconds });
    const after = await stats();
    return {
      ...load,
      serverCallsPerRequest: (after.calls - before.calls) / (after.requests - before.requests - 1),
    };
  };
}

function printTable(run: BenchRun, summaries: Summary[], table: TableRatios, fastify: boolean): void {
  const { args } = run;
  out("");
  out(
    `Cairn benchmark: medians of ${args.rounds} rounds, ${args.seconds} s cells, ${args.instances.toLocaleString()} task instances, PostgreSQL on 127.0.0.1`,
  );
  out(
    "B1 raw pg loop (pool 10, ≤16 in flight) · B2 bare node:http + pg, same wire and SQL · P Cairn server (LOG_LEVEL=warn)",
  );
  if (fastify)
    out(
      "P-fastify: the same router, context and metrics through tRPC's Fastify adapter (no request logging)",
    );
  out(
    "srv µs/op: CPU of the process under test per op · pg µs/op: CPU of the PostgreSQL backends · gen µs/op: load generator",
  );
  out(
    "peak MB: VmHWM of the process under test during the cell · W6 counts keys/s, p50/p99 per batch request",
  );
  out("");
  out(formatTable(summaries, table.ratios));
  printRatios(
    table.logCostRatios,
    "Logging cost (P with LOG_LEVEL=info, stdout to /dev/null, vs P with warn):",
    (r) => `ops ${ratio(r.ops)}  p50 ${ratio(r.p50)}  server CPU/op ${ratio(r.serverCpu)}`,
  );
  const peak = (r: Ratio, v: VariantId) =>
    num(summaries.find((x) => x.workload === r.workload && x.variant === v)?.peakRssMb ?? Number.NaN, 1);
  printRatios(
    table.adapterRatios,
    "Adapters (P-fastify: tRPC's Fastify adapter, vs P: the standalone adapter on node:http):",
    (r) =>
      `fastify/standalone: ops ${ratio(r.ops)}  p50 ${ratio(r.p50)}  server CPU/op ${ratio(r.serverCpu)}  peak MB ${peak(r, "P-fastify")} vs ${peak(r, "P")}`,
  );
  printRatios(
    table.fastPathRatios,
    "Fast path (P-trpc: every call through tRPC's node adapter, vs P: common calls on trpc-fast-path.ts):",
    (r) => `trpc/P: ops ${ratio(r.ops)}  p50 ${ratio(r.p50)}  server CPU/op ${ratio(r.serverCpu)}`,
  );
}

/** A section of ratios between two variants, when the flags added the second one. */
function printRatios(rows: Ratio[], heading: string, line: (r: Ratio) => string): void {
  if (rows.length === 0) return;
  out("");
  out(heading);
  for (const r of rows) out(`  ${r.workload.padEnd(20)} ${line(r)}`);
}

function printBatchingCheck(cells: Cell[]): void {
  const batchCheck = cells.filter((c) => c.m.serverCallsPerRequest !== undefined);
  if (batchCheck.length === 0) return;
  out("");
  out(
    `W6 batching check: B2 received ${[...new Set(batchCheck.map((c) => c.workload))]
      .map(
        (w) =>
          `${median(batchCheck.filter((c) => c.workload === w).map((c) => c.m.serverCallsPerRequest!)).toFixed(1)} calls/request in "${w}"`,
      )
      .join(", ")}`,
  );
}

function printContendedColdStart(started: Started): void {
  const { P: p, B2: b2, "P-fastify": pfastify } = started;
  out("");
  out(
    `Cold start with every variant starting at once (contended; the alone figures follow): P ${num(p.firstPutMs)} ms (healthy ${num(p.healthyMs)} ms), B2 ${num(b2.firstPutMs)} ms${pfastify ? `, P-fastify ${num(pfastify.firstPutMs)} ms (healthy ${num(pfastify.healthyMs)} ms)` : ""}`,
  );
}
