// --embedded: the Quick start's server, with PGlite in its own process (no DATABASE_URL), as a newcomer
// runs it: RSS at rest once seeded, then under the W3 mix, and after. Nothing to compare it with: PGlite
// is PostgreSQL compiled to WebAssembly, and its memory is the server's.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCairnTRPCClient } from "@cairn/client";
import { fastToken, freePort, JWT_SECRET, sleep } from "./common.ts";
import { runAutocannon } from "./load.ts";
import { type Child, resetPeakRss, sampleProc, spawnNode } from "./procs.ts";
import { CAIRN_MAIN } from "./servers.ts";
import type { Workload } from "./workloads.ts";

export interface EmbeddedResult {
  instances: number;
  /** Spawn to /readyz 200 on an empty data directory (migrations included). */
  readyMs: number;
  /** RSS once ready, before any call. */
  readyMb: number;
  /** RSS 5 s after seeding, with nothing running. */
  idleMb: number;
  w3: { seconds: number; opsPerSec: number; p50: number; p99: number; errors: number };
  /** Peak RSS (VmHWM) during W3, and RSS 5 s after it. */
  w3PeakMb: number;
  afterMb: number;
}

export async function embedded(
  ctx: { w3: Workload; log: (line: string) => void },
  seconds: number,
  instances = 2_000,
): Promise<EmbeddedResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "cairn-bench-embedded-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawnNode(CAIRN_MAIN, {
    env: {
      DATABASE_URL: "",
      CAIRN_DATA_DIR: dataDir,
      CAIRN_JWT_SECRET: JWT_SECRET,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
    },
  });
  try {
    await untilReady(url, child);
    const readyMs = performance.now() - started;
    const readyMb = sampleProc(child.pid).rssKb / 1024;
    ctx.log(`embedded: ready in ${Math.round(readyMs)} ms; creating ${instances} task instances`);
    const ids = await createInstances(url, instances);
    await sleep(5_000);
    const idleMb = sampleProc(child.pid).rssKb / 1024;
    resetPeakRss(child.pid);
    const w3 = { ...ctx.w3, putInstances: instances };
    const bearer = ids.map((id) => `Bearer ${fastToken(id, "execution")}`);
    const load = await runAutocannon({ url, ids, bearer, instances }, w3, { seconds });
    const w3PeakMb = sampleProc(child.pid).hwmKb / 1024;
    await sleep(5_000);
    return {
      instances,
      readyMs,
      readyMb,
      idleMb,
      w3: {
        seconds,
        opsPerSec: (load.ops * 1000) / load.elapsedMs,
        p50: load.p50,
        p99: load.p99,
        errors: load.errors,
      },
      w3PeakMb,
      afterMb: sampleProc(child.pid).rssKb / 1024,
    };
  } finally {
    await child.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function untilReady(url: string, child: Child): Promise<void> {
  const deadline = performance.now() + 120_000;
  let exited: number | null | undefined;
  void child.exited.then((code) => {
    exited = code;
  });
  for (;;) {
    if (exited !== undefined) throw new Error(`embedded server exited (${exited}):\n${child.output()}`);
    if (performance.now() > deadline)
      throw new Error(`embedded server not ready in 120 s:\n${child.output()}`);
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await sleep(50);
  }
}

/**
 * Task instances made through the admin API (the embedded database is the server's alone), each with the
 * "hit" key W3 reads.
 */
async function createInstances(url: string, count: number): Promise<string[]> {
  const admin = createCairnTRPCClient({ url, token: fastToken("bench", "admin") });
  const ids: string[] = [];
  for (let start = 0; start < count; start += 100) {
    const made = await Promise.all(
      Array.from({ length: Math.min(100, count - start) }, (_, i) =>
        admin.admin.taskInstances.create.mutate({
          dagId: "bench",
          runId: "embedded",
          taskId: `t${start + i}`,
        }),
      ),
    );
    ids.push(...made.map((instance) => instance.id));
  }
  // An admin token may write any task instance's state.
  const hit = { v: "x".repeat(80) };
  for (let start = 0; start < ids.length; start += 100) {
    await Promise.all(
      ids
        .slice(start, start + 100)
        .map((taskInstanceId) => admin.taskState.set.mutate({ taskInstanceId, key: "hit", value: hit })),
    );
  }
  return ids;
}
