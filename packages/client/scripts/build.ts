// `pnpm build` for the client, which is also what its published package holds: dist/index.js (ESM),
// dist/index.cjs (CommonJS) and their declarations (scripts/declarations.ts). tRPC's client is compiled
// in, so installing @cairn/client installs nothing else (tRPC's packages would pull TypeScript into a
// plain-JavaScript worker through their peer dependency).
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { bundle } from "@cairn/build";
import { bundleDeclarations } from "./declarations.ts";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const outdir = `${packageDir}dist`;

await rm(outdir, { recursive: true, force: true });
for (const [format, outExtension] of [
  ["esm", ".js"],
  ["cjs", ".cjs"],
] as const) {
  await bundle({
    packageDir,
    entryPoints: { index: "src/index.ts" },
    outdir,
    format,
    outExtension,
    compileIn: ["@trpc/client", "@trpc/server", "eventsource", "eventsource-parser"],
    sourcemap: false,
  });
}
await bundleDeclarations(packageDir, outdir);
