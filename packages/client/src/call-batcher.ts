// The verbs' HTTP transport: calls made in the same event-loop turn go out as one tRPC batch request
// (the wire format of httpBatchLink, plain JSON), with none of tRPC's per-call machinery. The profile of
// 50 batched sets through httpBatchLink was a quarter garbage collection, mostly two AbortControllers, an
// observable chain and several object copies per call; here a call is one small record, and a batch
// has one AbortController.
import { TRPCClientError } from "@trpc/client";
import { BadRequestError } from "./errors.ts";
import { longerThan, type TransportSettings } from "./transport.ts";

export type CallType = "query" | "mutation";

/**
 * Sends one call: resolves with its `result.data`, rejects with a TRPCClientError (mapped to a
 * CairnError by the caller, as tRPC's own links' errors are) or a BadRequestError for a query too long
 * for one URL. `deadline` (epoch ms) bounds the request: a batch is aborted once every call in it is past
 * its deadline, so a server that never answers does not keep connections open.
 */
export type SendCall = (type: CallType, path: string, input: unknown, deadline: number) => Promise<unknown>;

interface PendingCall {
  path: string;
  /** The input as JSON, serialized once. */
  json: string;
  deadline: number;
  resolve: (data: unknown) => void;
  reject: (error: unknown) => void;
}

/** How long after the last of its calls' deadlines a request nobody answers is abandoned. */
const ABANDON_AFTER_MS = 100;

const defer: (run: () => void) => void =
  typeof setImmediate === "function" ? (run) => setImmediate(run) : (run) => setTimeout(run, 0);

export function createCallBatcher(options: TransportSettings): SendCall {
  // Called as a plain function: a browser's fetch called as `options.fetch(...)` throws "Illegal invocation".
  const fetchImpl = options.fetch;
  const pending: Record<CallType, PendingCall[]> = { query: [], mutation: [] };
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const queries = pending.query;
    const mutations = pending.mutation;
    pending.query = [];
    pending.mutation = [];
    if (queries.length > 0) sendQueries(queries);
    if (mutations.length > 0) sendMutations(mutations);
  };

  const sendQueries = (calls: PendingCall[]) => {
    // The URL grows by each call's path and encoded input: it is measured as it grows (an encoded
    // string is the concatenation of its parts' encodings), and a call that would pass maxURLLength
    // starts the next request.
    const base = `${options.endpoint}/`;
    let batch: PendingCall[] = [];
    let paths = "";
    let inputs = "";
    const send = () => {
      if (batch.length === 0) return;
      request("GET", `${base}${paths}?batch=1&input=%7B${inputs}%7D`, undefined, batch);
      batch = [];
      paths = "";
      inputs = "";
    };
    for (const call of calls) {
      for (;;) {
        const first = batch.length === 0;
        const nextPaths = first ? call.path : `${paths},${call.path}`;
        const nextInputs = `${inputs}${first ? "" : "%2C"}%22${batch.length}%22%3A${encodeURIComponent(call.json)}`;
        const length = base.length + nextPaths.length + "?batch=1&input=%7B%7D".length + nextInputs.length;
        if (length <= options.maxURLLength && batch.length < options.maxItems) {
          batch.push(call);
          paths = nextPaths;
          inputs = nextInputs;
          break;
        }
        if (first) {
          call.reject(
            new BadRequestError(
              `${call.path}: the input makes a URL longer than maxURLLength (shorten the key, prefix or asset name, or raise maxURLLength)`,
              { code: "BAD_REQUEST", httpStatus: 0, path: call.path },
            ),
          );
          break;
        }
        send();
      }
    }
    send();
  };

  const sendMutations = (calls: PendingCall[]) => {
    let batch: PendingCall[] = [];
    const send = () => {
      if (batch.length === 0) return;
      const body = `{${batch.map((call, i) => `"${i}":${call.json}`).join(",")}}`;
      request("POST", `${options.endpoint}/${batch.map((call) => call.path).join(",")}?batch=1`, body, batch);
      batch = [];
    };
    for (const call of calls) {
      // A large write goes alone, so concurrent large writes never add up past the server's body limit.
      if (longerThan(call.json, options.aloneBytes)) {
        request("POST", `${options.endpoint}/${call.path}`, call.json, [call]);
        continue;
      }
      batch.push(call);
      if (batch.length === options.maxItems) send();
    }
    send();
  };

  const request = (method: "GET" | "POST", url: string, body: string | undefined, calls: PendingCall[]) => {
    const controller = new AbortController();
    let latest = 0;
    for (const call of calls) latest = Math.max(latest, call.deadline);
    // A moment after the last deadline, so that each call's own timer reports its TimeoutError first.
    const timer = Number.isFinite(latest)
      ? setTimeout(() => controller.abort(), Math.max(0, latest - Date.now()) + ABANDON_AFTER_MS)
      : undefined;
    const headers =
      method === "POST" ? { ...options.headers, "content-type": "application/json" } : options.headers;
    const init: RequestInit = { method, headers, signal: controller.signal };
    if (body !== undefined) init.body = body;
    // A fetch that throws instead of rejecting fails its calls, not the event loop's turn (this runs in a
    // setImmediate callback, where a throw would end the process).
    const response = new Promise<Response>((resolve) => resolve(fetchImpl(url, init)));
    answer(response, calls).finally(() => clearTimeout(timer));
  };

  return (type, path, input, deadline) =>
    new Promise((resolve, reject) => {
      pending[type].push({ path, json: JSON.stringify(input), deadline, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        defer(flush);
      }
    });
}

/**
 * Settles each call from its envelope in the answer. An answer that is not JSON (a proxy's 503 page)
 * fails every call with its HTTP status (the settings' fetch throws an HttpStatusError); a single
 * envelope for a whole batch (the server refused the request itself) fails every call with it.
 */
async function answer(responsePromise: Promise<Response>, calls: PendingCall[]): Promise<void> {
  let response: Response | undefined;
  try {
    response = await responsePromise;
    const json: unknown = await response.json();
    const meta = { response, responseJSON: json };
    const envelopes = Array.isArray(json) ? json : calls.map(() => json);
    calls.forEach((call, i) => {
      const envelope = envelopes[i] as { result?: { data?: unknown }; error?: unknown } | undefined;
      if (envelope?.result && typeof envelope.result === "object") call.resolve(envelope.result.data);
      else if (envelope?.error && typeof envelope.error === "object")
        call.reject(TRPCClientError.from(envelope as { error: never }, { meta }));
      else call.reject(TRPCClientError.from(new Error("Badly formatted response from server"), { meta }));
    });
  } catch (error) {
    const meta = response === undefined ? undefined : { response };
    const failure = TRPCClientError.from(error as Error, meta === undefined ? {} : { meta });
    for (const call of calls) call.reject(failure);
  }
}
