// `pnpm build` for the server: dist/main.js (the server) and dist/cli.js (the `cairn` command), with the
// workspace packages compiled in, plus dist/prisma (schema and migrations, applied at start) and
// dist/console (the operator console's build).
import { cp, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { bundle } from "@cairn/build";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const dist = `${packageDir}dist`;
const prisma = fileURLToPath(new URL("../../../prisma/", import.meta.url));

await rm(dist, { recursive: true, force: true });
await bundle({
  packageDir,
  entryPoints: { main: "src/main.ts", cli: "src/cli/main.ts" },
  outdir: dist,
  format: "esm",
  banner: "#!/usr/bin/env node",
});
await cp(`${prisma}schema.prisma`, `${dist}/prisma/schema.prisma`);
await cp(`${prisma}migrations`, `${dist}/prisma/migrations`, { recursive: true });
// The console's build (turbo builds @cairn/console first: a devDependency), served at /console.
await cp(fileURLToPath(new URL("../../console/dist", import.meta.url)), `${dist}/console`, {
  recursive: true,
});
