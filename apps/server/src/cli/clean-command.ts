// `cairn clean [--dry-run]`: delete expired state now, batch by batch with progress, through a running server.
import type { AdminClient } from "./admin-client.ts";
import { UsageError } from "./admin-client.ts";
import { type Confirm, cancelled } from "./confirm.ts";
import { type Output, table } from "./output.ts";

export interface CleanOptions {
  dryRun?: boolean | undefined;
  batchSize?: number | undefined;
  /** With --dry-run: how many rows to list. */
  limit?: number | undefined;
}

export async function cleanCommand(
  connect: () => AdminClient,
  options: CleanOptions,
  output: Output,
  confirm: Confirm,
): Promise<number> {
  if (!options.dryRun && options.limit !== undefined) {
    throw new UsageError("--limit is for --dry-run (how many rows it lists)");
  }
  if (options.dryRun && options.batchSize !== undefined) {
    throw new UsageError("--batch-size is for a clean that deletes, not for --dry-run");
  }
  const client = connect();
  if (options.dryRun) {
    const preview = await client.admin.cleanup.preview.query({ limit: options.limit ?? 50 });
    if (output.json) {
      output.out(JSON.stringify(preview));
      return 0;
    }
    output.out(
      table(
        preview.items.map((row) => ({
          plane: row.plane,
          owner: row.owner,
          key: row.key,
          expired: row.expiresAt,
        })),
        ["plane", "owner", "key", "expired"],
        "(nothing has expired)",
      ),
    );
    const shown = preview.items.length;
    const total = preview.total.task + preview.total.asset;
    output.out(
      `would delete ${preview.total.task} task state and ${preview.total.asset} asset state row(s)${shown < total ? ` (first ${shown} shown)` : ""}`,
    );
    return 0;
  }
  // The total first, for the question and for "n of total" (rows that expire meanwhile go too).
  const { total: expired } = await client.admin.cleanup.preview.query({ limit: 0 });
  const total = expired.task + expired.asset;
  if (
    !(await confirm(
      `delete ${total} expired row(s) (${expired.task} task state, ${expired.asset} asset state)`,
    ))
  ) {
    return cancelled(output);
  }
  const batchSize = options.batchSize ?? 1000;
  const totals = { task: 0, asset: 0 };
  // One bounded call per batch, so a long clean shows progress and no request runs for minutes.
  for (;;) {
    const result = await client.admin.cleanup.run.mutate({ batchSize, maxBatches: 1 });
    totals.task += result.task;
    totals.asset += result.asset;
    if (!output.json) {
      const deleted = totals.task + totals.asset;
      output.err(
        `… deleted ${deleted} of ${Math.max(total, deleted)} row(s) (${totals.task} task state, ${totals.asset} asset state)`,
      );
    }
    if (result.done) break;
  }
  output.out(
    output.json
      ? JSON.stringify({ deleted: totals })
      : `deleted ${totals.task} task state and ${totals.asset} asset state row(s)`,
  );
  return 0;
}
