// Shared by the orchestrator and its children: ids, tokens, values, statistics, small helpers.
import { createHmac, randomBytes } from "node:crypto";
import net from "node:net";

/** Fixed secret for every server of a run (at least 32 characters, as Cairn requires). */
export const JWT_SECRET = "cairn-bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

/** The task instance id of seeded instance `i` (the seed SQL builds the same text). */
export function instanceId(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
}

/** The same expression in SQL, for generate_series seeding. */
export const INSTANCE_ID_SQL = (i: string) =>
  `('00000000-0000-4000-8000-' || lpad(to_hex(${i}), 12, '0'))::uuid`;

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

/**
 * HS512 JWTs exactly as `signToken` from @cairn/api makes them (header, sub, scope, iat, exp), but
 * signed with node:crypto directly: jose's WebCrypto path costs ~100 µs a token, too slow for 100 k.
 * The orchestrator checks one of these against @cairn/api's verifyToken before using them.
 */
export function fastToken(sub: string, scope: "execution" | "admin", ttlSeconds = 86_400): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "HS512", typ: "JWT" }));
  const payload = b64url(JSON.stringify({ scope, sub, iat: now, exp: now + ttlSeconds }));
  const signature = createHmac("sha512", JWT_SECRET).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** Random, incompressible JSON string values whose JSON text is exactly `bytes` long (bytes >= 8). */
export function randomValues(bytes: number, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    // base64url has no characters JSON escapes; 2 bytes for the quotes.
    const text = randomBytes(Math.ceil(((bytes - 2) * 3) / 4) + 3)
      .toString("base64url")
      .slice(0, bytes - 2);
    out.push(JSON.stringify(text));
  }
  return out;
}

/** A 100-byte JSON object value, as W1 writes: {"v":"…"}. */
export function smallValues(count: number): string[] {
  return randomValues(100 - 6, count).map((s) => `{"v":${s}}`);
}

export function median(values: number[]): number {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** Percentile (0..100) of an unsorted sample, nearest rank. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Latency recorder: a growable Float64Array of milliseconds. */
export class Latencies {
  private data = new Float64Array(1 << 16);
  count = 0;
  add(ms: number): void {
    if (this.count === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.count++] = ms;
  }
  summary(): { p50: number; p99: number; max: number } {
    const sorted = this.data.slice(0, this.count).sort();
    return {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
    };
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1 (the OS picks it; a tiny race remains until the child binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function randomInt(n: number): number {
  return Math.floor(Math.random() * n);
}

/** The orchestrator's progress, on stderr, so that stdout holds only the report. */
export const log = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
export const out = (text: string) => process.stdout.write(`${text}\n`);
