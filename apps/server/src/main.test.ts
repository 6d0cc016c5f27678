// The built server as an operator runs it (`node apps/server/dist/main.js`): configuration errors, an
// unreachable database, embedded and PostgreSQL start-up, logs, the quick-start admin token, SIGTERM.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { signToken, tokenKeys } from "@cairn/api";
import { afterAll, describe, expect, it } from "vitest";
import {
  emptyPostgresDatabase,
  freePort,
  postgresAvailable,
  REPO_ROOT,
  spawnServer,
  stopAllServers,
  TEST_JWT_SECRET,
  tempDir,
} from "./testing/server-process.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const cleanup of cleanups) await cleanup();
});

async function dataDir(): Promise<string> {
  const dir = await tempDir("cairn-main-");
  cleanups.push(dir.remove);
  return dir.path;
}

const upsertAsset = (url: string, token: string, name: string) =>
  fetch(`${url}/trpc/admin.assets.upsert`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ name, uri: `s3://main/${name}` }),
  });

describe("configuration errors", () => {
  it("name each variable, echo its value and say what is allowed; exit 1", async () => {
    const bad = spawnServer({
      env: {
        PORT: "70000",
        CAIRN_MAX_VALUE_BYTES: "-1",
        LOG_LEVEL: "loud",
        CAIRN_SHUTDOWN_TIMEOUT_SECONDS: "0",
      },
    });
    expect((await bad.exit).code).toBe(1);
    expect(bad.output()).toContain("invalid configuration");
    expect(bad.output()).toContain('PORT="70000": must be a whole number from 0 to 65535');
    expect(bad.output()).toContain('CAIRN_MAX_VALUE_BYTES="-1": must be a whole number, 0 or more');
    expect(bad.output()).toContain('LOG_LEVEL="loud": must be one of fatal, error, warn, info');
    expect(bad.output()).toContain(
      'CAIRN_SHUTDOWN_TIMEOUT_SECONDS="0": must be a whole number from 1 to 3600',
    );
  });

  it("never echo a secret", async () => {
    const bad = spawnServer({ env: { CAIRN_JWT_SECRET: "too-short-but-secret" } });
    expect((await bad.exit).code).toBe(1);
    expect(bad.output()).toContain(
      "CAIRN_JWT_SECRET (20 characters, not shown): must be at least 32 characters",
    );
    expect(bad.output()).not.toContain("too-short-but-secret");
  });

  it("ask for CAIRN_JWT_SECRET with PostgreSQL", async () => {
    const noSecret = spawnServer({ env: { DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/postgres" } });
    expect((await noSecret.exit).code).toBe(1);
    expect(noSecret.output()).toContain("CAIRN_JWT_SECRET: required with DATABASE_URL");
  });
});

describe("an unreachable PostgreSQL", () => {
  it("is named with host:port and the cause; waited for up to CAIRN_DB_STARTUP_TIMEOUT_SECONDS, then exit 1", async () => {
    const port = await freePort();
    const env = {
      DATABASE_URL: `postgresql://postgres:hunter2@127.0.0.1:${port}/cairn`,
      CAIRN_JWT_SECRET: TEST_JWT_SECRET,
    };
    const atOnce = spawnServer({ env: { ...env, CAIRN_DB_STARTUP_TIMEOUT_SECONDS: "0" } });
    expect((await atOnce.exit).code).toBe(1);
    expect(atOnce.output()).toContain(
      `cairn: failed to start: cannot reach PostgreSQL at 127.0.0.1:${port} (DATABASE_URL): connection refused`,
    );
    expect(atOnce.output()).not.toContain("hunter2");

    const started = Date.now();
    const waiting = spawnServer({ env: { ...env, CAIRN_DB_STARTUP_TIMEOUT_SECONDS: "2" } });
    expect((await waiting.exit).code).toBe(1);
    expect(Date.now() - started).toBeGreaterThan(1_500);
    expect(waiting.output()).toMatch(/connection refused.*; waiting for it/);
    expect(waiting.output()).toContain("(gave up after 2 s: CAIRN_DB_STARTUP_TIMEOUT_SECONDS)");
  });

  it.skipIf(!postgresAvailable())(
    "names a database that does not exist, at once (waiting would not help)",
    async () => {
      const server = spawnServer({
        env: {
          DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/cairn_no_such_database",
          CAIRN_JWT_SECRET: TEST_JWT_SECRET,
        },
      });
      expect((await server.exit).code).toBe(1);
      expect(server.output()).toContain(
        "cannot reach PostgreSQL at 127.0.0.1:5432 (DATABASE_URL): the database does not exist",
      );
    },
  );
});

describe("embedded start", () => {
  it("logs JSON with ISO times and level names, keeps the admin token out of them, in a 0600 file that works; SIGTERM exits 0", async () => {
    const dir = await dataDir();
    const server = spawnServer({ env: { CAIRN_DATA_DIR: dir, LOG_LEVEL: "info" } });
    const url = await server.listening();
    const tokenFile = join(dir, "admin-token");
    await expect
      .poll(() =>
        stat(tokenFile).then(
          () => true,
          () => false,
        ),
      )
      .toBe(true);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const token = (await readFile(tokenFile, "utf8")).trim();

    const lines = server
      .output()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: unknown; time: unknown; msg: string });
    for (const line of lines) {
      expect(line.level).toMatch(/^(info|warn)$/);
      expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(lines.find((line) => line.msg === "admin token written")).toMatchObject({
      file: tokenFile,
      read: `export CAIRN_ADMIN_TOKEN=$(cat ${tokenFile})`,
    });
    expect(server.output()).not.toContain(token);

    expect((await upsertAsset(url, token, "main_test")).status).toBe(200);
    server.child.kill("SIGTERM");
    expect(await server.exit).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('"msg":"stopped"');
  }, 90_000);

  it("on a terminal: colored lines, and the banner shows the token and how to read it", async () => {
    const dir = await dataDir();
    // `script` gives the server a pseudo-terminal, as a person's shell would.
    const server = spawnServer({
      command: "script",
      args: ["-qec", `exec "${process.execPath}" dist/main.js`, "/dev/null"],
      env: { CAIRN_DATA_DIR: dir, LOG_LEVEL: "info", PORT: String(await freePort()) },
    });
    await expect.poll(() => server.output(), { timeout: 60_000 }).toContain("Try it:");
    const token = (await readFile(join(dir, "admin-token"), "utf8")).trim();
    const output = server.output().replaceAll("\r\n", "\n"); // a terminal ends lines with CR LF
    expect(output).toContain(`\n  ${token}\n`);
    expect(output).toContain(`export CAIRN_ADMIN_TOKEN=$(cat ${join(dir, "admin-token")})`);
    expect(output).toMatch(/\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.*: .*cairn listening/);
    expect(output).not.toContain('"msg"');
    server.child.kill("SIGTERM"); // script passes it on to the server
    await server.exit;
  }, 90_000);
});

describe.skipIf(!postgresAvailable())("PostgreSQL start", () => {
  it("migrates a fresh database at start (in a child process), serves, and stops on SIGTERM with 0", async () => {
    const database = await emptyPostgresDatabase("main");
    cleanups.push(database.drop);
    const server = spawnServer({
      env: { DATABASE_URL: database.url, CAIRN_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: "info" },
    });
    const url = await server.listening();
    expect(server.output()).toMatch(/applied: \d+_init/);
    const token = await signToken(
      tokenKeys(TEST_JWT_SECRET),
      { sub: "t", scope: "admin" },
      new Date(Date.now() + 60_000),
    );
    expect((await upsertAsset(url, token, "pg_main")).status).toBe(200);
    server.child.kill("SIGTERM");
    expect(await server.exit).toEqual({ code: 0, signal: null });
  }, 90_000);
});

describe("the embedded data directory's lock", () => {
  it("a second live server on the same directory gets a clear error", async () => {
    const dir = await dataDir();
    const first = spawnServer({ env: { CAIRN_DATA_DIR: dir, LOG_LEVEL: "info" } });
    await first.listening();
    const second = spawnServer({ env: { CAIRN_DATA_DIR: dir } });
    expect((await second.exit).code).toBe(1);
    expect(second.output()).toContain(
      `the embedded database in ${join(dir, "pglite")} is in use by process ${first.child.pid}; stop it first`,
    );
    first.child.kill("SIGTERM");
    expect((await first.exit).code).toBe(0);
  }, 90_000);

  it("a lock left by a killed server, or naming a live process that is not a Cairn server, does not block a start", async () => {
    const dir = await dataDir();
    const killed = spawnServer({ env: { CAIRN_DATA_DIR: dir, LOG_LEVEL: "info" } });
    await killed.listening();
    killed.child.kill("SIGKILL");
    await killed.exit;
    expect(await readFile(join(dir, "pglite", "cairn.pid"), "utf8")).toBe(`${killed.child.pid}\n`);
    const next = spawnServer({ env: { CAIRN_DATA_DIR: dir, LOG_LEVEL: "info" } });
    await next.listening();
    next.child.kill("SIGKILL");
    await next.exit;

    // The PID in the lock now belongs to a live process that is not a Cairn server (a restarted
    // container's PIDs are reused by anything).
    const other = spawn("sleep", ["60"]);
    await writeFile(join(dir, "pglite", "cairn.pid"), `${other.pid}\n`);
    try {
      const again = spawnServer({ env: { CAIRN_DATA_DIR: dir, LOG_LEVEL: "info" } });
      await again.listening();
      again.child.kill("SIGTERM");
      expect((await again.exit).code).toBe(0);
    } finally {
      other.kill();
    }
  }, 90_000);
});

describe("SIGTERM", () => {
  /** Sends all of an upsert but its last byte: the server holds the request in flight. */
  async function requestInFlight(url: string, token: string): Promise<net.Socket> {
    const { port } = new URL(url);
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.on("error", () => {});
    const body = JSON.stringify({ name: "in_flight", uri: "s3://in/flight" });
    socket.write(
      `POST /trpc/admin.assets.upsert HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, -1)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    return socket;
  }

  it("cuts what is still in flight after CAIRN_SHUTDOWN_TIMEOUT_SECONDS, says so, and exits 1", async () => {
    const dir = await dataDir();
    const server = spawnServer({
      env: { CAIRN_DATA_DIR: dir, LOG_LEVEL: "info", CAIRN_SHUTDOWN_TIMEOUT_SECONDS: "1" },
    });
    const url = await server.listening();
    await expect
      .poll(() =>
        stat(join(dir, "admin-token")).then(
          () => true,
          () => false,
        ),
      )
      .toBe(true);
    const socket = await requestInFlight(url, (await readFile(join(dir, "admin-token"), "utf8")).trim());
    const signalled = Date.now();
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(1);
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(server.output()).toContain("shutdown timed out: cut 1 in-flight request(s)");
    socket.destroy();
  }, 90_000);

  it("with CAIRN_SHUTDOWN_DELAY_SECONDS keeps accepting for that long with /readyz 503, then exits 0", async () => {
    const dir = await dataDir();
    const server = spawnServer({
      env: { CAIRN_DATA_DIR: dir, LOG_LEVEL: "info", CAIRN_SHUTDOWN_DELAY_SECONDS: "2" },
    });
    const url = await server.listening();
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const signalled = Date.now();
    server.child.kill("SIGTERM");
    await expect.poll(async () => (await fetch(`${url}/readyz`)).status).toBe(503);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(await server.exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(2_000);
  }, 90_000);
});

describe("pnpm start", () => {
  it.each(["SIGTERM", "SIGINT"] as const)(
    "runs node apps/server/dist/main.js as pnpm's only child (no tsx, no shell); %s to pnpm stops it gracefully, leaving no process behind",
    async (signal) => {
      const dir = await dataDir();
      const start = spawnServer({
        command: "pnpm",
        args: ["start"],
        cwd: REPO_ROOT,
        env: { CAIRN_DATA_DIR: dir, LOG_LEVEL: "info", TURBO_TELEMETRY_DISABLED: "1" },
      });
      const url = await start.listening(120_000);
      const children = execFileSync("ps", ["--ppid", String(start.child.pid), "-o", "pid=,args="], {
        encoding: "utf8",
      })
        .trim()
        .split("\n");
      expect(children).toHaveLength(1);
      const [pid, ...args] = children[0]!.trim().split(/\s+/);
      expect(args).toEqual(["node", "apps/server/dist/main.js"]);
      expect(spawnSync("ps", ["--ppid", pid!, "-o", "pid="], { encoding: "utf8" }).stdout.trim()).toBe(""); // no grandchildren

      start.child.kill(signal);
      expect(await start.exit).toEqual({ code: 0, signal: null });
      const alive = () => {
        try {
          process.kill(Number(pid), 0);
          return true;
        } catch {
          return false;
        }
      };
      expect(alive()).toBe(false);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      expect(start.output()).toContain('"msg":"stopped"');
    },
    150_000,
  );
});
