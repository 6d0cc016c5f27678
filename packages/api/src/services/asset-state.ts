// Asset state (spec §4): shared by every task that declares the asset as inlet or outlet.
// An execution caller's access check is folded into each statement; admin callers pass no task instance.
import type { Database, SqlRunner } from "@cairn/db";
import type { Principal } from "../auth/tokens.ts";
import { DomainError, notFound, versionMismatch } from "../errors.ts";
import type { AssetRef } from "../schemas.ts";
import { encodeValue } from "../values.ts";
import {
  CLEARING,
  decodeCursor,
  ENTRY_COLUMNS,
  isParentDeleted,
  LIVE,
  NEXT_VERSION,
  type Page,
  type PageRow,
  resolveExpiry,
  type StateEntry,
  type StateRow,
  toEntry,
  toPage,
  withinByteBudget,
} from "./state-entries.ts";
import { CURRENT_TRY, resolveTaskInstance } from "./task-instance-scope.ts";
import { describeRef } from "./task-instances.ts";

type RefColumn = "name" | "uri";

function refOf(ref: AssetRef): { column: RefColumn; value: string } {
  return "name" in ref ? { column: "name", value: ref.name } : { column: "uri", value: ref.uri };
}

/**
 * CTE `a`: the active asset named by $1 (by name or uri), if the caller may use it. $2 is the caller's
 * task instance id (null for admin): that try must be current and its task must declare the asset.
 */
function assetCte(column: RefColumn): string {
  return `a AS (
  SELECT a.id FROM asset a
  WHERE a.${column} = $1 AND a.active AND ($2::uuid IS NULL OR EXISTS (
    SELECT 1 FROM task_instance t
    JOIN dag_run r ON r.id = t.dag_run_id
    JOIN task_asset ta ON ta.dag_id = r.dag_id AND ta.task_id = t.task_id AND ta.asset_id = a.id
    WHERE t.id = $2::uuid AND ${CURRENT_TRY})))`;
}

/** CTE `w`: who writes (the caller's task instance, or no row for an admin). */
const WRITER_CTE = `w AS (
  SELECT r.dag_id, r.run_id, t.task_id, t.map_index FROM task_instance t JOIN dag_run r ON r.id = t.dag_run_id
  WHERE t.id = $2::uuid)`;

function callerTaskInstance(principal: Principal): string | null {
  return principal.scope === "execution" ? principal.taskInstanceId : null;
}

/** Prepared statements are per SQL text; give each (statement, column) pair its own name. */
function statement(name: string, column: RefColumn): string {
  return `asset_state_${name}_by_${column}`;
}

/**
 * The cold path: why did a statement find no asset? Order matters: registration is checked first, whether
 * or not the asset exists, so an execution token cannot probe for assets it does not declare.
 */
async function explainMissingAsset(sql: SqlRunner, principal: Principal, ref: AssetRef): Promise<void> {
  const { column, value } = refOf(ref);
  const taskInstanceId = callerTaskInstance(principal);
  if (taskInstanceId) {
    const registered = await sql.query(
      `SELECT 1 FROM task_instance t
       JOIN dag_run r ON r.id = t.dag_run_id
       JOIN task_asset ta ON ta.dag_id = r.dag_id AND ta.task_id = t.task_id
       JOIN asset a ON a.id = ta.asset_id
       WHERE t.id = $1::uuid AND a.${column} = $2`,
      [taskInstanceId, value],
    );
    if (registered.length === 0) {
      throw new DomainError(
        "forbidden",
        "asset_not_registered",
        `this task does not declare the asset ${describeRef(ref)} as an inlet or outlet`,
      );
    }
    await resolveTaskInstance(sql, taskInstanceId);
  }
  throw notFound("asset_not_found", `asset ${describeRef(ref)} does not exist or is inactive`);
}

/** Returns when the caller may use the asset; otherwise throws why not (FORBIDDEN or NOT_FOUND). */
async function requireUsableAsset(sql: SqlRunner, principal: Principal, ref: AssetRef): Promise<void> {
  const { column, value } = refOf(ref);
  const rows = await sql.query(
    `WITH ${assetCte(column)} SELECT 1 FROM a`,
    [value, callerTaskInstance(principal)],
    statement("check", column),
  );
  if (rows.length === 0) await explainMissingAsset(sql, principal, ref);
}

/** The id of the asset if the caller may use it (for a watch's interest); otherwise throws why not. */
export async function usableAssetId(sql: SqlRunner, principal: Principal, ref: AssetRef): Promise<string> {
  const { column, value } = refOf(ref);
  const rows = await sql.query<{ id: string }>(
    `WITH ${assetCte(column)} SELECT a.id::text AS id FROM a`,
    [value, callerTaskInstance(principal)],
    statement("id", column),
  );
  if (!rows[0]) await explainMissingAsset(sql, principal, ref);
  return rows[0]!.id;
}

