// Input schemas of the wire contract (spec §2, §4). Objects are strict: an unknown field (a misspelled
// `ifversion`) is refused rather than silently ignored.
import { z } from "zod";
import { TASK_INSTANCE_STATES } from "./services/task-lifecycle.ts";

export const MAX_KEY_LENGTH = 512;
export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;
/** Versions are PostgreSQL integers; a larger ifVersion can never match. */
export const MAX_VERSION = 2 ** 31 - 1;
/** Asset names and uris are unique-indexed: a PostgreSQL B-tree entry must stay under ~2700 bytes. */
export const MAX_ASSET_NAME_BYTES = 2000;

const LONE_SURROGATE = /\p{Surrogate}/u;

/** Text PostgreSQL can store as sent: no U+0000 and no lone UTF-16 surrogate (neither has a UTF-8 form). */
export function isStorableText(text: string): boolean {
  return !text.includes("\u0000") && !LONE_SURROGATE.test(text);
}

export const ZTaskInstanceId = z
  .string({ error: "taskInstanceId is required (a UUID)" })
  // Both cases spelled out rather than the `i` flag: JSON Schema patterns have no flags (openapi/).
  .regex(
    /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
    "taskInstanceId must be a UUID",
  )
  .transform((id) => id.toLowerCase())
  .meta({ description: "A task instance id: a UUID, compared case-insensitively." });

export const ZKey = z
  .string({ error: "key must be a string" })
  .min(1, "key must not be empty")
  .max(MAX_KEY_LENGTH, `key must be at most ${MAX_KEY_LENGTH} characters`)
  .refine((key) => !key.includes("\u0000"), "key must not contain U+0000")
  .refine((key) => !LONE_SURROGATE.test(key), "key must not contain a lone UTF-16 surrogate")
  .meta({ description: "1 to 512 characters, `/` included; no U+0000 and no lone UTF-16 surrogate." });

/** Checked in depth by encodeValue (values.ts); here only "present". */
export const ZValue = z.unknown().meta({
  description:
    "Any JSON value but a top-level null (nested nulls are fine): no non-finite number, no U+0000 or lone surrogate in a string or object key, at most 64 levels deep, at most CAIRN_MAX_VALUE_BYTES (default 65535) as UTF-8 JSON.",
});

export const ZExpiresAt = z.iso
  .datetime({
    offset: true,
    error: "expiresAt must be an ISO-8601 date-time (e.g. 2026-05-15T12:00:00Z) or null",
  })
  .transform((text) => new Date(text))
  // PostgreSQL timestamps (and ISO-8601 without a sign) cover years 1 to 9999 in UTC.
  .refine((date) => {
    const year = date.getUTCFullYear();
    return year >= 1 && year <= 9999;
  }, "expiresAt must fall between the years 0001 and 9999 in UTC")
  .nullable()
  .optional()
  .meta({
    description:
      "When the key expires (ISO-8601 with Z or an offset); null = never. Omitted: task state gets the server's default retention (CAIRN_DEFAULT_RETENTION_DAYS), asset state never expires. Each write sets it anew.",
  });

export const ZIfVersion = z
  .number({ error: "ifVersion must be a whole number" })
  .int("ifVersion must be a whole number")
  .min(0, "ifVersion must be 0 (create only) or a current version")
  .max(MAX_VERSION, `ifVersion must be at most ${MAX_VERSION}`)
  .meta({
    description:
      "Compare-and-set: 0 = only if the key does not exist; n = only if its version is n; otherwise CONFLICT version_mismatch. Omitted: unconditional.",
  });

export const ZPrefix = z
  .string()
  .max(MAX_KEY_LENGTH)
  .refine(isStorableText, "prefix must not contain U+0000 or a lone UTF-16 surrogate")
  .optional()
  .meta({ description: "Only keys that start with this." });
export const ZLimit = z.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT).meta({
  description:
    "Items per page at most; a page also stops once its values pass CAIRN_MAX_PAGE_BYTES (one item always fits).",
});
// A cursor is the base64url of a key's UTF-8 bytes: up to 4 bytes for each of MAX_KEY_LENGTH characters
// (zod counts string lengths in code points).
export const ZCursor = z
  .string()
  .max(Math.ceil((4 * MAX_KEY_LENGTH * 4) / 3))
  .nullish()
  .meta({ description: "The previous page's nextCursor; omitted or null for the first page." });

// Airflow's id rules: dag_id and task_id are letters, digits, `_`, `-`, `.`; at most 250 characters.
const ZAirflowId = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(250, `${what} must be at most 250 characters`)
    .regex(/^[A-Za-z0-9_.-]+$/, `${what} may contain only letters, digits, "_", "-" and "."`);

export const ZDagId = ZAirflowId("dagId");
export const ZTaskId = ZAirflowId("taskId");
export const ZRunId = z
  .string()
  .min(1, "runId must not be empty")
  .max(250, "runId must be at most 250 characters")
  .refine(isStorableText, "runId must not contain U+0000 or a lone UTF-16 surrogate");
export const ZMapIndex = z
  .number()
  .int()
  .min(-1, "mapIndex is -1 (not mapped) or a map index >= 0")
  .max(2 ** 31 - 1)
  .meta({ description: "-1 for a task that is not mapped, else the map index." });

