// The HTTP edge, through real sockets: bytes that are not UTF-8, methods tRPC does not serve, clients that
// never finish a request, and too many connections. None of it may become a 500 or a stack in the log.
import net from "node:net";
import { Writable } from "node:stream";
import { signToken } from "@cairn/api";
import { testConfig } from "@cairn/api/testing";
import { describeEachDatabase } from "@cairn/db/testing";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ConnectionLimits, type RunningServer, startServer } from "./http-server.ts";

const api = testConfig({ defaultTokenTtlSeconds: 3600 });

interface ErrorEnvelope {
  error: { message: string; data: { code: string; httpStatus: number; reason?: string; path?: string } };
}

/** Log lines at warn or above, to show nothing a caller sends is logged as a server failure. */
function warningsLogger() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: pino({ level: "warn" }, stream), lines };
}

/** Writes raw bytes on a new connection; resolves with everything the server sent before closing. */
async function raw(url: string, bytes: Buffer | string, opts: { waitMs?: number } = {}): Promise<string> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), "127.0.0.1");
  let received = "";
  socket.on("data", (chunk) => (received += chunk));
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(bytes);
  await Promise.race([
    new Promise((resolve) => socket.once("close", resolve)),
    new Promise((resolve) => setTimeout(resolve, opts.waitMs ?? 5_000)),
  ]);
  socket.destroy();
  return received;
}

describeEachDatabase("HTTP edge", (getDb) => {
  let server: RunningServer;
  let admin: string;
  const log = warningsLogger();
  const start = (limits?: Partial<ConnectionLimits>) =>
    startServer({ db: getDb(), api, logger: log.logger, maxBodyBytes: 4000, limits });

  beforeAll(async () => {
    server = await start();
    admin = await signToken(
      api.tokenKeys,
      { sub: "edge-test", scope: "admin" },
      new Date(Date.now() + 600_000),
    );
  });
  afterAll(async () => {
    await server?.close();
    // Nothing a caller sent was logged as a failure of the server.
    expect(log.lines).toEqual([]);
  });

  const post = (path: string, body: Buffer | string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/trpc/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json", ...headers },
      body,
    });

  it("a body that is not valid UTF-8 is BAD_REQUEST invalid_value, for each call of a batch; nothing is stored", async () => {
    const name = `edge_${Date.now()}`;
    const invalid = Buffer.concat([
      Buffer.from(`{"name":"${name}`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`","uri":"s3://edge/${name}"}`),
    ]);
    const single = await post("admin.assets.upsert", invalid);
    expect(single.status).toBe(400);
    expect(((await single.json()) as ErrorEnvelope).error.data).toMatchObject({
      code: "BAD_REQUEST",
      reason: "invalid_value",
    });

    const batch = await post(
      "admin.assets.upsert,admin.assets.upsert?batch=1",
      Buffer.concat([Buffer.from('{"0":'), invalid, Buffer.from(`,"1":{"name":"${name}_b","uri":"u"}}`)]),
    );
    expect(batch.status).toBe(400);
    const errors = (await batch.json()) as ErrorEnvelope[];
    expect(errors.map((e) => e.error.data.reason)).toEqual(["invalid_value", "invalid_value"]);

    // The same text, as valid UTF-8, is stored and comes back byte for byte.
    const valid = await post("admin.assets.upsert", JSON.stringify({ name, uri: "s3://edge/é-😀" }));
    expect(valid.status).toBe(200);
  });

  it("a query string whose escapes are not UTF-8 is BAD_REQUEST invalid_value; raw bytes above 0x7F are a 400", async () => {
    const input = (escaped: string) =>
      `${server.url}/trpc/admin.taskState.list?input=%7B%22dagId%22%3A%22${escaped}%22%2C%22runId%22%3A%22r%22%2C%22taskId%22%3A%22t%22%7D`;
    const bad = await fetch(input("%FF"), { headers: { authorization: `Bearer ${admin}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorEnvelope).error.data.reason).toBe("invalid_value");
    const good = await fetch(input("d"), { headers: { authorization: `Bearer ${admin}` } });
    expect(good.status).not.toBe(400); // the run does not exist: NOT_FOUND, not a refusal of the bytes

    const rawByte = await raw(
      server.url,
      Buffer.concat([
        Buffer.from("GET /trpc/admin.taskState.list?input=%7B%22dagId%22%3A%22"),
        Buffer.from([0xe9]),
        Buffer.from(
          `%22%7D HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nConnection: close\r\n\r\n`,
        ),
      ]),
    );
    // Node's HTTP parser refuses raw bytes above 0x7F in the request line itself.
    expect(rawByte).toMatch(/^HTTP\/1.1 400/);
  });

  it("an over-size body sent in chunks (no content-length) is 413 body_too_large and its connection closes", async () => {
    const chunked = await raw(
      server.url,
      `POST /trpc/admin.assets.upsert HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `1388\r\n${"x".repeat(5000)}\r\n1388\r\n${"x".repeat(5000)}\r\n`,
    );
    expect(chunked).toMatch(/^HTTP\/1.1 413/);
    expect(chunked).toMatch(/connection: close/i);
    expect(chunked).toContain('"reason":"body_too_large"');
  });

  it("a client that goes away in the middle of its body leaves nothing behind: no answer, no error logged", async () => {
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(
      `POST /trpc/admin.assets.upsert HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":"gone`,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it("methods other than GET and POST get 405 with Allow before tRPC; HEAD works on the health endpoints", async () => {
    // fetch refuses to send TRACE; curl and proxies do not.
    const trace = await raw(
      server.url,
      "TRACE /trpc/taskState.get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    expect(trace).toMatch(/^HTTP\/1.1 405/);
    for (const method of ["PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const res = await fetch(`${server.url}/trpc/taskState.get`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, POST");
      expect(((await res.json()) as ErrorEnvelope).error.data).toEqual({
        code: "METHOD_NOT_SUPPORTED",
        httpStatus: 405,
      });
    }
    const health = await fetch(`${server.url}/healthz`, { method: "DELETE" });
    expect(health.status).toBe(405);
    expect(health.headers.get("allow")).toBe("GET, HEAD");
    const head = await fetch(`${server.url}/readyz`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("a client that never finishes its headers, or its body, is cut after the headers or request timeout", async () => {
    const slow = await start({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    try {
      let started = Date.now();
      const headers = await raw(slow.url, "GET /healthz HTTP/1.1\r\nHost: x\r\n", { waitMs: 8_000 });
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(headers).toMatch(/^HTTP\/1.1 408/);

      started = Date.now();
      const body = await raw(
        slow.url,
        `POST /trpc/admin.assets.upsert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na`,
        { waitMs: 8_000 },
      );
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(body).toMatch(/^HTTP\/1.1 408/);
    } finally {
      await slow.close();
    }
  }, 20_000);

  it("connections beyond CAIRN_MAX_CONNECTIONS are refused at once; the others keep working", async () => {
    const capped = await start({ maxConnections: 2 });
    const { port } = new URL(capped.url);
    const open = await Promise.all(
      [0, 1].map(async () => {
        const socket = net.connect(Number(port), "127.0.0.1");
        await new Promise((resolve) => socket.once("connect", resolve));
        return socket;
      }),
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const refused = await raw(capped.url, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", { waitMs: 2_000 });
      expect(refused).toBe("");
      open[0]!.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      const answer = await new Promise<string>((resolve) =>
        open[0]!.once("data", (chunk) => resolve(String(chunk))),
      );
      expect(answer).toMatch(/^HTTP\/1.1 200/);
    } finally {
      for (const socket of open) socket.destroy();
      await capped.close();
    }
  });
});
