// Coalesces calls made in the same event-loop turn into one call of `run`. A tRPC batch of 50 sets
// reaches the service as 50 concurrent calls; served by one multi-row statement they cost one round trip
// and one commit instead of 50. Lone calls go to `runOne` unchanged, so an unbatched request pays nothing.

export class TickBatcher<Item, Result> {
  private pending: { item: Item; resolve: (r: Result | undefined) => void; reject: (e: unknown) => void }[] =
    [];

  constructor(
    /** Serves several items; returns one result per item, undefined where the item needs the single path. */
    private readonly runMany: (items: Item[]) => Promise<(Result | undefined)[]>,
    /** The single-item path (also the fallback for items runMany leaves undefined). */
    private readonly runOne: (item: Item) => Promise<Result>,
    /** Items that must not share a statement (e.g. the same key twice) go to separate rounds. */
    private readonly identity: (item: Item) => string,
  ) {}

  add(item: Item): Promise<Result> {
    if (this.pending.length === 0) setImmediate(() => void this.flush());
    return new Promise<Result | undefined>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
    }).then((result) => (result === undefined ? this.runOne(item) : result));
  }

  private async flush(): Promise<void> {
    let round = this.pending;
    this.pending = [];
    while (round.length > 0) {
      // Items with the same identity go to later rounds, in their order of arrival.
      const seen = new Set<string>();
      const now: typeof round = [];
      const later: typeof round = [];
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
        // resolve(undefined) sends the lone item down the single path (after earlier rounds finished).
        await this.runOne(only!.item).then(only!.resolve, only!.reject);
      } else {
        try {
          const results = await this.runMany(now.map((entry) => entry.item));
          for (const [i, entry] of now.entries()) entry.resolve(results[i]);
        } catch {
          // Each item then takes the single path, which fails (or not) with its own error.
          for (const entry of now) entry.resolve(undefined);
        }
      }
      round = later;
    }
  }
}
