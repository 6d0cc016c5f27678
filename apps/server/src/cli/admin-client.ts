// The CLI's connection to a running server: a typed tRPC client with an admin token, plain JSON.
import type { AppRouter } from "@cairn/api";
import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink, type TRPCClient } from "@trpc/client";
import { EventSource } from "eventsource";

export type AdminClient = TRPCClient<AppRouter>;

export class UsageError extends Error {
  override name = "UsageError";
}

/** A request that got no answer: the message is why (`connect ECONNREFUSED 127.0.0.1:4000`). */
export class Unreachable extends Error {
  override name = "Unreachable";
}

/** The server a command talks to: --url, else CAIRN_URL, else the default port on this machine. */
export function serverUrl(url: string | undefined): string {
  return (url ?? process.env.CAIRN_URL ?? "http://127.0.0.1:4000").replace(/\/+$/, "");
}

export function adminClient(opts: { url?: string | undefined; token?: string | undefined }): AdminClient {
  const url = serverUrl(opts.url);
  const token = opts.token ?? process.env.CAIRN_ADMIN_TOKEN;
  if (!token) {
    throw new UsageError(
      "no admin token: set CAIRN_ADMIN_TOKEN (in embedded mode the server writes one: export CAIRN_ADMIN_TOKEN=$(cat .cairn/admin-token); `cairn token admin` makes one from CAIRN_JWT_SECRET) or pass --token",
    );
  }
  const headers = { authorization: `Bearer ${token}` };
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        // `cairn state watch`: Server-Sent Events, the token sent as a header.
        true: httpSubscriptionLink({
          url: `${url}/trpc`,
          EventSource,
          eventSourceOptions: {
            fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers } }),
          },
        }),
        false: httpLink({ url: `${url}/trpc`, headers }),
      }),
    ],
  });
}
