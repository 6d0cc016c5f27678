// Verified tokens, remembered until they expire: a worker sends the same token on every call, and an
// HS512 check costs more than the rest of a cached request's auth. Only successes are cached, and a hit
// past the token's exp is verified again (and so refused as expired). Sized by CAIRN_TOKEN_CACHE_SIZE:
// an entry is ~0.5 KB, and a server whose active callers outnumber the entries verifies most calls
// again (oldest first out).
import { type Principal, type TokenKeys, verifyTokenWithExpiry } from "./tokens.ts";

interface Cached {
  principal: Principal;
  expiresAtMs: number;
}

const caches = new WeakMap<TokenKeys, Map<string, Cached>>();

/** `maxEntries` 0 verifies every call. */
export async function verifyTokenCached(
  keys: TokenKeys,
  token: string,
  maxEntries: number,
): Promise<Principal> {
  if (maxEntries <= 0) return (await verifyTokenWithExpiry(keys, token)).principal;
  let cache = caches.get(keys);
  if (!cache) {
    cache = new Map();
    caches.set(keys, cache);
  }
  const hit = cache.get(token);
  if (hit && hit.expiresAtMs > Date.now()) return hit.principal;
  const verified = await verifyTokenWithExpiry(keys, token);
  // Bounded: forget the oldest entry first (Map keeps insertion order).
  while (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
  cache.set(token, verified);
  return verified.principal;
}
