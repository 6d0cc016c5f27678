// What an audit line says about a write's target: the input's addressing fields, never its value.
const ADDRESSING = ["taskInstanceId", "dagId", "runId", "taskId", "mapIndex", "key", "prefix", "name", "uri"];
const MAX_CHARS = 200;

function short(value: unknown): unknown {
  if (typeof value === "string") return value.length > MAX_CHARS ? `${value.slice(0, MAX_CHARS)}…` : value;
  return typeof value === "number" || typeof value === "boolean" ? value : undefined;
}

/** `{ dagId, runId, taskId, key, asset: { name } ... }` of a raw input, as far as it has them. */
export function auditedTarget(raw: unknown): Record<string, unknown> {
  const target: Record<string, unknown> = {};
  if (typeof raw !== "object" || raw === null) return target;
  const input = raw as Record<string, unknown>;
  for (const field of ADDRESSING) {
    const value = short(input[field]);
    if (value !== undefined) target[field] = value;
  }
  if (typeof input.asset === "object" && input.asset !== null) {
    target.asset = auditedTarget(input.asset);
  }
  return target;
}
