// The phases after the table, each as one step of a run: it measures (phases.ts, watch-phase.ts,
// operator-phase.ts) when its flag asks for it, keeps the result for the JSON file, prints its section and
// adds its targets. Without their flag, the scale-out, W7, W4 and soak targets are listed as "not run";
// the operator and watch targets are left out.
import { mkdirSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { log, median, out } from "./common.ts";
import { embedded } from "./embedded-phase.ts";
import { measure, runAutocannon } from "./load.ts";
import { operatorPhase } from "./operator-phase.ts";
import { coldStarts, scaleOut, soak, w4, w7 } from "./phases.ts";
import { REPO_ROOT } from "./procs.ts";
import { formatProfile, summarizeProfile } from "./profile.ts";
import { formatTable, num, ratio, ratios } from "./report.ts";
import { startServer } from "./servers.ts";
import type { BenchRun } from "./setup.ts";
import { watchPhase } from "./watch-phase.ts";
import { mainWorkloads } from "./workloads.ts";

export async function runColdStarts(run: BenchRun): Promise<void> {
  log("cold start: B2 and P started alone, 3 times each");
  const cold = await coldStarts(run, 3);
  run.result.coldStarts = cold;
  const b2 = median(cold.B2);
  const p = median(cold.P);
  out("");
  out(
    `Cold start (spawn → first successful put, one server at a time, median of 3): P ${num(p)} ms (${cold.P.map((ms) => num(ms)).join(" / ")}), B2 ${num(b2)} ms (${cold.B2.map((ms) => num(ms)).join(" / ")})`,
  );
  run.checks.push({
    target: "cold start (spawn → first successful put) ≤ 1.2× B2's",
    value: `${(p / b2).toFixed(2)}x (${num(p)} vs ${num(b2)} ms)`,
    pass: p <= 1.2 * b2,
  });
}

export async function runProfile(run: BenchRun): Promise<void> {
  const seconds = run.args.profile;
  if (seconds === null) return;
  const workloadId = run.args.profileWorkload;
  const dir = fileURLToPath(new URL(`../results/cpu-profile-${run.runId}/`, import.meta.url));
  mkdirSync(dir, { recursive: true });
  const workload = mainWorkloads(run.target.instances).find((w) => w.id === workloadId);
  if (!workload || workload.kind === "batch")
    throw new Error(`--profile-workload: no single-call row "${workloadId}"`);
  log(`profiling Cairn under ${workloadId} for ${seconds} s (node --cpu-prof → ${dir})`);
  const spawned = performance.now();
  const server = await startServer("P", {
    databaseUrl: run.databaseUrl,
    bearer: run.target.bearer[0]!,
    taskInstanceId: run.target.ids[0]!,
    nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`],
  });
  await runAutocannon({ ...run.target, url: server.url }, workload, { seconds: 2 }); // warm
  const skipMs = performance.now() - spawned;
  const m = await measure(server.child.pid, run.database, () =>
    runAutocannon({ ...run.target, url: server.url }, workload, { seconds }),
  );
  await server.child.stop(); // graceful exit writes the profile
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length === 0) throw new Error("no .cpuprofile written");
  const summary = summarizeProfile(`${dir}${files[0]}`, skipMs);
  run.result.profile = summary;
  out("");
  out(
    `CPU profile of the Cairn server under ${workloadId} (${num(m.opsPerSec)} ops/s while profiled, ${num(m.serverCpuUsPerOp)} µs CPU/op), ${dir.replace(REPO_ROOT, "")}${files[0]}:`,
  );
  out(formatProfile(summary));
}

export async function runScaleOut(run: BenchRun): Promise<void> {
  const seconds = run.args.scaleOut;
  const scale = seconds === null ? undefined : await scaleOutSection(run, seconds);
  run.checks.push({
    target: "scale-out: counters = successful increments (nothing lost/doubled)",
    value: scale
      ? `${scale.keys.reduce((n, k) => n + k.successes, 0)} increments, ${scale.conflicts} conflicts`
      : "not run (--scale-out)",
    pass: scale ? scale.ok : null,
  });
}

async function scaleOutSection(run: BenchRun, seconds: number) {
  log(`scale-out: ${seconds} s`);
  const scale = await scaleOut(run, seconds);
  run.result.scaleOut = scale;
  out("");
  out(
    `Scale-out: two Cairn servers on one database, ${scale.seconds} s, W3 c=16 on each + ${scale.loops} compare-and-set increment loops`,
  );
  for (const sv of scale.servers) out(`  ${sv.url}: W3 ${num(sv.w3OpsPerSec)} ops/s, ${sv.w3Errors} errors`);
  for (const k of scale.keys)
    out(
      `  ${k.key}: ${k.successes} successful increments, final value ${k.finalValue} version ${k.finalVersion} ${k.ok ? "OK" : "MISMATCH"}`,
    );
  out(
    `  ${scale.conflicts} version conflicts (retried), ${scale.unknown} ambiguous failures, ${scale.reads} reads`,
  );
  for (const u of scale.unknownSamples) out(`    ${u}`);
  return scale;
}

export async function runOperator(run: BenchRun): Promise<void> {
  const runs = run.args.operator;
  if (runs === null) return;
  log(`operator read API: ${runs} dag runs`);
  const operator = await operatorPhase(run, { runs, keysPerRun: 10, assets: 10_000, calls: 30 });
  run.result.operator = operator;
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
  run.checks.push({
    target: `operator lists: a page in < 50 ms at ${num(operator.dagRuns)} dag runs (p95 of the slowest)`,
    value: `${slowest.toFixed(1)} ms`,
    pass: slowest < 50,
  });
}

export async function runWatch(run: BenchRun): Promise<void> {
  const { rounds, watch: seconds } = run.args;
  if (seconds === null) return;
  log(`watch: ${rounds} rounds of 4 cells of ${seconds} s, then W10 with 1 000 watchers`);
  const watched = await watchPhase(run, { rounds, seconds, put: run.byId("W1 put c=32") });
  run.result.watch = watched;
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
  run.checks.push(
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

export async function runW7(run: BenchRun): Promise<void> {
  const connections = run.args.w7;
  const w7Result = connections === null ? undefined : await w7Section(run, connections);
  const row = (variant: "B2" | "P") =>
    w7Result?.rows.find((r) => r.variant === variant && r.fraction === 0.5 && r.of === "B2");
  const pRow = row("P");
  const bRow = row("B2");
  run.checks.push({
    target: "open loop at 50 % of B2's peak: P p99 ≤ 2× B2 p99 and ≤ 10 ms",
    value: pRow && bRow ? `P ${pRow.p99.toFixed(2)} ms, B2 ${bRow.p99.toFixed(2)} ms` : "not run (--w7)",
    pass: pRow && bRow ? pRow.p99 <= 2 * bRow.p99 && pRow.p99 <= 10 : null,
  });
}

async function w7Section(run: BenchRun, connections: number) {
  const { rounds } = run.args;
  const seconds = Math.max(run.args.seconds, 2);
  log(`W7: open loop over ${connections} connections, ${rounds} rounds of ${seconds} s per cell`);
  const w7Result = await w7(run, { connections, rounds, seconds });
  run.result.w7 = w7Result;
  out("");
  out(
    `W7: W3 mix, open loop (fixed schedule, latency from the scheduled send) over up to ${w7Result.connections} connections, medians of ${rounds} rounds of ${seconds} s; closed-loop W3 c=32 peaks: B2 ${num(w7Result.peaks.B2)}, P ${num(w7Result.peaks.P)} ops/s`,
  );
  out("  variant  offered                 achieved   p50 ms   p99 ms  p99.9 ms  errors  send lag p99");
  for (const r of w7Result.rows)
    out(
      `  ${r.variant.padEnd(7)}  ${`${num(r.offeredPerSec)}/s (${r.fraction * 100} % of ${r.of})`.padEnd(22)} ${num(r.achievedPerSec).padStart(8)}/s ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${r.p999.toFixed(2).padStart(9)} ${String(r.errors).padStart(7)} ${r.sendLagP99.toFixed(2).padStart(10)} ms`,
    );
  return w7Result;
}

export async function runW4(run: BenchRun): Promise<void> {
  const largeInstances = run.args.w4;
  const w4Result = largeInstances === null ? undefined : await w4Section(run, largeInstances);
  const g = w4Result?.growth.find((x) => x.workload === "W4 get c=1" && x.variant === "P");
  run.checks.push({
    target: "P get p50 at 5 M rows ≤ 1.2× at 10 k rows",
    value: g ? `${g.p50.toFixed(3)}x` : "not run (--w4)",
    pass: g ? g.p50 <= 1.2 : null,
  });
}

async function w4Section(run: BenchRun, largeInstances: number) {
  const { rounds } = run.args;
  const w4Result = await w4(run, { largeInstances, rounds, seconds: Math.max(run.args.seconds, 2) });
  run.result.w4 = w4Result;
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
  return w4Result;
}

export async function runSoak(run: BenchRun): Promise<void> {
  const minutes = run.args.soak;
  const soakResult = minutes === null ? undefined : await soakSection(run, minutes);
  run.checks.push({
    target: "soak: RSS growth < 10 % (warm baseline → end)",
    value: soakResult ? `${soakResult.growthPercent.toFixed(1)} %` : "not run (--soak)",
    pass: soakResult ? soakResult.growthPercent < 10 : null,
  });
}

async function soakSection(run: BenchRun, minutes: number) {
  log(`soak (W9): ${minutes} minutes of W3 c=32 against a fresh Cairn server`);
  const soakResult = await soak(run, minutes);
  run.result.soak = soakResult;
  out("");
  out(
    `Soak (W9): ${soakResult.minutes} min of W3 c=32: ${num(soakResult.opsPerSec)} ops/s, p50 ${soakResult.p50.toFixed(2)} ms, p99 ${soakResult.p99.toFixed(2)} ms, ${soakResult.errors} errors`,
  );
  out(`  RSS MB every 10 s: ${soakResult.rss.map(([, mb]) => mb.toFixed(0)).join(" ")}`);
  out(
    `  warm baseline ${soakResult.baselineMb.toFixed(1)} MB → end ${soakResult.endMb.toFixed(1)} MB (${soakResult.growthPercent.toFixed(1)} %), peak ${soakResult.peakMb.toFixed(1)} MB`,
  );
  return soakResult;
}

/** Printed only: the issue asks for the embedded server's RSS to be reported and kept low, with no bound. */
export async function runEmbedded(run: BenchRun): Promise<void> {
  const seconds = run.args.embedded;
  if (seconds === null) return;
  log(`embedded: the Quick start's server (PGlite in its process), W3 c=32 for ${seconds} s`);
  const result = await embedded(run, seconds);
  run.result.embedded = result;
  out("");
  out(
    `Embedded (PGlite in the server's process, ${num(result.instances)} task instances): ready in ${num(result.readyMs)} ms on an empty data directory, RSS then ${result.readyMb.toFixed(1)} MB`,
  );
  out(
    `  RSS at rest ${result.idleMb.toFixed(1)} MB; W3 c=32 for ${result.w3.seconds} s: ${num(result.w3.opsPerSec)} ops/s, p50 ${result.w3.p50.toFixed(2)} ms, p99 ${result.w3.p99.toFixed(2)} ms, ${result.w3.errors} errors, peak RSS ${result.w3PeakMb.toFixed(1)} MB; 5 s later ${result.afterMb.toFixed(1)} MB`,
  );
}
