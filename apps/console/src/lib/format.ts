// How times, sizes and values read on screen.

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1_000],
];
const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "3 minutes ago", "in 2 hours" (relative to now). */
export function fromNow(iso: string, now = Date.now()): string {
  const delta = Date.parse(iso) - now;
  for (const [unit, ms] of UNITS) {
    if (Math.abs(delta) >= ms || unit === "second") return relative.format(Math.round(delta / ms), unit);
  }
  return iso;
}

/** "2026-12-01 14:03:22 UTC": absolute, unambiguous across an operator team's time zones. */
export function absolute(iso: string): string {
  return `${iso.slice(0, 19).replace("T", " ")} UTC`;
}

/** A countdown such as "2d 03:12:09" or "00:04:59"; "expired" once past. */
export function countdown(iso: string, now = Date.now()): string {
  const left = Date.parse(iso) - now;
  if (left <= 0) return "expired";
  const seconds = Math.floor(left / 1000);
  const days = Math.floor(seconds / 86_400);
  const clock = [Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60]
    .map((n) => String(n).padStart(2, "0"))
    .join(":");
  return days > 0 ? `${days}d ${clock}` : clock;
}

/** UTF-8 size of a value as stored (its JSON text). */
export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).length;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A value as one short line for a table cell. */
export function preview(value: unknown, max = 60): string {
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function count(n: number): string {
  return n.toLocaleString("en");
}
