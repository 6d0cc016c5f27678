// A failed call as the operator should read it: what the server said, and its code and reason.
import { errorReason } from "../lib/trpc.ts";

export function ErrorNote({ error }: { error: unknown }) {
  const { code, reason, message } = errorReason(error);
  return (
    <p role="alert" className="error">
      {code ? message : `Cannot reach the server: ${message}`}
      {code && (
        <span className="code">
          {" "}
          ({code}
          {reason ? `, ${reason}` : ""})
        </span>
      )}
    </p>
  );
}
