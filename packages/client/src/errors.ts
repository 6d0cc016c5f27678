// Typed errors: every failure a verb can throw is a CairnError, classified from the tRPC error's `data`
// (spec §4: `data.code`, `data.httpStatus`, `data.reason`) or, with no tRPC answer, from the transport.
import type { DomainErrorReason, ErrorData } from "@cairn/api";
import { TRPCClientError } from "@trpc/client";

/** The tRPC code name, or what went wrong before any answer: `NETWORK_ERROR`, `TIMEOUT`. */
export type CairnErrorCode = ErrorData["code"] | "NETWORK_ERROR" | "TIMEOUT";

export interface CairnErrorOptions {
  code: CairnErrorCode;
  /** The HTTP status of the answer; 0 when there was none (network error, timeout). */
  httpStatus: number;
  reason?: DomainErrorReason | undefined;
  /** The procedure, such as `taskState.set`. */
  path?: string | undefined;
  cause?: unknown;
}

export class CairnError extends Error {
  override name = "CairnError";
  readonly code: CairnErrorCode;
  readonly httpStatus: number;
  /** `data.reason` of the wire contract, for domain errors (`key_not_found`, `version_mismatch`, ...). */
  readonly reason: DomainErrorReason | undefined;
  readonly path: string | undefined;

  constructor(message: string, options: CairnErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.httpStatus = options.httpStatus;
    this.reason = options.reason;
    this.path = options.path;
  }

  /** Whether trying the same call again may succeed: network errors and 5xx answers. */
  get retryable(): boolean {
    return false;
  }
}

/** 400: the input breaks the contract (a bad key, a value that is not storable JSON, an unknown field). */
export class BadRequestError extends CairnError {
  override name = "BadRequestError";
}

/** 401: missing, malformed, badly signed or expired token (`invalid_token`, `token_expired`). */
export class UnauthorizedError extends CairnError {
  override name = "UnauthorizedError";
}

/** 403: the token may not do this (`asset_not_registered`, `not_own_task_instance`, `insufficient_scope`). */
export class ForbiddenError extends CairnError {
  override name = "ForbiddenError";
}

/** 404, any reason but a missing key where the verb has a fallback (`task_instance_superseded`, `asset_not_found`, ...). */
export class NotFoundError extends CairnError {
  override name = "NotFoundError";
}

/** 409. */
export class ConflictError extends CairnError {
  override name = "ConflictError";
}

/** 409 `version_mismatch`: an `ifVersion` write or delete found another version. Read, then decide. */
export class VersionConflictError extends ConflictError {
  override name = "VersionConflictError";
}

/** 413: `value_too_large` (CAIRN_MAX_VALUE_BYTES) or `body_too_large`. */
export class ValueTooLargeError extends CairnError {
  override name = "ValueTooLargeError";
}

/** 5xx, or an answer that is not the Cairn API's. Retried for idempotent verbs when the status is 5xx. */
export class ServerError extends CairnError {
  override name = "ServerError";
  override get retryable(): boolean {
    return this.httpStatus >= 500;
  }
}

/** No answer: connection refused or reset, DNS failure. Retried for idempotent verbs. */
export class NetworkError extends CairnError {
  override name = "NetworkError";
  /**
   * False when the request surely never reached the server (the connection was refused, the host not
   * found): then even a compare-and-set is safe to send again.
   */
  readonly mayHaveReachedServer: boolean;

  constructor(message: string, options: CairnErrorOptions & { mayHaveReachedServer?: boolean }) {
    super(message, options);
    this.mayHaveReachedServer = options.mayHaveReachedServer ?? true;
  }

  override get retryable(): boolean {
    return true;
  }
}

/**
 * A compare-and-set (`set` or `delete` with `ifVersion`) whose outcome is unknown: the connection to the
 * server, or the server's to its database (502 `outcome_unknown`), broke after the request left. It may
 * or may not have been applied; sending it again could report a false conflict or apply it twice, so the
 * client does not. Read the entry and decide.
 */
export class OutcomeUnknownError extends CairnError {
  override name = "OutcomeUnknownError";
}

/** The call's deadline (`timeoutMs`) passed, retries included. Not retried: the time is spent. */
export class TimeoutError extends NetworkError {
  override name = "TimeoutError";
  override get retryable(): boolean {
    return false;
  }
}

