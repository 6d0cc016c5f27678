// An open-loop load generator: requests leave on a fixed schedule (constant rate, or Poisson arrivals)
// whether or not earlier ones have been answered, and each latency counts from the request's scheduled
// send time. A closed loop (autocannon, even paced with overallRate) waits for answers before sending
// more, so a server that stalls is asked less and its stall hides from the percentiles (coordinated
// omission); here a stall shows in p99 as every request scheduled during it waiting.
import http from "node:http";
import { fileURLToPath } from "node:url";
import { percentile } from "./common.ts";
import type { Target } from "./load.ts";
import type { OpenLoopReply, OpenLoopRequest } from "./open-loop-worker.ts";
import { spawnNode } from "./procs.ts";
import { opPicker, type Workload } from "./workloads.ts";

const WORKER = fileURLToPath(new URL("./open-loop-worker.ts", import.meta.url));

export interface OpenLoopOptions {
  /** Requests per second, offered. */
  rate: number;
  seconds: number;
  /** Open connections at most (requests beyond wait in the agent's queue, their latency counting). */
  connections: number;
  arrivals?: "constant" | "poisson";
  /** How long to wait for the last answers after the schedule ends; those still missing are errors. */
  drainMs?: number;
}

export interface OpenLoopResult {
  offeredPerSec: number;
  /** Answers per second over the schedule's duration. */
  achievedPerSec: number;
  sent: number;
  ok: number;
  errors: number;
  /** From the scheduled send time, in ms. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** How late the generator itself sent, p99 in ms (a busy load generator shows here, not in p99). */
  sendLagP99: number;
}

export async function runOpenLoop(
  target: Target,
  workload: Workload,
  options: OpenLoopOptions,
): Promise<OpenLoopResult> {
  const url = new URL(target.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const next = opPicker(workload, target.instances);
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  // The schedule, fixed before the first send: offsets in ms from the start.
  const schedule = new Float64Array(total);
  const gap = 1000 / options.rate;
  for (let i = 1; i < total; i++) {
    schedule[i] =
      schedule[i - 1]! + (options.arrivals === "poisson" ? -Math.log(1 - Math.random()) * gap : gap);
  }
  const latencies = new Float64Array(total).fill(Number.NaN);
  const lags = new Float64Array(total);
  let ok = 0;
  let errors = 0;
  let answered = 0;
  let allAnswered: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allAnswered = resolve;
  });

  const send = (index: number, start: number) => {
    const scheduled = start + schedule[index]!;
    lags[index] = performance.now() - scheduled;
    const op = next();
    const id = target.ids[op.i]!;
    const headers: http.OutgoingHttpHeaders = { authorization: target.bearer[op.i]! };
    let path: string;
    let body: string | undefined;
    if (op.set) {
      path = "/trpc/taskState.set";
      body = `{"taskInstanceId":"${id}","key":"${op.key}","value":${op.value}}`;
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(body);
    } else {
      path = `/trpc/taskState.get?input=${encodeURIComponent(`{"taskInstanceId":"${id}","key":"${op.key}"}`)}`;
    }
    const finish = (success: boolean) => {
      latencies[index] = performance.now() - scheduled;
      if (success) ok++;
      else errors++;
      if (++answered === total) allAnswered();
    };
    const req = http.request(
      { agent, host: url.hostname, port: url.port, method: op.set ? "POST" : "GET", path, headers },
      (res) => {
        res.resume();
        res.on("end", () =>
          finish(res.statusCode === 200 || (workload.kind === "get-miss" && res.statusCode === 404)),
        );
        res.on("error", () => finish(false));
      },
    );
    req.on("error", () => finish(false));
    req.end(body);
  };

  const start = performance.now();
  let sent = 0;
  // Sends whatever is due, then sleeps until the next is: a timer tick may release several at once, each
  // still timed from its own scheduled moment.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now() - start;
      while (sent < total && schedule[sent]! <= now) send(sent++, start);
      if (sent === total) return resolve();
      setTimeout(tick, Math.max(0, schedule[sent]! - (performance.now() - start) - 0.5));
    };
    tick();
  });
  const drainMs = options.drainMs ?? 10_000;
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, drainMs))]);
  const elapsed = options.seconds * 1000;
  agent.destroy();
  // Requests never answered count as errors at the drain deadline: their latency is at least that long.
  const missing = total - answered;
  for (let i = 0; i < total; i++) if (Number.isNaN(latencies[i]!)) latencies[i] = elapsed + drainMs;
  const sorted = latencies.slice().sort();
  const sortedLags = lags.slice().sort();
  return {
    offeredPerSec: options.rate,
    achievedPerSec: (ok * 1000) / elapsed,
    sent,
    ok,
    errors: errors + missing,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    sendLagP99: percentile(sortedLags, 99),
  };
}

/** The generator in its own process (open-loop-worker.ts), so the orchestrator's pauses are not counted. */
export interface OpenLoopWorker {
  run(url: string, workload: Workload, options: OpenLoopOptions): Promise<OpenLoopResult>;
  stop(): Promise<void>;
}

export async function startOpenLoopWorker(target: Omit<Target, "url">): Promise<OpenLoopWorker> {
  const child = spawnNode(WORKER, { env: {}, ipc: true });
  const replies = new Map<number, (reply: OpenLoopReply & { type: "result" }) => void>();
  let nextId = 0;
  const ready = new Promise<void>((resolve, reject) => {
    child.proc.on("message", (reply: OpenLoopReply) => {
      if (reply.type === "ready") resolve();
      else replies.get(reply.id)?.(reply);
    });
    // A worker that dies fails the start, or the cell it was running, instead of leaving it waiting.
    void child.exited.then((code) => {
      const error = `exited (${code}):\n${child.output()}`;
      reject(new Error(`open-loop worker ${error}`));
      for (const [id, settle] of replies) settle({ type: "result", id, error });
    });
  });
  child.proc.send({ type: "target", target } satisfies OpenLoopRequest);
  await ready;
  return {
    run: (url, workload, options) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        replies.set(id, (reply) => {
          replies.delete(id);
          if (reply.result) resolve(reply.result);
          else reject(new Error(`open-loop worker: ${reply.error}`));
        });
        child.proc.send({ type: "run", id, url, workload, options } satisfies OpenLoopRequest);
      }),
    stop: () => child.stop(),
  };
}
