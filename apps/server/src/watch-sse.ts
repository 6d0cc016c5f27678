// Subscriptions (the watch procedures: taskState.watch, assetState.watch, admin.watch) written straight
// to the socket, on tRPC's SSE wire. tRPC's own producer passes every event through a ReadableStream, a
// TransformStream and a TextEncoderStream: about 400 µs of CPU per event per stream here, so one write to
// 1 000 watchers cost 400 ms. The procedure itself still runs through the router (createCaller: token,
// input validation, metrics, error mapping); only the writing of its events differs. The messages are
// tRPC's: `connected`, `id:`/`data:` per event, `ping` while idle, `return` at the end, `serialized-error`
// for a refusal. Live events that need no read are handed straight to this writer by the stream (the
// context's watchWriter), from the hub's loop: a change reaches 1 000 streams without a trip through
// 1 000 iterators.
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

/**
 * One message, sent at once as one HTTP/1.1 chunk on the socket. Through `res.write`, Node writes a chunk
 * as four buffers, corks the socket and uncorks it on the next tick, which comes only after every other
 * stream woken by the same change has run: with 1 000 watchers the first waited for the last, and the
 * per-write machinery cost more than the system call. Headers are out (the `connected` message), so the
 * socket carries the body from here; `res.end` writes the last chunk after these.
 */
function writeEvent(res: http.ServerResponse, message: string, bytes = Buffer.byteLength(message)): boolean {
  const socket = res.socket;
  if (!socket || !res.chunkedEncoding) return res.write(message);
  return socket.write(`${bytes.toString(16)}\r\n${message}\r\n`);
}

/** Waits until the response can take more (or is gone), so a slow reader holds back its stream. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.socket?.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.socket?.on("drain", done);
    res.on("close", done);
  });
}

/** tRPC's connectionParams: a JSON object of strings sent in the URL (null when none were sent). */
export type ConnectionParams = Record<string, string | undefined> | null;

/**
 * The `connectionParams` query parameter as tRPC's httpSubscriptionLink sends it (spec §6: a browser's
 * EventSource, which cannot send an Authorization header, passes `{ token }` there).
 */
function connectionParamsOf(url: URL): ConnectionParams {
  const text = url.searchParams.get("connectionParams");
  if (text === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const valid =
    typeof parsed === "object" &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    Object.values(parsed).every((value) => typeof value === "string");
  if (!valid) {
    throw new TRPCError({
      code: "BAD_REQUEST",
      message: 'connectionParams must be a JSON object of strings, such as {"token":"<JWT>"}',
    });
  }
  return parsed as Record<string, string>;
}

export async function serveWatch(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  procedure: string,
  createContext: (connectionParams: ConnectionParams) => Context,
  onError: (error: TRPCError, path: string) => void,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://cairn");
  const abort = new AbortController();
  let closed = false;
  res.on("close", () => {
    closed = true;
    abort.abort();
  });
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" });
  res.write(`event: connected\ndata: ${CLIENT}\n\n`);

  let input: unknown;
  let ctx: Context | undefined;
  let iterator: AsyncIterator<unknown> | undefined;
  let pinger: NodeJS.Timeout | undefined;
  let wrote = true;
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
    ctx = createContext(connectionParamsOf(url));
    ctx.watchWriter = (eventId, event) => {
      if (closed) return false;
      wrote = true;
      return writeEvent(res, ...frameOf(eventId, event));
    };
    // The caller's procedure at this dotted path (`admin.watch`, `taskState.watch`).
    const call = procedure
      .split(".")
      .reduce<unknown>(
        (node, part) => (node as Record<string, unknown>)[part],
        createCaller(ctx, { signal: abort.signal }),
      ) as (input: unknown) => Promise<AsyncIterable<unknown>>;
    const iterable = await call(input);
    iterator = iterable[Symbol.asyncIterator]();
    // An idle stream gets a ping at least every PING_MS: one timer per stream, not one per event (a
    // write to 1 000 watchers would otherwise arm and clear 1 000 timers).
    pinger = setInterval(() => {
      if (!wrote && !res.socket?.writableNeedDrain && !res.destroyed)
        writeEvent(res, "event: ping\ndata: \n\n");
      wrote = false;
    }, PING_MS / 2);
    for (;;) {
      const result = await iterator.next();
      if (closed) return;
      if (result.done) break;
      const value = result.value;
      wrote = true;
      const more = isTrackedEnvelope(value)
        ? writeEvent(res, ...frameOf(value[0], value[1]))
        : writeEvent(res, ...frameOf(undefined, value));
      if (!more) await drained(res);
    }
    res.end("event: return\ndata: \n\n");
  } catch (error) {
    if (abort.signal.aborted) return;
    const trpcError = streamError(error);
    onError(trpcError, procedure);
    res.end(errorMessage(trpcError, ctx, procedure, input));
    return;
  } finally {
    clearInterval(pinger);
    abort.abort();
    await iterator?.return?.();
  }
}

/** An event's SSE message (`id:` when tracked) and its length in bytes. */
function frameOf(eventId: string | undefined, event: unknown): [string, number] {
  const data = serialized(event);
  const head = eventId === undefined ? "data: " : `id: ${eventId}\ndata: `;
  return [`${head}${data.text}\n\n`, Buffer.byteLength(head) + data.bytes + 2];
}

/** Events shared by many streams (one change, many watchers) are serialized and measured once. */
const json = new WeakMap<object, { text: string; bytes: number }>();

function serialized(value: unknown): { text: string; bytes: number } {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value);
    return { text, bytes: Buffer.byteLength(text) };
  }
  let data = json.get(value);
  if (data === undefined) {
    const text = JSON.stringify(value);
    data = { text, bytes: Buffer.byteLength(text) };
    json.set(value, data);
  }
  return data;
}
