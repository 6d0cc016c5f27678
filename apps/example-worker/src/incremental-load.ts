// The task "load_orders": an incremental load. Every run of it that writes the asset shares one
// watermark in the asset's state ("rows up to here are loaded"); each run loads what is newer and moves
// the watermark forward with compare-and-set, so two runs can never move it backwards.
import { type AssetStateClient, type CairnClient, VersionConflictError } from "@cairn/client";

export const WATERMARK_KEY = "watermark";
export const WATERMARK_START = "1970-01-01";

export interface SourceRow {
  id: string;
  /** When the row last changed (ISO-8601 UTC, so that strings compare like times). */
  updatedAt: string;
}

/** The source table the runs load from. A run at time T sees the rows changed before T. */
export const SOURCE_ORDERS: readonly SourceRow[] = [
  { id: "order-1001", updatedAt: "2026-05-01T08:05:00Z" },
  { id: "order-1002", updatedAt: "2026-05-01T11:42:00Z" },
  { id: "order-1003", updatedAt: "2026-05-01T17:30:00Z" },
  { id: "order-1004", updatedAt: "2026-05-02T09:10:00Z" },
  { id: "order-1005", updatedAt: "2026-05-02T15:55:00Z" },
];

export interface LoadOptions {
  /** A client bound to this run's execution token; its task declares the asset as an outlet. */
  cairn: CairnClient;
  asset: string;
  /** When the run happens: rows changed after it do not exist yet. */
  runAt: string;
  say: (line: string) => void;
  /** Simulated work per row, in ms. */
  workMs?: number | undefined;
}

export interface LoadResult {
  /** The watermark the run found. */
  startedFrom: string;
  /** The rows it loaded. */
  loaded: string[];
  /** The watermark after the run, and its version. */
  advancedTo: string;
  version: number;
}

export async function incrementalLoad(options: LoadOptions): Promise<LoadResult> {
  const { cairn, say } = options;
  const orders = cairn.asset({ name: options.asset });

  // Read the shared watermark with its version (null: no run has loaded anything yet).
  const current = await orders.entry<string>(WATERMARK_KEY);
  const since = current?.value ?? WATERMARK_START;
  say(
    current === null
      ? `watermark not set yet: starting from ${since}`
      : `watermark = ${since} (version ${current.version}, left by an earlier run)`,
  );

  const rows = SOURCE_ORDERS.filter((row) => row.updatedAt > since && row.updatedAt <= options.runAt);
  await sleep((options.workMs ?? 200) * rows.length); // loading them into the warehouse
  say(
    rows.length === 0
      ? "no rows newer than the watermark"
      : `loaded ${rows.length} rows newer than it: ${rows.map((row) => row.id).join(", ")}`,
  );

  const newest = rows.at(-1)?.updatedAt;
  if (newest === undefined) {
    return { startedFrom: since, loaded: [], advancedTo: since, version: current?.version ?? 0 };
  }
  const advanced = await advanceWatermark(orders, newest, current, say);
  return { startedFrom: since, loaded: rows.map((row) => row.id), ...advanced };
}

/**
 * Moves the watermark to `target` unless it is already there or beyond. Compare-and-set: the write
 * succeeds only if the watermark is still at the version this run read; if another run moved it in the
 * meantime (VersionConflictError), re-read and decide again.
 */
async function advanceWatermark(
  orders: AssetStateClient,
  target: string,
  read: { value: string; version: number } | null,
  say: (line: string) => void,
): Promise<{ advancedTo: string; version: number }> {
  let current = read;
  for (;;) {
    if (current !== null && current.value >= target) {
      say(`another run already moved the watermark to ${current.value}: keeping it`);
      return { advancedTo: current.value, version: current.version };
    }
    const from = current?.value ?? WATERMARK_START;
    const ifVersion = current?.version ?? 0; // 0 = only if no run has set it yet
    try {
      const { version } = await orders.set(WATERMARK_KEY, target, { ifVersion });
      say(`watermark ${from} -> ${target} (compare-and-set: version ${ifVersion} -> ${version})`);
      return { advancedTo: target, version };
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      say(`another run moved the watermark since version ${ifVersion}: re-reading it`);
      current = await orders.entry<string>(WATERMARK_KEY);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
