// Verified tokens, remembered until they expire: a worker sends the same token on every call, and an
// HS512 check costs more than the rest of a cached request's auth. Only successes are cached, and a hit
// past the token's exp is verified again (and so refused as expired). Sized by CAIRN_TOKEN_CACHE_SIZE
// entries, and by bytes: a usual entry is ~0.3 KB, and the cache holds at most 1 KB per entry of its size
// on average, so a caller with very long tokens (a huge `sub`) cannot make it hold more. Oldest first out.
import { createHash } from "node:crypto";
import { type Principal, type TokenKeys, verifyTokenWithExpiry } from "./tokens.ts";

/** Memory allowed per entry of CAIRN_TOKEN_CACHE_SIZE, on average. */
export const BYTES_PER_ENTRY = 1024;
/** What an entry costs beyond its strings (Map slot, objects), roughly. */
const ENTRY_OVERHEAD = 200;

interface Cached {
  principal: Principal;
  expiresAtMs: number;
  bytes: number;
}

interface Cache {
  entries: Map<string, Cached>;
  bytes: number;
}

const caches = new WeakMap<TokenKeys, Cache>();

/**
 * The cache's key for a token: its SHA-256, 44 characters instead of the token's 300 or more. With
 * 100 000 workers' tokens cached that is about 25 MB less, for a microsecond of hashing per call.
 */
function keyOf(token: string): string {
  return createHash("sha256").update(token).digest("base64");
}

/** JavaScript strings are UTF-16: two bytes a character. */
function costOf(key: string, principal: Principal): number {
  return 2 * (key.length + principal.sub.length) + ENTRY_OVERHEAD;
}

/** `maxEntries` 0 verifies every call. */
export async function verifyTokenCached(
  keys: TokenKeys,
  token: string,
  maxEntries: number,
): Promise<Principal> {
  if (maxEntries <= 0) return (await verifyTokenWithExpiry(keys, token)).principal;
  let cache = caches.get(keys);
  if (!cache) {
    cache = { entries: new Map(), bytes: 0 };
    caches.set(keys, cache);
  }
  const key = keyOf(token);
  const hit = cache.entries.get(key);
  if (hit && hit.expiresAtMs > Date.now()) return hit.principal;
  const verified = await verifyTokenWithExpiry(keys, token);
  const bytes = costOf(key, verified.principal);
  const maxBytes = maxEntries * BYTES_PER_ENTRY;
  if (bytes > maxBytes) return verified.principal; // larger than the whole cache: verified every call
  if (hit) forget(cache, key);
  // Bounded: forget the oldest entries first (a Map keeps insertion order).
  while (cache.entries.size >= maxEntries || cache.bytes + bytes > maxBytes) {
    forget(cache, cache.entries.keys().next().value as string);
  }
  // Built field by field: a spread of `verified` gave every entry a hidden class of its own (V8 copies the
  // map of an object with a double field), three more heap objects per entry for the GC to mark.
  cache.entries.set(key, { principal: verified.principal, expiresAtMs: verified.expiresAtMs, bytes });
  cache.bytes += bytes;
  return verified.principal;
}

function forget(cache: Cache, key: string): void {
  const entry = cache.entries.get(key);
  if (!entry) return;
  cache.entries.delete(key);
  cache.bytes -= entry.bytes;
}

/** What the cache of these keys holds now (for tests and diagnostics). */
export function tokenCacheUsage(keys: TokenKeys): { entries: number; bytes: number } {
  const cache = caches.get(keys);
  return { entries: cache?.entries.size ?? 0, bytes: cache?.bytes ?? 0 };
}
