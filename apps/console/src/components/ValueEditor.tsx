// Edit (or add) a key: JSON checked as you type against the server's value rules, saved with ifVersion
// so another writer's change in between is never overwritten unseen. On a conflict both values are shown
// and the operator overwrites or discards.
import { useId, useState } from "react";
import { bytes, jsonBytes } from "../lib/format.ts";
import { useSession } from "../lib/session.ts";
import { type StateEntry, type StateScope, useStateApi } from "../lib/state-api.ts";
import { errorReason } from "../lib/trpc.ts";
import { checkValueText } from "../lib/value-check.ts";
import { Clock } from "./Clock.tsx";
import { ErrorNote } from "./ErrorNote.tsx";

type Expiry = "keep" | "never" | "at" | "default";

type Step =
  | { step: "editing" }
  | { step: "saving" }
  | { step: "conflict"; theirs: StateEntry | null; mine: unknown }
  | { step: "failed"; error: unknown };

export function ValueEditor({
  scope,
  entry,
  onDone,
}: {
  scope: StateScope;
  /** The entry as loaded when editing began; null to add a new key. */
  entry: StateEntry | null;
  onDone: (savedKey?: string) => void;
}) {
  const { maxValueBytes } = useSession();
  const api = useStateApi(scope);
  const ids = useId();
  const [key, setKey] = useState(entry?.key ?? "");
  const [text, setText] = useState(entry ? JSON.stringify(entry.value, null, 2) : "");
  const [expiry, setExpiry] = useState<Expiry>(entry ? "keep" : "default");
  const [expiresAtLocal, setExpiresAtLocal] = useState("");
  const [step, setStep] = useState<Step>({ step: "editing" });
  const check = checkValueText(text, maxValueBytes);
  const keyProblem = entry ? undefined : key === "" ? "Enter a key." : undefined;

  const expiresAt = (): string | null | undefined => {
    if (expiry === "keep") return entry?.expiresAt ?? null;
    if (expiry === "never") return null;
    if (expiry === "at") return expiresAtLocal ? new Date(expiresAtLocal).toISOString() : undefined;
    return undefined;
  };

  const save = async (value: unknown, ifVersion: number) => {
    setStep({ step: "saving" });
    try {
      await api.set({ key, value, expiresAt: expiresAt(), ifVersion });
      await api.refresh();
      onDone(key);
    } catch (error) {
      if (errorReason(error).reason !== "version_mismatch") {
        setStep({ step: "failed", error });
        return;
      }
      // Someone wrote (or deleted) the key since it was loaded: show theirs beside ours.
      void api.refresh();
      try {
        setStep({ step: "conflict", theirs: await api.fetchCurrent(key), mine: value });
      } catch (readError) {
        setStep({ step: "failed", error: readError });
      }
    }
  };

  if (step.step === "conflict") {
    const { theirs, mine } = step;
    return (
      <section className="conflict" aria-labelledby={`${ids}-conflict`}>
        <h3 id={`${ids}-conflict`} role="alert">
          {theirs
            ? `Another writer changed “${key}” while you edited (now version ${theirs.version}).`
            : entry
              ? `“${key}” was deleted while you edited.`
              : `“${key}” was created by another writer meanwhile.`}
        </h3>
        <div className="side-by-side">
          <figure>
            <figcaption>
              Their value
              {theirs && (
                <>
                  {" "}
                  (version {theirs.version}, <Clock at={theirs.updatedAt} />)
                </>
              )}
            </figcaption>
            <pre data-testid="their-value">
              {theirs ? JSON.stringify(theirs.value, null, 2) : "(no value: deleted)"}
            </pre>
          </figure>
          <figure>
            <figcaption>Your value</figcaption>
            <pre data-testid="your-value">{JSON.stringify(mine, null, 2)}</pre>
          </figure>
        </div>
        <div className="actions">
          <button type="button" className="danger" onClick={() => save(mine, theirs?.version ?? 0)}>
            Overwrite with mine
          </button>
          <button
            type="button"
            onClick={() => {
              void api.refresh();
              onDone();
            }}
          >
            Discard mine
          </button>
        </div>
      </section>
    );
  }

  return (
    <form
      className="editor"
      onSubmit={(event) => {
        event.preventDefault();
        if (check.ok && !keyProblem) void save(check.value, entry?.version ?? 0);
      }}
    >
      {!entry && (
        <>
          <label htmlFor={`${ids}-key`}>Key</label>
          <input
            id={`${ids}-key`}
            value={key}
            onChange={(event) => setKey(event.target.value)}
            maxLength={512}
            autoComplete="off"
            spellCheck={false}
            required
          />
        </>
      )}
      <label htmlFor={`${ids}-value`}>Value (JSON)</label>
      <textarea
        id={`${ids}-value`}
        className="json"
        value={text}
        onChange={(event) => setText(event.target.value)}
        rows={Math.min(24, Math.max(6, text.split("\n").length + 1))}
        spellCheck={false}
        aria-invalid={!check.ok}
        aria-describedby={`${ids}-check`}
      />
      <p id={`${ids}-check`} className={check.ok ? "hint" : "error"} aria-live="polite">
        {check.ok
          ? `Valid JSON, ${bytes(check.bytes)}${maxValueBytes ? ` of ${bytes(maxValueBytes)}` : ""}`
          : check.problem}
      </p>
      <fieldset className="expiry">
        <legend>Expires</legend>
        {entry && (
          <label>
            <input
              type="radio"
              name={`${ids}-expiry`}
              checked={expiry === "keep"}
              onChange={() => setExpiry("keep")}
            />{" "}
            as now ({entry.expiresAt ? <Clock at={entry.expiresAt} /> : "never"})
          </label>
        )}
        <label>
          <input
            type="radio"
            name={`${ids}-expiry`}
            checked={expiry === "never"}
            onChange={() => setExpiry("never")}
          />{" "}
          never
        </label>
        <label>
          <input
            type="radio"
            name={`${ids}-expiry`}
            checked={expiry === "default"}
            onChange={() => setExpiry("default")}
          />{" "}
          server default ({scope.plane === "task" ? "retention days" : "never"})
        </label>
        <label>
          <input
            type="radio"
            name={`${ids}-expiry`}
            checked={expiry === "at"}
            onChange={() => setExpiry("at")}
          />{" "}
          at
        </label>
        <input
          type="datetime-local"
          aria-label="Expiry date and time (local)"
          value={expiresAtLocal}
          onChange={(event) => {
            setExpiresAtLocal(event.target.value);
            setExpiry("at");
          }}
        />
      </fieldset>
      {step.step === "failed" && <ErrorNote error={step.error} />}
      <div className="actions">
        <button type="submit" disabled={!check.ok || !!keyProblem || step.step === "saving"}>
          {step.step === "saving"
            ? "Saving…"
            : entry
              ? `Save (if still version ${entry.version})`
              : "Add key"}
        </button>
        <button type="button" onClick={() => onDone()}>
          Cancel
        </button>
      </div>
      {entry && check.ok && jsonBytes(entry.value) !== check.bytes && (
        <p className="hint">Was {bytes(jsonBytes(entry.value))}.</p>
      )}
    </form>
  );
}
