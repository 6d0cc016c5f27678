// Server configuration from the environment, validated once at start (bad config: a clear message, exit 1).
import { type ApiConfig, tokenKeys } from "@cairn/api";
import { z } from "zod";

const ZBoolean = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");
const ZWhole = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number({ error: "must be a whole number" }).int("must be a whole number").min(min).max(max);

const ZEnv = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: ZWhole(0, 65_535).default(4000),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL, or unset for the embedded database")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  CAIRN_DATA_DIR: z.string().min(1).default("./.cairn"),
  CAIRN_JWT_SECRET: z
    .string()
    .min(32, "must be at least 32 characters (e.g. openssl rand -base64 48)")
    .optional(),
  CAIRN_MIGRATE_ON_START: ZBoolean.default(true),
  CAIRN_MAX_VALUE_BYTES: ZWhole(0).default(65_535),
  CAIRN_MAX_BODY_BYTES: ZWhole(1024).optional(),
  CAIRN_DEFAULT_RETENTION_DAYS: ZWhole(0, 36_500).default(30),
  CAIRN_TOKEN_TTL_SECONDS: ZWhole(1, 30 * 24 * 3600).default(24 * 3600),
  CAIRN_DB_POOL_SIZE: ZWhole(1, 1000).default(10),
  CAIRN_CLEAR_ON_SUCCESS: ZBoolean.default(false),
  CAIRN_CLEANUP_INTERVAL_SECONDS: ZWhole(0, 7 * 86_400).default(300),
  CAIRN_CLEANUP_BATCH_SIZE: ZWhole(1, 100_000).default(1000),
  CAIRN_TOKEN_CACHE_SIZE: ZWhole(0, 10_000_000).default(100_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type ServerConfig = ReturnType<typeof parseConfig>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function parseConfig(env: Record<string, string | undefined> = process.env) {
  const parsed = ZEnv.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  if (c.DATABASE_URL && !c.CAIRN_JWT_SECRET) {
    throw new ConfigError(
      "invalid configuration:\n  CAIRN_JWT_SECRET: required with DATABASE_URL (PostgreSQL); only the embedded database generates one",
    );
  }
  return {
    host: c.HOST,
    port: c.PORT,
    databaseUrl: c.DATABASE_URL,
    dataDir: c.CAIRN_DATA_DIR,
    jwtSecret: c.CAIRN_JWT_SECRET,
    migrateOnStart: c.CAIRN_MIGRATE_ON_START,
    maxValueBytes: c.CAIRN_MAX_VALUE_BYTES,
    // Several times the value limit: escaped JSON grows (a value of U+0001 characters is 6x as JSON text).
    maxBodyBytes:
      c.CAIRN_MAX_BODY_BYTES ??
      (c.CAIRN_MAX_VALUE_BYTES === 0 ? 64 * 1024 * 1024 : Math.max(1024 * 1024, 8 * c.CAIRN_MAX_VALUE_BYTES)),
    defaultRetentionDays: c.CAIRN_DEFAULT_RETENTION_DAYS,
    tokenTtlSeconds: c.CAIRN_TOKEN_TTL_SECONDS,
    dbPoolSize: c.CAIRN_DB_POOL_SIZE,
    clearOnSuccess: c.CAIRN_CLEAR_ON_SUCCESS,
    /** 0 turns the automatic cleanup off (for example when one replica of many should run it). */
    cleanupIntervalSeconds: c.CAIRN_CLEANUP_INTERVAL_SECONDS,
    cleanupBatchSize: c.CAIRN_CLEANUP_BATCH_SIZE,
    tokenCacheSize: c.CAIRN_TOKEN_CACHE_SIZE,
    logLevel: c.LOG_LEVEL,
  };
}

/** The API's part of the configuration, with the JWT secret in use (configured or embedded). */
export function apiConfigFrom(config: ServerConfig, secret: string): ApiConfig {
  return {
    tokenKeys: tokenKeys(secret),
    maxValueBytes: config.maxValueBytes,
    defaultRetentionDays: config.defaultRetentionDays,
    defaultTokenTtlSeconds: config.tokenTtlSeconds,
    clearOnSuccess: config.clearOnSuccess,
    tokenCacheSize: config.tokenCacheSize,
  };
}
