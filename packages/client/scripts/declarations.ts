// dist/index.d.ts (and .d.cts): the client's declarations in one self-contained file. The router's input
// and output types (from @cairn/api) and the tRPC types they are written in are inlined; nothing in it
// imports another package, so a worker's `tsc` checks its calls without @cairn/api, tRPC or Prisma.
//
// tsc emits declarations for the client and for the API, each in its own package (compiling the API's
// sources from the client's program cannot name their tRPC types); rollup-plugin-dts then joins what the
// client's entry reaches. @cairn/db is resolved to an opaque stub (scripts/opaque-db.d.ts).
import { execFileSync } from "node:child_process";
import { copyFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { rollup } from "rollup";
import { dts } from "rollup-plugin-dts";

const require = createRequire(import.meta.url);

function emitDeclarations(project: string, outDir: string): void {
  const tsc = require.resolve("typescript/bin/tsc");
  execFileSync(
    process.execPath,
    [tsc, "-p", project, "--noEmit", "false", "--declaration", "--emitDeclarationOnly", "--outDir", outDir],
    { stdio: "inherit" },
  );
}

export async function bundleDeclarations(packageDir: string, outdir: string): Promise<void> {
  // Under node_modules, so the emitted files resolve @trpc/* from this package's dependencies.
  const work = join(packageDir, "node_modules", ".cache", "cairn-declarations");
  await rm(work, { recursive: true, force: true });
  emitDeclarations(join(packageDir, "tsconfig.declarations.json"), join(work, "client"));
  emitDeclarations(join(packageDir, "..", "api", "tsconfig.json"), join(work, "api"));

  const build = await rollup({
    input: join(work, "client", "index.d.ts"),
    plugins: [
      {
        name: "cairn-declarations",
        resolveId(id, importer) {
          if (id === "@cairn/api") return join(work, "api", "index.d.ts");
          if (id === "@cairn/db") return join(packageDir, "scripts", "opaque-db.d.ts");
          // The sources import "./x.ts" (allowImportingTsExtensions); their declarations are "./x.d.ts".
          if (importer && id.startsWith(".") && id.endsWith(".ts") && !id.endsWith(".d.ts")) {
            return resolve(dirname(importer), id.replace(/\.ts$/, ".d.ts"));
          }
          return null;
        },
      },
      dts({ respectExternal: true }),
    ],
    onwarn(warning) {
      // zod is named by the API's schema declarations, none of which the client's types reach.
      if (warning.code === "UNRESOLVED_IMPORT" && warning.exporter === "zod") return;
      throw new Error(`declarations: ${warning.message}`);
    },
  });
  const output = await build.write({ file: join(outdir, "index.d.ts"), format: "es" });
  await build.close();
  const imports = output.output.flatMap((chunk) => ("imports" in chunk ? chunk.imports : []));
  if (imports.length > 0)
    throw new Error(`declarations: dist/index.d.ts still imports ${imports.join(", ")}`);
  // The same declarations for require(): TypeScript reads .d.cts as CommonJS.
  await copyFile(join(outdir, "index.d.ts"), join(outdir, "index.d.cts"));
  await rm(work, { recursive: true, force: true });
}
