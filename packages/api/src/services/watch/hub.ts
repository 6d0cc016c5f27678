// One per server process: listens on the channel the notify triggers write to, numbers what arrives,
// keeps the latest changes for resuming streams, and hands each change to the streams it concerns. It
// also keeps the interest rows of open streams alive and sweeps the expired ones.
import { randomUUID } from "node:crypto";
import type { Database, Unlisten } from "@cairn/db";
import { type Change, parseChange } from "./events.ts";
import { CHANNEL, type Interest, registerInterest, renewInterest, sweepInterest } from "./interest.ts";

/** For metrics: streams opening and closing, and what they send, by plane. */
export interface WatchObserver {
  onStream(plane: "task" | "asset", delta: 1 | -1): void;
  onEvent(plane: "task" | "asset", op: "set" | "delete" | "synced" | "reset"): void;
}

export interface WatchHubOptions {
  /** Changes kept for resuming streams, at most (count and bytes of payload). */
  replayEvents?: number;
  replayBytes?: number;
  /** Changes (count, and bytes of payload) a stream may have waiting for its client before it is ended (it resumes or resets). */
  streamBacklog?: number;
  streamBacklogBytes?: number;
  /** How long a closed stream's interest lingers, so a reconnect can resume; also the renewal horizon. */
  lingerSeconds?: number;
  renewEveryMs?: number;
  sweepEveryMs?: number;
  /** How often a stream checks that it may go on (token, try, asset). */
  validityCheckMs?: number;
  onError?: (error: unknown, what: string) => void;
  observer?: WatchObserver | undefined;
}

/** A change with its position in this listening session. */
export interface Numbered {
  seq: number;
  change: Change;
  /** The notification's length: what keeping the change costs, roughly. */
  bytes: number;
}

/** What a stream registers with the hub: which changes it wants, and where to put them. */
export interface Subscriber {
  wants(change: Change): boolean;
  push(numbered: Numbered): void;
  /** The hub stops: the stream ends (its client reconnects elsewhere or later). */
  end(reason: "shutdown" | "listener_lost"): void;
}

export class WatchHub {
  readonly serverId = randomUUID();
  readonly options: Required<Omit<WatchHubOptions, "onError" | "observer">>;
  readonly observer: WatchObserver | undefined;
  /** Changes up to here have been handed out; a new listening session starts a new epoch. */
  seq = 0;
  epoch = randomUUID().slice(0, 8);
  private readonly retained: Numbered[] = [];
  private retainedBytes = 0;
  private readonly subscribers = new Set<Subscriber>();
  /** Registrations waiting for their fence: resolved with the sequence number reached when it arrives. */
  private readonly fences = new Map<string, (seq: number) => void>();
  /** Interest rows of open streams (by the stream's first row id), renewed on a timer. */
  private readonly openInterest = new Map<string, string[]>();
  private unlisten: Unlisten | undefined;
  private listening: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private readonly onError: (error: unknown, what: string) => void;

  constructor(
    readonly db: Database,
    options: WatchHubOptions = {},
  ) {
    this.options = {
      replayEvents: options.replayEvents ?? 10_000,
      replayBytes: options.replayBytes ?? 16 * 1024 * 1024,
      streamBacklog: options.streamBacklog ?? 10_000,
      streamBacklogBytes: options.streamBacklogBytes ?? 8 * 1024 * 1024,
      lingerSeconds: options.lingerSeconds ?? 60,
      renewEveryMs: options.renewEveryMs ?? 15_000,
      sweepEveryMs: options.sweepEveryMs ?? 30_000,
      validityCheckMs: options.validityCheckMs ?? 5_000,
    };
    this.onError = options.onError ?? (() => {});
    this.observer = options.observer;
  }

