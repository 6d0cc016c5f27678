// B1: the ceiling of Node + PostgreSQL. A raw `pg` loop in its own process (so its CPU and RSS are
// measured like the servers'): pool of 10, min(connections, 16) queries in flight, the same SQL as Cairn
// (sql.ts) as named prepared statements, no HTTP, no JSON parsing of requests, no tokens.
// Driven by the orchestrator over IPC: { type: "run", id, workload, seconds } -> { type: "result", … }.
import pg from "pg";
import { instanceId, Latencies } from "./common.ts";
import { defaultExpiry, GET_SQL, RESOLVE_SQL, SET_SQL } from "./sql.ts";
import { opPicker, type Workload } from "./workloads.ts";

const url = process.env.DATABASE_URL;
const instances = Number(process.env.BENCH_INSTANCES);
if (!url || !instances || !process.send) {
  process.stderr.write("b1-worker: DATABASE_URL, BENCH_INSTANCES and an IPC channel are required\n");
  process.exit(1);
}
const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000 });
pool.on("error", () => {});
const ids = Array.from({ length: instances }, (_, i) => instanceId(i));

export interface B1Request {
  type: "run";
  id: number;
  workload: Workload;
  seconds?: number;
  /** Run exactly this many operations instead of for `seconds`. */
  amount?: number;
}

export interface B1Result {
  type: "result";
  id: number;
  ops: number;
  errors: number;
  elapsedMs: number;
  p50: number;
  p99: number;
  error?: string;
}

async function run(request: B1Request): Promise<B1Result> {
  const { workload } = request;
  const next = opPicker(workload, instances);
  const latencies = new Latencies();
  const inflight = Math.min(workload.connections, 16);
  const started = performance.now();
  const deadline = started + (request.seconds ?? 3600) * 1000;
  let remaining = request.amount ?? Number.POSITIVE_INFINITY;
  let ops = 0;
  let errors = 0;
  const loop = async () => {
    while (performance.now() < deadline && remaining-- > 0) {
      const op = next();
      const id = ids[op.i]!;
      const t0 = performance.now();
      try {
        if (op.set) {
          const { rows } = await pool.query({
            name: "b1_set",
            text: SET_SQL,
            values: [id, op.key, op.value, defaultExpiry()],
          });
          if (rows.length !== 1) throw new Error("set returned no row");
        } else {
          const { rows } = await pool.query({ name: "b1_get", text: GET_SQL, values: [id, op.key] });
          if (rows.length === 0) {
            // A miss: like Cairn, a second query says why.
            await pool.query({ name: "b1_resolve", text: RESOLVE_SQL, values: [id] });
          }
        }
        latencies.add(performance.now() - t0);
        ops++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: inflight }, loop));
  const elapsedMs = performance.now() - started;
  const { p50, p99 } = latencies.summary();
  return { type: "result", id: request.id, ops, errors, elapsedMs, p50, p99 };
}

process.on("message", (message: B1Request) => {
  if (message?.type !== "run") return;
  run(message).then(
    (result) => process.send!(result),
    (error: unknown) =>
      process.send!({
        type: "result",
        id: message.id,
        ops: 0,
        errors: 1,
        elapsedMs: 0,
        p50: Number.NaN,
        p99: Number.NaN,
        error: String(error),
      } satisfies B1Result),
  );
});
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => void pool.end().finally(() => process.exit(0)));
process.send({ type: "ready" });
