// Cursor paging: the server hands out `nextCursor`; going back replays the cursors seen on the way. Pages
// may be shorter than the limit (state pages stop at a byte budget), so each page remembers its offset.
import { useState } from "react";
import { count } from "../lib/format.ts";

interface Page {
  cursor: string | null;
  offset: number;
}

const FIRST: Page[] = [{ cursor: null, offset: 0 }];

export function useCursorPages(resetKey: string) {
  const [state, setState] = useState({ key: resetKey, pages: FIRST });
  // A new filter starts at the first page again.
  const pages = state.key === resetKey ? state.pages : FIRST;
  const current = pages.at(-1) ?? { cursor: null, offset: 0 };
  return {
    cursor: current.cursor,
    offset: current.offset,
    isFirst: pages.length === 1,
    next: (cursor: string, shown: number) =>
      setState({ key: resetKey, pages: [...pages, { cursor, offset: current.offset + shown }] }),
    previous: () => setState({ key: resetKey, pages: pages.slice(0, -1) }),
    first: () => setState({ key: resetKey, pages: FIRST }),
  };
}

export function Pager({
  pages,
  page,
  what,
}: {
  pages: ReturnType<typeof useCursorPages>;
  /** The page shown: its items, the cursor of the next, and how many match in all. */
  page: { items: unknown[]; nextCursor: string | null; total: number };
  what: string;
}) {
  const { nextCursor, total } = page;
  const shown = page.items.length;
  const from = pages.offset + 1;
  return (
    <nav className="pager" aria-label={`Pages of ${what}`}>
      <span aria-live="polite">
        {shown === 0
          ? `no ${what}`
          : `${count(from)}–${count(pages.offset + shown)} of ${count(total)} ${what}`}
      </span>
      <button type="button" onClick={pages.first} disabled={pages.isFirst}>
        First
      </button>
      <button type="button" onClick={pages.previous} disabled={pages.isFirst}>
        Previous
      </button>
      <button
        type="button"
        onClick={() => nextCursor && pages.next(nextCursor, shown)}
        disabled={!nextCursor}
      >
        Next
      </button>
    </nav>
  );
}
