// Driver adapter factories for the schema engine, with four adapter defects worked around
// (see shared/notes/prisma-offline.md). Each fix has a test in migrations.test.ts that fails without it.
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type {
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
  SqlQuery,
  SqlResultSet,
  Transaction,
} from "@prisma/driver-adapter-utils";
import { ColumnTypeEnum } from "@prisma/driver-adapter-utils";
import { PrismaPGlite } from "pglite-prisma-adapter";

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

interface PgField {
  dataTypeID: number;
}
interface PgQueryableInternals {
  performIO(query: SqlQuery): Promise<{ fields: PgField[]; rows: unknown[][] }>;
  onError(error: unknown): never;
  underlyingDriver(): { query(sql: string): Promise<unknown> };
}

/**
 * Defect 2: adapter-pg cannot map PostgreSQL's internal `"char"` type (OID 18), which the engine's own
 * introspection queries return, so every diff or drift check fails. Read such columns as text and report
 * them as Character, which is what the engine expects (pglite's adapter already does this).
 */
function readCharColumns<T extends SqlDriverAdapter | Transaction>(queryable: T): T {
  const internals = queryable as unknown as PgQueryableInternals;
  const charColumnsOf = new WeakMap<unknown[][], number[]>();
  const performIO = internals.performIO.bind(queryable);
  internals.performIO = async (query) => {
    const result = await performIO(query);
    const charColumns: number[] = [];
    result.fields.forEach((field, index) => {
      if (field.dataTypeID === PG_CHAR_OID) {
        field.dataTypeID = PG_TEXT_OID;
        charColumns.push(index);
      }
    });
    if (charColumns.length > 0) charColumnsOf.set(result.rows, charColumns);
    return result;
  };
  const queryRaw = queryable.queryRaw.bind(queryable);
  queryable.queryRaw = async (query): Promise<SqlResultSet> => {
    const result = await queryRaw(query);
    for (const index of charColumnsOf.get(result.rows as unknown[][]) ?? []) {
      result.columnTypes[index] = ColumnTypeEnum.Character;
    }
    return result;
  };
  return queryable;
}

/**
 * Defect 1: adapter-pg's executeScript splits a migration on every `;`, which breaks `$$ … $$` bodies and
 * runs the statements one by one. Send the script as one simple query instead: PostgreSQL runs a
 * multi-statement simple query as one implicit transaction, as the native engine does.
 */
function runScriptsWhole(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const internals = adapter as unknown as PgQueryableInternals;
  adapter.executeScript = async (script) => {
    try {
      await internals.underlyingDriver().query(script);
    } catch (error) {
      internals.onError(error);
    }
  };
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolationLevel) =>
    readCharColumns(await startTransaction(isolationLevel));
  return readCharColumns(adapter);
}

/**
 * Defect 4: pglite-prisma-adapter's executeScript does not await `PGlite.exec()`, so a failing migration
 * is recorded as applied. Await it.
 */
function awaitScripts(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const internals = adapter as unknown as PgQueryableInternals & { client: PGlite };
  adapter.executeScript = async (script) => {
    try {
      await internals.client.exec(script);
    } catch (error) {
      internals.onError(error);
    }
  };
  return adapter;
}

/** A fresh in-memory PGlite: the scratch database the engine replays migrations into for a diff. */
async function connectScratchPglite(): Promise<SqlDriverAdapter> {
  const scratch = new PGlite();
  const adapter = awaitScripts(await new PrismaPGlite(scratch).connect());
  const dispose = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    await dispose();
    await scratch.close();
  };
  return adapter;
}

/** A factory whose connections can all be closed once the engine is done with them. */
export interface MigrationFactory extends SqlMigrationAwareDriverAdapterFactory {
  disposeAll(): Promise<void>;
}

/** The engine does not dispose what it connects; remember each adapter so disposeAll() can. */
function tracked(factory: SqlMigrationAwareDriverAdapterFactory): MigrationFactory {
  const open = new Set<SqlDriverAdapter>();
  const track = async (adapter: Promise<SqlDriverAdapter>) => {
    const connected = await adapter;
    // The engine disposes some adapters itself (the shadow one): make a second dispose a no-op.
    const dispose = connected.dispose.bind(connected);
    let disposing: Promise<void> | undefined;
    connected.dispose = () => {
      open.delete(connected);
      disposing ??= dispose();
      return disposing;
    };
    open.add(connected);
    return connected;
  };
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: () => track(factory.connect()),
    connectToShadowDb: () => track(factory.connectToShadowDb()),
    disposeAll: async () => {
      const adapters = [...open];
      open.clear();
      await Promise.all(adapters.map((adapter) => adapter.dispose()));
    },
  };
}

export function postgresMigrationFactory(connectionString: string): MigrationFactory {
  const base = new PrismaPg({ connectionString, max: 2, connectionTimeoutMillis: 10_000 });
  return tracked({
    provider: base.provider,
    adapterName: base.adapterName,
    connect: async () => runScriptsWhole(await base.connect()),
    // Defect 3: adapter-pg's connectToShadowDb connects its "shadow" pool to the MAIN database when given
    // a connection string, so a diff would replay every migration into real data. Never use it: diffs
    // replay migrations into an in-memory PGlite instead (no server, no CREATEDB right needed).
    connectToShadowDb: connectScratchPglite,
  });
}

export function pgliteMigrationFactory(client: PGlite): MigrationFactory {
  const base = new PrismaPGlite(client);
  // Disposing this adapter leaves the caller's PGlite open (it belongs to the caller).
  return tracked({
    provider: base.provider,
    adapterName: base.adapterName,
    connect: async () => awaitScripts(await base.connect()),
    connectToShadowDb: connectScratchPglite,
  });
}

/** For checks that need no database of the caller's: both sides are scratch PGlite instances. */
export function scratchMigrationFactory(): MigrationFactory {
  return tracked({
    provider: "postgres",
    adapterName: "@prisma/adapter-pglite",
    connect: connectScratchPglite,
    connectToShadowDb: connectScratchPglite,
  });
}
