// What a finished procedure call did to state, read from its path and result, for metrics.
import type { ProcedureCall } from "./context.ts";

function planeOf(path: string): ProcedureCall["plane"] {
  if (
    path.startsWith("taskState.") ||
    path.startsWith("admin.taskState.") ||
    path.startsWith("admin.taskInstances.")
  ) {
    return "task";
  }
  if (path.startsWith("assetState.") || path.startsWith("admin.assetState.")) return "asset";
  return "none";
}

export function describeCall(
  path: string,
  outcome: string,
  durationMs: number,
  data: unknown,
): ProcedureCall {
  const call: ProcedureCall = {
    path,
    outcome,
    durationMs,
    plane: planeOf(path),
    rowsWritten: 0,
    rowsDeleted: 0,
    deletedVia: "delete",
  };
  if (outcome !== "OK" || typeof data !== "object" || data === null) return call;
  if (path === "admin.cleanup.run") {
    const { task, asset } = data as { task?: unknown; asset?: unknown };
    if (typeof task === "number" && typeof asset === "number") call.cleanupDeleted = { task, asset };
    return call;
  }
  const verb = path.slice(path.lastIndexOf(".") + 1);
  const result = data as { deleted?: unknown; deletedKeys?: unknown };
  if (call.plane === "none") return call;
  if (verb === "set") call.rowsWritten = 1;
  else if (verb === "delete" && result.deleted === true) call.rowsDeleted = 1;
  else if (verb === "clear" && typeof result.deleted === "number") {
    call.rowsDeleted = result.deleted;
    call.deletedVia = "clear";
  } else if (typeof result.deletedKeys === "number") {
    call.rowsDeleted = result.deletedKeys;
    call.deletedVia = "lifecycle";
  }
  return call;
}
