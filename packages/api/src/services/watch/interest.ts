// The watch_interest table: which scopes live watch streams cover. A plane's notify triggers are enabled
// while it has interest rows and disabled otherwise, so writes pay for watching only while someone watches.
//
// Registering is also the barrier that makes a new stream's snapshot safe: it takes a SHARE ROW EXCLUSIVE
// lock on the plane's table, which waits for every write in flight and holds back new ones until the
// registration commits. A write that started before that lock has committed before the stream reads its
// snapshot (the snapshot holds it); a write after it sees the interest row and notifies.
import type { Database, SqlRunner } from "@cairn/db";

export type InterestPlane = "task" | "asset";

/** The channel the notify triggers write to, and registrations write their fence to. */
export const CHANNEL = "cairn_state";

/** One stream's interest. `task` without taskId covers a whole dag run; `all` every write of the plane. */
export type Interest =
  | { plane: "task"; dagRunId: string; taskId?: string; mapIndex?: number }
  | { plane: "asset"; assetId: string }
  | { plane: "task_all" }
  | { plane: "asset_all" };

const TABLE: Record<InterestPlane, string> = { task: "task_state", asset: "asset_state" };
const TRIGGERS: Record<InterestPlane, string[]> = {
  task: ["cairn_task_state_notify_write", "cairn_task_state_notify_delete"],
  asset: ["cairn_asset_state_notify_write", "cairn_asset_state_notify_delete"],
};

export function planeOf(interest: Interest): InterestPlane {
  return interest.plane === "task" || interest.plane === "task_all" ? "task" : "asset";
}

/**
 * The plane's barrier, inside a transaction: waits for the writes in flight and holds back new ones until
 * commit. Self-conflicting, so registrations and sweeps of one plane take turns.
 */
async function lockPlane(sql: SqlRunner, plane: InterestPlane): Promise<void> {
  await sql.query(`LOCK TABLE ${TABLE[plane]} IN SHARE ROW EXCLUSIVE MODE`);
}

async function setTriggers(sql: SqlRunner, plane: InterestPlane, on: boolean): Promise<void> {
  for (const trigger of TRIGGERS[plane]) {
    await sql.query(`ALTER TABLE ${TABLE[plane]} ${on ? "ENABLE" : "DISABLE"} TRIGGER ${trigger}`);
  }
}

/** Whether any interest row (of any server) covers the plane, as $1: "task" or "asset". */
const WATCHED_SQL = "EXISTS (SELECT 1 FROM watch_interest WHERE plane IN ($1, $1 || '_all'))";

/** Takes the plane's barrier lock and makes sure its triggers are on; call inside a transaction. */
async function enableWithBarrier(sql: SqlRunner, plane: InterestPlane): Promise<void> {
  await lockPlane(sql, plane);
  const [row] = await sql.query<{ disabled: boolean }>(
    `SELECT bool_or(tgenabled = 'D') AS disabled FROM pg_trigger WHERE tgname = ANY($1::text[])`,
    [TRIGGERS[plane]],
  );
  if (row?.disabled) await setTriggers(sql, plane, true);
}

/**
 * Adds interest rows (one transaction, one barrier per plane they touch); `replaces` are rows of earlier
 * streams (resumed ones) deleted in the same transaction. Returns which of `replaces` still existed.
 */
export async function registerInterest(
  db: Database,
  serverId: string,
  rows: { id: string; interest: Interest }[],
  lingerSeconds: number,
  replaces: string[] = [],
): Promise<Set<string>> {
  return db.transaction(async (sql) => {
    for (const { id, interest } of rows) {
      await sql.query(
        `INSERT INTO watch_interest (id, server_id, plane, dag_run_id, task_id, map_index, asset_id, expires_at)
         VALUES ($1::uuid, $2, $3, $4::bigint, $5, $6::int, $7::bigint, now() + make_interval(secs => $8))`,
        [
          id,
          serverId,
          interest.plane,
          interest.plane === "task" ? interest.dagRunId : null,
          interest.plane === "task" ? (interest.taskId ?? null) : null,
          interest.plane === "task" ? (interest.mapIndex ?? null) : null,
          interest.plane === "asset" ? interest.assetId : null,
          lingerSeconds,
        ],
      );
    }
    let found = new Set<string>();
    if (replaces.length > 0) {
      const deleted = await sql.query<{ id: string }>(
        "DELETE FROM watch_interest WHERE id = ANY($1::uuid[]) RETURNING id::text",
        [replaces],
      );
      found = new Set(deleted.map((row) => row.id));
    }
    for (const plane of new Set(rows.map((row) => planeOf(row.interest))))
      await enableWithBarrier(sql, plane);
    // Notifications arrive in commit order: once a listener hears this fence, it has heard every change
    // committed before this registration (a resumed stream replays up to it, then says synced).
    if (rows[0])
      await sql.query("SELECT pg_notify($1, $2)", [CHANNEL, JSON.stringify({ fence: rows[0].id })]);
    return found;
  });
}

/** Keeps the rows of open streams alive; rows of closed streams linger so a reconnect can resume. */
export async function renewInterest(db: Database, ids: string[], lingerSeconds: number): Promise<void> {
  if (ids.length === 0) return;
  await db.sql.query(
    "UPDATE watch_interest SET expires_at = now() + make_interval(secs => $2) WHERE id = ANY($1::uuid[])",
    [ids, lingerSeconds],
  );
}

/**
 * Deletes expired rows (streams closed longer ago than the linger time, or of servers that stopped), then
 * turns off the triggers of a plane nobody watches any more. Any server may run it at any time.
 */
export async function sweepInterest(db: Database): Promise<void> {
  await db.sql.query("DELETE FROM watch_interest WHERE expires_at <= now()");
  for (const plane of ["task", "asset"] as const) {
    const [row] = await db.sql.query<{ watched: boolean; enabled: boolean }>(
      `SELECT ${WATCHED_SQL} AS watched,
              EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = ANY($2::text[]) AND tgenabled <> 'D') AS enabled`,
      [plane, TRIGGERS[plane]],
    );
    if (!row || row.watched || !row.enabled) continue;
    await db.transaction(async (sql) => {
      await lockPlane(sql, plane);
      // Checked again under the lock: a registration in between keeps the triggers on.
      const [again] = await sql.query<{ watched: boolean }>(`SELECT ${WATCHED_SQL} AS watched`, [plane]);
      if (!again?.watched) await setTriggers(sql, plane, false);
    });
  }
}
