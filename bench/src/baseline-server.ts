// B2: the ceiling of "HTTP + database" in Node. A bare node:http server with a pg pool that speaks the
// same wire as Cairn's taskState.get / taskState.set (tRPC URLs, plain JSON, tRPC result and error
// envelopes, httpBatchLink batches), verifies the same HS512 JWT with jose, applies the same minimal
// input rules, and runs the same SQL as Cairn's hot path (sql.ts) as named prepared statements.
// No framework, no schema library, no logging. Started by the orchestrator as its own process.
//
// Env: DATABASE_URL, CAIRN_JWT_SECRET, PORT, HOST (127.0.0.1), POOL_SIZE (10).
import http from "node:http";
import { jwtVerify } from "jose";
import pg from "pg";
import { COMPARE_AND_SET_SQL, CREATE_SQL, defaultExpiry, GET_SQL, RESOLVE_SQL, SET_SQL } from "./sql.ts";

const url = process.env.DATABASE_URL;
const secret = process.env.CAIRN_JWT_SECRET;
if (!url || !secret) {
  process.stderr.write("baseline-server: DATABASE_URL and CAIRN_JWT_SECRET are required\n");
  process.exit(1);
}
const key = new TextEncoder().encode(secret);
const pool = new pg.Pool({
  connectionString: url,
  max: Number(process.env.POOL_SIZE ?? 10),
  connectionTimeoutMillis: 5_000,
  idleTimeoutMillis: 30_000,
});
pool.on("error", () => {});

const MAX_BODY = 1024 * 1024; // Cairn's default: max(1 MiB, 8 × CAIRN_MAX_VALUE_BYTES)
const MAX_VALUE_BYTES = 65_535;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

let requests = 0;
let calls = 0;

