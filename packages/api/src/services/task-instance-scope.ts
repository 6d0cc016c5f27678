// Resolving a task instance id to its state namespace (dag run, task, map index), and why that can fail.
import type { SqlRunner } from "@cairn/db";
import { notFound } from "../errors.ts";

/**
 * SQL condition: task instance `t` is the newest try of its task (no superseding try exists). The one
 * spelling of the check: every statement that serves or refuses a try by this rule uses it.
 */
export const CURRENT_TRY = `NOT EXISTS (
    SELECT 1 FROM task_instance n
    WHERE n.dag_run_id = t.dag_run_id AND n.task_id = t.task_id AND n.map_index = t.map_index
      AND n.try_number > t.try_number)`;

/**
 * SQL for a CTE named `ti` holding the namespace of task instance $1, empty when the id is unknown or a
 * newer try exists. Folding this into each statement keeps the hot path to one statement and makes a
 * superseded try refused by every server replica at once (nothing cached).
 */
export const CURRENT_TRY_CTE = `ti AS (
  SELECT t.dag_run_id, t.task_id, t.map_index FROM task_instance t
  WHERE t.id = $1::uuid AND ${CURRENT_TRY})`;

/** Join condition of state rows `s` to the `ti` namespace. */
export const IN_NAMESPACE =
  "s.dag_run_id = ti.dag_run_id AND s.task_id = ti.task_id AND s.map_index = ti.map_index";

export interface TaskInstanceScope {
  dagRunId: string;
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
}

/** The cold path: explains an empty result (unknown or superseded id) or returns the namespace. */
export async function resolveTaskInstance(
  sql: SqlRunner,
  taskInstanceId: string,
): Promise<TaskInstanceScope> {
  const rows = await sql.query<{
    dag_run_id: string;
    dag_id: string;
    run_id: string;
    task_id: string;
    map_index: number;
    try_number: number;
    current: boolean;
  }>(
    `SELECT t.dag_run_id::text, r.dag_id, r.run_id, t.task_id, t.map_index, t.try_number, ${CURRENT_TRY} AS current
     FROM task_instance t JOIN dag_run r ON r.id = t.dag_run_id WHERE t.id = $1::uuid`,
    [taskInstanceId],
    "resolve_task_instance",
  );
  const row = rows[0];
  if (!row) throw notFound("task_instance_not_found", `task instance ${taskInstanceId} does not exist`);
  if (!row.current) {
    throw notFound(
      "task_instance_superseded",
      `task instance ${taskInstanceId} is try ${row.try_number}, and a newer try exists: use the newer try's token`,
    );
  }
  return {
    dagRunId: row.dag_run_id,
    dagId: row.dag_id,
    runId: row.run_id,
    taskId: row.task_id,
    mapIndex: row.map_index,
    tryNumber: row.try_number,
  };
}

/** Where task state lives: a task instance (execution plane) or an explicit address (admin plane). */
export type TaskNamespace =
  | { taskInstanceId: string }
  | { dagId: string; runId: string; taskId: string; mapIndex: number };

/**
 * CTE `ti` for an address given as one JSON parameter $1, so that both kinds of namespace bind the same
 * parameter positions and every statement exists once per kind. Empty when the dag run does not exist.
 */
const ADDRESS_CTE = `ti AS (
  SELECT r.id AS dag_run_id, $1::jsonb->>'taskId' AS task_id, ($1::jsonb->>'mapIndex')::int AS map_index
  FROM dag_run r WHERE r.dag_id = $1::jsonb->>'dagId' AND r.run_id = $1::jsonb->>'runId')`;

export type NamespaceKind = "instance" | "address";

export function namespaceKind(ns: TaskNamespace): NamespaceKind {
  return "taskInstanceId" in ns ? "instance" : "address";
}

/** Builds a statement once per kind of namespace; the statement's `ti` CTE takes parameter $1. */
export function perNamespace(build: (cte: string) => string): Record<NamespaceKind, string> {
  return { instance: build(CURRENT_TRY_CTE), address: build(ADDRESS_CTE) };
}

/** The value of parameter $1 for a namespace. */
export function namespaceParam(ns: TaskNamespace): string {
  return "taskInstanceId" in ns
    ? ns.taskInstanceId
    : JSON.stringify({ dagId: ns.dagId, runId: ns.runId, taskId: ns.taskId, mapIndex: ns.mapIndex });
}

export interface ResolvedNamespace {
  dagRunId: string;
  taskId: string;
  mapIndex: number;
}

/** The cold path for either kind: resolves the namespace or throws NOT_FOUND saying why. */
export async function resolveNamespace(sql: SqlRunner, ns: TaskNamespace): Promise<ResolvedNamespace> {
  if ("taskInstanceId" in ns) return resolveTaskInstance(sql, ns.taskInstanceId);
  return { dagRunId: await dagRunIdOf(sql, ns.dagId, ns.runId), taskId: ns.taskId, mapIndex: ns.mapIndex };
}

/** A dag run's id; NOT_FOUND dag_run_not_found when there is none. */
export async function dagRunIdOf(sql: SqlRunner, dagId: string, runId: string): Promise<string> {
  const rows = await sql.query<{ id: string }>(
    "SELECT id::text FROM dag_run WHERE dag_id = $1 AND run_id = $2",
    [dagId, runId],
    "resolve_dag_run",
  );
  if (!rows[0]) throw notFound("dag_run_not_found", `dag run ${dagId}/${runId} does not exist`);
  return rows[0].id;
}
