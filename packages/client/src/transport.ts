// HTTP transport: the typed tRPC client (batching, plain JSON), and the call runner that adds a deadline
// and retries with backoff to each verb.
import type { AppRouter } from "@cairn/api";
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClient,
} from "@trpc/client";
import { EventSource } from "eventsource";
import {
  CairnError,
  HttpStatusError,
  NetworkError,
  OutcomeUnknownError,
  ServerError,
  TimeoutError,
  toCairnError,
} from "./errors.ts";

/** The `fetch` the client calls: the global one by default; pass your own to add a proxy, logging, tests. */
export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

/** What httpBatchLink declares; it calls `fetch(url: string, init: RequestInit)`. */
type LinkFetch = NonNullable<Parameters<typeof httpBatchLink>[0]["fetch"]>;

export type CairnTRPCClient = TRPCClient<AppRouter>;

export interface TransportOptions {
  /** The server's base URL, such as `http://127.0.0.1:4000`; the API is under `/trpc`. */
  url: string | URL;
  token: string;
  fetch?: FetchLike | undefined;
  /** Longest batched GET URL; longer batches are split. Default 8000 (well under Node's 16 KiB header limit). */
  maxURLLength?: number | undefined;
  /** Most calls in one HTTP request. Default 50. */
  maxBatchItems?: number | undefined;
  /**
   * Largest batched POST body, roughly. A write whose input is larger than this divided by
   * `maxBatchItems` goes in a request of its own, so concurrent large writes never add up past the
   * server's body limit (CAIRN_MAX_BODY_BYTES, 1 MiB by default). Default 512 KiB.
   */
  maxBatchBytes?: number | undefined;
}

/** The tRPC endpoint of a server base URL (a URL that already ends in `/trpc` is kept). */
export function trpcEndpoint(url: string | URL): string {
  const base = url.toString().replace(/\/+$/, "");
  return base.endsWith("/trpc") ? base : `${base}/trpc`;
}

/**
 * The typed tRPC client over HTTP: calls made in the same tick go out as one request (httpBatchLink).
 * No retries or deadline. `createCairnClient`'s verbs do not use it (they batch through
 * call-batcher.ts and add retries and a deadline); its watch streams and its `trpc` property do.
 */
export function createCairnTRPCClient(options: TransportOptions): CairnTRPCClient {
  const http = {
    url: trpcEndpoint(options.url),
    fetch: statusPreservingFetch(options.fetch ?? globalThis.fetch),
    headers: { authorization: `Bearer ${options.token}` },
  };
  const maxItems = options.maxBatchItems ?? 50;
  const alone = (options.maxBatchBytes ?? 512 * 1024) / maxItems;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        // Watch streams (SSE). The EventSource of the `eventsource` package sends the token as a header
        // (a browser's own EventSource cannot), in Node and in browsers alike.
        true: httpSubscriptionLink({
          url: http.url,
          EventSource,
          eventSourceOptions: {
            fetch: (input, init) =>
              fetchImpl(String(input), { ...init, headers: { ...init?.headers, ...http.headers } }),
          },
        }),
        false: splitLink({
          condition: (op) => op.type === "mutation" && longerThan(JSON.stringify(op.input), alone),
          true: httpLink(http),
          false: httpBatchLink({ ...http, maxURLLength: options.maxURLLength ?? 8000, maxItems }),
        }),
      }),
    ],
  });
}

/**
 * tRPC parses every answer as JSON; a proxy's `503 Service Unavailable` in plain text would surface as a
 * JSON syntax error with the status lost. Such answers become an HttpStatusError here, so the status
 * (and with it "retry or not") survives. The Cairn API always answers JSON.
 */
function statusPreservingFetch(fetchImpl: FetchLike): LinkFetch {
  const wrapped: FetchLike = async (url, init) => {
    const response = await fetchImpl(url, init);
    const contentType = response.headers.get("content-type");
    if (contentType?.includes("json")) return response;
    // Drain the body so the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    throw new HttpStatusError(response.status, contentType);
  };
  return wrapped as LinkFetch;
}

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. Default 100 ms. */
  baseMs?: number | undefined;
  /** Cap of the exponential delay. Default 2000 ms. */
  maxMs?: number | undefined;
}

export interface CallPolicy {
  /** Deadline of the whole call, retries and backoff included. */
  timeoutMs: number;
  /** Retries after the first attempt at most (Infinity: as many as the deadline allows). */
  retries: number;
  backoff: Required<BackoffOptions>;
}

