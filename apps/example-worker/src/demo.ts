// The demo: this process plays the scheduler (admin token), against a running Cairn server.
//
//   1. A task that crashes half way: the worker (src/worker.ts) runs as a real child process, checkpoints
//      after each order and kills itself after order 4; the retry (a new try, a new token) resumes at 5.
//   2. A watermark shared by every run that writes an asset: two dag runs of an incremental load
//      (src/incremental-load.ts); the second starts where the first ended.
//
// Run: `pnpm start` in one terminal, then `CAIRN_ADMIN_TOKEN=$(cat .cairn/admin-token) pnpm example`.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  CairnError,
  createCairnClient,
  createCairnTRPCClient,
  NotFoundError,
  readTokenClaims,
} from "@cairn/client";
import { incrementalLoad, type LoadResult, WATERMARK_KEY, WATERMARK_START } from "./incremental-load.ts";

export const DEFAULT_URL = "http://127.0.0.1:4000";
export const DAG_ID = "example_orders";
export const ASSET = { name: "example.orders", uri: "s3://cairn-example/orders" };
const ORDERS = 10;
const CRASH_AFTER = 4;
const WORKER_TIMEOUT_MS = 60_000;

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));

export interface DemoOptions {
  /** The Cairn server, such as http://127.0.0.1:4000. */
  url: string;
  /** An admin token (the one `pnpm start` prints). */
  adminToken: string;
  /** Where the demo's lines go. Default: console.log. */
  log?: ((line: string) => void) | undefined;
  /** Simulated work per order or row, in ms. Default 200. */
  workMs?: number | undefined;
}

export interface DemoResult {
  checkpoint: {
    runId: string;
    /** Orders shipped by try 1 and by try 2. */
    shippedByTry: [number[], number[]];
    /** The checkpoint Cairn held after try 1 died. */
    checkpointAfterCrash: number;
    /** The first order try 2 shipped. */
    resumedAt: number;
  };
  watermark: {
    runs: [LoadResult & { runId: string }, LoadResult & { runId: string }];
    final: { value: string; version: number };
  };
}

/** A failure the demo can explain: its message is meant for the person who ran it. */
export class DemoError extends Error {
  override name = "DemoError";
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { url, adminToken } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const workMs = options.workMs ?? 200;
  checkAdminToken(adminToken);
  await checkServer(url);

  const admin = createCairnTRPCClient({ url, token: adminToken });
  const call = <T>(what: string, promise: Promise<T>) => explainFailures(what, url, promise);
  const demoId = randomUUID().slice(0, 8);
  const scheduler = (line: string) => log(labelled("scheduler", line));

  // The first admin call also tells a wrong token apart, before any output.
  await call("registering the asset", admin.admin.assets.upsert.mutate(ASSET));
  log(`Cairn example against ${url} (demo ${demoId})`);
  log("");
  log("1. A task that crashes half way, and its retry");
  log(`   The worker ships ${ORDERS} orders and writes a checkpoint to Cairn after each one.`);
  log(`   Its first try crashes after order ${CRASH_AFTER}. Where does the retry start?`);
  log("");
  scheduler(`registered asset ${ASSET.name} (${ASSET.uri})`);
  const runId = `demo-${demoId}`;
  const try1 = await call(
    "creating the task instance",
    admin.admin.taskInstances.create.mutate({ dagId: DAG_ID, runId, taskId: "process_orders" }),
  );
  scheduler(`dag ${DAG_ID}, run ${runId}: task process_orders, try ${try1.tryNumber} (${try1.id})`);
  const token1 = await call("issuing a token", admin.admin.tokens.issue.mutate({ taskInstanceId: try1.id }));
  scheduler(`starts the worker with try ${try1.tryNumber}'s execution token and CRASH_AFTER=${CRASH_AFTER}`);
  const first = await runWorker({
    url,
    token: token1.token,
    tryNumber: try1.tryNumber,
    crashAfter: CRASH_AFTER,
    workMs,
    log,
  });
  if (first.signal !== "SIGKILL") {
    throw new DemoError(`expected try 1 to crash (SIGKILL), but it ${describeExit(first)}`);
  }

  // The scheduler may read any task's state with its admin token (naming the task instance).
  const asTry1 = createCairnClient({ url, token: adminToken, taskInstanceId: try1.id });
  const checkpointAfterCrash = await call("reading the checkpoint", asTry1.get("checkpoint", 0));
  scheduler(
    `try ${try1.tryNumber} died (${first.signal}); Cairn still holds checkpoint = ${checkpointAfterCrash}`,
  );

  const try2 = await call("retrying", admin.admin.taskInstances.retry.mutate({ taskInstanceId: try1.id }));
  scheduler(`retry: try ${try2.tryNumber} is a new task instance (${try2.id}) with the same task state`);
  await showZombieRefused(url, token1.token, scheduler);
  const token2 = await call("issuing a token", admin.admin.tokens.issue.mutate({ taskInstanceId: try2.id }));
  scheduler(`starts the worker with try ${try2.tryNumber}'s execution token, no crash this time`);
  const second = await runWorker({ url, token: token2.token, tryNumber: try2.tryNumber, workMs, log });
  if (second.code !== 0) throw new DemoError(`expected try 2 to finish, but it ${describeExit(second)}`);

