import { afterEach, describe, expect, it, vi } from "vitest";
import { BYTES_PER_ENTRY, tokenCacheUsage, verifyTokenCached } from "./token-cache.ts";
import { signToken, tokenKeys } from "./tokens.ts";

const keys = tokenKeys("token-cache-test-secret-0123456789-0123456789");
const id = "01a213ac-2454-7592-a267-fe6469194b18";

describe("verifyTokenCached", () => {
  afterEach(() => vi.useRealTimers());

  it("accepts a valid token again without re-verifying it, and refuses it once it has expired", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-06-01T00:00:00Z"));
    const token = await signToken(keys, { sub: id, scope: "execution" }, new Date("2026-06-01T00:10:00Z"));
    const principal = { scope: "execution", sub: id, taskInstanceId: id };
    expect(await verifyTokenCached(keys, token, 1_000)).toEqual(principal);
    vi.setSystemTime(new Date("2026-06-01T00:09:59Z"));
    expect(await verifyTokenCached(keys, token, 1_000)).toEqual(principal);
    vi.setSystemTime(new Date("2026-06-01T00:10:01Z"));
    await expect(verifyTokenCached(keys, token, 1_000)).rejects.toMatchObject({ reason: "token_expired" });
  });

  it("never caches a refusal, nor a token signed with another secret", async () => {
    const other = tokenKeys("another-secret-0123456789-0123456789-abcdef");
    const token = await signToken(other, { sub: id, scope: "execution" }, new Date(Date.now() + 60_000));
    await expect(verifyTokenCached(keys, token, 1_000)).rejects.toMatchObject({ reason: "invalid_token" });
    await expect(verifyTokenCached(keys, token, 1_000)).rejects.toMatchObject({ reason: "invalid_token" });
    // The same token under its own secret is a different cache: accepted there.
    expect(await verifyTokenCached(other, token, 1_000)).toMatchObject({ taskInstanceId: id });
  });

  it("with size 0 verifies every call: a valid token is accepted, an expired one refused", async () => {
    const token = await signToken(keys, { sub: id, scope: "execution" }, new Date(Date.now() + 60_000));
    expect(await verifyTokenCached(keys, token, 0)).toMatchObject({ taskInstanceId: id });
    const expired = await signToken(keys, { sub: id, scope: "execution" }, new Date(Date.now() - 1_000));
    await expect(verifyTokenCached(keys, expired, 0)).rejects.toMatchObject({ reason: "token_expired" });
  });

  it("is bounded in entries and in bytes: long tokens cannot make it hold more than 1 KB per entry", async () => {
    const bounded = tokenKeys("token-cache-bytes-secret-0123456789-0123456789");
    const expires = new Date(Date.now() + 600_000);
    // Usual tokens: the entry bound applies.
    for (let i = 0; i < 30; i++) {
      await verifyTokenCached(
        bounded,
        await signToken(bounded, { sub: `admin-${i}`, scope: "admin" }, expires),
        10,
      );
    }
    expect(tokenCacheUsage(bounded).entries).toBe(10);
    // Admin tokens whose `sub` is 3 000 characters cost ~15 KB each, more than the whole 10 KB budget:
    // verified on every call, never cached.
    for (let i = 0; i < 30; i++) {
      const long = await signToken(bounded, { sub: `${i}-${"x".repeat(3_000)}`, scope: "admin" }, expires);
      expect(await verifyTokenCached(bounded, long, 10)).toMatchObject({ scope: "admin" });
      expect(tokenCacheUsage(bounded).bytes).toBeLessThanOrEqual(10 * BYTES_PER_ENTRY);
    }
    // Medium tokens (a 1 000-character sub, ~2.7 KB cached): a few fit, the bytes bound holds.
    for (let i = 0; i < 30; i++) {
      const medium = await signToken(bounded, { sub: `${i}-${"y".repeat(1_000)}`, scope: "admin" }, expires);
      await verifyTokenCached(bounded, medium, 10);
      expect(tokenCacheUsage(bounded).bytes).toBeLessThanOrEqual(10 * BYTES_PER_ENTRY);
    }
    expect(tokenCacheUsage(bounded).entries).toBeGreaterThan(0);
    expect(tokenCacheUsage(bounded).entries).toBeLessThan(10);
  });
});
