// Watch across server processes, with the typed client: a write through one server reaches a watcher on
// another (the database carries it); a watcher rides out a restart of its server and converges on what
// was written meanwhile; SIGTERM ends open streams and exits 0 at once; 200 watchers all get a write.
import { signToken, tokenKeys } from "@cairn/api";
import { type CairnClient, createCairnClient } from "@cairn/client";
import {
  emptyPostgresDatabase,
  freePort,
  postgresAvailable,
  spawnServer,
  stopAllServers,
  TEST_JWT_SECRET,
} from "@cairn/server/testing";
import { afterAll, describe, expect, it } from "vitest";
import { adminApi, follow, newTaskInstance } from "./workers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function postgresServers(count: number) {
  const database = await emptyPostgresDatabase(`watch_${Date.now() % 100_000}`);
  cleanups.push(database.drop);
  const adminToken = await signToken(
    tokenKeys(TEST_JWT_SECRET),
    { sub: "e2e", scope: "admin" },
    new Date(Date.now() + 3_600_000),
  );
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const env = (port: number) => ({
    DATABASE_URL: database.url,
    CAIRN_JWT_SECRET: TEST_JWT_SECRET,
    PORT: String(port),
    LOG_LEVEL: "info",
  });
  const start = (port: number) => spawnServer({ env: env(port) });
  const servers = ports.map(start);
  const urls = await Promise.all(servers.map((server) => server.listening()));
  return { adminToken, ports, servers, urls, start };
}

const client = (url: string, token: string): CairnClient =>
  createCairnClient({ url, token, timeoutMs: 20_000, backoff: { baseMs: 50, maxMs: 300 } });

describe.skipIf(!postgresAvailable())("watch across server processes (PostgreSQL)", () => {
  it("a write through one server reaches a watcher on the other; the watcher rides out its server's restart", async () => {
    const { adminToken, ports, servers, urls, start } = await postgresServers(2);
    const [urlA, urlB] = urls as [string, string];
    const where = { dagId: "watch_e2e", runId: "r1", taskId: "t" };
    const { token } = await newTaskInstance(urlA, adminToken, where);
    const stop = new AbortController();
    const watcher = follow(client(urlA, token).watch<number>(undefined, { signal: stop.signal }));
    const writer = client(urlB, token);
    await expect.poll(() => watcher.seen.some((c) => c.op === "synced"), { timeout: 10_000 }).toBe(true);

    await writer.set("n", 1);
    await expect.poll(() => watcher.view.get("n"), { timeout: 5_000 }).toBe(1);

    // Server A stops (SIGTERM ends the stream); writes go on through B; A comes back on its port.
    servers[0]!.child.kill("SIGTERM");
    expect((await servers[0]!.exit).code).toBe(0);
    await writer.set("n", 2);
    await writer.set("m", 1);
    await writer.delete("n");
    const restarted = start(ports[0]!);
    await restarted.listening();
    await writer.set("after", true);
    await expect
      .poll(() => Object.fromEntries(watcher.view), { timeout: 15_000 })
      .toEqual({ m: 1, after: true });
    // A new server cannot replay its predecessor's changes: the watcher was told to reset.
    expect(watcher.seen.some((c) => c.op === "reset")).toBe(true);
    expect(watcher.failed).toBeUndefined();
    stop.abort();
    await watcher.done;
    // And the other way round: the stored state is what the watcher holds.
    const stored: Record<string, unknown> = {};
    for await (const entry of writer.list()) stored[entry.key] = entry.value;
    expect(stored).toEqual({ m: 1, after: true });
    await adminApi(urlA, adminToken).admin.dagRuns.delete.mutate({ dagId: where.dagId, runId: where.runId });
  }, 90_000);

  it("SIGTERM with 20 open streams: they end, the server exits 0 within the drain, not after it", async () => {
    const { adminToken, servers, urls } = await postgresServers(1);
    const url = urls[0]!;
    const { token } = await newTaskInstance(url, adminToken, {
      dagId: "watch_e2e",
      runId: "r2",
      taskId: "t",
    });
    const stop = new AbortController();
    const watchers = Array.from({ length: 20 }, () =>
      follow(createCairnClient({ url, token, retries: 0 }).watch(undefined, { signal: stop.signal })),
    );
    await expect
      .poll(() => watchers.every((w) => w.seen.some((c) => c.op === "synced")), { timeout: 15_000 })
      .toBe(true);
    const signalled = Date.now();
    servers[0]!.child.kill("SIGTERM");
    expect((await servers[0]!.exit).code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(servers[0]!.output()).not.toMatch(/did not finish in time/);
    stop.abort();
  }, 60_000);

  it("200 concurrent watchers on one server all receive a write", async () => {
    const { adminToken, urls } = await postgresServers(1);
    const url = urls[0]!;
    const { token } = await newTaskInstance(url, adminToken, {
      dagId: "watch_e2e",
      runId: "r3",
      taskId: "t",
    });
    const stop = new AbortController();
    const cairn = client(url, token);
    const watchers = Array.from({ length: 200 }, () =>
      follow(cairn.watch<string>("signal", { signal: stop.signal })),
    );
    await expect
      .poll(() => watchers.filter((w) => w.seen.some((c) => c.op === "synced")).length, { timeout: 30_000 })
      .toBe(200);
    const sent = Date.now();
    await cairn.set("signal", "go");
    await expect
      .poll(() => watchers.filter((w) => w.view.get("signal") === "go").length, {
        timeout: 10_000,
        interval: 20,
      })
      .toBe(200);
    const elapsed = Date.now() - sent;
    console.log(`200 watchers: the write reached all of them within ${elapsed} ms`);
    expect(watchers.filter((w) => w.failed !== undefined)).toEqual([]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('cairn_watch_streams{plane="task"} 200');
    expect(metrics).toMatch(/cairn_watch_events_total\{plane="task",op="synced"\} 200\b/);
    expect(metrics).toMatch(/cairn_watch_events_total\{plane="task",op="set"\} 200\b/);
    stop.abort();
    await Promise.all(watchers.map((w) => w.done));
    await expect
      .poll(async () =>
        (await (await fetch(`${url}/metrics`)).text()).includes('cairn_watch_streams{plane="task"} 0'),
      )
      .toBe(true);
  }, 90_000);
});
