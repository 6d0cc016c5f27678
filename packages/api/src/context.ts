// Request context. createContextInner is what tests and in-process callers use; the server builds it
// from an HTTP request with createContextFromToken.
import type { Database } from "@cairn/db";
import { verifyTokenCached } from "./auth/token-cache.ts";
import type { Principal, TokenKeys } from "./auth/tokens.ts";
import { DomainError } from "./errors.ts";

export interface ApiConfig {
  tokenKeys: TokenKeys;
  /** CAIRN_MAX_VALUE_BYTES: largest value as UTF-8 JSON; 0 = no limit. */
  maxValueBytes: number;
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

export interface CallObserver {
  onCall(call: ProcedureCall): void;
}

export interface Context {
  db: Database;
  config: ApiConfig;
  observer?: CallObserver | undefined;
  /** Resolves the caller from its token; rejects with UNAUTHORIZED. Memoized per request (a batch shares it). */
  authenticate(): Promise<Principal>;
}

export function createContextInner(opts: {
  db: Database;
  config: ApiConfig;
  principal: Principal | null;
  observer?: CallObserver | undefined;
}): Context {
  const { principal } = opts;
  return {
    db: opts.db,
    config: opts.config,
    observer: opts.observer,
    authenticate: async () => {
      if (!principal) throw missingToken();
      return principal;
    },
  };
}

export function createContextFromToken(opts: {
  db: Database;
  config: ApiConfig;
  token: string | undefined;
  observer?: CallObserver | undefined;
}): Context {
  let principal: Promise<Principal> | undefined;
  return {
    db: opts.db,
    config: opts.config,
    observer: opts.observer,
    authenticate: () => {
      if (opts.token === undefined) return Promise.reject(missingToken());
      principal ??= verifyTokenCached(opts.config.tokenKeys, opts.token, opts.config.tokenCacheSize);
      return principal;
    },
  };
}

function missingToken(): DomainError {
  return new DomainError(
    "unauthorized",
    "invalid_token",
    "missing token: send Authorization: Bearer <token>",
  );
}
