// Admin plane: dag runs. Deleting one takes its task instances and task state with it (ON DELETE CASCADE).
// One statement (retried by the SqlRunner when it loses a deadlock to writers of that run's state).
import type { Database } from "@cairn/db";

export async function deleteDagRun(
  db: Database,
  input: { dagId: string; runId: string },
): Promise<{ deleted: boolean }> {
  const rows = await db.sql.query(
    "DELETE FROM dag_run WHERE dag_id = $1 AND run_id = $2 RETURNING 1",
    [input.dagId, input.runId],
    "admin_dag_run_delete",
  );
  return { deleted: rows.length > 0 };
}