/** A non-JSON answer, thrown from inside fetch so that the status survives tRPC's parsing. */
export class HttpStatusError extends Error {
  override name = "HttpStatusError";
  constructor(
    readonly status: number,
    readonly contentType: string | null,
  ) {
    super(`HTTP ${status} with ${contentType ? `content-type ${contentType}` : "no content-type"}`);
  }
}

/** Turns whatever a tRPC call threw into a CairnError; other errors (bugs) are returned as they are. */
export function toCairnError(error: unknown, path?: string): unknown {
  if (error instanceof CairnError) return error;
  if (!(error instanceof TRPCClientError)) return error;
  const data = error.data as Partial<ErrorData> | undefined | null;
  if (data && typeof data.code === "string" && typeof data.httpStatus === "number") {
    return fromCode(error.message, {
      code: data.code,
      httpStatus: data.httpStatus,
      reason: data.reason,
      path,
      cause: error,
    });
  }
  const status = httpStatusOf(error);
  if (
    status === undefined &&
    error.cause instanceof Error &&
    /too big for a single dispatch/.test(error.cause.message)
  ) {
    // httpBatchLink (the raw `trpc` client) refuses, before sending, a GET whose URL alone exceeds
    // maxURLLength; the verbs' batcher throws a BadRequestError itself.
    return new BadRequestError(
      `${path ?? "request"}: the input makes a URL longer than maxURLLength (shorten the key, prefix or asset name, or raise maxURLLength)`,
      { code: "BAD_REQUEST", httpStatus: 0, path, cause: error },
    );
  }
  if (status === undefined) {
    return new NetworkError(`${path ?? "request"}: no answer from the Cairn server: ${describe(error)}`, {
      code: "NETWORK_ERROR",
      httpStatus: 0,
      path,
      cause: error,
      mayHaveReachedServer: !codesOf(error).some((code) => NEVER_CONNECTED.has(code)),
    });
  }
  const message = `${path ?? "request"}: unexpected HTTP ${status} answer, not one of the Cairn API (is the url the server's base URL, and is a proxy in the way?)`;
  return fromCode(message, { code: codeOfStatus(status), httpStatus: status, path, cause: error });
}

function fromCode(message: string, options: CairnErrorOptions): CairnError {
  switch (options.code) {
    case "BAD_REQUEST":
      return new BadRequestError(message, options);
    case "UNAUTHORIZED":
      return new UnauthorizedError(message, options);
    case "FORBIDDEN":
      return new ForbiddenError(message, options);
    case "NOT_FOUND":
      return new NotFoundError(message, options);
    case "CONFLICT":
      return options.reason === "version_mismatch"
        ? new VersionConflictError(message, options)
        : new ConflictError(message, options);
    case "PAYLOAD_TOO_LARGE":
      return new ValueTooLargeError(message, options);
    default:
      return options.httpStatus >= 500 || options.httpStatus < 400
        ? new ServerError(message, options)
        : new CairnError(message, options);
  }
}

function httpStatusOf(error: {
  cause?: unknown;
  meta?: Record<string, unknown> | undefined;
}): number | undefined {
  if (error.cause instanceof HttpStatusError) return error.cause.status;
  const response = error.meta?.response as { status?: unknown } | undefined;
  return typeof response?.status === "number" ? response.status : undefined;
}

const CODE_OF_STATUS: Record<number, ErrorData["code"]> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  429: "TOO_MANY_REQUESTS",
  502: "BAD_GATEWAY",
  503: "SERVICE_UNAVAILABLE",
  504: "GATEWAY_TIMEOUT",
};

function codeOfStatus(status: number): ErrorData["code"] {
  return CODE_OF_STATUS[status] ?? (status >= 400 && status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR");
}

/** Errors of a connection that was never made (undici and Node socket codes): the request was not sent. */
const NEVER_CONNECTED = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; typeof current === "object" && current !== null && depth < 6; depth++) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === "string") codes.push(code);
    current = cause;
  }
  return codes;
}

/** The innermost useful message: fetch says "fetch failed" and keeps ECONNREFUSED in its cause. */
function describe(error: Error): string {
  const parts: string[] = [];
  let current: unknown = error.cause ?? error;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    parts.push(typeof code === "string" ? `${current.message} (${code})` : current.message);
    current = current.cause;
  }
  return parts.join(": ") || error.message;
}
