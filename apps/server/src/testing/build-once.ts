// Vitest global setup: build the server once per test run (turbo's cache makes it a no-op when nothing
// changed), so the process tests run what ships, `node apps/server/dist/main.js`, never a stale build.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function setup() {
  const build = spawnSync(
    "pnpm",
    ["turbo", "run", "build", "--filter=@cairn/server", "--output-logs=errors-only"],
    { cwd: fileURLToPath(new URL("../../../../", import.meta.url)), encoding: "utf8" },
  );
  if (build.status !== 0) {
    throw new Error(`building the server failed (pnpm build):\n${build.stdout}${build.stderr}`);
  }
}
