import { ZTaskInstanceListInput } from "../../operator-schemas.ts";
import {
  ZClearTaskInstanceInput,
  ZCreateTaskInstanceInput,
  ZRetryTaskInstanceInput,
  ZSetTaskInstanceStateInput,
} from "../../schemas.ts";
import { listTaskInstances } from "../../services/operator/task-instances.ts";
import { createTaskInstance, retryTaskInstance } from "../../services/task-instances.ts";
import { clearTaskInstance, setTaskInstanceState } from "../../services/task-lifecycle.ts";
import { adminProcedure, adminReadProcedure, router } from "../../trpc.ts";

export const taskInstancesRouter = router({
  list: adminReadProcedure
    .input(ZTaskInstanceListInput)
    .query(({ ctx, input }) => listTaskInstances(ctx.db.sql, input)),
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
});
