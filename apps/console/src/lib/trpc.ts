// The console's API client: tRPC's TanStack Query integration over plain JSON (the server's wire format),
// batched queries, and admin.watch over Server-Sent Events. The token travels in the Authorization header
// on both: the `eventsource` package can send headers (a browser's own EventSource cannot), so the token
// never appears in a URL.
import type { AppRouter } from "@cairn/api";
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { EventSource } from "eventsource";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export type ApiClient = ReturnType<typeof createApiClient>;

/** The API beside the page: the console is served at <server>/console/, the API at <server>/trpc. */
export function apiUrl(): string {
  return new URL("../trpc", document.baseURI).href;
}

export function createApiClient(token: string) {
  const headers = { authorization: `Bearer ${token}` };
  const url = apiUrl();
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url,
          EventSource,
          eventSourceOptions: {
            fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers } }),
          },
        }),
        false: httpBatchLink({ url, headers }),
      }),
    ],
  });
}

/** The contract's error data (`code`, `reason`) of a failed call, when the server answered one. */
export function errorReason(error: unknown): { code?: string; reason?: string; message: string } {
  const data = (error as { data?: { code?: string; reason?: string } } | null)?.data;
  const message = error instanceof Error ? error.message : String(error);
  return { code: data?.code, reason: data?.reason, message };
}
