// Retries, deadlines and transport failures: the client in front of a flaky proxy (which forwards to the
// real server once it stops failing), a server that never answers, and a port where nothing listens.
import { describeEachDatabase } from "@cairn/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BadRequestError,
  CairnError,
  createCairnClient,
  NetworkError,
  OutcomeUnknownError,
  ServerError,
  TimeoutError,
} from "./index.ts";
import {
  countingFetch,
  deadUrl,
  type FakeServer,
  failure,
  startFlakyProxy,
  startSilentServer,
  startTestServer,
  type TestServer,
} from "./testing/harness.ts";
import { backoffDelay } from "./transport.ts";

const fast = { backoff: { baseMs: 5, maxMs: 20 } };

describeEachDatabase("client retries", (getDb) => {
  let server: TestServer;
  const proxies: FakeServer[] = [];
  beforeAll(async () => {
    server = await startTestServer(getDb());
  });
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await server?.close();
  });

  async function flaky(failFirst: number, style: Parameters<typeof startFlakyProxy>[1]["style"]) {
    const proxy = await startFlakyProxy(server.url, { failFirst, style });
    proxies.push(proxy);
    return proxy;
  }

  for (const style of ["text", "trpc"] as const) {
    describe(`503 as ${style === "text" ? "plain text (a load balancer)" : "a tRPC error (database down)"}`, () => {
      it("idempotent verbs are retried until they succeed", async () => {
        const task = await server.newTask();
        const direct = createCairnClient({ url: server.url, token: task.token });
        await direct.set("k", "v");

        const getProxy = await flaky(2, style);
        const viaGet = createCairnClient({ url: getProxy.url, token: task.token, retries: 3, ...fast });
        expect(await viaGet.get("k", "")).toBe("v");
        expect(getProxy.requests).toHaveLength(3);

        const setProxy = await flaky(1, style);
        const viaSet = createCairnClient({ url: setProxy.url, token: task.token, retries: 3, ...fast });
        expect(await viaSet.set("k", "w")).toEqual({ version: 2 });
        expect(await viaSet.delete("gone")).toBe(false);
        expect(await viaSet.clear()).toBe(1);
        expect(setProxy.requests.map((r) => r.method)).toEqual(["POST", "POST", "POST", "POST"]);
      });

      if (style === "text") {
        it("set and delete with ifVersion are not retried after a 503 that does not say nothing was applied", async () => {
          const task = await server.newTask();
          const direct = createCairnClient({ url: server.url, token: task.token });
          await direct.set("cas", 1);

          const proxy = await flaky(1, style);
          const cairn = createCairnClient({ url: proxy.url, token: task.token, retries: 3, ...fast });
          const error = await failure(cairn.set("cas", 2, { ifVersion: 1 }));
          expect(error).toBeInstanceOf(ServerError);
          expect(error).toMatchObject({ httpStatus: 503, code: "SERVICE_UNAVAILABLE", retryable: true });
          expect(proxy.requests).toHaveLength(1);
          expect(await direct.entry("cas")).toMatchObject({ value: 1, version: 1 });

          const deleteProxy = await flaky(1, style);
          const viaDelete = createCairnClient({
            url: deleteProxy.url,
            token: task.token,
            retries: 3,
            ...fast,
          });
          expect(await failure(viaDelete.delete("cas", { ifVersion: 1 }))).toBeInstanceOf(ServerError);
          expect(deleteProxy.requests).toHaveLength(1);
          // Once the proxy lets requests through, the same conditional calls work.
          expect(await cairn.set("cas", 2, { ifVersion: 1 })).toEqual({ version: 2 });
          expect(await viaDelete.delete("cas", { ifVersion: 2 })).toBe(true);
        });
      } else {
        it("set and delete with ifVersion are retried after 503 database_unavailable: nothing was applied", async () => {
          const task = await server.newTask();
          const direct = createCairnClient({ url: server.url, token: task.token });
          await direct.set("cas", 1);

          const proxy = await flaky(2, style);
          const cairn = createCairnClient({ url: proxy.url, token: task.token, ...fast });
          expect(await cairn.set("cas", 2, { ifVersion: 1 })).toEqual({ version: 2 });
          expect(proxy.requests).toHaveLength(3);
          const deleteProxy = await flaky(1, style);
          const viaDelete = createCairnClient({ url: deleteProxy.url, token: task.token, ...fast });
          expect(await viaDelete.delete("cas", { ifVersion: 2 })).toBe(true);
          expect(deleteProxy.requests).toHaveLength(2);
        });
      }
    });
  }

  for (const style of ["outcome_unknown", "hangup"] as const) {
    it(`when a write may have been applied (${style === "hangup" ? "the connection broke" : "502 outcome_unknown"}): plain writes are retried, a compare-and-set throws OutcomeUnknownError`, async () => {
      const task = await server.newTask();
      const plainProxy = await flaky(1, style);
      const plain = createCairnClient({ url: plainProxy.url, token: task.token, ...fast });
      expect(await plain.set("k", 1)).toEqual({ version: 1 });
      expect(plainProxy.requests).toHaveLength(2);

      const casProxy = await flaky(1, style);
      const cas = createCairnClient({ url: casProxy.url, token: task.token, ...fast });
      const error = await failure(cas.set("k", 2, { ifVersion: 1 }));
      expect(error).toBeInstanceOf(OutcomeUnknownError);
      expect(error).toMatchObject({ path: "taskState.set", retryable: false });
      expect(casProxy.requests).toHaveLength(1);
      // The proxy forwarded neither failed call: the key is still at version 1.
      expect(await cas.delete("k", { ifVersion: 1 })).toBe(true);
    });
  }

  it("gives up after `retries` retries with the last ServerError", async () => {
    const task = await server.newTask();
    const proxy = await flaky(100, "text");
    const cairn = createCairnClient({ url: proxy.url, token: task.token, retries: 2, ...fast });
    const error = await failure(cairn.get("k", 0));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ httpStatus: 503, path: "taskState.get" });
    expect(proxy.requests).toHaveLength(3);
  });

  it("retries: 0 makes one attempt", async () => {
    const task = await server.newTask();
    const proxy = await flaky(1, "text");
    const cairn = createCairnClient({ url: proxy.url, token: task.token, retries: 0 });
    expect(await failure(cairn.get("k", 0))).toBeInstanceOf(ServerError);
    expect(proxy.requests).toHaveLength(1);
  });

  it("4xx answers are not retried", async () => {
    const task = await server.newTask();
    const counter = countingFetch();
    const cairn = createCairnClient({ url: server.url, token: task.token, fetch: counter.fetch, ...fast });
    await failure(cairn.set("", 1));
    await failure(cairn.asset("undeclared").get("k", 0));
    expect(counter.calls).toHaveLength(2);
  });

  it("a URL that is not the API's gives a clear error", async () => {
    const task = await server.newTask();
    const cairn = createCairnClient({ url: `${server.url}/elsewhere`, token: task.token, retries: 0 });
    const error = await failure(cairn.get("k", 0));
    expect(error).toBeInstanceOf(CairnError);
    expect(error).toMatchObject({ httpStatus: 404, code: "NOT_FOUND" });
    expect((error as Error).message).toMatch(/not one of the Cairn API/);
  });

  it("accepts a base URL with a trailing slash or /trpc", async () => {
    const task = await server.newTask();
    for (const url of [`${server.url}/`, `${server.url}/trpc`, `${server.url}/trpc/`, new URL(server.url)]) {
      expect(await createCairnClient({ url, token: task.token }).get("k", "ok")).toBe("ok");
    }
  });
});

