// The watch procedures' work: check access now (a refusal is the stream's first and only event), then
// hand back the stream.

import type { Principal } from "../../auth/tokens.ts";
import type { Context } from "../../context.ts";
import type { AssetRef } from "../../schemas.ts";
import {
  adminAssetWatchScope,
  allWatchScope,
  assetWatchScope,
  type KeyFilter,
  runWatchScope,
  taskWatchScope,
} from "./scopes.ts";
import { watchStream } from "./stream.ts";

/** The context's hub, listening: a database it cannot reach fails the call (503), not the stream. */
async function hubOf(ctx: Context) {
  // The server always makes one; only a context built without it (a test's createCaller) lacks it.
  if (!ctx.watch)
    throw new Error("watch streams need a WatchHub in the context (createContextInner({ watch }))");
  await ctx.watch.ready();
  return ctx.watch;
}

export async function watchTaskState(
  ctx: Context,
  input: KeyFilter & { taskInstanceId: string; lastEventId?: string | null | undefined },
  signal: AbortSignal | undefined,
) {
  const hub = await hubOf(ctx);
  const scope = await taskWatchScope(ctx.db.sql, input.taskInstanceId, input, ctx.tokenValid);
  return watchStream(hub, scope, input.lastEventId, signal, ctx.watchWriter);
}

export async function watchAssetState(
  ctx: Context,
  principal: Principal,
  input: KeyFilter & { asset: AssetRef; lastEventId?: string | null | undefined },
  signal: AbortSignal | undefined,
) {
  const hub = await hubOf(ctx);
  const scope = await assetWatchScope(ctx.db.sql, principal, input.asset, input, ctx.tokenValid);
  return watchStream(hub, scope, input.lastEventId, signal, ctx.watchWriter);
}

export async function watchAsAdmin(
  ctx: Context,
  input: {
    dagId?: string | undefined;
    runId?: string | undefined;
    asset?: AssetRef | undefined;
    prefix?: string | undefined;
    lastEventId?: string | null | undefined;
  },
  signal: AbortSignal | undefined,
) {
  const hub = await hubOf(ctx);
  const scope = input.asset
    ? await adminAssetWatchScope(ctx.db.sql, input.asset, input.prefix, ctx.tokenValid)
    : input.dagId !== undefined && input.runId !== undefined
      ? await runWatchScope(ctx.db.sql, input.dagId, input.runId, input.prefix, ctx.tokenValid)
      : await allWatchScope(ctx.db.sql, input.dagId, input.prefix, ctx.tokenValid);
  return watchStream(hub, scope, input.lastEventId, signal, ctx.watchWriter);
}
