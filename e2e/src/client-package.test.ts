// @cairn/client as a worker in another repository gets it: `pnpm pack` (which builds it), the tarball
// installed with npm into a project outside this workspace, then plain Node (ESM and CommonJS) against
// the built server, and `tsc --strict` reading only the package's own declarations.
import { execFile } from "node:child_process";
import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, spawnServer, stopAllServers, tempDir } from "@cairn/server/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, newTaskInstance } from "./workers.ts";

const run = promisify(execFile);
const FIXTURES = join(REPO_ROOT, "e2e", "fixtures", "outside-worker");
const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc");

describe("@cairn/client from its tarball, outside the workspace", () => {
  let tarball: string;
  let project: string;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    const outside = await tempDir("cairn-client-package-");
    cleanups.push(outside.remove);
    const packed = await run("pnpm", ["pack", "--pack-destination", outside.path], {
      cwd: join(REPO_ROOT, "packages", "client"),
    });
    tarball = join(outside.path, (await readdir(outside.path)).find((name) => name.endsWith(".tgz"))!);
    expect(tarball, packed.stdout).toMatch(/cairn-client-\d+\.\d+\.\d+\.tgz$/);

    project = join(outside.path, "worker");
    await cp(FIXTURES, project, { recursive: true });
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({ name: "outside-worker", private: true, type: "module" }),
    );
    // The package has no dependencies, so npm needs nothing from the registry.
    await run("npm", ["install", "--no-audit", "--no-fund", "--offline", tarball], { cwd: project });
  }, 180_000);

  afterAll(async () => {
    await stopAllServers();
    for (const cleanup of cleanups) await cleanup();
  });

  it("the tarball holds the build, README, LICENSE and package.json, nothing else", async () => {
    const { stdout } = await run("tar", ["tzf", tarball]);
    expect(stdout.trim().split("\n").sort()).toEqual([
      "package/LICENSE",
      "package/README.md",
      "package/dist/index.cjs",
      "package/dist/index.d.cts",
      "package/dist/index.d.ts",
      "package/dist/index.js",
      "package/package.json",
    ]);
    const manifest = JSON.parse((await run("tar", ["xzf", tarball, "-O", "package/package.json"])).stdout);
    expect(manifest).toMatchObject({
      name: "@cairn/client",
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      license: "MIT",
      engines: { node: ">=20" },
      exports: {
        ".": {
          import: { types: "./dist/index.d.ts", default: "./dist/index.js" },
          require: { types: "./dist/index.d.cts", default: "./dist/index.cjs" },
        },
      },
    });
    expect(manifest.private).toBeUndefined();
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
  });

  it("installs nothing besides itself: no TypeScript, no tRPC, no Cairn server package", async () => {
    expect(await readdir(join(project, "node_modules"))).toEqual(
      expect.not.arrayContaining(["typescript", "@trpc", "zod", "pg", "@prisma"]),
    );
    expect(await readdir(join(project, "node_modules", "@cairn"))).toEqual(["client"]);
    const declarations = await readFile(
      join(project, "node_modules", "@cairn", "client", "dist", "index.d.ts"),
      "utf8",
    );
    expect(declarations).not.toMatch(/\bfrom\s+["']|\bimport\(|\brequire\(/);
  });

  it.each(["worker.mjs", "worker.cjs"])(
    "node %s: set, get, list, delete, asset compare-and-set and a typed VersionConflictError against a live server",
    async (file) => {
      const data = await tempDir("cairn-client-package-data-");
      cleanups.push(data.remove);
      const server = spawnServer({ env: { CAIRN_DATA_DIR: data.path, LOG_LEVEL: "info" } });
      const url = await server.listening();
      const adminToken = (await readFile(join(data.path, "admin-token"), "utf8")).trim();
      const asset = `outside.${file.replace(".", "_")}`;
      await adminApi(url, adminToken).admin.assets.upsert.mutate({ name: asset, uri: `s3://lake/${asset}` });
      const { token } = await newTaskInstance(url, adminToken, {
        dagId: "outside",
        runId: file,
        taskId: "load",
        outlets: [{ name: asset }],
      });

      const { stdout } = await run(process.execPath, [file], {
        cwd: project,
        env: { PATH: process.env.PATH, CAIRN_URL: url, CAIRN_TOKEN: token, ASSET: asset },
      });
      expect(JSON.parse(stdout)).toEqual({
        version: 1,
        checkpoint: { order: 7 },
        keys: ["parts/1", "parts/2"],
        deleted: true,
        afterDelete: "gone",
        created: 1,
        conflict: "VersionConflictError version_mismatch",
        moved: 2,
        watermark: "2026-05-02",
      });
    },
    60_000,
  );

  it("tsc --strict accepts correct ESM and CommonJS workers with the package's declarations alone", async () => {
    const checked = await run(process.execPath, [TSC, "-p", "tsconfig.json", "--listFilesOnly"], {
      cwd: project,
    });
    expect(checked.stdout).toContain("node_modules/@cairn/client/dist/index.d.ts");
    expect(checked.stdout).toContain("node_modules/@cairn/client/dist/index.d.cts");
    await expect(
      run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: project }).then(({ stdout }) => stdout),
    ).resolves.toBe("");
  }, 60_000);

  it("tsc --strict rejects a wrong worker with exactly the expected errors", async () => {
    await writeFile(
      join(project, "tsconfig.wrong.json"),
      JSON.stringify({ extends: "./tsconfig.json", files: ["wrong.ts"] }),
    );
    const failed = await run(process.execPath, [TSC, "-p", "tsconfig.wrong.json"], { cwd: project }).then(
      () => "",
      (error: { stdout: string }) => error.stdout,
    );
    const reported = [...failed.matchAll(/^wrong\.ts\((\d+),\d+\): error (TS\d+)/gm)].map(
      ([, line, code]) => `${line} ${code}`,
    );
    const source = (await readFile(join(project, "wrong.ts"), "utf8")).split("\n");
    const expected = source.flatMap((text, i) => {
      const code = /\/\/ expect (TS\d+)/.exec(text)?.[1];
      return code ? [`${i + 1} ${code}`] : [];
    });
    expect(expected).toHaveLength(4);
    expect(reported, failed).toEqual(expected);
  }, 60_000);
});
