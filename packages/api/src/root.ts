import { adminRouter } from "./router/admin/index.ts";
import { assetStateRouter } from "./router/asset-state.ts";
import { taskStateRouter } from "./router/task-state.ts";
import { createCallerFactory, router } from "./trpc.ts";

export const appRouter = router({
  taskState: taskStateRouter,
  assetState: assetStateRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;

/** In-process calls without HTTP: tests and tools. `createCaller(createContextInner({ ... }))`. */
export const createCaller = createCallerFactory(appRouter);
