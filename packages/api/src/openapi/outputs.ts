// What each procedure returns, as zod schemas for the OpenAPI document. The procedures declare no
// `.output()` (validating every answer would cost each call CPU for nothing); instead these must equal
// the types the router infers from its services, or the package does not compile (`Mismatched` below).
import { z } from "zod";
import type { ProcedureOutput, ProcedurePath } from "../procedure-paths.ts";
import { TASK_INSTANCE_STATES } from "../services/task-lifecycle.ts";

const ZCount = z.number().int().min(0);
const ZUtc = z.iso.datetime();

const ZStateEntry = z
  .strictObject({
    key: z.string(),
    value: z.unknown().meta({ description: "The stored JSON value (never a top-level null)." }),
    version: z.number().int().min(1).meta({ description: "1 when the key was created, +1 on every write." }),
    updatedAt: ZUtc,
    expiresAt: ZUtc.nullable().meta({ description: "When the key expires; null = never." }),
  })
  .meta({
    id: "StateEntry",
    description: "A key's entry (the contract's TaskStateEntry; asset state entries have the same shape).",
  });

const page = <T extends z.ZodType>(item: T) => ({
  items: z.array(item),
  nextCursor: z
    .string()
    .nullable()
    .meta({ description: "Pass it as `cursor` for the next page; null on the last page." }),
});

const ZStatePage = z.strictObject(page(ZStateEntry)).meta({ id: "StatePage" });
const ZWritten = z.strictObject({ version: z.number().int().min(1) }).meta({ id: "Written" });
const ZDeleted = z
  .strictObject({ deleted: z.boolean().meta({ description: "false when there was nothing to delete." }) })
  .meta({ id: "Deleted" });
const ZCleared = z
  .strictObject({ deleted: ZCount.meta({ description: "How many live keys were deleted." }) })
  .meta({ id: "Cleared" });
const ZTaskInstance = z
  .strictObject({ id: z.uuid(), tryNumber: z.number().int().min(1) })
  .meta({ id: "TaskInstance" });
const ZTotal = ZCount.meta({ description: "Live keys matching the prefix, on every page." });

const ZWriter = z
  .strictObject({
    kind: z.enum(["task", "admin"]),
    dagId: z.string().nullable(),
    runId: z.string().nullable(),
    taskId: z.string().nullable(),
    mapIndex: z.number().int().nullable(),
  })
  .meta({ id: "Writer", description: "Who wrote the entry last: a task (its address) or an admin token." });

const ZPlaneCounts = z.strictObject({ task: ZCount, asset: ZCount });

const ZWhere = z
  .union([
    z.strictObject({ dagId: z.string(), runId: z.string(), taskId: z.string(), mapIndex: z.number().int() }),
    z.strictObject({ asset: z.strictObject({ name: z.string(), uri: z.string() }) }),
  ])
  .meta({ id: "WatchWhere", description: "Where the change happened (admin.watch only)." });

/** One event of a watch stream (the `data:` of an SSE message). */
const ZWatchEvent = z
  .discriminatedUnion("op", [
    z.strictObject({
      op: z.literal("set"),
      key: z.string(),
      entry: ZStateEntry,
      writer: ZWriter.optional(),
      where: ZWhere.optional(),
    }),
    z.strictObject({
      op: z.literal("delete"),
      key: z.string(),
      where: ZWhere.optional(),
      cause: z.enum(["delete", "clear", "expired"]).meta({
        description: "delete: deleted; clear: its scope was cleared; expired: it had expired (cleanup).",
      }),
    }),
    z.strictObject({
      op: z.literal("synced").meta({ description: "The snapshot (or the catch-up) is complete." }),
    }),
    z.strictObject({
      op: z
        .literal("reset")
        .meta({ description: "The stream cannot resume: drop what you hold, a snapshot follows." }),
    }),
  ])
  .meta({
    id: "WatchEvent",
    description: "A watch stream's event; asset state `set` events carry the writer.",
  });

/** A page of an operator list (spec §7): the items, the next page's cursor, and how many there are. */
const operatorPage = <T extends z.ZodType>(item: T, total: string) =>
  z.strictObject({ ...page(item), total: ZCount.meta({ description: total }) });
const ZTaskRef = z.strictObject({ dagId: z.string(), taskId: z.string() }).meta({ id: "TaskRef" });

