import type { TRPCRouterRecord } from "@trpc/server";
import {
  ZTaskStateClearInput,
  ZTaskStateDeleteInput,
  ZTaskStateGetInput,
  ZTaskStateListInput,
  ZTaskStateSetInput,
} from "../schemas.ts";
import {
  clearTaskState,
  deleteTaskState,
  getTaskState,
  listTaskState,
  setTaskState,
} from "../services/task-state.ts";
import { watchTaskState } from "../services/watch/start.ts";
import { taskInstanceProcedure } from "../trpc.ts";
import { ZTaskStateWatchInput } from "../watch-schemas.ts";

export const taskStateRouter = {
  get: taskInstanceProcedure
    .meta({ plane: "task" })
    .input(ZTaskStateGetInput)
    .query(({ ctx, input }) => getTaskState(ctx.db, input)),
  set: taskInstanceProcedure
    .meta({ plane: "task", effect: "set" })
    .input(ZTaskStateSetInput)
    .mutation(({ ctx, input }) => setTaskState(ctx.db, ctx.config, input)),
  delete: taskInstanceProcedure
    .meta({ plane: "task", effect: "delete" })
    .input(ZTaskStateDeleteInput)
    .mutation(({ ctx, input }) => deleteTaskState(ctx.db, input)),
  clear: taskInstanceProcedure
    .meta({ plane: "task", effect: "clear" })
    .input(ZTaskStateClearInput)
    .mutation(({ ctx, input }) => clearTaskState(ctx.db, input)),
  list: taskInstanceProcedure
    .meta({ plane: "task" })
    .input(ZTaskStateListInput)
    .query(({ ctx, input }) => listTaskState(ctx.db, input, ctx.config.maxPageBytes)),
  watch: taskInstanceProcedure
    .meta({ plane: "task" })
    .input(ZTaskStateWatchInput)
    .subscription(({ ctx, input, signal }) => watchTaskState(ctx, input, signal)),
} satisfies TRPCRouterRecord;
