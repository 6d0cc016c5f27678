// Subscriptions (the watch procedures: taskState.watch, assetState.watch, admin.watch) written straight
// to the socket, on tRPC's SSE wire. tRPC's own producer passes every event through a ReadableStream, a
// TransformStream and a TextEncoderStream: about 400 µs of CPU per event per stream here, so one write to
// 1 000 watchers cost 400 ms. The procedure itself still runs through the router (createCaller: token,
// input validation, metrics, error mapping); only the writing of its events differs. The messages are
// tRPC's: `connected`, `id:`/`data:` per event, `ping` while idle, `return` at the end, `serialized-error`
// for a refusal.
import type http from "node:http";
import { appRouter, type Context, createCaller, streamError } from "@cairn/api";
import { getErrorShape, isTrackedEnvelope, TRPCError } from "@trpc/server/unstable-core-do-not-import";

// The router's own SSE settings (trpc.ts), which tRPC's producer would use.
const { sse } = appRouter._def._config;
const PING_MS = sse?.ping?.intervalMs ?? 15_000;
const CLIENT = JSON.stringify(sse?.client ?? {});

/** Whether the path names a subscription of the router (a watch procedure). */
export function isSubscription(procedure: string): boolean {
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
  return Object.hasOwn(procedures, procedure) && procedures[procedure]?._def.type === "subscription";
}

/** A `serialized-error` message, shaped by the router's error formatter as tRPC would. */
function errorMessage(error: TRPCError, ctx: Context | undefined, path: string, input: unknown): string {
  const shape = getErrorShape({
    config: appRouter._def._config,
    error,
    type: "subscription",
    path,
    input,
    ctx,
  });
  return `event: serialized-error\ndata: ${JSON.stringify(shape)}\n\n`;
}

/** Waits until the response can take more (or is gone), so a slow reader holds back its stream. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

export async function serveWatch(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  procedure: string,
  createContext: () => Context,
  onError: (error: TRPCError, path: string) => void,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://cairn");
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" });
  res.write(`event: connected\ndata: ${CLIENT}\n\n`);

  let input: unknown;
  let ctx: Context | undefined;
  let iterator: AsyncIterator<unknown> | undefined;
  try {
    try {
      input = JSON.parse(url.searchParams.get("input") ?? "undefined");
    } catch {
      throw new TRPCError({ code: "PARSE_ERROR", message: "the input is not JSON" });
    }
    const lastEventId = req.headers["last-event-id"] ?? url.searchParams.get("lastEventId");
    if (typeof lastEventId === "string" && input !== null && typeof input === "object") {
      input = { ...input, lastEventId };
    }
    ctx = createContext();
    // The caller's procedure at this dotted path (`admin.watch`, `taskState.watch`).
    const call = procedure
      .split(".")
      .reduce<unknown>(
        (node, part) => (node as Record<string, unknown>)[part],
        createCaller(ctx, { signal: abort.signal }),
      ) as (input: unknown) => Promise<AsyncIterable<unknown>>;
    const iterable = await call(input);
    iterator = iterable[Symbol.asyncIterator]();
    for (;;) {
      const result = await nextOrPings(iterator, res);
      if (abort.signal.aborted) return;
      if (result.done) break;
      const value = result.value;
      const frame = isTrackedEnvelope(value)
        ? `id: ${value[0]}\ndata: ${serialized(value[1])}\n\n`
        : `data: ${serialized(value)}\n\n`;
      if (!res.write(frame)) await drained(res);
    }
    res.end("event: return\ndata: \n\n");
  } catch (error) {
    if (abort.signal.aborted) return;
    const trpcError = streamError(error);
    onError(trpcError, procedure);
    res.end(errorMessage(trpcError, ctx, procedure, input));
    return;
  } finally {
    abort.abort();
    await iterator?.return?.();
  }
}

/** Events shared by many streams (one change, many watchers) are serialized once. */
const json = new WeakMap<object, string>();

function serialized(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  let text = json.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    json.set(value, text);
  }
  return text;
}

const PING = Symbol("ping");

/** The iterator's next result; while it takes longer than PING_MS, a ping goes out every PING_MS. */
async function nextOrPings(
  iterator: AsyncIterator<unknown>,
  res: http.ServerResponse,
): Promise<IteratorResult<unknown>> {
  const next = iterator.next();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const raced = await Promise.race([
      next,
      new Promise<typeof PING>((resolve) => {
        timer = setTimeout(() => resolve(PING), PING_MS);
      }),
    ]);
    clearTimeout(timer);
    if (raced !== PING) return raced;
    if (res.destroyed) return next;
    if (!res.write("event: ping\ndata: \n\n")) await drained(res);
  }
}
