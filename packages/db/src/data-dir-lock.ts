// PGlite corrupts a directory that two processes open at once, so the embedded database takes a lock:
// <dir>/cairn.pid, created exclusively, holding the owner's PID, and kept open by the owner for its life.
//
// A lock left behind by a process that died must never block the next start. It is stale when its PID
// is this process (a container's server is PID 1 on every start), is not running, or is running but is
// not a Cairn server on this directory: on Linux that means the process does not hold this lock file open
// (/proc/<pid>/fd), which also covers a PID reused by an unrelated process. Where /proc cannot tell
// (another OS, another user's process), a running PID counts as a holder and the error says what to do.
import { readdirSync, statSync } from "node:fs";
import { type FileHandle, open, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";

export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

/** Directories this process holds: a second open in the same process is refused without looking at PIDs. */
const heldHere = new Set<string>();

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether process `pid` has the file open: true, false, or undefined when /proc cannot tell. */
function holdsOpen(pid: number, file: { dev: number; ino: number }): boolean | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  return fds.some((fd) => {
    try {
      const target = statSync(`/proc/${pid}/fd/${fd}`);
      return target.dev === file.dev && target.ino === file.ino;
    } catch {
      return false; // closed meanwhile, or not a file
    }
  });
}

/** Who holds the lock file at `lockPath`, or undefined when it is stale. */
async function liveHolder(lockPath: string): Promise<number | undefined> {
  const file = await stat(lockPath).catch(() => undefined);
  if (!file) return undefined;
  const pid = Number.parseInt(await readFile(lockPath, "utf8").catch(() => ""), 10);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !isRunning(pid)) return undefined;
  return holdsOpen(pid, file) === false ? undefined : pid;
}

/** Takes the lock of a PGlite directory; resolves to its release. */
export async function lockDataDir(location: string): Promise<() => Promise<void>> {
  const lockPath = join(location, "cairn.pid");
  if (heldHere.has(lockPath)) {
    throw new DataDirLockedError(
      `the embedded database in ${location} is already open in this process (one open at a time)`,
    );
  }
  for (let attempt = 0; ; attempt++) {
    let handle: FileHandle | undefined;
    try {
      handle = await open(lockPath, "wx", 0o644);
      await handle.writeFile(`${process.pid}\n`);
      // Kept open: that open file is what tells another process this server is alive (see holdsOpen).
      heldHere.add(lockPath);
      const owned = handle;
      return async () => {
        heldHere.delete(lockPath);
        await owned.close();
        await rm(lockPath, { force: true });
      };
    } catch (error) {
      await handle?.close();
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 5) throw error;
    }
    const before = await stat(lockPath).catch(() => undefined);
    const holder = await liveHolder(lockPath);
    if (holder !== undefined) {
      throw new DataDirLockedError(
        `the embedded database in ${location} is in use by process ${holder}; stop it first (one process at a time can open it), or delete ${lockPath} if that process is not a Cairn server`,
      );
    }
    // Remove the stale lock only if it is still the file judged stale (not a new owner's, made meanwhile).
    const now = await stat(lockPath).catch(() => undefined);
    if (before && now && before.ino === now.ino && before.dev === now.dev)
      await rm(lockPath, { force: true });
  }
}
