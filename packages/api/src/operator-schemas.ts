// Inputs of the operator read API (spec §7): lists of dag runs, task instances and assets, and counts.
import { z } from "zod";
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, ZDagId, ZRunId } from "./schemas.ts";

const ZOperatorLimit = z
  .number()
  .int()
  .min(1)
  .max(MAX_LIST_LIMIT)
  .default(DEFAULT_LIST_LIMIT)
  .meta({ description: `Items per page, 1..${MAX_LIST_LIMIT}.` });
const ZOperatorCursor = z
  .string()
  .max(2000)
  .nullish()
  .meta({ description: "The previous page's nextCursor; omitted or null for the first page." });
/** A prefix or search text of Airflow ids and asset names: any characters but U+0000, bounded. */
const ZFilterText = (what: string, max: number) =>
  z
    .string()
    .max(max, `${what} must be at most ${max} characters`)
    .refine((text) => !text.includes("\u0000"), `${what} must not contain U+0000`);

export const ZDagRunListInput = z.strictObject({
  dagId: ZDagId.optional(),
  runIdPrefix: ZFilterText("runIdPrefix", 250).optional(),
  limit: ZOperatorLimit,
  cursor: ZOperatorCursor,
});

export const ZTaskInstanceListInput = z.strictObject({
  dagId: ZDagId,
  runId: ZRunId,
  taskIdPrefix: ZFilterText("taskIdPrefix", 250).optional(),
  limit: ZOperatorLimit,
  cursor: ZOperatorCursor,
});

export const ZAssetListInput = z.strictObject({
  search: ZFilterText("search", 1500)
    .optional()
    .meta({ description: "Part of the asset's name or uri (any case)." }),
  active: z.boolean().optional(),
  limit: ZOperatorLimit,
  cursor: ZOperatorCursor,
});

/** admin.stats, admin.session and admin.metrics.recent take nothing (or an empty object). */
export const ZNoInput = z.strictObject({}).optional();
