// The value rules of spec §2, checked before anything reaches the database.
import { DomainError } from "./errors.ts";

export const MAX_VALUE_DEPTH = 64;

/** A lone UTF-16 surrogate has no UTF-8 form: PostgreSQL's jsonb refuses it. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Checks a decoded JSON value and returns its JSON text (what is stored). Throws BAD_REQUEST for a
 * top-level null, a non-finite number, U+0000 or a lone surrogate in a string or object key, or nesting
 * deeper than 64,
 * and PAYLOAD_TOO_LARGE when the UTF-8 text exceeds maxBytes (0 = no limit).
 */
export function encodeValue(value: unknown, maxBytes: number): string {
  if (value === undefined) throw invalid("value is required");
  if (value === null) throw invalid("value must not be null (delete the key to remove it)");
  checkNode(value, 1, "value");
  const text = JSON.stringify(value);
  if (maxBytes > 0) {
    // Cheap bound first: UTF-8 needs at most 3 bytes per UTF-16 unit.
    const bytes = text.length * 3 <= maxBytes ? text.length : Buffer.byteLength(text, "utf8");
    if (bytes > maxBytes) {
      throw new DomainError(
        "payload_too_large",
        "value_too_large",
        `value is ${bytes} bytes as JSON; the limit is ${maxBytes} (CAIRN_MAX_VALUE_BYTES)`,
      );
    }
  }
  return text;
}

function checkNode(node: unknown, depth: number, path: string): void {
  switch (typeof node) {
    case "string":
      if (node.includes("\u0000")) throw invalid(`${path} contains U+0000, which cannot be stored`);
      if (LONE_SURROGATE.test(node)) throw invalid(`${path} contains a lone UTF-16 surrogate`);
      return;
    case "number":
      if (!Number.isFinite(node)) throw invalid(`${path} is not a finite number`);
      return;
    case "boolean":
      return;
    case "object": {
      if (node === null) return;
      if (depth > MAX_VALUE_DEPTH) throw invalid(`value nests deeper than ${MAX_VALUE_DEPTH} levels`);
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) checkNode(node[i], depth + 1, `${path}[${i}]`);
        return;
      }
      for (const [key, child] of Object.entries(node)) {
        if (key.includes("\u0000")) throw invalid(`an object key in ${path} contains U+0000`);
        if (LONE_SURROGATE.test(key))
          throw invalid(`an object key in ${path} contains a lone UTF-16 surrogate`);
        checkNode(child, depth + 1, `${path}.${key}`);
      }
      return;
    }
    default:
      throw invalid(`${path} is not a JSON value`);
  }
}

function invalid(message: string): DomainError {
  return new DomainError("bad_request", "invalid_value", message);
}
