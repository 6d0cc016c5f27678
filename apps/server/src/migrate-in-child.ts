// Start-up migrations against PostgreSQL run in a short-lived child process (`cairn migrate`): the
// WebAssembly schema engine holds tens of MB that a long-running server would otherwise keep for its whole life.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

// The `cairn` command beside this code: dist/cli.js in a build (each entry is one bundled file in dist/),
// src/cli/main.ts when running from source.
const cli = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "./cli/main.ts" : "./cli.js", import.meta.url),
);

export async function migrateInChildProcess(databaseUrl: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Same node and loader flags (tsx from source) as this process; only the database URL matters to the child.
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
