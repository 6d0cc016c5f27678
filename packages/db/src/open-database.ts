// Opens Cairn's database: PostgreSQL when DATABASE_URL is a postgresql:// URL, else embedded PGlite.
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { unreachable } from "./connection-errors.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import {
  type MigrationFactory,
  pgliteMigrationFactory,
  postgresMigrationFactory,
} from "./migrations/adapter-fixes.ts";
import { applyMigrations } from "./migrations/migrator.ts";

export type DatabaseKind = "postgres" | "pglite";

/**
 * Plain SQL for the hot path: one statement, positional parameters, rows as objects. Each statement is its
 * own transaction; one that PostgreSQL aborted as a deadlock victim or a serialization failure (40P01,
 * 40001) was rolled back whole, so it is run again, up to 3 more times, before its error is thrown.
 */
export interface SqlRunner {
  /** `name` makes it a named prepared statement on PostgreSQL (parsed once per connection). */
  query<Row = Record<string, unknown>>(text: string, values?: unknown[], name?: string): Promise<Row[]>;
}

/** Stops a listen(); resolves once the channel is no longer listened to. */
export type Unlisten = () => Promise<void>;

export interface Database {
  kind: DatabaseKind;
  prisma: PrismaClient;
  sql: SqlRunner;
  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (sql: SqlRunner) => Promise<T>): Promise<T>;
  /**
   * LISTEN on `channel` over a connection of its own (to PostgreSQL itself, not through a transaction
   * pooler): `onMessage` gets each payload, in commit order. `onLost` is called once if that connection
   * breaks, after which messages may have been missed and nothing more arrives: listen again.
   */
  listen(
    channel: string,
    onMessage: (payload: string) => void,
    onLost: (error: Error) => void,
  ): Promise<Unlisten>;
  /** Where the data lives: the URL without its password, or the PGlite directory. */
  location: string;
  /** A factory the schema engine can use against this same database. */
  migrationFactory: MigrationFactory;
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgresql://…`; undefined or empty selects PGlite. Defaults to `process.env.DATABASE_URL`. */
  url?: string | undefined;
  /** PGlite directory, or `memory://` for a throwaway in-memory database. Default `CAIRN_DATA_DIR` or `./.cairn`. */
  dataDir?: string | undefined;
  /** Apply pending migrations before returning. */
  migrate?: boolean;
  /** Upper bound of the PostgreSQL connection pool (default 10). */
  poolSize?: number;
  /** How long to wait for a PostgreSQL connection before failing, in ms (default 5000). */
  connectionTimeoutMs?: number;
  /**
   * The URL reaches PostgreSQL through a transaction-pooling proxy (PgBouncer `pool_mode = transaction`):
   * no named prepared statements, which would land on whichever server connection runs the next
   * transaction. Migrations need a direct URL then (session-level locks).
   */
  transactionPooling?: boolean;
  /** Where listen() connects: PostgreSQL itself (LISTEN does not work through a transaction pooler). Default: url. */
  listenUrl?: string | undefined;
}

