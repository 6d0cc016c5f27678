// The one place that turns failures into tRPC errors: domain errors, database errors, validation errors.
import { Prisma } from "@cairn/db";
import { TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ZodError, z } from "zod";
import { DomainError, type DomainErrorKind, type DomainErrorReason } from "./errors.ts";

const codeOf: Record<DomainErrorKind, TRPC_ERROR_CODE_KEY> = {
  bad_request: "BAD_REQUEST",
  unauthorized: "UNAUTHORIZED",
  forbidden: "FORBIDDEN",
  not_found: "NOT_FOUND",
  conflict: "CONFLICT",
  payload_too_large: "PAYLOAD_TOO_LARGE",
  unavailable: "SERVICE_UNAVAILABLE",
};

/** Called with whatever a procedure threw; returns the error to send, or undefined to keep tRPC's own. */
export function toTRPCError(error: TRPCError): TRPCError | undefined {
  const cause = error.cause;
  if (cause instanceof DomainError) {
    return new TRPCError({ code: codeOf[cause.kind], message: cause.message, cause });
  }
  const database = fromDatabaseError(cause);
  if (database)
    return new TRPCError({ code: codeOf[database.kind], message: database.message, cause: database });
  return undefined;
}

// SQLSTATE classes that mean "the database is unreachable or shutting down", not "the request was bad".
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3])/;

/** Maps Prisma and driver errors; unknown ones stay internal (500, message hidden). */
export function fromDatabaseError(error: unknown): DomainError | undefined {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (error.code === "P2002") return new DomainError("conflict", "task_instance_exists", "already exists");
    if (error.code === "P2025") return new DomainError("not_found", "key_not_found", "record not found");
    if (error.code === "P1001" || error.code === "P1002" || error.code === "P1017") {
      return new DomainError(
        "unavailable",
        "database_unavailable",
        "the database is not reachable; retry later",
      );
    }
    return undefined;
  }
  if (error instanceof Prisma.PrismaClientInitializationError) {
    return new DomainError(
      "unavailable",
      "database_unavailable",
      "the database is not reachable; retry later",
    );
  }
  const sqlState = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
  if (typeof sqlState === "string" && UNAVAILABLE_SQLSTATE.test(sqlState)) {
    return new DomainError(
      "unavailable",
      "database_unavailable",
      "the database is not reachable; retry later",
    );
  }
  if (
    error instanceof Error &&
    /timeout exceeded when trying to connect|Connection terminated/i.test(error.message)
  ) {
    return new DomainError(
      "unavailable",
      "database_unavailable",
      "the database is not reachable; retry later",
    );
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
