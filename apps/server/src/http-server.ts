// The HTTP surface: /trpc (the router, plain JSON), /healthz, /readyz, /metrics, /openapi.json, /docs and
// /console.
// One log line per request, responses counted by route and status, and a graceful stop (drain) for SIGTERM.
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  type ApiConfig,
  appRouter,
  bearerToken,
  CallHistory,
  type CallObserver,
  createContextFromToken,
  WatchHub,
} from "@cairn/api";
import type { Database } from "@cairn/db";
import type { TRPCError } from "@trpc/server";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import type { Logger } from "pino";
import { serveApiDocs } from "./api-docs.ts";
import { serveConsole } from "./console-files.ts";
import type { Metrics } from "./metrics.ts";
import { checkQuery, readBody, requestProblem } from "./request-checks.ts";
import { createFastPath } from "./trpc-fast-path.ts";
import { type ConnectionParams, isSubscription, serveWatch } from "./watch-sse.ts";

export interface ServerOptions {
  db: Database;
  api: ApiConfig;
  logger: Logger;
  maxBodyBytes: number;
  /** Serves GET /metrics, counts procedure calls and HTTP responses when given. */
  metrics?: Metrics | undefined;
  /** Connection limits; each defaults to its CAIRN_* default. */
  limits?: Partial<ConnectionLimits> | undefined;
  /** Serves watch streams; by default one of the server's own, closed with it. */
  watch?: WatchHub | undefined;
  /** Common JSON calls without tRPC's Fetch conversion (trpc-fast-path.ts); default true. */
  trpcFastPath?: boolean | undefined;
}

export interface ConnectionLimits {
  /** CAIRN_REQUEST_TIMEOUT_SECONDS: the whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** CAIRN_HEADERS_TIMEOUT_SECONDS: the headers must arrive within this. */
  headersTimeoutMs: number;
  /** CAIRN_MAX_CONNECTIONS: open connections at most (more are refused at once); 0 = no limit. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  maxConnections: 1_000,
};

// Each request's id, for the lines tRPC's error hook writes.
const requestIds = new WeakMap<http.IncomingMessage, string>();

export interface RunningServer {
  url: string;
  server: http.Server;
  /**
   * First step of a graceful stop, still accepting: /readyz answers 503 and every response from now on
   * (in flight or new) carries `Connection: close`, so clients move their keep-alive connections away.
   */
  startDraining(): void;
  /**
   * Graceful stop: drains (above), stops accepting, closes idle keep-alive connections, lets in-flight
   * requests finish, and resolves once every connection is closed. Does not close the database.
   */
  close(): Promise<void>;
  /** Cuts every remaining connection now; returns how many requests were still in flight. */
  cutConnections(): number;
}

interface ServerState {
  /** Readiness 503 and `Connection: close` on every response. */
  draining: boolean;
  /** The listener is closed; connections close as soon as they are idle. */
  closing: boolean;
  /** Responses not yet finished (or aborted). */
  inFlight: Set<http.ServerResponse>;
}

/** The route label of a request path: a known endpoint or procedure, else a fixed bucket (bounded cardinality). */
const procedures = new Set(Object.keys(appRouter._def.procedures));
function routeOf(path: string): string {
  if (path.startsWith("/trpc/")) {
    const procedure = path.slice("/trpc/".length);
    if (procedures.has(procedure)) return path;
    return procedure.includes(",") ? "/trpc/(batch)" : "/trpc/(unknown)";
  }
  if (path.startsWith("/docs/")) return "/docs/*";
  if (path === "/console" || path.startsWith("/console/")) return "/console/*";
  return path === "/healthz" ||
    path === "/readyz" ||
    path === "/metrics" ||
    path === "/openapi.json" ||
    path === "/docs"
    ? path
    : "(other)";
}

