// Start-up migrations against PostgreSQL run in a short-lived child process: the WebAssembly schema
// engine holds tens of MB that a long-running server would otherwise keep for its whole life.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

export async function migrateInChildProcess(databaseUrl: string): Promise<string> {
  const cli = fileURLToPath(import.meta.resolve("@cairn/db/cli"));
  return new Promise((resolve, reject) => {
    // Same node and loader flags (tsx) as this process; only the database URL matters to the child.
    execFile(
      process.execPath,
      [...process.execArgv, cli, "migrate"],
      { env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 300_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`migrations failed: ${(stderr || stdout || error.message).trim()}`));
        else resolve(stdout.trim());
      },
    );
  });
}
