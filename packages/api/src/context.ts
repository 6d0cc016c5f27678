// Request context. createContextInner is what tests and in-process callers use; the server builds it
// from an HTTP request with createContextFromToken.
import type { Database } from "@cairn/db";
import { decodeJwt } from "jose";
import { verifyTokenCached } from "./auth/token-cache.ts";
import type { Principal, TokenKeys } from "./auth/tokens.ts";
import { DomainError } from "./errors.ts";
import type { CallHistory } from "./services/operator/call-history.ts";
import type { WatchHub } from "./services/watch/hub.ts";
import type { WatchWriter } from "./services/watch/stream.ts";

export interface ApiConfig {
  tokenKeys: TokenKeys;
  /** CAIRN_MAX_VALUE_BYTES: largest value as UTF-8 JSON; 0 = no limit. */
  maxValueBytes: number;
  /** CAIRN_MAX_PAGE_BYTES: a list page stops once its values pass this many bytes (one item always fits). */
  maxPageBytes: number;
  /** CAIRN_DEFAULT_RETENTION_DAYS: expiry of task state written without expiresAt; 0 = never. */
  defaultRetentionDays: number;
  /** Lifetime of tokens from admin.tokens.issue when ttlSeconds is not given. */
  defaultTokenTtlSeconds: number;
  /** CAIRN_CLEAR_ON_SUCCESS: delete a task's state when it is set to success. */
  clearOnSuccess: boolean;
  /** CAIRN_TOKEN_CACHE_SIZE: verified tokens remembered (each ~0.5 KB); 0 verifies every call. */
  tokenCacheSize: number;
}

export const defaultApiConfig = {
  maxValueBytes: 65_535,
  maxPageBytes: 4 * 1024 * 1024,
  defaultRetentionDays: 30,
  defaultTokenTtlSeconds: 24 * 60 * 60,
  clearOnSuccess: false,
  tokenCacheSize: 100_000,
} satisfies Omit<ApiConfig, "tokenKeys">;

/** One finished procedure call, for metrics. */
export interface ProcedureCall {
  path: string;
  /** "OK" or the tRPC error code. */
  outcome: string;
  durationMs: number;
  plane: "task" | "asset" | "none";
  rowsWritten: number;
  rowsDeleted: number;
  deletedVia: "delete" | "clear" | "lifecycle";
  /** Expired rows an operator's cleanup (admin.cleanup.run) deleted, per plane. */
  cleanupDeleted?: { task: number; asset: number } | undefined;
}

/** A write made with an admin token, for the audit log: who (the token's `sub`) did what to which state. */
export interface AdminWrite {
  path: string;
  sub: string;
  /** "OK" or the tRPC error code. */
  outcome: string;
  /** The input's addressing fields (dag, run, task, key, asset, ...), never values. */
  target: Record<string, unknown>;
  requestId?: string | undefined;
}

export interface CallObserver {
  onCall(call: ProcedureCall): void;
  onAdminWrite?(write: AdminWrite): void;
}

export interface Context {
  db: Database;
  config: ApiConfig;
  /** Live changes for watch streams; absent where nothing serves them (a plain createCaller). */
  watch?: WatchHub | undefined;
  /** Set by the SSE writer: live watch events go straight to the client (see WatchWriter). */
  watchWriter?: WatchWriter | undefined;
  /** False once the caller's token has expired (a watch stream then ends). */
  tokenValid(): boolean;
  observer?: CallObserver | undefined;
  /** The server's recent calls (admin.metrics.recent); absent where nothing records them. */
  callHistory?: CallHistory | undefined;
  /** When the caller's token expires (ms since the epoch); undefined without a token or an `exp`. */
  tokenExpiresAtMs(): number | undefined;
  /** The HTTP request's id (x-request-id), for log lines the API asks the observer to write. */
  requestId?: string | undefined;
  /** Resolves the caller from its token; rejects with UNAUTHORIZED. Memoized per request (a batch shares it). */
  authenticate(): Promise<Principal>;
  /** The caller, once authenticate() has resolved; undefined before or when it failed. */
  authenticated(): Principal | undefined;
}

export function createContextInner(opts: {
  db: Database;
  config: ApiConfig;
  principal: Principal | null;
  observer?: CallObserver | undefined;
  watch?: WatchHub | undefined;
}): Context {
  const { principal } = opts;
  return {
    db: opts.db,
    config: opts.config,
    observer: opts.observer,
    watch: opts.watch,
    tokenValid: () => true,
    tokenExpiresAtMs: () => undefined,
    authenticate: async () => {
      if (!principal) throw missingToken();
      return principal;
    },
    authenticated: () => principal ?? undefined,
  };
}

export function createContextFromToken(opts: {
  db: Database;
  config: ApiConfig;
  token: string | undefined;
  observer?: CallObserver | undefined;
  requestId?: string | undefined;
  watch?: WatchHub | undefined;
  callHistory?: CallHistory | undefined;
}): Context {
  let principal: Promise<Principal> | undefined;
  let resolved: Principal | undefined;
  let expiresAtMs: number | undefined;
  const expiry = () => {
    expiresAtMs ??= (decodeJwt(opts.token ?? "").exp ?? Number.POSITIVE_INFINITY) * 1000;
    return expiresAtMs;
  };
  return {
    db: opts.db,
    config: opts.config,
    observer: opts.observer,
    requestId: opts.requestId,
    watch: opts.watch,
    callHistory: opts.callHistory,
    // Both only asked after authenticate() verified the token; its exp is then trustworthy.
    tokenValid: () => opts.token !== undefined && Date.now() < expiry(),
    tokenExpiresAtMs: () => {
      if (opts.token === undefined) return undefined;
      const at = expiry();
      return Number.isFinite(at) ? at : undefined;
    },
    authenticate: () => {
      if (opts.token === undefined) return Promise.reject(missingToken());
      principal ??= verifyTokenCached(opts.config.tokenKeys, opts.token, opts.config.tokenCacheSize).then(
        (verified) => {
          resolved = verified;
          return verified;
        },
      );
      return principal;
    },
    authenticated: () => resolved,
  };
}

function missingToken(): DomainError {
  return new DomainError(
    "unauthorized",
    "invalid_token",
    "missing token: send Authorization: Bearer <token>",
  );
}
