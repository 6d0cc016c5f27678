// The worker: one try of the task "process_orders". It ships N orders, one at a time, and writes a
// checkpoint to Cairn after each, so that the next try (after a crash) starts where this one stopped.
//
//   CAIRN_URL     the Cairn server, e.g. http://127.0.0.1:4000
//   CAIRN_TOKEN   the execution token the scheduler issued for this try
//   CRASH_AFTER   optional: kill this process (SIGKILL, no cleanup) after checkpointing that many orders
//   TRY_NUMBER    optional: which try this is, only for the messages
//   ORDERS        optional: how many orders (default 10);  WORK_MS: simulated work per order (default 200)
import { createCairnClient, NotFoundError } from "@cairn/client";

const env = readEnv();
const cairn = createCairnClient({ url: env.url, token: env.token });
const thisTry = env.tryNumber === undefined ? "this try" : `try ${env.tryNumber}`;

try {
  await processOrders();
} catch (error) {
  if (error instanceof NotFoundError && error.reason === "task_instance_superseded") {
    say(`${thisTry} stops: the scheduler started a newer try of this task`);
  } else {
    say(`${thisTry} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exitCode = 1;
}

async function processOrders(): Promise<void> {
  // The heart of it. Task state belongs to the task, not to the try: every try reads the same checkpoint.
  const start = await cairn.get("checkpoint", 0);
  say(
    start === 0
      ? `${thisTry} starts at order 1 of ${env.orders} (no checkpoint yet)`
      : `${thisTry} resumes at order ${start + 1} of ${env.orders} (checkpoint = ${start}, written by an earlier try)`,
  );
  for (let i = start; i < env.orders; i++) {
    await shipOrder(i + 1);
    await cairn.set("checkpoint", i + 1);
    say(`order ${i + 1}/${env.orders} shipped, checkpoint = ${i + 1}`);
    if (i + 1 === env.crashAfter) {
      await say(`simulating a crash after order ${i + 1}: SIGKILL, no cleanup, no goodbye`);
      process.kill(process.pid, "SIGKILL");
    }
  }
  // Done: remove the task's state, so that a re-run of this task in this dag run starts from scratch.
  await cairn.clear();
  say(`all ${env.orders} orders shipped; checkpoint cleared`);
}

/** Simulated work: a call to a payment or shipping API that must not happen twice for the same order. */
function shipOrder(_order: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, env.workMs));
}

/** Prints a line; the promise settles once it is written (before a SIGKILL could lose it). */
function say(line: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${line}\n`, () => resolve()));
}

function readEnv() {
  const url = process.env.CAIRN_URL;
  const token = process.env.CAIRN_TOKEN;
  if (!url || !token) {
    process.stderr.write(
      "worker: set CAIRN_URL and CAIRN_TOKEN (the execution token the scheduler issued for this try).\n" +
        "To see it run, start the whole demo instead: CAIRN_ADMIN_TOKEN=<token from pnpm start> pnpm example\n",
    );
    process.exit(2);
  }
  return {
    url,
    token,
    crashAfter: whole("CRASH_AFTER", undefined),
    tryNumber: whole("TRY_NUMBER", undefined),
    orders: whole("ORDERS", 10),
    workMs: whole("WORK_MS", 200),
  };
}

function whole<T extends number | undefined>(name: string, fallback: T): number | T {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    process.stderr.write(`worker: ${name} must be a whole number, got "${raw}"\n`);
    process.exit(2);
  }
  return value;
}
