// Which databases the test run covers, and how a test file gets a fresh one of each.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { type Database, type DatabaseKind, openDatabase, wrapPglite } from "../open-database.ts";

export interface TestDatabaseContext {
  kinds: DatabaseKind[];
  runId: string;
  pgliteSnapshotPath?: string;
  postgres?: { adminUrl: string; template: string };
}

/** CAIRN_TEST_DATABASES=pglite,postgres (the default) selects the databases every behaviour test runs on. */
export function requestedKinds(): DatabaseKind[] {
  const raw = process.env.CAIRN_TEST_DATABASES ?? "pglite,postgres";
  const kinds = raw
    .split(",")
    .map((kind) => kind.trim())
    .filter(Boolean);
  for (const kind of kinds) {
    if (kind !== "pglite" && kind !== "postgres") {
      throw new Error(`CAIRN_TEST_DATABASES: unknown database "${kind}" (use pglite, postgres or both)`);
    }
  }
  return kinds as DatabaseKind[];
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
export async function openTestDatabase(context: TestDatabaseContext, kind: DatabaseKind): Promise<Database> {
  if (kind === "pglite") {
    if (!context.pgliteSnapshotPath)
      throw new Error("no PGlite snapshot: pglite is not in CAIRN_TEST_DATABASES");
    const bytes = await readFile(context.pgliteSnapshotPath);
    const client = await PGlite.create({ loadDataDir: new Blob([bytes]) });
    return wrapPglite(client, "memory://test");
  }
  if (!context.postgres) throw new Error("no template database: postgres is not in CAIRN_TEST_DATABASES");
  const { adminUrl, template } = context.postgres;
  const name = `${context.runId}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await admin.end();
  }
  const db = await openDatabase({ url: databaseUrl(adminUrl, name), poolSize: 10 });
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
