// Vitest global setup: migrate each test database once per run, then let every test file start from a copy
// (a PGlite snapshot, a PostgreSQL template database). Fresh databases per run; dropped at the end.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { pgliteMigrationFactory, postgresMigrationFactory } from "../migrations/adapter-fixes.ts";
import { applyMigrations } from "../migrations/migrator.ts";
// Brings the ProvidedContext declaration (in testing.ts) into this file's type program.
import type {} from "../testing.ts";
import { startPgBouncer } from "./pgbouncer.ts";
import { adminUrlFor, databaseUrl, requestedKinds, type TestDatabaseContext } from "./test-databases.ts";

export default async function setup(project: TestProject) {
  const kinds = requestedKinds();
  const runId = `cairn_test_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const scratchDir = await mkdtemp(join(tmpdir(), "cairn-test-"));
  const context: TestDatabaseContext = { kinds, runId };

  if (kinds.includes("pglite")) {
    const client = await PGlite.create();
    await applyMigrations(pgliteMigrationFactory(client));
    const snapshot = await client.dumpDataDir("none");
    context.pgliteSnapshotPath = join(scratchDir, "pglite-snapshot.tar");
    await writeFile(context.pgliteSnapshotPath, Buffer.from(await snapshot.arrayBuffer()));
    await client.close();
  }

  const adminUrl = adminUrlFor();
  const postgres = kinds.includes("postgres") || kinds.includes("pgbouncer");
  if (postgres) {
    const template = `${runId}_template`;
    await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE "${template}"`), true);
    await applyMigrations(postgresMigrationFactory(databaseUrl(adminUrl, template)));
    context.postgres = { adminUrl, template };
  }

  const bouncer = kinds.includes("pgbouncer")
    ? process.env.CAIRN_TEST_PGBOUNCER_URL
      ? { url: process.env.CAIRN_TEST_PGBOUNCER_URL, stop: async () => {} }
      : await startPgBouncer(adminUrl, scratchDir)
    : undefined;
  if (bouncer) context.pgbouncer = { url: bouncer.url };

  project.provide("cairnTestDatabases", context);

  return async () => {
    await bouncer?.stop();
    await rm(scratchDir, { recursive: true, force: true });
    if (!postgres) return;
    await withAdmin(adminUrl, async (admin) => {
      const { rows } = await admin.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE $1",
        [`${runId}%`],
      );
      for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    });
  };
}

async function withAdmin<T>(
  adminUrl: string,
  run: (admin: pg.Client) => Promise<T>,
  explain = false,
): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    if (!explain) throw error;
    throw new Error(
      `The tests need PostgreSQL at ${adminUrl} (set CAIRN_TEST_PG_URL, or CAIRN_TEST_DATABASES=pglite to skip it): ${(error as Error).message}`,
    );
  }
  try {
    return await run(admin);
  } finally {
    await admin.end();
  }
}
