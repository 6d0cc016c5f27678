// Admin plane: execution tokens for task instances.
import type { Database } from "@cairn/db";
import { signToken } from "../auth/tokens.ts";
import type { ApiConfig } from "../context.ts";
import { resolveTaskInstance } from "./task-instance-scope.ts";

export async function issueExecutionToken(
  db: Database,
  config: ApiConfig,
  input: { taskInstanceId: string; ttlSeconds?: number | undefined },
): Promise<{ token: string; expiresAt: string }> {
  // Refuses unknown and superseded tries: a token for them could not be used anyway.
  await resolveTaskInstance(db.sql, input.taskInstanceId);
  const ttlSeconds = input.ttlSeconds ?? config.defaultTokenTtlSeconds;
  const expiresAt = new Date(Math.floor(Date.now() / 1000 + ttlSeconds) * 1000);
  const token = await signToken(
    config.tokenKeys,
    { sub: input.taskInstanceId, scope: "execution" },
    expiresAt,
  );
  return { token, expiresAt: expiresAt.toISOString() };
}
