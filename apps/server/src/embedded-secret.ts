// Embedded mode without CAIRN_JWT_SECRET: generate a secret once and keep it in the data directory, so
// tokens survive restarts.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export async function loadOrCreateSecret(dataDir: string): Promise<{ secret: string; created: boolean }> {
  const path = join(dataDir, "jwt-secret");
  const existing = await readFile(path, "utf8").catch(() => undefined);
  if (existing?.trim()) return { secret: existing.trim(), created: false };
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  return { secret, created: true };
}
