// Expired state: what the cleanup would delete now (oldest expiry first), and running it batch by batch
// with progress. Expired keys are already invisible to workers; the cleanup frees their rows.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Clock } from "../components/Clock.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { count } from "../lib/format.ts";
import { useSession } from "../lib/session.ts";
import { useTRPC, useTRPCClient } from "../lib/trpc.ts";

const BATCH = 1000;

type Run =
  | { state: "idle" }
  | { state: "running"; deleted: number; total: number }
  | { state: "done"; deleted: number }
  | { state: "failed"; deleted: number; error: unknown };

export function CleanupView() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const { canEdit } = useSession();
  const preview = useQuery(trpc.admin.cleanup.preview.queryOptions({ limit: 50 }));
  const [run, setRun] = useState<Run>({ state: "idle" });
  const total = preview.data ? preview.data.total.task + preview.data.total.asset : 0;

  const start = async () => {
    let deleted = 0;
    setRun({ state: "running", deleted, total });
    try {
      // One bounded batch per call: progress shows, and no request runs for minutes.
      for (;;) {
        const batch = await client.admin.cleanup.run.mutate({ batchSize: BATCH, maxBatches: 1 });
        deleted += batch.task + batch.asset;
        setRun({ state: "running", deleted, total: Math.max(total, deleted) });
        if (batch.done) break;
      }
      setRun({ state: "done", deleted });
    } catch (error) {
      setRun({ state: "failed", deleted, error });
    }
    await queryClient.invalidateQueries({ queryKey: trpc.admin.pathKey() });
  };

  return (
    <>
      <h1>Expired state</h1>
      <p className="hint">
        Expired keys are invisible at once; the server's cleanup loop deletes their rows in the background.
        Run it now to free them at once.
      </p>
      {preview.error && <ErrorNote error={preview.error} />}
      {preview.data && (
        <>
          <p aria-live="polite">
            <strong>{count(total)}</strong> expired key{total === 1 ? "" : "s"} await cleanup (
            {count(preview.data.total.task)} task state, {count(preview.data.total.asset)} asset state).
          </p>
          {canEdit && (
            <div className="actions">
              <button
                type="button"
                className="danger"
                onClick={start}
                disabled={run.state === "running" || total === 0}
              >
                {run.state === "running" ? "Cleaning up…" : "Run cleanup now"}
              </button>
            </div>
          )}
          {run.state === "running" && (
            <p>
              <label htmlFor="cleanup-progress">
                Deleted {count(run.deleted)} of {count(run.total)}
              </label>{" "}
              <progress id="cleanup-progress" max={run.total || 1} value={run.deleted} />
            </p>
          )}
          {run.state === "done" && <p role="status">Done: deleted {count(run.deleted)} expired keys.</p>}
          {run.state === "failed" && (
            <>
              <p>Stopped after deleting {count(run.deleted)}.</p>
              <ErrorNote error={run.error} />
            </>
          )}
          {preview.data.items.length > 0 && (
            <div className="table-wrap">
              <table>
                <caption>
                  {preview.data.items.length < total
                    ? `The first ${preview.data.items.length}, oldest expiry first`
                    : "Oldest expiry first"}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Plane</th>
                    <th scope="col">Owner</th>
                    <th scope="col">Key</th>
                    <th scope="col">Expired</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.data.items.map((item) => (
                    <tr key={`${item.plane}\u0000${item.owner}\u0000${item.key}`}>
                      <td>{item.plane}</td>
                      <td>{item.owner}</td>
                      <th scope="row">{item.key}</th>
                      <td>
                        <Clock at={item.expiresAt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </>
  );
}