// Tokens for the transport tests below: they never reach a real server.
const claims = (payload: object) =>
  `eyJhbGciOiJIUzUxMiJ9.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.sig`;
const TOKEN = claims({ sub: "0196b7d2-0000-7000-8000-000000000001", scope: "execution", exp: 4_000_000_000 });

describe("client deadlines and network errors", () => {
  it("a server that never answers: TimeoutError within the timeout", async () => {
    const silent = await startSilentServer();
    try {
      const cairn = createCairnClient({ url: silent.url, token: TOKEN, timeoutMs: 300, retries: 3 });
      const started = performance.now();
      const error = await failure(cairn.get("k", 0));
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error).toBeInstanceOf(NetworkError);
      expect(error).toMatchObject({
        code: "TIMEOUT",
        httpStatus: 0,
        path: "taskState.get",
        retryable: false,
      });
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1500);
      expect(silent.requests).toHaveLength(1);

      // A per-call timeout overrides the client's; a mutation times out the same way.
      const quick = performance.now();
      expect(await failure(cairn.set("k", 1, { timeoutMs: 100 }))).toBeInstanceOf(TimeoutError);
      expect(performance.now() - quick).toBeLessThan(1000);
    } finally {
      await silent.close();
    }
  });

  it("one call timing out does not hold up the calls batched with it", async () => {
    const silent = await startSilentServer();
    try {
      const cairn = createCairnClient({ url: silent.url, token: TOKEN, timeoutMs: 5_000, retries: 0 });
      const started = performance.now();
      const results = await Promise.allSettled([
        cairn.get("a", 0, { timeoutMs: 100 }),
        cairn.get("b", 0, { timeoutMs: 200 }),
      ]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
      expect(performance.now() - started).toBeLessThan(1500);
      expect(silent.requests).toHaveLength(1);
    } finally {
      await silent.close();
    }
  });

  it("an attempt that fails once the deadline has passed reports TimeoutError, not its own error", async () => {
    // The fetch holds the event loop past the 100 ms deadline and then fails, so the failure is seen
    // before the call's timer can fire: the race a batch abandoned at the deadline used to lose.
    const lateFailure = () => {
      const until = Date.now() + 150;
      while (Date.now() < until);
      return Promise.reject(new TypeError("fetch failed"));
    };
    const cairn = createCairnClient({ url: await deadUrl(), token: TOKEN, fetch: lateFailure, ...fast });
    expect(await failure(cairn.set("k", 1, { timeoutMs: 100 }))).toBeInstanceOf(TimeoutError);
  });

  it("a fetch that throws instead of rejecting fails the call with a NetworkError", async () => {
    const throwing = () => {
      throw new TypeError("proxy misconfigured");
    };
    const cairn = createCairnClient({ url: await deadUrl(), token: TOKEN, fetch: throwing, retries: 0 });
    const error = await failure(cairn.get("k", 0));
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(/proxy misconfigured/);
  });

  it("a request nobody answers is abandoned once every call in it has given up, not before", async () => {
    const silent = await startSilentServer();
    try {
      const cairn = createCairnClient({ url: silent.url, token: TOKEN, retries: 0 });
      const started = performance.now();
      const results = await Promise.allSettled([
        cairn.set("a", 1, { timeoutMs: 100 }),
        cairn.set("b", 2, { timeoutMs: 600 }),
      ]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
      expect(silent.requests).toHaveLength(1);
      await expect.poll(() => silent.abandoned.length).toBe(1);
      // Hung up with the later deadline: the earlier one alone did not cancel the shared request.
      expect(silent.abandoned[0]! - started).toBeGreaterThanOrEqual(550);
      expect(silent.abandoned[0]! - started).toBeLessThan(1500);
    } finally {
      await silent.close();
    }
  });

  it("an AbortSignal cancels a call", async () => {
    const silent = await startSilentServer();
    try {
      const cairn = createCairnClient({ url: silent.url, token: TOKEN, timeoutMs: 5_000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error("task killed")), 50);
      expect(await failure(cairn.get("k", 0, { signal: controller.signal }))).toMatchObject({
        message: "task killed",
      });
      await expect(cairn.get("k", 0, { signal: AbortSignal.abort() })).rejects.toThrow();
    } finally {
      await silent.close();
    }
  });

  it("connection refused: NetworkError after the retries", async () => {
    const url = await deadUrl();
    const counter = countingFetch();
    const cairn = createCairnClient({ url, token: TOKEN, retries: 2, fetch: counter.fetch, ...fast });
    const error = await failure(cairn.get("k", 0));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: "NETWORK_ERROR", httpStatus: 0, retryable: true });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect(counter.calls).toHaveLength(3);

    // A refused connection never carried the request: even a compare-and-set is sent again.
    counter.calls.length = 0;
    expect(await failure(cairn.set("k", 1, { ifVersion: 3 }))).toMatchObject({ mayHaveReachedServer: false });
    expect(counter.calls).toHaveLength(3);
  });

  it("a query too long for one URL is a BadRequestError, not sent and not retried", async () => {
    const counter = countingFetch();
    const cairn = createCairnClient({
      url: await deadUrl(),
      token: TOKEN,
      maxURLLength: 300,
      fetch: counter.fetch,
    });
    const error = await failure(cairn.get("x".repeat(400), 0));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toMatch(/maxURLLength/);
    expect(counter.calls).toHaveLength(0);
  });

  it("stops retrying when the next backoff would pass the deadline", async () => {
    const url = await deadUrl();
    const counter = countingFetch();
    const cairn = createCairnClient({
      url,
      token: TOKEN,
      retries: 10,
      // Generous against a loaded machine: refused connections answer in milliseconds, the backoffs
      // (600–1200 ms each) decide when the next one would pass the deadline.
      timeoutMs: 3000,
      backoff: { baseMs: 1200, maxMs: 1200 },
      fetch: counter.fetch,
    });
    const started = performance.now();
    // The real failure (connection refused), not a timeout, and before the deadline.
    expect(await failure(cairn.get("k", 0))).toMatchObject({ name: "NetworkError" });
    expect(performance.now() - started).toBeLessThan(3000);
    expect(counter.calls.length).toBeGreaterThan(1);
    expect(counter.calls.length).toBeLessThan(6);
  });
});

describe("backoff", () => {
  it("grows exponentially with jitter, capped", () => {
    const backoff = { baseMs: 100, maxMs: 1000 };
    for (let i = 0; i < 50; i++) {
      const [a, b, c, d, e] = [1, 2, 3, 4, 5].map((n) => backoffDelay(n, backoff)) as number[];
      expect(a).toBeGreaterThanOrEqual(50);
      expect(a).toBeLessThanOrEqual(100);
      expect(b).toBeGreaterThanOrEqual(100);
      expect(b).toBeLessThanOrEqual(200);
      expect(c).toBeGreaterThanOrEqual(200);
      expect(c).toBeLessThanOrEqual(400);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
      expect(e).toBeGreaterThanOrEqual(500);
      expect(e).toBeLessThanOrEqual(1000);
    }
    const samples = new Set(Array.from({ length: 20 }, () => backoffDelay(3, backoff)));
    expect(samples.size).toBeGreaterThan(1);
  });
});
