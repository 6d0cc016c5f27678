// Admin plane: dag runs. Deleting one takes its task instances and task state with it (ON DELETE CASCADE).
import type { Database } from "@cairn/db";

export async function deleteDagRun(
  db: Database,
  input: { dagId: string; runId: string },
): Promise<{ deleted: boolean }> {
  const { count } = await db.prisma.dagRun.deleteMany({ where: { dagId: input.dagId, runId: input.runId } });
  return { deleted: count > 0 };
}
