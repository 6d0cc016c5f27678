// Embedded mode without CAIRN_JWT_SECRET: a quick-start admin token, written to <data dir>/admin-token
// (mode 0600) rather than to the logs, where log collectors would keep it.
import { chmod, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { type ApiConfig, signToken } from "@cairn/api";

const VALID_DAYS = 30;

export async function writeAdminToken(
  dataDir: string,
  api: ApiConfig,
): Promise<{ path: string; token: string; readCommand: string }> {
  const path = join(dataDir, "admin-token");
  const expiresAt = new Date(Date.now() + VALID_DAYS * 86_400_000);
  const token = await signToken(api.tokenKeys, { sub: "quickstart-admin", scope: "admin" }, expiresAt);
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // writeFile's mode applies only to a new file
  const shown = relative(process.cwd(), path).startsWith("..") ? path : relative(process.cwd(), path);
  return { path, token, readCommand: `export CAIRN_ADMIN_TOKEN=$(cat ${shown})` };
}

/** What a person at the terminal reads after `pnpm start`; the token itself only on a TTY. */
export function startBanner(opts: {
  url: string;
  dataDir: string;
  tokenPath: string;
  readCommand: string;
  token?: string | undefined;
}): string {
  const token = opts.token ? `\n  ${opts.token}\n` : "";
  return (
    `\nCairn is running on ${opts.url} with the embedded database in ${opts.dataDir}.\n` +
    `Admin token (valid ${VALID_DAYS} days; set CAIRN_JWT_SECRET to manage your own) in ${opts.tokenPath}:\n${token}\n` +
    `  ${opts.readCommand}\n\n` +
    `Try it:\n  curl -s -X POST ${opts.url}/trpc/admin.assets.upsert \\\n` +
    `    -H "authorization: Bearer $CAIRN_ADMIN_TOKEN" -H "content-type: application/json" \\\n` +
    `    -d '{"name":"orders","uri":"s3://lake/orders"}'\n\n` +
    `Console: ${opts.url}/console (sign in with the token above)\n\n`
  );
}
