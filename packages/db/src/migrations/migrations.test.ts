// The migrator against real databases, one throwaway migrations folder and one fresh database per test.
// Each of the four adapter fixes in adapter-fixes.ts has a test here that fails without it:
//   defect 1 (adapter-pg splits scripts on `;`)            -> "PostgreSQL: migration scripts"
//   defect 2 (adapter-pg cannot read `"char"` columns)       -> "PostgreSQL: drift"
//   defect 3 (adapter-pg's shadow db is the main database)   -> "PostgreSQL: drift check leaves the database alone"
//   defect 4 (pglite adapter does not await exec())          -> "PGlite: a failing migration"
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import { openDatabase } from "../open-database.ts";
import { prismaPaths } from "../paths.ts";
import { adminUrlFor, databaseUrl, requestedKinds } from "../testing/test-databases.ts";
import { type MigrationFactory, pgliteMigrationFactory, postgresMigrationFactory } from "./adapter-fixes.ts";
import {
  applyMigrations,
  createMigration,
  diffSchemaAgainstMigrations,
  type MigratorPaths,
  migrationStatus,
} from "./migrator.ts";

// The schema engine compiles its WebAssembly once per process, and each diff or drift check replays the
// migrations into a fresh in-memory PGlite: seconds per call on a small machine.
const ENGINE_TIMEOUT = 120_000;
/** The project's own migrations, in order (the tests copy prisma/migrations). */
const PROJECT_MIGRATIONS = readdirSync(prismaPaths.migrationsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const LOCKFILE = 'provider = "postgresql"\n';
const MINIMAL_SCHEMA = 'datasource db {\n  provider = "postgresql"\n}\n';

// ---------------------------------------------------------------------------------------------------------
// Throwaway migrations folders

const tempDirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-migrations-test-"));
  tempDirs.push(dir);
  return dir;
}

/** A folder with schema.prisma (minimal unless given) and migrations/<name>/migration.sql for each entry. */
async function migrationsFolder(
  migrations: Record<string, string>,
  schema = MINIMAL_SCHEMA,
): Promise<MigratorPaths> {
  const dir = await tempDir();
  const paths = { schemaPath: join(dir, "schema.prisma"), migrationsDir: join(dir, "migrations") };
  await writeFile(paths.schemaPath, schema);
  await mkdir(paths.migrationsDir);
  await writeFile(join(paths.migrationsDir, "migration_lock.toml"), LOCKFILE);
  for (const [name, sql] of Object.entries(migrations)) await addMigration(paths, name, sql);
  return paths;
}

async function addMigration(paths: MigratorPaths, name: string, sql: string): Promise<void> {
  await mkdir(join(paths.migrationsDir, name));
  await writeFile(join(paths.migrationsDir, name, "migration.sql"), sql);
}

/** A copy of the project's prisma/ folder (schema.prisma and migrations). */
async function copyOfProjectSchema(): Promise<MigratorPaths> {
  const dir = await tempDir();
  await cp(prismaPaths.schemaPath, join(dir, "schema.prisma"));
  await cp(prismaPaths.migrationsDir, join(dir, "migrations"), { recursive: true });
  return { schemaPath: join(dir, "schema.prisma"), migrationsDir: join(dir, "migrations") };
}

afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

// ---------------------------------------------------------------------------------------------------------
// Fresh PostgreSQL databases (named after the run, so the global teardown drops any this file leaks)

const adminUrl = adminUrlFor();
const createdDatabases: string[] = [];

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function freshPostgresDatabase(): Promise<string> {
  const name = `${inject("cairnTestDatabases").runId}_migrations_${randomBytes(4).toString("hex")}`;
  await withClient(adminUrl, (admin) => admin.query(`CREATE DATABASE "${name}"`));
  createdDatabases.push(name);
  return databaseUrl(adminUrl, name);
}

