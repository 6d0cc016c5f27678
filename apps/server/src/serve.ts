// `pnpm start` / `cairn serve`: configuration, database (migrated), HTTP server, cleanup loop, graceful SIGTERM.
import { signToken } from "@cairn/api";
import { openDatabase } from "@cairn/db";
import pino from "pino";
import { startCleanupLoop } from "./cleanup-loop.ts";
import { apiConfigFrom, ConfigError, parseConfig } from "./config.ts";
import { loadOrCreateSecret } from "./embedded-secret.ts";
import { boundHeapGrowth } from "./heap.ts";
import { startServer } from "./http-server.ts";
import { createMetrics } from "./metrics.ts";
import { migrateInChildProcess } from "./migrate-in-child.ts";

const SHUTDOWN_GRACE_MS = 10_000;

export async function serve(): Promise<void> {
  boundHeapGrowth();
  const config = parseConfig();
  const logger = pino({ level: config.logLevel });
  const embedded = !config.databaseUrl;

  // Embedded: PGlite lives in this process, so it migrates here. PostgreSQL: in a child process.
  const migrateHere = config.migrateOnStart && embedded;
  if (config.migrateOnStart && config.databaseUrl) {
    const report = await migrateInChildProcess(config.databaseUrl);
    logger.info({ report }, "migrations checked");
  }
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    migrate: migrateHere,
    poolSize: config.dbPoolSize,
  });
  logger.info({ database: db.location, kind: db.kind, migrated: config.migrateOnStart }, "database open");

  const secret = config.jwtSecret ?? (await loadOrCreateSecret(config.dataDir)).secret;
  const api = apiConfigFrom(config, secret);
  const metrics = createMetrics();
  const running = await startServer({
    db,
    api,
    logger,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
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
  logger.info({ url: running.url }, "cairn listening");

  if (embedded && !config.jwtSecret) {
    const expiresAt = new Date(Date.now() + 30 * 86_400_000);
    const adminToken = await signToken(api.tokenKeys, { sub: "quickstart-admin", scope: "admin" }, expiresAt);
    process.stdout.write(
      `\nCairn is running on ${running.url} with the embedded database in ${config.dataDir}.\n` +
        `Admin token (valid 30 days; set CAIRN_JWT_SECRET to manage your own):\n\n  ${adminToken}\n\n` +
        `Try it:\n  curl -s -X POST ${running.url}/trpc/admin.assets.upsert \\\n` +
        `    -H "authorization: Bearer $TOKEN" -H "content-type: application/json" \\\n` +
        `    -d '{"name":"orders","uri":"s3://lake/orders"}'\n\n`,
    );
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: finishing in-flight requests");
    const force = setTimeout(() => {
      logger.error("in-flight requests did not finish in time; exiting");
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    await running.close();
    await cleanup?.stop();
    await db.close();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/** Runs serve() and turns a start-up failure into a message and exit code 1. */
export function runServe(): void {
  serve().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`cairn: ${error.message}\n`);
    } else {
      process.stderr.write(
        `cairn: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
    process.exit(1);
  });
}
