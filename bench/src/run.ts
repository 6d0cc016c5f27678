// `pnpm bench`: Cairn (P) beside two baselines (B1 raw pg in-process loop, B2 bare node:http + pg), on a
// fresh PostgreSQL database, interleaved and repeated; prints medians, P/B2 ratios and the issue's
// targets, and writes everything as JSON to bench/results/. With --adapters, also Cairn on tRPC's Fastify
// adapter (P-fastify) beside P. See bench/README.md.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { tokenKeys, verifyToken } from "@cairn/api";
import { fastToken, instanceId, JWT_SECRET, median, sleep } from "./common.ts";
import {
  createDatabase,
  dropAbandoned,
  dropDatabase,
  type PgServer,
  pgInfo,
  pgServerFromEnv,
  seed,
} from "./db.ts";
import { type LoadResult, measure, runAutocannon, runB1, runBatched, type Target } from "./load.ts";
import { operatorPhase } from "./operator-phase.ts";
import {
  coldStarts,
  type PhaseContext,
  type ScaleOutResult,
  type SoakResult,
  scaleOut,
  soak,
  type W4Result,
  type W7Result,
  w4,
  w7,
} from "./phases.ts";
import { killAllNow, REPO_ROOT, stopAll } from "./procs.ts";
import { formatProfile, type ProfileSummary, summarizeProfile } from "./profile.ts";
import {
  type Cell,
  formatTable,
  formatTargets,
  num,
  ratio,
  ratios,
  type Summary,
  summarize,
  type TargetCheck,
} from "./report.ts";
import { type RunningVariant, startB1, startServer } from "./servers.ts";
import { formatStatements, type StatementSample, sampleStatements } from "./statements.ts";
import { watchPhase } from "./watch-phase.ts";
import { mainWorkloads, type VariantId, type Workload } from "./workloads.ts";

const USAGE = `pnpm bench [options]

  --quick              short cells (0.8 s), 10 k task instances: under 2 minutes
  (default)            full run: 6 s cells, 100 k task instances, P+log variant: under 15 minutes
  --rounds=N           rounds of the interleaved table (default 3)
  --seconds=S          length of each cell
  --instances=N        seeded task instances (W1 puts spread over them)
  --only=W1,W2         only these workload groups in the table
  --no-table           skip the interleaved table (run only the phases below)
  --no-statements      skip the SQL-statements-per-operation sampling
  --log-cost / --no-log-cost   add (or not) "P+log" (LOG_LEVEL=info) for W1/W2 at c=32
  --adapters           add "P-fastify" (the same router through tRPC's Fastify adapter) and "P-trpc"
                       (P with CAIRN_TRPC_FAST_PATH=false: every call through tRPC's node adapter) to W1,
                       W2 hit, W3 and W6 batch 50, and print their ratios to P
  --w4[=instances]     W4: get/put latency at 10 k rows vs 5 M rows (1 M instances × 5 keys)
  --w7[=connections]   W7: open loop over up to 256 (or N) connections at 25/50/75 % of each variant's
                       own W3 peak (and P at 50 % of B2's): p50/p99/p99.9 from the scheduled send
  --soak[=minutes]     W9: W3 against a fresh Cairn server for 10 (or N) minutes, RSS every 10 s
  --scale-out[=secs]   two Cairn servers on one database: W3 on both + compare-and-set counters
  --watch[=secs]       watch cost: W1 put c=32 with notify triggers dropped / disabled / 100 watchers /
                       a slow watcher (secs per cell), and W10: a write reaching 1 000 watchers
  --operator[=runs]    the operator read API over 100 k (or N) dag runs with 10 keys each and 10 k
                       assets: page latency of admin.dagRuns/taskInstances/assets.list and admin.stats
  --profile[=secs]     run W1 c=32 against a Cairn server started with --cpu-prof; top self time
  --profile-workload=ID   the table row to profile instead (e.g. "W2 get hit c=32")
  --keep-db            do not drop the benchmark database at the end
Env: BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres; loopback only)`;

interface Args {
  quick: boolean;
  rounds: number;
  seconds: number;
  instances: number;
  only: string[] | null;
  table: boolean;
  statements: boolean;
  logCost: boolean;
  adapters: boolean;
  w4: number | null;
  w7: number | null;
  soak: number | null;
  scaleOut: number | null;
  watch: number | null;
  operator: number | null;
  profile: number | null;
  profileWorkload: string;
  keepDb: boolean;
}

