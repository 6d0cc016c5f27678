// watch() and waitFor() over real HTTP (Server-Sent Events through the bundled EventSource, the token in
// a header), against the server in-process on each test database.
import { describeEachDatabase } from "@cairn/db/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createCairnClient, NotFoundError, TimeoutError, type WatchChange } from "./index.ts";
import { startTestServer, type TestServer } from "./testing/harness.ts";

/** Reads a watch in the background until `stop`. */
function reader<T>(changes: AsyncIterable<WatchChange<T>>) {
  const seen: WatchChange<T>[] = [];
  let failed: unknown;
  const done = (async () => {
    try {
      for await (const change of changes) seen.push(change);
    } catch (error) {
      failed = error;
    }
  })();
  return {
    seen,
    done,
    get failed() {
      return failed;
    },
    async until(predicate: (change: WatchChange<T>) => boolean, ms = 10_000) {
      await expect.poll(() => seen.some(predicate), { timeout: ms, interval: 10 }).toBe(true);
    },
  };
}

describeEachDatabase("client watch", (getDb) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(getDb());
  });
  afterAll(async () => {
    await server?.close();
  });
  const bind = (token: string) =>
    createCairnClient({ url: server.url, token, backoff: { baseMs: 20, maxMs: 200 } });

  it("watch(key), watch({ prefix }) and watch(): the current entries, synced, then each change", async () => {
    const task = await server.newTask();
    const cairn = bind(task.token);
    await cairn.set("jobs/1", "queued");
    const stop = new AbortController();
    const one = reader(cairn.watch<string>("jobs/1", { signal: stop.signal }));
    const some = reader(cairn.watch<string>({ prefix: "jobs/" }, { signal: stop.signal }));
    const all = reader(cairn.watch<string>(undefined, { signal: stop.signal }));
    for (const r of [one, some, all]) await r.until((c) => c.op === "synced");
    await cairn.set("jobs/1", "running");
    // Not ASCII: each SSE message is a chunk whose length counts UTF-8 bytes.
    await cairn.set("jobs/2", "queued ✓ 待機");
    await cairn.set("other", "x");
    await cairn.delete("jobs/1");
    await all.until((c) => c.op === "delete");
    await some.until((c) => c.op === "delete");
    await one.until((c) => c.op === "delete");
    stop.abort();
    await Promise.all([one.done, some.done, all.done]);
    const brief = (seen: WatchChange<string>[]) =>
      seen.map((c) =>
        c.op === "set"
          ? `set ${c.key}=${c.entry.value}`
          : c.op === "delete"
            ? `delete ${c.key} (${c.cause})`
            : c.op,
      );
    expect(brief(one.seen)).toEqual([
      "set jobs/1=queued",
      "synced",
      "set jobs/1=running",
      "delete jobs/1 (delete)",
    ]);
    expect(brief(some.seen)).toEqual([
      "set jobs/1=queued",
      "synced",
      "set jobs/1=running",
      "set jobs/2=queued ✓ 待機",
      "delete jobs/1 (delete)",
    ]);
    expect(brief(all.seen)).toContain("set other=x");
    expect(one.failed).toBeUndefined();
  });

  it("asset(ref).watch() streams the asset's changes with their writer", async () => {
    const asset = await server.newAsset();
    const task = await server.newTask({ outlets: [{ name: asset.name }] });
    const orders = bind(task.token).asset(asset.name);
    const stop = new AbortController();
    const r = reader(orders.watch<string>("watermark", { signal: stop.signal }));
    await r.until((c) => c.op === "synced");
    await orders.set("watermark", "2026-05-01", { ifVersion: 0 });
    await r.until((c) => c.op === "set");
    stop.abort();
    await r.done;
    expect(r.seen.at(-1)).toMatchObject({
      op: "set",
      entry: { value: "2026-05-01", version: 1 },
      writer: { kind: "task", taskId: task.taskId },
    });
  });

  it("waitFor resolves with the entry that satisfies the predicate, the current one included, or times out", async () => {
    const upstream = await server.newTask();
    const writer = bind(upstream.token);
    await writer.set("watermark", 3);
    expect(await writer.waitFor<number>("watermark", (e) => e.value >= 3)).toMatchObject({
      value: 3,
      version: 1,
    });

    const waiting = writer.waitFor<number>("watermark", (e) => e.value >= 5);
    await writer.set("watermark", 4);
    await writer.set("watermark", 5);
    expect(await waiting).toMatchObject({ value: 5, version: 3 });

    const error = await writer.waitFor("watermark", () => false, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
  });

  it("a watch of a try that a newer try supersedes ends with NotFoundError task_instance_superseded", async () => {
    const task = await server.newTask();
    const r = reader(bind(task.token).watch());
    await r.until((c) => c.op === "synced");
    await server.admin.admin.taskInstances.retry({ taskInstanceId: task.id });
    await r.done;
    expect(r.failed).toBeInstanceOf(NotFoundError);
    expect(r.failed).toMatchObject({ reason: "task_instance_superseded" });
  }, 20_000);
});
