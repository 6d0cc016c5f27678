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
  options: { ti: string; ttl?: number | undefined },
  output: Output,
): Promise<number> {
  const ttl = options.ttl === undefined ? {} : { ttlSeconds: options.ttl };
  const issued = await client.admin.tokens.issue.mutate({ taskInstanceId: options.ti, ...ttl });
  output.out(output.json ? JSON.stringify(issued) : issued.token);
  return 0;
}

export async function adminTokenCommand(
  options: { sub?: string | undefined; ttl?: number | undefined; scope?: string | undefined },
  output: Output,
): Promise<number> {
  const scope = options.scope ?? "admin";
  if (scope !== "admin" && scope !== "viewer") throw new UsageError("--scope must be admin or viewer");
  const secret = process.env.CAIRN_JWT_SECRET ?? (await embeddedSecret());
  const expiresAt = new Date(Date.now() + (options.ttl ?? 24 * 3600) * 1000);
  const token = await signToken(tokenKeys(secret), { sub: options.sub ?? "operator", scope }, expiresAt);
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
