// The phases behind flags: --scale-out (two Cairn servers, one database, compare-and-set counters),
// --soak (W9: RSS over time), --w4 (latency at 10 k vs 5 M task_state rows).
import { ConflictError, createCairnClient } from "@cairn/client";
import { fastToken, instanceId, median, randomInt, sleep } from "./common.ts";
import { createDatabase, dropDatabase, type PgServer, seed, withClient } from "./db.ts";
import { type Measured, measure, runAutocannon, runEachInstanceOnce, type Target } from "./load.ts";
import { type OpenLoopResult, startOpenLoopWorker } from "./open-loop.ts";
import { sampleProc } from "./procs.ts";
import { type Summary, summarize } from "./report.ts";
import { type RunningVariant, startServer } from "./servers.ts";
import type { Workload } from "./workloads.ts";

export interface PhaseContext {
  pg: PgServer;
  database: string;
  databaseUrl: string;
  target: Omit<Target, "url">;
  w3: Workload;
  log: (line: string) => void;
}

// ---------------------------------------------------------------------------------------------------
// --scale-out

export interface ScaleOutResult {
  seconds: number;
  servers: { url: string; w3OpsPerSec: number; w3Errors: number }[];
  loops: number;
  keys: {
    key: string;
    successes: number;
    finalValue: number | null;
    finalVersion: number | null;
    ok: boolean;
  }[];
  conflicts: number;
  /** Failures other than a version conflict: their write may or may not have committed. */
  unknown: number;
  unknownSamples: string[];
  reads: number;
  ok: boolean;
}

export async function scaleOut(ctx: PhaseContext, seconds: number): Promise<ScaleOutResult> {
  const counterIndex = ctx.target.instances - 1;
  const ready = { bearer: ctx.target.bearer[counterIndex]!, taskInstanceId: ctx.target.ids[counterIndex]! };
  const servers: RunningVariant[] = [];
  try {
    servers.push(
      ...(await Promise.all([
        startServer("P", { databaseUrl: ctx.databaseUrl, ...ready }),
        startServer("P", { databaseUrl: ctx.databaseUrl, ...ready }),
      ])),
    );
    ctx.log(
      `scale-out: two Cairn servers (pids ${servers.map((s) => s.child.pid).join(", ")}) on one database`,
    );
    const keyCount = 4;
    const keys = Array.from({ length: keyCount }, (_, k) => `counter-${Date.now().toString(36)}-${k}`);
    const successes = new Array<number>(keyCount).fill(0);
    let conflicts = 0;
    let unknown = 0;
    let reads = 0;
    const unknownSamples: string[] = [];
    const loops = 16;
    const deadline = performance.now() + seconds * 1000;
    const token = ready.bearer.slice("Bearer ".length);
    const clients = servers.map((s) =>
      createCairnClient({ url: s.url, token, retries: 0, timeoutMs: 15_000 }),
    );
    const incrementLoop = async (loop: number) => {
      const client = clients[loop % clients.length]!;
      while (performance.now() < deadline) {
        const k = randomInt(keyCount);
        const key = keys[k]!;
        let entry: Awaited<ReturnType<typeof client.entry<number>>>;
        try {
          entry = await client.entry<number>(key);
          reads++;
        } catch (error) {
          unknownSamples.length < 5 && unknownSamples.push(`read: ${String(error)}`);
          continue;
        }
        try {
          await client.set(key, (entry?.value ?? 0) + 1, { ifVersion: entry?.version ?? 0 });
          successes[k]!++;
        } catch (error) {
          if (error instanceof ConflictError) conflicts++;
          else {
            unknown++;
            if (unknownSamples.length < 5) unknownSamples.push(String(error));
          }
        }
      }
    };
    const w3 = { ...ctx.w3, connections: 16 };
    const [loadA, loadB] = await Promise.all([
      runAutocannon({ ...ctx.target, url: servers[0]!.url }, w3, { seconds }),
      runAutocannon({ ...ctx.target, url: servers[1]!.url }, w3, { seconds }),
      Promise.all(Array.from({ length: loops }, (_, i) => incrementLoop(i))),
    ]);
    const rows = await withClient(ctx.databaseUrl, async (c) => {
      const result = await c.query<{ key: string; value: number; version: number }>(
        `SELECT s.key, s.value, s.version FROM task_state s JOIN task_instance t
           ON s.dag_run_id = t.dag_run_id AND s.task_id = t.task_id AND s.map_index = t.map_index
         WHERE t.id = $1::uuid AND s.key = ANY($2::text[])`,
        [ready.taskInstanceId, keys],
      );
      return result.rows;
    });
    const keyResults = keys.map((key, k) => {
      const row = rows.find((r) => r.key === key);
      const finalValue = row ? Number(row.value) : null;
      const finalVersion = row ? row.version : null;
      const n = successes[k]!;
      // With no ambiguous failure the counter must equal the successful increments exactly (nothing lost,
      // nothing applied twice); an ambiguous failure may or may not have committed.
      const ok =
        unknown === 0
          ? (finalValue ?? 0) === n && (finalVersion ?? 0) === n
          : (finalValue ?? 0) >= n && (finalValue ?? 0) <= n + unknown && finalValue === finalVersion;
      return { key, successes: n, finalValue, finalVersion, ok };
    });
    return {
      seconds,
      servers: [loadA, loadB].map((l, i) => ({
        url: servers[i]!.url,
        w3OpsPerSec: (l.ops * 1000) / l.elapsedMs,
        w3Errors: l.errors,
      })),
      loops,
      keys: keyResults,
      conflicts,
      unknown,
      unknownSamples,
      reads,
      ok: keyResults.every((k) => k.ok) && keyResults.some((k) => k.successes > 0),
    };
  } finally {
    await Promise.all(servers.map((s) => s.child.stop()));
  }
}

