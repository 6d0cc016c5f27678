// Starting the HTTP variants as their own processes: B0 (null-server.mjs, W7's floor), B2
// (baseline-server.ts), P (the real Cairn server as it ships, the build apps/server/dist/main.js;
// `pnpm bench` builds it first) and P-fastify (the same router through tRPC's Fastify adapter,
// fastify-server.ts), each ready when it has answered a real put; and the B1 worker.
import { fileURLToPath } from "node:url";
import { freePort, JWT_SECRET, sleep } from "./common.ts";
import { type Child, REPO_ROOT, spawnNode } from "./procs.ts";

export type ServerKind = "B0" | "B2" | "P" | "P-fastify";

export interface RunningVariant {
  kind: ServerKind | "B1";
  child: Child;
  /** HTTP base URL (B2, P, P-fastify). */
  url: string;
  /** Spawn to first /healthz answer, ms. */
  healthyMs: number;
  /** Spawn to first successful put (W10 cold start), ms. */
  firstPutMs: number;
}

const BASELINE = fileURLToPath(new URL("./baseline-server.ts", import.meta.url));
const B1_WORKER = fileURLToPath(new URL("./b1-worker.ts", import.meta.url));
/** The Cairn server as it ships (`pnpm bench` builds it first). */
export const CAIRN_MAIN = `${REPO_ROOT}apps/server/dist/main.js`;
const FASTIFY_SERVER = fileURLToPath(new URL("./fastify-server.ts", import.meta.url));
const NULL_SERVER = fileURLToPath(new URL("./null-server.mjs", import.meta.url));
const SCRIPTS: Record<ServerKind, string> = {
  B0: NULL_SERVER,
  B2: BASELINE,
  P: CAIRN_MAIN,
  "P-fastify": FASTIFY_SERVER,
};

export interface StartOptions {
  databaseUrl: string;
  /** A `Bearer …` header and its task instance, for the readiness put. */
  bearer: string;
  taskInstanceId: string;
  /** P and P-fastify: Cairn's LOG_LEVEL (default warn: no per-request line; P-fastify logs no requests). */
  logLevel?: string;
  nodeArgs?: string[];
  port?: number;
  /** More environment for the server (P: CAIRN_* settings). */
  env?: Record<string, string>;
}

export async function startServer(kind: ServerKind, options: StartOptions): Promise<RunningVariant> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    CAIRN_JWT_SECRET: JWT_SECRET,
    PORT: String(port),
    HOST: "127.0.0.1",
    ...options.env,
  };
  if (kind === "P" || kind === "P-fastify") {
    env.LOG_LEVEL = options.logLevel ?? "warn";
    // The orchestrator migrated the database; two replicas must not race the schema engine either.
    env.CAIRN_MIGRATE_ON_START = "false";
  }
  const started = performance.now();
  const child = spawnNode(SCRIPTS[kind], { env, nodeArgs: options.nodeArgs ?? [] });
  let healthyMs = Number.NaN;
  const deadline = started + 60_000;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => {
    exitCode = code;
  });
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(`${kind} server exited (code ${exitCode}) before it was ready:\n${child.output()}`);
    }
    if (performance.now() > deadline) {
      await child.stop();
      throw new Error(`${kind} server not ready within 60 s:\n${child.output()}`);
    }
    try {
      if (Number.isNaN(healthyMs)) {
        const health = await fetch(`${url}/healthz`);
        await health.arrayBuffer();
        if (health.ok) healthyMs = performance.now() - started;
      }
      if (!Number.isNaN(healthyMs)) {
        const response = await fetch(`${url}/trpc/taskState.set`, {
          method: "POST",
          headers: { authorization: options.bearer, "content-type": "application/json" },
          body: JSON.stringify({
            taskInstanceId: options.taskInstanceId,
            key: "cold-start",
            value: { ok: true },
          }),
        });
        const text = await response.text();
        if (response.ok) {
          // Someone else may hold the port: make sure our child is the one still running.
          await sleep(50);
          if (exitCode !== undefined) continue;
          return { kind, child, url, healthyMs, firstPutMs: performance.now() - started };
        }
        if (response.status !== 503) {
          await child.stop();
          throw new Error(`${kind} server refused the readiness put: ${response.status} ${text}`);
        }
      }
    } catch (error) {
      if (error instanceof Error && error.message.includes("refused the readiness put")) throw error;
      // not listening yet
    }
    await sleep(25);
  }
}

export async function startB1(databaseUrl: string, instances: number): Promise<RunningVariant> {
  const started = performance.now();
  const child = spawnNode(B1_WORKER, {
    env: { DATABASE_URL: databaseUrl, BENCH_INSTANCES: String(instances) },
    ipc: true,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`B1 worker not ready:\n${child.output()}`)), 60_000);
    child.proc.once("message", () => {
      clearTimeout(timer);
      resolve();
    });
    void child.exited.then((code) => reject(new Error(`B1 worker exited (${code}):\n${child.output()}`)));
  });
  const ms = performance.now() - started;
  return { kind: "B1", child, url: "", healthyMs: ms, firstPutMs: Number.NaN };
}
