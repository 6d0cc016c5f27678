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
