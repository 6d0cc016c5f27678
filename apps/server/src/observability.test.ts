// Observability (issue #4 §6) and the automatic cleanup (§2): GET /metrics, the cleanup loop, and request
// ids in every log line of a request; through real servers over PGlite and PostgreSQL.
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { createCaller, createContextInner, signToken } from "@cairn/api";
import { TEST_SECRET, testConfig } from "@cairn/api/testing";
import type { Database } from "@cairn/db";
import { describeEachDatabase } from "@cairn/db/testing";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { startCleanupLoop } from "./cleanup-loop.ts";
import { ConfigError, parseConfig } from "./config.ts";
import { type RunningServer, startServer } from "./http-server.ts";
import { createMetrics, type Metrics } from "./metrics.ts";

const _secret = TEST_SECRET;
const api = testConfig({ defaultTokenTtlSeconds: 3600, clearOnSuccess: true });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const fromNow = (ms: number) => new Date(Date.now() + ms).toISOString();

type LogLine = Record<string, unknown> & { msg?: string; reqId?: string; level: number };

/** A pino logger writing JSON lines into memory. */
function memoryLogger() {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

async function waitFor(predicate: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Prometheus text format: samples as { name, labels, value }. */
function parseMetrics(text: string) {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  /** The value of the one sample with this name and these labels (among others); undefined if none. */
  const value = (name: string, labels: Record<string, string> = {}) => {
    const found = samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
    return found[0]?.value;
  };
  return { samples, value };
}

describeEachDatabase("observability", (getDb) => {
  let adminToken: string;
  beforeAll(async () => {
    adminToken = await signToken(
      api.tokenKeys,
      { sub: "obs-test", scope: "admin" },
      new Date(Date.now() + 600_000),
    );
  });
  const admin = () =>
    createCaller(
      createContextInner({ db: getDb(), config: api, principal: { scope: "admin", sub: "obs-setup" } }),
    ).admin;

  /** A server for one test, closed after it. */
  async function withServer<T>(
    options: { metrics?: Metrics; logger?: pino.Logger; db?: Database },
    body: (server: RunningServer) => Promise<T>,
  ): Promise<T> {
    const server = await startServer({
      db: options.db ?? getDb(),
      api,
      logger: options.logger ?? pino({ level: "silent" }),
      metrics: options.metrics,
      maxBodyBytes: 1 << 20,
    });
    try {
      return await body(server);
    } finally {
      await server.close();
    }
  }

  function client(server: RunningServer, token: string | null = adminToken) {
    const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    return {
      mutate: (path: string, input: unknown, headers: Record<string, string> = {}) =>
        fetch(`${server.url}/trpc/${path}`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json", ...headers },
          body: JSON.stringify(input),
        }),
      query: (path: string, input: unknown, headers: Record<string, string> = {}) =>
        fetch(`${server.url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, {
          headers: { ...auth, ...headers },
        }),
    };
  }

  describe("GET /metrics", () => {
    it("counts calls and latency per procedure and outcome, and state rows written and deleted", async () => {
      const metrics = createMetrics();
      await withServer({ metrics }, async (server) => {
        const t = await admin().taskInstances.create({
          dagId: `dag_${randomUUID()}`,
          runId: "r",
          taskId: "t",
        });
        const assetName = `asset_${randomUUID()}`;
        await admin().assets.upsert({ name: assetName, uri: `s3://obs/${assetName}` });
        const api = client(server);
        const ok = async (res: Promise<Response>, status = 200) => expect((await res).status).toBe(status);

        for (const key of ["a", "b", "c"])
          await ok(api.mutate("taskState.set", { taskInstanceId: t.id, key, value: 1 }));
        await ok(api.query("taskState.get", { taskInstanceId: t.id, key: "a" }));
        await ok(api.query("taskState.get", { taskInstanceId: t.id, key: "missing" }), 404);
        await ok(api.query("taskState.get", { taskInstanceId: randomUUID(), key: "a" }), 404);
        await ok(
          api.mutate("taskState.set", { taskInstanceId: t.id, key: "a", value: 2, ifVersion: 9 }),
          409,
        );
        await ok(api.mutate("taskState.delete", { taskInstanceId: t.id, key: "a" }));
        await ok(api.mutate("taskState.delete", { taskInstanceId: t.id, key: "a" })); // deleted: false
        await ok(api.mutate("taskState.clear", { taskInstanceId: t.id }));
        await ok(api.mutate("taskState.set", { taskInstanceId: t.id, key: "d", value: 1 }));
        await ok(api.mutate("admin.taskInstances.setState", { taskInstanceId: t.id, state: "success" }));
        await ok(api.mutate("admin.assetState.set", { asset: { name: assetName }, key: "wm", value: 1 }));
        await ok(client(server, null).query("taskState.get", { taskInstanceId: t.id, key: "a" }), 401);

        const res = await fetch(`${server.url}/metrics`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
        const text = await res.text();
        expect(text).toContain("# TYPE cairn_procedure_calls_total counter");
        expect(text).toContain("# TYPE cairn_procedure_duration_seconds histogram");
        const m = parseMetrics(text);
        const calls = (procedure: string, outcome: string) =>
          m.value("cairn_procedure_calls_total", { procedure, outcome });
        expect(calls("taskState.set", "OK")).toBe(4);
        expect(calls("taskState.set", "CONFLICT")).toBe(1);
        expect(calls("taskState.get", "OK")).toBe(1);
        expect(calls("taskState.get", "NOT_FOUND")).toBe(2);
        expect(calls("taskState.get", "UNAUTHORIZED")).toBe(1);
        expect(calls("taskState.delete", "OK")).toBe(2);
        expect(calls("admin.taskInstances.setState", "OK")).toBe(1);
        expect(calls("admin.assetState.set", "OK")).toBe(1);

        const histogram = { procedure: "taskState.set", outcome: "OK" };
        expect(m.value("cairn_procedure_duration_seconds_count", histogram)).toBe(4);
        expect(m.value("cairn_procedure_duration_seconds_bucket", { ...histogram, le: "+Inf" })).toBe(4);
        expect(m.value("cairn_procedure_duration_seconds_sum", histogram)).toBeGreaterThan(0);
        const buckets = m.samples
          .filter(
            (s) =>
              s.name === "cairn_procedure_duration_seconds_bucket" &&
              s.labels.procedure === "taskState.set" &&
              s.labels.outcome === "OK",
          )
          .map((s) => s.value);
        expect(buckets.length).toBeGreaterThan(5);
        expect([...buckets].sort((x, y) => x - y)).toEqual(buckets); // cumulative
        expect(
          m.value("cairn_procedure_duration_seconds_count", {
            procedure: "taskState.get",
            outcome: "NOT_FOUND",
          }),
        ).toBe(2);

        expect(m.value("cairn_state_rows_written_total", { plane: "task" })).toBe(4);
        expect(m.value("cairn_state_rows_written_total", { plane: "asset" })).toBe(1);
        expect(m.value("cairn_state_rows_deleted_total", { plane: "task", via: "delete" })).toBe(1);
        expect(m.value("cairn_state_rows_deleted_total", { plane: "task", via: "clear" })).toBe(2);
        expect(m.value("cairn_state_rows_deleted_total", { plane: "task", via: "lifecycle" })).toBe(1);
        // Node's process metrics come along under their standard names, which stock dashboards use.
        expect(m.value("process_cpu_seconds_total")).toBeGreaterThan(0);
        expect(m.value("nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
        expect(m.samples.filter((s) => s.name.startsWith("cairn_process_"))).toEqual([]);
        expect(m.value("cairn_build_info", { node: process.version })).toBe(1);
        expect(m.samples.find((s) => s.name === "cairn_build_info")?.labels.version).toMatch(
          /^\d+\.\d+\.\d+/,
        );

        // HTTP responses by route and status; unknown paths share one bounded label.
        await fetch(`${server.url}/nope/${randomUUID()}`);
        await fetch(`${server.url}/trpc/no.such.procedure`);
        await api.mutate(
          "taskState.set",
          { taskInstanceId: t.id, key: "x", value: 1 },
          { "content-type": "text/plain" },
        );
        await fetch(`${server.url}/trpc/taskState.set`, {
          method: "POST",
          headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
          body: "x".repeat(2 << 20),
        });
        const after = parseMetrics(await (await fetch(`${server.url}/metrics`)).text());
        const responses = (route: string, status: string) =>
          after.value("cairn_http_responses_total", { route, status });
        expect(responses("/trpc/taskState.set", "200")).toBe(4);
        expect(responses("/trpc/taskState.set", "409")).toBe(1);
        expect(responses("/trpc/taskState.set", "415")).toBe(1);
        expect(responses("/trpc/taskState.set", "413")).toBe(1);
        expect(responses("/trpc/taskState.get", "404")).toBe(2);
        expect(responses("/trpc/taskState.get", "401")).toBe(1);
        expect(responses("(other)", "404")).toBe(1);
        expect(responses("/trpc/(unknown)", "404")).toBe(1);
        expect(responses("/metrics", "200")).toBe(1);
      });
    });

    it("rows deleted by an operator's cleanup (admin.cleanup.run, cairn clean) count as deleted via cleanup", async () => {
      const metrics = createMetrics();
      await withServer({ metrics }, async (server) => {
        await admin().cleanup.run({});
        const address = { dagId: `dag_${randomUUID()}`, runId: "r", taskId: "t" };
        await admin().taskInstances.create(address);
        for (const key of ["x", "y", "z"]) {
          await admin().taskState.set({ ...address, key, value: 1, expiresAt: fromNow(-60_000) });
        }
        const assetName = `asset_${randomUUID()}`;
        await admin().assets.upsert({ name: assetName, uri: `s3://obs/${assetName}` });
        await admin().assetState.set({
          asset: { name: assetName },
          key: "wm",
          value: 1,
          expiresAt: fromNow(-1000),
        });

        const api = client(server);
        const first = await api.mutate("admin.cleanup.run", { batchSize: 2, maxBatches: 1 });
        expect(await first.json()).toEqual({ result: { data: { task: 2, asset: 1, done: false } } });
        const second = await api.mutate("admin.cleanup.run", {});
        expect(await second.json()).toEqual({ result: { data: { task: 1, asset: 0, done: true } } });

        const m = parseMetrics(await (await fetch(`${server.url}/metrics`)).text());
        expect(
          m.value("cairn_procedure_calls_total", { procedure: "admin.cleanup.run", outcome: "OK" }),
        ).toBe(2);
        expect(m.value("cairn_state_rows_deleted_total", { plane: "task", via: "cleanup" })).toBe(3);
        expect(m.value("cairn_state_rows_deleted_total", { plane: "asset", via: "cleanup" })).toBe(1);
      });
    });

    it("a server without metrics has no /metrics", async () => {
      await withServer({}, async (server) => {
        expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      });
    });
  });

  describe("the cleanup loop", () => {
    it("deletes an expired row by itself, reports each run and stops", async () => {
      const address = { dagId: `dag_${randomUUID()}`, runId: "r", taskId: "t" };
      const t = await admin().taskInstances.create(address);
      await admin().taskState.set({ ...address, key: "expired", value: 1, expiresAt: fromNow(-60_000) });
      await admin().taskState.set({ ...address, key: "fresh", value: 1 });

      const metrics = createMetrics();
      const { logger, lines } = memoryLogger();
      const runs: { outcome: string; task: number; asset: number }[] = [];
      const loop = startCleanupLoop({
        db: getDb(),
        intervalSeconds: 0.02,
        batchSize: 100,
        logger,
        onRun: (run) => {
          runs.push(run);
          metrics.onCleanup(run);
        },
      });
      try {
        await waitFor(() => runs.length >= 3, "three cleanup runs");
      } finally {
        await loop.stop();
      }
      expect(runs.every((run) => run.outcome === "ok")).toBe(true);
      expect(runs.reduce((sum, run) => sum + run.task, 0)).toBe(1);
      const keys = await getDb().sql.query<{ key: string }>(
        "SELECT key FROM task_state WHERE dag_run_id = (SELECT dag_run_id FROM task_instance WHERE id = $1::uuid)",
        [t.id],
      );
      expect(keys.map((row) => row.key)).toEqual(["fresh"]);
      expect(lines).toContainEqual(
        expect.objectContaining({
          msg: "cleanup deleted expired state",
          deleted: { task: 1, asset: 0, done: true },
        }),
      );

      const m = parseMetrics(await metrics.registry.metrics());
      expect(m.value("cairn_cleanup_runs_total", { outcome: "ok" })).toBe(runs.length);
      expect(m.value("cairn_state_rows_deleted_total", { plane: "task", via: "cleanup" })).toBe(1);

      // Stopped: no more runs (many intervals later).
      const after = runs.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(runs.length).toBe(after);
    });

    it("a failing run is reported as an error and logged, and the loop carries on", async () => {
      const broken = {
        ...getDb(),
        sql: { query: () => Promise.reject(new Error("connection reset")) },
      } as unknown as Database;
      const { logger, lines } = memoryLogger();
      const runs: { outcome: string }[] = [];
      const loop = startCleanupLoop({
        db: broken,
        intervalSeconds: 0.02,
        batchSize: 10,
        logger,
        onRun: (r) => runs.push(r),
      });
      try {
        await waitFor(() => runs.length >= 2, "two failed runs");
      } finally {
        await loop.stop();
      }
      expect(runs.every((run) => run.outcome === "error")).toBe(true);
      const warning = lines.find((line) => line.msg === "cleanup failed; will retry next interval");
      expect(warning).toMatchObject({ level: 40, err: { message: "connection reset" } });
    });

    it("stop waits for the batch in progress and runs no further batch", async () => {
      let release: (rows: { deleted: number }[]) => void = () => {};
      let queries = 0;
      const slow = {
        ...getDb(),
        sql: {
          query: () => {
            queries++;
            return new Promise((resolve) => {
              release = resolve;
            });
          },
        },
      } as unknown as Database;
      const runs: { outcome: string; task: number }[] = [];
      const loop = startCleanupLoop({
        db: slow,
        intervalSeconds: 0.01,
        batchSize: 10,
        logger: pino({ level: "silent" }),
        onRun: (r) => runs.push(r),
      });
      await waitFor(() => queries === 1, "the first batch to start");
      let stopped = false;
      const stopping = loop.stop().then(() => {
        stopped = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(stopped).toBe(false);
      release([{ deleted: 10 }]); // a full batch: without stop, another would follow
      await stopping;
      expect(queries).toBe(1);
      expect(runs).toEqual([{ outcome: "ok", task: 10, asset: 0 }]);
    });
  });

  describe("request ids", () => {
    it("every log line of a request carries the x-request-id it came with; the response echoes it", async () => {
      const { logger, lines } = memoryLogger();
      const real = getDb();
      let broken = false;
      const db: Database = {
        ...real,
        sql: {
          query: <Row>(text: string, values?: unknown[], name?: string) =>
            broken
              ? Promise.reject(new Error("boom: secret internals"))
              : real.sql.query<Row>(text, values, name),
        },
        ping: () => (broken ? Promise.reject(new Error("boom: no database")) : real.ping()),
      };
      await withServer({ logger, db }, async (server) => {
        const api = client(server);
        const ids = [`req-a-${randomUUID()}`, `req-b-${randomUUID()}`];
        const responses = await Promise.all(
          ids.map((id) =>
            api.mutate("admin.assets.upsert", { name: id, uri: `s3://obs/${id}` }, { "x-request-id": id }),
          ),
        );
        for (const [i, res] of responses.entries()) {
          expect(res.status).toBe(200);
          expect(res.headers.get("x-request-id")).toBe(ids[i]);
        }
        const notFound = `req-c-${randomUUID()}`;
        const missing = await api.query(
          "taskState.get",
          { taskInstanceId: randomUUID(), key: "k" },
          { "x-request-id": notFound },
        );
        expect(missing.status).toBe(404);
        expect(missing.headers.get("x-request-id")).toBe(notFound);

        broken = true;
        const internal = `req-d-${randomUUID()}`;
        const failed = await api.mutate(
          "taskState.set",
          { taskInstanceId: randomUUID(), key: "k", value: 1 },
          { "x-request-id": internal },
        );
        expect(failed.status).toBe(500);
        expect(failed.headers.get("x-request-id")).toBe(internal);
        expect(await failed.text()).not.toContain("secret internals");
        const unready = `req-e-${randomUUID()}`;
        const ready = await fetch(`${server.url}/readyz`, { headers: { "x-request-id": unready } });
        expect(ready.status).toBe(503);
        expect(ready.headers.get("x-request-id")).toBe(unready);
        broken = false;

        const of = (id: string) => lines.filter((line) => line.reqId === id);
        await waitFor(
          () => [...ids, notFound, internal, unready].every((id) => of(id).some((l) => l.msg === "request")),
          "request lines",
        );
        for (const id of ids) {
          // An admin token's write also leaves an audit line: who wrote what (never the value).
          expect(of(id)).toEqual([
            expect.objectContaining({
              msg: "admin write",
              sub: "obs-test",
              procedure: "admin.assets.upsert",
              outcome: "OK",
              target: { name: id, uri: `s3://obs/${id}` },
            }),
            expect.objectContaining({
              msg: "request",
              method: "POST",
              url: "/trpc/admin.assets.upsert",
              status: 200,
            }),
          ]);
        }
        expect(of(notFound)).toEqual([expect.objectContaining({ msg: "request", status: 404 })]);
        // A request that logs more than its request line: every line carries its id.
        expect(
          of(internal)
            .map((line) => line.msg)
            .sort(),
        ).toEqual(["admin write", "internal error", "request"]);
        expect(of(internal).find((line) => line.msg === "internal error")).toMatchObject({
          path: "taskState.set",
          err: { message: "boom: secret internals" },
        });
        expect(
          of(unready)
            .map((line) => line.msg)
            .sort(),
        ).toEqual(["readiness check failed: database does not answer", "request"]);
        // No line of this server lacks a request id.
        expect(lines.filter((line) => line.reqId === undefined)).toEqual([]);
      });
    });

    it("every write made with an admin token is logged with the token's sub; reads and execution tokens are not", async () => {
      const { logger, lines } = memoryLogger();
      await withServer({ logger }, async (server) => {
        const dagId = `dag_${randomUUID()}`;
        const t = await admin().taskInstances.create({ dagId, runId: "r", taskId: "t" });
        const { token: execution } = await admin().tokens.issue({ taskInstanceId: t.id });
        const alice = await signToken(
          api.tokenKeys,
          { sub: "alice", scope: "admin" },
          new Date(Date.now() + 60_000),
        );
        const asAlice = client(server, alice);
        const address = { dagId, runId: "r", taskId: "t" };
        await asAlice.mutate("admin.taskState.set", { ...address, key: "cursor", value: "secret-value" });
        await asAlice.mutate("taskState.set", { taskInstanceId: t.id, key: "k", value: 1, ifVersion: 7 });
        await asAlice.query("admin.taskState.get", { ...address, key: "cursor" });
        await client(server, execution).mutate("taskState.set", {
          taskInstanceId: t.id,
          key: "mine",
          value: 2,
        });
        await waitFor(() => lines.filter((line) => line.msg === "request").length === 4, "request lines");

        const audit = lines.filter((line) => line.msg === "admin write");
        expect(audit).toEqual([
          expect.objectContaining({
            sub: "alice",
            procedure: "admin.taskState.set",
            outcome: "OK",
            target: { ...address, key: "cursor" },
            reqId: expect.any(String),
          }),
          expect.objectContaining({
            sub: "alice",
            procedure: "taskState.set",
            outcome: "CONFLICT",
            target: { taskInstanceId: t.id, key: "k" },
          }),
        ]);
        expect(JSON.stringify(lines)).not.toContain("secret-value");
      });
    });

    it("a request without an id, or with an over-long one, gets a generated id, echoed and logged", async () => {
      const { logger, lines } = memoryLogger();
      await withServer({ logger }, async (server) => {
        const plain = await fetch(`${server.url}/healthz`);
        const long = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "x".repeat(201) } });
        const generated = [plain.headers.get("x-request-id"), long.headers.get("x-request-id")];
        for (const id of generated) expect(id).toMatch(UUID);
        expect(generated[0]).not.toBe(generated[1]);
        await waitFor(
          () => generated.every((id) => lines.some((line) => line.reqId === id)),
          "request lines",
        );
        for (const id of generated) {
          expect(lines.filter((line) => line.reqId === id)).toEqual([
            expect.objectContaining({ msg: "request", url: "/healthz", status: 200 }),
          ]);
        }
      });
    });
  });
});

