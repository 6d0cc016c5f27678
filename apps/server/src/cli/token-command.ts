// `cairn token issue --ti <id>` (an execution token, from a running server) and `cairn token admin`
// (an admin token, or with `--scope viewer` a read-only one, signed here with CAIRN_JWT_SECRET or the
// embedded database's generated secret).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { signToken, tokenKeys } from "@cairn/api";
import type { AdminClient } from "./admin-client.ts";
import { UsageError } from "./admin-client.ts";
import type { Output } from "./output.ts";

export async function issueTokenCommand(
  client: AdminClient,
  flags: { ti?: string | undefined; ttl?: string | undefined },
  output: Output,
): Promise<number> {
  if (!flags.ti) throw new UsageError("cairn token issue --ti <task instance id> [--ttl <seconds>]");
  const ttl = flags.ttl === undefined ? {} : { ttlSeconds: Number(flags.ttl) };
  const issued = await client.admin.tokens.issue.mutate({ taskInstanceId: flags.ti, ...ttl });
  output.out(output.json ? JSON.stringify(issued) : issued.token);
  return 0;
}

export async function adminTokenCommand(
  flags: { sub?: string | undefined; ttl?: string | undefined; scope?: string | undefined },
  output: Output,
): Promise<number> {
  const scope = flags.scope ?? "admin";
  if (scope !== "admin" && scope !== "viewer") throw new UsageError("--scope must be admin or viewer");
  const secret = process.env.CAIRN_JWT_SECRET ?? (await embeddedSecret());
  const ttlSeconds = flags.ttl === undefined ? 24 * 3600 : Number(flags.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    throw new UsageError("--ttl must be a positive number of seconds");
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const token = await signToken(tokenKeys(secret), { sub: flags.sub ?? "operator", scope }, expiresAt);
  output.out(output.json ? JSON.stringify({ token, expiresAt: expiresAt.toISOString() }) : token);
  return 0;
}

async function embeddedSecret(): Promise<string> {
  const dataDir = process.env.CAIRN_DATA_DIR ?? "./.cairn";
  const secret = await readFile(join(dataDir, "jwt-secret"), "utf8").catch(() => "");
  if (!secret.trim()) {
    throw new UsageError(
      `no signing secret: set CAIRN_JWT_SECRET, or start the embedded server once so it writes ${join(dataDir, "jwt-secret")}`,
    );
  }
  return secret.trim();
}
