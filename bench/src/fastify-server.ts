// P-fastify: the Cairn product router served through tRPC's Fastify adapter instead of the standalone one
// (issue #5: "compare the standalone and fastify adapters and keep the faster"). Everything else is P's:
// apps/server's configuration (parseConfig), its V8 heap growth bound, openDatabase, the same context
// (bearer token, API config, metrics observer), the same body limit, /healthz, /readyz, /metrics and the
// same 404 and x-request-id.
// No per-request logging (Fastify's logger off; P runs with LOG_LEVEL=warn in the bench), no start-up
// migrations (the orchestrator migrated) and no cleanup loop (P's first run is minutes after start).
// Started by the orchestrator as its own process.
//
// Env: as apps/server (DATABASE_URL, CAIRN_JWT_SECRET, PORT, HOST, CAIRN_MAX_BODY_BYTES, …).
import { randomUUID } from "node:crypto";
import { type AppRouter, appRouter, bearerToken, createContextFromToken } from "@cairn/api";
import { openDatabase } from "@cairn/db";
import { apiConfigFrom, parseConfig } from "@cairn/server";
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from "@trpc/server/adapters/fastify";
import Fastify from "fastify";
import { boundHeapGrowth } from "../../apps/server/src/heap.ts";
import { createMetrics } from "../../apps/server/src/metrics.ts";

// P bounds V8's heap growth first thing in serve(); the same here, or peak RSS would not compare.
boundHeapGrowth(false);
const config = parseConfig();
if (!config.databaseUrl || !config.jwtSecret) {
  process.stderr.write("fastify-server: DATABASE_URL and CAIRN_JWT_SECRET are required\n");
  process.exit(1);
}
const db = await openDatabase({ url: config.databaseUrl, poolSize: config.dbPoolSize });
const api = apiConfigFrom(config, config.jwtSecret);
const metrics = createMetrics();

const app = Fastify({
  logger: false,
  bodyLimit: config.maxBodyBytes,
  // A batch puts every procedure name in one path segment: "taskState.set,taskState.set,…" (default 100).
  routerOptions: { maxParamLength: 5_000 },
  keepAliveTimeout: 5_000,
  // P reads the request id from x-request-id (≤ 200 characters) or makes a UUID, and echoes it.
  genReqId: (req) => {
    const header = req.headers["x-request-id"];
    const first = Array.isArray(header) ? header[0] : header;
    return first && first.length <= 200 ? first : randomUUID();
  },
});

app.addHook("onRequest", (request, reply, done) => {
  reply.header("x-request-id", request.id);
  done();
});

await app.register(fastifyTRPCPlugin, {
  prefix: "/trpc",
  trpcOptions: {
    router: appRouter,
    maxBodySize: config.maxBodyBytes,
    createContext: ({ req }) =>
      createContextFromToken({
        db,
        config: api,
        token: bearerToken(req.headers.authorization),
        observer: metrics,
      }),
    onError: ({ error, path }) => {
      if (error.code !== "INTERNAL_SERVER_ERROR") return;
      process.stderr.write(
        `fastify-server: internal error in ${path}: ${String((error.cause ?? error).stack ?? error)}\n`,
      );
    },
  } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
});

app.get("/healthz", async () => ({ status: "ok" }));
app.get("/readyz", async (_request, reply) => {
  try {
    await db.ping();
    return { status: "ready" };
  } catch {
    return reply.code(503).send({ status: "database unavailable" });
  }
});
app.get("/metrics", async (_request, reply) => {
  const text = await metrics.registry.metrics();
  return reply.type(metrics.registry.contentType).send(text);
});
app.setNotFoundHandler((_request, reply) => {
  void reply.code(404).send({ error: "not found: the API is served under /trpc/<procedure>" });
});

await app.listen({ host: config.host, port: config.port });

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 10_000).unref();
  await app.close();
  await db.close();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
