// The error shape on the wire (spec §4): data.code, data.httpStatus, data.reason; a 500 hides its message.
// Runs the router through tRPC's fetch adapter in-process, over a fake database.
import type { Database } from "@cairn/db";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { describe, expect, it } from "vitest";
import type { Principal } from "../auth/tokens.ts";
import { createContextInner } from "../context.ts";
import { appRouter } from "../root.ts";
import { testConfig } from "../testing/fixtures.ts";

const ID = "0191f7a0-0000-7000-8000-0000000000ee";

/** A database whose every query fails with `error` (or returns no rows). */
function fakeDb(error?: unknown): Database {
  return {
    sql: {
      query: async () => {
        if (error) throw error;
        return [];
      },
    },
  } as unknown as Database;
}

async function call(
  path: string,
  input: unknown,
  opts: { principal?: Principal | null; db?: Database; method?: "GET" | "POST" } = {},
) {
  const method = opts.method ?? "POST";
  const url = new URL(`http://cairn.test/trpc/${path}`);
  if (method === "GET") url.searchParams.set("input", JSON.stringify(input));
  const req = new Request(url, {
    method,
    ...(method === "POST"
      ? { body: JSON.stringify(input), headers: { "content-type": "application/json" } }
      : {}),
  });
  const res = await fetchRequestHandler({
    endpoint: "/trpc",
    req,
    router: appRouter,
    createContext: () =>
      createContextInner({
        db: opts.db ?? fakeDb(),
        config: testConfig(),
        principal: opts.principal === undefined ? { scope: "admin", sub: "test" } : opts.principal,
      }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: { message: string; data: Record<string, unknown> } },
  };
}

describe("error shape", () => {
  it("domain errors carry code, httpStatus and reason", async () => {
    const notFound = await call("taskState.get", { taskInstanceId: ID, key: "k" }, { method: "GET" });
    expect(notFound.status).toBe(404);
    expect(notFound.body.error?.data).toMatchObject({
      code: "NOT_FOUND",
      httpStatus: 404,
      reason: "task_instance_not_found",
    });
    const forbidden = await call(
      "taskState.set",
      { taskInstanceId: ID, key: "k", value: 1 },
      { principal: { scope: "execution", sub: "x", taskInstanceId: "0191f7a0-0000-7000-8000-000000000001" } },
    );
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error?.data).toMatchObject({
      code: "FORBIDDEN",
      httpStatus: 403,
      reason: "not_own_task_instance",
    });
    const unauthorized = await call("admin.dagRuns.delete", { dagId: "d", runId: "r" }, { principal: null });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.body.error?.data).toMatchObject({
      code: "UNAUTHORIZED",
      httpStatus: 401,
      reason: "invalid_token",
    });
    const tooLarge = await call("taskState.set", { taskInstanceId: ID, key: "k", value: "x".repeat(70_000) });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error?.data).toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
      httpStatus: 413,
      reason: "value_too_large",
    });
  });

  it("validation errors are 400 with the field that is wrong", async () => {
    const { status, body } = await call("taskState.set", {
      taskInstanceId: ID,
      key: "k",
      value: 1,
      ifversion: 1,
    });
    expect(status).toBe(400);
    expect(body.error?.data).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400 });
    expect(body.error?.message).toMatch(/ifversion/);
    const invalid = await call("taskState.set", { taskInstanceId: ID, key: "", value: 1 });
    expect(invalid.body.error?.data).toMatchObject({
      code: "BAD_REQUEST",
      fieldErrors: { key: [expect.any(String)] },
    });
    const nullValue = await call("taskState.set", { taskInstanceId: ID, key: "k", value: null });
    expect(nullValue.body.error?.data).toMatchObject({ code: "BAD_REQUEST", reason: "invalid_value" });
  });

  it("an unexpected failure is a 500 that shows no internal message", async () => {
    const db = fakeDb(Object.assign(new Error('relation "secret_table" does not exist'), { code: "42P01" }));
    const { status, body } = await call("taskState.set", { taskInstanceId: ID, key: "k", value: 1 }, { db });
    expect(status).toBe(500);
    expect(body.error?.message).toBe("internal server error");
    expect(JSON.stringify(body)).not.toMatch(/secret_table|stack/);
    expect(body.error?.data).toEqual({
      code: "INTERNAL_SERVER_ERROR",
      httpStatus: 500,
      path: "taskState.set",
    });
  });

  it("an unreachable database is 503 database_unavailable", async () => {
    for (const error of [
      Object.assign(new Error("connection failure"), { code: "08006" }),
      Object.assign(new Error("too many connections"), { code: "53300" }),
      Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }),
      new Error("timeout exceeded when trying to connect"),
    ]) {
      const { status, body } = await call(
        "taskState.get",
        { taskInstanceId: ID, key: "k" },
        { db: fakeDb(error), method: "GET" },
      );
      expect(status).toBe(503);
      expect(body.error?.data).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "database_unavailable" });
    }
  });

  it("a database that cannot be reached is 503 database_unavailable for writes too: nothing was applied", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    // node-postgres resolving "localhost" tries IPv6 and IPv4: an AggregateError of refusals.
    const both = new AggregateError([refused, refused], "connect failed");
    for (const error of [
      refused,
      both,
      Object.assign(new Error("getaddrinfo ENOTFOUND db"), { code: "ENOTFOUND" }),
    ]) {
      for (const [path, input, method] of [
        ["taskState.set", { taskInstanceId: ID, key: "k", value: 1, ifVersion: 3 }, "POST"],
        ["taskState.get", { taskInstanceId: ID, key: "k" }, "GET"],
      ] as const) {
        const { status, body } = await call(path, input, { db: fakeDb(error), method });
        expect(status).toBe(503);
        expect(body.error?.data).toMatchObject({
          code: "SERVICE_UNAVAILABLE",
          reason: "database_unavailable",
        });
      }
    }
  });

  it("a connection that broke under a write is 502 outcome_unknown; under a read, 503 database_unavailable", async () => {
    for (const error of [
      new Error("Connection terminated unexpectedly"),
      Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
      Object.assign(new Error("write EPIPE"), { code: "EPIPE" }),
    ]) {
      const write = await call(
        "taskState.set",
        { taskInstanceId: ID, key: "k", value: 1 },
        { db: fakeDb(error) },
      );
      expect(write.status).toBe(502);
      expect(write.body.error?.data).toMatchObject({ code: "BAD_GATEWAY", reason: "outcome_unknown" });
      const read = await call(
        "taskState.get",
        { taskInstanceId: ID, key: "k" },
        { db: fakeDb(error), method: "GET" },
      );
      expect(read.status).toBe(503);
      expect(read.body.error?.data).toMatchObject({ reason: "database_unavailable" });
    }
    // A pool that could not connect in time did not send anything: not applied.
    const timeout = new Error("Connection terminated due to connection timeout");
    const write = await call(
      "taskState.set",
      { taskInstanceId: ID, key: "k", value: 1 },
      { db: fakeDb(timeout) },
    );
    expect(write.body.error?.data).toMatchObject({ reason: "database_unavailable" });
  });
});
