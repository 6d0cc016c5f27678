// Test-only: a PgBouncer in transaction pooling mode in front of the test PostgreSQL, started by the test
// run (Debian's `pgbouncer` package) so that every PostgreSQL behaviour test also runs through it.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import net from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

/** The pgbouncer binary, if installed (Debian puts it in /usr/sbin, which a user's PATH may lack). */
export function pgbouncerBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, "pgbouncer"))) return join(dir, "pgbouncer");
  }
  return undefined;
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts PgBouncer on a free port, forwarding every database name to the PostgreSQL of `postgresUrl` as
 * its user; resolves with the base URL to use (its database part is replaced per test database).
 */
export async function startPgBouncer(
  postgresUrl: string,
  dir: string,
): Promise<{ url: string; process: ChildProcess; stop: () => Promise<void> }> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error("pgbouncer is not installed (Debian: apt-get install pgbouncer)");
  const upstream = new URL(postgresUrl);
  const user = decodeURIComponent(upstream.username) || "postgres";
  const port = await freePort();
  const config = join(dir, "pgbouncer.ini");
  await writeFile(
    config,
    [
      "[databases]",
      `* = host=${upstream.hostname} port=${upstream.port || 5432} user=${user}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      // The test PostgreSQL trusts local connections; every client becomes the forced user above.
      "auth_type = any",
      "pool_mode = transaction",
      "max_client_conn = 2000",
      "default_pool_size = 4",
      "server_idle_timeout = 5",
      "ignore_startup_parameters = extra_float_digits,options",
    ].join("\n"),
  );
  // PgBouncer refuses to run as root; -u drops to the database's own user.
  const asRoot = userInfo().uid === 0;
  if (asRoot) await chmod(dir, 0o755);
  const child = spawn(binary, [...(asRoot ? ["-u", "postgres"] : []), config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (chunk) => (output += chunk));
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`pgbouncer did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const url = new URL(postgresUrl);
  url.port = String(port);
  return {
    url: url.toString(),
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGINT"); // PgBouncer's "shut down at once"
      }),
  };
}