function createHttpServer(
  options: ServerOptions & { watch: WatchHub },
  state: ServerState,
  onIdle: () => void,
): http.Server {
  const { db, api, logger, metrics, watch } = options;
  const callHistory = new CallHistory();
  const observer: CallObserver = {
    onCall: (call) => {
      metrics?.onCall(call);
      callHistory.record(call);
    },
    // The audit trail of admin tokens: who changed what (never the value).
    onAdminWrite: (write) =>
      logger.info(
        {
          reqId: write.requestId,
          sub: write.sub,
          procedure: write.path,
          outcome: write.outcome,
          target: write.target,
        },
        "admin write",
      ),
  };
  const databaseTrouble = throttledDatabaseWarning(logger);
  // The Authorization header, or else (spec §6) the `token` of tRPC's connectionParams: a browser's own
  // EventSource cannot send headers. The fast path leaves requests with connectionParams to tRPC.
  const contextOf = (req: http.IncomingMessage, connectionParams?: ConnectionParams) =>
    createContextFromToken({
      db,
      watch,
      config: api,
      token: bearerToken(req.headers.authorization) ?? connectionParams?.token,
      observer,
      callHistory,
      requestId: requestIds.get(req),
    });
  const contextFor = (req: http.IncomingMessage, connectionParams: ConnectionParams) => {
    const problem = requestProblem(req);
    if (problem) throw problem;
    return contextOf(req, connectionParams);
  };
  const onError = (error: TRPCError, path: string | undefined, req: http.IncomingMessage) => {
    if (error.code === "SERVICE_UNAVAILABLE" || error.code === "BAD_GATEWAY") {
      databaseTrouble(error, path);
      return;
    }
    if (error.code !== "INTERNAL_SERVER_ERROR") return;
    logger.error({ reqId: requestIds.get(req), err: error.cause ?? error, path }, "internal error");
  };
  const fastPath =
    options.trpcFastPath === false
      ? undefined
      : createFastPath({ router: appRouter, createContext: contextOf, onError });
  /** Serves the call on the fast path (true), unless a request check refused it: tRPC then answers. */
  const servedFast = (req: http.IncomingMessage, res: http.ServerResponse, procedure: string) =>
    fastPath !== undefined && !requestProblem(req) && fastPath(req, res, procedure);
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/trpc/",
    maxBodySize: options.maxBodyBytes,
    createContext: ({ req, info }) => contextFor(req, info.connectionParams),
    onError: ({ error, path, req }) => onError(error, path, req),
  });

  // Below info there is no request line: no timer or log call per request (a hot-path cost).
  const logRequests = logger.isLevelEnabled("info");
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const serverOptions: http.ServerOptions = {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    // Node checks those timeouts every 30 s by default, so a 10 s limit could take 40 s.
    connectionsCheckingInterval: 1_000,
  };
  const server = http.createServer(serverOptions, (req, res) => {
    const requestId = headerValue(req.headers["x-request-id"]) ?? randomUUID();
    requestIds.set(req, requestId);
    res.setHeader("x-request-id", requestId);
    if (state.draining) res.setHeader("connection", "close");
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const started = logRequests ? process.hrtime.bigint() : 0n;
    state.inFlight.add(res);
    res.on("close", () => {
      state.inFlight.delete(res);
      if (res.writableFinished) metrics?.onResponse(routeOf(path), res.statusCode);
      if (logRequests) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        logger.info(
          { reqId: requestId, method: req.method, url: path, status: res.statusCode, ms },
          "request",
        );
      }
      // Closing: a response that could no longer carry `Connection: close` leaves its connection idle.
      if (state.closing) onIdle();
    });

    if (path.startsWith("/trpc/")) {
      if (req.method === "POST") {
        // A client gone while sending its body gets no answer.
        void readBody(req, res, options.maxBodyBytes).then(() => {
          if (req.socket.destroyed) return;
          if (!servedFast(req, res, path.slice("/trpc/".length))) trpc(req, res);
        });
        return;
      }
      if (req.method === "GET") {
        checkQuery(req);
        const procedure = path.slice("/trpc/".length);
        if (isSubscription(procedure)) {
          void serveWatch(
            req,
            res,
            procedure,
            (connectionParams) => contextFor(req, connectionParams),
            (error) => onError(error, procedure, req),
          );
          return;
        }
        if (!servedFast(req, res, procedure)) trpc(req, res);
        return;
      }
      return methodNotAllowed(res, "GET, POST", true);
    }
    // Load balancers probe with HEAD: Node sends the headers of the GET answer without its body.
    if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(res, "GET, HEAD", false);
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    const docsFailed = (error: unknown) => logger.error({ reqId: requestId, err: error }, "API docs failed");
    if (serveApiDocs(path, res, docsFailed)) return;
    const consoleFailed = (error: unknown) =>
      logger.error({ reqId: requestId, err: error }, "console failed");
    if (serveConsole(path, res, consoleFailed)) return;
    if (path === "/metrics" && metrics) {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(text);
        },
        (error: unknown) => {
          logger.error({ reqId: requestId, err: error }, "metrics failed");
          sendJson(res, 500, { error: "metrics failed" });
        },
      );
      return;
    }
    if (path === "/readyz") {
      // A draining server tells load balancers and orchestrators to stop sending it traffic.
      if (state.draining) return sendJson(res, 503, { status: "shutting down" });
      db.ping().then(
        () => sendJson(res, 200, { status: "ready" }),
        (error: unknown) => {
          logger.warn({ reqId: requestId, err: error }, "readiness check failed: database does not answer");
          sendJson(res, 503, { status: "database unavailable" });
        },
      );
      return;
    }
    sendJson(res, 404, { error: "not found: the API is served under /trpc/<procedure>" });
  });
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  return server;
}

