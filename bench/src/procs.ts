// Child processes (servers, the B1 loop) and what /proc says about them: CPU time, RSS, peak RSS.
import { type ChildProcess, fork, spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sleep } from "./common.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = import.meta.resolve("tsx");
// Plain JavaScript, so that a compiled script (Cairn's dist/main.js) runs under plain node: tsx's loader
// hooks run in a thread of their own (tens of MB of RSS) and slow every import at start.
const WATCHDOG = new URL("./watchdog.mjs", import.meta.url).href;
const CLK_TCK = 100; // USER_HZ on Linux

const children = new Map<ChildProcess, Child>();

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Last lines of its stderr (and stdout when captured), for error messages. */
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

function track(proc: ChildProcess, captureStdout: boolean): Child {
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-4000);
  };
  proc.stderr?.on("data", keep);
  // A failed spawn or a send on a closed IPC channel must not crash the orchestrator before cleanup.
  proc.on("error", (error) => {
    tail = `${tail}\n${String(error)}`.slice(-4000);
  });
  if (captureStdout) proc.stdout?.on("data", keep);
  const exited = new Promise<number | null>((resolve) =>
    proc.once("exit", (code) => {
      children.delete(proc);
      resolve(code);
    }),
  );
  const child: Child = {
    proc,
    pid: proc.pid!,
    output: () => tail,
    exited,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const done = await Promise.race([exited.then(() => true), sleep(12_000).then(() => false)]);
      if (!done) {
        proc.kill("SIGKILL");
        await exited;
      }
    },
  };
  children.set(proc, child);
  return child;
}

export interface SpawnOptions {
  env: Record<string, string>;
  /** Extra node flags, such as --cpu-prof. */
  nodeArgs?: string[];
  /** Where stdout goes: ignored (like /dev/null) unless captured. */
  captureStdout?: boolean;
  ipc?: boolean;
}

/** Starts `node <script>` with the watchdog preloaded, and tsx's loader for a TypeScript script. */
export function spawnNode(script: string, options: SpawnOptions): Child {
  const loader = script.endsWith(".ts") ? ["--import", TSX] : [];
  const args = [...(options.nodeArgs ?? []), ...loader, "--import", WATCHDOG, script];
  const env = { ...process.env, ...options.env, CAIRN_BENCH_PARENT_PID: String(process.pid) };
  const stdio = options.captureStdout ? "pipe" : "ignore";
  const proc = options.ipc
    ? fork(script, [], {
        cwd: REPO_ROOT,
        env,
        execArgv: args.slice(0, -1),
        stdio: ["ignore", stdio, "pipe", "ipc"],
      })
    : spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ["ignore", stdio, "pipe"] });
  return track(proc, options.captureStdout ?? false);
}

/** Kills every child still running (SIGTERM, then SIGKILL after a grace period). */
export async function stopAll(): Promise<void> {
  await Promise.all([...children.values()].map((child) => child.stop()));
}

/** Synchronous last resort on process exit. */
export function killAllNow(): void {
  for (const proc of children.keys()) {
    try {
      proc.kill("SIGKILL");
    } catch {}
  }
}

export interface ProcSample {
  /** utime + stime, in microseconds. */
  cpuUs: number;
  rssKb: number;
  hwmKb: number;
}

export function sampleProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
  return { cpuUs: ((utime + stime) * 1e6) / CLK_TCK, rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
}

/** Resets the peak RSS (VmHWM) to the current RSS, so each cell gets its own peak. False if refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * CPU time of each PostgreSQL backend serving one database, in microseconds by pid: every process whose
 * title names the database (`postgres: 15/main: user dbname 127.0.0.1(port) idle`).
 */
export function postgresCpuByPid(database: string): Map<number, number> {
  const out = new Map<number, number>();
  const needle = ` ${database} `;
  for (const entry of readdirSync("/proc")) {
    if (entry.charCodeAt(0) > 57) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!cmdline.startsWith("postgres:") || !cmdline.includes(needle)) continue;
      out.set(Number(entry), sampleProc(Number(entry)).cpuUs);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * CPU the backends used between two samples: a backend that appeared counts whole (it started in
 * between); one that exited in between is missed (pools here rarely close connections mid-cell).
 */
export function postgresCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += Math.max(0, cpu - (before.get(pid) ?? 0));
  return total;
}
