// Clearing deletes every key of a task or an asset: the operator types its name to confirm.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { type StateScope, scopeName, useStateApi } from "../lib/state-api.ts";
import { Dialog } from "./Dialog.tsx";
import { ErrorNote } from "./ErrorNote.tsx";

/** `keys`: how many keys the scope holds, when known (the list may be filtered by a prefix). */
export function ClearButton({ scope, keys }: { scope: StateScope; keys: number | undefined }) {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState("");
  const api = useStateApi(scope);
  const name = scopeName(scope);
  const clear = useMutation({
    mutationFn: api.clear,
    onSuccess: async () => {
      await api.refresh();
      setOpen(false);
    },
  });
  const close = () => {
    setOpen(false);
    setTyped("");
    clear.reset();
  };
  const what = scope.plane === "task" ? "task" : "asset";
  const all = keys === undefined ? "every key" : `all ${keys} key${keys === 1 ? "" : "s"}`;
  return (
    <>
      <button type="button" className="danger" onClick={() => setOpen(true)} disabled={keys === 0}>
        Clear {what} state…
      </button>
      <Dialog title={`Clear the state of ${name}`} open={open} onClose={close}>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            if (typed === name) clear.mutate();
          }}
        >
          <p>
            This deletes {all} of {what} <strong>{name}</strong>. Workers that resume will not find them.
          </p>
          <label htmlFor="confirm-clear">
            Type <code>{name}</code> to confirm
          </label>
          <input
            id="confirm-clear"
            value={typed}
            onChange={(event) => setTyped(event.target.value)}
            autoComplete="off"
            spellCheck={false}
          />
          {clear.error && <ErrorNote error={clear.error} />}
          <div className="actions">
            <button type="submit" className="danger" disabled={typed !== name || clear.isPending}>
              {clear.isPending ? "Clearing…" : "Clear"}
            </button>
            <button type="button" onClick={close}>
              Cancel
            </button>
          </div>
        </form>
      </Dialog>
    </>
  );
}
