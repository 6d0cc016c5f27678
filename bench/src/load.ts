// Load generators: autocannon for single calls over HTTP (B2, P), the typed @cairn/client for batched
// calls (W6), and the B1 worker over IPC. Each returns what the load side saw; measure() adds what /proc
// says about the process under load.
import { createCairnClient } from "@cairn/client";
import autocannon from "autocannon";
import { Latencies } from "./common.ts";
import { type Child, postgresCpuByPid, postgresCpuDelta, resetPeakRss, sampleProc } from "./procs.ts";
import { HIT_KEY, opPicker, type Workload } from "./workloads.ts";

export interface LoadResult {
  /** Successful operations (for W6: keys written). */
  ops: number;
  /** Unexpected answers and transport errors. */
  errors: number;
  elapsedMs: number;
  /** Per request (W6: per batch), in ms. */
  p50: number;
  p99: number;
  /** HTTP requests sent (W6: batches). */
  requests: number;
  statuses?: Record<string, number>;
  /** W6 on B2: calls the server received per HTTP request (should equal the batch size). */
  serverCallsPerRequest?: number;
}

export interface Target {
  url: string;
  /** Task instance tokens, `Bearer …` header values by seeded index. */
  bearer: string[];
  ids: string[];
  /** How many seeded task instances reads may address. */
  instances: number;
}

/** The URL path of a single `taskState.get` (a tRPC query: input as JSON in the query string). */
function getPath(taskInstanceId: string, key: string): string {
  return `/trpc/taskState.get?input=${encodeURIComponent(`{"taskInstanceId":"${taskInstanceId}","key":"${key}"}`)}`;
}

/** Single calls with autocannon; gets are GET /trpc/taskState.get?input=…, sets POST /trpc/taskState.set. */
export function runAutocannon(
  target: Target,
  workload: Workload,
  limit: ({ seconds: number } | { amount: number }) & {
    /** Requests per second over all connections (autocannon's overallRate); unpaced when absent. */
    rate?: number;
  },
): Promise<LoadResult> {
  const next = opPicker(workload, target.instances);
  const { bearer, ids } = target;
  const expected = workload.kind === "get-miss" ? 404 : 200;
  const latencies = new Latencies();
  const statuses: Record<string, number> = {};
  let ops = 0;
  let errors = 0;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        connections: workload.connections,
        ...("seconds" in limit ? { duration: limit.seconds } : { amount: limit.amount }),
        ...(limit.rate ? { overallRate: limit.rate } : {}),
        timeout: 30,
        // autocannon notices the end of `duration` only on this tick (default 1 s).
        sampleInt: 50,
        requests: [
          {
            setupRequest: (req) => {
              const op = next();
              const id = ids[op.i]!;
              if (op.set) {
                return {
                  ...req,
                  method: "POST",
                  path: "/trpc/taskState.set",
                  headers: { authorization: bearer[op.i]!, "content-type": "application/json" },
                  body: `{"taskInstanceId":"${id}","key":"${op.key}","value":${op.value}}`,
                };
              }
              return {
                ...req,
                method: "GET",
                path: getPath(id, op.key),
                headers: { authorization: bearer[op.i]! },
                body: undefined,
              };
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        const { p50, p99 } = latencies.summary();
        resolve({
          ops,
          errors: errors + result.errors + result.timeouts,
          elapsedMs: performance.now() - started,
          p50,
          p99,
          requests: ops + errors,
          statuses,
        });
      },
    );
    instance.on("response", (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      // W3 mixes 200s; W2 misses expect 404 key_not_found (the server's second query).
      if (status === expected || status === 200) {
        ops++;
        latencies.add(responseTime);
      } else errors++;
    });
  });
}

/**
 * Exactly `amount` single calls with fetch, `workload.connections` at a time: for counting statements per
 * call, where every request sent must also be answered before the counts are read.
 */
export async function runExactly(target: Target, workload: Workload, amount: number): Promise<LoadResult> {
  const next = opPicker(workload, target.instances);
  const expected = workload.kind === "get-miss" ? 404 : 200;
  const latencies = new Latencies();
  let remaining = amount;
  let ops = 0;
  let errors = 0;
  const started = performance.now();
  const loop = async () => {
    while (remaining-- > 0) {
      const op = next();
      const id = target.ids[op.i]!;
      const t0 = performance.now();
      const response = op.set
        ? await fetch(`${target.url}/trpc/taskState.set`, {
            method: "POST",
            headers: { authorization: target.bearer[op.i]!, "content-type": "application/json" },
            body: `{"taskInstanceId":"${id}","key":"${op.key}","value":${op.value}}`,
          })
        : await fetch(`${target.url}${getPath(id, op.key)}`, {
            headers: { authorization: target.bearer[op.i]! },
          });
      await response.arrayBuffer();
      if (response.status === expected) {
        ops++;
        latencies.add(performance.now() - t0);
      } else errors++;
    }
  };
  await Promise.all(Array.from({ length: workload.connections }, loop));
  const { p50, p99 } = latencies.summary();
  return { ops, errors, elapsedMs: performance.now() - started, p50, p99, requests: amount };
}

