// The Python worker (examples/python/worker.py, standard library only) against the built server, with
// this test as the scheduler: a try that crashes and its retry resuming at the checkpoint; two runs
// moving an asset's watermark by compare-and-set, with a stale write refused.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT, spawnServer, stopAllServers, tempDir } from "@cairn/server/testing";
import { afterAll, describe, expect, it } from "vitest";
import { adminApi, newTaskInstance } from "./workers.ts";

const WORKER = join(REPO_ROOT, "examples", "python", "worker.py");
// Debian's python3 (what CI installs), not whatever a version manager puts first on PATH.
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

function python(
  mode: string,
  env: Record<string, string>,
): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [WORKER, mode], { env: { PATH: process.env.PATH, ...env } });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("exit", (code, signal) => resolve({ code, signal, output }));
  });
}

describe("the Python worker (standard library only)", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await stopAllServers();
    for (const cleanup of cleanups) await cleanup();
  });

  it("crashes after order 4; its retry resumes at order 5; two runs share a watermark by compare-and-set", async () => {
    const data = await tempDir("cairn-python-");
    cleanups.push(data.remove);
    const server = spawnServer({ env: { CAIRN_DATA_DIR: data.path, LOG_LEVEL: "info" } });
    const url = await server.listening();
    const adminToken = (await readFile(join(data.path, "admin-token"), "utf8")).trim();
    const admin = adminApi(url, adminToken);

    // Try 1 crashes (SIGKILL) after checkpointing order 4.
    const where = { dagId: "py_orders", runId: "r1", taskId: "process_orders" };
    const first = await newTaskInstance(url, adminToken, where);
    const crashed = await python("checkpoint", {
      CAIRN_URL: url,
      CAIRN_TOKEN: first.token,
      ORDERS: "10",
      CRASH_AFTER: "4",
    });
    expect(crashed.signal).toBe("SIGKILL");
    expect(crashed.output).toContain("starts at order 1 of 10");
    expect(await admin.admin.taskState.get.query({ ...where, key: "checkpoint" })).toMatchObject({
      value: 4,
    });

    // The scheduler retries: a new try, a new token; the retry resumes and finishes.
    const retry = await admin.admin.taskInstances.retry.mutate({ taskInstanceId: first.id });
    const { token } = await admin.admin.tokens.issue.mutate({ taskInstanceId: retry.id });
    const resumed = await python("checkpoint", { CAIRN_URL: url, CAIRN_TOKEN: token, ORDERS: "10" });
    expect(resumed.code).toBe(0);
    expect(resumed.output).toContain("resumes at order 5 of 10 (checkpoint = 4)");
    expect(resumed.output.match(/shipped, checkpoint/g)).toHaveLength(6);
    expect(resumed.output).toContain("all 10 orders shipped; checkpoint cleared");
    // The old try's token is refused now: a zombie cannot overwrite the checkpoint.
    const zombie = await python("checkpoint", { CAIRN_URL: url, CAIRN_TOKEN: first.token });
    expect(zombie.code).toBe(1);
    expect(zombie.output).toContain("a newer try of this task");

    // Two runs of an incremental load share the asset's watermark.
    await admin.admin.assets.upsert.mutate({ name: "py.orders", uri: "s3://lake/py/orders" });
    const runs = ["2026-05-01T23:59:59Z", "2026-05-02T23:59:59Z"];
    for (const [i, runAt] of runs.entries()) {
      const load = await newTaskInstance(url, adminToken, {
        dagId: "py_load",
        runId: `day${i + 1}`,
        taskId: "load",
        outlets: [{ name: "py.orders" }],
      });
      const ran = await python("watermark", {
        CAIRN_URL: url,
        CAIRN_TOKEN: load.token,
        ASSET: "py.orders",
        RUN_AT: runAt,
      });
      expect(ran.code, ran.output).toBe(0);
      if (i === 0) {
        expect(ran.output).toContain("watermark = 1970-01-01 (version 0)");
      } else {
        expect(ran.output).toContain(`watermark = ${runs[0]} (version 1)`);
        expect(ran.output).toContain(
          "a stale compare-and-set is refused: VersionConflictError (version_mismatch)",
        );
      }
      expect(ran.output).toContain(`watermark moved from`);
    }
    expect(
      await admin.admin.assetState.get.query({ asset: { name: "py.orders" }, key: "watermark" }),
    ).toMatchObject({
      value: runs[1],
      version: 2,
    });
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(0);
  }, 120_000);
});
