// What the server checks of a /trpc request before tRPC sees it: the body's size and that the body and the
// query are valid UTF-8. tRPC (like every WHATWG decoder) would otherwise replace invalid bytes with
// U+FFFD, so two different byte strings would name the same key. A request that fails a check still goes
// through tRPC, whose context then refuses it (createContext), so every call of a batch gets the error in
// tRPC's envelope with `data.reason`.
import { isUtf8 } from "node:buffer";
import type http from "node:http";
import { DomainError } from "@cairn/api";
import { TRPCError } from "@trpc/server";

export type RequestProblem = "body_too_large" | "body_not_utf8" | "query_not_utf8";

const problems = new WeakMap<http.IncomingMessage, RequestProblem>();

/** The error tRPC's context throws for a request that failed a check; undefined when it passed. */
export function requestProblem(req: http.IncomingMessage): TRPCError | undefined {
  const problem = problems.get(req);
  if (problem === undefined) return undefined;
  if (problem === "body_too_large") {
    return new TRPCError({
      code: "PAYLOAD_TOO_LARGE",
      message: "the request body is larger than the server accepts",
    });
  }
  const where = problem === "body_not_utf8" ? "request body" : "query string";
  const message = `the ${where} is not valid UTF-8: send text as UTF-8 (JSON escapes such as \\u00e9 are fine)`;
  return new TRPCError({
    code: "BAD_REQUEST",
    message,
    cause: new DomainError("bad_request", "invalid_value", message),
  });
}

/** A percent-escape of a byte above 0x7F: only then can the query's UTF-8 be wrong. */
const NON_ASCII_ESCAPE = /%[89a-f][0-9a-f]/i;

/** Checks a GET's query string: every percent-escaped sequence must decode as UTF-8. */
export function checkQuery(req: http.IncomingMessage): void {
  const url = req.url ?? "";
  const query = url.indexOf("?");
  if (query < 0) return;
  // Raw bytes above 0x7F never get here: Node's HTTP parser refuses such a request line with a 400.
  const raw = url.slice(query + 1);
  if (!NON_ASCII_ESCAPE.test(raw)) return;
  for (const part of raw.split("&")) {
    try {
      decodeURIComponent(part.replaceAll("+", " "));
    } catch {
      problems.set(req, "query_not_utf8");
      return;
    }
  }
}

/**
 * Reads a POST body (at most `maxBytes`) and hands it to tRPC as `req.body`, already decoded. Resolves
 * once tRPC may run: with the body, or with the request marked as refused (the rest of an over-size body
 * is not read; its connection closes after the answer).
 */
export function readBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  maxBytes: number,
): Promise<void> {
  const refuse = (problem: RequestProblem) => {
    problems.set(req, problem);
    // tRPC must not read the stream again; the context refuses the request before any input is parsed.
    (req as http.IncomingMessage & { body?: string }).body = "";
    if (problem === "body_too_large") res.setHeader("connection", "close");
  };
  const declared = Number(req.headers["content-length"]);
  if (declared > maxBytes) {
    refuse("body_too_large");
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        refuse("body_too_large");
        req.pause();
        done();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (!isUtf8(body)) refuse("body_not_utf8");
      else (req as http.IncomingMessage & { body?: string }).body = body.toString("utf8");
      done();
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", done); // the client went away: its socket is destroyed, which the caller checks
  });
}
