// Test-only: the real server in-process on 127.0.0.1:0 over a test database, an admin caller to set up
// task instances and assets, and small fake HTTP servers (a failing proxy, a server that never answers).
// Never imported by the client itself (see no-server-imports.test.ts).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type ApiConfig, type createCaller, signToken, tokenKeys } from "@cairn/api";
import { fixtures, type NewTaskOptions, testConfig } from "@cairn/api/testing";
import type { Database } from "@cairn/db";
import { startServer } from "@cairn/server";
import pino from "pino";

export { unique } from "@cairn/api/testing";

/** Awaits a call expected to fail and returns its error. */
export async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

export interface TestServer {
  url: string;
  config: ApiConfig;
  admin: ReturnType<typeof createCaller>;
  /** A task instance (new dag run unless given) with an execution token. */
  newTask(
    opts?: NewTaskOptions,
  ): Promise<{ id: string; token: string; dagId: string; runId: string; taskId: string }>;
  newAsset(): Promise<{ name: string; uri: string }>;
  /** An execution or admin token, signed with the server's secret unless another is given. */
  sign(
    claims: { sub: string; scope: "execution" | "admin" },
    opts?: { expiresAt?: Date; secret?: string },
  ): Promise<string>;
  close(): Promise<void>;
}

export async function startTestServer(db: Database, overrides: Partial<ApiConfig> = {}): Promise<TestServer> {
  const config = testConfig(overrides);
  const running = await startServer({
    db,
    api: config,
    logger: pino({ level: "silent" }),
    maxBodyBytes: 1024 * 1024,
    port: 0,
  });
  // Task instances and assets are made the way the API's own tests make them.
  const f = fixtures(() => db, config);
  const admin = f.admin();
  return {
    url: running.url,
    config,
    admin,
    async newTask(opts = {}) {
      const { id, dagId, runId, taskId } = await f.newTask(opts);
      const { token } = await admin.admin.tokens.issue({ taskInstanceId: id });
      return { id, token, dagId, runId, taskId };
    },
    newAsset: () => f.newAsset(),
    sign(claims, opts = {}) {
      const keys = opts.secret ? tokenKeys(opts.secret) : config.tokenKeys;
      return signToken(keys, claims, opts.expiresAt ?? new Date(Date.now() + 3600_000));
    },
    close: () => running.close(),
  };
}

export interface FakeServer {
  url: string;
  /** HTTP requests received, in order (method and path with query). */
  requests: { method: string; url: string }[];
  close(): Promise<void>;
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

function closer(server: http.Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

/**
 * A proxy to `upstream` that fails the first `failFirst` requests itself: a 503 in plain text (as a load
 * balancer would), the API's own errors when its database is down (`trpc`: 503 database_unavailable,
 * nothing applied) or its connection broke under a write (`outcome_unknown`: 502, maybe applied), or by
 * hanging up after reading the request (`hangup`: the answer is lost, the request may have arrived).
 */
export async function startFlakyProxy(
  upstream: string,
  opts: { failFirst: number; style: "text" | "trpc" | "outcome_unknown" | "hangup" },
): Promise<FakeServer> {
  const requests: FakeServer["requests"] = [];
  const { server, url } = await listen((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "" });
    if (requests.length <= opts.failFirst) {
      req.resume();
      if (opts.style === "hangup") {
        req.on("end", () => req.socket.destroy());
        return;
      }
      if (opts.style === "text") {
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("Service Unavailable");
        return;
      }
      const [status, data] =
        opts.style === "trpc"
          ? [503, { code: "SERVICE_UNAVAILABLE", httpStatus: 503, reason: "database_unavailable" }]
          : [502, { code: "BAD_GATEWAY", httpStatus: 502, reason: "outcome_unknown" }];
      const error = { error: { message: "the database is in trouble", code: -32603, data } };
      const path = new URL(req.url ?? "/", "http://x").pathname.replace(/^\/trpc\//, "");
      const batched = (req.url ?? "").includes("batch=1");
      const body = batched ? path.split(",").map(() => error) : error;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
      return;
    }
    const forward = http.request(
      `${upstream}${req.url ?? "/"}`,
      { method: req.method, headers: { ...req.headers, host: new URL(upstream).host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end("Bad Gateway");
    });
    req.pipe(forward);
  });
  return {
    url,
    requests,
    close: closer(server),
  };
}

/** Accepts requests and never answers them. */
export async function startSilentServer(): Promise<FakeServer & { abandoned: number[] }> {
  const requests: FakeServer["requests"] = [];
  const abandoned: number[] = [];
  const { server, url } = await listen((req) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "" });
    req.resume();
    // The client hung up on a request that was never answered: when (performance.now()).
    req.socket.once("close", () => abandoned.push(performance.now()));
  });
  return { url, requests, abandoned, close: closer(server) };
}

/** A URL on which nothing listens (a port that was free a moment ago). */
export async function deadUrl(): Promise<string> {
  const { server, url } = await listen(() => undefined);
  await closer(server)();
  return url;
}

/** A fetch that counts the HTTP requests the client makes. */
export function countingFetch(): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    fetch: (input, init) => {
      calls.push(`${init?.method ?? "GET"} ${String(input)}`);
      return fetch(input, init);
    },
  };
}
