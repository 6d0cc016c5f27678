// Admin plane: registering task instances (a try of a task of a run) and their retries.
import { type Database, UNIQUE_KEYS, uniqueViolation } from "@cairn/db";
import { v7 as uuidv7 } from "uuid";
import { notFound } from "../errors.ts";
import type { AssetRef } from "../schemas.ts";

export interface CreateTaskInstanceInput {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  inlets: AssetRef[];
  outlets: AssetRef[];
}

/**
 * Creates the dag run if absent, the first try of the task instance, and its asset registrations. No
 * lookup first: a task instance that exists already (retried or not, its first try stays) or is being
 * created concurrently fails the unique key of tries, which error-mapping.ts answers with CONFLICT
 * task_instance_exists; the transaction rolls back, registrations included.
 */
export async function createTaskInstance(
  db: Database,
  input: CreateTaskInstanceInput,
): Promise<{ id: string; tryNumber: number }> {
  const id = uuidv7();
  return db.prisma.$transaction(async (tx) => {
    const [run] = await tx.$queryRaw<{ id: bigint }[]>`
      INSERT INTO dag_run (dag_id, run_id) VALUES (${input.dagId}, ${input.runId})
      ON CONFLICT (dag_id, run_id) DO UPDATE SET dag_id = EXCLUDED.dag_id
      RETURNING id`;
    if (!run) throw new Error("dag_run upsert returned no row");
    const registrations = [
      ...input.inlets.map((ref) => ({ ref, direction: "inlet" })),
      ...input.outlets.map((ref) => ({ ref, direction: "outlet" })),
    ];
    const assetIds = await Promise.all(
      registrations.map(async ({ ref }) => {
        const asset = await tx.asset.findUnique({
          where: "name" in ref ? { name: ref.name } : { uri: ref.uri },
        });
        if (!asset) throw notFound("asset_not_found", `asset ${describeRef(ref)} does not exist`);
        return asset.id;
      }),
    );
    await tx.taskInstance.create({
      data: { id, dagRunId: run.id, taskId: input.taskId, mapIndex: input.mapIndex, tryNumber: 1 },
    });
    await tx.taskAsset.createMany({
      data: registrations.map(({ direction }, i) => ({
        dagId: input.dagId,
        taskId: input.taskId,
        assetId: assetIds[i]!,
        direction,
      })),
      skipDuplicates: true,
    });
    return { id, tryNumber: 1 };
  });
}

export function describeRef(ref: AssetRef): string {
  return "name" in ref ? `named "${ref.name}"` : `with uri "${ref.uri}"`;
}

const RETRY_SQL = `INSERT INTO task_instance (id, dag_run_id, task_id, map_index, try_number)
SELECT $2::uuid, t.dag_run_id, t.task_id, t.map_index,
  (SELECT max(n.try_number) + 1 FROM task_instance n
   WHERE n.dag_run_id = t.dag_run_id AND n.task_id = t.task_id AND n.map_index = t.map_index)
FROM task_instance t WHERE t.id = $1::uuid
RETURNING try_number`;

/** Each lost race means another retry of the same task instance committed, so the loop makes progress. */
const MAX_RETRY_ATTEMPTS = 100;

/** A new try with a new id, in the same state namespace. Concurrent retries each get their own try. */
export async function retryTaskInstance(
  db: Database,
  input: { taskInstanceId: string },
): Promise<{ id: string; tryNumber: number }> {
  for (let attempt = 1; ; attempt++) {
    const id = uuidv7();
    try {
      const rows = await db.sql.query<{ try_number: number }>(
        RETRY_SQL,
        [input.taskInstanceId, id],
        "task_instance_retry",
      );
      const row = rows[0];
      if (!row)
        throw notFound("task_instance_not_found", `task instance ${input.taskInstanceId} does not exist`);
      return { id, tryNumber: row.try_number };
    } catch (error) {
      const lostRace = uniqueViolation(error)?.constraint === UNIQUE_KEYS.taskInstanceTry;
      if (!lostRace) throw error;
      // Wrapped: unwrapped, error-mapping.ts would answer task_instance_exists, which tells a retry's
      // caller something false. A hundred lost races is a bug or a storm: a 500.
      if (attempt >= MAX_RETRY_ATTEMPTS)
        throw new Error(`retry lost ${attempt} races for the next try number`, { cause: error });
    }
  }
}
