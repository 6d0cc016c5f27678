// Test-only: workers writing through the typed client while the server is stopped, killed and restarted,
// with a record of every write the server acknowledged.
import type { AppRouter } from "@cairn/api";
import { type CairnClient, createCairnClient, VersionConflictError, type WatchChange } from "@cairn/client";
import { createTRPCClient, httpLink } from "@trpc/client";

/** A client that rides out a restart of the server (1-2 s): network errors are retried for 30 s. */
export function patientClient(url: string, token: string): CairnClient {
  return createCairnClient({
    url,
    token,
    timeoutMs: 30_000,
    retries: 200,
    backoff: { baseMs: 20, maxMs: 150 },
  });
}

export function adminApi(url: string, token: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: { authorization: `Bearer ${token}` } })],
  });
}

/** A task instance (its dag run made if absent), as the scheduler makes one, and its execution token. */
export async function newTaskInstance(
  url: string,
  adminToken: string,
  where: { dagId: string; runId: string; taskId: string; outlets?: { name: string }[] },
): Promise<{ id: string; token: string }> {
  const admin = adminApi(url, adminToken);
  const { id } = await admin.admin.taskInstances.create.mutate(where);
  const { token } = await admin.admin.tokens.issue.mutate({ taskInstanceId: id });
  return { id, token };
}

/** A task instance of a new dag run, with a client bound to its execution token. */
export async function newWorkerClient(url: string, adminToken: string, name: string): Promise<CairnClient> {
  const where = { dagId: `e2e_${name}`, runId: `run_${Date.now()}`, taskId: "write" };
  return patientClient(url, (await newTaskInstance(url, adminToken, where)).token);
}

export interface Writer {
  /** Acknowledged writes: key -> value. */
  acked: Map<string, number>;
  /** When each write was acknowledged (Date.now()), in order. */
  ackTimes: number[];
  failures: unknown[];
  done: Promise<void>;
}

/** Unconditional sets of new keys `<prefix>-<n>` = n, one after another, until `stop()` says so. */
export function startWriter(client: CairnClient, prefix: string, stop: () => boolean): Writer {
  const writer: Writer = { acked: new Map(), ackTimes: [], failures: [], done: Promise.resolve() };
  writer.done = (async () => {
    for (let n = 0; !stop(); n++) {
      const key = `${prefix}-${n}`;
      try {
        await client.set(key, n);
        writer.acked.set(key, n);
        writer.ackTimes.push(Date.now());
      } catch (error) {
        writer.failures.push(error);
      }
    }
  })();
  return writer;
}

export interface Counter {
  /** Increments known to be committed: acknowledged, or unacknowledged but found committed on re-reading. */
  committed: number;
  /** Increments whose answer was lost (the server died); each was resolved by re-reading the counter. */
  unanswered: number;
  failures: unknown[];
  done: Promise<void>;
}

/**
 * Compare-and-set increments of one counter by one writer. A CAS write is never retried by the client, so
 * one whose answer is lost (the server was killed) is resolved by reading the counter back: with a single
 * writer, the value says whether it committed. At the end the counter must equal `committed`.
 */
export function startCounter(client: CairnClient, key: string, stop: () => boolean): Counter {
  const counter: Counter = { committed: 0, unanswered: 0, failures: [], done: Promise.resolve() };
  counter.done = (async () => {
    let entry = await client.entry<number>(key);
    while (!stop()) {
      const next = (entry?.value ?? 0) + 1;
      try {
        const { version } = await client.set(key, next, { ifVersion: entry?.version ?? 0 });
        counter.committed++;
        entry = { ...(entry ?? { key, updatedAt: "", expiresAt: null }), value: next, version };
      } catch (error) {
        if (error instanceof VersionConflictError) {
          counter.failures.push(error); // nobody else writes this key: a conflict means a lost or doubled write
          return;
        }
        counter.unanswered++;
        entry = await client.entry<number>(key);
        if (entry?.value === next) counter.committed++;
      }
    }
  })().catch((error: unknown) => {
    counter.failures.push(error);
  });
  return counter;
}

/** Every entry of the client's task state, as key -> value. */
export async function readAll(client: CairnClient): Promise<Map<string, unknown>> {
  const all = new Map<string, unknown>();
  for await (const entry of client.list({ pageSize: 1000 })) all.set(entry.key, entry.value);
  return all;
}

export async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Reads a watch in the background; the view is each key's last value. */
export function follow<T>(changes: AsyncIterable<WatchChange<T>>) {
  const seen: WatchChange<T>[] = [];
  const view = new Map<string, T>();
  let failed: unknown;
  const done = (async () => {
    try {
      for await (const change of changes) {
        seen.push(change);
        if (change.op === "reset") view.clear();
        if (change.op === "set") view.set(change.key, change.entry.value);
        if (change.op === "delete") view.delete(change.key);
      }
    } catch (error) {
      failed = error;
    }
  })();
  return {
    seen,
    view,
    done,
    get failed() {
      return failed;
    },
  };
}
