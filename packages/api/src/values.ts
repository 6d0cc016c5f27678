// The value rules of spec §2 (value-rules.ts), checked before anything reaches the database.
import { DomainError } from "./errors.ts";
import { sizeProblem, valueProblem } from "./value-rules.ts";

/**
 * Checks a decoded JSON value and returns its JSON text (what is stored). Throws BAD_REQUEST for a
 * top-level null, a non-finite number, U+0000 or a lone surrogate in a string or object key, or nesting
 * deeper than 64, and PAYLOAD_TOO_LARGE when the UTF-8 text exceeds maxBytes (0 = no limit).
 */
export function encodeValue(value: unknown, maxBytes: number): string {
  const problem = valueProblem(value);
  if (problem) throw new DomainError("bad_request", "invalid_value", problem);
  const text = JSON.stringify(value);
  if (maxBytes > 0) {
    // Cheap bound first: UTF-8 needs at most 3 bytes per UTF-16 unit.
    const bytes = text.length * 3 <= maxBytes ? text.length : Buffer.byteLength(text, "utf8");
    const tooLarge = sizeProblem(bytes, maxBytes);
    if (tooLarge) throw new DomainError("payload_too_large", "value_too_large", tooLarge);
  }
  return text;
}
