// What a watch stream sends (spec §6), and what the database's notify triggers say (the migration
// 20261130191413_watch): one JSON payload per written or deleted row of a watched scope.
import type { Writer } from "../asset-state-admin.ts";
import { type StateEntry, toEntry } from "../state-entries.ts";

export type DeleteCause = "delete" | "clear" | "expired";

/** Who wrote an asset state entry (admin.assetState.list's writer). */
export type AssetWriter = Writer;

/** Where a change happened, on admin.watch streams (which can span many task namespaces). */
export type WatchWhere =
  | { dagId: string; runId: string; taskId: string; mapIndex: number }
  | { asset: { name: string; uri: string } };

/** What a stream sends; `writer` on asset state only, `where` on admin.watch only. */
export type WatchEvent =
  | { op: "set"; key: string; entry: StateEntry; writer?: AssetWriter; where?: WatchWhere }
  | { op: "delete"; key: string; cause: DeleteCause; where?: WatchWhere }
  | { op: "synced" }
  | { op: "reset" };

/** A change as the trigger notified it, parsed. */
export interface Change {
  plane: "task" | "asset";
  /** dag_run_id for task state, asset_id for asset state (bigint ids as strings). */
  dagRunId?: string;
  taskId?: string;
  mapIndex?: number;
  assetId?: string;
  key: string;
  op: "set" | "delete";
  version: number;
  /** The writing transaction (xid8), to tell whether a snapshot already holds this change. */
  xid: bigint;
  cause?: DeleteCause;
  updatedAt?: string;
  expiresAt?: string | null;
  value?: unknown;
  writer?: AssetWriter;
  /** The payload would have passed NOTIFY's 8000-byte cap: the value (and writer) must be read. */
  big?: boolean;
}

export function parseChange(payload: string): Change {
  const raw = JSON.parse(payload) as Omit<Change, "xid"> & { xid: string };
  return { ...raw, xid: BigInt(raw.xid) };
}

/** A `set` change's entry; its timestamps are PostgreSQL's JSON (`2026-11-30T19:14:13.123+00:00`). */
export function entryOf(change: Change): StateEntry {
  return toEntry({
    key: change.key,
    value: change.value,
    version: change.version,
    updated_at: change.updatedAt!,
    expires_at: change.expiresAt ?? null,
  });
}

/** A `pg_current_snapshot()`, to decide which notified changes a snapshot read already includes. */
export interface Snapshot {
  xmin: bigint;
  xmax: bigint;
  inProgress: Set<bigint>;
}

/** Parses `xmin:xmax:xip1,xip2,...` (the text form of pg_snapshot). */
export function parseSnapshot(text: string): Snapshot {
  const [xmin = "0", xmax = "0", xip = ""] = text.split(":");
  return {
    xmin: BigInt(xmin),
    xmax: BigInt(xmax),
    inProgress: new Set(xip === "" ? [] : xip.split(",").map((id) => BigInt(id))),
  };
}

/** Whether the transaction's changes are visible in the snapshot (PostgreSQL's pg_visible_in_snapshot). */
export function visibleIn(snapshot: Snapshot, xid: bigint): boolean {
  if (xid < snapshot.xmin) return true;
  if (xid >= snapshot.xmax) return false;
  return !snapshot.inProgress.has(xid);
}
