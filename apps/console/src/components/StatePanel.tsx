// The state of one task or asset: its keys (prefix filter, pages of up to 1 000), the selected key's
// detail, live updates, and for admins adding a key and clearing the whole scope.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { memo, useCallback, useId, useRef, useState } from "react";
import { bytes, jsonBytes, preview } from "../lib/format.ts";
import { useSession } from "../lib/session.ts";
import { type ListedEntry, type StateScope, useStateApi, type Writer } from "../lib/state-api.ts";
import { LiveBadge, useLiveState } from "../lib/use-live.tsx";
import { ClearButton } from "./ClearDialog.tsx";
import { Clock, ExpiresIn } from "./Clock.tsx";
import { ErrorNote } from "./ErrorNote.tsx";
import { KeyDetail } from "./KeyDetail.tsx";
import { Pager, useCursorPages } from "./Pager.tsx";
import { SearchField } from "./SearchField.tsx";
import { ValueEditor } from "./ValueEditor.tsx";

const PAGE_SIZES = [100, 500, 1000];

export function StatePanel({
  scope,
  selectedKey,
  onSelect,
  writerLink,
}: {
  scope: StateScope;
  selectedKey: string | undefined;
  onSelect: (key: string | undefined) => void;
  /** For asset state: where the writer of a key links to. */
  writerLink?: (writer: Writer) => string | undefined;
}) {
  const { canEdit } = useSession();
  const api = useStateApi(scope);
  const ids = useId();
  const [prefix, setPrefix] = useState("");
  const [limit, setLimit] = useState(100);
  const [adding, setAdding] = useState(false);
  const pages = useCursorPages(`${prefix}\u0000${limit}`);
  const list = useQuery({
    ...api.listOptions({ prefix: prefix || undefined, limit, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
  });
  const live = useLiveState(scope);
  // Stable callbacks for the memoized rows, whatever the parent passes on each render.
  const latest = useRef({ onSelect, writerLink });
  latest.current = { onSelect, writerLink };
  const select = useCallback((key: string) => latest.current.onSelect(key), []);
  const linkOf = useCallback((writer: Writer) => latest.current.writerLink?.(writer), []);
  const total = list.data?.total ?? 0;

  return (
    <div className="state">
      <section aria-labelledby={`${ids}-keys`}>
        <div className="row">
          <h2 id={`${ids}-keys`}>State</h2>
          <LiveBadge status={live} />
          {canEdit && (
            <div className="actions end">
              <button type="button" onClick={() => setAdding(true)}>
                Add key…
              </button>
              <ClearButton scope={scope} keys={prefix ? undefined : total} />
            </div>
          )}
        </div>
        {adding && (
          <ValueEditor
            scope={scope}
            entry={null}
            onDone={(key) => {
              setAdding(false);
              if (key) onSelect(key);
            }}
          />
        )}
        <form className="filters" onSubmit={(event) => event.preventDefault()}>
          <SearchField id={`${ids}-prefix`} label="Key prefix" value={prefix} onChange={setPrefix} />
          <label htmlFor={`${ids}-limit`}>Per page</label>
          <select
            id={`${ids}-limit`}
            value={limit}
            onChange={(event) => setLimit(Number(event.target.value))}
          >
            {PAGE_SIZES.map((size) => (
              <option key={size} value={size}>
                {size}
              </option>
            ))}
          </select>
        </form>
        {list.error && <ErrorNote error={list.error} />}
        {list.data && (
          <>
            <div className="table-wrap">
              <table aria-describedby={`${ids}-keys`}>
                <thead>
                  <tr>
                    <th scope="col">Key</th>
                    <th scope="col">Value</th>
                    <th scope="col" className="num">
                      Size
                    </th>
                    <th scope="col" className="num">
                      Version
                    </th>
                    <th scope="col">Updated</th>
                    <th scope="col">Expires</th>
                    {scope.plane === "asset" && <th scope="col">Written by</th>}
                  </tr>
                </thead>
                <tbody>
                  {list.data.items.map((entry) => (
                    <KeyRow
                      key={entry.key}
                      entry={entry}
                      selected={entry.key === selectedKey}
                      onSelect={select}
                      writerLink={scope.plane === "asset" ? linkOf : undefined}
                    />
                  ))}
                </tbody>
              </table>
            </div>
            <Pager pages={pages} page={list.data} what={prefix ? `keys starting with “${prefix}”` : "keys"} />
          </>
        )}
      </section>
      {selectedKey !== undefined && (
        <KeyDetail
          key={selectedKey}
          scope={scope}
          stateKey={selectedKey}
          onClose={() => onSelect(undefined)}
        />
      )}
    </div>
  );
}

// Rows re-render only when their entry or selection changes (pages hold up to 1 000 of them).
const KeyRow = memo(function KeyRow({
  entry,
  selected,
  onSelect,
  writerLink,
}: {
  entry: ListedEntry;
  selected: boolean;
  onSelect: (key: string) => void;
  /** Asset state only: the column of who wrote each key. */
  writerLink: ((writer: Writer) => string | undefined) | undefined;
}) {
  return (
    <tr aria-selected={selected} className={selected ? "selected" : undefined}>
      <th scope="row">
        <button type="button" className="link" onClick={() => onSelect(entry.key)} aria-pressed={selected}>
          {entry.key}
        </button>
      </th>
      <td className="preview">
        <code>{preview(entry.value)}</code>
      </td>
      <td className="num">{bytes(jsonBytes(entry.value))}</td>
      <td className="num">{entry.version}</td>
      <td>
        <Clock at={entry.updatedAt} />
      </td>
      <td>
        <ExpiresIn at={entry.expiresAt} />
      </td>
      {writerLink && <WriterCell entry={entry} link={writerLink} />}
    </tr>
  );
});

function WriterCell({
  entry,
  link,
}: {
  entry: ListedEntry;
  link?: ((writer: Writer) => string | undefined) | undefined;
}) {
  const writer = entry.writer;
  if (!writer) return <td />;
  if (writer.kind === "admin") return <td>an operator</td>;
  const label = `${writer.dagId}/${writer.runId}/${writer.taskId}${writer.mapIndex !== null && writer.mapIndex >= 0 ? `[${writer.mapIndex}]` : ""}`;
  const target = link?.(writer);
  return <td>{target ? <a href={target}>{label}</a> : label}</td>;
}
