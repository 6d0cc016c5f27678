// The worker-facing client: bound once to a server and a token, then get/set/delete/clear/list on the
// task's own state, and the same verbs on an asset's state.

import type { AppRouter } from "@cairn/api";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { createCallBatcher, type SendCall } from "./call-batcher.ts";
import { NotFoundError } from "./errors.ts";
import { type Duration, expiryFromRetention } from "./retention.ts";
import { stepRunner } from "./step.ts";
import { resolveTaskInstanceId } from "./token.ts";
import {
  type BackoffOptions,
  type CairnTRPCClient,
  type CallOptions,
  type CallPolicy,
  createCairnTRPCClient,
  type FetchLike,
  runCall,
  transportSettings,
  trpcEndpoint,
} from "./transport.ts";
import {
  type Subscribe,
  type WaitForOptions,
  type WatchChange,
  type WatchedEntry,
  type WatchOptions,
  type WatchTarget,
  waitForEntry,
  watchChanges,
} from "./watch.ts";

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** One key's entry. `updatedAt` and `expiresAt` are ISO-8601 UTC strings, as on the wire. */
export interface StateEntry<T = unknown> {
  key: string;
  value: T;
  version: number;
  updatedAt: string;
  expiresAt: string | null;
}

/** Any JSON value but a top-level null (delete the key instead). Checked in depth by the server. */
// biome-ignore lint/complexity/noBannedTypes: `{}` is exactly "anything but null and undefined".
export type StateValue = {};

/** An asset by its name or by its uri (exactly one); both reach the same state. */
export type AssetRef = { name: string; uri?: never } | { uri: string; name?: never };

export interface CairnClientOptions {
  /** The server's base URL, such as `http://127.0.0.1:4000` (the client calls `<url>/trpc`). */
  url: string | URL;
  /** The task's execution token; its `sub` is the task instance. An admin token needs `taskInstanceId`. */
  token: string;
  /** Only with an admin token (or to assert an execution token's task instance). */
  taskInstanceId?: string | undefined;
  /** Deadline of each call, retries included. Default 10 000 ms. */
  timeoutMs?: number | undefined;
  /**
   * Retries after network errors and 5xx answers, at most; default: as many as fit in `timeoutMs`.
   * 0 disables. A compare-and-set is retried only when it surely was not applied (see OutcomeUnknownError).
   */
  retries?: number | undefined;
  backoff?: BackoffOptions | undefined;
  fetch?: FetchLike | undefined;
  /** Longest batched GET URL. Default 8000. */
  maxURLLength?: number | undefined;
  /** Most calls per HTTP request. Default 50. */
  maxBatchItems?: number | undefined;
  /** Largest batched POST body, roughly; larger writes go alone. Default 512 KiB. */
  maxBatchBytes?: number | undefined;
}

export interface SetOptions extends CallOptions {
  /** When the key expires: a Date or ISO-8601 string; `null` = never; omitted = the server's default retention for task state (never for asset state). */
  expiresAt?: Date | string | null | undefined;
  /** Instead of expiresAt: how long the key lives from now ("7d", "12h", milliseconds), or "never". */
  retention?: Duration | "never" | undefined;
  /** Compare-and-set: write only if the key is at this version; 0 = only if it does not exist. Such writes are never retried. */
  ifVersion?: number | undefined;
}

export interface DeleteOptions extends CallOptions {
  /** Delete only if the key is at this version. Such deletes are never retried. */
  ifVersion?: number | undefined;
}

export interface ClearOptions extends CallOptions {
  /** Task state of a mapped task: clear every map index of this task in this run, not only this one. */
  allMapIndices?: boolean | undefined;
}

export interface ListOptions extends CallOptions {
  /** Only keys starting with this. */
  prefix?: string | undefined;
  /** Entries fetched per request (1..1000). Default 100. `timeoutMs` applies to each page. */
  pageSize?: number | undefined;
}

