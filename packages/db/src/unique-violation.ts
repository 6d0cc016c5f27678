// A unique violation, named by the constraint that failed, whichever way it reached the caller: raw SQL
// (pg's and PGlite's errors: SQLSTATE 23505 and `constraint`) or Prisma (P2002, whose driver adapter
// reports the constraint in its own shape).
import { Prisma } from "./generated/prisma/client.ts";

/** The unique keys callers map to answers, by their names in prisma/migrations. */
export const UNIQUE_KEYS = {
  /** One row per try of a task instance: (dag run, task, map index, try number). */
  taskInstanceTry: "task_instance_dag_run_id_task_id_map_index_try_number_key",
  assetUri: "asset_uri_key",
} as const;

const UNIQUE_VIOLATION = "23505";
// PGlite's Prisma adapter keeps only the key's columns, not the constraint's name; PostgreSQL's message
// has it (PGlite always answers in English, and @prisma/adapter-pg passes the name itself).
const NAMED_IN_MESSAGE = /unique constraint "([^"]+)"/;

/** The constraint of a unique violation; undefined for any other error. */
export function uniqueViolation(error: unknown): { constraint: string } | undefined {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    return error.code === "P2002" ? prismaConstraint(error.meta) : undefined;
  }
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  return code === UNIQUE_VIOLATION && typeof constraint === "string" ? { constraint } : undefined;
}

interface AdapterCause {
  originalMessage?: unknown;
  constraint?: { index?: unknown };
}

function prismaConstraint(meta: Record<string, unknown> | undefined): { constraint: string } | undefined {
  const cause = (meta?.driverAdapterError as { cause?: AdapterCause } | undefined)?.cause;
  const index = cause?.constraint?.index;
  if (typeof index === "string") return { constraint: index };
  const named = typeof cause?.originalMessage === "string" && NAMED_IN_MESSAGE.exec(cause.originalMessage);
  return named ? { constraint: named[1]! } : undefined;
}