function parseArgs(argv: string[]): Args {
  const flags = new Map<string, string | true>();
  for (const arg of argv) {
    if (arg === "--") continue;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}\n\n${USAGE}`);
    flags.set(m[1]!, m[2] ?? true);
  }
  const known = [
    "quick",
    "rounds",
    "seconds",
    "instances",
    "only",
    "no-table",
    "no-statements",
    "log-cost",
    "no-log-cost",
    "adapters",
    "w4",
    "w7",
    "soak",
    "scale-out",
    "watch",
    "operator",
    "profile",
    "profile-workload",
    "keep-db",
    "help",
  ];
  for (const name of flags.keys())
    if (!known.includes(name)) throw new Error(`unknown option --${name}\n\n${USAGE}`);
  if (flags.has("help")) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = flags.has("quick");
  const numberFlag = (name: string, fallback: number): number => {
    const v = flags.get(name);
    if (v === undefined || v === true) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number`);
    return n;
  };
  const optional = (name: string, fallback: number) => (flags.has(name) ? numberFlag(name, fallback) : null);
  const only = flags.get("only");
  const profileWorkload = flags.get("profile-workload");
  return {
    quick,
    rounds: Math.round(numberFlag("rounds", 3)),
    seconds: numberFlag("seconds", quick ? 0.8 : 6),
    instances: Math.round(numberFlag("instances", quick ? 10_000 : 100_000)),
    only: typeof only === "string" ? only.split(",").map((s) => s.trim().toUpperCase()) : null,
    table: !flags.has("no-table"),
    statements: !flags.has("no-statements"),
    logCost: flags.has("log-cost") || (!quick && !flags.has("no-log-cost")),
    adapters: flags.has("adapters"),
    w4: optional("w4", 1_000_000),
    w7: optional("w7", 256),
    soak: optional("soak", 10),
    scaleOut: optional("scale-out", quick ? 5 : 20),
    watch: optional("watch", quick ? 2 : 5),
    operator: optional("operator", quick ? 10_000 : 100_000),
    profile: optional("profile", 10),
    profileWorkload: typeof profileWorkload === "string" ? profileWorkload : "W1 put c=32",
    keepDb: flags.has("keep-db"),
  };
}

/** The rows where --adapters adds P-fastify and P-trpc beside P. */
const ADAPTER_ROWS = [
  "W1 put c=1",
  "W1 put c=32",
  "W2 get hit c=1",
  "W2 get hit c=32",
  "W3 90/10 c=32",
  "W6 batch 50 (keys/s)",
];

const log = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const out = (text: string) => process.stdout.write(`${text}\n`);

// ---------------------------------------------------------------------------------------------------
// Cleanup: every child is killed on exit, Ctrl-C, or error; the databases are dropped.

const databases: string[] = [];
let pgServer: PgServer | undefined;
let keepDb = false;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopAll().catch(() => {});
    if (pgServer && !keepDb) {
      for (const name of databases) await dropDatabase(pgServer, name).catch(() => {});
    }
  })();
  return cleaning;
}

