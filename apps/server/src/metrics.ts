// Prometheus metrics (GET /metrics): calls and latency per procedure and outcome, HTTP responses by route
// and status, state rows written and deleted, cleanup runs, build info, and Node's default process
// metrics under their standard names (process_cpu_seconds_total, ...), so stock dashboards work.
import type { CallObserver, ProcedureCall, WatchObserver } from "@cairn/api";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { VERSION } from "./version.ts";

export interface Metrics extends CallObserver, WatchObserver {
  registry: Registry;
  onCleanup(result: { outcome: "ok" | "error"; task: number; asset: number }): void;
  /** One finished HTTP response; `route` is a bounded label (see http-server.ts). */
  onResponse(route: string, status: number): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: "cairn_build_info",
    help: "Always 1; the labels say which Cairn and which Node.js are running",
    labelNames: ["version", "node"],
    registers: [registry],
  }).set({ version: VERSION, node: process.version }, 1);
  const responses = new Counter({
    name: "cairn_http_responses_total",
    help: "HTTP responses by route (endpoint or procedure) and status code",
    labelNames: ["route", "status"],
    registers: [registry],
  });
  const calls = new Counter({
    name: "cairn_procedure_calls_total",
    help: "Procedure calls by procedure and outcome (OK or the tRPC error code)",
    labelNames: ["procedure", "outcome"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "cairn_procedure_duration_seconds",
    help: "Procedure latency inside the server, by procedure and outcome",
    labelNames: ["procedure", "outcome"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const written = new Counter({
    name: "cairn_state_rows_written_total",
    help: "State rows created or updated, by plane (task or asset)",
    labelNames: ["plane"],
    registers: [registry],
  });
  const deleted = new Counter({
    name: "cairn_state_rows_deleted_total",
    help: "State rows deleted, by plane and by what deleted them (delete, clear, cleanup, lifecycle)",
    labelNames: ["plane", "via"],
    registers: [registry],
  });
  const cleanupRuns = new Counter({
    name: "cairn_cleanup_runs_total",
    help: "Runs of the expired-state cleanup, by outcome",
    labelNames: ["outcome"],
    registers: [registry],
  });

  const watchStreams = new Gauge({
    name: "cairn_watch_streams",
    help: "Open watch streams, by plane (task or asset)",
    labelNames: ["plane"],
    registers: [registry],
  });
  // Counted in plain numbers and handed to prom-client when scraped: one write to 1 000 watchers is
  // 1 000 events, and prom-client hashes the labels on every inc.
  const pendingEvents = new Map<string, { labels: { plane: string; op: string }; count: number }>();
  // Registered with the registry, read through collect(): nothing else holds it.
  new Counter({
    name: "cairn_watch_events_total",
    help: "Events sent on watch streams, by plane and op (set, delete, synced, reset)",
    labelNames: ["plane", "op"],
    registers: [registry],
    collect() {
      for (const pending of pendingEvents.values()) {
        if (pending.count > 0) this.inc(pending.labels, pending.count);
        pending.count = 0;
      }
    },
  });
  const watchResets = new Counter({
    name: "cairn_watch_resets_total",
    help: "Watch streams that could not resume and started over with a snapshot, by plane",
    labelNames: ["plane"],
    registers: [registry],
  });
  for (const plane of ["task", "asset"]) watchStreams.set({ plane }, 0);

  // Expired rows deleted by the cleanup loop or by an operator's cleanup (admin.cleanup.run, cairn clean).
  const cleanedUp = ({ task, asset }: { task: number; asset: number }) => {
    if (task > 0) deleted.inc({ plane: "task", via: "cleanup" }, task);
    if (asset > 0) deleted.inc({ plane: "asset", via: "cleanup" }, asset);
  };

  return {
    registry,
    onCall(call: ProcedureCall) {
      calls.inc({ procedure: call.path, outcome: call.outcome });
      latency.observe({ procedure: call.path, outcome: call.outcome }, call.durationMs / 1000);
      if (call.rowsWritten) written.inc({ plane: call.plane }, call.rowsWritten);
      if (call.rowsDeleted) deleted.inc({ plane: call.plane, via: call.deletedVia }, call.rowsDeleted);
      if (call.cleanupDeleted) cleanedUp(call.cleanupDeleted);
    },
    onCleanup(run) {
      cleanupRuns.inc({ outcome: run.outcome });
      cleanedUp(run);
    },
    onResponse(route, status) {
      responses.inc({ route, status: String(status) });
    },
    onStream(plane, delta) {
      watchStreams.inc({ plane }, delta);
    },
    onEvent(plane, op) {
      const key = `${plane} ${op}`;
      const pending = pendingEvents.get(key);
      if (pending) pending.count++;
      else pendingEvents.set(key, { labels: { plane, op }, count: 1 });
      if (op === "reset") watchResets.inc({ plane });
    },
  };
}
