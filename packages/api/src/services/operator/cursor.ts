// Pages of the operator lists: `{ items, nextCursor, total }`, where a cursor is the base64url of the last
// item's sort key as a JSON array (opaque to callers).
import { DomainError } from "../../errors.ts";

type Part = string | number;

export function encodeListCursor(parts: Part[]): string {
  return Buffer.from(JSON.stringify(parts), "utf8").toString("base64url");
}

/**
 * The sort key a cursor holds, checked against the types the list sorts by; null for the first page.
 * Anything else is BAD_REQUEST invalid_value: a cursor comes from this server, never from a person.
 */
export function decodeListCursor<T extends Part[]>(
  cursor: string | null | undefined,
  types: ("string" | "number")[],
): T | null {
  if (cursor === null || cursor === undefined || cursor === "") return null;
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parts = undefined;
  }
  const valid =
    Array.isArray(parts) &&
    parts.length === types.length &&
    parts.every((part, i) =>
      types[i] === "number"
        ? Number.isSafeInteger(part)
        : typeof part === "string" && !part.includes("\u0000"),
    );
  if (!valid) throw new DomainError("bad_request", "invalid_value", "cursor is not one this server returned");
  return parts as T;
}

/**
 * A page from `rows` (fetched with one more than `limit`, to know whether another page follows), its
 * items made by `item`, its cursor from the last item's `sortKey`.
 */
export function listPage<Row, Item>(
  rows: Row[],
  limit: number,
  total: number,
  item: (row: Row) => Item,
  sortKey: (row: Row) => Part[],
): { items: Item[]; nextCursor: string | null; total: number } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(item),
    nextCursor: rows.length > page.length && last ? encodeListCursor(sortKey(last)) : null,
    total,
  };
}
