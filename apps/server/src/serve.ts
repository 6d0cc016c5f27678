// `node dist/main.js` / `pnpm start` / `cairn serve`: configuration, database (migrated), HTTP server,
// cleanup loop, graceful stop on SIGTERM and SIGINT (shutdown.ts).
import type { Logger } from "pino";
import { startBanner, writeAdminToken } from "./admin-token.ts";
import { startCleanupLoop } from "./cleanup-loop.ts";
import { apiConfigFrom, ConfigError, parseConfig, type ServerConfig } from "./config.ts";
import { loadOrCreateSecret } from "./embedded-secret.ts";
import { boundHeapGrowth } from "./heap.ts";
import { startServer } from "./http-server.ts";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { migrateInChildProcess } from "./migrate-in-child.ts";
import { stopGracefullyOnSignals } from "./shutdown.ts";
import { VERSION } from "./version.ts";
import { openDatabaseWaiting } from "./wait-for-database.ts";

export async function serve(config: ServerConfig, logger: Logger): Promise<void> {
  const embedded = !config.databaseUrl;
  logger.info({ version: VERSION, node: process.version }, "starting cairn");

  // Opening checks the connection (an unreachable PostgreSQL is named with host:port and the cause).
  // Embedded: PGlite lives in this process, so it migrates here. PostgreSQL: in a child process.
  const db = await openDatabaseWaiting(
    {
      url: config.databaseUrl,
      dataDir: config.dataDir,
      migrate: config.migrateOnStart && embedded,
      poolSize: config.dbPoolSize,
      transactionPooling: config.transactionPooling,
      // LISTEN (watch streams) needs PostgreSQL itself, as migrations do behind a transaction pooler.
      listenUrl: config.migrateDatabaseUrl,
    },
    { timeoutSeconds: config.dbStartupTimeoutSeconds, logger },
  );
  if (config.migrateOnStart && config.migrateDatabaseUrl) {
    const report = await migrateInChildProcess(config.migrateDatabaseUrl).catch(async (error: unknown) => {
      await db.close();
      throw error;
    });
    logger.info({ report }, "migrations checked");
  }
  logger.info({ database: db.location, kind: db.kind, migrated: config.migrateOnStart }, "database open");

  const secret = config.jwtSecret ?? (await loadOrCreateSecret(config.dataDir)).secret;
  const api = apiConfigFrom(config, secret);
  const metrics = createMetrics();
  // Written before the port opens: whoever sees the server answer (or log "cairn listening") can read it.
  const written = embedded && !config.jwtSecret ? await writeAdminToken(config.dataDir, api) : undefined;
  const running = await startServer({
    db,
    api,
    logger,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    limits: config.limits,
    trpcFastPath: config.trpcFastPath,
    host: config.host,
    port: config.port,
  });
  const cleanup =
    config.cleanupIntervalSeconds > 0
      ? startCleanupLoop({
          db,
          intervalSeconds: config.cleanupIntervalSeconds,
          batchSize: config.cleanupBatchSize,
          logger,
          onRun: (run) => metrics.onCleanup(run),
        })
      : undefined;
  stopGracefullyOnSignals({
    running,
    cleanup,
    db,
    logger,
    timeoutSeconds: config.shutdownTimeoutSeconds,
    delaySeconds: config.shutdownDelaySeconds,
  });
  logger.info({ console: `${running.url}/console`, url: running.url }, "cairn listening");

  if (written) {
    if (process.stdout.isTTY) {
      const banner = { url: running.url, dataDir: config.dataDir, tokenPath: written.path };
      process.stdout.write(
        startBanner({ ...banner, readCommand: written.readCommand, token: written.token }),
      );
    } else {
      logger.info({ file: written.path, read: written.readCommand }, "admin token written");
    }
  }
}

/** Runs serve() and turns a start-up failure into a message and exit code 1. */
export function runServe(): void {
  // Before parseConfig, which reads the same variable: an unset or empty DATABASE_URL is PGlite.
  boundHeapGrowth(!process.env.DATABASE_URL);
  // Stack traces of the built server point into the TypeScript sources (dist/*.js.map).
  process.setSourceMapsEnabled(true);
  Promise.resolve()
    .then(() => {
      const config = parseConfig();
      return serve(config, createLogger(config));
    })
    .catch(failedToStart);
}

function failedToStart(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`cairn: ${error.message}\n`);
  } else {
    process.stderr.write(
      `cairn: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
  process.exit(1);
}
