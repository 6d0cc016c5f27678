// Reads a token's claims without verifying it: the client only needs `sub` (its task instance) and
// `scope`; the server verifies the signature and expiry on every call.

export interface TokenClaims {
  sub: string;
  scope: string;
  /** Seconds since the epoch. */
  exp: number | undefined;
  iat: number | undefined;
}

/** Decodes a JWT's payload (base64url JSON). Throws a TypeError when it is not a JWT. */
export function readTokenClaims(token: string): TokenClaims {
  if (typeof token !== "string" || token.trim() === "") {
    throw new TypeError("Cairn token is missing: pass the execution token the scheduler gave this task");
  }
  const parts = token.trim().split(".");
  if (parts.length !== 3 || !parts[1]) {
    throw new TypeError("Cairn token is not a JWT (expected three dot-separated parts)");
  }
  let payload: unknown;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    throw new TypeError("Cairn token is not a JWT (its payload is not base64url-encoded JSON)");
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new TypeError("Cairn token is not a JWT (its payload is not a JSON object)");
  }
  const { sub, scope, exp, iat } = payload as Record<string, unknown>;
  if (typeof sub !== "string" || sub === "") throw new TypeError("Cairn token has no `sub` claim");
  if (typeof scope !== "string") throw new TypeError("Cairn token has no `scope` claim");
  return {
    sub,
    scope,
    exp: typeof exp === "number" ? exp : undefined,
    iat: typeof iat === "number" ? iat : undefined,
  };
}

function base64UrlDecode(text: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const base64 = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=");
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The task instance a client acts for: the `sub` of an execution token, or, with an admin token (the
 * scheduler, an operator, a test), the `taskInstanceId` given explicitly.
 */
export function resolveTaskInstanceId(token: string, explicit: string | undefined): string {
  const claims = readTokenClaims(token);
  if (claims.scope === "execution") {
    const sub = claims.sub.toLowerCase();
    if (explicit !== undefined && explicit.toLowerCase() !== sub) {
      throw new TypeError(
        `taskInstanceId ${explicit} is not this execution token's task instance (${sub}); an execution token may only touch its own state`,
      );
    }
    return sub;
  }
  if (claims.scope === "admin") {
    if (explicit === undefined) {
      throw new TypeError(
        `this is an admin token (sub "${claims.sub}"), not an execution token: pass taskInstanceId as well, or use the task's execution token`,
      );
    }
    if (!UUID.test(explicit)) throw new TypeError(`taskInstanceId must be a UUID, got "${explicit}"`);
    return explicit.toLowerCase();
  }
  throw new TypeError(`Cairn token has scope "${claims.scope}": expected an execution token`);
}
