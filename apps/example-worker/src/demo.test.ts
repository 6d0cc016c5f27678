// The demo end to end: the real server in-process on 127.0.0.1:0 over each test database, the demo as
// the scheduler, the worker as a real child process (node --import tsx src/worker.ts) that SIGKILLs itself.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { defaultApiConfig, signToken, tokenKeys } from "@cairn/api";
import { createCairnClient, createCairnTRPCClient } from "@cairn/client";
import { describeEachDatabase } from "@cairn/db/testing";
import { type RunningServer, startServer } from "@cairn/server";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoError, runDemo } from "./demo.ts";
import { incrementalLoad } from "./incremental-load.ts";

const api = { ...defaultApiConfig, tokenKeys: tokenKeys("example-worker-test-secret-0123456789-abcdef") };
const adminToken = () =>
  signToken(api.tokenKeys, { sub: "example-test", scope: "admin" }, new Date(Date.now() + 600_000));

describeEachDatabase("example demo", (getDb) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({
      db: getDb(),
      api,
      logger: pino({ level: "silent" }),
      maxBodyBytes: 1024 * 1024,
      port: 0,
    });
  });
  afterAll(() => server?.close());

  it("a crashed try's retry resumes from the checkpoint; the second run starts at the first's watermark", async () => {
    const lines: string[] = [];
    const token = await adminToken();
    const result = await runDemo({
      url: server.url,
      adminToken: token,
      log: (l) => lines.push(l),
      workMs: 20,
    });

    expect(result.checkpoint.checkpointAfterCrash).toBe(4);
    expect(result.checkpoint.resumedAt).toBe(5);
    expect(result.checkpoint.shippedByTry).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8, 9, 10],
    ]);
    expect(lines).toContainEqual(expect.stringContaining("try 2 resumes at order 5 of 10"));
    expect(lines).toContainEqual(expect.stringContaining("a zombie try 1 cannot write"));

    const [first, second] = result.watermark.runs;
    expect(first).toMatchObject({
      startedFrom: "1970-01-01",
      loaded: ["order-1001", "order-1002", "order-1003"],
      advancedTo: "2026-05-01T17:30:00Z",
      version: 1,
    });
    expect(second).toMatchObject({
      startedFrom: "2026-05-01T17:30:00Z",
      loaded: ["order-1004", "order-1005"],
      advancedTo: "2026-05-02T15:55:00Z",
      version: 2,
    });
    expect(result.watermark.final).toEqual({ value: "2026-05-02T15:55:00Z", version: 2 });

    // A second demo against the same server (new dag runs, the watermark reset) tells the same story.
    const again = await runDemo({ url: server.url, adminToken: token, log: () => {}, workMs: 20 });
    expect(again.checkpoint.runId).not.toBe(result.checkpoint.runId);
    expect(again.checkpoint.resumedAt).toBe(5);
    expect(again.watermark.final).toEqual(result.watermark.final);
  });

  it("two runs loading at once: one advances the watermark, the other re-reads after its conflict", async () => {
    const token = await adminToken();
    const admin = createCairnTRPCClient({ url: server.url, token });
    const asset = `race.orders.${randomUUID().slice(0, 8)}`;
    await admin.admin.assets.upsert.mutate({ name: asset, uri: `s3://race/${asset}` });
    const run = async (runId: string, lines: string[]) => {
      const task = await admin.admin.taskInstances.create.mutate({
        dagId: "race",
        runId,
        taskId: "load_orders",
        outlets: [{ name: asset }],
      });
      const issued = await admin.admin.tokens.issue.mutate({ taskInstanceId: task.id });
      const cairn = createCairnClient({ url: server.url, token: issued.token });
      return incrementalLoad({
        cairn,
        asset,
        runAt: "2026-05-03T00:00:00Z",
        say: (l) => lines.push(l),
        workMs: 5,
      });
    };
    const lines: [string[], string[]] = [[], []];
    const results = await Promise.all([run(`${asset}-a`, lines[0]), run(`${asset}-b`, lines[1])]);
    // Both read "not set", both loaded the same rows; exactly one compare-and-set won.
    expect(results.map((r) => r.advancedTo)).toEqual(["2026-05-02T15:55:00Z", "2026-05-02T15:55:00Z"]);
    expect(results.map((r) => r.version)).toEqual([1, 1]);
    expect(lines.flat().filter((l) => l.includes("re-reading"))).toHaveLength(1);
    expect(lines.flat().filter((l) => l.includes("already moved the watermark"))).toHaveLength(1);
  });

  it("explains a token the server refuses", async () => {
    const foreign = await signToken(
      tokenKeys("some-other-server-secret-0123456789-0123456789"),
      { sub: "elsewhere", scope: "admin" },
      new Date(Date.now() + 60_000),
    );
    const run = runDemo({ url: server.url, adminToken: foreign, log: () => {} });
    await expect(run).rejects.toBeInstanceOf(DemoError);
    await expect(run).rejects.toThrow(/refused CAIRN_ADMIN_TOKEN/);
  });
});

describe("example demo, without a server", () => {
  const demo = fileURLToPath(new URL("./demo.ts", import.meta.url));
  const worker = fileURLToPath(new URL("./worker.ts", import.meta.url));
  const run = async (script: string, env: Record<string, string>) => {
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const [code] = await once(child, "close");
    return { code, output };
  };

  it("exits 1 and says where the admin token comes from when CAIRN_ADMIN_TOKEN is missing", async () => {
    const { code, output } = await run(demo, {});
    expect(code).toBe(1);
    expect(output).toContain("CAIRN_ADMIN_TOKEN is not set");
    expect(output).toContain("pnpm start");
  });

  it("exits 1 and says to start the server when nothing answers", async () => {
    const token = await adminToken();
    const { code, output } = await run(demo, { CAIRN_ADMIN_TOKEN: token, CAIRN_URL: "http://127.0.0.1:9" });
    expect(code).toBe(1);
    expect(output).toContain("no Cairn server answers at http://127.0.0.1:9");
  });

  it("the worker alone exits 2 without CAIRN_URL and CAIRN_TOKEN", async () => {
    const { code, output } = await run(worker, {});
    expect(code).toBe(2);
    expect(output).toContain("set CAIRN_URL and CAIRN_TOKEN");
  });
});