/** Every procedure's output. A procedure missing here, or one that returns another type, fails typecheck. */
export const PROCEDURE_OUTPUTS = {
  "taskState.get": ZStateEntry,
  "taskState.set": ZWritten,
  "taskState.delete": ZDeleted,
  "taskState.clear": ZCleared,
  "taskState.list": ZStatePage,
  "taskState.watch": ZWatchEvent,
  "assetState.get": ZStateEntry,
  "assetState.set": ZWritten,
  "assetState.delete": ZDeleted,
  "assetState.clear": ZCleared,
  "assetState.list": ZStatePage,
  "assetState.watch": ZWatchEvent,
  "admin.taskInstances.list": operatorPage(
    z
      .strictObject({
        id: z.string(),
        taskId: z.string(),
        mapIndex: z.number().int(),
        tryNumber: z.number().int().min(1),
        state: z
          .string()
          .nullable()
          .meta({ description: "Airflow's state of the try, null when none was set." }),
        keys: ZCount.meta({ description: "Live keys of the task's state." }),
        updatedAt: ZUtc,
      })
      .meta({ id: "TaskInstanceItem", description: "The current try of a task (and map index)." }),
    "Task instances of the run matching the filter, on every page.",
  ),
  "admin.taskInstances.create": ZTaskInstance,
  "admin.taskInstances.retry": ZTaskInstance,
  "admin.taskInstances.setState": z.strictObject({
    state: z.enum(TASK_INSTANCE_STATES),
    deletedKeys: ZCount.meta({ description: "Keys deleted by CAIRN_CLEAR_ON_SUCCESS." }),
  }),
  "admin.taskInstances.clear": z.strictObject({ deletedKeys: ZCount }),
  "admin.taskState.list": z.strictObject({ ...page(ZStateEntry), total: ZTotal }),
  "admin.taskState.get": ZStateEntry,
  "admin.taskState.set": ZWritten,
  "admin.taskState.delete": ZDeleted,
  "admin.taskState.clear": ZCleared,
  "admin.assetState.list": z.strictObject({
    ...page(ZStateEntry.extend({ writer: ZWriter }).meta({ id: "StateEntryWithWriter" })),
    total: ZTotal,
  }),
  "admin.assetState.get": ZStateEntry,
  "admin.assetState.set": ZWritten,
  "admin.assetState.delete": ZDeleted,
  "admin.assetState.clear": ZCleared,
  "admin.dagRuns.list": operatorPage(
    z
      .strictObject({
        dagId: z.string(),
        runId: z.string(),
        createdAt: ZUtc,
        taskInstances: ZCount.meta({ description: "Task instances (one per task and map index)." }),
        keys: ZCount.meta({ description: "Live keys of its task state." }),
      })
      .meta({ id: "DagRunItem" }),
    "Dag runs matching the filter, on every page.",
  ),
  "admin.dagRuns.delete": ZDeleted,
  "admin.assets.list": operatorPage(
    z
      .strictObject({
        name: z.string(),
        uri: z.string(),
        group: z.string(),
        active: z.boolean(),
        keys: ZCount.meta({ description: "Live keys of its state." }),
        inlets: z.array(ZTaskRef).meta({ description: "Tasks that declare it as an inlet." }),
        outlets: z.array(ZTaskRef).meta({ description: "Tasks that declare it as an outlet." }),
      })
      .meta({ id: "AssetItem" }),
    "Assets matching the filter, on every page.",
  ),
  "admin.assets.upsert": z.strictObject({ id: z.string() }),
  "admin.assets.setActive": z.strictObject({ active: z.boolean() }),
  "admin.assets.delete": ZDeleted,
  "admin.tokens.issue": z.strictObject({
    token: z.string().meta({ description: "An execution token (JWT) for the task instance." }),
    expiresAt: ZUtc,
  }),
  "admin.cleanup.run": z.strictObject({
    ...ZPlaneCounts.shape,
    done: z.boolean().meta({ description: "false when maxBatches stopped it before the end." }),
  }),
  "admin.stats": z
    .strictObject({
      dagRuns: ZCount,
      taskInstances: ZCount.meta({
        description: "Task instances (the current try of each task and map index).",
      }),
      taskKeys: ZCount.meta({ description: "Live (unexpired) task state keys." }),
      assets: ZCount,
      assetKeys: ZCount.meta({ description: "Live (unexpired) asset state keys." }),
      expiringWithin24h: ZCount.meta({
        description: "Live keys of either plane that expire within 24 hours.",
      }),
      expiredAwaitingCleanup: ZCount.meta({ description: "Expired keys the cleanup has not deleted yet." }),
    })
    .meta({ id: "Stats" }),
  "admin.session": z
    .strictObject({
      sub: z.string().meta({ description: "The token's subject: who is calling." }),
      scope: z.enum(["execution", "admin", "viewer"]),
      expiresAt: ZUtc.nullable().meta({ description: "When the token expires; null if it never does." }),
      maxValueBytes: ZCount.meta({
        description: "CAIRN_MAX_VALUE_BYTES: largest value as UTF-8 JSON (0 = none).",
      }),
    })
    .meta({ id: "Session" }),
  "admin.metrics.recent": z
    .strictObject({
      intervalSeconds: z.number().int().meta({ description: "Length of each interval (10)." }),
      from: ZUtc.meta({ description: "Start of the oldest interval; the last one is still filling." }),
      procedures: z.array(
        z.strictObject({
          path: z.string(),
          calls: z.array(ZCount).meta({ description: "Calls per interval, oldest first." }),
          errors: z.array(ZCount).meta({ description: "Calls that ended in an error, per interval." }),
          p99Ms: z.array(z.number().nullable()).meta({
            description: "99th percentile latency inside the server (ms, within 19 %); null without calls.",
          }),
        }),
      ),
    })
    .meta({ id: "RecentCalls" }),
  "admin.watch": ZWatchEvent,
  "admin.cleanup.preview": z.strictObject({
    total: ZPlaneCounts,
    items: z.array(
      z.strictObject({
        plane: z.enum(["task", "asset"]),
        owner: z.string().meta({ description: "dagId/runId/taskId[mapIndex], or the asset's name." }),
        key: z.string(),
        expiresAt: ZUtc,
      }),
    ),
  }),
} satisfies Record<ProcedurePath, z.ZodType>;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The procedures whose schema above does not describe exactly what they return. */
type Mismatched = {
  [P in ProcedurePath]: Same<z.output<(typeof PROCEDURE_OUTPUTS)[P]>, ProcedureOutput<P>> extends true
    ? never
    : P;
}[ProcedurePath];
const outputsMatch: [Mismatched] extends [never] ? true : { mismatched: Mismatched } = true;
void outputsMatch;