  const shippedByTry: [number[], number[]] = [first.shipped, second.shipped];
  const resumedAt = second.shipped[0] ?? Number.NaN;
  const all = [...first.shipped, ...second.shipped];
  const expected = Array.from({ length: ORDERS }, (_, i) => i + 1);
  if (all.join() !== expected.join()) {
    throw new DemoError(`expected orders 1..${ORDERS} shipped once each, got ${all.join(", ")}`);
  }
  scheduler(
    `try ${try2.tryNumber} finished. Orders ${range(first.shipped)} shipped in try ${try1.tryNumber}, ` +
      `${range(second.shipped)} in try ${try2.tryNumber}: none twice, none skipped.`,
  );

  log("");
  log("2. A watermark shared by every run that writes an asset");
  log("   A daily incremental load reads the watermark of the asset it writes, loads the rows newer");
  log("   than it, and moves it forward. Does tomorrow's run start where today's ended?");
  log("");
  // Only so that every demo run starts from the same place; a real scheduler never does this.
  await call(
    "resetting the watermark",
    admin.assetState.delete.mutate({ asset: { name: ASSET.name }, key: WATERMARK_KEY }),
  );
  scheduler(`reset the watermark of ${ASSET.name} (only so every demo run starts from ${WATERMARK_START})`);
  const loadRun = async (day: string) => {
    const loadRunId = `demo-${demoId}__${day}`;
    const task = await call(
      "creating the task instance",
      admin.admin.taskInstances.create.mutate({
        dagId: DAG_ID,
        runId: loadRunId,
        taskId: "load_orders",
        outlets: [{ name: ASSET.name }],
      }),
    );
    const { token } = await call(
      "issuing a token",
      admin.admin.tokens.issue.mutate({ taskInstanceId: task.id }),
    );
    scheduler(`run ${loadRunId}: task load_orders (outlet ${ASSET.name}) runs at ${day} 00:00 UTC`);
    const cairn = createCairnClient({ url, token });
    const result = await call(
      "the incremental load",
      incrementalLoad({
        cairn,
        asset: ASSET.name,
        runAt: `${day}T00:00:00Z`,
        workMs: workMs / 4,
        say: (line) => log(labelled(`run ${day.slice(5)}`, line)),
      }),
    );
    return { ...result, runId: loadRunId };
  };
  const run1 = await loadRun("2026-05-02");
  const run2 = await loadRun("2026-05-03");
  const entry = await call(
    "reading the watermark",
    admin.assetState.get.query({ asset: { name: ASSET.name }, key: WATERMARK_KEY }),
  );
  const final = { value: String(entry.value), version: entry.version };
  if (run2.startedFrom !== run1.advancedTo || final.value !== run2.advancedTo) {
    throw new DemoError(
      `expected the second run to start at ${run1.advancedTo} and end at the final watermark ${final.value}`,
    );
  }
  scheduler(`the second run started where the first ended: ${run1.advancedTo}`);
  scheduler(`the watermark of ${ASSET.name} is now ${final.value} (version ${final.version})`);

  log("");
  log("Done. What Cairn kept for the workers:");
  log(
    `  - task state: a checkpoint every try of a task reads, so try 2 resumed at order ${resumedAt}, not 1;`,
  );
  log(
    `  - asset state: a watermark shared by every run that writes ${ASSET.name}, moved by compare-and-set.`,
  );
  log("The code: apps/example-worker/src/worker.ts and src/incremental-load.ts.");
  return {
    checkpoint: { runId, shippedByTry, checkpointAfterCrash, resumedAt },
    watermark: { runs: [run1, run2], final },
  };
}

interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The orders the worker reported as shipped, in order. */
  shipped: number[];
}

