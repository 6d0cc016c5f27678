// Signed out: the sign-in form. Signed in: the API client for that token, and the console's shell.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { tokenStore } from "./lib/token-store.ts";
import { createApiClient, TRPCProvider } from "./lib/trpc.ts";
import { Shell } from "./Shell.tsx";
import { SignIn } from "./SignIn.tsx";

export function App() {
  const [token, setToken] = useState(tokenStore.read);
  const [signedOutBecause, setSignedOutBecause] = useState<string>();

  const signIn = (next: string) => {
    tokenStore.write(next);
    setSignedOutBecause(undefined);
    setToken(next);
  };
  const signOut = (because?: string) => {
    tokenStore.clear();
    setSignedOutBecause(because);
    setToken(null);
  };

  if (!token) return <SignIn onSignIn={signIn} notice={signedOutBecause} />;
  return <SignedIn key={token} token={token} onSignOut={signOut} />;
}

function SignedIn({ token, onSignOut }: { token: string; onSignOut: (because?: string) => void }) {
  const queryClient = useMemo(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: {
            staleTime: 5_000,
            // A refused token or a missing row does not get better by asking again.
            retry: (failures, error) =>
              failures < 2 &&
              !["UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "BAD_REQUEST"].includes(codeOf(error)),
          },
        },
      }),
    [],
  );
  const trpcClient = useMemo(() => createApiClient(token), [token]);
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <Shell onSignOut={onSignOut} />
      </TRPCProvider>
    </QueryClientProvider>
  );
}

function codeOf(error: unknown): string {
  return (error as { data?: { code?: string } } | null)?.data?.code ?? "";
}
