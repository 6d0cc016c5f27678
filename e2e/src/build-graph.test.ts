// `pnpm build` as turbo plans it: what must run (and be re-run, its cache invalidated) before the server
// and the client are built. turbo hashes a task with the hashes of the tasks it depends on, so a task
// reached through these edges is rebuilt whenever what they read changes.
import { execFileSync } from "node:child_process";
import { REPO_ROOT } from "@cairn/server/testing";
import { beforeAll, describe, expect, it } from "vitest";

interface PlannedTask {
  taskId: string;
  hash: string;
  dependencies: string[];
  inputs: Record<string, string>;
  command: string;
}

function plan(env: NodeJS.ProcessEnv = {}): PlannedTask[] {
  return (
    JSON.parse(
      execFileSync("pnpm", ["-s", "turbo", "run", "build", "--dry=json"], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", ...env },
      }),
    ) as { tasks: PlannedTask[] }
  ).tasks;
}

describe("the build graph (turbo run build --dry=json)", () => {
  const tasks = new Map<string, PlannedTask>();
  beforeAll(() => {
    for (const task of plan()) tasks.set(task.taskId, task);
  }, 60_000);

  /** Every task `taskId` waits for, directly or not. */
  function upstream(taskId: string, seen = new Set<string>()): Set<string> {
    for (const dependency of tasks.get(taskId)?.dependencies ?? []) {
      if (!seen.has(dependency)) {
        seen.add(dependency);
        upstream(dependency, seen);
      }
    }
    return seen;
  }

  it("the server's build waits for its own typecheck and that of every package it compiles in", () => {
    expect([...upstream("@cairn/server#build")]).toEqual(
      expect.arrayContaining([
        "@cairn/server#typecheck",
        "@cairn/api#typecheck",
        "@cairn/db#typecheck",
        "@cairn/db#db:generate",
      ]),
    );
    expect(tasks.get("@cairn/server#build")?.command).toBe("tsx scripts/build.ts");
  });

  it("the client's build waits for the API's typecheck (its types come from the router)", () => {
    expect([...upstream("@cairn/client#build")]).toEqual(
      expect.arrayContaining(["@cairn/client#typecheck", "@cairn/api#typecheck"]),
    );
  });

  it("a change of prisma/schema.prisma regenerates the Prisma client before anything typechecks against it", () => {
    expect(Object.keys(tasks.get("@cairn/db#db:generate")?.inputs ?? {})).toEqual(
      expect.arrayContaining(["../../prisma/schema.prisma", "../../prisma.config.ts"]),
    );
    expect(tasks.get("@cairn/db#db:generate")?.command).toBe(
      "prisma generate --config ../../prisma.config.ts",
    );
  });

  // Otherwise `pnpm start` with its own data directory rebuilds (deleting dist/) while the servers of
  // other tests start from it.
  it("runtime settings are not build inputs: the server's build hash ignores them", () => {
    const runtime = plan({
      CAIRN_DATA_DIR: "/elsewhere",
      DATABASE_URL: "postgresql://other@127.0.0.1:5432/other",
      CAIRN_JWT_SECRET: "another-secret-of-enough-length-000000",
    });
    expect(runtime.find((task) => task.taskId === "@cairn/server#build")?.hash).toBe(
      tasks.get("@cairn/server#build")?.hash,
    );
  }, 60_000);
});