// ---------------------------------------------------------------------------------------------------
// --soak (W9)

export interface SoakResult {
  minutes: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** [seconds since start, RSS MB] every 10 s. */
  rss: [number, number][];
  baselineMb: number;
  endMb: number;
  growthPercent: number;
  peakMb: number;
}

export async function soak(ctx: PhaseContext, minutes: number): Promise<SoakResult> {
  const ready = { bearer: ctx.target.bearer[0]!, taskInstanceId: ctx.target.ids[0]! };
  const server = await startServer("P", { databaseUrl: ctx.databaseUrl, ...ready });
  try {
    const rss: [number, number][] = [];
    const started = performance.now();
    const sampleNow = () => {
      const s = sampleProc(server.child.pid);
      rss.push([Math.round((performance.now() - started) / 1000), s.rssKb / 1024]);
    };
    sampleNow();
    const timer = setInterval(() => {
      sampleNow();
      const [t, mb] = rss[rss.length - 1]!;
      if (t % 60 < 10) ctx.log(`soak: ${t} s, RSS ${mb.toFixed(1)} MB`);
    }, 10_000);
    let load: Awaited<ReturnType<typeof runAutocannon>>;
    try {
      load = await runAutocannon({ ...ctx.target, url: server.url }, ctx.w3, { seconds: minutes * 60 });
    } finally {
      clearInterval(timer);
    }
    sampleNow();
    // Baseline once warm: the first sample at or after 1 minute (or a tenth of a short soak).
    const warmAt = Math.min(60, (minutes * 60) / 10);
    const baseline = rss.find(([t]) => t >= warmAt) ?? rss[0]!;
    const endMb = median(rss.slice(-3).map(([, mb]) => mb));
    const peak = sampleProc(server.child.pid).hwmKb / 1024;
    return {
      minutes,
      opsPerSec: (load.ops * 1000) / load.elapsedMs,
      p50: load.p50,
      p99: load.p99,
      errors: load.errors,
      rss,
      baselineMb: baseline[1],
      endMb,
      growthPercent: (100 * (endMb - baseline[1])) / baseline[1],
      peakMb: peak,
    };
  } finally {
    await server.child.stop();
  }
}

