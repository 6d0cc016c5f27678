// tRPC setup: the error formatter and the procedure builders every router uses.
import { initTRPC } from "@trpc/server";
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

/**
 * Maps domain and database errors thrown anywhere below to their tRPC codes (error-mapping.ts), and
 * reports each finished call to the context's observer (metrics, and the audit line of admin writes).
 */
const mapErrors = t.middleware(async ({ ctx, meta, path, type, getRawInput, next }) => {
  const started = ctx.observer ? performance.now() : 0;
  const result = await next();
  const mapped = result.ok ? undefined : toTRPCError(result.error, type);
  if (ctx.observer) {
    const outcome = result.ok ? "OK" : (mapped ?? result.error).code;
    ctx.observer.onCall(
      describeCall(meta, path, outcome, performance.now() - started, result.ok ? result.data : undefined),
    );
    // Writes with an admin token are logged with who made them. The principal is known once the call
    // authenticated (the context memoizes it); a refused token wrote nothing.
    const principal = type === "mutation" ? ctx.authenticated() : undefined;
    if (principal?.scope === "admin" && ctx.observer.onAdminWrite) {
      ctx.observer.onAdminWrite({
        path,
        sub: principal.sub,
        outcome,
        target: auditedTarget(await getRawInput().catch(() => undefined)),
        requestId: ctx.requestId,
      });
    }
  }
  if (mapped) throw mapped;
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors);

/**
 * Execution plane, addressed by asset (assetState.*): an execution or an admin token; the service checks
 * which assets an execution token may touch. `ctx.principal` is set for everything below.
 */
export const authedProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const principal: Principal = await ctx.authenticate();
  if (principal.scope === "viewer") throw viewerRefused("the execution plane is for workers and admins");
  return next({ ctx: { principal } });
});

/** Admin plane, writes: an admin token only. */
export const adminProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const principal: Principal = await ctx.authenticate();
  if (principal.scope === "viewer") throw viewerRefused("this procedure changes state");
  if (principal.scope !== "admin") {
    throw new DomainError("forbidden", "insufficient_scope", "this procedure needs an admin token");
  }
  return next({ ctx: { principal } });
});

/** Admin plane, reads (every admin query and admin.watch): an admin or a viewer token. */
export const adminReadProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const principal: Principal = await ctx.authenticate();
  if (principal.scope === "execution") {
    throw new DomainError(
      "forbidden",
      "insufficient_scope",
      "this procedure needs an admin or a viewer token",
    );
  }
  return next({ ctx: { principal } });
});

const viewerRefused = (why: string) =>
  new DomainError("forbidden", "insufficient_scope", `a viewer token may only read the admin plane: ${why}`);

/**
 * Execution plane, addressed by task instance. The self check runs on the raw `taskInstanceId`, before
 * the input is validated and before any lookup, so a token cannot probe other tasks (a missing or
 * non-string id is left to the procedure's schema, which refuses it). Admin tokens may address any task
 * instance. Auth and self check are one middleware: each tRPC middleware level copies the call's options
 * and context, a measurable share of a get's CPU.
 */
export const taskInstanceProcedure = publicProcedure.use(async ({ ctx, getRawInput, next }) => {
  const principal: Principal = await ctx.authenticate();
  if (principal.scope === "viewer") throw viewerRefused("the execution plane is for workers and admins");
  if (principal.scope === "execution") {
    const raw = await getRawInput();
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
  return next({ ctx: { principal } });
});

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
