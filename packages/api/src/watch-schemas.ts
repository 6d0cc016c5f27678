// Inputs of the watch procedures (spec §6). `lastEventId` is filled in by tRPC from the Last-Event-ID
// header of a reconnecting EventSource.
import { z } from "zod";
import { ZAssetRef, ZDagId, ZKey, ZPrefix, ZRunId, ZTaskInstanceId } from "./schemas.ts";

const ZLastEventId = z.string().max(200).nullish().meta({
  description: "The id of the last event received; the stream resumes after it (or resets when it cannot).",
});

const exclusiveKeyAndPrefix = (input: { key?: string | undefined; prefix?: string | undefined }) =>
  input.key === undefined || input.prefix === undefined;
const EXCLUSIVE = { message: "key and prefix are exclusive: give one, or neither for every key" };

export const ZTaskStateWatchInput = z
  .strictObject({
    taskInstanceId: ZTaskInstanceId,
    key: ZKey.optional(),
    prefix: ZPrefix.optional(),
    lastEventId: ZLastEventId,
  })
  .refine(exclusiveKeyAndPrefix, EXCLUSIVE);

export const ZAssetStateWatchInput = z
  .strictObject({
    asset: ZAssetRef,
    key: ZKey.optional(),
    prefix: ZPrefix.optional(),
    lastEventId: ZLastEventId,
  })
  .refine(exclusiveKeyAndPrefix, EXCLUSIVE);

/**
 * admin.watch: one asset's state (`asset`), the task state of one dag run (`dagId` and `runId`), of every
 * run of a dag (`dagId`), or everything (neither): all task state, then all asset state.
 */
export const ZAdminWatchInput = z
  .strictObject({
    dagId: ZDagId.optional(),
    runId: ZRunId.optional(),
    asset: ZAssetRef.optional(),
    prefix: ZPrefix.optional(),
    lastEventId: ZLastEventId,
  })
  .refine((input) => input.asset === undefined || (input.dagId === undefined && input.runId === undefined), {
    message: "give asset, or dagId (and runId), not both",
  })
  .refine((input) => input.runId === undefined || input.dagId !== undefined, {
    message: "runId needs its dagId",
  });
