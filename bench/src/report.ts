// Medians across rounds, P/B2 ratios, the targets, and the plain-text table.
import { median } from "./common.ts";
import type { Measured } from "./load.ts";
import type { VariantId, Workload } from "./workloads.ts";

export interface Cell {
  round: number;
  workload: string;
  variant: VariantId;
  m: Measured;
}

export interface Summary {
  workload: string;
  variant: VariantId;
  rounds: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  serverCpuUsPerOp: number;
  pgCpuUsPerOp: number;
  loadCpuUsPerOp: number;
  peakRssMb: number;
  /** Max over rounds (the "peak"). */
  peakRssMbMax: number;
  errors: number;
  /** Each round's ops/s, to see the spread. */
  opsPerSecByRound: number[];
}

export interface Ratio {
  workload: string;
  /** P ops/s ÷ B2 ops/s (higher is better; 1 = as fast as the bare baseline). */
  ops: number;
  /** P p50 ÷ B2 p50 (lower is better). */
  p50: number;
  p99: number;
  /** P server CPU per op ÷ B2's. */
  serverCpu: number;
}

export function summarize(cells: Cell[], workloads: Workload[]): Summary[] {
  const out: Summary[] = [];
  for (const w of workloads) {
    for (const variant of w.variants) {
      const mine = cells.filter((c) => c.workload === w.id && c.variant === variant).map((c) => c.m);
      if (mine.length === 0) continue;
      const med = (f: (m: Measured) => number) => median(mine.map(f));
      out.push({
        workload: w.id,
        variant,
        rounds: mine.length,
        opsPerSec: med((m) => m.opsPerSec),
        p50: med((m) => m.p50),
        p99: med((m) => m.p99),
        serverCpuUsPerOp: med((m) => m.serverCpuUsPerOp),
        pgCpuUsPerOp: med((m) => m.pgCpuUsPerOp),
        loadCpuUsPerOp: med((m) => m.loadCpuUsPerOp),
        peakRssMb: med((m) => m.peakRssMb),
        peakRssMbMax: Math.max(...mine.map((m) => m.peakRssMb)),
        errors: mine.reduce((sum, m) => sum + m.errors, 0),
        opsPerSecByRound: mine.map((m) => Math.round(m.opsPerSec)),
      });
    }
  }
  return out;
}

export function ratios(
  summaries: Summary[],
  numerator: VariantId = "P",
  denominator: VariantId = "B2",
): Ratio[] {
  const out: Ratio[] = [];
  const workloads = [...new Set(summaries.map((s) => s.workload))];
  for (const workload of workloads) {
    const p = summaries.find((s) => s.workload === workload && s.variant === numerator);
    const b = summaries.find((s) => s.workload === workload && s.variant === denominator);
    if (!p || !b) continue;
    out.push({
      workload,
      ops: p.opsPerSec / b.opsPerSec,
      p50: p.p50 / b.p50,
      p99: p.p99 / b.p99,
      serverCpu: p.serverCpuUsPerOp / b.serverCpuUsPerOp,
    });
  }
  return out;
}

const num = (x: number, digits = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "—";
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : "—");
const pad = (s: string, n: number) => s.padStart(n);
const padEnd = (s: string, n: number) => s.padEnd(n);

export function formatTable(summaries: Summary[], ratioRows: Ratio[]): string {
  const lines: string[] = [];
  const header = [
    padEnd("workload", 22),
    padEnd("variant", 9),
    pad("ops/s", 9),
    pad("p50 ms", 8),
    pad("p99 ms", 8),
    pad("srv µs/op", 10),
    pad("pg µs/op", 9),
    pad("gen µs/op", 10),
    pad("peak MB", 8),
    pad("errors", 7),
    "  ops/s by round",
  ].join(" ");
  lines.push(header, "-".repeat(header.length + 6));
  const workloads = [...new Set(summaries.map((s) => s.workload))];
  for (const workload of workloads) {
    let first = true;
    for (const s of summaries.filter((x) => x.workload === workload)) {
      lines.push(
        [
          padEnd(first ? workload : "", 22),
          padEnd(s.variant, 9),
          pad(num(s.opsPerSec), 9),
          pad(num(s.p50, 2), 8),
          pad(num(s.p99, 2), 8),
          pad(num(s.serverCpuUsPerOp), 10),
          pad(num(s.pgCpuUsPerOp), 9),
          pad(num(s.loadCpuUsPerOp), 10),
          pad(num(s.peakRssMb, 1), 8),
          pad(String(s.errors), 7),
          `  ${s.opsPerSecByRound.join(" / ")}`,
        ].join(" "),
      );
      first = false;
    }
    const r = ratioRows.find((x) => x.workload === workload);
    if (r) {
      lines.push(
        [
          padEnd("", 22),
          padEnd("P/B2", 9),
          pad(ratio(r.ops), 9),
          pad(ratio(r.p50), 8),
          pad(ratio(r.p99), 8),
          pad(ratio(r.serverCpu), 10),
        ].join(" "),
      );
    }
  }
  return lines.join("\n");
}

export interface TargetCheck {
  target: string;
  value: string;
  /** null: not measured in this run (flag not given). */
  pass: boolean | null;
}

export function formatTargets(checks: TargetCheck[]): string {
  return checks
    .map(
      (c) => `  ${c.pass === null ? "n/a " : c.pass ? "MET " : "MISS"}  ${padEnd(c.target, 62)} ${c.value}`,
    )
    .join("\n");
}

export { num, ratio };
