// Which databases the test run covers, and how a test file gets a fresh one of each.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { type Database, type DatabaseKind, openDatabase, wrapPglite } from "../open-database.ts";
import { pgbouncerBinary } from "./pgbouncer.ts";

/** The databases behaviour tests run on: PGlite, PostgreSQL, and PostgreSQL behind PgBouncer. */
export type TestDatabaseKind = DatabaseKind | "pgbouncer";
const KINDS: readonly TestDatabaseKind[] = ["pglite", "postgres", "pgbouncer"];

export interface TestDatabaseContext {
  kinds: TestDatabaseKind[];
  runId: string;
  pgliteSnapshotPath?: string;
  postgres?: { adminUrl: string; template: string };
  /** PgBouncer (transaction pooling) in front of that PostgreSQL: its URL. */
  pgbouncer?: { url: string };
}

/**
 * CAIRN_TEST_DATABASES selects the databases every behaviour test runs on (comma-separated). The default
 * is pglite and postgres, and pgbouncer (the PostgreSQL tests once more, through PgBouncer in transaction
 * pooling mode) when PgBouncer is installed.
 */
export function requestedKinds(): TestDatabaseKind[] {
  const raw = process.env.CAIRN_TEST_DATABASES ?? `pglite,postgres${pgbouncerBinary() ? ",pgbouncer" : ""}`;
  const kinds = raw
    .split(",")
    .map((kind) => kind.trim())
    .filter(Boolean);
  for (const kind of kinds) {
    if (!KINDS.includes(kind as TestDatabaseKind)) {
      throw new Error(`CAIRN_TEST_DATABASES: unknown database "${kind}" (use ${KINDS.join(", ")})`);
    }
  }
  return kinds as TestDatabaseKind[];
}

export function adminUrlFor(): string {
  return process.env.CAIRN_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A fresh, migrated database of the given kind for one test file. */
export async function openTestDatabase(
  context: TestDatabaseContext,
  kind: TestDatabaseKind,
): Promise<Database> {
  if (kind === "pglite") {
    if (!context.pgliteSnapshotPath)
      throw new Error("no PGlite snapshot: pglite is not in CAIRN_TEST_DATABASES");
    const bytes = await readFile(context.pgliteSnapshotPath);
    const client = await PGlite.create({ loadDataDir: new Blob([bytes]) });
    return wrapPglite(client, "memory://test");
  }
  if (!context.postgres) throw new Error("no template database: no PostgreSQL kind in CAIRN_TEST_DATABASES");
  if (kind === "pgbouncer" && !context.pgbouncer) throw new Error("PgBouncer was not started for this run");
  const { adminUrl, template } = context.postgres;
  const name = `${context.runId}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await admin.end();
  }
  // Through PgBouncer: the same database, reached the way a pooled deployment reaches it.
  const db =
    kind === "pgbouncer"
      ? await openDatabase({
          url: databaseUrl(context.pgbouncer!.url, name),
          poolSize: 10,
          transactionPooling: true,
          listenUrl: databaseUrl(adminUrl, name),
        })
      : await openDatabase({ url: databaseUrl(adminUrl, name), poolSize: 10 });
  const close = db.close;
  return {
    ...db,
    close: async () => {
      await close();
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => dropper.end());
    },
  };
}
