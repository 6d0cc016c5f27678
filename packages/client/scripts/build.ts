// `pnpm build` for the client: dist/index.js (ESM) and dist/index.cjs (CommonJS); @trpc/* stay imports.
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { bundle } from "@cairn/build";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const outdir = `${packageDir}dist`;

await rm(outdir, { recursive: true, force: true });
for (const [format, outExtension] of [
  ["esm", ".js"],
  ["cjs", ".cjs"],
] as const) {
  await bundle({ packageDir, entryPoints: { index: "src/index.ts" }, outdir, format, outExtension });
}
