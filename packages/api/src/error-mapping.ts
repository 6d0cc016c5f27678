// The one place that turns failures into tRPC errors: domain errors, database errors, validation errors.
import { errorCodes, Prisma, UNIQUE_KEYS, uniqueViolation } from "@cairn/db";
import { getTRPCErrorFromUnknown, TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ZodError, z } from "zod";
import { DomainError, type DomainErrorKind, type DomainErrorReason } from "./errors.ts";

/** The tRPC code of each kind of domain error. */
export const codeOf: Record<DomainErrorKind, TRPC_ERROR_CODE_KEY> = {
  bad_request: "BAD_REQUEST",
  unauthorized: "UNAUTHORIZED",
  forbidden: "FORBIDDEN",
  not_found: "NOT_FOUND",
  conflict: "CONFLICT",
  payload_too_large: "PAYLOAD_TOO_LARGE",
  unavailable: "SERVICE_UNAVAILABLE",
  outcome_unknown: "BAD_GATEWAY",
};

/**
 * Called with whatever a procedure threw; returns the error to send, or undefined to keep tRPC's own.
 * `type` matters for a database connection that broke during the call: a mutation may or may not have
 * been applied, a query wrote nothing.
 */
export function toTRPCError(
  error: TRPCError,
  type: "query" | "mutation" | "subscription",
): TRPCError | undefined {
  const cause = error.cause;
  if (cause instanceof DomainError) {
    return new TRPCError({ code: codeOf[cause.kind], message: cause.message, cause });
  }
  const database = fromDatabaseError(cause, type === "mutation");
  if (database)
    return new TRPCError({ code: codeOf[database.kind], message: database.message, cause: database });
  return undefined;
}

/**
 * An error thrown while a subscription's stream runs (after its procedure returned, so outside the
 * middleware that maps errors): mapped the same way, a database outage being 503 database_unavailable.
 */
export function streamError(error: unknown): TRPCError {
  const trpcError = getTRPCErrorFromUnknown(error);
  return toTRPCError(trpcError, "subscription") ?? trpcError;
}

/** Socket errors of a connection that was never made: nothing reached the database. */
const NOT_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
/** Socket errors of a connection that broke: a statement in flight may or may not have committed. */
const CONNECTION_BROKE = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT"]);
// SQLSTATEs of a refused or ended session (connection exception, insufficient resources, shutdown): the
// server answered with an error, so the statement it answered did not commit.
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3])/;
/** pg's messages for a pool that could not connect, and for a connection that ended under a query. */
const CONNECT_TIMEOUT = /timeout exceeded when trying to connect|due to connection timeout|not queryable/i;
const TERMINATED = /Connection terminated/i;

const unavailable = (cause: unknown) =>
  new DomainError(
    "unavailable",
    "database_unavailable",
    "the database is not reachable; nothing was written; retry later",
    cause,
  );
const outcomeUnknown = (cause: unknown) =>
  new DomainError(
    "outcome_unknown",
    "outcome_unknown",
    "the connection to the database broke while the write ran: it may or may not have been applied (read the key before retrying a compare-and-set)",
    cause,
  );

/**
 * Maps Prisma and driver errors; unknown ones stay internal (500, message hidden). A database that cannot
 * be reached is SERVICE_UNAVAILABLE `database_unavailable`, which promises that nothing was applied; a
 * connection that broke under a mutation is BAD_GATEWAY `outcome_unknown`, which promises nothing.
 */
export function fromDatabaseError(error: unknown, mutation = true): DomainError | undefined {
  return fromUniqueViolation(error) ?? fromConnectionFailure(error, mutation);
}

/**
 * A unique key a caller can trip, by its constraint. Any other one is a bug of ours, not the caller's:
 * it stays a 500. (asset_uri_key is answered by upsertAsset, which must first tell a race from a conflict.)
 */
function fromUniqueViolation(error: unknown): DomainError | undefined {
  const violation = uniqueViolation(error);
  if (violation?.constraint === UNIQUE_KEYS.taskInstanceTry) return taskInstanceExists(error);
  return undefined;
}

// Only admin.taskInstances.create inserts a first try; retryTaskInstance retries the races it loses.
const taskInstanceExists = (cause: unknown) =>
  new DomainError(
    "conflict",
    "task_instance_exists",
    "this run, task and map index already have a task instance: use admin.taskInstances.retry for a new try",
    cause,
  );

function fromConnectionFailure(error: unknown, mutation: boolean): DomainError | undefined {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (error.code === "P1001" || error.code === "P1002") return unavailable(error);
    // Server has closed the connection: possibly under the statement.
    if (error.code === "P1017") return mutation ? outcomeUnknown(error) : unavailable(error);
    return undefined;
  }
  if (error instanceof Prisma.PrismaClientInitializationError) return unavailable(error);
  const codes = errorCodes(error);
  if (codes.some((code) => UNAVAILABLE_SQLSTATE.test(code) || NOT_CONNECTED.has(code)))
    return unavailable(error);
  const message = error instanceof Error ? error.message : "";
  if (CONNECT_TIMEOUT.test(message)) return unavailable(error);
  if (codes.some((code) => CONNECTION_BROKE.has(code)) || TERMINATED.test(message)) {
    return mutation ? outcomeUnknown(error) : unavailable(error);
  }
  return undefined;
}

export interface ErrorData {
  code: TRPC_ERROR_CODE_KEY;
  httpStatus: number;
  path?: string;
  reason?: DomainErrorReason;
  /** For input validation failures: which field, what is wrong. */
  fieldErrors?: Record<string, string[]>;
  formErrors?: string[];
}

/** The error shape on the wire: spec §4 (`data.code`, `data.httpStatus`, `data.reason`). */
export function formatError(
  shape: { message: string; code: number; data: ErrorData & Record<string, unknown> },
  error: TRPCError,
) {
  const data: ErrorData = {
    code: shape.data.code,
    httpStatus: shape.data.httpStatus,
    ...(shape.data.path ? { path: shape.data.path } : {}),
  };
  let message = shape.message;
  if (error.cause instanceof DomainError) {
    data.reason = error.cause.reason;
  } else if (error.cause instanceof ZodError) {
    const flat = z.flattenError(error.cause);
    data.fieldErrors = flat.fieldErrors as Record<string, string[]>;
    data.formErrors = flat.formErrors;
    message = `invalid input: ${describeIssues(error.cause)}`;
  } else if (error.code === "PAYLOAD_TOO_LARGE") {
    data.reason = "body_too_large";
  } else if (error.code === "INTERNAL_SERVER_ERROR") {
    message = "internal server error";
  }
  return { message, code: shape.code, data };
}

function describeIssues(error: ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}
