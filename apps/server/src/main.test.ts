// The server process as an operator runs it: config validation, embedded start-up, SIGTERM.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { signToken, tokenKeys } from "@cairn/api";
import { testDatabaseContext } from "@cairn/db/testing";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";

const main = fileURLToPath(new URL("./main.ts", import.meta.url));

function run(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", main], {
    env: { PATH: process.env.PATH, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exit };
}

async function waitFor(predicate: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("server process", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("exits 1 with a clear message on bad configuration", async () => {
    const bad = run({ PORT: "eighty", CAIRN_MAX_VALUE_BYTES: "-1" });
    expect(await bad.exit).toBe(1);
    expect(bad.output()).toContain("invalid configuration");
    expect(bad.output()).toContain("PORT");
    expect(bad.output()).toContain("CAIRN_MAX_VALUE_BYTES");

    const noSecret = run({ DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/postgres" });
    expect(await noSecret.exit).toBe(1);
    expect(noSecret.output()).toContain("CAIRN_JWT_SECRET: required with DATABASE_URL");
  });

  it("starts on the embedded database, prints an admin token that works, and stops on SIGTERM with 0", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "cairn-main-"));
    dirs.push(dataDir);
    const server = run({ CAIRN_DATA_DIR: dataDir, PORT: "0" });
    await waitFor(() => /Admin token[^\n]*\n\n\s+(\S+)/.test(server.output()), 60_000);
    const token = /Admin token[^\n]*\n\n\s+(\S+)/.exec(server.output())?.[1];
    const url = /running on (http:\/\/\S+) /.exec(server.output())?.[1];
    expect(url).toBeTruthy();
    const res = await fetch(`${url}/trpc/admin.assets.upsert`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "main_test", uri: "s3://main/test" }),
    });
    expect(res.status).toBe(200);

    server.child.kill("SIGTERM");
    expect(await server.exit).toBe(0);
  }, 90_000);

  it.skipIf(!testDatabaseContext().kinds.includes("postgres"))(
    "on PostgreSQL migrates a fresh database at start (in a child process) and serves",
    async () => {
      const adminUrl = process.env.CAIRN_TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
      const name = `${testDatabaseContext().runId}_main`;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE "${name}"`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const secret = "main-test-secret-0123456789-0123456789-abcdef";
      try {
        const server = run({
          DATABASE_URL: url.toString(),
          CAIRN_JWT_SECRET: secret,
          PORT: "0",
          LOG_LEVEL: "info",
        });
        await waitFor(() => /"msg":"cairn listening"/.test(server.output()), 60_000);
        expect(server.output()).toMatch(/applied: \d+_init/);
        const listening = /"url":"(http:[^"]+)"/.exec(server.output())?.[1];
        const token = await signToken(
          tokenKeys(secret),
          { sub: "t", scope: "admin" },
          new Date(Date.now() + 60_000),
        );
        const res = await fetch(`${listening}/trpc/admin.assets.upsert`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "pg_main", uri: "s3://pg/main" }),
        });
        expect(res.status).toBe(200);
        server.child.kill("SIGTERM");
        expect(await server.exit).toBe(0);
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await admin.end();
      }
    },
    90_000,
  );
});
