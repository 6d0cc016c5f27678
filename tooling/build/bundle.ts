// Compiles a package to JavaScript with esbuild. Workspace packages (@cairn/*) are compiled in, and so are
// the packages named in `compileIn`; every other package stays an import, and must be a declared
// dependency of the package being built: an undeclared one would resolve here, through the workspace,
// and only fail on a deployed machine.
import { readFile } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { join, relative } from "node:path";
import { build, type Format, type Plugin } from "esbuild";

export interface BundleOptions {
  /** The package being built (its package.json declares what may stay an import). */
  packageDir: string;
  /** Output name (without extension) -> entry source, relative to packageDir. */
  entryPoints: Record<string, string>;
  outdir: string;
  format: Format;
  /** ".js" (default) or ".cjs"/".mjs" when one package ships both formats. */
  outExtension?: string;
  /** First line of every output, such as a `#!/usr/bin/env node` line. */
  banner?: string;
  /** Packages besides @cairn/* to compile in (their names, as in package.json), so they are not installed. */
  compileIn?: string[];
  /** Linked source maps pointing into the sources (default). A published package has no sources to point at. */
  sourcemap?: boolean;
}

/** `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

export async function bundle(options: BundleOptions): Promise<void> {
  const manifest = JSON.parse(await readFile(join(options.packageDir, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  const declared = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const undeclared = new Map<string, string>();
  const externals: Plugin = {
    name: "cairn-externals",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("@cairn/")) return undefined; // compiled in
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        const name = packageName(args.path);
        if (options.compileIn?.includes(name)) return undefined;
        if (!declared.has(name)) undeclared.set(name, relative(options.packageDir, args.importer));
        return { path: args.path, external: true };
      });
    },
  };

  await build({
    absWorkingDir: options.packageDir,
    entryPoints: Object.entries(options.entryPoints).map(([out, src]) => ({ in: src, out })),
    outdir: options.outdir,
    outExtension: { ".js": options.outExtension ?? ".js" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: options.format,
    // Stack traces point into the sources (the server enables source maps at start).
    sourcemap: options.sourcemap === false ? false : "linked",
    sourcesContent: false,
    banner: options.banner ? { js: options.banner } : {},
    plugins: [externals],
    logLevel: "warning",
  });

  if (undeclared.size > 0) {
    const lines = [...undeclared].map(([name, importer]) => `  ${name} (imported by ${importer})`);
    throw new Error(
      `these packages are imported but not in ${join(options.packageDir, "package.json")} dependencies:\n${lines.join("\n")}`,
    );
  }
}
