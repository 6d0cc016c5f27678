// What a finished procedure call did to state, from its meta (trpc.ts) and its result, for metrics.
import type { ProcedureCall } from "./context.ts";
import type { ProcedureMeta } from "./trpc.ts";

export function describeCall(
  meta: ProcedureMeta | undefined,
  path: string,
  outcome: string,
  durationMs: number,
  data: unknown,
): ProcedureCall {
  const call: ProcedureCall = {
    path,
    outcome,
    durationMs,
    plane: meta?.plane ?? "none",
    rowsWritten: 0,
    rowsDeleted: 0,
    deletedVia: "delete",
  };
  if (outcome !== "OK" || typeof data !== "object" || data === null) return call;
  const result = data as { deleted?: unknown; deletedKeys?: unknown; task?: unknown; asset?: unknown };
  switch (meta?.effect) {
    case "set":
      call.rowsWritten = 1;
      break;
    case "delete":
      if (result.deleted === true) call.rowsDeleted = 1;
      break;
    case "clear":
      if (typeof result.deleted === "number") {
        call.rowsDeleted = result.deleted;
        call.deletedVia = "clear";
      }
      break;
    case "lifecycle":
      if (typeof result.deletedKeys === "number") {
        call.rowsDeleted = result.deletedKeys;
        call.deletedVia = "lifecycle";
      }
      break;
    case "cleanup":
      if (typeof result.task === "number" && typeof result.asset === "number")
        call.cleanupDeleted = { task: result.task, asset: result.asset };
      break;
  }
  return call;
}
