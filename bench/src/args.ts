// The command line of `pnpm bench`: its usage text, the parsed flags, and how long a run may take.

const USAGE = `pnpm bench [options]

  --quick              short cells (0.8 s), 10 k task instances: under 2 minutes
  (default)            full run: 6 s cells, 100 k task instances, P+log variant: under 15 minutes
  --rounds=N           rounds of the interleaved table (default 3)
  --seconds=S          length of each cell
  --instances=N        seeded task instances (W1 puts spread over them)
  --only=W1,W2         only these workload groups in the table
  --no-table           skip the interleaved table (run only the phases below)
  --no-statements      skip the SQL-statements-per-operation sampling
  --log-cost / --no-log-cost   add (or not) "P+log" (LOG_LEVEL=info) for W1/W2 at c=32
  --adapters           add "P-fastify" (the same router through tRPC's Fastify adapter) and "P-trpc"
                       (P with CAIRN_TRPC_FAST_PATH=false: every call through tRPC's node adapter) to W1,
                       W2 hit, W3 and W6 batch 50, and print their ratios to P
  --w4[=instances]     W4: get/put latency at 10 k rows vs 5 M rows (1 M instances × 5 keys)
  --w7[=connections]   W7: open loop over up to 256 (or N) connections at 25/50/75 % of each variant's
                       own W3 peak, and P and B0 (a server that does no work: the floor) at 50 % of
                       B2's: p50/p99/p99.9 from the scheduled send
  --soak[=minutes]     W9: W3 against a fresh Cairn server for 10 (or N) minutes, RSS every 10 s
  --embedded[=secs]    the Quick start's server (PGlite in its process): RSS at rest with 2 000 task
                       instances, and under W3 c=32 for 20 (or N) s
  --scale-out[=secs]   two Cairn servers on one database: W3 on both + compare-and-set counters
  --watch[=secs]       watch cost: W1 put c=32 with notify triggers dropped / disabled / 100 watchers /
                       a slow watcher (secs per cell), and W10: a write reaching 1 000 watchers
  --operator[=runs]    the operator read API over 100 k (or N) dag runs with 10 keys each and 10 k
                       assets: page latency of admin.dagRuns/taskInstances/assets.list and admin.stats
  --profile[=secs]     run W1 c=32 against a Cairn server started with --cpu-prof; top self time
  --profile-workload=ID   the table row to profile instead (e.g. "W2 get hit c=32")
  --keep-db            do not drop the benchmark database at the end
Env: BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres; loopback only)`;

export interface Args {
  quick: boolean;
  rounds: number;
  seconds: number;
  instances: number;
  only: string[] | null;
  table: boolean;
  statements: boolean;
  logCost: boolean;
  adapters: boolean;
  w4: number | null;
  w7: number | null;
  soak: number | null;
  embedded: number | null;
  scaleOut: number | null;
  watch: number | null;
  operator: number | null;
  profile: number | null;
  profileWorkload: string;
  keepDb: boolean;
}

export function parseArgs(argv: string[]): Args {
  const flags = new Map<string, string | true>();
  for (const arg of argv) {
    if (arg === "--") continue;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}\n\n${USAGE}`);
    flags.set(m[1]!, m[2] ?? true);
  }
  const known = [
    "quick",
    "rounds",
    "seconds",
    "instances",
    "only",
    "no-table",
    "no-statements",
    "log-cost",
    "no-log-cost",
    "adapters",
    "w4",
    "w7",
    "soak",
    "embedded",
    "scale-out",
    "watch",
    "operator",
    "profile",
    "profile-workload",
    "keep-db",
    "help",
  ];
  for (const name of flags.keys())
    if (!known.includes(name)) throw new Error(`unknown option --${name}\n\n${USAGE}`);
  if (flags.has("help")) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = flags.has("quick");
  const numberFlag = (name: string, fallback: number): number => {
    const v = flags.get(name);
    if (v === undefined || v === true) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number`);
    return n;
  };
  const optional = (name: string, fallback: number) => (flags.has(name) ? numberFlag(name, fallback) : null);
  const only = flags.get("only");
  const profileWorkload = flags.get("profile-workload");
  return {
    quick,
    rounds: Math.round(numberFlag("rounds", 3)),
    seconds: numberFlag("seconds", quick ? 0.8 : 6),
    instances: Math.round(numberFlag("instances", quick ? 10_000 : 100_000)),
    only: typeof only === "string" ? only.split(",").map((s) => s.trim().toUpperCase()) : null,
    table: !flags.has("no-table"),
    statements: !flags.has("no-statements"),
    logCost: flags.has("log-cost") || (!quick && !flags.has("no-log-cost")),
    adapters: flags.has("adapters"),
    w4: optional("w4", 1_000_000),
    w7: optional("w7", 256),
    soak: optional("soak", 10),
    embedded: optional("embedded", 20),
    scaleOut: optional("scale-out", quick ? 5 : 20),
    watch: optional("watch", quick ? 2 : 5),
    operator: optional("operator", quick ? 10_000 : 100_000),
    profile: optional("profile", 10),
    profileWorkload: typeof profileWorkload === "string" ? profileWorkload : "W1 put c=32",
    keepDb: flags.has("keep-db"),
  };
}

/** A hard bound on the whole run, whatever happens: the flags' phases on top of the table's minutes. */
export function runBoundMinutes(args: Args): number {
  return (
    (args.quick ? 4 : 25) +
    (args.adapters ? (args.quick ? 1 : 3) : 0) +
    (args.soak ?? 0) +
    (args.embedded === null ? 0 : 1.5 + args.embedded / 60) +
    (args.w4 ? 20 : 0) +
    (args.w7 ? 4 : 0) +
    (args.scaleOut ?? 0) / 60 +
    (args.watch === null ? 0 : (args.rounds * 4 * args.watch + 30) / 60) +
    (args.operator === null ? 0 : 3) +
    (args.profile ?? 0) / 60
  );
}
