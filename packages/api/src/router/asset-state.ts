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
    .meta({ plane: "asset" })
    .input(ZAssetStateGetInput)
    .query(({ ctx, input }) => getAssetState(ctx.db, ctx.principal, input)),
  set: authedProcedure
    .meta({ plane: "asset", effect: "set" })
    .input(ZAssetStateSetInput)
    .mutation(({ ctx, input }) => setAssetState(ctx.db, ctx.principal, ctx.config.maxValueBytes, input)),
  delete: authedProcedure
    .meta({ plane: "asset", effect: "delete" })
    .input(ZAssetStateDeleteInput)
    .mutation(({ ctx, input }) => deleteAssetState(ctx.db, ctx.principal, input)),
  clear: authedProcedure
    .meta({ plane: "asset", effect: "clear" })
    .input(ZAssetStateClearInput)
    .mutation(({ ctx, input }) => clearAssetState(ctx.db, ctx.principal, input)),
  list: authedProcedure
    .meta({ plane: "asset" })
    .input(ZAssetStateListInput)
    .query(({ ctx, input }) => listAssetState(ctx.db, ctx.principal, input, ctx.config.maxPageBytes)),
  watch: authedProcedure
    .meta({ plane: "asset" })
    .input(ZAssetStateWatchInput)
    .subscription(({ ctx, input, signal }) => watchAssetState(ctx, ctx.principal, input, signal)),
} satisfies TRPCRouterRecord;
