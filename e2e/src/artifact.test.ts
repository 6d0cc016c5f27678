// The deployable artifact as an operator uses it: `pnpm bundle <dir>` into a folder outside the repository,
// then the Dockerfile's own command line (`node dist/main.js` in its WORKDIR, with its ENV) on the embedded
// database and on PostgreSQL, and `node dist/cli.js`. Images cannot be built here (no registry, no Docker
// daemon), so this runs exactly what the Dockerfile copies, the way it starts it.
import { execFile, spawnSync } from "node:child_process";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import {
  emptyPostgresDatabase,
  freePort,
  postgresAvailable,
  REPO_ROOT,
  spawnServer,
  stopAllServers,
  TEST_JWT_SECRET,
  tempDir,
} from "@cairn/server/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { newTaskInstance, patientClient } from "./workers.ts";

const run = promisify(execFile);

interface Dockerfile {
  env: Record<string, string>;
  workdir: string;
  copies: { from: string; to: string }[];
  cmd: string[];
}

/** The instructions of the repository's Dockerfile that decide what runs and how. */
async function readDockerfile(): Promise<Dockerfile> {
  const text = (await readFile(join(REPO_ROOT, "Dockerfile"), "utf8")).replace(/\\\n/g, " ");
  const result: Dockerfile = { env: {}, workdir: "/", copies: [], cmd: [] };
  for (const line of text.split("\n")) {
    const [instruction, ...rest] = line.trim().split(/\s+/);
    const args = rest.join(" ");
    if (instruction === "ENV") {
      for (const [, key, value] of args.matchAll(/(\w+)=(\S+)/g)) result.env[key!] = value!;
    } else if (instruction === "WORKDIR") {
      result.workdir = args;
    } else if (instruction === "COPY") {
      const [from = "", to = ""] = rest;
      result.copies.push({ from, to });
    } else if (instruction === "CMD") {
      result.cmd = JSON.parse(args) as string[];
    }
  }
  return result;
}

/** Every path under `dir`, relative to it. */
async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push(relative(base, path));
    if (entry.isDirectory()) out.push(...(await walk(path, base)));
  }
  return out;
}

