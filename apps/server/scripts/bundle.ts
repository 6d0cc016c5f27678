// `pnpm bundle [dir]` (default out/cairn): the deployable artifact. A folder that runs anywhere with node
// alone: dist/main.js (the server), dist/cli.js (`cairn`), dist/prisma (migrations, applied at start),
// package.json and node_modules with the production dependencies only (no tsx, no pnpm, no symlinks
// but node_modules/.bin). The Dockerfile and compose.yaml at the repository root copy exactly this folder.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const target = resolve(process.argv[2] ?? join(repoRoot, "out/cairn"));

function fail(message: string): never {
  process.stderr.write(`pnpm bundle: ${message}\n`);
  process.exit(1);
}

/** A previous bundle may be replaced; any other non-empty folder is left alone. */
function clearTarget(): void {
  if (!existsSync(target) || readdirSync(target).length === 0) return;
  const manifest = join(target, "package.json");
  const name = existsSync(manifest)
    ? (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name
    : undefined;
  if (name !== "@cairn/server" || !existsSync(join(target, "dist", "main.js"))) {
    fail(`${target} exists and is not a Cairn bundle; give an empty or new folder`);
  }
  rmSync(target, { recursive: true, force: true });
}

const run = (args: string[]) => execFileSync("pnpm", args, { cwd: repoRoot, stdio: "inherit" });

clearTarget();
run(["turbo", "run", "build", "--filter=@cairn/server", "--output-logs=errors-only"]);
// --legacy: the workspace links its packages instead of injecting them (they are compiled into dist/
// anyway); hoisted: plain folders, so the bundle survives cp, tar, rsync and COPY alike.
run([
  "--filter=@cairn/server",
  "deploy",
  "--legacy",
  "--prod",
  "--ignore-scripts",
  "--config.node-linker=hoisted",
  target,
]);

const fromHere = relative(process.cwd(), target);
const shown = fromHere === "" ? "." : fromHere.startsWith("..") ? target : fromHere;
process.stdout.write(
  `\nCairn bundle written to ${target}\n` +
    `  cd ${shown} && node dist/main.js     # the server (embedded database unless DATABASE_URL is set)\n` +
    `  cd ${shown} && node dist/cli.js      # the cairn command line\n`,
);
