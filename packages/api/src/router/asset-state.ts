import type { TRPCRouterRecord } from "@trpc/server";
import {
  ZAssetStateClearInput,
  ZAssetStateDeleteInput,
  ZAssetStateGetInput,
  ZAssetStateListInput,
  ZAssetStateSetInput,
} from "../schemas.ts";
import {
  clearAssetState,
  deleteAssetState,
  getAssetState,
  listAssetState,
  setAssetState,
} from "../services/asset-state.ts";
import { watchAssetState } from "../services/watch/start.ts";
import { authedProcedure } from "../trpc.ts";
import { ZAssetStateWatchInput } from "../watch-schemas.ts";

export const assetStateRouter = {
  get: authedProcedure
    .input(ZAssetStateGetInput)
    .query(({ ctx, input }) => getAssetState(ctx.db, ctx.principal, input)),
  set: authedProcedure
    .input(ZAssetStateSetInput)
    .mutation(({ ctx, input }) => setAssetState(ctx.db, ctx.principal, ctx.config.maxValueBytes, input)),
  delete: authedProcedure
    .input(ZAssetStateDeleteInput)
    .mutation(({ ctx, input }) => deleteAssetState(ctx.db, ctx.principal, input)),
  clear: authedProcedure
    .input(ZAssetStateClearInput)
    .mutation(({ ctx, input }) => clearAssetState(ctx.db, ctx.principal, input)),
  list: authedProcedure
    .input(ZAssetStateListInput)
    .query(({ ctx, input }) => listAssetState(ctx.db, ctx.principal, input, ctx.config.maxPageBytes)),
  watch: authedProcedure
    .input(ZAssetStateWatchInput)
    .subscription(({ ctx, input, signal }) => watchAssetState(ctx, ctx.principal, input, signal)),
} satisfies TRPCRouterRecord;