/**
 * The key's version now (null when it does not exist), in one statement with the asset's usability, so an
 * asset deactivated between two queries cannot pass for a missing key. Throws why when it is unusable.
 */
async function versionNow(
  sql: SqlRunner,
  principal: Principal,
  ref: AssetRef,
  key: string,
): Promise<number | null> {
  const { column, value } = refOf(ref);
  const rows = await sql.query<{ usable: boolean; version: number | null }>(
    `WITH ${assetCte(column)}
     SELECT EXISTS (SELECT 1 FROM a) AS usable,
       (SELECT s.version FROM asset_state s JOIN a ON s.asset_id = a.id WHERE s.key = $3 AND ${LIVE}) AS version`,
    [value, callerTaskInstance(principal), key],
    statement("version", column),
  );
  if (!rows[0]?.usable) await explainMissingAsset(sql, principal, ref);
  return rows[0]?.version ?? null;
}

export async function getAssetState(
  db: Database,
  principal: Principal,
  input: { asset: AssetRef; key: string },
): Promise<StateEntry> {
  const { column, value } = refOf(input.asset);
  const rows = await db.sql.query<StateRow>(
    `WITH ${assetCte(column)}
     SELECT ${ENTRY_COLUMNS} FROM asset_state s JOIN a ON s.asset_id = a.id WHERE s.key = $3 AND ${LIVE}`,
    [value, callerTaskInstance(principal), input.key],
    statement("get", column),
  );
  const row = rows[0];
  if (row) return toEntry(row);
  await requireUsableAsset(db.sql, principal, input.asset);
  throw notFound("key_not_found", `key "${input.key}" does not exist`);
}

const WRITER_VALUES = `CASE WHEN $2::uuid IS NULL THEN 'admin' ELSE 'task' END, w.dag_id, w.run_id, w.task_id, w.map_index`;

function upsertSql(column: RefColumn, createOnly: boolean): string {
  return `WITH ${assetCte(column)}, ${WRITER_CTE}
INSERT INTO asset_state AS s (asset_id, key, value, version, updated_at, expires_at,
  writer_kind, writer_dag_id, writer_run_id, writer_task_id, writer_map_index)
SELECT a.id, $3, $4::jsonb, 1, now(), $5::timestamptz, ${WRITER_VALUES} FROM a LEFT JOIN w ON true
ON CONFLICT (asset_id, key) DO UPDATE
SET value = EXCLUDED.value, version = ${NEXT_VERSION}, updated_at = EXCLUDED.updated_at,
  expires_at = EXCLUDED.expires_at, writer_kind = EXCLUDED.writer_kind, writer_dag_id = EXCLUDED.writer_dag_id,
  writer_run_id = EXCLUDED.writer_run_id, writer_task_id = EXCLUDED.writer_task_id,
  writer_map_index = EXCLUDED.writer_map_index
${createOnly ? "WHERE s.expires_at IS NOT NULL AND s.expires_at <= now()" : ""}
RETURNING s.version`;
}

function compareAndSetSql(column: RefColumn): string {
  return `WITH ${assetCte(column)}, ${WRITER_CTE}
UPDATE asset_state s SET value = $4::jsonb, version = s.version + 1, updated_at = now(), expires_at = $5::timestamptz,
  (writer_kind, writer_dag_id, writer_run_id, writer_task_id, writer_map_index) =
  (SELECT ${WRITER_VALUES} FROM (SELECT 1) one LEFT JOIN w ON true)
FROM a WHERE s.asset_id = a.id AND s.key = $3 AND s.version = $6 AND ${LIVE}
RETURNING s.version`;
}

/** The asset kept flapping between inactive and active through several attempts of one write. */
function inactiveDuringWrite(ref: AssetRef): DomainError {
  return notFound("asset_not_found", `asset ${describeRef(ref)} was inactive when the write ran; retry`);
}