describe("configuration of the cleanup and clear-on-success", () => {
  it("defaults: cleanup every 300 s in batches of 1000, clear-on-success off, 30 days of retention", () => {
    expect(parseConfig({})).toMatchObject({
      cleanupIntervalSeconds: 300,
      cleanupBatchSize: 1000,
      clearOnSuccess: false,
      defaultRetentionDays: 30,
      tokenCacheSize: 100_000,
    });
  });

  it("reads the environment; 0 turns the automatic cleanup off; bad values are refused", () => {
    expect(
      parseConfig({
        CAIRN_CLEANUP_INTERVAL_SECONDS: "0",
        CAIRN_CLEANUP_BATCH_SIZE: "50",
        CAIRN_CLEAR_ON_SUCCESS: "true",
        CAIRN_DEFAULT_RETENTION_DAYS: "0",
        CAIRN_TOKEN_CACHE_SIZE: "0",
      }),
    ).toMatchObject({
      tokenCacheSize: 0,
      cleanupIntervalSeconds: 0,
      cleanupBatchSize: 50,
      clearOnSuccess: true,
      defaultRetentionDays: 0,
    });
    for (const env of [
      { CAIRN_CLEANUP_INTERVAL_SECONDS: "-1" },
      { CAIRN_CLEANUP_INTERVAL_SECONDS: "often" },
      { CAIRN_CLEANUP_BATCH_SIZE: "0" },
      { CAIRN_CLEAR_ON_SUCCESS: "maybe" },
      { CAIRN_TOKEN_CACHE_SIZE: "-5" },
    ]) {
      expect(() => parseConfig(env), JSON.stringify(env)).toThrow(ConfigError);
    }
  });
});
