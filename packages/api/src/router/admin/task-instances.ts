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
    .meta({ plane: "task" })
    .input(ZTaskInstanceListInput)
    .query(({ ctx, input }) => listTaskInstances(ctx.db.sql, input)),
  create: adminProcedure
    .meta({ plane: "task" })
    .input(ZCreateTaskInstanceInput)
    .mutation(({ ctx, input }) => createTaskInstance(ctx.db, input)),
  retry: adminProcedure
    .meta({ plane: "task" })
    .input(ZRetryTaskInstanceInput)
    .mutation(({ ctx, input }) => retryTaskInstance(ctx.db, input)),
  setState: adminProcedure
    .meta({ plane: "task", effect: "lifecycle" })
    .input(ZSetTaskInstanceStateInput)
    .mutation(({ ctx, input }) => setTaskInstanceState(ctx.db, ctx.config.clearOnSuccess, input)),
  clear: adminProcedure
    .meta({ plane: "task", effect: "lifecycle" })
    .input(ZClearTaskInstanceInput)
    .mutation(({ ctx, input }) => clearTaskInstance(ctx.db, input)),
});
