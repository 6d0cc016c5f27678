// `retention` on set: how long a key should live, as a duration, or "never".

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** A duration: milliseconds as a number, or a string like "90s", "15m", "12h", "7d", "2w" (units may combine: "1d12h"). */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d" | "w"}` | (string & {});

export function durationMs(duration: Duration): number {
  if (typeof duration === "number") {
    if (!Number.isFinite(duration) || duration <= 0)
      throw new TypeError("retention must be a positive duration");
    return duration;
  }
  const parts = [...duration.trim().matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/g)];
  const consumed = parts.map((part) => part[0]).join("");
  if (parts.length === 0 || consumed.replace(/\s/g, "") !== duration.replace(/\s/g, "")) {
    throw new TypeError(
      `retention "${duration}" is not a duration like "90s", "15m", "12h", "7d" or "never"`,
    );
  }
  const total = parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * (UNIT_MS[unit ?? ""] ?? 0), 0);
  if (total <= 0) throw new TypeError("retention must be a positive duration");
  return total;
}

/** The expiresAt a retention means now: an ISO date, or null for "never". */
export function expiryFromRetention(retention: Duration | "never", now = Date.now()): string | null {
  if (retention === "never") return null;
  return new Date(now + durationMs(retention)).toISOString();
}
