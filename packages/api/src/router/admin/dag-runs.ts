import { ZDagRunListInput } from "../../operator-schemas.ts";
import { ZDagRunRef } from "../../schemas.ts";
import { deleteDagRun } from "../../services/dag-runs.ts";
import { listDagRuns } from "../../services/operator/dag-runs.ts";
import { adminProcedure, adminReadProcedure, router } from "../../trpc.ts";

export const dagRunsRouter = router({
  list: adminReadProcedure.input(ZDagRunListInput).query(({ ctx, input }) => listDagRuns(ctx.db.sql, input)),
  delete: adminProcedure.input(ZDagRunRef).mutation(({ ctx, input }) => deleteDagRun(ctx.db, input)),
});
