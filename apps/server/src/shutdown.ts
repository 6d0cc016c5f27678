// Graceful stop on SIGTERM (docker stop, systemd, Kubernetes) and SIGINT (Ctrl-C): readiness turns 503 at
// once, the listener keeps accepting for CAIRN_SHUTDOWN_DELAY_SECONDS (so load balancers can notice), then
// closes; idle keep-alive connections close, in-flight requests finish with `Connection: close`, the cleanup
// loop stops between batches, the database closes, exit 0. Requests still running after
// CAIRN_SHUTDOWN_TIMEOUT_SECONDS are cut and the process exits 1.
import type { Database } from "@cairn/db";
import type { Logger } from "pino";
import type { CleanupLoop } from "./cleanup-loop.ts";
import type { RunningServer } from "./http-server.ts";

export const EXIT_SHUTDOWN_TIMED_OUT = 1;
/** After the timeout cut the requests, closing the database gets this long before the process exits anyway. */
const CLOSE_GRACE_MS = 5_000;

export interface ShutdownOptions {
  running: RunningServer;
  cleanup: CleanupLoop | undefined;
  db: Database;
  logger: Logger;
  timeoutSeconds: number;
  delaySeconds: number;
}

export function stopGracefullyOnSignals(options: ShutdownOptions): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    // A terminal's Ctrl-C reaches both pnpm and the server, and pnpm forwards it again: one stop is enough.
    if (stopping) return;
    stopping = true;
    void shutdown(signal, options);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

async function shutdown(signal: NodeJS.Signals, options: ShutdownOptions): Promise<void> {
  const { running, cleanup, db, logger, timeoutSeconds, delaySeconds } = options;
  const started = Date.now();
  logger.info({ signal, timeoutSeconds, delaySeconds }, "shutting down: readiness 503, draining connections");
  running.startDraining();

  let timedOut = false;
  const timeout = setTimeout(() => {
    timedOut = true;
    const cut = running.cutConnections();
    logger.error({ cut, timeoutSeconds }, `shutdown timed out: cut ${cut} in-flight request(s)`);
    setTimeout(() => process.exit(EXIT_SHUTDOWN_TIMED_OUT), CLOSE_GRACE_MS).unref();
  }, timeoutSeconds * 1000);

  if (delaySeconds > 0) await new Promise((resolve) => setTimeout(resolve, delaySeconds * 1000));
  await running.close();
  clearTimeout(timeout);
  await cleanup?.stop();
  try {
    await db.close();
  } catch (error) {
    logger.error({ err: error }, "closing the database failed");
    process.exit(1);
  }
  if (timedOut) process.exit(EXIT_SHUTDOWN_TIMED_OUT);
  logger.info({ ms: Date.now() - started }, "stopped");
  process.exit(0);
}