/**
 * What a failed attempt allows: send it again, or give up with this error. `idempotent` calls (reads,
 * plain writes) may be sent again after any network error or 5xx. A compare-and-set only when the request
 * surely was not applied: the connection was never made, or the server said `database_unavailable`; when
 * it may have been applied, it fails with OutcomeUnknownError.
 */
function afterFailure(error: unknown, idempotent: boolean, path: string): "retry" | Error {
  if (!(error instanceof CairnError) || !error.retryable) return error as Error;
  const notApplied =
    (error instanceof ServerError && error.reason === "database_unavailable") ||
    (error instanceof NetworkError && !error.mayHaveReachedServer);
  if (idempotent || notApplied) return "retry";
  if (error instanceof NetworkError || error.reason === "outcome_unknown") {
    return new OutcomeUnknownError(
      `${path}: the outcome of this compare-and-set is unknown (${error.message}); read the entry before trying again`,
      { code: error.code, httpStatus: error.httpStatus, reason: error.reason, path, cause: error },
    );
  }
  return error;
}

export interface CallOptions {
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number | undefined;
  /** Cancels the call; it rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** Exponential backoff with "equal jitter": half the delay fixed, half random, so retries spread out. */
export function backoffDelay(attempt: number, backoff: Required<BackoffOptions>): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * What an attempt of a call may use: its deadline (epoch ms), and a signal that aborts at the deadline or
 * when the caller's signal does. The signal is made only when an attempt asks for it: the batched verbs
 * pass the deadline to their batch instead, which saves an AbortController per call on the hot path.
 */
export class CallScope {
  #controller: AbortController | undefined;
  #stopped = false;
  #reason: unknown;

  constructor(readonly deadline: number) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#stopped) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  get reason(): unknown {
    return this.#reason;
  }

  stop(reason: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * Runs one verb: `attempt` gets the call's scope, which stops at the deadline (or when the caller's
 * signal aborts). Failures become CairnErrors; retryable ones (network, 5xx) are tried again when
 * `idempotent`.
 *
 * One timer per call, no AbortSignal.any (slow on Node 20). The deadline is raced against the attempt
 * rather than left to fetch: a batched request is aborted only when every call in it has given up, so an
 * aborted call could otherwise wait for its batch.
 */
export async function runCall<T>(
  path: string,
  policy: CallPolicy,
  idempotent: boolean,
  options: CallOptions | undefined,
  attempt: (scope: CallScope) => Promise<T>,
): Promise<T> {
  const timeoutMs = options?.timeoutMs ?? policy.timeoutMs;
  const userSignal = options?.signal;
  userSignal?.throwIfAborted();
  const scope = new CallScope(Date.now() + timeoutMs);
  let stop!: (reason: unknown) => void;
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  stopped.catch(() => undefined);
  const abort = (reason: unknown) => {
    scope.stop(reason);
    stop(reason);
  };
  const timedOut = () =>
    new TimeoutError(`${path}: no answer within ${timeoutMs} ms`, { code: "TIMEOUT", httpStatus: 0, path });
  const timer = setTimeout(() => abort(timedOut()), timeoutMs);
  const onUserAbort = () => abort(userSignal?.reason);
  userSignal?.addEventListener("abort", onUserAbort, { once: true });
  try {
    for (let attempts = 1; ; attempts++) {
      try {
        return await Promise.race([attempt(scope), stopped]);
      } catch (raw) {
        if (scope.stopped) throw scope.reason;
        // An attempt can fail at the deadline itself (its batch given up) just before the timer fires.
        if (Date.now() >= scope.deadline) {
          abort(timedOut());
          throw scope.reason;
        }
        const error = toCairnError(raw, path);
        const next = afterFailure(error, idempotent, path);
        if (next !== "retry") throw next;
        if (attempts > policy.retries) throw error;
        const delay = backoffDelay(attempts, policy.backoff);
        // No time left for a retry: the real failure says more than a timeout would.
        if (Date.now() + delay >= scope.deadline) throw error;
        await Promise.race([sleep(delay, scope.signal), stopped]);
      }
    }
  } finally {
    clearTimeout(timer);
    userSignal?.removeEventListener("abort", onUserAbort);
  }
}

/** Waits `ms`, or less when the signal aborts (it resolves either way). */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

const encoder = new TextEncoder();

/**
 * Whether the string's UTF-8 form is longer than `bytes` (no Buffer: the client runs in browsers too).
 * A UTF-16 code unit is 1 to 3 bytes, so only a string of `bytes / 3` to `bytes` units is encoded to
 * tell: most writes are far below.
 */
export function longerThan(text: string, bytes: number): boolean {
  if (text.length > bytes) return true;
  if (text.length * 3 <= bytes) return false;
  return encoder.encode(text).byteLength > bytes;
}
