export { DatabaseUnreachableError, endpointOf, errorCodes } from "./connection-errors.ts";
export { DataDirLockedError } from "./data-dir-lock.ts";
export { Prisma, type PrismaClient } from "./generated/prisma/client.ts";
export { applyMigrations, MigrationError, migrationStatus } from "./migrations/migrator.ts";
export {
  type Database,
  DatabaseConfigError,
  type DatabaseKind,
  type OpenDatabaseOptions,
  openDatabase,
  type SqlRunner,
  type Unlisten,
} from "./open-database.ts";
export { UNIQUE_KEYS, uniqueViolation } from "./unique-violation.ts";