const ZAssetName = z
  .string()
  .min(1)
  .max(1500)
  .refine(isStorableText, "must not contain U+0000 or a lone UTF-16 surrogate")
  .refine(
    (s) => Buffer.byteLength(s, "utf8") <= MAX_ASSET_NAME_BYTES,
    `must be at most ${MAX_ASSET_NAME_BYTES} bytes as UTF-8`,
  );

/** `{ name }` or `{ uri }`, exactly one. */
export const ZAssetRef = z
  .union([z.strictObject({ name: ZAssetName }), z.strictObject({ uri: ZAssetName })], {
    error: "asset must be { name } or { uri } (exactly one)",
  })
  .meta({ id: "AssetRef", description: "An asset, by its name or by its uri (exactly one of them)." });
export type AssetRef = z.infer<typeof ZAssetRef>;

// Execution plane: task state
export const ZTaskStateGetInput = z.strictObject({ taskInstanceId: ZTaskInstanceId, key: ZKey });
export const ZTaskStateSetInput = z.strictObject({
  taskInstanceId: ZTaskInstanceId,
  key: ZKey,
  value: ZValue,
  expiresAt: ZExpiresAt,
  ifVersion: ZIfVersion.optional(),
});
export const ZTaskStateDeleteInput = z.strictObject({
  taskInstanceId: ZTaskInstanceId,
  key: ZKey,
  ifVersion: ZIfVersion.optional(),
});
export const ZTaskStateClearInput = z.strictObject({
  taskInstanceId: ZTaskInstanceId,
  allMapIndices: z.boolean().optional(),
});
export const ZTaskStateListInput = z.strictObject({
  taskInstanceId: ZTaskInstanceId,
  prefix: ZPrefix,
  limit: ZLimit,
  cursor: ZCursor,
});

// Execution plane: asset state
export const ZAssetStateGetInput = z.strictObject({ asset: ZAssetRef, key: ZKey });
export const ZAssetStateSetInput = z.strictObject({
  asset: ZAssetRef,
  key: ZKey,
  value: ZValue,
  expiresAt: ZExpiresAt,
  ifVersion: ZIfVersion.optional(),
});
export const ZAssetStateDeleteInput = z.strictObject({
  asset: ZAssetRef,
  key: ZKey,
  ifVersion: ZIfVersion.optional(),
});
export const ZAssetStateClearInput = z.strictObject({ asset: ZAssetRef });
export const ZAssetStateListInput = z.strictObject({
  asset: ZAssetRef,
  prefix: ZPrefix,
  limit: ZLimit,
  cursor: ZCursor,
});

// Admin plane
export const ZCreateTaskInstanceInput = z.strictObject({
  dagId: ZDagId,
  runId: ZRunId,
  taskId: ZTaskId,
  mapIndex: ZMapIndex.default(-1),
  inlets: z.array(ZAssetRef).max(1000).default([]),
  outlets: z.array(ZAssetRef).max(1000).default([]),
});
export const ZRetryTaskInstanceInput = z.strictObject({ taskInstanceId: ZTaskInstanceId });
export const ZDagRunRef = z.strictObject({ dagId: ZDagId, runId: ZRunId });
export const ZUpsertAssetInput = z.strictObject({
  name: ZAssetName,
  uri: ZAssetName,
  group: z
    .string()
    .max(1500)
    .refine(isStorableText, "group must not contain U+0000 or a lone UTF-16 surrogate")
    .optional(),
});
export const ZAssetByName = z.strictObject({ name: ZAssetName });
export const ZSetAssetActiveInput = z.strictObject({ name: ZAssetName, active: z.boolean() });
export const ZIssueTokenInput = z.strictObject({
  taskInstanceId: ZTaskInstanceId,
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 24 * 60 * 60)
    .optional(),
});

// Admin plane: lifecycle
export const ZSetTaskInstanceStateInput = z.strictObject({
  taskInstanceId: ZTaskInstanceId,
  state: z.enum(TASK_INSTANCE_STATES, { error: `state must be one of ${TASK_INSTANCE_STATES.join(", ")}` }),
});
export const ZClearTaskInstanceInput = z.strictObject({
  taskInstanceId: ZTaskInstanceId,
  keepTaskState: z.boolean().optional(),
});

// Admin plane: task state by address (no task instance needed)
const taskAddress = { dagId: ZDagId, runId: ZRunId, taskId: ZTaskId, mapIndex: ZMapIndex.default(-1) };
export const ZAdminTaskStateGetInput = z.strictObject({ ...taskAddress, key: ZKey });
export const ZAdminTaskStateSetInput = z.strictObject({
  ...taskAddress,
  key: ZKey,
  value: ZValue,
  expiresAt: ZExpiresAt,
  ifVersion: ZIfVersion.optional(),
});
export const ZAdminTaskStateDeleteInput = z.strictObject({
  ...taskAddress,
  key: ZKey,
  ifVersion: ZIfVersion.optional(),
});
export const ZAdminTaskStateClearInput = z.strictObject({
  ...taskAddress,
  allMapIndices: z.boolean().optional(),
});
export const ZAdminTaskStateListInput = z.strictObject({
  ...taskAddress,
  prefix: ZPrefix,
  limit: ZLimit,
  cursor: ZCursor,
});

// Admin plane: cleanup
export const ZCleanupRunInput = z.strictObject({
  batchSize: z.number().int().min(1).max(100_000).default(1000),
  maxBatches: z.number().int().min(1).optional(),
});
export const ZCleanupPreviewInput = z.strictObject({
  limit: z.number().int().min(0).max(10_000).default(50),
});
