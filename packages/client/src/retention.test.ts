import { describe, expect, it } from "vitest";
import { createCairnClient } from "./client.ts";
import { durationMs, expiryFromRetention } from "./retention.ts";

describe("retention durations", () => {
  it("reads numbers as milliseconds and strings with units", () => {
    expect(durationMs(1500)).toBe(1500);
    expect(durationMs("90s")).toBe(90_000);
    expect(durationMs("15m")).toBe(900_000);
    expect(durationMs("12h")).toBe(43_200_000);
    expect(durationMs("7d")).toBe(604_800_000);
    expect(durationMs("2w")).toBe(1_209_600_000);
    expect(durationMs("1d12h")).toBe(129_600_000);
  });

  it("refuses what is not a positive duration", () => {
    for (const bad of ["", "7", "7 days", "d", "-1d", "0s", "1d junk"])
      expect(() => durationMs(bad)).toThrow(TypeError);
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => durationMs(bad)).toThrow(TypeError);
  });

  it("turns a retention into an expiry from now, or null for never", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(expiryFromRetention("1d", now)).toBe("2026-01-02T00:00:00.000Z");
    expect(expiryFromRetention("never", now)).toBeNull();
  });
});

describe("set with retention", () => {
  // A server stand-in that records what the client sends (the wire format is plain tRPC JSON).
  function recordingClient() {
    const bodies: unknown[] = [];
    const cairn = createCairnClient({
      url: "http://127.0.0.1:1",
      token: "x.eyJzdWIiOiIwMWEyMTNhYy0yNDU0LTc1OTItYTI2Ny1mZTY0NjkxOTRiMTgiLCJzY29wZSI6ImV4ZWN1dGlvbiJ9.x",
      fetch: async (_url, init) => {
        bodies.push(JSON.parse(String(init?.body)));
        return new Response(JSON.stringify([{ result: { data: { version: 1 } } }]), {
          headers: { "content-type": "application/json" },
        });
      },
    });
    return { cairn, bodies };
  }

  it("sends expiresAt computed from the retention, and null for never", async () => {
    const { cairn, bodies } = recordingClient();
    const before = Date.now();
    await cairn.set("k", 1, { retention: "1h" });
    await cairn.set("k", 1, { retention: "never" });
    const [first, second] = bodies as { 0: { expiresAt: string | null } }[];
    const expiry = Date.parse(first?.[0].expiresAt ?? "");
    expect(expiry).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiry).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(second?.[0].expiresAt).toBeNull();
  });

  it("refuses expiresAt and retention together", async () => {
    const { cairn } = recordingClient();
    await expect(cairn.set("k", 1, { retention: "1h", expiresAt: null })).rejects.toThrow(TypeError);
  });
});
