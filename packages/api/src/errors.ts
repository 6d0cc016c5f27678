// Domain errors: service functions throw these; one place (error-mapping.ts) turns them into tRPC errors.

/** What kind of failure, independent of the transport. Each maps to one tRPC code. */
export type DomainErrorKind =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unavailable"
  | "outcome_unknown";

/** The `error.data.reason` values of the wire contract (spec §4). */
export type DomainErrorReason =
  | "task_instance_not_found"
  | "task_instance_superseded"
  | "task_instance_exists"
  | "dag_run_not_found"
  | "key_not_found"
  | "asset_not_found"
  | "asset_not_registered"
  | "version_mismatch"
  | "value_too_large"
  | "invalid_value"
  | "asset_uri_taken"
  | "body_too_large"
  | "invalid_token"
  | "token_expired"
  | "insufficient_scope"
  | "not_own_task_instance"
  | "database_unavailable"
  | "outcome_unknown";

/**
 * Each reason's kind (so its tRPC code and HTTP status) and what it tells the caller: the OpenAPI document
 * (openapi/) lists them per procedure (procedure-errors.ts).
 */
export const REASONS = {
  task_instance_not_found: { kind: "not_found", meaning: "no task instance has this id" },
  task_instance_superseded: {
    kind: "not_found",
    meaning: "a newer try of this task instance exists: use the newer try's id and token",
  },
  task_instance_exists: {
    kind: "conflict",
    meaning: "this run, task and map index already have a task instance (retry it instead)",
  },
  dag_run_not_found: { kind: "not_found", meaning: "no dag run has this dagId and runId" },
  key_not_found: { kind: "not_found", meaning: "the key does not exist (or has expired)" },
  asset_not_found: { kind: "not_found", meaning: "the asset does not exist or is inactive" },
  asset_not_registered: {
    kind: "forbidden",
    meaning: "the execution token's task does not declare the asset as an inlet or outlet",
  },
  version_mismatch: {
    kind: "conflict",
    meaning:
      "ifVersion did not match: 0 and the key exists, or n and the key is at another version or missing",
  },
  value_too_large: {
    kind: "payload_too_large",
    meaning: "the value is larger than CAIRN_MAX_VALUE_BYTES as UTF-8 JSON",
  },
  invalid_value: {
    kind: "bad_request",
    meaning:
      "a value the server cannot store (top-level null, U+0000, a lone surrogate, nesting deeper than 64), a cursor it did not return, or a request that is not valid UTF-8",
  },
  asset_uri_taken: { kind: "conflict", meaning: "another asset already has this uri" },
  body_too_large: {
    kind: "payload_too_large",
    meaning: "the request body is larger than the server accepts",
  },
  invalid_token: { kind: "unauthorized", meaning: "no token, or a malformed, badly signed or non-HS512 one" },
  token_expired: { kind: "unauthorized", meaning: "the token has expired" },
  insufficient_scope: {
    kind: "forbidden",
    meaning: "the token's scope may not call this procedure (an execution token on the admin plane)",
  },
  not_own_task_instance: {
    kind: "forbidden",
    meaning: "an execution token addressed another task instance than its own",
  },
  database_unavailable: {
    kind: "unavailable",
    meaning: "the database is not reachable; nothing was written; retry later",
  },
  outcome_unknown: {
    kind: "outcome_unknown",
    meaning: "the database connection broke while the write ran: it may or may not have been applied",
  },
} as const satisfies Record<DomainErrorReason, { kind: DomainErrorKind; meaning: string }>;

export class DomainError extends Error {
  override name = "DomainError";
  constructor(
    readonly kind: DomainErrorKind,
    readonly reason: DomainErrorReason,
    message: string,
    /** What it was made from (a driver error), for logs; never sent to callers. */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

export const notFound = (reason: DomainErrorReason, message: string) =>
  new DomainError("not_found", reason, message);

export const versionMismatch = (key: string, expected: number, actual: number | null) =>
  new DomainError(
    "conflict",
    "version_mismatch",
    actual === null
      ? `key "${key}" does not exist, but ifVersion ${expected} was required`
      : expected === 0
        ? `key "${key}" already exists (version ${actual}), but ifVersion 0 (create only) was required`
        : `key "${key}" is at version ${actual}, but ifVersion ${expected} was required`,
  );
