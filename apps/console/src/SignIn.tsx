// Sign in by pasting a token: the server checks it (admin.session) before the console keeps it.
import { type FormEvent, useState } from "react";
import { createApiClient, errorReason } from "./lib/trpc.ts";

export function SignIn({
  onSignIn,
  notice,
}: {
  onSignIn: (token: string) => void;
  notice?: string | undefined;
}) {
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState<string>();
  const [checking, setChecking] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const pasted = token.trim().replace(/^Bearer\s+/i, "");
    if (!pasted) {
      setProblem("Paste a token first.");
      return;
    }
    setChecking(true);
    setProblem(undefined);
    try {
      await createApiClient(pasted).admin.session.query();
      onSignIn(pasted);
    } catch (error) {
      setProblem(signInProblem(error));
    } finally {
      setChecking(false);
    }
  };

  return (
    <main className="sign-in">
      <h1>Cairn console</h1>
      <form onSubmit={submit} aria-describedby="sign-in-help">
        <label htmlFor="token">Admin or viewer token</label>
        <textarea
          id="token"
          name="token"
          rows={4}
          value={token}
          onChange={(event) => setToken(event.target.value)}
          spellCheck={false}
          autoComplete="off"
          required
        />
        <p id="sign-in-help" className="hint">
          Embedded mode writes one to <code>.cairn/admin-token</code>;{" "}
          <code>cairn token admin --scope viewer</code> signs a read-only one. The token is kept in this tab
          only (sessionStorage).
        </p>
        {(problem ?? notice) && (
          <p role="alert" className="error">
            {problem ?? notice}
          </p>
        )}
        <button type="submit" disabled={checking}>
          {checking ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function signInProblem(error: unknown): string {
  const { code, reason, message } = errorReason(error);
  if (code === "UNAUTHORIZED") return `The server refused this token (${reason ?? code}): ${message}`;
  if (code === "FORBIDDEN")
    return "This is an execution token: the console needs an admin or a viewer token.";
  if (!code) return `Cannot reach the server (${message}).`;
  return `${message} (${code}${reason ? `, ${reason}` : ""})`;
}
