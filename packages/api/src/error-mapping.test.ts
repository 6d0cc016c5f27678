// Database errors to answers (error-mapping.ts), with the errors PGlite and PostgreSQL really raise: a
// unique key a caller can trip is mapped by the constraint that failed, through Prisma and raw SQL alike;
// any other database error stays a 500; a database that went away is 503 database_unavailable.
import { randomUUID } from "node:crypto";
import net from "node:net";
import { type Database, openDatabase, UNIQUE_KEYS, uniqueViolation } from "@cairn/db";
import { describeEachDatabase, testDatabaseContext } from "@cairn/db/testing";
import { describe, expect, it } from "vitest";
import { createContextInner } from "./context.ts";
import { fromDatabaseError } from "./error-mapping.ts";
import { createCaller } from "./root.ts";
import { upsertAsset } from "./services/assets.ts";
import { failure, fixtures, testConfig, unique } from "./testing/fixtures.ts";

async function thrown(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected the work to fail, but it succeeded");
}

function adminCaller(db: Database) {
  return createCaller(
    createContextInner({ db, config: testConfig(), principal: { scope: "admin", sub: "test" } }),
  ).admin;
}

describeEachDatabase("database errors", (getDb, kind) => {
  const f = fixtures(getDb);
  const admin = () => f.admin().admin;

  /** The unique-key violations of inserting that task instance's first try again: via Prisma, via SQL. */
  async function firstTryAgain(taskInstanceId: string): Promise<unknown[]> {
    const [row] = await getDb().sql.query<{ dag_run_id: string; task_id: string; map_index: number }>(
      "SELECT dag_run_id::text, task_id, map_index FROM task_instance WHERE id = $1::uuid",
      [taskInstanceId],
    );
    const { dag_run_id, task_id, map_index } = row!;
    return [
      await thrown(() =>
        getDb().prisma.taskInstance.create({
          data: { id: randomUUID(), dagRunId: BigInt(dag_run_id), taskId: task_id, mapIndex: map_index },
        }),
      ),
      await thrown(() =>
        getDb().sql.query(
          "INSERT INTO task_instance (id, dag_run_id, task_id, map_index) VALUES ($1::uuid, $2, $3, $4)",
          [randomUUID(), dag_run_id, task_id, map_index],
        ),
      ),
    ];
  }

  /** asset_name_key violations (a key no procedure can trip): via Prisma, via SQL. */
  async function assetNameTaken(): Promise<unknown[]> {
    const { name, uri } = await f.newAsset();
    return [
      await thrown(() => getDb().prisma.asset.create({ data: { name, uri: `${uri}/other` } })),
      await thrown(() =>
        getDb().sql.query("INSERT INTO asset (name, uri) VALUES ($1, $2)", [name, `${uri}/other`]),
      ),
    ];
  }

  it("the unique keys the code names exist under those names", async () => {
    const rows = await getDb().sql.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE indexname = ANY($1::text[]) ORDER BY indexname",
      [Object.values(UNIQUE_KEYS)],
    );
    expect(rows.map((row) => row.indexname)).toEqual(Object.values(UNIQUE_KEYS).sort());
  });

  describe("a task instance's first try, twice", () => {
    it("admin.taskInstances.create: CONFLICT task_instance_exists, and the second call registers nothing", async () => {
      const first = await f.newAsset();
      const second = await f.newAsset();
      const input = { dagId: unique("dag"), runId: unique("run"), taskId: "t" };
      await admin().taskInstances.create({ ...input, outlets: [{ name: first.name }] });
      expect(
        await failure(admin().taskInstances.create({ ...input, outlets: [{ name: second.name }] })),
      ).toMatchObject({ code: "CONFLICT", reason: "task_instance_exists", message: /taskInstances\.retry/ });
      const registered = await getDb().sql.query<{ name: string }>(
        "SELECT a.name FROM task_asset ta JOIN asset a ON a.id = ta.asset_id WHERE ta.dag_id = $1",
        [input.dagId],
      );
      expect(registered).toEqual([{ name: first.name }]);
    });

    it("its unique key, from Prisma and from raw SQL alike, is task_instance_exists", async () => {
      const { id } = await f.newTask();
      const errors = await firstTryAgain(id);
      for (const error of errors) {
        expect(uniqueViolation(error)).toEqual({ constraint: UNIQUE_KEYS.taskInstanceTry });
        expect(fromDatabaseError(error)).toMatchObject({ kind: "conflict", reason: "task_instance_exists" });
      }
    });

    it("admin.taskInstances.retry losing every race is a 500, not task_instance_exists", async () => {
      const { id } = await f.newTask();
      const [, lostRace] = await firstTryAgain(id);
      const racing = {
        sql: {
          query: async () => {
            throw lostRace;
          },
        },
      } as unknown as Database;
      expect(await failure(adminCaller(racing).taskInstances.retry({ taskInstanceId: id }))).toMatchObject({
        code: "INTERNAL_SERVER_ERROR",
      });
    });
  });

  it("a unique key no caller can trip is not mapped: a 500 with its message hidden", async () => {
    for (const error of await assetNameTaken()) {
      expect(uniqueViolation(error)).toEqual({ constraint: "asset_name_key" });
      expect(fromDatabaseError(error)).toBeUndefined();
    }
  });

  // @prisma/adapter-pg passes the name itself; PostgreSQL's message is in the server's language.
  it.runIf(kind !== "pglite")(
    "Prisma's unique violation is named from a server answering in German too",
    async () => {
      const [viaPrisma] = await assetNameTaken();
      const cause = (viaPrisma as { meta: { driverAdapterError: { cause: { originalMessage: string } } } })
        .meta.driverAdapterError.cause;
      cause.originalMessage = "doppelter Schlüsselwert verletzt Unique-Constraint »asset_name_key«";
      expect(uniqueViolation(viaPrisma)).toEqual({ constraint: "asset_name_key" });
    },
  );

  it("admin.assets.upsert answers asset_uri_taken for the uri's key only; any other error goes on as it is", async () => {
    const [nameTaken] = await assetNameTaken();
    const ownerIsAnother = {
      prisma: {
        asset: {
          upsert: async () => {
            throw nameTaken;
          },
          findUnique: async () => ({ name: "another" }),
        },
      },
    } as unknown as Database;
    const input = { name: unique("asset"), uri: `s3://bucket/${unique("uri")}` };
    expect(await thrown(() => upsertAsset(ownerIsAnother, input))).toBe(nameTaken);
    // The uri of another asset, for real.
    const other = await f.newAsset();
    expect(await failure(admin().assets.upsert({ ...input, uri: other.uri }))).toMatchObject({
      code: "CONFLICT",
      reason: "asset_uri_taken",
    });
  });

  it("P2025 (Prisma's update or delete of a missing row) is not mapped: no procedure makes one", async () => {
    const missing = await thrown(() =>
      getDb().prisma.asset.update({ where: { name: unique("asset") }, data: { active: false } }),
    );
    expect(missing).toMatchObject({ code: "P2025" });
    expect(fromDatabaseError(missing)).toBeUndefined();
    // The admin writes of a row that may be missing find that out themselves, and say which row.
    expect(await failure(admin().assets.setActive({ name: unique("asset"), active: false }))).toMatchObject({
      code: "NOT_FOUND",
      reason: "asset_not_found",
    });
    expect(await failure(admin().taskInstances.retry({ taskInstanceId: randomUUID() }))).toMatchObject({
      code: "NOT_FOUND",
      reason: "task_instance_not_found",
    });
    expect(await admin().assets.delete({ name: unique("asset") })).toEqual({ deleted: false });
  });
});

/** A TCP proxy to PostgreSQL that can be cut: connections through it fail as if the server went away. */
async function cuttableProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    cut: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

describe("a database that went away", () => {
  const postgres = testDatabaseContext().postgres;

  it.skipIf(!postgres)("is 503 database_unavailable, through Prisma and raw SQL alike", async () => {
    const proxy = await cuttableProxy(new URL(postgres!.adminUrl));
    const db = await openDatabase({ url: proxy.url, connectionTimeoutMs: 2_000 });
    try {
      await proxy.cut();
      // Until the pool has dropped the connection it opened, a call could find it broken instead.
      await expect
        .poll(() => thrown(() => db.ping()).then((error) => (error as { code?: string }).code))
        .toBe("ECONNREFUSED");
      const unavailable = { code: "SERVICE_UNAVAILABLE", reason: "database_unavailable" };
      // upsert is Prisma's (P1001); delete is raw SQL (ECONNREFUSED).
      expect(await failure(adminCaller(db).assets.upsert({ name: "a", uri: "s3://a" }))).toMatchObject(
        unavailable,
      );
      expect(await failure(adminCaller(db).assets.delete({ name: "a" }))).toMatchObject(unavailable);
    } finally {
      await db.close();
    }
  });
});
