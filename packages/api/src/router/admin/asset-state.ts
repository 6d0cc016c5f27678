// Asset state for operators: writes are recorded with writer kind "admin"; lists show who wrote last.
import {
  ZAssetStateClearInput,
  ZAssetStateDeleteInput,
  ZAssetStateGetInput,
  ZAssetStateListInput,
  ZAssetStateSetInput,
} from "../../schemas.ts";
import {
  clearAssetState,
  deleteAssetState,
  getAssetState,
  setAssetState,
} from "../../services/asset-state.ts";
import { listAssetStateWithWriters } from "../../services/asset-state-admin.ts";
import { adminProcedure, adminReadProcedure, router } from "../../trpc.ts";

export const adminAssetStateRouter = router({
  list: adminReadProcedure
    .meta({ plane: "asset" })
    .input(ZAssetStateListInput)
    .query(({ ctx, input }) => listAssetStateWithWriters(ctx.db, input, ctx.config.maxPageBytes)),
  get: adminReadProcedure
    .meta({ plane: "asset" })
    .input(ZAssetStateGetInput)
    .query(({ ctx, input }) => getAssetState(ctx.db, ctx.principal, input)),
  set: adminProcedure
    .meta({ plane: "asset", effect: "set" })
    .input(ZAssetStateSetInput)
    .mutation(({ ctx, input }) => setAssetState(ctx.db, ctx.principal, ctx.config.maxValueBytes, input)),
  delete: adminProcedure
    .meta({ plane: "asset", effect: "delete" })
    .input(ZAssetStateDeleteInput)
    .mutation(({ ctx, input }) => deleteAssetState(ctx.db, ctx.principal, input)),
  clear: adminProcedure
    .meta({ plane: "asset", effect: "clear" })
    .input(ZAssetStateClearInput)
    .mutation(({ ctx, input }) => clearAssetState(ctx.db, ctx.principal, input)),
});
