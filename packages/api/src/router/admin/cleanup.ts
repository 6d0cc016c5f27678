// Expired state is deleted by the server every CAIRN_CLEANUP_INTERVAL_SECONDS; these run it now.
import { ZCleanupPreviewInput, ZCleanupRunInput } from "../../schemas.ts";
import { deleteExpired, previewExpired } from "../../services/cleanup.ts";
import { adminProcedure, adminReadProcedure, router } from "../../trpc.ts";

export const cleanupRouter = router({
  run: adminProcedure
    .meta({ effect: "cleanup" })
    .input(ZCleanupRunInput)
    .mutation(({ ctx, input }) => deleteExpired(ctx.db.sql, input)),
  preview: adminReadProcedure
    .input(ZCleanupPreviewInput)
    .query(({ ctx, input }) => previewExpired(ctx.db.sql, input.limit)),
});
