import {
  ZAssetByName,
  ZCreateTaskInstanceInput,
  ZDagRunRef,
  ZIssueTokenInput,
  ZRetryTaskInstanceInput,
  ZSetAssetActiveInput,
  ZUpsertAssetInput,
} from "../schemas.ts";
import { deleteAsset, setAssetActive, upsertAsset } from "../services/assets.ts";
import { deleteDagRun } from "../services/dag-runs.ts";
import { createTaskInstance, retryTaskInstance } from "../services/task-instances.ts";
import { issueExecutionToken } from "../services/tokens.ts";
import { adminProcedure, router } from "../trpc.ts";

export const adminRouter = router({
  taskInstances: router({
    create: adminProcedure
      .input(ZCreateTaskInstanceInput)
      .mutation(({ ctx, input }) => createTaskInstance(ctx.db, input)),
    retry: adminProcedure
      .input(ZRetryTaskInstanceInput)
      .mutation(({ ctx, input }) => retryTaskInstance(ctx.db, input)),
  }),
  dagRuns: router({
    delete: adminProcedure.input(ZDagRunRef).mutation(({ ctx, input }) => deleteDagRun(ctx.db, input)),
  }),
  assets: router({
    upsert: adminProcedure.input(ZUpsertAssetInput).mutation(({ ctx, input }) => upsertAsset(ctx.db, input)),
    setActive: adminProcedure
      .input(ZSetAssetActiveInput)
      .mutation(({ ctx, input }) => setAssetActive(ctx.db, input)),
    delete: adminProcedure.input(ZAssetByName).mutation(({ ctx, input }) => deleteAsset(ctx.db, input)),
  }),
  tokens: router({
    issue: adminProcedure
      .input(ZIssueTokenInput)
      .mutation(({ ctx, input }) => issueExecutionToken(ctx.db, ctx.config, input)),
  }),
});
