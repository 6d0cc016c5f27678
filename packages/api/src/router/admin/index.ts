// The admin plane (spec §5, §7): admin tokens for everything, viewer tokens for the queries and watch.
import { ZStatsInput } from "../../operator-schemas.ts";
import { ZIssueTokenInput } from "../../schemas.ts";
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
  stats: adminReadProcedure.input(ZStatsInput).query(({ ctx }) => stats(ctx.db.sql)),
  /** Live changes of an asset's state or of a dag run's task state; each event says where it happened. */
  watch: adminReadProcedure
    .input(ZAdminWatchInput)
    .subscription(({ ctx, input, signal }) => watchAsAdmin(ctx, input, signal)),
});
