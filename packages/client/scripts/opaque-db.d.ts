// What the client's published declarations see of @cairn/db. The router's type names its context, and the
// context holds the database handle; a worker never touches it, and the real type would pull Prisma, pg
// and PGlite into every worker's type check. scripts/declarations.ts resolves @cairn/db to this file.
export interface Database {
  readonly __cairnServerOnly: unique symbol;
}
export interface SqlRunner {
  readonly __cairnServerOnly: unique symbol;
}
