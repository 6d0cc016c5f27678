import { afterEach, describe, expect, it, vi } from "vitest";
import { verifyTokenCached } from "./token-cache.ts";
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
});
