// The fast path answers exactly as tRPC's own adapter does: the same requests to two servers on one
// database, one with the fast path and one without, get the same status, content type and body, for
// successes, every kind of error, batches with mixed outcomes, and the requests the fast path leaves to
// tRPC. Only the framing differs: one write with a Content-Length instead of a chunked stream.

import type { AppRouter } from "@cairn/api";
import { signToken } from "@cairn/api";
import { testConfig } from "@cairn/api/testing";
import { describeEachDatabase } from "@cairn/db/testing";
import { createTRPCClient, httpLink } from "@trpc/client";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningServer, startServer } from "./http-server.ts";

const api = testConfig({ maxValueBytes: 1000 });

interface Probe {
  name: string;
  method: "GET" | "POST";
  /** After /trpc/. */
  path: string;
  body?: string;
  headers?: Record<string, string>;
  token?: "admin" | "worker" | "bad" | "none";
}

describeEachDatabase("the tRPC fast path", (getDb) => {
  let fast: RunningServer;
  let plain: RunningServer;
  const tokens: Record<string, string> = {};
  let ti = "";

  beforeAll(async () => {
    const db = getDb();
    const logger = pino({ level: "silent" });
    fast = await startServer({ db, api, logger, maxBodyBytes: 4000 });
    plain = await startServer({ db, api, logger, maxBodyBytes: 4000, trpcFastPath: false });
    tokens.admin = await signToken(
      api.tokenKeys,
      { sub: "parity", scope: "admin" },
      new Date(Date.now() + 600_000),
    );
    const admin = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${plain.url}/trpc`, headers: { authorization: `Bearer ${tokens.admin}` } })],
    });
    ti = (await admin.admin.taskInstances.create.mutate({ dagId: "parity", runId: "r1", taskId: "t" })).id;
    tokens.worker = (await admin.admin.tokens.issue.mutate({ taskInstanceId: ti })).token;
    tokens.bad = `${tokens.worker.slice(0, -4)}AAAA`;
    await admin.taskState.set.mutate({ taskInstanceId: ti, key: "k", value: { n: 1 } });
    await admin.taskState.set.mutate({ taskInstanceId: ti, key: "a b", value: "spaced" });
  });
  afterAll(async () => {
    await fast?.close();
    await plain?.close();
  });

  const q = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(input))}`;
  const probes = (): Probe[] => [
    { name: "query", method: "GET", path: `taskState.get?${q({ taskInstanceId: ti, key: "k" })}` },
    {
      name: "query, missing key",
      method: "GET",
      path: `taskState.get?${q({ taskInstanceId: ti, key: "nope" })}`,
    },
    {
      name: "batch of queries, a hit and a miss (207)",
      method: "GET",
      path: `taskState.get,taskState.get?batch=1&${q({ 0: { taskInstanceId: ti, key: "k" }, 1: { taskInstanceId: ti, key: "x" } })}`,
    },
    {
      name: "batch with an input missing",
      method: "GET",
      path: `taskState.get,taskState.list?batch=1&${q({ 1: { taskInstanceId: ti } })}`,
    },
    { name: "list", method: "GET", path: `taskState.list?${q({ taskInstanceId: ti })}` },
    {
      name: "invalid input (zod)",
      method: "GET",
      path: `taskState.get?${q({ taskInstanceId: "x", key: "k" })}`,
    },
    {
      name: "a literal + in the query is a space",
      method: "GET",
      path: `taskState.get?input={"taskInstanceId":"${ti}","key":"a+b"}`,
    },
    { name: "no input", method: "GET", path: "taskState.get" },
    {
      name: "mutation, version conflict",
      method: "POST",
      path: "taskState.set",
      body: JSON.stringify({ taskInstanceId: ti, key: "k", value: 2, ifVersion: 99 }),
    },
    {
      name: "mutation, invalid value",
      method: "POST",
      path: "taskState.set",
      body: JSON.stringify({ taskInstanceId: ti, key: "k", value: null }),
    },
    {
      name: "mutation, value too large",
      method: "POST",
      path: "taskState.set",
      body: JSON.stringify({ taskInstanceId: ti, key: "k", value: "x".repeat(1200) }),
    },
    { name: "mutation, empty body", method: "POST", path: "taskState.set", body: "" },
    {
      name: "batch of mutations, both conflicts",
      method: "POST",
      path: "taskState.set,taskState.delete?batch=1",
      body: JSON.stringify({
        0: { taskInstanceId: ti, key: "k", value: 2, ifVersion: 99 },
        1: { taskInstanceId: ti, key: "k", ifVersion: 99 },
      }),
    },
    { name: "worker token on the admin plane", method: "GET", path: "admin.stats", token: "worker" },
    {
      name: "another task's state",
      method: "GET",
      path: `taskState.get?${q({ taskInstanceId: "0".repeat(8) + "-0000-4000-8000-000000000000", key: "k" })}`,
      token: "worker",
    },
    {
      name: "a forged token",
      method: "GET",
      path: `taskState.get?${q({ taskInstanceId: ti, key: "k" })}`,
      token: "bad",
    },
    {
      name: "no token",
      method: "GET",
      path: `taskState.get?${q({ taskInstanceId: ti, key: "k" })}`,
      token: "none",
    },
    // Left to tRPC's adapter:
    { name: "unknown procedure", method: "GET", path: "taskState.nope" },
    { name: "GET of a mutation", method: "GET", path: "taskState.set" },
    { name: "POST of a query", method: "POST", path: "taskState.get", body: "{}" },
    { name: "malformed JSON body", method: "POST", path: "taskState.set", body: "{oops" },
    { name: "malformed JSON query", method: "GET", path: "taskState.get?input=%7Boops" },
    {
      name: "text/plain body",
      method: "POST",
      path: "taskState.set",
      body: "{}",
      headers: { "content-type": "text/plain" },
    },
    { name: "batch input not an object", method: "POST", path: "taskState.set?batch=1", body: "[1]" },
    {
      name: "batch mixing queries and mutations",
      method: "GET",
      path: "taskState.get,taskState.set?batch=1",
    },
    {
      name: "percent-encoded path",
      method: "GET",
      path: `taskState%2Eget?${q({ taskInstanceId: ti, key: "k" })}`,
    },
    {
      name: "body over the limit",
      method: "POST",
      path: "taskState.set",
      body: JSON.stringify({ v: "y".repeat(5000) }),
    },
    {
      name: "streaming accept header",
      method: "GET",
      path: `taskState.get?batch=1&${q({ 0: { taskInstanceId: ti, key: "k" } })}`,
      headers: { "trpc-accept": "application/jsonl" },
    },
  ];

  const send = async (server: RunningServer, probe: Probe) => {
    const token = probe.token ?? "admin";
    const res = await fetch(`${server.url}/trpc/${probe.path}`, {
      method: probe.method,
      headers: {
        ...(token === "none" ? {} : { authorization: `Bearer ${tokens[token]}` }),
        ...(probe.method === "POST" ? { "content-type": "application/json" } : {}),
        ...probe.headers,
      },
      body: probe.body,
    });
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      vary: res.headers.get("vary"),
      allow: res.headers.get("allow"),
      body: await res.text(),
    };
  };

  it("answers every probe as tRPC's adapter does", async () => {
    for (const probe of probes()) {
      const expected = await send(plain, probe);
      expect({ probe: probe.name, ...(await send(fast, probe)) }).toEqual({ probe: probe.name, ...expected });
    }
  });

  it("writes a successful answer in one piece with a Content-Length", async () => {
    const res = await fetch(`${fast.url}/trpc/taskState.get?${q({ taskInstanceId: ti, key: "k" })}`, {
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    const body = await res.text();
    expect(body).toContain('"value":{"n":1}');
    expect(res.headers.get("content-length")).toBe(String(Buffer.byteLength(body)));
    expect(res.headers.get("transfer-encoding")).toBeNull();
  });

  it("serves successful writes and batches as tRPC's adapter would shape them", async () => {
    const post = (server: RunningServer, path: string, body: unknown) =>
      fetch(`${server.url}/trpc/${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${tokens.worker}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as unknown }));
    const viaFast = await post(fast, "taskState.set,taskState.set?batch=1", {
      0: { taskInstanceId: ti, key: "w1", value: 1 },
      1: { taskInstanceId: ti, key: "w2", value: 2, ifVersion: 5 },
    });
    const viaPlain = await post(plain, "taskState.set,taskState.set?batch=1", {
      0: { taskInstanceId: ti, key: "w3", value: 1 },
      1: { taskInstanceId: ti, key: "w4", value: 2, ifVersion: 5 },
    });
    expect(viaFast.status).toBe(207);
    expect(viaFast).toEqual(
      JSON.parse(JSON.stringify(viaPlain).replaceAll("w3", "w1").replaceAll("w4", "w2")),
    );
  });
});
