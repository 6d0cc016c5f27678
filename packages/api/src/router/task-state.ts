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
  get: taskInstanceProcedure.input(ZTaskStateGetInput).query(({ ctx, input }) => getTaskState(ctx.db, input)),
  set: taskInstanceProcedure
    .input(ZTaskStateSetInput)
    .mutation(({ ctx, input }) => setTaskState(ctx.db, ctx.config, input)),
  delete: taskInstanceProcedure
    .input(ZTaskStateDeleteInput)
    .mutation(({ ctx, input }) => deleteTaskState(ctx.db, input)),
  clear: taskInstanceProcedure
    .input(ZTaskStateClearInput)
    .mutation(({ ctx, input }) => clearTaskState(ctx.db, input)),
  list: taskInstanceProcedure
    .input(ZTaskStateListInput)
    .query(({ ctx, input }) => listTaskState(ctx.db, input, ctx.config.maxPageBytes)),
  watch: taskInstanceProcedure
    .input(ZTaskStateWatchInput)
    .subscription(({ ctx, input, signal }) => watchTaskState(ctx, input, signal)),
} satisfies TRPCRouterRecord;