export async function startServer(
  options: ServerOptions & { host?: string; port?: number },
): Promise<RunningServer> {
  const state: ServerState = { draining: false, closing: false, inFlight: new Set() };
  const watch =
    options.watch ??
    new WatchHub(options.db, {
      onError: (error, what) => options.logger.error({ err: error }, `watch: ${what}`),
      observer: options.metrics,
    });
  const server: http.Server = createHttpServer({ ...options, watch }, state, () =>
    server.closeIdleConnections(),
  );
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;

  const startDraining = () => {
    if (state.draining) return;
    state.draining = true;
    for (const res of state.inFlight) if (!res.headersSent) res.setHeader("connection", "close");
  };
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    server,
    startDraining,
    close: () => {
      startDraining();
      state.closing = true;
      // Watch streams end (after what they have queued), so they do not hold the drain open.
      const streamsEnded = watch.close();
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : streamsEnded.then(resolve)));
        server.closeIdleConnections();
      });
      return closed;
    },
    cutConnections: () => {
      const cut = state.inFlight.size;
      server.closeAllConnections();
      return cut;
    },
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && first.length <= 200 ? first : undefined;
}

/**
 * While the database is away every request fails the same way: one warning per interval, with how many
 * calls failed since the last one, instead of a line (and a stack) per request.
 */
function throttledDatabaseWarning(logger: Logger, intervalMs = 10_000) {
  let lastAt = 0;
  let failed = 0;
  return (error: { message: string; cause?: unknown }, path: string | undefined) => {
    failed++;
    const now = Date.now();
    if (now - lastAt < intervalMs) return;
    lastAt = now;
    const domain = error.cause as { reason?: unknown; cause?: unknown } | undefined;
    const driver = domain?.cause instanceof Error ? domain.cause.message : undefined;
    logger.warn(
      { reason: domain?.reason, driver, path, failedCalls: failed },
      `database trouble: ${error.message}`,
    );
    failed = 0;
  };
}

/** 405 before tRPC (which would log anything but GET and POST as an internal error), in its envelope on /trpc. */
function methodNotAllowed(res: http.ServerResponse, allow: string, trpcEnvelope: boolean): void {
  res.setHeader("allow", allow);
  const message = `method not allowed: use ${allow.replace(", ", " or ")}`;
  sendJson(
    res,
    405,
    trpcEnvelope
      ? { error: { message, code: -32005, data: { code: "METHOD_NOT_SUPPORTED", httpStatus: 405 } } }
      : { error: message },
  );
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
