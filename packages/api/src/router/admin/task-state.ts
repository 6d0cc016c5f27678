// Task state addressed by dag run, task and map index: for operators, no task instance token needed.
import {
  ZAdminTaskStateClearInput,
  ZAdminTaskStateDeleteInput,
  ZAdminTaskStateGetInput,
  ZAdminTaskStateListInput,
  ZAdminTaskStateSetInput,
} from "../../schemas.ts";
import {
  clearTaskState,
  deleteTaskState,
  getTaskState,
  listTaskStateWithTotal,
  setTaskState,
} from "../../services/task-state.ts";
import { adminProcedure, adminReadProcedure, router } from "../../trpc.ts";

export const adminTaskStateRouter = router({
  list: adminReadProcedure
    .meta({ plane: "task" })
    .input(ZAdminTaskStateListInput)
    .query(({ ctx, input }) => listTaskStateWithTotal(ctx.db, input, ctx.config.maxPageBytes)),
  get: adminReadProcedure
    .meta({ plane: "task" })
    .input(ZAdminTaskStateGetInput)
    .query(({ ctx, input }) => getTaskState(ctx.db, input)),
  set: adminProcedure
    .meta({ plane: "task", effect: "set" })
    .input(ZAdminTaskStateSetInput)
    .mutation(({ ctx, input }) => setTaskState(ctx.db, ctx.config, input)),
  delete: adminProcedure
    .meta({ plane: "task", effect: "delete" })
    .input(ZAdminTaskStateDeleteInput)
    .mutation(({ ctx, input }) => deleteTaskState(ctx.db, input)),
  clear: adminProcedure
    .meta({ plane: "task", effect: "clear" })
    .input(ZAdminTaskStateClearInput)
    .mutation(({ ctx, input }) => clearTaskState(ctx.db, input)),
});
