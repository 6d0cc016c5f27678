// Test-only: the server as an operator runs it, as a process (built: `node dist/main.js`, or from source
// through tsx), with its output captured and its address read from the "cairn listening" log line.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { testDatabaseContext } from "@cairn/db/testing";
import pg from "pg";

export const SERVER_DIR = fileURLToPath(new URL("../../", import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
/** The built server and CLI (`pnpm build`; the test run's global setup builds them). */
export const BUILT_MAIN = join(SERVER_DIR, "dist", "main.js");
export const BUILT_CLI = join(SERVER_DIR, "dist", "cli.js");
/** A secret for PostgreSQL-mode servers (at least 32 characters). */
export const TEST_JWT_SECRET = "process-test-secret-0123456789-0123456789";

export interface ServerProcess {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** The exit code (null when killed by a signal) and the signal. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the server's base URL once it logs "cairn listening"; rejects if it exits first. */
  listening(ms?: number): Promise<string>;
}

/** Every process spawnServer started that has not exited: stopAllServers() ends them. */
const running = new Set<ChildProcess>();

/** For a test file's afterAll: a failed test must not leave its server running. */
export async function stopAllServers(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          // Its whole process group: `pnpm start` or `script` and the server under them.
          process.kill(-child.pid!, "SIGKILL");
        }),
    ),
  );
}

export function spawnServer(
  opts: { args?: string[]; cwd?: string; env?: Record<string, string | undefined>; command?: string } = {},
): ServerProcess {
  const child = spawn(opts.command ?? process.execPath, opts.args ?? [BUILT_MAIN], {
    cwd: opts.cwd ?? SERVER_DIR,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", PORT: "0", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so stopAllServers() reaches what it started
  });
  running.add(child);
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  let exited = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      running.delete(child);
      exited = true;
      resolve({ code, signal });
    }),
  );
  const port = Number(opts.env?.PORT ?? 0);
  return {
    child,
    output: () => output,
    exit,
    async listening(ms = 60_000) {
      if (port > 0) {
        // A fixed port (a server restarted on the same address): ready when /readyz says so.
        const url = `http://127.0.0.1:${port}`;
        let ready = false;
        const poll = async () => {
          while (!ready && !exited) {
            ready = await fetch(`${url}/readyz`).then(
              (res) => res.ok,
              () => false,
            );
            if (!ready) await new Promise((resolve) => setTimeout(resolve, 50));
          }
        };
        void poll();
        await waitFor(() => ready || exited, ms, "the server to answer /readyz");
        if (!ready) throw new Error(`the server did not start:\n${output}`);
        return url;
      }
      await waitFor(() => exited || /"msg":"cairn listening"/.test(output), ms, "the server to listen");
      const url = /"url":"(http:[^"]+)","msg":"cairn listening"/.exec(output)?.[1];
      if (!url) throw new Error(`the server did not start (log at info to see where it listens):\n${output}`);
      return url;
    },
  };
}

export async function waitFor(predicate: () => boolean, ms: number, what = "a condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// Ports for the servers tests start: one helper for every package's tests (PgBouncer's too).
export { freePort } from "@cairn/db/testing";

/** A fresh empty folder, removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export const postgresAvailable = () => testDatabaseContext().kinds.includes("postgres");

/** An empty PostgreSQL database of this test run (unmigrated: the server migrates it at start). */
export async function emptyPostgresDatabase(
  suffix: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = process.env.CAIRN_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const name = `${testDatabaseContext().runId}_${suffix}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const again = new pg.Client({ connectionString: adminUrl });
      await again.connect();
      await again.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await again.end();
    },
  };
}
