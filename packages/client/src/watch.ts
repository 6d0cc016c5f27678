// watch() and waitFor(): the watch procedures (taskState.watch, assetState.watch) as async iterables
// that reconnect by themselves. tRPC's httpSubscriptionLink and the EventSource under it resume after a
// dropped connection with the last event id; when the server ends a stream (shutdown, a restart) this
// reconnects with backoff and resumes too, and stops with a typed error when the server refuses (a newer
// try of the task, an expired token, an asset no longer usable).
import { type CairnError, TimeoutError, toCairnError } from "./errors.ts";
import { type BackoffOptions, backoffDelay, sleep } from "./transport.ts";

/** An entry as a watch sends it. */
export interface WatchedEntry<T = unknown> {
  key: string;
  value: T;
  version: number;
  updatedAt: string;
  expiresAt: string | null;
}

/** Who wrote an asset state entry. */
export interface WatchWriter {
  kind: "task" | "admin";
  dagId: string | null;
  runId: string | null;
  taskId: string | null;
  mapIndex: number | null;
}

/**
 * What a watch yields: the current entry of every matching key (`set`), then `synced`, then each change
 * as it commits. `reset`: the stream could not resume; drop what you hold, a full snapshot follows.
 */
export type WatchChange<T = unknown> =
  | { op: "set"; key: string; entry: WatchedEntry<T>; writer?: WatchWriter }
  | { op: "delete"; key: string; cause: "delete" | "clear" | "expired" }
  | { op: "synced" }
  | { op: "reset" };

/** One key, every key starting with a prefix, or (omitted) every key. */
export type WatchTarget = string | { prefix: string } | undefined;

export interface WatchOptions {
  /** Ends the watch: the loop over it finishes. */
  signal?: AbortSignal | undefined;
}

export interface WaitForOptions extends WatchOptions {
  /** Give up after this long with a TimeoutError. Default: wait as long as it takes. */
  timeoutMs?: number | undefined;
}

type WatchFilter = { key?: string; prefix?: string; lastEventId?: string };

/** Starts one subscription; tRPC's `.subscribe()` of a watch procedure, with its address bound. */
export type Subscribe = (
  filter: WatchFilter,
  handlers: {
    onData(event: { id: string; data: unknown }): void;
    onError(error: unknown): void;
    onComplete(): void;
  },
) => { unsubscribe(): void };

function filterOf(target: WatchTarget): WatchFilter {
  if (target === undefined) return {};
  if (typeof target === "string") return { key: target };
  return { prefix: target.prefix };
}

/** The changes of a watch, reconnecting (with backoff) and resuming until the signal aborts or the server refuses. */
export function watchChanges<T>(
  path: string,
  subscribe: Subscribe,
  target: WatchTarget,
  backoff: Required<BackoffOptions>,
  options: WatchOptions = {},
): AsyncIterable<WatchChange<T>> {
  const { signal } = options;
  return {
    async *[Symbol.asyncIterator]() {
      let lastEventId: string | undefined;
      for (let failures = 0; !signal?.aborted; ) {
        const queue: { id: string; data: unknown }[] = [];
        let finished = false;
        let failure: unknown;
        let wake: (() => void) | undefined;
        const nudge = () => {
          wake?.();
          wake = undefined;
        };
        const subscription = subscribe(
          { ...filterOf(target), ...(lastEventId === undefined ? {} : { lastEventId }) },
          {
            onData: (event) => {
              queue.push(event);
              nudge();
            },
            onError: (error) => {
              failure = error;
              finished = true;
              nudge();
            },
            onComplete: () => {
              finished = true;
              nudge();
            },
          },
        );
        signal?.addEventListener("abort", nudge);
        try {
          for (;;) {
            const event = queue.shift();
            if (event) {
              if (event.id) lastEventId = event.id;
              failures = 0;
              yield event.data as WatchChange<T>;
              continue;
            }
            if (finished || signal?.aborted) break;
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
          }
        } finally {
          subscription.unsubscribe();
          signal?.removeEventListener("abort", nudge);
        }
        if (signal?.aborted) return;
        if (failure !== undefined) {
          const error = toCairnError(failure, path) as CairnError;
          // A refusal (4xx) will not change by asking again: the try was superseded, the token expired.
          if (!(error as { retryable?: boolean }).retryable) throw error;
        }
        // The server ended the stream (shutdown, restart) or the connection failed: resume after a pause.
        failures++;
        await sleep(backoffDelay(failures, backoff), signal);
      }
    },
  };
}

/** Resolves with the first entry of `key` that satisfies `until`, the current one included. */
export async function waitForEntry<T>(
  watch: (target: WatchTarget, options: WatchOptions) => AsyncIterable<WatchChange<T>>,
  key: string,
  until: (entry: WatchedEntry<T>) => boolean,
  options: WaitForOptions = {},
): Promise<WatchedEntry<T>> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort);
  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          stop.abort();
        }, options.timeoutMs);
  try {
    for await (const change of watch(key, { signal: stop.signal })) {
      if (change.op === "set" && until(change.entry)) return change.entry;
    }
    if (timedOut) {
      throw new TimeoutError(`waitFor("${key}"): no matching entry within ${options.timeoutMs} ms`, {
        code: "TIMEOUT",
        httpStatus: 0,
      });
    }
    throw options.signal?.reason ?? new Error(`waitFor("${key}") was aborted`);
  } finally {
    clearTimeout(timer);
    stop.abort();
    options.signal?.removeEventListener("abort", onAbort);
  }
}