/** The verbs, on a task's state or an asset's. */
export interface StateClient {
  /** The value, or `undefined` when the key does not exist (or has expired). */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** The value, or `fallback` when the key does not exist (or has expired). The value is not checked against T. */
  get<T>(key: string, fallback: T, options?: CallOptions): Promise<T>;
  /** The whole entry (value, version, timestamps), or null when the key does not exist. */
  entry<T = unknown>(key: string, options?: CallOptions): Promise<StateEntry<T> | null>;
  /** Writes (upserts) a key; returns its new version. Throws VersionConflictError when `ifVersion` does not match. */
  set(key: string, value: StateValue, options?: SetOptions): Promise<{ version: number }>;
  /** Deletes a key; false when it did not exist. */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /** Every entry, page by page, in key order. */
  list<T = unknown>(options?: ListOptions): AsyncIterable<StateEntry<T>>;
  /**
   * Live changes of one key, of the keys under a prefix (`{ prefix }`), or of every key: the current
   * entries first, then `synced`, then each change as it commits. Reconnects and resumes by itself;
   * ends when `signal` aborts; throws when the server refuses (a newer try, an expired token).
   */
  watch<T = unknown>(target?: WatchTarget, options?: WatchOptions): AsyncIterable<WatchChange<T>>;
  /** The first entry of `key` for which `until` is true, the current one included (a watch underneath). */
  waitFor<T = unknown>(
    key: string,
    until: (entry: WatchedEntry<T>) => boolean,
    options?: WaitForOptions,
  ): Promise<WatchedEntry<T>>;
}

export interface TaskStateClient extends StateClient {
  /** Deletes every key of this task instance's map index (or of all map indices); returns how many. */
  clear(options?: ClearOptions): Promise<number>;
}

export interface AssetStateClient extends StateClient {
  readonly ref: AssetRef;
  /** Deletes every key of the asset's state; returns how many. */
  clear(options?: CallOptions): Promise<number>;
}

export interface CairnClient extends TaskStateClient {
  /** The task instance this client reads and writes for. */
  readonly taskInstanceId: string;
  /** The state of an asset the task declares as inlet or outlet. `asset("x")` is `asset({ name: "x" })`. */
  asset(ref: AssetRef | string): AssetStateClient;
  /**
   * Runs `fn` at most once to success across the tries of this task, and returns its stored result on
   * later tries (and later calls): `await cairn.step("fetch-orders", () => fetchOrders())`. A throwing
   * `fn` stores nothing. The result must be plain JSON, or nothing; otherwise StepResultError, which
   * keeps the result. Concurrent calls of one step in this process run `fn` once. Stored as the key
   * `cairn:step:<name>` of the task's state.
   */
  step<T>(name: string, fn: () => T | Promise<T>, options?: CallOptions): Promise<Awaited<T>>;
  /** The underlying typed tRPC client (batched, no retries, no deadline), for anything else. */
  readonly trpc: CairnTRPCClient;
}

const DEFAULTS = { timeoutMs: 10_000, retries: Number.POSITIVE_INFINITY, baseMs: 100, maxMs: 2_000 };

/**
 * Binds a client to a server and a token, once per task run:
 *
 *     const cairn = createCairnClient({ url: process.env.CAIRN_URL!, token: process.env.CAIRN_TOKEN! });
 *     const offset = await cairn.get("offset", 0);
 */
