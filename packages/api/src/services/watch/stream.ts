// One watch stream (spec §6): subscribe to the hub, register interest (the barrier), then either replay
// what changed since the client's last event or send a snapshot, then `synced`, then live changes.
import { randomUUID } from "node:crypto";
import type { TrackedEnvelope } from "@trpc/server";
import { tracked } from "@trpc/server";
import type { StateEntry } from "../state-entries.ts";
import {
  type AssetWriter,
  type Change,
  entryOf,
  parseSnapshot,
  type Snapshot,
  visibleIn,
  type WatchEvent,
  type WatchWhere,
} from "./events.ts";
import type { Numbered, WatchHub } from "./hub.ts";
import { type Interest, planeOf } from "./interest.ts";

/** A snapshot row: an entry, who wrote it (asset state), where it lives (admin.watch). */
export interface SnapshotItem {
  entry: StateEntry;
  writer?: AssetWriter;
  where?: WatchWhere;
}

/**
 * One page of a snapshot, read in one statement, with that statement's pg_current_snapshot(). Pages come
 * in the byte order of the scope's sort key (the key, or task/map index/key across a dag run).
 */
export interface SnapshotPage {
  items: SnapshotItem[];
  snapshot: string;
  /** The sort key of the page's last row (where the next page starts); null when it is empty. */
  lastSortKey: string | null;
  /** Whether this is the last page; by default, when it holds fewer rows than were asked for. */
  last?: boolean;
}

/** What a watch stream needs to know about its scope (task state of one task, an asset's state). */
export interface WatchScope {
  /** What to register (admin.watch of everything needs a row per plane). */
  interest: Interest | Interest[];
  /** The change is in this scope and passes the key / prefix filter. */
  wants(change: Change): boolean;
  /** Where a change's row sorts in the snapshot's pages (as lastSortKey does). */
  sortKey(change: Change): string;
  /** Entries after `afterSortKey` (null: from the start), in sort key order, at most `limit`. */
  readPage(afterSortKey: string | null, limit: number): Promise<SnapshotPage>;
  /** The changed row's entry now, for a change too large to travel in its notification; null when gone. */
  readEntry(change: Change): Promise<SnapshotItem | null>;
  /**
   * Where the change happened, for streams that span scopes (admin.watch); null when the change turns
   * out not to be in the scope (a whole dag's stream hears every task state change).
   */
  whereOf?(change: Change): WatchWhere | null | Promise<WatchWhere | null>;
  /** Whether the stream may go on (token not expired, try not superseded, asset still active). */
  stillValid(): Promise<boolean>;
}

/** `<epoch>.<seq>.<interest id>`; a `.s` suffix marks an event of an unfinished snapshot. */
interface EventId {
  epoch: string;
  seq: number;
  interestId: string;
  partial: boolean;
}

function formatId(id: EventId): string {
  return `${id.epoch}.${id.seq}.${id.interestId}${id.partial ? ".s" : ""}`;
}

function parseEventId(text: string | null | undefined): EventId | undefined {
  const match = /^([0-9a-f]{8})\.(\d+)\.([0-9a-f-]{36})(\.s)?$/.exec(text ?? "");
  if (!match) return undefined;
  return { epoch: match[1]!, seq: Number(match[2]), interestId: match[3]!, partial: match[4] !== undefined };
}

const PAGE = 500;

/**
 * Writes a live event to the client at once; false when the client's buffer is full (or it is gone).
 * The SSE writer passes one so that a change reaches 1 000 streams from the hub's loop, without a trip
 * through each stream's iterator (two promise hops per stream and event); the iterator still carries the
 * snapshot, everything that needs a read, and everything while the client's buffer is full.
 */
export type WatchWriter = (eventId: string, event: WatchEvent) => boolean;

