// `pnpm bench`: Cairn (P) beside two baselines (B1 raw pg in-process loop, B2 bare node:http + pg), on a
// fresh PostgreSQL database, interleaved and repeated; prints medians, P/B2 ratios and the issue's
// targets, and writes everything as JSON to bench/results/. With --adapters, also Cairn on tRPC's Fastify
// adapter (P-fastify) beside P. See bench/README.md.
import { parseArgs, runBoundMinutes } from "./args.ts";
import { log } from "./common.ts";
import { dropDatabase, type PgServer, pgServerFromEnv } from "./db.ts";
import {
  runColdStarts,
  runEmbedded,
  runOperator,
  runProfile,
  runScaleOut,
  runSoak,
  runW4,
  runW7,
  runWatch,
} from "./phase-runs.ts";
import { killAllNow, stopAll } from "./procs.ts";
import { writeResult } from "./result-file.ts";
import { setUp } from "./setup.ts";
import { printStatements, sampleStatementsPhase, tablePhase } from "./table-phase.ts";
import { printTargets, tableTargets } from "./targets.ts";

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

/** Set on a signal: the table stops at its next cell. */
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
  const boundMinutes = runBoundMinutes(args);
  setTimeout(() => {
    log(`run exceeded its ${boundMinutes.toFixed(0)}-minute bound: aborting`);
    void cleanup().finally(() => process.exit(2));
  }, boundMinutes * 60_000).unref();

  pgServer = pgServerFromEnv();
  const run = await setUp(args, pgServer, {
    creating: (database) => databases.push(database),
    interrupted: () => interrupted,
  });
  // Sampled first, so that its servers and proxy are gone before the table's start; printed after the table.
  const statements = await sampleStatementsPhase(run);
  const summaries = await tablePhase(run);
  printStatements(run, statements);
  run.checks.push(...tableTargets(summaries, statements));

  // Each of these adds its own targets, in the order the targets block lists them.
  await runColdStarts(run);
  await runProfile(run);
  await runScaleOut(run);
  await runOperator(run);
  await runWatch(run);
  await runW7(run);
  await runW4(run);
  await runSoak(run);
  await runEmbedded(run);

  printTargets(run);
  writeResult(run.result, args.quick, runStarted);
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
