// Test-only: a PostgreSQL server of the test's own (initdb into a temporary folder, its own port), that the
// test may crash (`pg_ctl stop -m immediate`) and start again. The shared PostgreSQL is never touched.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@cairn/server/testing";

const run = promisify(execFile);

/** Where initdb and pg_ctl are: on PATH, or in Debian's versioned folder. */
function postgresBin(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) return dir;
  }
  const debian = "/usr/lib/postgresql";
  if (!existsSync(debian)) return undefined;
  for (const version of readdirSync(debian).sort().reverse()) {
    if (existsSync(join(debian, version, "bin", "initdb"))) return join(debian, version, "bin");
  }
  return undefined;
}

const bin = postgresBin();
/** PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user. */
const asRoot = userInfo().uid === 0;

export const canRunOwnPostgres = bin !== undefined && (!asRoot || existsSync("/usr/sbin/runuser"));

async function pgTool(tool: string, args: string[]): Promise<string> {
  const command = join(bin!, tool);
  const { stdout } = asRoot
    ? await run("runuser", ["-u", "postgres", "--", command, ...args])
    : await run(command, args);
  return stdout;
}

export interface OwnPostgres {
  url: string;
  port: number;
  /** Kills every PostgreSQL process at once, as a crash would (no shutdown checkpoint). */
  crash(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = await mkdtemp("/tmp/cairn-own-pg-");
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, "data");
  await pgTool("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=50`;
  const start = async () => {
    await pgTool("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "-t", "30", "start"]);
  };
  await start();
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    crash: async () => {
      await pgTool("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
    },
    start,
    remove: async () => {
      await pgTool("pg_ctl", ["-D", data, "-m", "immediate", "stop"]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
