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

/** What both transports (the verbs' batcher and tRPC's links) take from the options, defaults applied. */
export function transportSettings(options: TransportOptions) {
  const maxItems = options.maxBatchItems ?? 50;
  return {
    endpoint: trpcEndpoint(options.url),
    fetch: jsonAnswersOnly(options.fetch ?? globalThis.fetch),
    headers: { authorization: `Bearer ${options.token}` },
    maxURLLength: options.maxURLLength ?? 8000,
    maxItems,
    /** A write whose input is longer than this (UTF-8 bytes) goes in a request of its own. */
    aloneBytes: (options.maxBatchBytes ?? 512 * 1024) / maxItems,
  };
}

export type TransportSettings = ReturnType<typeof transportSettings>;

/**
 * The typed tRPC client over HTTP: calls made in the same tick go out as one request (httpBatchLink).
 * No retries or deadline. `createCairnClient`'s verbs do not use it (they batch through
 * call-batcher.ts and add retries and a deadline); its watch streams and its `trpc` property do.
 */
export function createCairnTRPCClient(options: TransportOptions): CairnTRPCClient {
  const settings = transportSettings(options);
  const http = { url: settings.endpoint, fetch: settings.fetch as LinkFetch, headers: settings.headers };
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
          condition: (op) =>
            op.type === "mutation" && longerThan(JSON.stringify(op.input), settings.aloneBytes),
          true: httpLink(http),
          false: httpBatchLink({ ...http, maxURLLength: settings.maxURLLength, maxItems: settings.maxItems }),
        }),
      }),
    ],
  });
}

/**
 * The Cairn API always answers JSON; a proxy's `503 Service Unavailable` in plain text would surface as
 * a JSON syntax error with the status lost. Such answers become an HttpStatusError here, so the status
 * (and with it "retry or not") survives.
 */
function jsonAnswersOnly(fetchImpl: FetchLike): FetchLike {
  return async (url, init) => {
    const response = await fetchImpl(url, init);
    const contentType = response.headers.get("content-type");
    if (contentType?.includes("json")) return response;
    // Drain the body so the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    throw new HttpStatusError(response.status, contentType);
  };
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
 * Runs one verb: `attempt` gets the call's deadline (epoch ms), and the call stops at it (or when the
 * caller's signal aborts). Failures become CairnErrors; retryable ones (network, 5xx) are tried again
 * when `idempotent`.
 *
 * One timer per call and no AbortController: the batched request takes the deadline itself (an
 * AbortController per call was a measurable share of a batched call's CPU). The deadline is raced
 * against the attempt rather than left to fetch: a batched request is abandoned only when every call
 * in it has given up, so a stopped call could otherwise wait for its batch.
 */
export async function runCall<T>(
  path: string,
  policy: CallPolicy,
  idempotent: boolean,
  options: CallOptions | undefined,
  attempt: (deadline: number) => Promise<T>,
): Promise<T> {
  const timeoutMs = options?.timeoutMs ?? policy.timeoutMs;
  const userSignal = options?.signal;
  userSignal?.throwIfAborted();
  const deadline = Date.now() + timeoutMs;
  // Rejects with the reason once the call stops; raced against each attempt and each backoff.
  let stop!: (reason: unknown) => void;
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  stopped.catch(() => undefined);
  let stoppedBy: { reason: unknown } | undefined;
  const abort = (reason: unknown) => {
    stoppedBy ??= { reason };
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
        return await Promise.race([attempt(deadline), stopped]);
      } catch (raw) {
        if (stoppedBy) throw stoppedBy.reason;
        // An attempt can fail at the deadline itself (its batch given up) just before the timer fires.
        if (Date.now() >= deadline) throw timedOut();
        const error = toCairnError(raw, path);
        const next = afterFailure(error, idempotent, path);
        if (next !== "retry") throw next;
        if (attempts > policy.retries) throw error;
        const delay = backoffDelay(attempts, policy.backoff);
        // No time left for a retry: the real failure says more than a timeout would.
        if (Date.now() + delay >= deadline) throw error;
        await backoff(delay, stopped);
      }
    }
  } finally {
    clearTimeout(timer);
    userSignal?.removeEventListener("abort", onUserAbort);
  }
}

/** Waits `ms`, or rejects as soon as the call stops (its timer then cleared). */
function backoff(ms: number, stopped: Promise<never>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    stopped.catch((reason: unknown) => {
      clearTimeout(timer);
      reject(reason);
    });
  });
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
