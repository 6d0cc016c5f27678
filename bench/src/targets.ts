// The targets that the table and the statement sampling answer, and the "Targets of the issue"
// block that closes the report (the other phases add their own targets as they run).
import { out } from "./common.ts";
import { formatTargets, num, type Summary, type TargetCheck } from "./report.ts";
import type { BenchRun } from "./setup.ts";
import type { StatementSample } from "./statements.ts";
import type { VariantId } from "./workloads.ts";

export function tableTargets(summaries: Summary[], statements: StatementSample[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const s = (w: string, v: VariantId) => summaries.find((x) => x.workload === w && x.variant === v);
  const ratioCheck = (w: string, min: number) => {
    const pv = s(w, "P");
    const bv = s(w, "B2");
    if (!pv || !bv) return { target: `P/B2 ≥ ${min.toFixed(2)} for ${w}`, value: "not run", pass: null };
    const r = pv.opsPerSec / bv.opsPerSec;
    return {
      target: `P/B2 ≥ ${min.toFixed(2)} for ${w}`,
      value: `${r.toFixed(3)}x (${num(pv.opsPerSec)} vs ${num(bv.opsPerSec)} ops/s)`,
      pass: r >= min,
    };
  };
  checks.push(
    ratioCheck("W1 put c=32", 0.8),
    ratioCheck("W2 get hit c=32", 0.8),
    ratioCheck("W2 get miss c=32", 0.8),
    ratioCheck("W3 90/10 c=32", 0.7),
  );
  {
    const batch = s("W6 batch 50 (keys/s)", "P");
    const single = s("W1 put c=32", "B2");
    checks.push({
      target: "P batched puts (50/request) ≥ 3× B2 single puts, keys/s",
      value:
        batch && single
          ? `${(batch.opsPerSec / single.opsPerSec).toFixed(3)}x (${num(batch.opsPerSec)} vs ${num(single.opsPerSec)})`
          : "not run",
      pass: batch && single ? batch.opsPerSec >= 3 * single.opsPerSec : null,
    });
  }
  for (const w of ["W1 put c=1", "W2 get hit c=1"]) {
    const pv = s(w, "P");
    const bv = s(w, "B2");
    checks.push({
      target: `P p50 ≤ 1.3× B2 p50 at one connection (${w})`,
      value:
        pv && bv
          ? `${(pv.p50 / bv.p50).toFixed(3)}x (${pv.p50.toFixed(2)} vs ${bv.p50.toFixed(2)} ms)`
          : "not run",
      pass: pv && bv ? pv.p50 <= 1.3 * bv.p50 : null,
    });
  }
  {
    // "One statement per put": never a read before the write. A server that merges concurrent puts into
    // multi-row statements does better than one each, so the check is "at most one", alone and concurrent.
    const puts = statements.filter((x) => x.variant === "P" && x.op.startsWith("put"));
    checks.push({
      target: "one SQL statement per put (P): at most 1, at c=1 and c=4",
      value:
        puts.length > 0
          ? puts
              .map(
                (p) =>
                  `${p.op}: ${p.statementsPerOp.toFixed(2)} stmts, ${p.transactionsPerOp.toFixed(2)} txns`,
              )
              .join("; ")
          : "not run",
      pass: puts.length > 0 ? puts.every((p) => p.statementsPerOp <= 1.01) : null,
    });
  }
  {
    const w3 = s("W3 90/10 c=32", "P");
    checks.push({
      target: "P peak RSS ≤ 200 MB under W3 (the compiled server, plain node)",
      value: w3 ? `${w3.peakRssMbMax.toFixed(1)} MB` : "not run",
      pass: w3 ? w3.peakRssMbMax <= 200 : null,
    });
  }
  return checks;
}

export function printTargets(run: BenchRun): void {
  run.result.targets = run.checks;
  out("");
  out("Targets of the issue (reported, not enforced):");
  out(formatTargets(run.checks));
}