export function createCairnClient(options: CairnClientOptions): CairnClient {
  const taskInstanceId = resolveTaskInstanceId(options.token, options.taskInstanceId);
  const policy: CallPolicy = {
    timeoutMs: positive("timeoutMs", options.timeoutMs ?? DEFAULTS.timeoutMs),
    retries: wholeNumber("retries", options.retries ?? DEFAULTS.retries),
    backoff: {
      baseMs: wholeNumber("backoff.baseMs", options.backoff?.baseMs ?? DEFAULTS.baseMs),
      maxMs: wholeNumber("backoff.maxMs", options.backoff?.maxMs ?? DEFAULTS.maxMs),
    },
  };
  // The verbs go through the lean call batcher; watch streams and `trpc` through tRPC's own client.
  const trpc = createCairnTRPCClient(options);
  const send = verbSender(createCallBatcher(transportSettings(options)));
  const run = <T>(
    path: string,
    idempotent: boolean,
    callOptions: CallOptions | undefined,
    attempt: (deadline: number) => Promise<T>,
  ) => runCall(path, policy, idempotent, callOptions, attempt);

  const taskState: TaskStateClient = stateClient(
    {
      get: (key, deadline) => send("taskState", "get", { taskInstanceId, key }, deadline),
      set: (input, deadline) => send("taskState", "set", { taskInstanceId, ...input }, deadline),
      delete: (input, deadline) => send("taskState", "delete", { taskInstanceId, ...input }, deadline),
      clear: (input, deadline) => send("taskState", "clear", { taskInstanceId, ...input }, deadline),
      list: (input, deadline) => send("taskState", "list", { taskInstanceId, ...input }, deadline),
      watch: (filter, handlers) => trpc.taskState.watch.subscribe({ taskInstanceId, ...filter }, handlers),
    },
    "taskState",
    run,
    policy,
  );

  return {
    ...taskState,
    taskInstanceId,
    step: stepRunner(taskState, `${trpcEndpoint(options.url)}\u0000${taskInstanceId}`),
    trpc,
    asset(refOrName) {
      const ref = assetRef(refOrName);
      return {
        ref,
        ...stateClient(
          {
            get: (key, deadline) => send("assetState", "get", { asset: ref, key }, deadline),
            set: (input, deadline) => send("assetState", "set", { asset: ref, ...input }, deadline),
            delete: (input, deadline) => send("assetState", "delete", { asset: ref, ...input }, deadline),
            clear: (_input, deadline) => send("assetState", "clear", { asset: ref }, deadline),
            list: (input, deadline) => send("assetState", "list", { asset: ref, ...input }, deadline),
            watch: (filter, handlers) => trpc.assetState.watch.subscribe({ asset: ref, ...filter }, handlers),
          },
          "assetState",
          run,
          policy,
        ),
      };
    },
  };
}

type Namespace = "taskState" | "assetState";
type Verb = "get" | "set" | "delete" | "clear" | "list";

/** The call batcher, typed by the router: inputs are checked against the procedures' and answers typed. */
function verbSender(send: SendCall) {
  return <N extends Namespace, V extends Verb>(
    namespace: N,
    verb: V,
    input: RouterInputs[N][V],
    deadline: number,
  ): Promise<RouterOutputs[N][V]> =>
    send(
      verb === "get" || verb === "list" ? "query" : "mutation",
      `${namespace}.${verb}`,
      input,
      deadline,
    ) as Promise<RouterOutputs[N][V]>;
}

/** An entry as tRPC types it: `value: unknown` comes out optional, though the server always sends one. */
type WireEntry = RouterOutputs["taskState"]["get"];

/** The procedures of one namespace (task or asset state), with its address already bound. */
interface Procedures {
  get(key: string, deadline: number): Promise<WireEntry>;
  set(
    input: { key: string; value: unknown; expiresAt?: string | null; ifVersion?: number },
    deadline: number,
  ): Promise<{ version: number }>;
  delete(input: { key: string; ifVersion?: number }, deadline: number): Promise<{ deleted: boolean }>;
  clear(input: { allMapIndices?: boolean }, deadline: number): Promise<{ deleted: number }>;
  list(
    input: { prefix?: string; limit?: number; cursor?: string | null },
    deadline: number,
  ): Promise<{ items: WireEntry[]; nextCursor: string | null }>;
  watch: Subscribe;
}

type Runner = <T>(
  path: string,
  idempotent: boolean,
  options: CallOptions | undefined,
  attempt: (deadline: number) => Promise<T>,
) => Promise<T>;

