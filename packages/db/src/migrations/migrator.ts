// migrate / status / check / new, driven through Prisma's WebAssembly schema engine.
import { readFile } from "node:fs/promises";
import type { DiagnoseMigrationHistoryOutput, SchemaEngine } from "@prisma/schema-engine-wasm";
import { prismaPaths } from "../paths.ts";
import { type MigrationFactory, scratchMigrationFactory } from "./adapter-fixes.ts";
import { listMigrations, writeMigration } from "./migrations-folder.ts";
import { openSchemaEngine, takeEnginePanic } from "./schema-engine.ts";

const filters = { externalTables: [], externalEnums: [] };
/** The engine's diff exit code when the target has changes the source lacks. */
const DIFF_HAS_CHANGES = 2;

export interface MigratorPaths {
  schemaPath: string;
  migrationsDir: string;
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

async function withEngine<T>(
  factory: MigrationFactory,
  paths: MigratorPaths,
  run: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const schemaText = await readFile(paths.schemaPath, "utf8");
  const engine = await openSchemaEngine({ schemaPath: paths.schemaPath, schemaText, factory });
  try {
    return await run(engine);
  } catch (error) {
    throw new MigrationError(describeEngineError(error), { cause: error });
  } finally {
    engine.free();
    await factory.disposeAll();
  }
}

function describeEngineError(error: unknown): string {
  const panic = takeEnginePanic();
  if (panic) return `schema engine panicked: ${panic}`;
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return String(error);
}

const defaultPaths: MigratorPaths = prismaPaths;

/** Applies pending migrations (= `prisma migrate deploy`); returns the names applied now. Idempotent. */
export async function applyMigrations(factory: MigrationFactory, paths = defaultPaths): Promise<string[]> {
  const migrationsList = await listMigrations(paths.migrationsDir);
  return withEngine(factory, paths, async (engine) => {
    const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters });
    return appliedMigrationNames;
  });
}

export interface MigrationStatus extends DiagnoseMigrationHistoryOutput {
  pending: string[];
  /** The database's schema differs from what the migrations produce (null when not checked). */
  drift: string | null;
}

/** = `prisma migrate status`, plus a drift check of the live schema against the migrations. */
export async function migrationStatus(
  factory: MigrationFactory,
  paths = defaultPaths,
): Promise<MigrationStatus> {
  const migrationsList = await listMigrations(paths.migrationsDir);
  return withEngine(factory, paths, async (engine) => {
    const history = await engine.diagnoseMigrationHistory({
      migrationsList,
      optInToShadowDatabase: false,
      filters,
    });
    const pending =
      history.history?.diagnostic === "databaseIsBehind" ? history.history.unappliedMigrationNames : [];
    let drift: string | null = null;
    if (history.history === null && history.failedMigrationNames.length === 0) {
      // What `migrate dev` does: replay the migrations into a scratch database and compare it with this one.
      const { action } = await engine.devDiagnostic({ migrationsList, filters });
      if (action.tag === "reset") drift = action.reason;
    }
    return { ...history, pending, drift };
  });
}

/** The SQL that would bring the migrations up to schema.prisma; empty when they agree. Needs no server. */
export async function diffSchemaAgainstMigrations(paths = defaultPaths): Promise<string> {
  const migrationsList = await listMigrations(paths.migrationsDir);
  const schemaText = await readFile(paths.schemaPath, "utf8");
  return withEngine(scratchMigrationFactory(), paths, async (engine) => {
    const diff = await engine.diff({
      from: { tag: "migrations", ...migrationsList },
      to: { tag: "schemaDatamodel", files: [{ path: paths.schemaPath, content: schemaText }] },
      script: true,
      exitCode: true,
      filters,
    });
    return diff.exitCode === DIFF_HAS_CHANGES ? (diff.stdout ?? "") : "";
  });
}

/** Writes the next migration from the diff; returns its folder name, or null when there is nothing to do. */
export async function createMigration(name: string, paths = defaultPaths): Promise<string | null> {
  if (!/^[a-z0-9_]+$/.test(name)) {
    throw new MigrationError(`migration name must be lower_snake_case (a-z, 0-9, _): got "${name}"`);
  }
  const script = await diffSchemaAgainstMigrations(paths);
  if (script.trim() === "") return null;
  return writeMigration(name, script, paths.migrationsDir);
}