/** Set on a signal: the main loop stops at the next cell. */
let interrupted = false;
process.on("exit", killAllNow);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping children and dropping the benchmark database`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.on("uncaughtException", (error) => {
  process.stderr.write(`bench: ${error.stack ?? String(error)}\n`);
  void cleanup().finally(() => process.exit(1));
});
process.on("unhandledRejection", (error) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  void cleanup().finally(() => process.exit(1));
});

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  keepDb = args.keepDb;
  const runStarted = performance.now();
  // A hard bound on the whole run, whatever happens.
  const budgetMinutes =
    (args.quick ? 4 : 25) +
    (args.adapters ? (args.quick ? 1 : 3) : 0) +
    (args.soak ?? 0) +
    (args.w4 ? 20 : 0) +
    (args.w7 ? 3 : 0) +
    (args.scaleOut ?? 0) / 60 +
    (args.watch === null ? 0 : (args.rounds * 4 * args.watch + 30) / 60) +
    (args.operator === null ? 0 : 3) +
    (args.profile ?? 0) / 60;
  setTimeout(() => {
    log(`run exceeded its ${budgetMinutes.toFixed(0)}-minute bound: aborting`);
    void cleanup().finally(() => process.exit(2));
  }, budgetMinutes * 60_000).unref();

  const load1 = os.loadavg()[0] ?? 0;
  if (load1 > os.cpus().length * 0.5) {
    log(
      `warning: load average ${load1.toFixed(1)} on ${os.cpus().length} cores before the run: other work competes; trust the ratios of this interleaved run more than its absolute numbers`,
    );
  }
  pgServer = pgServerFromEnv();
  const info = await pgInfo(pgServer);
  const abandoned = await dropAbandoned(pgServer);
  if (abandoned.length > 0) log(`dropped databases of killed runs: ${abandoned.join(", ")}`);
  const runId = `${Date.now().toString(36)}_${process.pid}`;
  const database = `cairn_bench_${runId}`;
  log(`PostgreSQL: ${info.version.split(",")[0]}; pg_stat_statements: ${info.pgStatStatements}`);
  log(`creating and migrating ${database}`);
  databases.push(database);
  const databaseUrl = await createDatabase(pgServer, database);
  const seedStarted = performance.now();
  await seed(databaseUrl, { to: args.instances });
  log(
    `seeded ${args.instances.toLocaleString()} task instances (+1 "hit" key each) in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`,
  );

  const ids = Array.from({ length: args.instances }, (_, i) => instanceId(i));
  const bearer = ids.map((id) => `Bearer ${fastToken(id, "execution")}`);
  // The fast signer must make tokens Cairn accepts.
  const principal = await verifyToken(tokenKeys(JWT_SECRET), bearer[0]!.slice(7));
  if (principal.scope !== "execution" || principal.sub !== ids[0]) throw new Error("token check failed");
  const target: Omit<Target, "url"> = { ids, bearer, instances: args.instances };

  let workloads = mainWorkloads(args.instances);
  if (args.only) workloads = workloads.filter((w) => args.only!.includes(w.group));
  if (args.logCost) {
    for (const w of workloads) {
      if (w.id === "W1 put c=32" || w.id === "W2 get hit c=32") w.variants = [...w.variants, "P+log"];
    }
  }
  if (args.adapters) {
    for (const w of workloads) {
      if (ADAPTER_ROWS.includes(w.id)) w.variants = [...w.variants, "P-fastify", "P-trpc"];
    }
  }
  const byId = (id: string) => mainWorkloads(args.instances).find((w) => w.id === id)!;

  const result: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    args,
    machine: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGb: Math.round(os.totalmem() / 2 ** 30),
      loadAverageAtStart: os.loadavg(),
    },
    postgres: info,
    database,
  };
  const checks: TargetCheck[] = [];
  const ready = { bearer: bearer[0]!, taskInstanceId: ids[0]! };

  // SQL statements per operation, through the counting proxy.
  let statements: StatementSample[] = [];
  if (args.statements) {
    log("sampling SQL statements per operation through a counting proxy");
    statements = await sampleStatements({
      pg: pgServer,
      database,
      target,
      workloads: { put: byId("W1 put c=32"), hit: byId("W2 get hit c=32"), miss: byId("W2 get miss c=32") },
    });
    result.statements = statements;
  }

  let summaries: Summary[] = [];
  if (args.table && workloads.length > 0) {
    const variantsUsed = new Set(workloads.flatMap((w) => w.variants));
    log(
      `starting B1 (raw pg loop), B2 (node:http + pg) and P (Cairn)${variantsUsed.has("P-fastify") ? ", P-fastify (Cairn on Fastify)" : ""} as separate processes`,
    );
    const started: Partial<Record<VariantId, RunningVariant>> = {};
    const [b1, b2, p, plog, pfastify, ptrpc] = await Promise.all([
      startB1(databaseUrl, args.instances),
      startServer("B2", { databaseUrl, ...ready }),
      startServer("P", { databaseUrl, ...ready }),
      variantsUsed.has("P+log") ? startServer("P", { databaseUrl, ...ready, logLevel: "info" }) : undefined,
      variantsUsed.has("P-fastify") ? startServer("P-fastify", { databaseUrl, ...ready }) : undefined,
      variantsUsed.has("P-trpc")
        ? startServer("P", { databaseUrl, ...ready, env: { CAIRN_TRPC_FAST_PATH: "false" } })
        : undefined,
    ]);
    Object.assign(started, {
      B1: b1,
      B2: b2,
      P: p,
      ...(plog ? { "P+log": plog } : {}),
      ...(pfastify ? { "P-fastify": pfastify } : {}),
      ...(ptrpc ? { "P-trpc": ptrpc } : {}),
    });
    result.coldStart = {
      B2: { healthyMs: b2.healthyMs, firstPutMs: b2.firstPutMs },
      P: { healthyMs: p.healthyMs, firstPutMs: p.firstPutMs },
      ...(pfastify
        ? { "P-fastify": { healthyMs: pfastify.healthyMs, firstPutMs: pfastify.firstPutMs } }
        : {}),
    };
    const runCell = async (variant: VariantId, w: Workload, seconds: number): Promise<LoadResult> => {
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
    // Warm-up: JIT, pool connections, prepared statements.
    const warm = byId("W3 90/10 c=32");
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
          if (interrupted) throw new Error("interrupted");
          const m = await measure(started[variant]!.child.pid, database, () =>
            runCell(variant, w, args.seconds),
          );
          cells.push({ round, workload: w.id, variant, m });
          await sleep(20);
        }
      }
      log(`round ${round + 1}/${args.rounds} done`);
    }
    await Promise.all(Object.values(started).map((v) => v.child.stop()));
    summaries = summarize(cells, workloads);
    result.cells = cells;
    result.summaries = summaries;
    result.ratios = ratios(summaries);
    result.logCostRatios = ratios(summaries, "P+log", "P");
    result.adapterRatios = ratios(summaries, "P-fastify", "P");
    result.fastPathRatios = ratios(summaries, "P-trpc", "P");

    out("");
    out(
      `Cairn benchmark: medians of ${args.rounds} rounds, ${args.seconds} s cells, ${args.instances.toLocaleString()} task instances, PostgreSQL on 127.0.0.1`,
    );
    out(
      "B1 raw pg loop (pool 10, ≤16 in flight) · B2 bare node:http + pg, same wire and SQL · P Cairn server (LOG_LEVEL=warn)",
    );
    if (pfastify)
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
    out(formatTable(summaries, result.ratios as ReturnType<typeof ratios>));
    const logRatios = result.logCostRatios as ReturnType<typeof ratios>;
    if (logRatios.length > 0) {
      out("");
      out("Logging cost (P with LOG_LEVEL=info, stdout to /dev/null, vs P with warn):");
      for (const r of logRatios)
        out(
          `  ${r.workload.padEnd(20)} ops ${ratio(r.ops)}  p50 ${ratio(r.p50)}  server CPU/op ${ratio(r.serverCpu)}`,
        );
    }
    const adapterRatios = result.adapterRatios as ReturnType<typeof ratios>;
    if (adapterRatios.length > 0) {
      out("");
      out("Adapters (P-fastify: tRPC's Fastify adapter, vs P: the standalone adapter on node:http):");
      for (const r of adapterRatios) {
        const peak = (v: VariantId) =>
          num(
            summaries.find((x) => x.workload === r.workload && x.variant === v)?.peakRssMb ?? Number.NaN,
            1,
          );
        out(
          `  ${r.workload.padEnd(20)} fastify/standalone: ops ${ratio(r.ops)}  p50 ${ratio(r.p50)}  server CPU/op ${ratio(r.serverCpu)}  peak MB ${peak("P-fastify")} vs ${peak("P")}`,
        );
      }
    }
    const fastPathRatios = result.fastPathRatios as ReturnType<typeof ratios>;
    if (fastPathRatios.length > 0) {
      out("");
      out(
        "Fast path (P-trpc: every call through tRPC's node adapter, vs P: common calls on trpc-fast-path.ts):",
      );
      for (const r of fastPathRatios) {
        out(
          `  ${r.workload.padEnd(20)} trpc/P: ops ${ratio(r.ops)}  p50 ${ratio(r.p50)}  server CPU/op ${ratio(r.serverCpu)}`,
        );
      }
    }
    const batchCheck = cells.filter((c) => c.m.serverCallsPerRequest !== undefined);
    if (batchCheck.length > 0) {
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
    out("");
    out(
      `Cold start with every variant starting at once (contended; the alone figures follow): P ${num(p.firstPutMs)} ms (healthy ${num(p.healthyMs)} ms), B2 ${num(b2.firstPutMs)} ms${pfastify ? `, P-fastify ${num(pfastify.firstPutMs)} ms (healthy ${num(pfastify.healthyMs)} ms)` : ""}`,
    );
  }

  if (statements.length > 0) {
    out("");
    out(
      `SQL per operation, counted at the wire by a proxy (pg_stat_statements: ${info.pgStatStatements}); ` +
        "txns = transactions ended (ReadyForQuery idle); parses > 0 means statements are not (yet) prepared",
    );
    out(formatStatements(statements));
  }

  // Targets of the issue.
  const s = (w: string, v: VariantId) => summaries.find((x) => x.workload === w && x.variant === v);
  const ratioCheck = (w: string, min: number) => {
    const pv = s(w, "P");
    const bv = s(w, "B2");
    if (!pv || !bv) return { target: `P/B2 ≥ ${min.toFixed(2)} for ${w}`, value: "not run", pass: null };
    const r = pv.opsPerSec / bv.opsPerSec;
    return {
      target: `P/B2 ≥ ${min.toFixed(2)} for ${w}`,
      value: `${r.toFixed(3)}x (${num(pv.opsPerSec)} vs ${num(bv.opsPerSec)} ops/s)`,
      pass: r >= min,
    };
  };
  checks.push(
    ratioCheck("W1 put c=32", 0.8),
    ratioCheck("W2 get hit c=32", 0.8),
    ratioCheck("W2 get miss c=32", 0.8),
    ratioCheck("W3 90/10 c=32", 0.7),
  );
  {
    const batch = s("W6 batch 50 (keys/s)", "P");
    const single = s("W1 put c=32", "B2");
    checks.push({
      target: "P batched puts (50/request) ≥ 3× B2 single puts, keys/s",
      value:
        batch && single
          ? `${(batch.opsPerSec / single.opsPerSec).toFixed(3)}x (${num(batch.opsPerSec)} vs ${num(single.opsPerSec)})`
          : "not run",
      pass: batch && single ? batch.opsPerSec >= 3 * single.opsPerSec : null,
    });
  }
  for (const w of ["W1 put c=1", "W2 get hit c=1"]) {
    const pv = s(w, "P");
    const bv = s(w, "B2");
    checks.push({
      target: `P p50 ≤ 1.3× B2 p50 at one connection (${w})`,
      value:
        pv && bv
          ? `${(pv.p50 / bv.p50).toFixed(3)}x (${pv.p50.toFixed(2)} vs ${bv.p50.toFixed(2)} ms)`
          : "not run",
      pass: pv && bv ? pv.p50 <= 1.3 * bv.p50 : null,
    });
  }
  {
    // "One statement per put": never a read before the write. A server that merges concurrent puts into
    // multi-row statements does better than one each, so the check is "at most one", alone and concurrent.
    const puts = statements.filter((x) => x.variant === "P" && x.op.startsWith("put"));
    checks.push({
      target: "one SQL statement per put (P): at most 1, at c=1 and c=4",
      value:
        puts.length > 0
          ? puts
              .map(
                (p) =>
                  `${p.op}: ${p.statementsPerOp.toFixed(2)} stmts, ${p.transactionsPerOp.toFixed(2)} txns`,
              )
              .join("; ")
          : "not run",
      pass: puts.length > 0 ? puts.every((p) => p.statementsPerOp <= 1.01) : null,
    });
  }
  {
    const w3 = s("W3 90/10 c=32", "P");
    checks.push({
      target: "P peak RSS ≤ 200 MB under W3 (the compiled server, plain node)",
      value: w3 ? `${w3.peakRssMbMax.toFixed(1)} MB` : "not run",
      pass: w3 ? w3.peakRssMbMax <= 200 : null,
    });
  }

  const phaseCtx: PhaseContext = {
    pg: pgServer,
    database,
    databaseUrl,
    target,
    w3: byId("W3 90/10 c=32"),
    log,
  };

  {
    log("cold start: B2 and P started alone, 3 times each");
    const cold = await coldStarts(phaseCtx, 3);
    result.coldStarts = cold;
    const b2 = median(cold.B2);
    const p = median(cold.P);
    out("");
    out(
      `Cold start (spawn → first successful put, one server at a time, median of 3): P ${num(p)} ms (${cold.P.map((ms) => num(ms)).join(" / ")}), B2 ${num(b2)} ms (${cold.B2.map((ms) => num(ms)).join(" / ")})`,
    );
    checks.push({
      target: "cold start (spawn → first successful put) ≤ 1.2× B2's",
      value: `${(p / b2).toFixed(2)}x (${num(p)} vs ${num(b2)} ms)`,
      pass: p <= 1.2 * b2,
    });
  }
  if (args.profile !== null) {
    result.profile = await profilePhase(phaseCtx, args.profile, runId, args.profileWorkload);
  }
  let scale: ScaleOutResult | undefined;
  if (args.scaleOut !== null) {
    log(`scale-out: ${args.scaleOut} s`);
    scale = await scaleOut(phaseCtx, args.scaleOut);
    result.scaleOut = scale;
    out("");
    out(
      `Scale-out: two Cairn servers on one database, ${scale.seconds} s, W3 c=16 on each + ${scale.loops} compare-and-set increment loops`,
    );
    for (const sv of scale.servers)
      out(`  ${sv.url}: W3 ${num(sv.w3OpsPerSec)} ops/s, ${sv.w3Errors} errors`);
    for (const k of scale.keys)
      out(
        `  ${k.key}: ${k.successes} successful increments, final value ${k.finalValue} version ${k.finalVersion} ${k.ok ? "OK" : "MISMATCH"}`,
      );
    out(
      `  ${scale.conflicts} version conflicts (retried), ${scale.unknown} ambiguous failures, ${scale.reads} reads`,
    );
    for (const u of scale.unknownSamples) out(`    ${u}`);
  }
  checks.push({
    target: "scale-out: counters = successful increments (nothing lost/doubled)",
    value: scale
      ? `${scale.keys.reduce((n, k) => n + k.successes, 0)} increments, ${scale.conflicts} conflicts`
      : "not run (--scale-out)",
    pass: scale ? scale.ok : null,
  });

  if (args.operator !== null) {
    log(`operator read API: ${args.operator} dag runs`);
    const operator = await operatorPhase(phaseCtx, {
      runs: args.operator,
      keysPerRun: 10,
      assets: 10_000,
      calls: 30,
    });
    result.operator = operator;
    out("");
    out(
      `Operator read API over HTTP (${num(operator.dagRuns)} dag runs, ${num(operator.taskStateRows)} task-state rows, ${num(operator.assets)} assets; 30 calls each, one at a time):`,
    );
    for (const cell of operator.cells)
      out(
        `  ${cell.name.padEnd(44)} p50 ${cell.p50Ms.toFixed(1).padStart(6)} ms  p95 ${cell.p95Ms.toFixed(1).padStart(6)} ms  (total ${num(cell.total)})`,
      );
    const lists = operator.cells.filter((cell) => !cell.name.startsWith("stats"));
    const slowest = Math.max(...lists.map((cell) => cell.p95Ms));
    checks.push({
      target: `operator lists: a page in < 50 ms at ${num(operator.dagRuns)} dag runs (p95 of the slowest)`,
      value: `${slowest.toFixed(1)} ms`,
      pass: slowest < 50,
    });
  }

  if (args.watch !== null) {
    log(`watch: ${args.rounds} rounds of 4 cells of ${args.watch} s, then W10 with 1 000 watchers`);
    const watched = await watchPhase(phaseCtx, {
      rounds: args.rounds,
      seconds: args.watch,
      put: byId("W1 put c=32"),
    });
    result.watch = watched;
    const pct = (r: number) => `${(r * 100).toFixed(1)} %`;
    out("");
    out(
      "Watch: W1 put c=32 on one P server, ops/s per round (triggers dropped / disabled / 100 watchers / slow watcher)",
    );
    for (const r of watched.rounds)
      out(`  ${num(r.dropped)} / ${num(r.disabled)} / ${num(r.watched)} / ${num(r.slowWatcher)}`);
    out(
      `  median ratio to dropped: disabled ${pct(watched.ratios.disabled)}, 100 watchers ${pct(watched.ratios.watched)}, slow watcher ${pct(watched.ratios.slowWatcher)}`,
    );
    out(
      `  W10: ${watched.w10.watchers} watchers, ${watched.w10.rssPerWatcherKb.toFixed(1)} KB of server RSS each, all open and synced in ${watched.w10.openAllMs.toFixed(0)} ms; ${watched.w10.writes} writes reached all: p50 ${watched.w10.p50Ms.toFixed(1)} ms, p99 ${watched.w10.p99Ms.toFixed(1)} ms, max ${watched.w10.maxMs.toFixed(1)} ms; CPU per write: server ${watched.w10.serverCpuMsPerWrite.toFixed(1)} ms, load generator ${watched.w10.generatorCpuMsPerWrite.toFixed(1)} ms`,
    );
    checks.push(
      {
        target: "watch support, nobody watching: put ≥ 95 % of no triggers",
        value: pct(watched.ratios.disabled),
        pass: watched.ratios.disabled >= 0.95,
      },
      {
        target: "100 watchers on other keys: put ≥ 85 % of no triggers",
        value: pct(watched.ratios.watched),
        pass: watched.ratios.watched >= 0.85,
      },
      {
        target: "W10: a write reaches 1 000 watchers, p99 ≤ 50 ms",
        value: `${watched.w10.p99Ms.toFixed(1)} ms`,
        pass: watched.w10.p99Ms <= 50,
      },
    );
  }

  let w7Result: W7Result | undefined;
  if (args.w7 !== null) {
    const seconds = Math.max(args.seconds, 2);
    log(`W7: open loop over ${args.w7} connections, ${args.rounds} rounds of ${seconds} s per cell`);
    w7Result = await w7(phaseCtx, { connections: args.w7, rounds: args.rounds, seconds });
    result.w7 = w7Result;
    out("");
    out(
      `W7: W3 mix, open loop (fixed schedule, latency from the scheduled send) over up to ${w7Result.connections} connections, medians of ${args.rounds} rounds of ${seconds} s; closed-loop W3 c=32 peaks: B2 ${num(w7Result.peaks.B2)}, P ${num(w7Result.peaks.P)} ops/s`,
    );
    out("  variant  offered                 achieved   p50 ms   p99 ms  p99.9 ms  errors  send lag p99");
    for (const r of w7Result.rows)
      out(
        `  ${r.variant.padEnd(7)}  ${`${num(r.offeredPerSec)}/s (${r.fraction * 100} % of ${r.of})`.padEnd(22)} ${num(r.achievedPerSec).padStart(8)}/s ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${r.p999.toFixed(2).padStart(9)} ${String(r.errors).padStart(7)} ${r.sendLagP99.toFixed(2).padStart(10)} ms`,
      );
  }
  {
    const row = (variant: "B2" | "P") =>
      w7Result?.rows.find((r) => r.variant === variant && r.fraction === 0.5 && r.of === "B2");
    const pRow = row("P");
    const bRow = row("B2");
    checks.push({
      target: "open loop at 50 % of B2's peak: P p99 ≤ 2× B2 p99 and ≤ 10 ms",
      value: pRow && bRow ? `P ${pRow.p99.toFixed(2)} ms, B2 ${bRow.p99.toFixed(2)} ms` : "not run (--w7)",
      pass: pRow && bRow ? pRow.p99 <= 2 * bRow.p99 && pRow.p99 <= 10 : null,
    });
  }

  let w4Result: W4Result | undefined;
  if (args.w4 !== null) {
    w4Result = await w4(
      { ...phaseCtx, runId },
      {
        largeInstances: args.w4,
        rounds: args.rounds,
        seconds: Math.max(args.seconds, 2),
      },
    );
    result.w4 = w4Result;
    out("");
    for (const phase of w4Result.summaries) {
      out(`W4 at ${phase.rows.toLocaleString()} task_state rows:`);
      out(formatTable(phase.summaries, ratios(phase.summaries)));
    }
    out(
      `W4 growth (${w4Result.largeRows.toLocaleString()} ÷ ${w4Result.smallRows.toLocaleString()} rows; seeding took ${w4Result.seedSeconds.toFixed(0)} s):`,
    );
    for (const g of w4Result.growth)
      out(
        `  ${g.workload.padEnd(14)} ${g.variant.padEnd(4)} p50 ${ratio(g.p50)}  p99 ${ratio(g.p99)}  ops/s ${ratio(g.ops)}`,
      );
  }
  {
    const g = w4Result?.growth.find((x) => x.workload === "W4 get c=1" && x.variant === "P");
    checks.push({
      target: "P get p50 at 5 M rows ≤ 1.2× at 10 k rows",
      value: g ? `${g.p50.toFixed(3)}x` : "not run (--w4)",
      pass: g ? g.p50 <= 1.2 : null,
    });
  }

  let soakResult: SoakResult | undefined;
  if (args.soak !== null) {
    log(`soak (W9): ${args.soak} minutes of W3 c=32 against a fresh Cairn server`);
    soakResult = await soak(phaseCtx, args.soak);
    result.soak = soakResult;
    out("");
    out(
      `Soak (W9): ${soakResult.minutes} min of W3 c=32: ${num(soakResult.opsPerSec)} ops/s, p50 ${soakResult.p50.toFixed(2)} ms, p99 ${soakResult.p99.toFixed(2)} ms, ${soakResult.errors} errors`,
    );
    out(`  RSS MB every 10 s: ${soakResult.rss.map(([, mb]) => mb.toFixed(0)).join(" ")}`);
    out(
      `  warm baseline ${soakResult.baselineMb.toFixed(1)} MB → end ${soakResult.endMb.toFixed(1)} MB (${soakResult.growthPercent.toFixed(1)} %), peak ${soakResult.peakMb.toFixed(1)} MB`,
    );
  }
  checks.push({
    target: "soak: RSS growth < 10 % (warm baseline → end)",
    value: soakResult ? `${soakResult.growthPercent.toFixed(1)} %` : "not run (--soak)",
    pass: soakResult ? soakResult.growthPercent < 10 : null,
  });
  result.targets = checks;

  out("");
  out("Targets of the issue (reported, not enforced):");
  out(formatTargets(checks));

  result.finishedAt = new Date().toISOString();
  result.seconds = (performance.now() - runStarted) / 1000;
  const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = `${resultsDir}${new Date().toISOString().replace(/[:.]/g, "-")}${args.quick ? "-quick" : ""}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  out("");
  out(
    `Results: ${file.replace(REPO_ROOT, "")} (compare runs: pnpm --filter @cairn/bench compare <a.json> <b.json>)`,
  );
  out(`Total ${((performance.now() - runStarted) / 1000).toFixed(0)} s`);
}

