// What task state and asset state have in common: entry rows, expiry defaults, list cursors.
import { DomainError } from "../errors.ts";

export interface StateEntry {
  key: string;
  value: unknown;
  version: number;
  updatedAt: string;
  expiresAt: string | null;
}

/** A state row as the drivers return it, or as a notification carries it (timestamps as JSON strings). */
export interface StateRow {
  key: string;
  value: unknown;
  version: number;
  updated_at: Date | string;
  expires_at: Date | string | null;
}

/** Columns of a StateRow, for SELECT and RETURNING lists (`s` is the state table's alias). */
export const ENTRY_COLUMNS = "s.key, s.value, s.version, s.updated_at, s.expires_at";

/** SQL: the version a write gives row `s`. An expired row is a key that no longer exists: it starts again at 1. */
export const NEXT_VERSION =
  "CASE WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN 1 ELSE s.version + 1 END";

/** SQL condition: the row `s` has not expired. Expired rows are invisible at once, before any cleanup. */
export const LIVE = "(s.expires_at IS NULL OR s.expires_at > now())";

/**
 * SQL condition, always true, for a DELETE that clears a whole scope: evaluated once before any row goes,
 * it tells the watch notify triggers (cairn_delete_cause) that the deletes it makes have the cause "clear".
 * The setting is local to the statement's transaction.
 */
export const CLEARING = "(SELECT set_config('cairn.delete_cause', 'clear', true)) IS NOT NULL";

export function toEntry(row: StateRow): StateEntry {
  return {
    key: row.key,
    value: row.value,
    version: row.version,
    updatedAt: toIso(row.updated_at),
    expiresAt: row.expires_at === null ? null : toIso(row.expires_at),
  };
}

export function toIso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A list query's rows, as `withinByteBudget` returns them. */
export interface PageRow extends StateRow {
  /** How many rows the query itself found (at most limit + 1), before the byte budget cut it. */
  fetched: string | number;
}

/**
 * SQL: a page of `listQuery` (its rows ordered by `key`, fetched with limit + 1) cut to a byte budget
 * (CAIRN_MAX_PAGE_BYTES, spec §4): the first rows whose values, as JSON text, start before `budgetParam`
 * bytes, and always the first row, however large. Cut in the database, so the server never holds more
 * than about one budget of values per list call. Each row says how many the query found (`fetched`).
 */
export function withinByteBudget(listQuery: string, budgetParam: string): string {
  return `SELECT sized.* FROM (
  SELECT sized_rows.*, count(*) OVER () AS fetched,
         sum(sized_rows.bytes) OVER (ORDER BY sized_rows.key ROWS UNBOUNDED PRECEDING) - sized_rows.bytes AS bytes_before
  FROM (SELECT page.*, octet_length(page.value::text) AS bytes FROM (${listQuery}) page) sized_rows
) sized
WHERE sized.bytes_before < ${budgetParam} OR sized.bytes_before = 0
ORDER BY sized.key`;
}

/** The page of rows cut by `withinByteBudget`: at most `limit` items; a next page if the query found more. */
export function toPage(rows: PageRow[], limit: number): Page<StateEntry> {
  const items = rows.slice(0, limit).map(toEntry);
  const last = items.at(-1);
  const fetched = Number(rows[0]?.fetched ?? 0);
  return { items, nextCursor: fetched > items.length && last ? encodeCursor(last.key) : null };
}

export function encodeCursor(key: string): string {
  return Buffer.from(key, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string | null | undefined): string | null {
  if (cursor === null || cursor === undefined || cursor === "") return null;
  const key = Buffer.from(cursor, "base64url").toString("utf8");
  // Invalid UTF-8 decodes to U+FFFD and then fails the round trip; a key that really holds U+FFFD passes.
  if (key === "" || key.includes("\u0000") || encodeCursor(key) !== cursor) {
    throw new DomainError("bad_request", "invalid_value", "cursor is not one this server returned");
  }
  return key;
}

/**
 * A write whose parent row (its dag run, its asset) was deleted while the write ran: PostgreSQL's
 * foreign_key_violation. The caller then answers what any later call would (NOT_FOUND with its reason).
 */
export function isParentDeleted(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "23503";
}

/** Expiry to store: explicit date, explicit null (never), or the default retention when omitted. */
export function resolveExpiry(
  expiresAt: Date | null | undefined,
  defaultRetentionDays: number,
): string | null {
  if (expiresAt === null) return null;
  if (expiresAt !== undefined) return expiresAt.toISOString();
  if (defaultRetentionDays <= 0) return null;
  return new Date(Date.now() + defaultRetentionDays * 86_400_000).toISOString();
}
