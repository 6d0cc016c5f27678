// The HTTP surface: /trpc (the router, plain JSON), /healthz, /readyz. One log line per request.
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type ApiConfig, appRouter, bearerToken, createContextFromToken } from "@cairn/api";
import type { Database } from "@cairn/db";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import type { Logger } from "pino";
import type { Metrics } from "./metrics.ts";

export interface ServerOptions {
  db: Database;
  api: ApiConfig;
  logger: Logger;
  maxBodyBytes: number;
  /** Serves GET /metrics and counts procedure calls when given. */
  metrics?: Metrics | undefined;
}

// Each request's id, for the lines tRPC's error hook writes.
const requestIds = new WeakMap<http.IncomingMessage, string>();

export interface RunningServer {
  url: string;
  server: http.Server;
  /** Stops accepting, lets in-flight requests finish, then resolves. Does not close the database. */
  close(): Promise<void>;
}

export function createServer(options: ServerOptions): http.Server {
  const { db, api, logger, metrics } = options;
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/trpc/",
    maxBodySize: options.maxBodyBytes,
    createContext: ({ req }) =>
      createContextFromToken({
        db,
        config: api,
        token: bearerToken(req.headers.authorization),
        observer: metrics,
      }),
    onError: ({ error, path, req }) => {
      if (error.code !== "INTERNAL_SERVER_ERROR") return;
      logger.error({ reqId: requestIds.get(req), err: error.cause ?? error, path }, "internal error");
    },
  });

  // Below info there is no request line: no timer, listener or child logger per request (a hot-path cost).
  const logRequests = logger.isLevelEnabled("info");
  return http.createServer((req, res) => {
    const requestId = headerValue(req.headers["x-request-id"]) ?? randomUUID();
    requestIds.set(req, requestId);
    res.setHeader("x-request-id", requestId);
    if (logRequests) {
      const started = process.hrtime.bigint();
      res.on("finish", () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        logger.info(
          { reqId: requestId, method: req.method, url: req.url?.split("?")[0], status: res.statusCode, ms },
          "request",
        );
      });
    }
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (path.startsWith("/trpc/")) return trpc(req, res);
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
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
}

export async function startServer(
  options: ServerOptions & { host?: string; port?: number },
): Promise<RunningServer> {
  const server = createServer(options);
  // Keep-alive sockets must not hold shutdown hostage; in-flight requests still finish.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && first.length <= 200 ? first : undefined;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
