// Which errors each procedure can answer with: its tRPC codes and `data.reason` values. The OpenAPI
// document (openapi/) is made from this; procedure-errors.test.ts provokes them through the router.
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { codeOf } from "./error-mapping.ts";
import { type DomainErrorReason, REASONS } from "./errors.ts";
import type { ProcedurePath } from "./procedure-paths.ts";
import type { ProcedureAccess } from "./trpc.ts";

const TASK_INSTANCE = ["task_instance_not_found", "task_instance_superseded"] as const;
const WRITE = ["version_mismatch", "invalid_value", "value_too_large"] as const;
/** An execution caller's asset check: registration first, then its own try, then the asset. */
const ASSET = ["asset_not_registered", ...TASK_INSTANCE, "asset_not_found"] as const;

/**
 * The reasons a procedure's own work can return, beyond those of every call (`CALL_REASONS`) and of its
 * access check (`ACCESS_REASONS`). A new procedure does not compile until it has an entry here.
 */
export const PROCEDURE_REASONS = {
  "taskState.get": [...TASK_INSTANCE, "key_not_found"],
  "taskState.set": [...TASK_INSTANCE, ...WRITE],
  "taskState.delete": [...TASK_INSTANCE, "version_mismatch"],
  "taskState.clear": [...TASK_INSTANCE],
  "taskState.list": [...TASK_INSTANCE, "invalid_value"],
  "taskState.watch": [...TASK_INSTANCE],
  "assetState.get": [...ASSET, "key_not_found"],
  "assetState.set": [...ASSET, ...WRITE],
  "assetState.delete": [...ASSET, "version_mismatch"],
  "assetState.clear": [...ASSET],
  "assetState.list": [...ASSET, "invalid_value"],
  "assetState.watch": [...ASSET],
  "admin.taskInstances.list": ["dag_run_not_found", "invalid_value"],
  "admin.taskInstances.create": ["asset_not_found", "task_instance_exists"],
  "admin.taskInstances.retry": ["task_instance_not_found"],
  "admin.taskInstances.setState": ["task_instance_not_found"],
  "admin.taskInstances.clear": ["task_instance_not_found"],
  "admin.taskState.list": ["dag_run_not_found", "invalid_value"],
  "admin.taskState.get": ["dag_run_not_found", "key_not_found"],
  "admin.taskState.set": ["dag_run_not_found", ...WRITE],
  "admin.taskState.delete": ["dag_run_not_found", "version_mismatch"],
  "admin.taskState.clear": ["dag_run_not_found"],
  "admin.assetState.list": ["asset_not_found", "invalid_value"],
  "admin.assetState.get": ["asset_not_found", "key_not_found"],
  "admin.assetState.set": ["asset_not_found", ...WRITE],
  "admin.assetState.delete": ["asset_not_found", "version_mismatch"],
  "admin.assetState.clear": ["asset_not_found"],
  "admin.dagRuns.list": ["invalid_value"],
  "admin.dagRuns.delete": [],
  "admin.assets.list": ["invalid_value"],
  "admin.assets.upsert": ["asset_uri_taken"],
  "admin.assets.setActive": ["asset_not_found"],
  "admin.assets.delete": [],
  "admin.tokens.issue": [...TASK_INSTANCE],
  "admin.cleanup.run": [],
  "admin.cleanup.preview": [],
  "admin.stats": [],
  "admin.session": [],
  "admin.metrics.recent": [],
  "admin.watch": ["asset_not_found", "dag_run_not_found"],
} as const satisfies Record<ProcedurePath, readonly DomainErrorReason[]>;

/**
 * Reasons any call can get: a request the server refuses before the procedure runs (a query string or
 * body that is not UTF-8: `invalid_value`) and a database it cannot reach. Mutations also: an over-size
 * body, and a connection that broke during the write.
 */
export const CALL_REASONS = {
  query: ["invalid_value", "database_unavailable"],
  mutation: ["invalid_value", "body_too_large", "database_unavailable", "outcome_unknown"],
} as const satisfies Record<"query" | "mutation", readonly DomainErrorReason[]>;

/** Reasons of the token check, by who may call the procedure (trpc.ts). */
export const ACCESS_REASONS = {
  admin: ["invalid_token", "token_expired", "insufficient_scope"],
  "admin-read": ["invalid_token", "token_expired", "insufficient_scope"],
  "task-instance": ["invalid_token", "token_expired", "insufficient_scope", "not_own_task_instance"],
  "any-token": ["invalid_token", "token_expired", "insufficient_scope"],
  public: [],
} as const satisfies Record<ProcedureAccess, readonly DomainErrorReason[]>;

/** One tRPC code a procedure can answer with, and the reasons that come with it. */
export interface ProcedureError {
  code: TRPC_ERROR_CODE_KEY;
  /** Its `data.reason` values (sorted); empty when it never carries one. */
  reasons: DomainErrorReason[];
  /** Whether an error of this code may come without a reason, and when. */
  withoutReason?: string;
}

/** Errors without a reason: tRPC's own (input validation, content type) and the hidden internal error. */
function unreasoned(type: "query" | "mutation"): Partial<Record<TRPC_ERROR_CODE_KEY, string>> {
  return {
    BAD_REQUEST:
      "input that fails the procedure's schema (or is not JSON): data.fieldErrors and data.formErrors say what is wrong",
    ...(type === "mutation"
      ? { UNSUPPORTED_MEDIA_TYPE: "a body sent without Content-Type: application/json" }
      : {}),
    INTERNAL_SERVER_ERROR: 'an unexpected failure; its message is always "internal server error"',
  };
}

/** Every error a procedure can answer with, by tRPC code, in the order of their HTTP statuses. */
export function procedureErrors(
  path: ProcedurePath,
  type: "query" | "mutation",
  access: ProcedureAccess,
): ProcedureError[] {
  const reasons = new Set<DomainErrorReason>([
    ...CALL_REASONS[type],
    ...ACCESS_REASONS[access],
    ...PROCEDURE_REASONS[path],
  ]);
  const byCode = new Map<TRPC_ERROR_CODE_KEY, ProcedureError>();
  const entry = (code: TRPC_ERROR_CODE_KEY) => {
    let found = byCode.get(code);
    if (!found) {
      found = { code, reasons: [] };
      byCode.set(code, found);
    }
    return found;
  };
  for (const reason of reasons) entry(codeOf[REASONS[reason].kind]).reasons.push(reason);
  for (const [code, when] of Object.entries(unreasoned(type))) {
    entry(code as TRPC_ERROR_CODE_KEY).withoutReason = when;
  }
  for (const error of byCode.values()) error.reasons.sort();
  return [...byCode.values()].sort((a, b) => httpStatusOf(a.code) - httpStatusOf(b.code));
}

/** The HTTP status tRPC answers a code with. */
export function httpStatusOf(code: TRPC_ERROR_CODE_KEY): number {
  return getHTTPStatusCodeFromError(new TRPCError({ code }));
}
