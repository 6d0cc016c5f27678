// A PostgreSQL that cannot be reached, said the way an operator can act on: where (host:port from
// DATABASE_URL) and why, instead of a driver's bare error code.
const CAUSES: Record<string, string> = {
  ECONNREFUSED: "connection refused (is PostgreSQL running and listening there?)",
  ENOTFOUND: "host not found (check the host name in DATABASE_URL)",
  EAI_AGAIN: "host name lookup failed (DNS)",
  ETIMEDOUT: "no answer (timed out; check the host, port and firewalls)",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset by the server",
  "28P01": "password authentication failed",
  "28000": "the server refused this user or host (pg_hba.conf)",
  "3D000": "the database does not exist (create it first)",
  "57P03": "the server is starting up or shutting down",
  "53300": "too many connections",
};

/** Causes that waiting does not cure: the database answered, and refused. */
const PERMANENT = new Set(["28P01", "28000", "3D000"]);

export class DatabaseUnreachableError extends Error {
  override name = "DatabaseUnreachableError";
  /** False when PostgreSQL answered and refused (bad password, no such database): waiting will not help. */
  readonly mayRecover: boolean;

  constructor(message: string, options: { cause: unknown; mayRecover: boolean }) {
    super(message, { cause: options.cause });
    this.mayRecover = options.mayRecover;
  }
}

/** host:port of a postgresql:// URL, as the driver will use it (defaults localhost:5432). */
export function endpointOf(url: string): string {
  try {
    const parsed = new URL(url);
    const host = decodeURIComponent(parsed.hostname) || parsed.searchParams.get("host") || "localhost";
    return `${host}:${parsed.port || "5432"}`;
  } catch {
    return "(unparsable DATABASE_URL)";
  }
}

/** The `code`s on an error and on the errors it wraps (`cause` chains, an AggregateError's `errors`). */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  const queue: unknown[] = [error];
  for (let i = 0; i < queue.length && i < 10; i++) {
    const current = queue[i];
    if (typeof current !== "object" || current === null) continue;
    const { code, cause, errors } = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === "string") codes.push(code);
    queue.push(cause, ...(Array.isArray(errors) ? errors : []));
  }
  return codes;
}

function causeOf(error: unknown): string {
  const seen = new Set<unknown>();
  // Driver errors wrap others (AggregateError of IPv4/IPv6 attempts, `cause` chains): find a known code.
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (typeof current !== "object" || current === null || seen.has(current)) continue;
    seen.add(current);
    const { code, message, cause, errors } = current as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === "string" && CAUSES[code]) return `${CAUSES[code]} [${code}]`;
    if (typeof message === "string" && /timeout/i.test(message)) return CAUSES.ETIMEDOUT!;
    if (typeof message === "string" && /connection terminated/i.test(message)) {
      return "the connection closed before PostgreSQL answered (a firewall, or not PostgreSQL on that port)";
    }
    queue.push(cause, ...(Array.isArray(errors) ? errors : []));
  }
  return error instanceof Error ? error.message : String(error);
}

export function unreachable(url: string, error: unknown): DatabaseUnreachableError {
  return new DatabaseUnreachableError(
    `cannot reach PostgreSQL at ${endpointOf(url)} (DATABASE_URL): ${causeOf(error)}`,
    { cause: error, mayRecover: !errorCodes(error).some((code) => PERMANENT.has(code)) },
  );
}
