// The CLI's connection to a running server: a typed tRPC client with an admin token, plain JSON.
import type { AppRouter } from "@cairn/api";
import { createTRPCClient, httpLink, type TRPCClient } from "@trpc/client";

export type AdminClient = TRPCClient<AppRouter>;

export class UsageError extends Error {
  override name = "UsageError";
}

export function adminClient(opts: { url?: string | undefined; token?: string | undefined }): AdminClient {
  const url = (opts.url ?? process.env.CAIRN_URL ?? "http://127.0.0.1:4000").replace(/\/+$/, "");
  const token = opts.token ?? process.env.CAIRN_ADMIN_TOKEN;
  if (!token) {
    throw new UsageError(
      "no admin token: set CAIRN_ADMIN_TOKEN (in embedded mode the server writes one: export CAIRN_ADMIN_TOKEN=$(cat .cairn/admin-token); `cairn token admin` makes one from CAIRN_JWT_SECRET) or pass --token",
    );
  }
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: { authorization: `Bearer ${token}` } })],
  });
}
