// Opening the database at start, waiting for a PostgreSQL that is not up yet (a compose stack, a pod
// starting beside its database, a database restarting) instead of exiting at once: retried with backoff
// for CAIRN_DB_STARTUP_TIMEOUT_SECONDS. A database that answers and refuses (bad password, no such
// database) fails at once: waiting would not change that.
import { type Database, DatabaseUnreachableError, type OpenDatabaseOptions, openDatabase } from "@cairn/db";
import type { Logger } from "pino";

export async function openDatabaseWaiting(
  options: OpenDatabaseOptions,
  opts: { timeoutSeconds: number; logger: Logger },
): Promise<Database> {
  const giveUpAt = Date.now() + opts.timeoutSeconds * 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await openDatabase(options);
    } catch (error) {
      if (!(error instanceof DatabaseUnreachableError) || !error.mayRecover) throw error;
      const delayMs = Math.min(5_000, 250 * 2 ** (attempt - 1));
      if (Date.now() + delayMs > giveUpAt) {
        throw new DatabaseUnreachableError(
          `${error.message} (gave up after ${opts.timeoutSeconds} s: CAIRN_DB_STARTUP_TIMEOUT_SECONDS)`,
          { cause: error, mayRecover: false },
        );
      }
      opts.logger.warn({ attempt, retryInMs: delayMs }, `${error.message}; waiting for it`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