export async function* watchStream(
  hub: WatchHub,
  scope: WatchScope,
  lastEventId: string | null | undefined,
  signal: AbortSignal | undefined,
  writer?: WatchWriter,
): AsyncGenerator<TrackedEnvelope<WatchEvent>, void, unknown> {
  await hub.ready();
  const queue: Numbered[] = [];
  let queuedBytes = 0;
  const take = () => {
    const numbered = queue.shift();
    if (numbered) queuedBytes -= numbered.bytes;
    return numbered;
  };
  let ended: string | undefined;
  let wake: (() => void) | undefined;
  /**
   * Set (live phase) while the iterator waits with nothing queued and its consumer has asked for more:
   * a change may then be written straight away. Anything that wakes the iterator clears it, so later
   * changes queue behind what it is about to do, in order.
   */
  let writeDirectly: ((numbered: Numbered) => boolean) | undefined;
  const notify = () => {
    writeDirectly = undefined;
    wake?.();
    wake = undefined;
  };
  const unsubscribe = hub.subscribe({
    wants: (change) => scope.wants(change),
    push: (numbered) => {
      if (ended !== undefined || writeDirectly?.(numbered)) return;
      // A client that reads nothing is not buffered for without limit: its stream ends after what is
      // queued (nothing is skipped), and the client resumes from there or resets.
      const { streamBacklog, streamBacklogBytes } = hub.options;
      if (queue.length >= streamBacklog || queuedBytes + numbered.bytes > streamBacklogBytes)
        ended = "backlog";
      else {
        queue.push(numbered);
        queuedBytes += numbered.bytes;
      }
      notify();
    },
    end: (reason) => {
      ended ??= reason;
      notify();
    },
  });
  const onAbort = () => {
    ended ??= "aborted";
    notify();
  };
  signal?.addEventListener("abort", onAbort);
  const epoch = hub.epoch;
  const startSeq = hub.seq;
  const interestId = randomUUID();
  const id = (seq: number, partial = false) => formatId({ epoch, seq, interestId, partial });
  const interests = Array.isArray(scope.interest) ? scope.interest : [scope.interest];
  const plane = planeOf(interests[0]!);
  const count = (event: WatchEvent) => hub.observer?.onEvent(plane, event.op);
  const sent = (event: WatchEvent, eventId: string) => {
    count(event);
    return tracked(eventId, event);
  };
  let counted = false;
  let checkTimer: NodeJS.Timeout | undefined;
  try {
    const previous = parseEventId(lastEventId);
    const fenced = previous ? hub.fence(interestId) : undefined;
    const replaced = await hub.register(interestId, interests, previous ? [previous.interestId] : []);
    hub.observer?.onStream(plane, 1);
    counted = true;
    // A resume waits for its fence: what committed before it registered then comes before `synced`.
    const fenceSeq = fenced ? await fenced : undefined;
    const replay =
      previous &&
      !previous.partial &&
      fenceSeq !== undefined &&
      previous.epoch === epoch &&
      hub.epoch === epoch &&
      replaced.has(previous.interestId)
        ? hub.replay(previous.seq)
        : undefined;
    let syncedSeq = startSeq;

    /**
     * Per sort key range (up to `upTo`, as UTF-8 bytes; null: to the end), the snapshot its page was read
     * in. Empty when resuming: nothing to compare.
     */
    const pages: { upTo: Buffer | null; snapshot: Snapshot }[] = [];
    if (replay && fenceSeq !== undefined) {
      // Up to the fence: the retained changes (the queue holds those after startSeq, taken from it).
      for (const numbered of replay) {
        if (numbered.seq > fenceSeq || !scope.wants(numbered.change)) continue;
        const event = await eventOf(scope, numbered.change);
        if (event) yield sent(event, id(numbered.seq));
      }
      while (queue[0] && queue[0].seq <= fenceSeq) take();
      syncedSeq = fenceSeq;
    } else {
      if (lastEventId) yield sent({ op: "reset" }, id(startSeq, true));
      let after: string | null = null;
      for (;;) {
        const page = await scope.readPage(after, PAGE);
        const full = !(page.last ?? page.items.length < PAGE);
        pages.push({
          upTo: full && page.lastSortKey !== null ? Buffer.from(page.lastSortKey) : null,
          snapshot: parseSnapshot(page.snapshot),
        });
        for (const item of page.items) yield sent(setEvent(item), id(startSeq, true));
        if (!full || ended) break;
        after = page.lastSortKey;
      }
    }
    if (ended) return;
    yield sent({ op: "synced" }, id(syncedSeq));

    // Transactions from this one on began after every page was read: none of the pages holds them.
    let newerThanPages = 0n;
    for (const page of pages) if (page.snapshot.xmax > newerThanPages) newerThanPages = page.snapshot.xmax;
    /** Whether the snapshot page that covered this key already holds the change. */
    const inSnapshot = (change: Change) => {
      if (pages.length === 0 || change.xid >= newerThanPages) return false;
      const key = Buffer.from(scope.sortKey(change));
      const page = pages.find((p) => p.upTo === null || Buffer.compare(key, p.upTo) <= 0);
      return page !== undefined && visibleIn(page.snapshot, change.xid);
    };
    /** Written at once when the event needs no read; false when it must go through the iterator. */
    const direct =
      writer &&
      ((numbered: Numbered): boolean => {
        if (inSnapshot(numbered.change)) return true;
        const event = eventAtOnce(scope, numbered.change);
        if (!event) return false;
        count(event);
        // The client's buffer is full: what follows waits in the queue, the iterator's consumer for drain.
        if (!writer(id(numbered.seq), event)) writeDirectly = undefined;
        return true;
      });
    // One timer for the stream's life, not one per wait: a write watched by 1 000 streams would arm and
    // clear 1 000 timers.
    let checkDue = false;
    checkTimer = setInterval(() => {
      checkDue = true;
      notify();
    }, hub.options.validityCheckMs);
    checkTimer.unref();
    for (;;) {
      const numbered = take();
      if (numbered) {
        if (inSnapshot(numbered.change)) continue;
        // Most changes make their event at once; only a big value or a dag-wide stream's `where` reads.
        const made = eventOf(scope, numbered.change);
        const event = made instanceof Promise ? await made : made;
        if (event) yield sent(event, id(numbered.seq));
        continue;
      }
      if (ended) return;
      if (checkDue) {
        checkDue = false;
        if (!(await scope.stillValid())) return;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        writeDirectly = direct;
      });
    }
  } finally {
    writeDirectly = undefined;
    clearInterval(checkTimer);
    if (counted) hub.observer?.onStream(plane, -1);
    signal?.removeEventListener("abort", onAbort);
    unsubscribe();
    hub.release(interestId);
  }
}

