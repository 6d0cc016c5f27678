// The JSON file a run leaves in bench/results/ (compare.ts reads two of them): what it starts with, and
// where it is written once every phase has added its part.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { Args } from "./args.ts";
import { out } from "./common.ts";
import type { PgInfo } from "./db.ts";
import { REPO_ROOT } from "./procs.ts";

/** Keys in the order a run fills them in: the file keeps that order. */
export type RunResult = Record<string, unknown>;

export function newResult(args: Args, postgres: PgInfo, database: string): RunResult {
  return {
    startedAt: new Date().toISOString(),
    args,
    machine: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGb: Math.round(os.totalmem() / 2 ** 30),
      loadAverageAtStart: os.loadavg(),
    },
    postgres,
    database,
  };
}

export function writeResult(result: RunResult, quick: boolean, runStarted: number): void {
  result.finishedAt = new Date().toISOString();
  result.seconds = (performance.now() - runStarted) / 1000;
  const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = `${resultsDir}${new Date().toISOString().replace(/[:.]/g, "-")}${quick ? "-quick" : ""}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  out("");
  out(
    `Results: ${file.replace(REPO_ROOT, "")} (compare runs: pnpm --filter @cairn/bench compare <a.json> <b.json>)`,
  );
  out(`Total ${((performance.now() - runStarted) / 1000).toFixed(0)} s`);
}
