// The HTTP surface through real round trips: health, readiness, body cap, content type, error shape.
import { type AppRouter, signToken, tokenKeys } from "@cairn/api";
import { TEST_SECRET, testConfig } from "@cairn/api/testing";
import { describeEachDatabase } from "@cairn/db/testing";
import { createTRPCClient, httpSubscriptionLink, type TRPCClientError } from "@trpc/client";
import { EventSource } from "eventsource";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "./http-server.ts";

const _secret = TEST_SECRET;
const api = testConfig({ maxValueBytes: 1000, defaultTokenTtlSeconds: 3600 });

interface ErrorBody {
  error: { message: string; data: Record<string, unknown> };
}
const errorOf = async (res: Response) => ((await res.json()) as ErrorBody).error;

describeEachDatabase("HTTP server", (getDb) => {
  let server: RunningServer;
  let admin: string;
  beforeAll(async () => {
    server = await startServer({ db: getDb(), api, logger: pino({ level: "silent" }), maxBodyBytes: 8000 });
    admin = await signToken(
      api.tokenKeys,
      { sub: "http-test", scope: "admin" },
      new Date(Date.now() + 60_000),
    );
  });
  afterAll(() => server?.close());

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/trpc/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json", ...headers },
      body,
    });

  it("answers /healthz and /readyz with 200", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  it("answers an unknown path with 404 and a hint", async () => {
    const res = await fetch(`${server.url}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toContain("/trpc");
  });

  it("serves a mutation as plain JSON with a request id header", async () => {
    const res = await post("admin.assets.upsert", JSON.stringify({ name: "http_a", uri: "s3://http/a" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(await res.json()).toEqual({ result: { data: { id: expect.any(String) } } });
  });

  it("refuses an over-size body with 413 and reason body_too_large", async () => {
    const big = JSON.stringify({ name: "x".repeat(10_000), uri: "s3://x" });
    const res = await post("admin.assets.upsert", big);
    expect(res.status).toBe(413);
    expect((await errorOf(res)).data).toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
      httpStatus: 413,
      reason: "body_too_large",
    });
  });

  it("answers malformed JSON with 400, not 500", async () => {
    const res = await post("admin.assets.upsert", "{not json");
    expect(res.status).toBe(400);
    const query = await fetch(`${server.url}/trpc/taskState.get?input=%7Bbroken`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(query.status).toBe(400);
  });

  it("refuses a mutation whose content type is not JSON", async () => {
    const res = await post("admin.assets.upsert", JSON.stringify({ name: "http_b", uri: "s3://http/b" }), {
      "content-type": "text/plain",
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it("answers a missing token with 401 and a forged one with 401", async () => {
    const missing = await fetch(`${server.url}/trpc/admin.assets.upsert`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(missing.status).toBe(401);
    const forged = await signToken(
      tokenKeys("another-secret-0123456789-0123456789"),
      { sub: "x", scope: "admin" },
      new Date(Date.now() + 60_000),
    );
    const res = await post("admin.assets.upsert", JSON.stringify({ name: "n", uri: "u" }), {
      authorization: `Bearer ${forged}`,
    });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).data).toMatchObject({
      code: "UNAUTHORIZED",
      httpStatus: 401,
      reason: "invalid_token",
    });
  });

  // What a browser does: its EventSource cannot send an Authorization header, so tRPC's
  // httpSubscriptionLink passes the token in connectionParams (spec §6).
  describe("a watch authorized through connectionParams, with no Authorization header", () => {
    const watchWith = (connectionParams: Record<string, string>) =>
      new Promise<unknown>((resolve, reject) => {
        const client = createTRPCClient<AppRouter>({
          links: [httpSubscriptionLink({ url: `${server.url}/trpc`, EventSource, connectionParams })],
        });
        const subscription = client.admin.watch.subscribe(
          {},
          {
            onData: (event) => {
              subscription.unsubscribe();
              resolve(event);
            },
            onError: (error) => {
              subscription.unsubscribe();
              reject(error);
            },
          },
        );
      });

    it("streams with { token }", async () => {
      expect(await watchWith({ token: admin })).toMatchObject({ data: { op: "synced" } });
    });

    it("refuses a bad token the same way as in a header", async () => {
      const error = (await watchWith({ token: "not-a-jwt" }).catch(
        (e: unknown) => e,
      )) as TRPCClientError<AppRouter>;
      expect(error.data).toMatchObject({ code: "UNAUTHORIZED", reason: "invalid_token" });
    });
  });

  it("answers connectionParams that are not a JSON object of strings with 400, not 500", async () => {
    const res = await fetch(
      `${server.url}/trpc/admin.watch?input=%7B%7D&connectionParams=${encodeURIComponent('{"token":1}')}`,
    );
    const text = await res.text();
    expect(text).toMatch(/connectionParams must be a JSON object of strings/);
    expect(text).toMatch(/"httpStatus":400/);
  });

  it("a query carrying connectionParams is authorized by them too (tRPC's adapter answers it)", async () => {
    const input = encodeURIComponent("{}");
    const params = encodeURIComponent(JSON.stringify({ token: admin }));
    const res = await fetch(`${server.url}/trpc/admin.session?input=${input}&connectionParams=${params}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ result: { data: { sub: "http-test", scope: "admin" } } });
  });
});