afterEach(async () => {
  const names = createdDatabases.splice(0);
  if (names.length === 0) return;
  await withClient(adminUrl, async (admin) => {
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
});

/** Every table outside PostgreSQL's own schemas. */
async function userTables(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ name: string }>(
      `SELECT schemaname || '.' || tablename AS name FROM pg_tables
       WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    return rows.map((row) => row.name);
  });
}

async function shadowDatabases(): Promise<string[]> {
  return withClient(adminUrl, async (admin) => {
    const { rows } = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%' ORDER BY 1",
    );
    return rows.map((row) => row.datname);
  });
}

interface MigrationRow {
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

const MIGRATION_ROWS =
  "SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY 1";

// ---------------------------------------------------------------------------------------------------------
// Migrations that exercise the script runners

/** A plpgsql body with several `;`-terminated statements, as a trigger or helper function would have. */
const FUNCTION_MIGRATION = `-- CreateTable
CREATE TABLE "counter" ("id" INTEGER NOT NULL PRIMARY KEY, "hits" INTEGER NOT NULL DEFAULT 0);

-- A function whose body holds several statements (and semicolons) between $$ quotes
CREATE FUNCTION bump_counter(counter_id INTEGER) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
  result INTEGER;
BEGIN
  INSERT INTO "counter" ("id") VALUES (counter_id) ON CONFLICT ("id") DO NOTHING;
  UPDATE "counter" SET "hits" = "hits" + 1 WHERE "id" = counter_id RETURNING "hits" INTO result;
  RETURN result;
END;
$$;
`;

const GOOD_MIGRATION = `CREATE TABLE "kept" ("id" INTEGER NOT NULL PRIMARY KEY);\n`;

/** Its first statement succeeds, its second fails: the migration must leave nothing behind. */
const HALF_FAILING_MIGRATION = `CREATE TABLE "half_done" ("id" INTEGER NOT NULL PRIMARY KEY);
INSERT INTO "half_done" ("id") VALUES ('not a number');
`;

// ---------------------------------------------------------------------------------------------------------

const withPostgres = requestedKinds().includes("postgres");

describe.skipIf(!withPostgres)(
  "PostgreSQL: migration scripts (defect 1: whole scripts, not split on ;)",
  () => {
    test(
      "a migration with a multi-statement $$ function body applies and the function works",
      async () => {
        const url = await freshPostgresDatabase();
        const paths = await migrationsFolder({ "20260101000000_counter": FUNCTION_MIGRATION });

        expect(await applyMigrations(postgresMigrationFactory(url), paths)).toEqual([
          "20260101000000_counter",
        ]);

        await withClient(url, async (client) => {
          const hits = async () =>
            (await client.query<{ hits: number }>("SELECT bump_counter(7) AS hits")).rows[0]?.hits;
          expect(await hits()).toBe(1);
          expect(await hits()).toBe(2);
          const { rows } = await client.query<MigrationRow>(MIGRATION_ROWS);
          expect(rows).toHaveLength(1);
          expect(rows[0]?.finished_at).toBeInstanceOf(Date);
        });
      },
      ENGINE_TIMEOUT,
    );

    test(
      "a migration whose second statement fails leaves nothing of its first behind",
      async () => {
        const url = await freshPostgresDatabase();
        const paths = await migrationsFolder({
          "20260101000000_good": GOOD_MIGRATION,
          "20260102000000_half_failing": HALF_FAILING_MIGRATION,
        });

        await expect(applyMigrations(postgresMigrationFactory(url), paths)).rejects.toThrow(
          /20260102000000_half_failing/,
        );

        expect(await userTables(url)).toEqual(["public._prisma_migrations", "public.kept"]);
        await withClient(url, async (client) => {
          const { rows } = await client.query<MigrationRow>(MIGRATION_ROWS);
          expect(rows.map((row) => [row.migration_name, row.finished_at !== null])).toEqual([
            ["20260101000000_good", true],
            ["20260102000000_half_failing", false],
          ]);
        });
      },
      ENGINE_TIMEOUT,
    );
  },
);

describe("PGlite: a failing migration (defect 4: the pglite adapter's scripts are awaited)", () => {
  let client: PGlite;
  beforeAll(async () => {
    client = new PGlite();
    await client.waitReady;
  });
  afterAll(async () => {
    await client?.close();
  });

  test(
    "is not recorded as applied, rolls back whole and blocks later deploys",
    async () => {
      const paths = await migrationsFolder({
        "20260101000000_good": GOOD_MIGRATION,
        "20260102000000_half_failing": HALF_FAILING_MIGRATION,
      });
      const factory = pgliteMigrationFactory(client);

      await expect(applyMigrations(factory, paths)).rejects.toThrow(/20260102000000_half_failing/);

      const { rows } = await client.query<MigrationRow>(MIGRATION_ROWS);
      expect(rows.map((row) => [row.migration_name, row.finished_at !== null])).toEqual([
        ["20260101000000_good", true],
        ["20260102000000_half_failing", false],
      ]);
      const tables = await client.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
      );
      expect(tables.rows.map((row) => row.tablename)).toEqual(["_prisma_migrations", "kept"]);

      const status = await migrationStatus(factory, paths);
      expect(status.failedMigrationNames).toEqual(["20260102000000_half_failing"]);

      // Like `prisma migrate deploy`: nothing more is applied until the failed migration is resolved (P3009).
      await expect(applyMigrations(factory, paths)).rejects.toThrow(/20260102000000_half_failing/);
    },
    ENGINE_TIMEOUT,
  );
});

describe.skipIf(!withPostgres)(
  "PostgreSQL: drift check leaves the database alone (defect 3: the shadow database is scratch PGlite)",
  () => {
    test(
      "status of an empty database reports the migrations pending and creates nothing",
      async () => {
        const url = await freshPostgresDatabase();
        const paths = await copyOfProjectSchema();
        const shadowsBefore = await shadowDatabases();

        const status = await migrationStatus(postgresMigrationFactory(url), paths);

        expect(status).toMatchObject({ hasMigrationsTable: false, pending: PROJECT_MIGRATIONS, drift: null });
        expect(await userTables(url)).toEqual([]);
        expect(await shadowDatabases()).toEqual(shadowsBefore);
      },
      ENGINE_TIMEOUT,
    );

    // An empty database's status stops at "pending" before any drift check; emptying a migrated database
    // (history complete, every table gone) makes migrationStatus run the check, which replays the migrations
    // into a shadow database. That replay must not land in this database or in a new server database.
    test(
      "the drift check of a database whose tables are gone creates no table in it and no shadow database",
      async () => {
        const url = await freshPostgresDatabase();
        const paths = await copyOfProjectSchema();
        expect(await applyMigrations(postgresMigrationFactory(url), paths)).toEqual(PROJECT_MIGRATIONS);
        const appTables = (await userTables(url)).filter((table) => table !== "public._prisma_migrations");
        expect(appTables).toContain("public.asset");
        await withClient(url, (client) => client.query(`DROP TABLE ${appTables.join(", ")} CASCADE`));
        const shadowsBefore = await shadowDatabases();

        const factory = postgresMigrationFactory(url);
        let shadowConnections = 0;
        let shadowsWhileConnected: string[] = [];
        const observed: MigrationFactory = {
          ...factory,
          connectToShadowDb: async () => {
            const shadow = await factory.connectToShadowDb();
            shadowConnections++;
            shadowsWhileConnected = await shadowDatabases();
            return shadow;
          },
        };
        // Side effects first: a replay into this database may also make the check itself fail.
        const outcome = await migrationStatus(observed, paths).then(
          (status) => ({ status }),
          (error: unknown) => ({ error }),
        );

        expect(shadowConnections).toBeGreaterThan(0); // the drift check did run
        expect(await userTables(url)).toEqual(["public._prisma_migrations"]);
        expect(shadowsWhileConnected).toEqual(shadowsBefore);
        expect(await shadowDatabases()).toEqual(shadowsBefore);
        if ("error" in outcome) throw outcome.error;
        expect(outcome.status.history).toBeNull();
        expect(outcome.status.drift).toMatch(/asset/);
      },
      ENGINE_TIMEOUT,
    );
  },
);

describe.skipIf(!withPostgres)('PostgreSQL: drift (defect 2: introspection reads "char" columns)', () => {
  test(
    "is null right after migrating and names a column added behind the migrations' back",
    async () => {
      const url = await freshPostgresDatabase();
      const paths = await copyOfProjectSchema();
      const factory = postgresMigrationFactory(url);
      expect(await applyMigrations(factory, paths)).toEqual(PROJECT_MIGRATIONS);

      const clean = await migrationStatus(factory, paths);
      expect(clean).toMatchObject({ history: null, pending: [], failedMigrationNames: [], drift: null });

      await withClient(url, (client) => client.query('ALTER TABLE "asset" ADD COLUMN "junk" INTEGER'));
      const drifted = await migrationStatus(factory, paths);
      expect(drifted.drift).toMatch(/asset/);
      expect(drifted.drift).toMatch(/junk/);
    },
    ENGINE_TIMEOUT,
  );
});

describe("idempotence: applying twice applies once", () => {
  test.skipIf(!withPostgres)(
    "PostgreSQL",
    async () => {
      const url = await freshPostgresDatabase();
      const paths = await copyOfProjectSchema();
      const factory = postgresMigrationFactory(url);
      expect(await applyMigrations(factory, paths)).toEqual(PROJECT_MIGRATIONS);
      expect(await applyMigrations(factory, paths)).toEqual([]);
      await withClient(url, async (client) => {
        expect((await client.query(MIGRATION_ROWS)).rowCount).toBe(PROJECT_MIGRATIONS.length);
      });
    },
    ENGINE_TIMEOUT,
  );

  test(
    "PGlite directory, reopened in between",
    async () => {
      const dataDir = await tempDir();
      const paths = await copyOfProjectSchema();

      const first = await openDatabase({ url: "", dataDir });
      try {
        expect(first.kind).toBe("pglite");
        expect(await applyMigrations(first.migrationFactory, paths)).toEqual(PROJECT_MIGRATIONS);
      } finally {
        await first.close();
      }

      const second = await openDatabase({ url: "", dataDir });
      try {
        expect(await applyMigrations(second.migrationFactory, paths)).toEqual([]);
        expect(await second.sql.query(MIGRATION_ROWS)).toHaveLength(PROJECT_MIGRATIONS.length);
      } finally {
        await second.close();
      }
    },
    ENGINE_TIMEOUT,
  );
});

describe("diffSchemaAgainstMigrations and createMigration", () => {
  test(
    "the diff is empty when they agree, shows a new field, and is empty again after createMigration",
    async () => {
      const paths = await copyOfProjectSchema();
      expect(await diffSchemaAgainstMigrations(paths)).toBe("");

      const schema = await readFile(paths.schemaPath, "utf8");
      const withField = schema.replace(
        /(model Asset \{\n)/,
        '$1  description String @default("") @map("asset_description")\n',
      );
      expect(withField).not.toBe(schema);
      await writeFile(paths.schemaPath, withField);

      const diff = await diffSchemaAgainstMigrations(paths);
      expect(diff).toMatch(/ALTER TABLE "asset" ADD COLUMN\s+"asset_description" TEXT NOT NULL DEFAULT ''/);

      const folder = await createMigration("add_field", paths);
      expect(folder).toMatch(/^\d{14}_add_field$/);
      expect((await readdir(paths.migrationsDir)).sort()).toEqual(
        [...PROJECT_MIGRATIONS, folder, "migration_lock.toml"].sort(),
      );
      expect(await readFile(join(paths.migrationsDir, `${folder}`, "migration.sql"), "utf8")).toBe(diff);

      expect(await diffSchemaAgainstMigrations(paths)).toBe("");
    },
    ENGINE_TIMEOUT,
  );
});
