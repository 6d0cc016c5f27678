// `pnpm --filter @cairn/bench compare <before.json> <after.json>`: two runs side by side, per workload and
// variant. Absolute numbers move with the machine between runs; the P/B2 ratios (each measured inside its
// own interleaved run) are what to compare.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Ratio, Summary } from "./report.ts";

interface RunFile {
  startedAt: string;
  summaries?: Summary[];
  ratios?: Ratio[];
}

const [a, b] = process.argv.slice(2).filter((x) => x !== "--");
if (!a || !b) {
  process.stderr.write("usage: pnpm --filter @cairn/bench compare <before.json> <after.json>\n");
  process.exit(1);
}
// pnpm --filter runs this in bench/; paths are meant from where the command was typed (INIT_CWD).
const load = (path: string) =>
  JSON.parse(readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), path), "utf8")) as RunFile;
const before = load(a);
const after = load(b);

const pct = (x: number, y: number) => {
  if (!Number.isFinite(x) || !Number.isFinite(y) || x === 0) return "—";
  const d = (100 * (y - x)) / x;
  return `${d >= 0 ? "+" : ""}${d.toFixed(0)} %`;
};
const n = (x: number | undefined, digits = 0) =>
  x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);

process.stdout.write(`before: ${a} (${before.startedAt})\nafter:  ${b} (${after.startedAt})\n\n`);
process.stdout.write(
  `${"workload".padEnd(22)}${"variant".padEnd(8)}${"ops/s".padStart(16)}${"".padStart(8)}${"p50 ms".padStart(16)}${"srv µs/op".padStart(16)}\n`,
);
for (const s of after.summaries ?? []) {
  const o = (before.summaries ?? []).find((x) => x.workload === s.workload && x.variant === s.variant);
  process.stdout.write(
    `${s.workload.padEnd(22)}${s.variant.padEnd(8)}${`${n(o?.opsPerSec)} → ${n(s.opsPerSec)}`.padStart(16)}${(o ? pct(o.opsPerSec, s.opsPerSec) : "new").padStart(8)}${`${n(o?.p50, 2)} → ${n(s.p50, 2)}`.padStart(16)}${`${n(o?.serverCpuUsPerOp)} → ${n(s.serverCpuUsPerOp)}`.padStart(16)}\n`,
  );
}
process.stdout.write(`\n${"P/B2 (ops/s)".padEnd(30)}${"before".padStart(8)}${"after".padStart(8)}\n`);
for (const r of after.ratios ?? []) {
  const o = (before.ratios ?? []).find((x) => x.workload === r.workload);
  process.stdout.write(`${r.workload.padEnd(30)}${n(o?.ops, 2).padStart(8)}${n(r.ops, 2).padStart(8)}\n`);
}
