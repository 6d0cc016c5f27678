// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by package.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Not idle: what the process spent on CPU while sampled. */
  busyMs: number;
  /** Skipped at the start (process start-up and warm-up), ms. */
  skippedMs: number;
  functions: { name: string; where: string; selfMs: number; percentOfBusy: number; calledFrom: string }[];
  packages: { name: string; selfMs: number; percentOfBusy: number }[];
}

/** Which package or part of the runtime a script URL belongs to. */
export function packageOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === "(garbage collector)") return "(garbage collector)";
    if (functionName === "(idle)") return "(idle)";
    if (functionName === "(program)") return "(program: native, unattributed)";
    return "(native)";
  }
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pnpm) return pnpm[1]!;
  const plain = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (plain) return plain[1]!;
  const workspace = /\/(apps|packages|bench)\/([^/]+)\//.exec(url);
  if (workspace) return `@cairn/${workspace[2]} (${workspace[1]})`;
  return url.replace(/^file:\/\//, "");
}

/** `skipMs`: ignore the first samples (start-up, module loading, warm-up). */
export function summarizeProfile(path: string, skipMs = 0, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attribute each delta to that sample's node.
  let clock = 0;
  let skippedUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i] ?? 0;
    clock += delta;
    if (clock < skipMs * 1000) {
      skippedUs += delta;
      continue;
    }
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  /** The nearest ancestor that is another JavaScript function: who called this one. */
  const callerOf = (id: number): string => {
    const self = byId.get(id)!.callFrame;
    const name = (f: ProfileNode["callFrame"]) =>
      `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
    let nearest = "";
    for (let p = parent.get(id); p !== undefined; p = parent.get(p)) {
      const f = byId.get(p)!.callFrame;
      if (!f.url || (f.functionName === self.functionName && f.url === self.url)) continue;
      // The nearest caller, and when that is Node's own code, the nearest caller outside it too.
      if (!nearest) {
        nearest = name(f);
        if (!f.url.startsWith("node:")) return nearest;
      } else if (!f.url.startsWith("node:")) return `${nearest} … ${name(f)}`;
    }
    return nearest;
  };
  const functions = new Map<
    string,
    { name: string; where: string; us: number; pkg: string; callers: Map<string, number> }
  >();
  const packages = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    totalUs += us;
    const pkg = packageOf(url, functionName);
    if (pkg === "(idle)") {
      idleUs += us;
      continue;
    }
    const key = `${functionName}|${url}|${lineNumber}`;
    const entry = functions.get(key) ?? {
      name: functionName || "(anonymous)",
      where: url ? `${shortUrl(url)}:${lineNumber + 1}` : "",
      us: 0,
      pkg,
      callers: new Map<string, number>(),
    };
    entry.us += us;
    const caller = callerOf(id);
    entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + us);
    functions.set(key, entry);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => (busyUs > 0 ? (100 * us) / busyUs : 0);
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    skippedMs: skippedUs / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({
        name: f.name,
        where: f.where,
        selfMs: f.us / 1000,
        percentOfBusy: pct(f.us),
        calledFrom: [...f.callers.entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? "",
      })),
    packages: [...packages.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, percentOfBusy: pct(us) })),
  };
}

function shortUrl(url: string): string {
  return url
    .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "")
    .replace(/^file:\/\/.*?\/(apps|packages|bench)\//, "$1/");
}

export function formatProfile(summary: ProfileSummary): string {
  const lines = [
    `sampled ${summary.totalMs.toFixed(0)} ms under load (start-up and warm-up, ${summary.skippedMs.toFixed(0)} ms, left out), busy (not idle) ${summary.busyMs.toFixed(0)} ms; % of busy`,
    "self time by package:",
    ...summary.packages.map((p) => `  ${p.percentOfBusy.toFixed(1).padStart(5)} %  ${p.name}`),
    "top functions by self time:",
    ...summary.functions.map(
      (f) =>
        `  ${f.percentOfBusy.toFixed(1).padStart(5)} %  ${f.name.padEnd(28)} ${f.where.padEnd(52)} ← ${f.calledFrom}`,
    ),
  ];
  return lines.join("\n");
}
