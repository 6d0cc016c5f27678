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
 * admin.watch: one asset's state, or the task state of one dag run. (The contract's wider scopes, a whole
 * dag or everything, are not served yet.)
 */
export const ZAdminWatchInput = z
  .strictObject({
    dagId: ZDagId.optional(),
    runId: ZRunId.optional(),
    asset: ZAssetRef.optional(),
    prefix: ZPrefix.optional(),
    lastEventId: ZLastEventId,
  })
  .refine(
    (input) => (input.asset === undefined) !== (input.dagId === undefined && input.runId === undefined),
    {
      message: "give asset, or dagId and runId (one scope)",
    },
  )
  .refine((input) => (input.dagId === undefined) === (input.runId === undefined), {
    message: "dagId and runId go together (watching a whole dag or everything is not served yet)",
  });
