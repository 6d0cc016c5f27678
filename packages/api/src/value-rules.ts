// The value rules of spec §2 as plain checks with no dependencies: the server enforces them (values.ts)
// and the console checks a value with the same code before sending it.

export const MAX_VALUE_DEPTH = 64;

/** A lone UTF-16 surrogate has no UTF-8 form: PostgreSQL's jsonb refuses it. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * What is wrong with a decoded JSON value under the size-independent rules (a top-level null, a
 * non-finite number, U+0000 or a lone surrogate in a string or object key, nesting deeper than 64), or
 * undefined when nothing is.
 */
export function valueProblem(value: unknown): string | undefined {
  if (value === undefined) return "value is required";
  if (value === null) return "value must not be null (delete the key to remove it)";
  return nodeProblem(value, 1, "value");
}

/** The problem with a value of `bytes` UTF-8 bytes under a limit of maxBytes (0 = no limit), if any. */
export function sizeProblem(bytes: number, maxBytes: number): string | undefined {
  if (maxBytes <= 0 || bytes <= maxBytes) return undefined;
  return `value is ${bytes} bytes as JSON; the limit is ${maxBytes} (CAIRN_MAX_VALUE_BYTES)`;
}

function nodeProblem(node: unknown, depth: number, path: string): string | undefined {
  switch (typeof node) {
    case "string":
      if (node.includes("\u0000")) return `${path} contains U+0000, which cannot be stored`;
      if (LONE_SURROGATE.test(node)) return `${path} contains a lone UTF-16 surrogate`;
      return undefined;
    case "number":
      return Number.isFinite(node) ? undefined : `${path} is not a finite number`;
    case "boolean":
      return undefined;
    case "object": {
      if (node === null) return undefined;
      if (depth > MAX_VALUE_DEPTH) return `value nests deeper than ${MAX_VALUE_DEPTH} levels`;
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) {
          const problem = nodeProblem(node[i], depth + 1, `${path}[${i}]`);
          if (problem) return problem;
        }
        return undefined;
      }
      for (const [key, child] of Object.entries(node)) {
        if (key.includes("\u0000")) return `an object key in ${path} contains U+0000`;
        if (LONE_SURROGATE.test(key)) return `an object key in ${path} contains a lone UTF-16 surrogate`;
        const problem = nodeProblem(child, depth + 1, `${path}.${key}`);
        if (problem) return problem;
      }
      return undefined;
    }
    default:
      return `${path} is not a JSON value`;
  }
}