/** One get of the workload's first key for every task instance of the target, 32 at a time (a warm-up). */
export async function runEachInstanceOnce(target: Target, workload: Workload): Promise<void> {
  const key = workload.getKeys?.[0] ?? HIT_KEY;
  let next = 0;
  const loop = async () => {
    while (next < target.instances) {
      const i = next++;
      const response = await fetch(`${target.url}${getPath(target.ids[i]!, key)}`, {
        headers: { authorization: target.bearer[i]! },
      });
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 32 }, loop));
}

/**
 * W6: `workload.connections` loops, each firing `batch` sets of distinct keys on one task instance in the
 * same tick, so the typed client's httpBatchLink sends them as one request; then the next instance.
 */
export async function runBatched(
  target: Target,
  workload: Workload,
  limit: { seconds: number },
  clientsCount = 64,
): Promise<LoadResult> {
  const batch = workload.batch ?? 10;
  const values = opPicker(workload, target.instances);
  const clients = Array.from({ length: Math.min(clientsCount, target.instances) }, (_, k) =>
    createCairnClient({
      url: target.url,
      token: target.bearer[k]!.slice("Bearer ".length),
      retries: 0,
      timeoutMs: 30_000,
      maxBatchItems: batch,
    }),
  );
  const valuesForBatch = () => Array.from({ length: batch }, () => JSON.parse(values().value) as object);
  const keys = Array.from({ length: batch }, (_, j) => `${workload.putPrefix}${j}`);
  const latencies = new Latencies();
  let ops = 0;
  let errors = 0;
  let requests = 0;
  const started = performance.now();
  const deadline = started + limit.seconds * 1000;
  let turn = 0;
  const loop = async () => {
    while (performance.now() < deadline) {
      const client = clients[turn++ % clients.length]!;
      const vals = valuesForBatch();
      const t0 = performance.now();
      const outcomes = await Promise.allSettled(keys.map((key, j) => client.set(key, vals[j]!)));
      latencies.add(performance.now() - t0);
      requests++;
      for (const o of outcomes) {
        if (o.status === "fulfilled") ops++;
        else errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: workload.connections }, loop));
  const { p50, p99 } = latencies.summary();
  return { ops, errors, elapsedMs: performance.now() - started, p50, p99, requests };
}

/** B1: one run in the worker process, over IPC. */
export function runB1(
  worker: Child,
  workload: Workload,
  limit: { seconds: number } | { amount: number },
): Promise<LoadResult> {
  const id = Math.floor(Math.random() * 1e9);
  return new Promise((resolve, reject) => {
    const onMessage = (message: {
      type: string;
      id: number;
      ops: number;
      errors: number;
      elapsedMs: number;
      p50: number | null;
      p99: number | null;
      error?: string;
    }) => {
      if (message.type !== "result" || message.id !== id) return;
      worker.proc.off("message", onMessage);
      if (message.error) return reject(new Error(`B1 worker: ${message.error}`));
      resolve({
        ops: message.ops,
        errors: message.errors,
        elapsedMs: message.elapsedMs,
        p50: message.p50 ?? Number.NaN,
        p99: message.p99 ?? Number.NaN,
        requests: message.ops + message.errors,
      });
    };
    worker.proc.on("message", onMessage);
    worker.proc.send({ type: "run", id, workload, ...limit }, (error) => {
      if (!error) return;
      worker.proc.off("message", onMessage);
      reject(error);
    });
  });
}

export interface Measured extends LoadResult {
  opsPerSec: number;
  /** CPU of the process under test (server, or the B1 worker) per operation, µs. */
  serverCpuUsPerOp: number;
  /** CPU of the PostgreSQL backends of the benchmark database per operation, µs. */
  pgCpuUsPerOp: number;
  /** CPU of the load generator (the orchestrator) per operation, µs. */
  loadCpuUsPerOp: number;
  /** Peak RSS of the process under test during the cell (VmHWM after a reset), MB. */
  peakRssMb: number;
}

/** Runs `load` while sampling the CPU and peak RSS of `pid`, the database's backends and this process. */
export async function measure(
  pid: number,
  database: string,
  load: () => Promise<LoadResult>,
): Promise<Measured> {
  const hwmReset = resetPeakRss(pid);
  const before = sampleProc(pid);
  const pgBefore = postgresCpuByPid(database);
  const loadBefore = process.cpuUsage();
  const result = await load();
  const loadCpu = process.cpuUsage(loadBefore);
  const after = sampleProc(pid);
  const pgAfter = postgresCpuByPid(database);
  const ops = Math.max(result.ops, 1);
  return {
    ...result,
    opsPerSec: (result.ops * 1000) / result.elapsedMs,
    serverCpuUsPerOp: (after.cpuUs - before.cpuUs) / ops,
    pgCpuUsPerOp: postgresCpuDelta(pgBefore, pgAfter) / ops,
    loadCpuUsPerOp: (loadCpu.user + loadCpu.system) / ops,
    peakRssMb: (hwmReset ? after.hwmKb : Math.max(after.rssKb, before.rssKb)) / 1024,
  };
}
