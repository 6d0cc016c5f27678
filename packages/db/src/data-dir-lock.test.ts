// The embedded database's directory lock, in-process: what counts as stale and what still refuses.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataDirLockedError, lockDataDir } from "./data-dir-lock.ts";

describe("lockDataDir", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  async function dir(): Promise<string> {
    const path = await mkdtemp(join(tmpdir(), "cairn-lock-"));
    dirs.push(path);
    await mkdir(path, { recursive: true });
    return path;
  }

  it("writes this process's PID, refuses a second open in this process, and releases", async () => {
    const path = await dir();
    const release = await lockDataDir(path);
    expect(await readFile(join(path, "cairn.pid"), "utf8")).toBe(`${process.pid}\n`);
    await expect(lockDataDir(path)).rejects.toThrow(DataDirLockedError);
    await expect(lockDataDir(path)).rejects.toThrow("is already open in this process");
    await release();
    await expect(readFile(join(path, "cairn.pid"), "utf8")).rejects.toThrow(/ENOENT/);
    await (await lockDataDir(path))();
  });

  it("a lock naming this process (a container's PID 1 after a restart) is stale", async () => {
    const path = await dir();
    await writeFile(join(path, "cairn.pid"), `${process.pid}\n`);
    const release = await lockDataDir(path);
    await release();
  });

  it("a lock naming a dead process, garbage, or a live process that does not hold it is stale", async () => {
    const path = await dir();
    for (const content of ["999999999\n", "not a pid", ""]) {
      await writeFile(join(path, "cairn.pid"), content);
      await (await lockDataDir(path))();
    }
    const sleeper = spawn("sleep", ["30"]);
    try {
      await writeFile(join(path, "cairn.pid"), `${sleeper.pid}\n`);
      await (await lockDataDir(path))();
    } finally {
      sleeper.kill();
    }
  });

  it("a live process holding the lock open refuses, naming it", async () => {
    const path = await dir();
    const lockPath = join(path, "cairn.pid");
    // A stand-in for another server: a process that wrote its PID and keeps the file open.
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("node:fs"); const fd = fs.openSync(${JSON.stringify(lockPath)}, "wx"); fs.writeSync(fd, process.pid + "\\n"); console.log("held"); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise((resolve) => holder.stdout?.once("data", resolve));
      await expect(lockDataDir(path)).rejects.toThrow(
        `is in use by process ${holder.pid}; stop it first (one process at a time can open it)`,
      );
    } finally {
      holder.kill();
    }
  });
});
