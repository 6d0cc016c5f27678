// The admin plane (spec §5, §7): admin tokens for everything, viewer tokens for the queries and watch.
import { ZNoInput } from "../../operator-schemas.ts";
import { ZIssueTokenInput } from "../../schemas.ts";
import { emptyRecentCalls } from "../../services/operator/call-history.ts";
import { sessionOf } from "../../services/operator/session.ts";
import { stats } from "../../services/operator/stats.ts";
import { issueExecutionToken } from "../../services/tokens.ts";
import { watchAsAdmin } from "../../services/watch/start.ts";
import { adminProcedure, adminReadProcedure, router } from "../../trpc.ts";
import { ZAdminWatchInput } from "../../watch-schemas.ts";
import { adminAssetStateRouter } from "./asset-state.ts";
import { assetsRouter } from "./assets.ts";
import { cleanupRouter } from "./cleanup.ts";
import { dagRunsRouter } from "./dag-runs.ts";
import { taskInstancesRouter } from "./task-instances.ts";
import { adminTaskStateRouter } from "./task-state.ts";

export const adminRouter = router({
  taskInstances: taskInstancesRouter,
  taskState: adminTaskStateRouter,
  assetState: adminAssetStateRouter,
  dagRuns: dagRunsRouter,
  assets: assetsRouter,
  tokens: router({
    issue: adminProcedure
      .input(ZIssueTokenInput)
      .mutation(({ ctx, input }) => issueExecutionToken(ctx.db, ctx.config, input)),
  }),
  cleanup: cleanupRouter,
  /** Counts for an overview: dag runs, task instances, live keys, what expires soon or awaits cleanup. */
  stats: adminReadProcedure.input(ZNoInput).query(({ ctx }) => stats(ctx.db.sql)),
  /** The caller (sub, scope, token expiry) and the value limit, for the console. */
  session: adminReadProcedure
    .input(ZNoInput)
    .query(({ ctx }) => sessionOf(ctx.principal, ctx.tokenExpiresAtMs(), ctx.config)),
  metrics: router({
    /** Calls, errors and p99 latency per procedure over the last 15 minutes, in 10 s intervals. */
    recent: adminReadProcedure
      .input(ZNoInput)
      .query(({ ctx }) => ctx.callHistory?.recent() ?? emptyRecentCalls()),
  }),
  /** Live changes of an asset's state or of a dag run's task state; each event says where it happened. */
  watch: adminReadProcedure
    .input(ZAdminWatchInput)
    .subscription(({ ctx, input, signal }) => watchAsAdmin(ctx, input, signal)),
});