  /** Listens (once, lazily: a server nobody watches holds no extra connection) and starts the timers. */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the server is shutting down"));
    this.listening ??= this.listen().catch((error: unknown) => {
      this.listening = undefined;
      throw error;
    });
    return this.listening;
  }

  private async listen(): Promise<void> {
    this.unlisten = await this.db.listen(
      CHANNEL,
      (payload) => this.receive(payload),
      (error) => this.lost(error),
    );
    if (this.timers.length === 0) {
      const renew = setInterval(() => {
        renewInterest(this.db, [...this.openInterest.values()].flat(), this.options.lingerSeconds).catch(
          (error) => this.onError(error, "renewing watch interest"),
        );
      }, this.options.renewEveryMs);
      const sweep = setInterval(() => {
        sweepInterest(this.db).catch((error) => this.onError(error, "sweeping watch interest"));
      }, this.options.sweepEveryMs);
      renew.unref();
      sweep.unref();
      this.timers = [renew, sweep];
    }
  }

  private receive(payload: string): void {
    if (payload.startsWith('{"fence"')) {
      const id = (JSON.parse(payload) as { fence: string }).fence;
      this.fences.get(id)?.(this.seq);
      this.fences.delete(id);
      return;
    }
    let change: Change;
    try {
      change = parseChange(payload);
    } catch (error) {
      this.onError(error, "parsing a change notification");
      return;
    }
    const numbered = { seq: ++this.seq, change, bytes: payload.length };
    this.retain(numbered);
    for (const subscriber of this.subscribers) {
      if (subscriber.wants(change)) subscriber.push(numbered);
    }
  }

  private retain(entry: Numbered): void {
    this.retained.push(entry);
    this.retainedBytes += entry.bytes;
    while (
      this.retained.length > this.options.replayEvents ||
      (this.retainedBytes > this.options.replayBytes && this.retained.length > 1)
    ) {
      this.retainedBytes -= this.retained.shift()?.bytes ?? 0;
    }
  }

  /** Changes after `afterSeq` up to now, or undefined when some of them are no longer kept. */
  replay(afterSeq: number): Numbered[] | undefined {
    const first = this.retained[0]?.seq ?? this.seq + 1;
    if (afterSeq + 1 < first || afterSeq > this.seq) return undefined;
    return this.retained.filter((entry) => entry.seq > afterSeq);
  }

  /**
   * Notifications may have been missed: every stream ends (its client reconnects and, the epoch having
   * changed, gets a reset and a fresh snapshot), and the hub listens again on the next stream.
   */
  private lost(error: Error): void {
    this.onError(error, "the LISTEN connection was lost");
    this.listening = undefined;
    this.unlisten = undefined;
    this.epoch = randomUUID().slice(0, 8);
    this.retained.length = 0;
    this.retainedBytes = 0;
    for (const subscriber of [...this.subscribers]) subscriber.end("listener_lost");
    this.subscribers.clear();
  }

  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  /**
   * Registers a stream's interest rows (the barrier its snapshot needs): the first row gets `id`, which
   * names the stream in its event ids. Returns which of `replaces` (a resumed stream's rows) existed.
   */
  async register(id: string, interests: Interest[], replaces: string[] = []): Promise<Set<string>> {
    const rows = interests.map((interest, i) => ({ id: i === 0 ? id : randomUUID(), interest }));
    const found = await registerInterest(this.db, this.serverId, rows, this.options.lingerSeconds, replaces);
    this.openInterest.set(
      id,
      rows.map((row) => row.id),
    );
    return found;
  }

  /**
   * Resolves with the sequence number reached when the fence of registration `id` arrives (every change
   * committed before it has then arrived too), or undefined after `timeoutMs`. Call before registering.
   */
  fence(id: string, timeoutMs = 5_000): Promise<number | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.fences.delete(id);
        resolve(undefined);
      }, timeoutMs);
      timer.unref();
      this.fences.set(id, (seq) => {
        clearTimeout(timer);
        resolve(seq);
      });
    });
  }

  /** The stream closed: its interest lingers (for a resume) until it expires. */
  release(id: string): void {
    this.openInterest.delete(id);
  }

  /** Shutdown: every stream ends after what it has queued; interest rows of this server go at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const subscriber of [...this.subscribers]) subscriber.end("shutdown");
    this.subscribers.clear();
    const ids = [...this.openInterest.values()].flat();
    this.openInterest.clear();
    await this.unlisten?.().catch(() => {});
    if (ids.length > 0) {
      await this.db.sql
        .query("DELETE FROM watch_interest WHERE id = ANY($1::uuid[])", [ids])
        .catch((error) => this.onError(error, "removing watch interest at shutdown"));
    }
  }
}
