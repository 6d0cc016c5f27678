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

export interface Database {
  kind: DatabaseKind;
  prisma: PrismaClient;
  sql: SqlRunner;
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

async function openPglite(options: OpenDatabaseOptions): Promise<Database> {
  const dataDir = options.dataDir ?? process.env.CAIRN_DATA_DIR ?? "./.cairn";
  const inMemory = dataDir.startsWith("memory://");
  const location = inMemory ? dataDir : resolve(dataDir, "pglite");
  if (inMemory) return wrapPglite(await PGlite.create(), location);
  await mkdir(location, { recursive: true });
  const releaseLock = await lockDataDir(location);
  try {
    const db = wrapPglite(await PGlite.create(location), location);
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
