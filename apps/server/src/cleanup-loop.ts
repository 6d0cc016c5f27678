// Runs the expired-state cleanup every CAIRN_CLEANUP_INTERVAL_SECONDS, by itself. Safe with several replicas:
// batches use SKIP LOCKED, so two runners never wait on or double-delete a row.
import { deleteExpired } from "@cairn/api";
import type { Database } from "@cairn/db";
import type { Logger } from "pino";

export interface CleanupLoop {
  /** Stops scheduling and waits for a run in progress to finish its current batch. */
  stop(): Promise<void>;
}

export function startCleanupLoop(opts: {
  db: Database;
  intervalSeconds: number;
  batchSize: number;
  logger: Logger;
  onRun?: (result: { outcome: "ok" | "error"; task: number; asset: number }) => void;
}): CleanupLoop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const schedule = () => {
    if (stopped) return;
    // Jitter spreads replicas that started together.
    const delay = opts.intervalSeconds * 1000 * (0.8 + Math.random() * 0.4);
    timer = setTimeout(() => {
      running = runOnce().finally(() => {
        running = undefined;
        schedule();
      });
    }, delay);
    timer.unref();
  };

  const runOnce = async () => {
    const started = Date.now();
    try {
      const result = await deleteExpired(opts.db.sql, {
        batchSize: opts.batchSize,
        shouldStop: () => stopped,
      });
      opts.onRun?.({ outcome: "ok", task: result.task, asset: result.asset });
      if (result.task + result.asset > 0) {
        opts.logger.info({ deleted: result, ms: Date.now() - started }, "cleanup deleted expired state");
      }
    } catch (error) {
      opts.onRun?.({ outcome: "error", task: 0, asset: 0 });
      opts.logger.warn({ err: error }, "cleanup failed; will retry next interval");
    }
  };

  schedule();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
