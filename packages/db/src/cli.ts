#!/usr/bin/env -S npx tsx
import {
  applyMigrations,
  createMigration,
  diffSchemaAgainstMigrations,
  migrationStatus,
} from "./migrations/migrator.ts";
// pnpm db:migrate | db:status | db:check | db:new <name>: migrations without Prisma's native engine.
// Targets DATABASE_URL (postgresql://…) or, when unset, the embedded PGlite in CAIRN_DATA_DIR (./.cairn).
import { openDatabase } from "./open-database.ts";

const usage = `usage: cairn-db <command>
  migrate      apply pending migrations (idempotent)
  status       list applied / pending / failed migrations and schema drift
  check        exit 1 when prisma/schema.prisma has changes the migrations lack (no server needed)
  new <name>   write the next migration from that difference`;

async function main(args: string[]): Promise<number> {
  const [command, name] = args;
  switch (command) {
    case "migrate": {
      // Behind a transaction pooler, migrations need PostgreSQL itself (session-level locks).
      const db = await openDatabase({ url: process.env.CAIRN_MIGRATE_DATABASE_URL || undefined });
      try {
        const applied = await applyMigrations(db.migrationFactory);
        console.log(
          applied.length > 0
            ? `Applied ${applied.length} migration(s) to ${db.location}:\n${applied.map((m) => `  ${m}`).join("\n")}`
            : `No pending migrations: ${db.location} is up to date.`,
        );
        return 0;
      } finally {
        await db.close();
      }
    }
    case "status": {
      const db = await openDatabase();
      try {
        const status = await migrationStatus(db.migrationFactory);
        console.log(`Database: ${db.location} (${db.kind})`);
        const problems: string[] = [];
        if (!status.hasMigrationsTable) problems.push("no migrations applied yet: run pnpm db:migrate");
        if (status.pending.length > 0)
          problems.push(`pending: ${status.pending.join(", ")} (run pnpm db:migrate)`);
        if (status.failedMigrationNames.length > 0)
          problems.push(`failed: ${status.failedMigrationNames.join(", ")}`);
        if (status.editedMigrationNames.length > 0) {
          problems.push(`edited after being applied: ${status.editedMigrationNames.join(", ")}`);
        }
        if (status.history && status.history.diagnostic !== "databaseIsBehind") {
          problems.push(`history: ${status.history.diagnostic}`);
        }
        if (status.drift)
          problems.push(`schema drift (the database differs from the migrations):\n${status.drift}`);
        console.log(
          problems.length === 0 ? "Up to date: every migration is applied, no drift." : problems.join("\n"),
        );
        return problems.length === 0 ? 0 : 1;
      } finally {
        await db.close();
      }
    }
    case "check": {
      const script = await diffSchemaAgainstMigrations();
      if (script === "") {
        console.log("prisma/schema.prisma and prisma/migrations agree.");
        return 0;
      }
      console.error(
        `prisma/schema.prisma has changes the migrations lack. Run: pnpm db:new <name>\n\n${script}`,
      );
      return 1;
    }
    case "new": {
      if (!name) {
        console.error(usage);
        return 2;
      }
      const folder = await createMigration(name);
      console.log(
        folder ? `Wrote prisma/migrations/${folder}/migration.sql` : "No changes: nothing to write.",
      );
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