export class DatabaseConfigError extends Error {
  override name = "DatabaseConfigError";
}

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const url = options.url ?? process.env.DATABASE_URL;
  const db = url ? openPostgres(url, options) : await openPglite(options);
  try {
    // Fail now, saying where and why, rather than on the first request.
    if (url) await db.ping().catch((error: unknown) => Promise.reject(unreachable(url, error)));
    if (options.migrate) await applyMigrations(db.migrationFactory);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

function openPostgres(url: string, options: OpenDatabaseOptions): Database {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new DatabaseConfigError(
      `DATABASE_URL must start with postgresql:// (or be unset for the embedded database); got "${redact(url)}"`,
    );
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const named = !options.transactionPooling;
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: "postgres",
    prisma,
    sql: {
      query: <Row>(text: string, values: unknown[] = [], name?: string) =>
        retryAbortedStatement(
          async () => (await pool.query({ text, values, ...(name && named ? { name } : {}) })).rows as Row[],
        ),
    },
    transaction: async (work) => {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await work({
          query: async <Row>(text: string, values: unknown[] = []) =>
            (await client.query({ text, values })).rows as Row[],
        });
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    listen: (channel, onMessage, onLost) =>
      listenPostgres(options.listenUrl ?? url, channel, onMessage, onLost),
    location: redact(url),
    migrationFactory: postgresMigrationFactory(url),
    ping: async () => {
      await pool.query("SELECT 1");
    },
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function listenPostgres(
  url: string,
  channel: string,
  onMessage: (payload: string) => void,
  onLost: (error: Error) => void,
): Promise<Unlisten> {
  const client = new pg.Client({ connectionString: url, keepAlive: true });
  let stopped = false;
  let lost = false;
  const loseOnce = (error: Error) => {
    if (stopped || lost) return;
    lost = true;
    onLost(error);
  };
  client.on("notification", (message) => {
    if (message.channel === channel) onMessage(message.payload ?? "");
  });
  client.on("error", loseOnce);
  client.on("end", () => loseOnce(new Error("the LISTEN connection to PostgreSQL closed")));
  await client.connect();
  await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
  return async () => {
    stopped = true;
    await client.end().catch(() => {});
  };
}

/** SQLSTATEs of a statement PostgreSQL rolled back to break a deadlock or a serialization conflict. */
const ABORTED_STATEMENT = new Set(["40P01", "40001"]);

async function retryAbortedStatement<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (attempt > 3 || typeof code !== "string" || !ABORTED_STATEMENT.has(code)) throw error;
      // Jittered, so the transactions that collided do not collide again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

/**
 * PostgreSQL settings of the embedded database. shared_buffers defaults to 128 MB, which PGlite keeps in
 * the server's own memory: 16 MB took an embedded server from about 290 to 170 MB of RSS at rest (and
 * 370 to 230 MB after 40 000 statements); the data files stay in the operating system's page cache.
 */
const PGLITE_CONF = ["shared_buffers = 16MB"];

async function openPglite(options: OpenDatabaseOptions): Promise<Database> {
  const dataDir = options.dataDir ?? process.env.CAIRN_DATA_DIR ?? "./.cairn";
  const inMemory = dataDir.startsWith("memory://");
  const location = inMemory ? dataDir : resolve(dataDir, "pglite");
  if (inMemory) return wrapPglite(await PGlite.create({ postgresqlconf: PGLITE_CONF }), location);
  await mkdir(location, { recursive: true });
  const releaseLock = await lockDataDir(location);
  try {
    const db = wrapPglite(await PGlite.create(location, { postgresqlconf: PGLITE_CONF }), location);
    const close = db.close;
    return { ...db, close: () => close().finally(releaseLock) };
  } catch (error) {
    await releaseLock();
    throw error;
  }
}

/** A Database over an open PGlite instance (tests load one from a migrated snapshot). */
export function wrapPglite(client: PGlite, location: string): Database {
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(client) });
  return {
    kind: "pglite",
    prisma,
    sql: {
      query: async <Row>(text: string, values: unknown[] = []) =>
        (await client.query<Row>(text, values)).rows,
    },
    transaction: (work) =>
      client.transaction((tx) =>
        work({
          query: async <Row>(text: string, values: unknown[] = []) =>
            (await tx.query<Row>(text, values)).rows,
        }),
      ),
    // One embedded session: notifications arrive in it, and it cannot be lost.
    listen: async (channel, onMessage) => {
      const unlisten = await client.listen(channel, onMessage);
      return () => unlisten();
    },
    location,
    migrationFactory: pgliteMigrationFactory(client),
    ping: async () => {
      await client.query("SELECT 1");
    },
    close: async () => {
      await prisma.$disconnect();
      await client.close();
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
