// The common /trpc request served without tRPC's Fetch conversion: a well-formed JSON query (GET) or
// mutation (POST), single or batched, to procedures that exist and accept that method. tRPC's own
// node-http adapter turns each request into a WHATWG Request with AbortSignals, resolves a WHATWG Response
// and streams it back chunked: on the hot path that cost as much CPU as the procedure itself. Here the
// procedures run as tRPC runs them (same middlewares, same error formatter and status codes: its exported
// helpers), and the answer is one write with a Content-Length.
//
// Anything else (a subscription, a streaming accept header, an unknown path, a wrong method, input that is
// not JSON, a request the checks refused) is left to tRPC's adapter, so every error stays exactly its.
import type http from "node:http";
import type { AnyTRPCProcedure, AnyTRPCRouter } from "@trpc/server";
import {
  getErrorShape,
  getHTTPStatusCode,
  getProcedureAtPath,
  getTRPCErrorFromUnknown,
  type TRPCError,
  transformTRPCResponse,
} from "@trpc/server/unstable-core-do-not-import";

type ProcedureType = "query" | "mutation";

export interface FastPathOptions<TContext> {
  router: AnyTRPCRouter;
  createContext: (req: http.IncomingMessage) => TContext;
  onError: (error: TRPCError, path: string, req: http.IncomingMessage) => void;
}

interface Call {
  path: string;
  procedure: AnyTRPCProcedure;
  input: unknown;
}

type Outcome = { data: unknown; error?: undefined } | { error: TRPCError; data?: undefined };

// tRPC's own response headers for JSON answers.
const HEADERS = { "content-type": "application/json", vary: "trpc-accept, accept" };

/**
 * Returns a handler that serves the request (true) or leaves it untouched for tRPC's adapter (false).
 * `path` is the request path after /trpc/; a POST's body has been read into `req.body` (readBody).
 */
export function createFastPath<TContext>(opts: FastPathOptions<TContext>) {
  const { router } = opts;
  const config = router._def._config;
  // The router is built eagerly (no lazy sub-routers) and its record has no prototype: a plain lookup.
  const procedures = router._def.procedures as Record<string, AnyTRPCProcedure | undefined>;

  /** The calls of a request, or undefined when tRPC's adapter should answer it. */
  const callsOf = (
    req: http.IncomingMessage,
    path: string,
    params: URLSearchParams,
  ): { calls: Call[]; batch: boolean } | undefined => {
    const type: ProcedureType = req.method === "GET" ? "query" : "mutation";
    if (path.includes("%")) return undefined;
    if (req.headers["trpc-accept"] !== undefined || req.headers.accept?.includes("application/jsonl")) {
      return undefined;
    }
    // tRPC parses connectionParams (a token, for a browser) into the context's inputs.
    if (params.has("connectionParams")) return undefined;
    const batch = params.get("batch") === "1";
    let raw: unknown;
    try {
      const text = type === "query" ? params.get("input") : (req as { body?: unknown }).body;
      if (typeof text === "string" && text !== "") raw = JSON.parse(text);
      else if (text !== null && text !== undefined && text !== "") return undefined;
    } catch {
      return undefined;
    }
    const paths = batch ? path.split(",") : [path];
    if (batch && raw !== undefined && (typeof raw !== "object" || raw === null || Array.isArray(raw))) {
      return undefined;
    }
    const calls: Call[] = [];
    for (let index = 0; index < paths.length; index++) {
      const callPath = paths[index]!;
      const procedure = procedures[callPath];
      if (!procedure || procedure._def.type !== type) return undefined;
      const input = batch ? (raw as Record<string, unknown> | undefined)?.[index] : raw;
      calls.push({ path: callPath, procedure, input });
    }
    return { calls, batch };
  };

  return function serveFast(req: http.IncomingMessage, res: http.ServerResponse, path: string): boolean {
    const queryAt = (req.url ?? "").indexOf("?");
    const search = queryAt < 0 ? "" : (req.url ?? "").slice(queryAt + 1);
    if (req.method === "POST") {
      // tRPC's JSON handler takes only application/json bodies; it answers the rest (415) itself.
      const contentType = req.headers["content-type"]?.toLowerCase().split(";", 1)[0]?.trim();
      if (contentType !== "application/json") return false;
    } else if (req.method !== "GET") {
      return false;
    }
    const parsed = callsOf(req, path, new URLSearchParams(search));
    if (!parsed) return false;
    const { calls, batch } = parsed;
    const ctx = opts.createContext(req);
    const run = async (call: Call, batchIndex: number): Promise<Outcome> => {
      try {
        const data: unknown = await call.procedure({
          path: call.path,
          getRawInput: async () => call.input,
          ctx,
          type: call.procedure._def.type,
          signal: undefined,
          batchIndex,
        });
        return { data };
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        opts.onError(error, call.path, req);
        return { error };
      }
    };
    const respond = (outcomes: Outcome[]) => {
      const json = outcomes.map((outcome, index) => {
        const call = calls[index]!;
        if (!outcome.error) return { result: { data: outcome.data } };
        return {
          error: getErrorShape({
            config,
            ctx,
            error: outcome.error,
            input: call.input,
            path: call.path,
            type: call.procedure._def.type,
          }),
        };
      });
      const status = getHTTPStatusCode(
        json,
        outcomes.map((outcome) => outcome.error),
      );
      const body = JSON.stringify(transformTRPCResponse(config, batch ? json : json[0]!));
      res.writeHead(status, { ...HEADERS, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (calls.length === 1) {
      void run(calls[0]!, 0).then((outcome) => respond([outcome]));
    } else {
      void Promise.all(calls.map(run)).then(respond);
    }
    return true;
  };
}
