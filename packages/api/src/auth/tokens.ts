// HS512 JWTs (spec §3, §7): execution tokens name a task instance, admin tokens a person or system, viewer
// tokens a person or system that may only read the admin plane.
import { webcrypto } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { DomainError } from "../errors.ts";

export type Principal =
  | { scope: "execution"; sub: string; taskInstanceId: string }
  | { scope: "admin"; sub: string }
  | { scope: "viewer"; sub: string };

export type TokenScope = Principal["scope"];

export interface TokenKeys {
  /** The UTF-8 bytes of CAIRN_JWT_SECRET, as given (not decoded). */
  secret: Uint8Array;
}

export function tokenKeys(secret: string): TokenKeys {
  return { secret: new TextEncoder().encode(secret) };
}

// jose imports a raw secret as a CryptoKey on every verify (a measurable share of a request's CPU):
// import it once per TokenKeys instead.
const verifyKeys = new WeakMap<TokenKeys, Promise<webcrypto.CryptoKey>>();

function verifyKey(keys: TokenKeys): Promise<webcrypto.CryptoKey> {
  let key = verifyKeys.get(keys);
  if (!key) {
    key = webcrypto.subtle.importKey("raw", keys.secret, { name: "HMAC", hash: "SHA-512" }, false, [
      "verify",
    ]);
    verifyKeys.set(keys, key);
  }
  return key;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function signToken(
  keys: TokenKeys,
  claims: { sub: string; scope: TokenScope },
  expiresAt: Date,
): Promise<string> {
  return new SignJWT({ scope: claims.scope })
    .setProtectedHeader({ alg: "HS512", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(keys.secret);
}

/** Verifies signature, algorithm (HS512 only) and expiry; throws UNAUTHORIZED with a reason otherwise. */
export async function verifyToken(keys: TokenKeys, token: string): Promise<Principal> {
  return (await verifyTokenWithExpiry(keys, token)).principal;
}

export async function verifyTokenWithExpiry(
  keys: TokenKeys,
  token: string,
): Promise<{ principal: Principal; expiresAtMs: number }> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, await verifyKey(keys), {
      algorithms: ["HS512"],
      requiredClaims: ["sub", "scope", "exp"],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) {
      throw new DomainError(
        "unauthorized",
        "token_expired",
        "token has expired: ask the scheduler for a new one",
      );
    }
    throw new DomainError("unauthorized", "invalid_token", "token is malformed, badly signed or not HS512");
  }
  const { sub, scope } = payload;
  const expiresAtMs = Number(payload.exp) * 1000;
  if (typeof sub !== "string" || sub === "") {
    throw new DomainError("unauthorized", "invalid_token", "token has no subject");
  }
  if (scope === "admin" || scope === "viewer") return { principal: { scope, sub }, expiresAtMs };
  if (scope === "execution") {
    if (!UUID.test(sub)) {
      throw new DomainError(
        "unauthorized",
        "invalid_token",
        "execution token subject is not a task instance id",
      );
    }
    const taskInstanceId = sub.toLowerCase();
    return { principal: { scope, sub: taskInstanceId, taskInstanceId }, expiresAtMs };
  }
  // A valid token, but for no scope this API knows: it may call nothing.
  throw new DomainError(
    "forbidden",
    "insufficient_scope",
    'token scope must be "execution", "admin" or "viewer"',
  );
}

/** Reads `Authorization: Bearer <token>`; returns undefined when absent. */
export function bearerToken(header: string | string[] | undefined | null): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1] ?? "";
}
