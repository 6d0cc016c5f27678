// Watch across server processes, with the typed client: a write through one server reaches a watcher on
// another (the database carries it); a watcher rides out a restart of its server and converges on what
// was written meanwhile; SIGTERM ends open streams and exits 0 at once; 200 watchers all get a write; a
// watcher that stops reading holds back nobody, and the server keeps only a bounded backlog for it.
import http from "node:http";
import { type CairnClient, createCairnClient } from "@cairn/client";
import { postgresAvailable, stopAllServers } from "@cairn/server/testing";
import { afterAll, describe, expect, it } from "vitest";
import { startPostgresServers } from "./servers.ts";
import { adminApi, follow, newTaskInstance } from "./workers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});
const postgresServers = (count: number) => startPostgresServers(count, cleanups);

const client = (url: string, token: string): CairnClient =>
  createCairnClient({ url, token, timeoutMs: 20_000, backoff: { baseMs: 50, maxMs: 300 } });

/** An SSE message as sent: its `id:`, `event:` (absent for data events) and parsed `data:`. */
interface Message {
  id?: string;
  event?: string;
  data?: { op?: string; key?: string; entry?: { value: unknown } };
}

/**
 * A watch read through plain node:http, so that a test can stop reading (`pause`): the socket's buffers
 * fill, then the server's. `messages` are the messages read so far.
 */
function rawWatch(url: string, token: string, input: object, lastEventId?: string) {
  const messages: Message[] = [];
  let buffer = "";
  let ended = false;
  let response: http.IncomingMessage | undefined;
  const request = http.get(
    `${url}/trpc/taskState.watch?input=${encodeURIComponent(JSON.stringify(input))}`,
    {
      headers: { authorization: `Bearer ${token}`, ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
    },
    (res) => {
      response = res;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const message: Message = {};
          for (const line of buffer.slice(0, end).split("\n")) {
            const colon = line.indexOf(": ");
            const [field, value] =
              colon < 0 ? [line.replace(/:$/, ""), ""] : [line.slice(0, colon), line.slice(colon + 2)];
            if (field === "id") message.id = value;
            if (field === "event") message.event = value;
            if (field === "data" && value !== "") message.data = JSON.parse(value);
          }
          messages.push(message);
          buffer = buffer.slice(end + 2);
        }
      });
      res.on("end", () => {
        ended = true;
      });
    },
  );
  request.on("error", () => {});
  return {
    messages,
    get ended() {
      return ended;
    },
    pause: () => response?.pause(),
    resume: () => response?.resume(),
    close: () => request.destroy(),
  };
}

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

  it("a watcher that reads nothing holds back neither writers nor another watcher; its stream ends at a bounded backlog and it catches up on reconnect", async () => {
    const { adminToken, urls } = await postgresServers(1);
    const url = urls[0]!;
    const { id, token } = await newTaskInstance(url, adminToken, {
      dagId: "watch_e2e",
      runId: "slow",
      taskId: "t",
    });
    const input = { taskInstanceId: id, prefix: "big/" };
    const slow = rawWatch(url, token, input);
    await expect
      .poll(() => slow.messages.some((m) => m.data?.op === "synced"), { timeout: 10_000 })
      .toBe(true);
    slow.pause();
    const stop = new AbortController();
    const cairn = client(url, token);
    const other = follow(cairn.watch<string>({ prefix: "big/" }, { signal: stop.signal }));
    await expect.poll(() => other.seen.some((c) => c.op === "synced"), { timeout: 10_000 }).toBe(true);

    // 3 000 values of 6 KB (18 MB): more than the sockets' buffers and the stream's backlog (8 MB) hold.
    const count = 3_000;
    const value = (i: number) => `${i}:${"x".repeat(6_000)}`;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < count; i = next++) await cairn.set(`big/${i}`, value(i));
      }),
    );
    // The other watcher has every write, while the slow one still reads nothing.
    await expect.poll(() => other.view.size, { timeout: 30_000 }).toBe(count);
    const readWhilePaused = slow.messages.length;

    // Reading again: what the server kept for it arrives, in order, then the stream ends (`return`):
    // the server stopped queueing for it at its backlog bound rather than keep all 3 000 changes.
    slow.resume();
    await expect.poll(() => slow.messages.at(-1)?.event, { timeout: 30_000 }).toBe("return");
    const sets = slow.messages.filter((m) => m.data?.op === "set");
    expect(readWhilePaused).toBeLessThan(5);
    expect(sets.length).toBeGreaterThan(0);
    expect(sets.length).toBeLessThan(count);
    const view = new Map(sets.map((m) => [m.data!.key!, m.data!.entry!.value]));

    // Reconnecting from its last event: a replay of what it missed, or (kept no longer) a reset and a
    // fresh snapshot; either way it ends up with every value.
    const lastId = slow.messages.findLast((m) => m.id !== undefined)!.id!;
    const again = rawWatch(url, token, input, lastId);
    await expect
      .poll(() => again.messages.some((m) => m.data?.op === "synced"), { timeout: 30_000 })
      .toBe(true);
    for (const m of again.messages) {
      if (m.data?.op === "reset") view.clear();
      if (m.data?.op === "set") view.set(m.data.key!, m.data.entry!.value);
    }
    expect(view.size).toBe(count);
    for (let i = 0; i < count; i += 97) expect(view.get(`big/${i}`)).toBe(value(i));
    again.close();
    stop.abort();
    await other.done;
    expect(other.failed).toBeUndefined();
  }, 120_000);
});
