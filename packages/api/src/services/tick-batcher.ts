// Coalesces calls made in the same event-loop turn into one call of `runMany`. A tRPC batch of 50 sets
// reaches the service as 50 concurrent calls; served by one multi-row statement they cost one round trip
// and one commit instead of 50. Lone calls go to `runOne` unchanged, so an unbatched request pays nothing.
import type { SqlRunner } from "@cairn/db";

interface Pending<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/**
 * `Result` excludes undefined: undefined is how `runMany` hands an item to `runOne`, so a `runOne` that
 * could return it would be taken for a hand-over and run again.
 */
export class TickBatcher<Item, Result extends object | null> {
  /** Per runner: statements of one database never carry items of another. */
  private readonly pending = new Map<SqlRunner, Pending<Item, Result>[]>();

  constructor(
    /** Serves several items in one statement; one result per item, undefined where the item needs `runOne`. */
    private readonly runMany: (sql: SqlRunner, items: Item[]) => Promise<(Result | undefined)[]>,
    /** Serves one item: a lone call, an item `runMany` left undefined, or any item of a batch that failed. */
    private readonly runOne: (sql: SqlRunner, item: Item) => Promise<Result>,
    /** Items that must not share a statement (e.g. the same key twice) go to separate rounds. */
    private readonly identity: (item: Item) => string,
  ) {}

  add(sql: SqlRunner, item: Item): Promise<Result> {
    const queue = this.pending.get(sql) ?? this.open(sql);
    return new Promise<Result>((resolve, reject) => {
      queue.push({ item, resolve, reject });
    });
  }

  /** The queue of this event-loop turn, flushed once the turn's other callbacks have added to it. */
  private open(sql: SqlRunner): Pending<Item, Result>[] {
    const queue: Pending<Item, Result>[] = [];
    this.pending.set(sql, queue);
    setImmediate(() => {
      this.pending.delete(sql);
      void this.flush(sql, queue);
    });
    return queue;
  }

  private async flush(sql: SqlRunner, entries: Pending<Item, Result>[]): Promise<void> {
    let round = entries;
    while (round.length > 0) {
      // Items with the same identity go to later rounds, in their order of arrival.
      const seen = new Set<string>();
      const now: Pending<Item, Result>[] = [];
      const later: Pending<Item, Result>[] = [];
      for (const entry of round) {
        const id = this.identity(entry.item);
        if (seen.has(id)) later.push(entry);
        else {
          seen.add(id);
          now.push(entry);
        }
      }
      if (now.length === 1) {
        const [only] = now;
        await this.runOne(sql, only!.item).then(only!.resolve, only!.reject);
      } else {
        // One bad item fails the whole statement: each item then takes `runOne`, so each caller gets
        // its own result or its own error.
        const results = await this.runMany(
          sql,
          now.map((entry) => entry.item),
        ).catch(() => undefined);
        // Awaited before the next round: a later write of the same key must not overtake these.
        await Promise.all(
          now.map((entry, i) => {
            const result = results?.[i];
            if (result !== undefined) return entry.resolve(result);
            return this.runOne(sql, entry.item).then(entry.resolve, entry.reject);
          }),
        );
      }
      round = later;
    }
  }
}