function stateClient(
  procedures: Procedures,
  namespace: string,
  run: Runner,
  policy: CallPolicy,
): TaskStateClient {
  const watch = <T>(target?: WatchTarget, options?: WatchOptions) =>
    watchChanges<T>(`${namespace}.watch`, procedures.watch, target, policy.backoff, options);
  const entry = async <T>(key: string, options?: CallOptions): Promise<StateEntry<T> | null> => {
    try {
      return (await run(`${namespace}.get`, true, options, (deadline) =>
        procedures.get(key, deadline),
      )) as StateEntry<T>;
    } catch (error) {
      // Only a missing key is "no entry"; a superseded task instance or an unknown asset is an error.
      if (error instanceof NotFoundError && error.reason === "key_not_found") return null;
      throw error;
    }
  };

  return {
    entry,
    async get<T>(key: string, fallback?: T, options?: CallOptions): Promise<T> {
      const found = await entry<T>(key, options);
      return found === null ? (fallback as T) : found.value;
    },
    async set(key, value, options = {}) {
      const { ifVersion, retention } = options;
      if (retention !== undefined && options.expiresAt !== undefined) {
        throw new TypeError("set(): give expiresAt or retention, not both");
      }
      const expiresAt = retention === undefined ? options.expiresAt : expiryFromRetention(retention);
      const input = {
        key,
        value,
        ...(expiresAt === undefined
          ? {}
          : { expiresAt: expiresAt instanceof Date ? isoDate(expiresAt) : expiresAt }),
        ...(ifVersion === undefined ? {} : { ifVersion }),
      };
      // A compare-and-set is not retried: if the first attempt committed but its answer was lost, the
      // retry would find the new version and report a false conflict (or, with ifVersion 0, "exists").
      // The caller must read the entry and decide. A plain set writes the same value again: safe.
      return run(`${namespace}.set`, ifVersion === undefined, options, (deadline) =>
        procedures.set(input, deadline),
      );
    },
    async delete(key, options = {}) {
      const { ifVersion } = options;
      const input = { key, ...(ifVersion === undefined ? {} : { ifVersion }) };
      // Same as set: a retried conditional delete whose first attempt committed finds no key, a conflict.
      const result = await run(`${namespace}.delete`, ifVersion === undefined, options, (deadline) =>
        procedures.delete(input, deadline),
      );
      return result.deleted;
    },
    async clear(options = {}) {
      const input = options.allMapIndices === undefined ? {} : { allMapIndices: options.allMapIndices };
      const result = await run(`${namespace}.clear`, true, options, (deadline) =>
        procedures.clear(input, deadline),
      );
      return result.deleted;
    },
    watch,
    waitFor: <T>(key: string, until: (entry: WatchedEntry<T>) => boolean, options?: WaitForOptions) =>
      waitForEntry<T>(watch, key, until, options),
    list<T>(options: ListOptions = {}): AsyncIterable<StateEntry<T>> {
      const { prefix, pageSize } = options;
      return {
        async *[Symbol.asyncIterator]() {
          let cursor: string | null = null;
          do {
            const input: { prefix?: string; limit?: number; cursor?: string } = {
              ...(prefix === undefined ? {} : { prefix }),
              ...(pageSize === undefined ? {} : { limit: pageSize }),
              ...(cursor === null ? {} : { cursor }),
            };
            const page: { items: WireEntry[]; nextCursor: string | null } = await run(
              `${namespace}.list`,
              true,
              options,
              (deadline) => procedures.list(input, deadline),
            );
            for (const item of page.items) yield item as StateEntry<T>;
            cursor = page.nextCursor;
          } while (cursor !== null);
        },
      };
    },
  } as TaskStateClient;
}

function assetRef(ref: AssetRef | string): AssetRef {
  if (typeof ref === "string") ref = { name: ref };
  const name = typeof ref === "object" && ref !== null ? ref.name : undefined;
  const uri = typeof ref === "object" && ref !== null ? ref.uri : undefined;
  if ((name === undefined) === (uri === undefined)) {
    throw new TypeError("asset(ref): give exactly one of { name } or { uri }");
  }
  if (name !== undefined) {
    if (typeof name !== "string" || name === "")
      throw new TypeError("asset(ref): name must be a non-empty string");
    return { name };
  }
  if (typeof uri !== "string" || uri === "")
    throw new TypeError("asset(ref): uri must be a non-empty string");
  return { uri };
}

function isoDate(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new TypeError("expiresAt is an invalid Date");
  return date.toISOString();
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number of ms`);
  return value;
}

function wholeNumber(name: string, value: number): number {
  if (value === Number.POSITIVE_INFINITY && name === "retries") return value;
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`${name} must be a whole number >= 0`);
  return value;
}
