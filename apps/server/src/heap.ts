// Under steady load most of what a request allocates dies soon after it, yet V8 by default lets the
// old generation grow to several times its live size before a full collection, so RSS follows the
// growth factor. Each full collection also stalls the event loop (5-15 ms on the 2 shared cores the
// benchmark runs on), and a small factor makes them frequent: the stall then shows in the tail latency.
// Measured with `pnpm bench --only=W3 --w7` (W3 peak RSS; open-loop p99 at half of B2's peak):
//   30 %: a full collection every 1-2 s, p99 24-28 ms;  60 %: 152 MB, p99 9.3 ms;
//   100 %: 169 MB, p99 5.5 ms;  V8's default: 228 MB, p99 5.0 ms.
// The embedded database (PGlite, the Quick start) keeps 30 %: one user, and PGlite's start allocates
// hundreds of MB that die at once (`pnpm bench --no-table --embedded`: RSS when ready 357 MB at 30 %,
// 777 MB at 100 %; at rest after 2 000 task instances 401 against 447 MB).
// Set at start, before the heap has grown. A --heap-growing-percent on node's command line (`node
// --heap-growing-percent=50 dist/main.js`) wins; Node refuses V8 flags such as this one in NODE_OPTIONS.
import v8 from "node:v8";

export const HEAP_GROWING_PERCENT = { postgresql: 100, embedded: 30 };

/** `embedded`: the server runs PGlite in its process (no DATABASE_URL). */
export function boundHeapGrowth(embedded: boolean): void {
  if (process.execArgv.some((arg) => arg.startsWith("--heap-growing-percent"))) return;
  const percent = embedded ? HEAP_GROWING_PERCENT.embedded : HEAP_GROWING_PERCENT.postgresql;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
