// "SQL statements per put": a short sampling phase with each variant connected to PostgreSQL through the
// counting proxy (pg-proxy.ts), separate from the timed cells so the proxy costs them nothing.
import { databaseUrl, type PgServer } from "./db.ts";
import { type LoadResult, runB1, runExactly, type Target } from "./load.ts";
import { type CountingProxy, startCountingProxy } from "./pg-proxy.ts";
import { type RunningVariant, startB1, startServer } from "./servers.ts";
import type { VariantId, Workload } from "./workloads.ts";

export interface StatementSample {
  variant: VariantId;
  /** What and at how many concurrent calls (batching servers may serve several calls with one statement). */
  op: "put c=1" | "put c=4" | "get hit c=4" | "get miss c=4";
  ops: number;
  statementsPerOp: number;
  parsesPerOp: number;
  transactionsPerOp: number;
  /** Statement texts seen (shortened), executions per op. */
  texts: { sql: string; perOp: number; parsesPerOp: number }[];
}

const SAMPLE_OPS = 100;
const WARM_OPS = 30;

export async function sampleStatements(options: {
  pg: PgServer;
  database: string;
  target: Omit<Target, "url">;
  workloads: { put: Workload; hit: Workload; miss: Workload };
}): Promise<StatementSample[]> {
  const proxy = await startCountingProxy({ host: options.pg.host, port: options.pg.port });
  const url = databaseUrl(options.pg, options.database, proxy.port);
  const ready = { bearer: options.target.bearer[0]!, taskInstanceId: options.target.ids[0]! };
  const started: RunningVariant[] = [];
  try {
    const [b1, b2, p] = await Promise.all([
      startB1(url, options.target.instances),
      startServer("B2", { databaseUrl: url, ...ready }),
      startServer("P", { databaseUrl: url, ...ready }),
    ]);
    started.push(b1, b2, p);
    const out: StatementSample[] = [];
    const ops = [
      ["put c=1", options.workloads.put, 1],
      ["put c=4", options.workloads.put, 4],
      ["get hit c=4", options.workloads.hit, 4],
      ["get miss c=4", options.workloads.miss, 4],
    ] as const;
    for (const variant of [b1, b2, p]) {
      for (const [op, workload, connections] of ops) {
        const w = { ...workload, connections };
        const run = (amount: number): Promise<LoadResult> =>
          variant.kind === "B1"
            ? runB1(variant.child, w, { amount })
            : runExactly({ ...options.target, url: variant.url }, w, amount);
        await run(WARM_OPS);
        proxy.reset();
        const result = await run(SAMPLE_OPS);
        out.push(sample(variant.kind as VariantId, op, result.ops, proxy));
      }
    }
    return out;
  } finally {
    await Promise.all(started.map((v) => v.child.stop()));
    await proxy.close();
  }
}

function sample(
  variant: VariantId,
  op: StatementSample["op"],
  ops: number,
  proxy: CountingProxy,
): StatementSample {
  const { counts } = proxy;
  const n = Math.max(ops, 1);
  return {
    variant,
    op,
    ops,
    statementsPerOp: counts.statements / n,
    parsesPerOp: counts.parses / n,
    transactionsPerOp: counts.transactions / n,
    texts: [...counts.byText.entries()]
      .map(([sql, c]) => ({ sql, perOp: c.executions / n, parsesPerOp: c.parses / n }))
      .sort((a, b) => b.perOp - a.perOp),
  };
}

export function formatStatements(samples: StatementSample[]): string {
  const lines = [
    `${"variant".padEnd(8)}${"op".padEnd(14)}${"stmts/op".padStart(9)}${"parses/op".padStart(11)}${"txns/op".padStart(9)}   statements (executions per op)`,
  ];
  for (const s of samples) {
    const texts = s.texts
      .filter((t) => t.perOp >= 0.005 || t.parsesPerOp >= 0.005)
      .map((t) => `${t.perOp.toFixed(2)} × ${t.sql.slice(0, 60)}`);
    lines.push(
      `${s.variant.padEnd(8)}${s.op.padEnd(14)}${s.statementsPerOp.toFixed(2).padStart(9)}${s.parsesPerOp.toFixed(2).padStart(11)}${s.transactionsPerOp.toFixed(2).padStart(9)}   ${texts[0] ?? ""}`,
    );
    for (const t of texts.slice(1)) lines.push(`${"".padEnd(51)}${t}`);
  }
  return lines.join("\n");
}
