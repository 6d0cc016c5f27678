// The built server behind PgBouncer in transaction pooling mode, configured as the README's Deploy section
// says: DATABASE_URL through the pooler, CAIRN_DB_TRANSACTION_POOLING=true, migrations on a direct URL.
// (Every behaviour test also runs through PgBouncer: the `pgbouncer` database kind.)
import { signToken, tokenKeys } from "@cairn/api";
import { testDatabaseContext } from "@cairn/db/testing";
import { emptyPostgresDatabase, spawnServer, stopAllServers, TEST_JWT_SECRET } from "@cairn/server/testing";
import { afterAll, describe, expect, it } from "vitest";
import { newTaskInstance, patientClient } from "./workers.ts";

const bouncer = testDatabaseContext().pgbouncer;

describe.skipIf(!bouncer)("behind PgBouncer (transaction pooling)", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await stopAllServers();
    for (const cleanup of cleanups) await cleanup();
  });

  it("40 concurrent sets and a batch of 50 all succeed; start-up migrations go to the direct URL", async () => {
    const database = await emptyPostgresDatabase("bouncer");
    cleanups.push(database.drop);
    const pooled = new URL(bouncer!.url);
    pooled.pathname = new URL(database.url).pathname;
    const env = {
      DATABASE_URL: pooled.toString(),
      CAIRN_DB_TRANSACTION_POOLING: "true",
      CAIRN_JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: "info",
    };

    // Without a direct URL for migrations the server refuses to start, and says why.
    const refused = spawnServer({ env });
    expect((await refused.exit).code).toBe(1);
    expect(refused.output()).toContain(
      "CAIRN_MIGRATE_DATABASE_URL: required with CAIRN_DB_TRANSACTION_POOLING=true",
    );

    const server = spawnServer({ env: { ...env, CAIRN_MIGRATE_DATABASE_URL: database.url } });
    const url = await server.listening();
    expect(server.output()).toMatch(/applied: \d+_init/);
    const adminToken = await signToken(
      tokenKeys(TEST_JWT_SECRET),
      { sub: "bouncer", scope: "admin" },
      new Date(Date.now() + 600_000),
    );
    const { id, token } = await newTaskInstance(url, adminToken, {
      dagId: "bouncer",
      runId: "r",
      taskId: "t",
    });

    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fetch(`${url}/trpc/taskState.set`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ taskInstanceId: id, key: `k${i}`, value: i }),
        }).then((res) => res.status),
      ),
    );
    expect(statuses.filter((status) => status !== 200)).toEqual([]);

    const worker = patientClient(url, token);
    await Promise.all(Array.from({ length: 50 }, (_, i) => worker.set(`batch${i}`, i)));
    expect(await Promise.all(Array.from({ length: 50 }, (_, i) => worker.get(`batch${i}`)))).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    expect(server.output()).not.toContain("internal error");
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(0);
  }, 120_000);
});