/** The events that carry a key (and, on admin.watch, `where`). */
type KeyEvent = Extract<WatchEvent, { key: string }>;

function setEvent(item: SnapshotItem): KeyEvent {
  return {
    op: "set",
    key: item.entry.key,
    entry: item.entry,
    ...(item.writer ? { writer: item.writer } : {}),
    ...(item.where ? { where: item.where } : {}),
  };
}

/** A change as an event, without `where`. */
function plainEvent(change: Change): KeyEvent {
  return change.op === "delete"
    ? { op: "delete", key: change.key, cause: change.cause ?? "delete" }
    : setEvent({ entry: entryOf(change), ...(change.writer ? { writer: change.writer } : {}) });
}

/**
 * One event object per change for every stream without `where` (all but admin.watch): a write watched by
 * 1 000 streams builds its event once, and the SSE writer serializes it once (it caches by object).
 */
const shared = new WeakMap<Change, KeyEvent>();

/** The change's event when it needs no read (most do: not a big value, not a dag-wide stream's `where`). */
function eventAtOnce(scope: WatchScope, change: Change): KeyEvent | undefined {
  if (scope.whereOf || (change.op === "set" && change.big)) return undefined;
  let event = shared.get(change);
  if (!event) {
    event = plainEvent(change);
    shared.set(change, event);
  }
  return event;
}

function eventOf(scope: WatchScope, change: Change): KeyEvent | Promise<WatchEvent | undefined> {
  return eventAtOnce(scope, change) ?? readEvent(scope, change, change.op === "set" && change.big);
}

async function readEvent(scope: WatchScope, change: Change, big: boolean | undefined) {
  const where = await scope.whereOf?.(change);
  if (where === null) return undefined;
  if (big) {
    const item = await scope.readEntry(change);
    // Gone again: its delete follows in the stream.
    return item ? setEvent({ ...item, ...(where ? { where } : {}) }) : undefined;
  }
  const event = plainEvent(change);
  return where ? { ...event, where } : event;
}
