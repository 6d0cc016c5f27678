// Server configuration from the environment, validated once at start. A bad value stops the server with a
// line per variable: its name, the value given (secrets are never echoed) and what is allowed.
import { type ApiConfig, tokenKeys } from "@cairn/api";
import { z } from "zod";

const BOOLEANS = ["true", "false", "1", "0", "yes", "no"] as const;
const ZBoolean = z
  .enum(BOOLEANS, { error: "must be true or false (or 1/0, yes/no)" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

function ZWhole(min: number, max = Number.MAX_SAFE_INTEGER) {
  const range =
    max === Number.MAX_SAFE_INTEGER
      ? `a whole number, ${min} or more`
      : `a whole number from ${min} to ${max}`;
  const message = `must be ${range}`;
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, message)
    .transform(Number)
    .pipe(z.number().int().min(min, message).max(max, message));
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const LOG_FORMATS = ["auto", "json", "pretty"] as const;
const oneOf = (values: readonly string[]) => ({ error: `must be one of ${values.join(", ")}` });

const ZEnv = z.object({
  HOST: z
    .string()
    .min(1, "must not be empty (e.g. 127.0.0.1, or 0.0.0.0 for every interface)")
    .default("127.0.0.1"),
  PORT: ZWhole(0, 65_535).default(4000),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL, or unset for the embedded database")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  CAIRN_MIGRATE_DATABASE_URL: z
    .string()
    .regex(
      /^postgres(ql)?:\/\//,
      "must be a postgresql:// URL (the database itself, not a transaction pooler)",
    )
    .optional()
    .or(z.literal("").transform(() => undefined)),
  CAIRN_DB_TRANSACTION_POOLING: ZBoolean.default(false),
  CAIRN_DATA_DIR: z.string().min(1, "must not be empty (default ./.cairn)").default("./.cairn"),
  CAIRN_JWT_SECRET: z
    .string()
    .min(32, "must be at least 32 characters (e.g. openssl rand -base64 48)")
    .optional(),
  CAIRN_MIGRATE_ON_START: ZBoolean.default(true),
  CAIRN_MAX_VALUE_BYTES: ZWhole(0).default(65_535),
  CAIRN_MAX_BODY_BYTES: ZWhole(1024).optional(),
  CAIRN_MAX_PAGE_BYTES: ZWhole(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  CAIRN_DEFAULT_RETENTION_DAYS: ZWhole(0, 36_500).default(30),
  CAIRN_TOKEN_TTL_SECONDS: ZWhole(1, 30 * 24 * 3600).default(24 * 3600),
  CAIRN_DB_POOL_SIZE: ZWhole(1, 1000).default(10),
  CAIRN_DB_STARTUP_TIMEOUT_SECONDS: ZWhole(0, 3600).default(60),
  CAIRN_CLEAR_ON_SUCCESS: ZBoolean.default(false),
  CAIRN_CLEANUP_INTERVAL_SECONDS: ZWhole(0, 7 * 86_400).default(300),
  CAIRN_CLEANUP_BATCH_SIZE: ZWhole(1, 100_000).default(1000),
  CAIRN_TOKEN_CACHE_SIZE: ZWhole(0, 10_000_000).default(100_000),
  CAIRN_SHUTDOWN_TIMEOUT_SECONDS: ZWhole(1, 3600).default(10),
  CAIRN_REQUEST_TIMEOUT_SECONDS: ZWhole(1, 3600).default(30),
  CAIRN_HEADERS_TIMEOUT_SECONDS: ZWhole(1, 3600).default(10),
  CAIRN_MAX_CONNECTIONS: ZWhole(0, 1_000_000).default(1000),
  CAIRN_SHUTDOWN_DELAY_SECONDS: ZWhole(0, 600).default(0),
  CAIRN_TRPC_FAST_PATH: ZBoolean.default(true),
  LOG_LEVEL: z.enum(LOG_LEVELS, oneOf(LOG_LEVELS)).default("info"),
  LOG_FORMAT: z.enum(LOG_FORMATS, oneOf(LOG_FORMATS)).default("auto"),
});

/** Variables whose value must never appear in an error message or a log. */
const SECRET = new Set(["CAIRN_JWT_SECRET", "DATABASE_URL", "CAIRN_MIGRATE_DATABASE_URL"]);

export type ServerConfig = ReturnType<typeof parseConfig>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** `PORT="70000"`, or for a secret only its length. */
function given(name: string, value: string | undefined): string {
  if (value === undefined) return name;
  if (SECRET.has(name)) return `${name} (${value.length} characters, not shown)`;
  return `${name}=${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}`;
}

export function parseConfig(env: Record<string, string | undefined> = process.env) {
  const parsed = ZEnv.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `  ${given(name, env[name])}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  if (c.DATABASE_URL && !c.CAIRN_JWT_SECRET) {
    throw new ConfigError(
      "invalid configuration:\n  CAIRN_JWT_SECRET: required with DATABASE_URL (PostgreSQL); only the embedded database generates one (e.g. openssl rand -base64 48)",
    );
  }
  if (
    c.DATABASE_URL &&
    c.CAIRN_DB_TRANSACTION_POOLING &&
    c.CAIRN_MIGRATE_ON_START &&
    !c.CAIRN_MIGRATE_DATABASE_URL
  ) {
    throw new ConfigError(
      "invalid configuration:\n  CAIRN_MIGRATE_DATABASE_URL: required with CAIRN_DB_TRANSACTION_POOLING=true and CAIRN_MIGRATE_ON_START=true: migrations hold session locks a transaction pooler cannot keep; give PostgreSQL's own URL, or set CAIRN_MIGRATE_ON_START=false and run `cairn migrate` as a deploy step",
    );
  }
  return {
    host: c.HOST,
    port: c.PORT,
    databaseUrl: c.DATABASE_URL,
    /** Where migrations run: PostgreSQL itself, when DATABASE_URL goes through a transaction pooler. */
    migrateDatabaseUrl: c.CAIRN_MIGRATE_DATABASE_URL ?? c.DATABASE_URL,
    transactionPooling: c.CAIRN_DB_TRANSACTION_POOLING,
    dataDir: c.CAIRN_DATA_DIR,
    jwtSecret: c.CAIRN_JWT_SECRET,
    migrateOnStart: c.CAIRN_MIGRATE_ON_START,
    maxValueBytes: c.CAIRN_MAX_VALUE_BYTES,
    maxPageBytes: c.CAIRN_MAX_PAGE_BYTES,
    // Several times the value limit: escaped JSON grows (a value of U+0001 characters is 6x as JSON text).
    maxBodyBytes:
      c.CAIRN_MAX_BODY_BYTES ??
      (c.CAIRN_MAX_VALUE_BYTES === 0 ? 64 * 1024 * 1024 : Math.max(1024 * 1024, 8 * c.CAIRN_MAX_VALUE_BYTES)),
    defaultRetentionDays: c.CAIRN_DEFAULT_RETENTION_DAYS,
    tokenTtlSeconds: c.CAIRN_TOKEN_TTL_SECONDS,
    dbPoolSize: c.CAIRN_DB_POOL_SIZE,
    /** How long to wait at start for a PostgreSQL that does not answer yet; 0 = fail at once. */
    dbStartupTimeoutSeconds: c.CAIRN_DB_STARTUP_TIMEOUT_SECONDS,
    clearOnSuccess: c.CAIRN_CLEAR_ON_SUCCESS,
    /** 0 turns the automatic cleanup off (for example when one replica of many should run it). */
    cleanupIntervalSeconds: c.CAIRN_CLEANUP_INTERVAL_SECONDS,
    cleanupBatchSize: c.CAIRN_CLEANUP_BATCH_SIZE,
    tokenCacheSize: c.CAIRN_TOKEN_CACHE_SIZE,
    /** After SIGTERM/SIGINT: how long in-flight requests may take before they are cut (exit code 1). */
    shutdownTimeoutSeconds: c.CAIRN_SHUTDOWN_TIMEOUT_SECONDS,
    /** After SIGTERM/SIGINT: how long to keep accepting (readiness 503) before the listener closes. */
    shutdownDelaySeconds: c.CAIRN_SHUTDOWN_DELAY_SECONDS,
    limits: {
      requestTimeoutMs: c.CAIRN_REQUEST_TIMEOUT_SECONDS * 1000,
      headersTimeoutMs: c.CAIRN_HEADERS_TIMEOUT_SECONDS * 1000,
      maxConnections: c.CAIRN_MAX_CONNECTIONS,
    },
    /** false: every /trpc request through tRPC's own adapter (to compare, or to rule the fast path out). */
    trpcFastPath: c.CAIRN_TRPC_FAST_PATH,
    logLevel: c.LOG_LEVEL,
    logFormat: c.LOG_FORMAT,
  };
}

/** The API's part of the configuration, with the JWT secret in use (configured or embedded). */
export function apiConfigFrom(config: ServerConfig, secret: string): ApiConfig {
  return {
    tokenKeys: tokenKeys(secret),
    maxValueBytes: config.maxValueBytes,
    maxPageBytes: config.maxPageBytes,
    defaultRetentionDays: config.defaultRetentionDays,
    defaultTokenTtlSeconds: config.tokenTtlSeconds,
    clearOnSuccess: config.clearOnSuccess,
    tokenCacheSize: config.tokenCacheSize,
  };
}