// ---------------------------------------------------------------------------------------------------
// --w4

export interface W4Result {
  smallRows: number;
  largeRows: number;
  seedSeconds: number;
  summaries: { rows: number; summaries: Summary[] }[];
  /** large ÷ small, per workload and variant. */
  growth: { workload: string; variant: string; p50: number; p99: number; ops: number }[];
}

/** Distinct task instances (callers) in W4's large phase: well under the tokens P's cache keeps (100 k). */
const W4_CALLERS = 8_000;

export async function w4(
  ctx: PhaseContext & { runId: string },
  options: { largeInstances: number; rounds: number; seconds: number },
): Promise<W4Result> {
  const smallInstances = 2_000;
  const keysPerInstance = ["k0", "k1", "k2", "k3", "k4"];
  const name = `${ctx.database}_w4`;
  ctx.log(`W4: creating ${name}`);
  const url = await createDatabase(ctx.pg, name);
  const servers: RunningVariant[] = [];
  try {
    await seed(url, { to: smallInstances, stateKeys: keysPerInstance });
    const targetFor = (indices: number[]): Omit<Target, "url"> => {
      const ids = indices.map(instanceId);
      return { ids, bearer: ids.map((id) => `Bearer ${fastToken(id, "execution")}`), instances: ids.length };
    };
    const small = targetFor(Array.from({ length: smallInstances }, (_, i) => i));
    const ready = { bearer: small.bearer[0]!, taskInstanceId: small.ids[0]! };
    const [b2, p] = await Promise.all([
      startServer("B2", { databaseUrl: url, ...ready }),
      startServer("P", { databaseUrl: url, ...ready }),
    ]);
    servers.push(b2, p);
    const workloads = (instances: number): Workload[] => {
      const base = {
        group: "W4" as const,
        valueBytes: 100,
        putInstances: instances,
        putKeys: keysPerInstance.length,
        putPrefix: "k",
        getKeys: keysPerInstance,
        variants: ["B2" as const, "P" as const],
      };
      return [
        { ...base, id: "W4 get c=1", kind: "get-hit", connections: 1 },
        { ...base, id: "W4 get c=32", kind: "get-hit", connections: 32 },
        { ...base, id: "W4 put c=1", kind: "put", connections: 1 },
        { ...base, id: "W4 put c=32", kind: "put", connections: 32 },
      ];
    };
    const runPhase = async (target: Omit<Target, "url">) => {
      const list = workloads(target.instances);
      const cells: { round: number; workload: string; variant: "B2" | "P"; m: Measured }[] = [];
      for (let round = 0; round < options.rounds; round++) {
        for (const [wi, w] of list.entries()) {
          const order = (round + wi) % 2 === 0 ? [b2, p] : [p, b2];
          for (const server of order) {
            const m = await measure(server.child.pid, name, () =>
              runAutocannon({ ...target, url: server.url }, w, { seconds: options.seconds }),
            );
            cells.push({ round, workload: w.id, variant: server.kind as "B2" | "P", m });
          }
        }
      }
      return summarize(cells, list);
    };
    const rowsNow = async () =>
      withClient(url, async (c) => Number((await c.query("SELECT count(*) AS n FROM task_state")).rows[0].n));
    // Warm-up (JIT, pool connections, prepared statements) so the first phase is not the cold one.
    for (const server of [b2, p]) {
      for (const w of workloads(small.instances).filter((x) => x.connections > 1)) {
        await runAutocannon({ ...small, url: server.url }, w, { seconds: 1 });
      }
    }
    // Every caller once on each server: P's verified-token cache and B2 then do the same
    // per-request auth work in both phases, so only the table size differs between them.
    const primeEveryCaller = async (target: Omit<Target, "url">) => {
      for (const server of [b2, p]) {
        const get = workloads(target.instances).find((w) => w.id === "W4 get c=32")!;
        await runEachInstanceOnce({ ...target, url: server.url }, get);
      }
    };
    await primeEveryCaller(small);
    const smallRows = await rowsNow();
    ctx.log(`W4: ${smallRows.toLocaleString()} task_state rows: measuring`);
    const smallSummaries = await runPhase(small);
    ctx.log(`W4: growing to ${(options.largeInstances * keysPerInstance.length).toLocaleString()} rows`);
    const seedStarted = performance.now();
    await seed(url, {
      from: smallInstances,
      to: options.largeInstances,
      stateKeys: keysPerInstance,
      chunk: 100_000,
    });
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const largeRows = await rowsNow();
    ctx.log(`W4: ${largeRows.toLocaleString()} rows after ${seedSeconds.toFixed(0)} s: measuring`);
    // Reads and writes spread over a uniform sample of all instances; the 40 k rows they touch are
    // scattered over the whole table and its index (far more pages than shared_buffers holds). The sample
    // stays under P's token cache, as in the small phase: more distinct callers than that
    // cost P a JWT check per request whatever the table size, which is not what W4 measures.
    const sample = new Set<number>();
    const sampleSize = Math.min(W4_CALLERS, options.largeInstances);
    while (sample.size < sampleSize) sample.add(randomInt(options.largeInstances));
    const large = targetFor([...sample]);
    await primeEveryCaller(large);
    const largeSummaries = await runPhase(large);
    const growth = largeSummaries.map((l) => {
      const s = smallSummaries.find((x) => x.workload === l.workload && x.variant === l.variant)!;
      return {
        workload: l.workload,
        variant: l.variant,
        p50: l.p50 / s.p50,
        p99: l.p99 / s.p99,
        ops: l.opsPerSec / s.opsPerSec,
      };
    });
    return {
      smallRows,
      largeRows,
      seedSeconds,
      summaries: [
        { rows: smallRows, summaries: smallSummaries },
        { rows: largeRows, summaries: largeSummaries },
      ],
      growth,
    };
  } finally {
    await Promise.all(servers.map((s) => s.child.stop()));
    await sleep(100);
    await dropDatabase(ctx.pg, name).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------
// --w7

export interface W7Row {
  /** B0 answers at once with no database: the floor the generator and the machine add. */
  variant: "B0" | "B2" | "P";
  /** The offered rate as a share of `of`'s W3 c=32 peak. */
  fraction: number;
  of: "B2" | "P";
  offeredPerSec: number;
  achievedPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  /** p99 of how late the load generator sent (its own backlog, not the server's). */
  sendLagP99: number;
}

export interface W7Result {
  connections: number;
  seconds: number;
  /** W3 c=32 ops/s of each variant, closed loop (autocannon), median of the rounds. */
  peaks: { B2: number; P: number };
  rows: W7Row[];
}

const W7_FRACTIONS = [0.25, 0.5, 0.75];

/**
 * W7: the W3 mix over many connections, open loop (open-loop.ts, in its own process): requests leave
 * on a fixed schedule at 25, 50 and 75 % of each variant's own closed-loop peak, and P also at 50 % of
 * B2's peak (the issue's target compares the two at the same offered load), and B0 (no work at all) at
 * that load too: the floor of the measurement. Latency counts from each request's scheduled time.
 */
export async function w7(
  ctx: PhaseContext,
  options: { connections: number; rounds: number; seconds: number },
): Promise<W7Result> {
  const ready = { bearer: ctx.target.bearer[0]!, taskInstanceId: ctx.target.ids[0]! };
  const [b0, b2, p] = await Promise.all([
    startServer("B0", { databaseUrl: ctx.databaseUrl, ...ready }),
    startServer("B2", { databaseUrl: ctx.databaseUrl, ...ready }),
    startServer("P", { databaseUrl: ctx.databaseUrl, ...ready }),
  ]);
  const servers = { B0: b0, B2: b2, P: p } as const;
  const generator = await startOpenLoopWorker(ctx.target);
  try {
    const peaks: Record<"B2" | "P", number[]> = { B2: [], P: [] };
    for (const server of [b2, p])
      await runAutocannon({ ...ctx.target, url: server.url }, ctx.w3, { seconds: 1 });
    for (let round = 0; round < options.rounds; round++) {
      for (const variant of round % 2 === 0 ? (["B2", "P"] as const) : (["P", "B2"] as const)) {
        const m = await runAutocannon({ ...ctx.target, url: servers[variant].url }, ctx.w3, {
          seconds: options.seconds,
        });
        peaks[variant].push((m.ops * 1000) / m.elapsedMs);
      }
    }
    const peak = { B2: median(peaks.B2), P: median(peaks.P) };
    const plan: { variant: "B0" | "B2" | "P"; fraction: number; of: "B2" | "P" }[] = [
      ...W7_FRACTIONS.flatMap((fraction) =>
        (["B2", "P"] as const).map((variant) => ({ variant, fraction, of: variant })),
      ),
      { variant: "P", fraction: 0.5, of: "B2" },
      { variant: "B0", fraction: 0.5, of: "B2" },
    ];
    const cells = new Map<string, OpenLoopResult[]>();
    for (let round = 0; round < options.rounds; round++) {
      // Rotating order: no cell always runs first (or right after the same neighbour).
      for (let i = 0; i < plan.length; i++) {
        const { variant, fraction, of } = plan[(i + round) % plan.length]!;
        const rate = Math.max(1, Math.round(peak[of] * fraction));
        ctx.log(`W7: ${variant} at ${rate} req/s (${fraction * 100} % of ${of}'s peak), round ${round + 1}`);
        const m = await generator.run(servers[variant].url, ctx.w3, {
          rate,
          seconds: options.seconds,
          connections: options.connections,
        });
        const key = `${variant}|${fraction}|${of}`;
        cells.set(key, [...(cells.get(key) ?? []), m]);
        await sleep(200);
      }
    }
    return {
      connections: options.connections,
      seconds: options.seconds,
      peaks: peak,
      rows: plan.map(({ variant, fraction, of }) => {
        const runs = cells.get(`${variant}|${fraction}|${of}`)!;
        return {
          variant,
          fraction,
          of,
          offeredPerSec: median(runs.map((r) => r.offeredPerSec)),
          achievedPerSec: median(runs.map((r) => r.achievedPerSec)),
          p50: median(runs.map((r) => r.p50)),
          p99: median(runs.map((r) => r.p99)),
          p999: median(runs.map((r) => r.p999)),
          errors: runs.reduce((n, r) => n + r.errors, 0),
          sendLagP99: median(runs.map((r) => r.sendLagP99)),
        };
      }),
    };
  } finally {
    await Promise.all([generator.stop(), ...[b0, b2, p].map((s) => s.child.stop())]);
  }
}

// ---------------------------------------------------------------------------------------------------
// Cold start (W10 in the performance notes)

export interface ColdStartResult {
  /** Spawn to first successful put, ms, per start (one server at a time). */
  B2: number[];
  P: number[];
}

/**
 * Spawn to first successful put, each server started alone (the table's variants start together and
 * share two cores, which measures the contention, not the start), alternating, `rounds` times.
 */
export async function coldStarts(ctx: PhaseContext, rounds: number): Promise<ColdStartResult> {
  const ready = { bearer: ctx.target.bearer[0]!, taskInstanceId: ctx.target.ids[0]! };
  const result: ColdStartResult = { B2: [], P: [] };
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? (["B2", "P"] as const) : (["P", "B2"] as const)) {
      const server = await startServer(kind, { databaseUrl: ctx.databaseUrl, ...ready });
      result[kind].push(server.firstPutMs);
      await server.child.stop();
      await sleep(200);
    }
  }
  return result;
}
