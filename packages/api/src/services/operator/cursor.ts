// Opaque cursors of the operator lists: the base64url of the last item's sort key as a JSON array.
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
