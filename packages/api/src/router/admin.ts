import {
  ZAdminTaskStateClearInput,
  ZAdminTaskStateDeleteInput,
  ZAdminTaskStateGetInput,
  ZAdminTaskStateListInput,
  ZAdminTaskStateSetInput,
  ZAssetByName,
  ZAssetStateClearInput,
  ZAssetStateDeleteInput,
  ZAssetStateGetInput,
  ZAssetStateListInput,
  ZAssetStateSetInput,
  ZCleanupPreviewInput,
  ZCleanupRunInput,
  ZClearTaskInstanceInput,
  ZCreateTaskInstanceInput,
  ZDagRunRef,
  ZIssueTokenInput,
  ZRetryTaskInstanceInput,
  ZSetAssetActiveInput,
  ZSetTaskInstanceStateInput,
  ZUpsertAssetInput,
} from "../schemas.ts";
import { clearAssetState, deleteAssetState, getAssetState, setAssetState } from "../services/asset-state.ts";
import { listAssetStateWithWriters } from "../services/asset-state-admin.ts";
import { deleteAsset, setAssetActive, upsertAsset } from "../services/assets.ts";
import { deleteExpired, previewExpired } from "../services/cleanup.ts";
import { deleteDagRun } from "../services/dag-runs.ts";
import { createTaskInstance, retryTaskInstance } from "../services/task-instances.ts";
import { clearTaskInstance, setTaskInstanceState } from "../services/task-lifecycle.ts";
import {
  clearTaskState,
  deleteTaskState,
  getTaskState,
  listTaskStateWithTotal,
  setTaskState,
} from "../services/task-state.ts";
import { issueExecutionToken } from "../services/tokens.ts";
import { watchAsAdmin } from "../services/watch/start.ts";
import { adminProcedure, router } from "../trpc.ts";
import { ZAdminWatchInput } from "../watch-schemas.ts";

export const adminRouter = router({
  taskInstances: router({
    create: adminProcedure
      .input(ZCreateTaskInstanceInput)
      .mutation(({ ctx, input }) => createTaskInstance(ctx.db, input)),
    retry: adminProcedure
      .input(ZRetryTaskInstanceInput)
      .mutation(({ ctx, input }) => retryTaskInstance(ctx.db, input)),
    setState: adminProcedure
      .input(ZSetTaskInstanceStateInput)
      .mutation(({ ctx, input }) => setTaskInstanceState(ctx.db, ctx.config.clearOnSuccess, input)),
    clear: adminProcedure
      .input(ZClearTaskInstanceInput)
      .mutation(({ ctx, input }) => clearTaskInstance(ctx.db, input)),
  }),
  /** Task state addressed by dag run, task and map index: for operators, no task instance token needed. */
  taskState: router({
    list: adminProcedure
      .input(ZAdminTaskStateListInput)
      .query(({ ctx, input }) => listTaskStateWithTotal(ctx.db, input, ctx.config.maxPageBytes)),
    get: adminProcedure.input(ZAdminTaskStateGetInput).query(({ ctx, input }) => getTaskState(ctx.db, input)),
    set: adminProcedure
      .input(ZAdminTaskStateSetInput)
      .mutation(({ ctx, input }) => setTaskState(ctx.db, ctx.config, input)),
    delete: adminProcedure
      .input(ZAdminTaskStateDeleteInput)
      .mutation(({ ctx, input }) => deleteTaskState(ctx.db, input)),
    clear: adminProcedure
      .input(ZAdminTaskStateClearInput)
      .mutation(({ ctx, input }) => clearTaskState(ctx.db, input)),
  }),
  /** Asset state for operators: writes are recorded with writer kind "admin"; lists show who wrote last. */
  assetState: router({
    list: adminProcedure
      .input(ZAssetStateListInput)
      .query(({ ctx, input }) => listAssetStateWithWriters(ctx.db, input, ctx.config.maxPageBytes)),
    get: adminProcedure
      .input(ZAssetStateGetInput)
      .query(({ ctx, input }) => getAssetState(ctx.db, ctx.principal, input)),
    set: adminProcedure
      .input(ZAssetStateSetInput)
      .mutation(({ ctx, input }) => setAssetState(ctx.db, ctx.principal, ctx.config.maxValueBytes, input)),
    delete: adminProcedure
      .input(ZAssetStateDeleteInput)
      .mutation(({ ctx, input }) => deleteAssetState(ctx.db, ctx.principal, input)),
    clear: adminProcedure
      .input(ZAssetStateClearInput)
      .mutation(({ ctx, input }) => clearAssetState(ctx.db, ctx.principal, input)),
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
  /** Expired state is deleted by the server every CAIRN_CLEANUP_INTERVAL_SECONDS; these run it now. */
  cleanup: router({
    run: adminProcedure
      .input(ZCleanupRunInput)
      .mutation(({ ctx, input }) => deleteExpired(ctx.db.sql, input)),
    preview: adminProcedure
      .input(ZCleanupPreviewInput)
      .query(({ ctx, input }) => previewExpired(ctx.db.sql, input.limit)),
  }),
  /** Live changes of an asset's state or of a dag run's task state; each event says where it happened. */
  watch: adminProcedure
    .input(ZAdminWatchInput)
    .subscription(({ ctx, input, signal }) => watchAsAdmin(ctx, input, signal)),
});
