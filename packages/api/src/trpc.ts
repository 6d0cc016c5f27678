// tRPC setup: the error formatter and the procedure builders every router uses.
import { getTRPCErrorFromUnknown, initTRPC, type TRPCError } from "@trpc/server";
import { auditedTarget } from "./audit.ts";
import type { Principal } from "./auth/tokens.ts";
import { describeCall } from "./call-metrics.ts";
import type { Context } from "./context.ts";
import { formatError, toTRPCError } from "./error-mapping.ts";
import { DomainError } from "./errors.ts";

/**
 * Per-procedure facts for metrics, declared with `.meta()` where the procedure is defined (no middleware,
 * so no cost per call): which state it touches, and what a successful call did to rows, read from its
 * result (call-metrics.ts).
 */
export interface ProcedureMeta {
  plane?: "task" | "asset";
  effect?: "set" | "delete" | "clear" | "lifecycle" | "cleanup";
}

const t = initTRPC
  .context<Context>()
  .meta<ProcedureMeta>()
  .create({
    isDev: false,
    errorFormatter: ({ shape, error }) => formatError(shape, error),
    // Watch streams: a ping every 15 s keeps idle streams open through proxies, and tells tRPC's client
    // to reconnect when it hears nothing for 30 s (a connection that died silently).
    sse: { ping: { enabled: true, intervalMs: 15_000 }, client: { reconnectAfterInactivityMs: 30_000 } },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** What every procedure's middleware gets from tRPC and passes to `observed`. */
interface CallInfo {
  ctx: Context;
  meta: ProcedureMeta | undefined;
  path: string;
  type: "query" | "mutation" | "subscription";
  getRawInput: () => Promise<unknown>;
}

/**
 * Runs `attempt` (the access check, then the rest of the call), maps domain and database errors thrown
 * anywhere in it to their tRPC codes (error-mapping.ts), and reports each finished call to the context's
 * observer (metrics, and the audit line of admin writes). Each procedure builder below has exactly one
 * middleware that calls this: every tRPC middleware level copies the call's options (and its context
 * when one is passed on), a measurable share of a get's CPU.
 */
async function observed<Result extends { ok: boolean; data?: unknown; error?: TRPCError }>(
  call: CallInfo,
  attempt: () => Promise<Result>,
): Promise<Result> {
  const { ctx, type } = call;
  const started = ctx.observer ? performance.now() : 0;
  let result: Result | undefined;
  let error: TRPCError | undefined;
  try {
    result = await attempt();
    if (!result.ok) error = result.error;
  } catch (cause) {
    error = getTRPCErrorFromUnknown(cause);
  }
  const mapped = error && (toTRPCError(error, type) ?? error);
  if (ctx.observer) {
    const outcome = mapped ? mapped.code : "OK";
    const { meta, path } = call;
    ctx.observer.onCall(
      describeCall(meta, path, outcome, performance.now() - started, mapped ? undefined : result?.data),
    );
    // Writes with an admin token are logged with who made them. The principal is known once the call
    // authenticated (the context memoizes it); a refused token wrote nothing.
    const principal = type === "mutation" ? ctx.authenticated() : undefined;
    if (principal?.scope === "admin" && ctx.observer.onAdminWrite) {
      ctx.observer.onAdminWrite({
        path,
        sub: principal.sub,
        outcome,
        target: auditedTarget(await call.getRawInput().catch(() => undefined)),
        requestId: ctx.requestId,
      });
    }
  }
  if (mapped) throw mapped;
  return result!;
}

/**
 * Execution plane, addressed by asset (assetState.*): an execution or an admin token; the service checks
 * which assets an execution token may touch. `ctx.principal` is set for everything below.
 */
export const authedProcedure = t.procedure.use((opts) =>
  observed(opts, async () => {
    const principal: Principal = await opts.ctx.authenticate();
    if (principal.scope === "viewer") throw viewerRefused("the execution plane is for workers and admins");
    return opts.next({ ctx: { principal } });
  }),
);

/** Admin plane, writes: an admin token only. `ctx.principal` is set for everything below. */
export const adminProcedure = t.procedure.use((opts) =>
  observed(opts, async () => {
    const principal: Principal = await opts.ctx.authenticate();
    if (principal.scope === "viewer") throw viewerRefused("this procedure changes state");
    if (principal.scope !== "admin") {
      throw new DomainError("forbidden", "insufficient_scope", "this procedure needs an admin token");
    }
    return opts.next({ ctx: { principal } });
  }),
);

/** Admin plane, reads (every admin query and admin.watch): an admin or a viewer token. */
export const adminReadProcedure = t.procedure.use((opts) =>
  observed(opts, async () => {
    const principal: Principal = await opts.ctx.authenticate();
    if (principal.scope === "execution") {
      throw new DomainError(
        "forbidden",
        "insufficient_scope",
        "this procedure needs an admin or a viewer token",
      );
    }
    return opts.next({ ctx: { principal } });
  }),
);

const viewerRefused = (why: string) =>
  new DomainError("forbidden", "insufficient_scope", `a viewer token may only read the admin plane: ${why}`);

/**
 * Execution plane, addressed by task instance. The self check runs on the raw `taskInstanceId`, before
 * the input is validated and before any lookup, so a token cannot probe other tasks (a missing or
 * non-string id is left to the procedure's schema, which refuses it). Admin tokens may address any task
 * instance. The context goes on unchanged (no `ctx.principal`: the input names the task instance), which
 * spares the hot path a copy of it.
 */
export const taskInstanceProcedure = t.procedure.use((opts) =>
  observed(opts, async () => {
    const principal: Principal = await opts.ctx.authenticate();
    if (principal.scope === "viewer") throw viewerRefused("the execution plane is for workers and admins");
    if (principal.scope === "execution") {
      const raw = await opts.getRawInput();
      const id =
        typeof raw === "object" && raw !== null
          ? (raw as { taskInstanceId?: unknown }).taskInstanceId
          : undefined;
      if (typeof id === "string" && id.toLowerCase() !== principal.taskInstanceId) {
        throw new DomainError(
          "forbidden",
          "not_own_task_instance",
          "an execution token may only touch its own task instance's state",
        );
      }
    }
    return opts.next();
  }),
);

/**
 * Who may call a procedure, read from the middlewares it was built with (for the OpenAPI document):
 * `admin` an admin token only; `admin-read` an admin or a viewer token; `task-instance` an execution token
 * for its own task instance, or an admin token; `any-token` an execution or admin token (the procedure
 * checks the rest); `public` no token.
 */
export type ProcedureAccess = "admin" | "admin-read" | "task-instance" | "any-token" | "public";

export function procedureAccess(procedure: { _def: object }): ProcedureAccess {
  const middlewares = (procedure._def as { middlewares?: unknown[] }).middlewares ?? [];
  const uses = (builder: { _def: object }) => {
    const own = (builder._def as { middlewares: unknown[] }).middlewares.at(-1);
    return middlewares.includes(own);
  };
  if (uses(adminProcedure)) return "admin";
  if (uses(adminReadProcedure)) return "admin-read";
  if (uses(taskInstanceProcedure)) return "task-instance";
  if (uses(authedProcedure)) return "any-token";
  return "public";
}
