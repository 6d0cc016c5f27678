// `cairn clean [--dry-run]`: delete expired state now, batch by batch with progress, through a running server.
import type { AdminClient } from "./admin-client.ts";
import { type Output, table } from "./output.ts";

export async function cleanCommand(
  client: AdminClient,
  flags: { "dry-run"?: boolean | undefined; "batch-size"?: string | undefined; limit?: string | undefined },
  output: Output,
): Promise<number> {
  if (flags["dry-run"]) {
    const limit = flags.limit === undefined ? 50 : Number(flags.limit);
    const preview = await client.admin.cleanup.preview.query({ limit });
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
  const batchSize = flags["batch-size"] === undefined ? 1000 : Number(flags["batch-size"]);
  const totals = { task: 0, asset: 0 };
  // One bounded call per batch, so a long clean shows progress and no request runs for minutes.
  for (;;) {
    const result = await client.admin.cleanup.run.mutate({ batchSize, maxBatches: 1 });
    totals.task += result.task;
    totals.asset += result.asset;
    if (!output.json) output.err(`… deleted ${totals.task} task state, ${totals.asset} asset state row(s)`);
    if (result.done) break;
  }
  output.out(
    output.json
      ? JSON.stringify({ deleted: totals })
      : `deleted ${totals.task} task state and ${totals.asset} asset state row(s)`,
  );
  return 0;
}