export async function setAssetState(
  db: Database,
  principal: Principal,
  maxValueBytes: number,
  input: { asset: AssetRef; key: string; value: unknown; expiresAt?: Date | null; ifVersion?: number },
): Promise<{ version: number }> {
  const json = encodeValue(input.value, maxValueBytes);
  // Asset state never expires unless the write says so (no default retention).
  const expiresAt = resolveExpiry(input.expiresAt, 0);
  const { column, value } = refOf(input.asset);
  const params = [value, callerTaskInstance(principal), input.key, json, expiresAt];
  const { ifVersion } = input;
  const write = () =>
    ifVersion === undefined
      ? db.sql.query<{ version: number }>(upsertSql(column, false), params, statement("set", column))
      : ifVersion === 0
        ? db.sql.query<{ version: number }>(upsertSql(column, true), params, statement("create", column))
        : db.sql.query<{ version: number }>(
            compareAndSetSql(column),
            [...params, ifVersion],
            statement("cas", column),
          );
  for (let attempt = 1; ; attempt++) {
    let rows: { version: number }[];
    try {
      rows = await write();
    } catch (error) {
      // The asset was deleted while the write ran: say so as any later call would.
      if (isParentDeleted(error)) await requireUsableAsset(db.sql, principal, input.asset);
      throw error;
    }
    const row = rows[0];
    if (row) return { version: row.version };
    // Nothing written: the asset was unusable, or the version did not match. Which, is decided now.
    const current = await versionNow(db.sql, principal, input.asset, input.key);
    const versionMatches =
      ifVersion === undefined || (ifVersion === 0 ? current === null : current === ifVersion);
    if (!versionMatches) throw versionMismatch(input.key, ifVersion ?? 0, current);
    // The version matches and the asset is usable now, so it was not when the write ran (deactivated
    // and re-activated meanwhile): write again rather than report a conflict that is not there.
    if (attempt >= 3)
      throw notFound(
        "asset_not_found",
        `asset ${describeRef(input.asset)} was inactive during the write; retry`,
      );
  }
}

export async function deleteAssetState(
  db: Database,
  principal: Principal,
  input: { asset: AssetRef; key: string; ifVersion?: number },
): Promise<{ deleted: boolean }> {
  const { asset, key, ifVersion } = input;
  if (ifVersion === 0) {
    const current = await versionNow(db.sql, principal, asset, key);
    if (current !== null) throw versionMismatch(key, 0, current);
    return { deleted: false };
  }
  const { column, value } = refOf(asset);
  for (let attempt = 1; ; attempt++) {
    const rows = await db.sql.query<{ live: boolean }>(
      `WITH ${assetCte(column)}
       DELETE FROM asset_state s USING a
       WHERE s.asset_id = a.id AND s.key = $3 AND ($4::int IS NULL OR (s.version = $4 AND ${LIVE}))
       RETURNING ${LIVE} AS live`,
      [value, callerTaskInstance(principal), key, ifVersion ?? null],
      statement("delete", column),
    );
    const row = rows[0];
    if (row) return { deleted: row.live };
    // Nothing deleted: no such key, another version, or an asset unusable when the statement ran.
    const current = await versionNow(db.sql, principal, asset, key);
    if (current === null && ifVersion === undefined) return { deleted: false };
    if (current === null || (ifVersion !== undefined && current !== ifVersion)) {
      throw versionMismatch(key, ifVersion ?? 0, current);
    }
    // The key is there at the asked version and the asset is usable now: it was not when the statement
    // ran (deactivated and re-activated meanwhile). Delete again.
    if (attempt >= 3) throw inactiveDuringWrite(asset);
  }
}

export async function clearAssetState(
  db: Database,
  principal: Principal,
  input: { asset: AssetRef },
): Promise<{ deleted: number }> {
  const { column, value } = refOf(input.asset);
  const rows = await db.sql.query<{ found: boolean; deleted: number }>(
    `WITH ${assetCte(column)},
     d AS (DELETE FROM asset_state s USING a WHERE s.asset_id = a.id AND ${CLEARING} RETURNING ${LIVE} AS live)
     SELECT EXISTS (SELECT 1 FROM a) AS found, (SELECT count(*) FILTER (WHERE live) FROM d)::int AS deleted`,
    [value, callerTaskInstance(principal)],
    statement("clear", column),
  );
  const row = rows[0];
  if (!row?.found) await explainMissingAsset(db.sql, principal, input.asset);
  return { deleted: row?.deleted ?? 0 };
}

export async function listAssetState(
  db: Database,
  principal: Principal,
  input: { asset: AssetRef; prefix?: string | undefined; limit: number; cursor?: string | null | undefined },
  maxPageBytes: number,
): Promise<Page<StateEntry>> {
  const after = decodeCursor(input.cursor);
  const { column, value } = refOf(input.asset);
  const rows = await db.sql.query<PageRow>(
    `WITH ${assetCte(column)}
     ${withinByteBudget(
       `SELECT ${ENTRY_COLUMNS} FROM asset_state s JOIN a ON s.asset_id = a.id
     WHERE ${LIVE} AND ($3::text IS NULL OR starts_with(s.key, $3)) AND ($4::text IS NULL OR s.key > $4)
     ORDER BY s.key LIMIT $5`,
       "$6",
     )}`,
    [value, callerTaskInstance(principal), input.prefix || null, after, input.limit + 1, maxPageBytes],
    statement("list", column),
  );
  if (rows.length === 0) await requireUsableAsset(db.sql, principal, input.asset);
  return toPage(rows, input.limit);
}