async function profilePhase(
  ctx: PhaseContext,
  seconds: number,
  runId: string,
  workloadId: string,
): Promise<ProfileSummary> {
  const dir = fileURLToPath(new URL(`../results/cpu-profile-${runId}/`, import.meta.url));
  mkdirSync(dir, { recursive: true });
  const workload = mainWorkloads(ctx.target.instances).find((w) => w.id === workloadId);
  if (!workload || workload.kind === "batch")
    throw new Error(`--profile-workload: no single-call row "${workloadId}"`);
  log(`profiling Cairn under ${workloadId} for ${seconds} s (node --cpu-prof → ${dir})`);
  const spawned = performance.now();
  const server = await startServer("P", {
    databaseUrl: ctx.databaseUrl,
    bearer: ctx.target.bearer[0]!,
    taskInstanceId: ctx.target.ids[0]!,
    nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`],
  });
  await runAutocannon({ ...ctx.target, url: server.url }, workload, { seconds: 2 }); // warm
  const skipMs = performance.now() - spawned;
  const m = await measure(server.child.pid, ctx.database, () =>
    runAutocannon({ ...ctx.target, url: server.url }, workload, { seconds }),
  );
  await server.child.stop(); // graceful exit writes the profile
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length === 0) throw new Error("no .cpuprofile written");
  const summary = summarizeProfile(`${dir}${files[0]}`, skipMs);
  out("");
  out(
    `CPU profile of the Cairn server under ${workloadId} (${num(m.opsPerSec)} ops/s while profiled, ${num(m.serverCpuUsPerOp)} µs CPU/op), ${dir.replace(REPO_ROOT, "")}${files[0]}:`,
  );
  out(formatProfile(summary));
  return summary;
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (error: unknown) => {
    if (interrupted) return; // the signal handler is cleaning up and will exit
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    await cleanup();
    process.exit(1);
  });
