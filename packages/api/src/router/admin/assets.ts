import { ZAssetListInput } from "../../operator-schemas.ts";
import { ZAssetByName, ZSetAssetActiveInput, ZUpsertAssetInput } from "../../schemas.ts";
import { deleteAsset, setAssetActive, upsertAsset } from "../../services/assets.ts";
import { listAssets } from "../../services/operator/assets.ts";
import { adminProcedure, adminReadProcedure, router } from "../../trpc.ts";

export const assetsRouter = router({
  list: adminReadProcedure.input(ZAssetListInput).query(({ ctx, input }) => listAssets(ctx.db.sql, input)),
  upsert: adminProcedure.input(ZUpsertAssetInput).mutation(({ ctx, input }) => upsertAsset(ctx.db, input)),
  setActive: adminProcedure
    .input(ZSetAssetActiveInput)
    .mutation(({ ctx, input }) => setAssetActive(ctx.db, input)),
  delete: adminProcedure.input(ZAssetByName).mutation(({ ctx, input }) => deleteAsset(ctx.db, input)),
});
