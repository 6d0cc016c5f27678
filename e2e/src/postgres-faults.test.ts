// PostgreSQL crashing under a write load, and away at start, with the built server and workers using the
// typed client (its default retries, a deadline longer than the outage). On a PostgreSQL this test
// starts and crashes itself.
import { signToken, tokenKeys } from "@cairn/api";
import { createCairnClient } from "@cairn/client";
import { spawnServer, stopAllServers, TEST_JWT_SECRET } from "@cairn/server/testing";
import { afterAll, describe, expect, it } from "vitest";
import { canRunOwnPostgres, type OwnPostgres, startOwnPostgres } from "./own-postgres.ts";
import { follow, newTaskInstance, readAll, startCounter, startWriter, until } from "./workers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!canRunOwnPostgres)("PostgreSQL faults (a PostgreSQL of the test's own)", () => {
  let postgres: OwnPostgres | undefined;
  afterAll(async () => {
    await stopAllServers();
    await postgres?.remove();
  });

  it("crashes and a 5 s outage under load: the server stays up, answers 503 not 500, readiness follows, nothing acknowledged is lost", async () => {
    postgres = await startOwnPostgres();
    const pg = postgres;
    const server = spawnServer({
      env: { DATABASE_URL: pg.url, CAIRN_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: "info" },
    });
    const url = await server.listening();
    const adminToken = await signToken(
      tokenKeys(TEST_JWT_SECRET),
      { sub: "faults", scope: "admin" },
      new Date(Date.now() + 3_600_000),
    );
    // The typed client with its defaults (retries until the deadline) but a 30 s deadline: a call made as
    // PostgreSQL went away waits out the 5 s outage, PostgreSQL's crash recovery and up to 2 s of backoff,
    // which came to just over the default 10 s once in a loaded CI run (the client then threw the 503).
    const clients = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const { token } = await newTaskInstance(url, adminToken, {
          dagId: "faults",
          runId: "r",
          taskId: `t${i}`,
        });
        return createCairnClient({ url, token, timeoutMs: 30_000 });
      }),
    );
    let stop = false;
    const writers = clients.map((client, i) => startWriter(client, `w${i}`, () => stop));
    const counters = clients.map((client) => startCounter(client, "counter", () => stop));

    // Readiness, sampled throughout.
    const readiness: { at: number; status: number }[] = [];
    const sampling = (async () => {
      while (!stop) {
        const status = await fetch(`${url}/readyz`).then(
          (res) => res.status,
          () => 0,
        );
        readiness.push({ at: Date.now(), status });
        await sleep(100);
      }
    })();

    const progress = async (what: string) => {
      const before = writers.map((w) => w.acked.size);
      await until(() => writers.every((w, i) => w.acked.size >= before[i]! + 10), 30_000, what).catch(
        (error) => {
          // Say what the server was doing, for a failure on a machine nobody can look at.
          const failures = [...writers, ...counters].flatMap((w) => w.failures).map(String);
          throw new Error(
            `${(error as Error).message}; server exit ${server.child.exitCode}, client failures ${JSON.stringify(failures.slice(0, 3))}, server output:\n${server.output().slice(-3000)}`,
          );
        },
      );
    };
    await progress("writes before the first crash");
    for (let crash = 1; crash <= 3; crash++) {
      await pg.crash();
      await sleep(300);
      await pg.start();
      await progress(`writes after crash ${crash}`);
    }
    await pg.crash();
    const downAt = Date.now();
    await sleep(5_000);
    await pg.start();
    const upAt = Date.now();
    await progress("writes after the 5 s outage");
    stop = true;
    await Promise.all([...writers.map((w) => w.done), ...counters.map((c) => c.done), sampling]);

    // Nothing thrown through the client, nothing acknowledged lost, every counter exact.
    expect([...writers, ...counters].flatMap((w) => w.failures).map(String)).toEqual([]);
    for (const [i, writer] of writers.entries()) {
      const stored = await readAll(clients[i]!);
      expect([...writer.acked].filter(([key, value]) => stored.get(key) !== value)).toEqual([]);
    }
    for (const [i, counter] of counters.entries())
      expect(await clients[i]!.get("counter")).toBe(counter.committed);

    // Readiness: 503 while the database was away, 200 again within 5 s of its return.
    expect(readiness.some((r) => r.at > downAt + 500 && r.at < upAt && r.status === 503)).toBe(true);
    const readyAgain = readiness.find((r) => r.at > upAt && r.status === 200);
    expect(readyAgain && readyAgain.at - upAt).toBeLessThan(5_000);

    // The server stayed up, and answered the outages with 503s, never a 500.
    expect(server.child.exitCode).toBeNull();
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/cairn_http_responses_total\{route="[^"]+",status="503"\} [1-9]/);
    expect(metrics).not.toMatch(/status="500"/);
    // One warning per interval while the database was away, never a stack per request.
    expect(server.output()).not.toContain("internal error");
    expect(server.output()).toContain("database trouble");
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(0);
  }, 180_000);

  it("started while PostgreSQL is down, the server waits and serves once it is back", async () => {
    postgres ??= await startOwnPostgres();
    const pg = postgres;
    await pg.crash();
    const server = spawnServer({
      env: { DATABASE_URL: pg.url, CAIRN_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: "info" },
    });
    await until(() => server.output().includes("waiting for it"), 20_000, "the server to wait");
    expect(server.child.exitCode).toBeNull();
    await pg.start();
    const url = await server.listening(30_000);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(0);
  }, 90_000);

  it("PostgreSQL crashing under a watch: the stream ends, the watcher comes back with a reset and converges", async () => {
    const pg = await startOwnPostgres();
    const server = spawnServer({
      env: { DATABASE_URL: pg.url, CAIRN_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: "info" },
    });
    try {
      const url = await server.listening();
      const adminToken = await signToken(
        tokenKeys(TEST_JWT_SECRET),
        { sub: "faults", scope: "admin" },
        new Date(Date.now() + 3_600_000),
      );
      const { token } = await newTaskInstance(url, adminToken, { dagId: "faults", runId: "w", taskId: "t" });
      const cairn = createCairnClient({
        url,
        token,
        timeoutMs: 30_000,
        backoff: { baseMs: 100, maxMs: 500 },
      });
      await cairn.set("a", 1);
      const stop = new AbortController();
      const watcher = follow(cairn.watch<number>(undefined, { signal: stop.signal }));
      await expect.poll(() => watcher.seen.some((c) => c.op === "synced"), { timeout: 15_000 }).toBe(true);

      // The LISTEN connection dies with PostgreSQL: notifications may be lost, so the stream must end.
      await pg.crash();
      await sleep(1_000);
      await pg.start();
      await cairn.set("a", 2);
      await cairn.set("b", 3);
      await expect.poll(() => Object.fromEntries(watcher.view), { timeout: 30_000 }).toEqual({ a: 2, b: 3 });
      expect(watcher.seen.some((c) => c.op === "reset")).toBe(true);
      expect(watcher.failed).toBeUndefined();
      expect(server.output()).not.toMatch(/"level":"?(50|error)"?.*internal error/);
      stop.abort();
      await watcher.done;
    } finally {
      server.child.kill("SIGTERM");
      await server.exit;
      await pg.remove();
    }
  }, 90_000);
});