class CallError extends Error {
  constructor(
    readonly code: string,
    readonly httpStatus: number,
    readonly rpcCode: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}
const notFound = (reason: string, message: string) =>
  new CallError("NOT_FOUND", 404, -32004, message, reason);
const badRequest = (message: string) => new CallError("BAD_REQUEST", 400, -32600, message);

interface Principal {
  scope: string;
  sub: string;
}

async function authenticate(header: string | undefined): Promise<Principal> {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw new CallError("UNAUTHORIZED", 401, -32001, "missing token", "invalid_token");
  try {
    const { payload } = await jwtVerify(match[1]!, key, {
      algorithms: ["HS512"],
      requiredClaims: ["sub", "scope", "exp"],
    });
    return { scope: String(payload.scope), sub: String(payload.sub).toLowerCase() };
  } catch {
    throw new CallError("UNAUTHORIZED", 401, -32001, "invalid token", "invalid_token");
  }
}

function checkInput(principal: Principal, input: unknown): { taskInstanceId: string; key: string } {
  if (typeof input !== "object" || input === null) throw badRequest("input must be an object");
  const { taskInstanceId, key } = input as { taskInstanceId?: unknown; key?: unknown };
  if (typeof taskInstanceId !== "string" || !UUID.test(taskInstanceId))
    throw badRequest("taskInstanceId must be a UUID");
  const id = taskInstanceId.toLowerCase();
  if (principal.scope === "execution" && id !== principal.sub)
    throw new CallError("FORBIDDEN", 403, -32003, "not your task instance", "not_own_task_instance");
  if (typeof key !== "string" || key.length === 0 || key.length > 512) throw badRequest("bad key");
  return { taskInstanceId: id, key };
}

async function explainMiss(taskInstanceId: string, what: string): Promise<never> {
  const { rows } = await pool.query({ name: "b2_resolve", text: RESOLVE_SQL, values: [taskInstanceId] });
  const row = rows[0] as { superseded: boolean } | undefined;
  if (!row) throw notFound("task_instance_not_found", `task instance ${taskInstanceId} does not exist`);
  if (row.superseded) throw notFound("task_instance_superseded", "a newer try exists");
  throw notFound("key_not_found", what);
}

async function get(principal: Principal, input: unknown): Promise<unknown> {
  const { taskInstanceId, key } = checkInput(principal, input);
  const { rows } = await pool.query({ name: "b2_get", text: GET_SQL, values: [taskInstanceId, key] });
  const row = rows[0] as
    | { key: string; value: unknown; version: number; updated_at: Date; expires_at: Date | null }
    | undefined;
  if (!row) return explainMiss(taskInstanceId, `key "${key}" does not exist`);
  return {
    key: row.key,
    value: row.value,
    version: row.version,
    updatedAt: row.updated_at.toISOString(),
    expiresAt: row.expires_at === null ? null : row.expires_at.toISOString(),
  };
}

async function set(principal: Principal, input: unknown): Promise<unknown> {
  const { taskInstanceId, key } = checkInput(principal, input);
  const { value, expiresAt, ifVersion } = input as {
    value?: unknown;
    expiresAt?: unknown;
    ifVersion?: unknown;
  };
  if (value === undefined || value === null) throw badRequest("value is required and must not be null");
  const json = JSON.stringify(value);
  if (json.length * 3 > MAX_VALUE_BYTES && Buffer.byteLength(json) > MAX_VALUE_BYTES)
    throw new CallError("PAYLOAD_TOO_LARGE", 413, -32022, "value too large", "value_too_large");
  let expiry: string | null;
  if (expiresAt === undefined) expiry = defaultExpiry();
  else if (expiresAt === null) expiry = null;
  else if (typeof expiresAt === "string" && !Number.isNaN(Date.parse(expiresAt)))
    expiry = new Date(expiresAt).toISOString();
  else throw badRequest("bad expiresAt");
  const params: unknown[] = [taskInstanceId, key, json, expiry];
  let query: { name: string; text: string };
  if (ifVersion === undefined) query = { name: "b2_set", text: SET_SQL };
  else if (ifVersion === 0) query = { name: "b2_create", text: CREATE_SQL };
  else if (typeof ifVersion === "number" && Number.isInteger(ifVersion) && ifVersion > 0) {
    query = { name: "b2_cas", text: COMPARE_AND_SET_SQL };
    params.push(ifVersion);
  } else throw badRequest("bad ifVersion");
  const { rows } = await pool.query({ ...query, values: params });
  const row = rows[0] as { version: number } | undefined;
  if (row) return { version: row.version };
  await explainMiss(taskInstanceId, "unreachable").catch((error: unknown) => {
    if (error instanceof CallError && error.reason === "key_not_found") return;
    throw error;
  });
  throw new CallError("CONFLICT", 409, -32009, `version of "${key}" does not match`, "version_mismatch");
}

const procedures: Record<
  string,
  { method: "GET" | "POST"; run: (p: Principal, input: unknown) => Promise<unknown> }
> = {
  "taskState.get": { method: "GET", run: get },
  "taskState.set": { method: "POST", run: set },
};

type Outcome = { result: { data: unknown } } | { error: unknown; status: number };

async function callOne(
  principal: Promise<Principal>,
  path: string,
  method: string,
  input: unknown,
): Promise<Outcome> {
  calls++;
  try {
    const procedure = procedures[path];
    if (!procedure) throw notFound("procedure_not_found", `no procedure ${path}`);
    if (procedure.method !== method)
      throw new CallError("METHOD_NOT_SUPPORTED", 405, -32005, `use ${procedure.method}`);
    const data = await procedure.run(await principal, input);
    return { result: { data } } satisfies Outcome;
  } catch (error) {
    const e =
      error instanceof CallError
        ? error
        : new CallError("INTERNAL_SERVER_ERROR", 500, -32603, "internal server error");
    if (!(error instanceof CallError)) process.stderr.write(`baseline-server: ${String(error)}\n`);
    return {
      status: e.httpStatus,
      error: {
        message: e.message,
        code: e.rpcCode,
        data: { code: e.code, httpStatus: e.httpStatus, path, ...(e.reason ? { reason: e.reason } : {}) },
      },
    } satisfies Outcome;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new CallError("PAYLOAD_TOO_LARGE", 413, -32022, "body too large", "body_too_large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")),
    );
    req.on("error", reject);
  });
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  requests++;
  const rawUrl = req.url ?? "/";
  const q = rawUrl.indexOf("?");
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  if (path === "/healthz") return send(res, 200, { status: "ok" });
  if (path === "/stats") return send(res, 200, { requests, calls });
  if (!path.startsWith("/trpc/")) return send(res, 404, { error: "not found" });
  const params = new URLSearchParams(q === -1 ? "" : rawUrl.slice(q + 1));
  const batch = params.get("batch") === "1";
  const paths = batch ? path.slice(6).split(",") : [path.slice(6)];
  const method = req.method ?? "GET";
  let inputs: unknown;
  try {
    const text = method === "GET" ? params.get("input") : await readBody(req);
    inputs = text ? JSON.parse(text) : undefined;
  } catch (error) {
    const e = error instanceof CallError ? error : badRequest("input is not JSON");
    return send(res, e.httpStatus, {
      error: { message: e.message, code: e.rpcCode, data: { code: e.code, httpStatus: e.httpStatus } },
    });
  }
  const principal = authenticate(req.headers.authorization);
  principal.catch(() => {});
  if (!batch) {
    const outcome = await callOne(principal, paths[0]!, method, inputs);
    if ("status" in outcome) return send(res, outcome.status, { error: outcome.error });
    return send(res, 200, outcome);
  }
  const byIndex = (inputs ?? {}) as Record<string, unknown>;
  const outcomes = await Promise.all(paths.map((p, i) => callOne(principal, p, method, byIndex[String(i)])));
  const statuses = new Set(outcomes.map((o) => ("status" in o ? o.status : 200)));
  const status = statuses.size === 1 ? [...statuses][0]! : 207;
  send(
    res,
    status,
    outcomes.map((o) => ("status" in o ? { error: o.error } : o)),
  );
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    process.stderr.write(`baseline-server: ${String(error)}\n`);
    if (!res.headersSent) send(res, 500, { error: { message: "internal server error" } });
  });
});
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1");

const stop = () => {
  server.close();
  server.closeIdleConnections();
  void pool.end().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
