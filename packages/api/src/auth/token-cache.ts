// Verified tokens, remembered until they expire: a worker sends the same token on every call, and an
// HS512 check costs more than the rest of a cached request's auth. Only successes are cached, and a hit
// past the token's exp is verified again (and so refused as expired).
import { type Principal, type TokenKeys, verifyTokenWithExpiry } from "./tokens.ts";

const MAX_ENTRIES = 10_000;

interface Cached {
  principal: Principal;
  expiresAtMs: number;
}

const caches = new WeakMap<TokenKeys, Map<string, Cached>>();

export async function verifyTokenCached(keys: TokenKeys, token: string): Promise<Principal> {
  let cache = caches.get(keys);
  if (!cache) {
    cache = new Map();
    caches.set(keys, cache);
  }
  const hit = cache.get(token);
  if (hit && hit.expiresAtMs > Date.now()) return hit.principal;
  const verified = await verifyTokenWithExpiry(keys, token);
  // Bounded: forget the oldest entry first (Map keeps insertion order).
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  cache.set(token, verified);
  return verified.principal;
}
