// The start of a run: a fresh, seeded database, a token per seeded task instance, the table's rows as the
// flags shape them, and the context every later phase is given.
import os from "node:os";
import { tokenKeys, verifyToken } from "@cairn/api";
import type { Args } from "./args.ts";
import { fastToken, instanceId, JWT_SECRET, log } from "./common.ts";
import { createDatabase, dropAbandoned, type PgInfo, type PgServer, pgInfo, seed } from "./db.ts";
import type { PhaseContext } from "./phases.ts";
import type { TargetCheck } from "./report.ts";
import { newResult, type RunResult } from "./result-file.ts";
import { mainWorkloads, type Workload } from "./workloads.ts";

/** A PhaseContext, so the measuring phases (phases.ts, watch-phase.ts, …) take it as it is. */
export interface BenchRun extends PhaseContext {
  args: Args;
  runId: string;
  postgres: PgInfo;
  /** The table's rows, after --only, --log-cost and --adapters. */
  workloads: Workload[];
  /** A row as mainWorkloads makes it, untouched by the flags. */
  byId: (id: string) => Workload;
  result: RunResult;
  /** The targets' lines, in the order the phases add them. */
  checks: TargetCheck[];
  /** Set by a signal: the table stops at its next cell. */
  interrupted: () => boolean;
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

export async function setUp(
  args: Args,
  pg: PgServer,
  hooks: {
    /** Called before the database exists, so that a run killed while creating it still drops it. */
    creating: (database: string) => void;
    interrupted: () => boolean;
  },
): Promise<BenchRun> {
  const load1 = os.loadavg()[0] ?? 0;
  if (load1 > os.cpus().length * 0.5) {
    log(
      `warning: load average ${load1.toFixed(1)} on ${os.cpus().length} cores before the run: other work competes; trust the ratios of this interleaved run more than its absolute numbers`,
    );
  }
  const info = await pgInfo(pg);
  const abandoned = await dropAbandoned(pg);
  if (abandoned.length > 0) log(`dropped databases of killed runs: ${abandoned.join(", ")}`);
  const runId = `${Date.now().toString(36)}_${process.pid}`;
  const database = `cairn_bench_${runId}`;
  log(`PostgreSQL: ${info.version.split(",")[0]}; pg_stat_statements: ${info.pgStatStatements}`);
  log(`creating and migrating ${database}`);
  hooks.creating(database);
  const databaseUrl = await createDatabase(pg, database);
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

  const byId = (id: string) => mainWorkloads(args.instances).find((w) => w.id === id)!;
  return {
    pg,
    database,
    databaseUrl,
    target: { ids, bearer, instances: args.instances },
    w3: byId("W3 90/10 c=32"),
    log,
    args,
    runId,
    postgres: info,
    workloads: tableRows(args),
    byId,
    result: newResult(args, info, database),
    checks: [],
    interrupted: hooks.interrupted,
  };
}

function tableRows(args: Args): Workload[] {
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
  return workloads;
}
