// One key: its value as formatted JSON with size, version, when it was written and when it expires; edit
// and delete for admins.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { absolute, bytes, jsonBytes } from "../lib/format.ts";
import { useSession } from "../lib/session.ts";
import { type StateEntry, type StateScope, useStateApi } from "../lib/state-api.ts";
import { errorReason } from "../lib/trpc.ts";
import { Clock, Countdown } from "./Clock.tsx";
import { Dialog } from "./Dialog.tsx";
import { ErrorNote } from "./ErrorNote.tsx";
import { ValueEditor } from "./ValueEditor.tsx";

export function KeyDetail({
  scope,
  stateKey,
  onClose,
}: {
  scope: StateScope;
  stateKey: string;
  onClose: () => void;
}) {
  const { canEdit } = useSession();
  const api = useStateApi(scope);
  const entry = useQuery(api.getOptions(stateKey));
  const title = useRef<HTMLHeadingElement>(null);
  // A chosen key's detail may be below the list (a phone): move there, and keyboard focus with it.
  useEffect(() => title.current?.focus(), []);
  // The entry as it was when editing began: live updates must not move the version the save checks.
  const [editing, setEditing] = useState<StateEntry | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const remove = useMutation({
    mutationFn: (ifVersion: number) => api.remove({ key: stateKey, ifVersion }),
    onSuccess: async () => {
      setConfirmDelete(false);
      // Closed first: a refetch of the deleted key would only answer key_not_found.
      onClose();
      await api.refresh();
    },
  });

  return (
    <section className="key-detail" aria-labelledby="key-title">
      <div className="row">
        <h2 id="key-title" ref={title} tabIndex={-1}>
          <span className="label">Key</span> <code>{stateKey}</code>
        </h2>
        <button type="button" className="quiet" onClick={onClose}>
          Close
        </button>
      </div>
      {entry.isPending && <p className="loading">Loading…</p>}
      {entry.error &&
        (errorReason(entry.error).reason === "key_not_found" ? (
          <p role="status">This key does not exist (any more): it was deleted, cleared or has expired.</p>
        ) : (
          <ErrorNote error={entry.error} />
        ))}
      {entry.data && !editing && (
        <>
          <dl className="facts">
            <dt>Size</dt>
            <dd>{bytes(jsonBytes(entry.data.value))}</dd>
            <dt>Version</dt>
            <dd data-testid="version">{entry.data.version}</dd>
            <dt>Updated</dt>
            <dd>
              <Clock at={entry.data.updatedAt} />{" "}
              <span className="absolute">({absolute(entry.data.updatedAt)})</span>
            </dd>
            <dt>Expires</dt>
            <dd>
              <Countdown at={entry.data.expiresAt} />
              {entry.data.expiresAt && <span className="absolute"> ({absolute(entry.data.expiresAt)})</span>}
            </dd>
          </dl>
          <pre className="json" data-testid="value">
            {JSON.stringify(entry.data.value, null, 2)}
          </pre>
          {canEdit && (
            <div className="actions">
              <button type="button" onClick={() => setEditing(entry.data)}>
                Edit value
              </button>
              <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>
                Delete key…
              </button>
            </div>
          )}
          <Dialog title="Delete this key?" open={confirmDelete} onClose={() => setConfirmDelete(false)}>
            <p>
              Delete <code>{stateKey}</code> (version {entry.data.version})? A worker that resumes will not
              find it.
            </p>
            {remove.error &&
              (errorReason(remove.error).reason === "version_mismatch" ? (
                <p role="alert" className="error">
                  The key changed since it was shown: cancel and look at it again.
                </p>
              ) : (
                <ErrorNote error={remove.error} />
              ))}
            <div className="actions">
              <button
                type="button"
                className="danger"
                onClick={() => entry.data && remove.mutate(entry.data.version)}
                disabled={remove.isPending}
              >
                {remove.isPending ? "Deleting…" : "Delete"}
              </button>
              <button type="button" onClick={() => setConfirmDelete(false)}>
                Cancel
              </button>
            </div>
          </Dialog>
        </>
      )}
      {editing && <ValueEditor scope={scope} entry={editing} onDone={() => setEditing(null)} />}
    </section>
  );
}
