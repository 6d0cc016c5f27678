// Worker code imports this package; it must never pull in server code. Only `import type` from
// @cairn/* (erased at compile time under verbatimModuleSyntax) is allowed in the shipped files.
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = new URL(".", import.meta.url).pathname;

async function shippedFiles(): Promise<string[]> {
  const names = await readdir(SRC);
  return names.filter(
    (name) => name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.includes(".typecheck."),
  );
}

describe("package boundary", () => {
  it("the shipped modules import @cairn/* for types only", async () => {
    const files = await shippedFiles();
    expect(files).toContain("index.ts");
    expect(files).toContain("client.ts");
    for (const file of files) {
      const source = await readFile(join(SRC, file), "utf8");
      const imports = [...source.matchAll(/^\s*(import|export)\b[^;]*?from\s+"([^"]+)"/gms)];
      for (const [statement, , specifier] of imports) {
        if (specifier?.startsWith("@cairn/")) {
          expect(statement.trim(), `${file}: ${statement}`).toMatch(/^(import|export) type\b/);
        }
        // Relative imports stay inside the shipped set (never testing/).
        if (specifier?.startsWith(".")) expect(specifier, file).not.toMatch(/testing|\.test/);
      }
      expect(source, file).not.toMatch(/\bimport\(\s*["']@cairn\//);
    }
  });

  it("loading the package loads no module of the API, the database or the server", async () => {
    // A fresh Node process with a resolve hook that records every module URL it loads.
    const dir = await mkdtemp(join(tmpdir(), "cairn-client-imports-"));
    try {
      const trace = join(dir, "trace.txt");
      const hooks = join(dir, "hooks.mjs");
      await writeFile(
        hooks,
        `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(trace)}, result.url + "\\n");
  return result;
}`,
      );
      const register = join(dir, "register.mjs");
      await writeFile(
        register,
        `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(hooks).href)});`,
      );
      const entry = pathToFileURL(join(SRC, "index.ts")).href;
      execFileSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "--import",
          register,
          "--input-type=module",
          "-e",
          `await import(${JSON.stringify(entry)});`,
        ],
        { cwd: SRC, stdio: "pipe" },
      );
      const loaded = (await readFile(trace, "utf8")).split("\n").filter(Boolean);
      expect(loaded.some((url) => url.endsWith("/client/src/index.ts"))).toBe(true);
      expect(loaded.some((url) => url.includes("@trpc/client"))).toBe(true);
      expect(
        loaded.filter((url) => /packages\/(api|db)\/|apps\/server|@prisma|pglite|\/pg\/|jose|zod/.test(url)),
      ).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
