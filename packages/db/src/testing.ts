// Test helpers: run a suite once per database of the run (PGlite, PostgreSQL, and PostgreSQL through
// PgBouncer when it is installed).
import { afterAll, beforeAll, describe, inject } from "vitest";
import type { Database } from "./open-database.ts";
import {
  openTestDatabase,
  type TestDatabaseContext,
  type TestDatabaseKind,
} from "./testing/test-databases.ts";

declare module "vitest" {
  interface ProvidedContext {
    cairnTestDatabases: TestDatabaseContext;
  }
}

export { freePort } from "./testing/free-port.ts";
export { openTestDatabase } from "./testing/test-databases.ts";

export function testDatabaseContext() {
  return inject("cairnTestDatabases");
}

/**
 * describe() once per database kind; `getDb()` returns that kind's fresh database, opened before the
 * suite's tests and closed after them. Tests use unique data instead of truncating shared tables.
 */
export function describeEachDatabase(
  name: string,
  suite: (getDb: () => Database, kind: TestDatabaseKind) => void,
) {
  const context = testDatabaseContext();
  for (const kind of context.kinds) {
    describe(`${name} [${kind}]`, () => {
      let db: Database | undefined;
      beforeAll(async () => {
        db = await openTestDatabase(context, kind);
      }, 60_000);
      afterAll(async () => {
        await db?.close();
      });
      suite(() => {
        if (!db) throw new Error("database not open yet: call getDb() inside a test or hook");
        return db;
      }, kind);
    });
  }
}