describe("pnpm bundle", () => {
  let bundle: string;
  let dockerfile: Dockerfile;
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await stopAllServers();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  beforeAll(async () => {
    const outside = await tempDir("cairn-bundle-");
    cleanups.push(outside.remove);
    bundle = join(outside.path, "cairn");
    await run("pnpm", ["bundle", bundle], {
      cwd: REPO_ROOT,
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" },
    });
    dockerfile = await readDockerfile();
  }, 180_000);

  /** The Dockerfile's command line, in the bundle (its WORKDIR), with its ENV and the test's own port and data. */
  async function startAsTheImageWould(env: Record<string, string>) {
    expect(dockerfile.cmd).toEqual(["node", "dist/main.js"]);
    const port = String(await freePort());
    const [command, ...args] = dockerfile.cmd;
    const server = spawnServer({
      command: command === "node" ? process.execPath : command,
      args,
      cwd: bundle,
      env: { ...dockerfile.env, PORT: port, ...env },
    });
    const url = await server.listening();
    return { server, url };
  }

  it("the Dockerfile copies exactly the bundle's default folder into its WORKDIR and runs node dist/main.js there", () => {
    expect(dockerfile.copies).toEqual([{ from: "out/cairn/", to: `${dockerfile.workdir}/` }]);
    expect(dockerfile.cmd).toEqual(["node", "dist/main.js"]);
    expect(dockerfile.env).toMatchObject({ HOST: "0.0.0.0", NODE_ENV: "production" });
  });

  it("compose.yaml builds that image, keeps its command, and gives it PostgreSQL 15 and a secret", async () => {
    const compose = parseYaml(await readFile(join(REPO_ROOT, "compose.yaml"), "utf8")) as {
      services: Record<
        string,
        { build?: string; image?: string; command?: unknown; environment?: Record<string, string> }
      >;
    };
    const cairn = compose.services.cairn!;
    expect(cairn.build).toBe(".");
    expect(cairn.command).toBeUndefined();
    expect(Object.keys(cairn.environment ?? {})).toEqual(
      expect.arrayContaining(["DATABASE_URL", "CAIRN_JWT_SECRET"]),
    );
    expect(cairn.environment?.DATABASE_URL).toMatch(/^postgresql:\/\/\w+:\w+@postgres:5432\//);
    expect(compose.services.postgres?.image).toBe("postgres:15");
  });

  it("compose.pgbouncer.yaml: replicas of that image behind PgBouncer in transaction mode, migrations direct and first", async () => {
    type Service = {
      build?: string;
      image?: string;
      command?: string[];
      environment?: Record<string, string>;
      depends_on?: Record<string, { condition: string }>;
      deploy?: { replicas?: number };
    };
    const compose = parseYaml(await readFile(join(REPO_ROOT, "compose.pgbouncer.yaml"), "utf8")) as {
      services: Record<string, Service>;
    };
    const { cairn, migrate, pgbouncer, postgres } = compose.services;
    expect(postgres?.image).toBe("postgres:15");
    expect(pgbouncer?.environment?.POOL_MODE).toBe("transaction");
    expect(cairn?.build).toBe(".");
    expect(cairn?.command).toBeUndefined();
    expect(cairn?.deploy?.replicas).toBeGreaterThan(1);
    expect(cairn?.environment).toMatchObject({
      DATABASE_URL: expect.stringMatching(/@pgbouncer:\d+\//),
      CAIRN_DB_TRANSACTION_POOLING: "true",
      CAIRN_MIGRATE_ON_START: "false",
    });
    expect(cairn?.depends_on?.migrate?.condition).toBe("service_completed_successfully");
    // The one-off migration runs the bundle's CLI, as the test below does, against PostgreSQL itself.
    expect(migrate?.build).toBe(".");
    expect(migrate?.command).toEqual(["node", "dist/cli.js", "migrate"]);
    expect(migrate?.environment?.DATABASE_URL).toMatch(/@postgres:5432\//);
  });

  it("holds the server, the CLI, the migrations and production dependencies only, as plain folders", async () => {
    expect((await readdir(bundle)).sort()).toEqual(["dist", "node_modules", "package.json"]);
    const dist = await walk(join(bundle, "dist"));
    expect(dist).toEqual(
      expect.arrayContaining([
        "main.js",
        "cli.js",
        "prisma/schema.prisma",
        "prisma/migrations",
        "console/index.html",
      ]),
    );
    const migrations = (await readdir(join(REPO_ROOT, "prisma", "migrations"))).sort();
    expect((await readdir(join(bundle, "dist", "prisma", "migrations"))).sort()).toEqual(migrations);

    const modules = await readdir(join(bundle, "node_modules"));
    for (const dev of ["tsx", "typescript", "vitest", "prisma", "turbo", "@cairn", "esbuild", "fastify"]) {
      expect(modules).not.toContain(dev);
    }
    expect(modules).toEqual(
      expect.arrayContaining(["@prisma", "@electric-sql", "pg", "pino", "@trpc", "zod", "swagger-ui-dist"]),
    );
    const links: string[] = [];
    for (const path of await walk(join(bundle, "node_modules"))) {
      if (!path.startsWith(".bin/") && (await lstat(join(bundle, "node_modules", path))).isSymbolicLink()) {
        links.push(path);
      }
    }
    expect(links).toEqual([]);
    const manifest = JSON.parse(await readFile(join(bundle, "package.json"), "utf8")) as { name: string };
    expect(manifest.name).toBe("@cairn/server");
  });

  it("serves on the embedded database from its own folder, with node alone; the CLI works beside it; SIGTERM exits 0", async () => {
    const data = await tempDir("cairn-bundle-data-");
    cleanups.push(data.remove);
    const { server, url } = await startAsTheImageWould({ CAIRN_DATA_DIR: data.path, LOG_LEVEL: "info" });
    // node, and nothing under it: no tsx, no shell, no package manager.
    expect(
      spawnSync("ps", ["--ppid", String(server.child.pid), "-o", "pid="], { encoding: "utf8" }).stdout.trim(),
    ).toBe("");

    // The CLI signs an admin token with the embedded secret, as an operator on that machine would.
    const cli = (args: string[]) =>
      run(process.execPath, ["dist/cli.js", ...args], {
        cwd: bundle,
        env: {
          PATH: process.env.PATH,
          CAIRN_DATA_DIR: data.path,
          CAIRN_URL: url.replace("0.0.0.0", "127.0.0.1"),
        },
      });
    const adminToken = (await cli(["token", "admin", "--sub", "bundle-test"])).stdout.trim();
    const local = url.replace("0.0.0.0", "127.0.0.1");
    const { token } = await newTaskInstance(local, adminToken, { dagId: "bundle", runId: "r1", taskId: "t" });
    const worker = patientClient(local, token);
    await worker.set("checkpoint", 42);
    expect(await worker.get("checkpoint")).toBe(42);
    // The OpenAPI document and its reference page, whose files come from the bundle's node_modules.
    const openapi = await fetch(`${local}/openapi.json`);
    expect(openapi.status).toBe(200);
    expect(await openapi.text()).toBe(await readFile(join(REPO_ROOT, "docs", "openapi.json"), "utf8"));
    for (const path of ["/docs", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"]) {
      expect((await fetch(`${local}${path}`)).status, path).toBe(200);
    }
    // The console, from the bundle's dist/console: the page and the script it loads.
    const page = await (await fetch(`${local}/console/`)).text();
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(page)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${local}/console/${script}`)).status).toBe(200);
    const listed = await cli([
      "state",
      "ls",
      "--dag",
      "bundle",
      "--run",
      "r1",
      "--task",
      "t",
      "--json",
      "--token",
      adminToken,
    ]);
    expect(JSON.parse(listed.stdout)).toMatchObject({ items: [{ key: "checkpoint", value: 42 }] });

    server.child.kill("SIGTERM");
    expect(await server.exit).toEqual({ code: 0, signal: null });
  }, 90_000);

  it.skipIf(!postgresAvailable())(
    "serves on PostgreSQL, migrating a fresh database at start; `node dist/cli.js migrate` migrates another",
    async () => {
      const database = await emptyPostgresDatabase("bundle");
      cleanups.push(database.drop);
      const { server, url } = await startAsTheImageWould({
        DATABASE_URL: database.url,
        CAIRN_JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: "info",
      });
      expect(server.output()).toMatch(/applied: \d+_init/);
      const local = url.replace("0.0.0.0", "127.0.0.1");
      const adminToken = (
        await run(process.execPath, ["dist/cli.js", "token", "admin"], {
          cwd: bundle,
          env: { PATH: process.env.PATH, CAIRN_JWT_SECRET: TEST_JWT_SECRET },
        })
      ).stdout.trim();
      const { token } = await newTaskInstance(local, adminToken, {
        dagId: "bundle",
        runId: "pg",
        taskId: "t",
      });
      await patientClient(local, token).set("k", "v");
      server.child.kill("SIGTERM");
      expect(await server.exit).toEqual({ code: 0, signal: null });

      const other = await emptyPostgresDatabase("bundle_cli");
      cleanups.push(other.drop);
      const migrated = await run(process.execPath, ["dist/cli.js", "migrate"], {
        cwd: bundle,
        env: { PATH: process.env.PATH, DATABASE_URL: other.url },
      });
      expect(migrated.stdout).toMatch(/^applied: \d+_init/);
    },
    90_000,
  );
});
