// A preload for the servers a bench run starts (P and B2): once a second it appends to
// $BENCH_PROBE_DIR/<pid>.log the requests the server finished, their p50/p99/max inside the server
// (request event to response finish), the event loop's longest delay, and the GC: scavenges (count and
// total ms) and each full collection's pause. It is how the README's W7 tail was traced to full
// collections. Other processes of the run load it and do nothing. The path must be absolute: every
// process resolves it from its own working directory.
//
//   BENCH_PROBE_DIR=/tmp/probe NODE_OPTIONS="--import $PWD/bench/tools/latency-probe.mjs" \
//     pnpm bench --no-table --w7 --rounds=1
import fs from "node:fs";
import http from "node:http";
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";

const script = process.argv[1] ?? "";
const dir = process.env.BENCH_PROBE_DIR ?? "/tmp/cairn-bench-probe";
if (/apps\/server\/dist\/main\.js$|baseline-server\.ts$/.test(script)) {
  fs.mkdirSync(dir, { recursive: true });
  const file = `${dir}/${process.pid}.log`;
  fs.writeFileSync(file, `# ${script}\n`);
  let times = [];
  let scavenges = 0;
  let scavengeMs = 0;
  let fullPauses = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        fullPauses.push(entry.duration.toFixed(1));
      else if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        scavenges++;
        scavengeMs += entry.duration;
      }
    }
  }).observe({ entryTypes: ["gc"] });
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (event, ...args) {
    if (event === "request") {
      const started = performance.now();
      args[1].once("finish", () => times.push(performance.now() - started));
    }
    return emit.call(this, event, ...args);
  };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  setInterval(() => {
    if (times.length > 0) {
      times.sort((a, b) => a - b);
      const at = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1);
      fs.appendFileSync(
        file,
        `${new Date().toISOString().slice(11, 19)} requests ${times.length} p50 ${at(0.5)} p99 ${at(0.99)} max ${at(1)} ms` +
          ` | loop delay max ${(delay.max / 1e6).toFixed(0)} ms | scavenges ${scavenges} (${scavengeMs.toFixed(0)} ms)` +
          ` | full GC pauses [${fullPauses.join(", ")}] ms\n`,
      );
    }
    times = [];
    delay.reset();
    scavenges = 0;
    scavengeMs = 0;
    fullPauses = [];
  }, 1000).unref();
}