/** Runs src/worker.ts as a real child process, its output prefixed with the try. */
async function runWorker(options: {
  url: string;
  token: string;
  tryNumber: number;
  crashAfter?: number;
  workMs: number;
  log: (line: string) => void;
}): Promise<WorkerExit> {
  const { CRASH_AFTER: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", WORKER], {
    cwd: PACKAGE_DIR,
    env: {
      ...inherited,
      CAIRN_URL: options.url,
      CAIRN_TOKEN: options.token,
      TRY_NUMBER: String(options.tryNumber),
      ORDERS: String(ORDERS),
      WORK_MS: String(options.workMs),
      ...(options.crashAfter === undefined ? {} : { CRASH_AFTER: String(options.crashAfter) }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const shipped: number[] = [];
  forwardLines(child, "stdout", (line) => {
    // The worker prints "order 5/10 shipped, checkpoint = 5" after each order.
    const match = /^order (\d+)\/\d+ shipped/.exec(line);
    if (match) shipped.push(Number(match[1]));
    options.log(labelled(`try ${options.tryNumber}`, line));
  });
  forwardLines(child, "stderr", (line) => options.log(labelled(`try ${options.tryNumber}`, line)));
  const timer = setTimeout(() => child.kill("SIGKILL"), WORKER_TIMEOUT_MS);
  try {
    const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
    return { code, signal, shipped };
  } catch (error) {
    throw new DemoError(`could not start the worker (${process.execPath} --import tsx ${WORKER}): ${error}`);
  } finally {
    clearTimeout(timer);
  }
}

function forwardLines(child: ChildProcess, stream: "stdout" | "stderr", onLine: (line: string) => void) {
  const source = child[stream];
  if (source) createInterface({ input: source, crlfDelay: Number.POSITIVE_INFINITY }).on("line", onLine);
}

/** Once try 2 exists, try 1's token is refused: a try that was only cut off (a zombie) cannot write. */
async function showZombieRefused(url: string, token: string, scheduler: (line: string) => void) {
  const zombie = createCairnClient({ url, token, retries: 0 });
  try {
    await zombie.set("checkpoint", 0);
  } catch (error) {
    if (error instanceof NotFoundError && error.reason === "task_instance_superseded") {
      scheduler("try 1's token is refused now (task_instance_superseded): a zombie try 1 cannot write");
      return;
    }
    throw error;
  }
  throw new DemoError(
    "a superseded try could still write its task's state: expected task_instance_superseded",
  );
}

/** "  scheduler   registered ...": who says what, in a column. */
function labelled(who: string, line: string): string {
  return `   ${who.padEnd(10)}  ${line}`;
}

function describeExit({ code, signal }: WorkerExit): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

function range(orders: number[]): string {
  if (orders.length <= 1) return orders.join("");
  return `${orders[0]}-${orders.at(-1)}`;
}

function checkAdminToken(token: string) {
  let scope: string;
  try {
    scope = readTokenClaims(token).scope;
  } catch (error) {
    throw new DemoError(
      `CAIRN_ADMIN_TOKEN is not a token (${(error as Error).message}). Use the one pnpm start writes: ` +
        `CAIRN_ADMIN_TOKEN=$(cat .cairn/admin-token) pnpm example`,
    );
  }
  if (scope !== "admin") {
    throw new DemoError(
      `CAIRN_ADMIN_TOKEN has scope "${scope}"; the demo plays the scheduler and needs an admin token ` +
        `(the one pnpm start writes to .cairn/admin-token).`,
    );
  }
}

async function checkServer(url: string) {
  let healthy = false;
  try {
    healthy = (await fetch(new URL("/healthz", url), { signal: AbortSignal.timeout(5000) })).ok;
  } catch {
    // Connection refused, bad URL, timeout: explained below.
  }
  if (!healthy) {
    throw new DemoError(
      `no Cairn server answers at ${url}. Start one in another terminal with \`pnpm start\` ` +
        `(or set CAIRN_URL to where yours runs).`,
    );
  }
}

/** Turns what can go wrong in a scheduler call into a message that says what to do. */
async function explainFailures<T>(what: string, url: string, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof DemoError) throw error;
    const data = errorData(error);
    const message = error instanceof Error ? error.message : String(error);
    if (data?.httpStatus === 401) {
      throw new DemoError(
        `${what}: the server refused CAIRN_ADMIN_TOKEN (${message}). Use the admin token ` +
          `this server wrote at start (.cairn/admin-token); a token from another data directory or CAIRN_JWT_SECRET does not work.`,
      );
    }
    if (data === undefined && !(error instanceof CairnError)) {
      throw new DemoError(`${what}: no answer from ${url} (${message}). Is \`pnpm start\` still running?`);
    }
    const code = data?.code ?? (error as CairnError).code;
    const reason = data?.reason ?? (error as CairnError).reason;
    throw new DemoError(`${what} failed: ${code}${reason ? ` (${reason})` : ""}: ${message}`);
  }
}

function errorData(error: unknown): { code?: string; httpStatus?: number; reason?: string } | undefined {
  if (error instanceof CairnError) {
    return { code: error.code, httpStatus: error.httpStatus, reason: error.reason };
  }
  const data = (error as { data?: unknown } | null)?.data;
  return typeof data === "object" && data !== null ? data : undefined;
}

async function main() {
  const url = process.env.CAIRN_URL || DEFAULT_URL;
  const adminToken = process.env.CAIRN_ADMIN_TOKEN?.trim();
  if (!adminToken) {
    process.stderr.write(
      [
        "The demo needs an admin token: CAIRN_ADMIN_TOKEN is not set.",
        "",
        "  1. In another terminal, start Cairn at the repository root:   pnpm start",
        '  2. Copy the token it prints under "Admin token", then run:',
        "",
        "       CAIRN_ADMIN_TOKEN=<that token> pnpm example",
        "",
        `CAIRN_URL defaults to ${DEFAULT_URL}.`,
        "",
      ].join("\n"),
    );
    return 1;
  }
  try {
    await runDemo({ url, adminToken });
    return 0;
  } catch (error) {
    if (error instanceof DemoError) {
      process.stderr.write(`\nThe demo stopped: ${error.message}\n`);
    } else {
      process.stderr.write(
        `\nThe demo failed unexpectedly:\n${error instanceof Error ? error.stack : error}\n`,
      );
    }
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
