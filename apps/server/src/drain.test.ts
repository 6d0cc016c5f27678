// The graceful stop of the HTTP server, through real sockets: readiness turns 503 at once, responses in
// flight carry `Connection: close`, idle keep-alive connections close, the listener stops accepting, and
// what is still in flight after the timeout is cut.
import net from "node:net";
import { signToken } from "@cairn/api";
import { testConfig } from "@cairn/api/testing";
import { describeEachDatabase } from "@cairn/db/testing";
import pino from "pino";
import { beforeAll, expect, it } from "vitest";
import { type RunningServer, startServer } from "./http-server.ts";

const api = testConfig({ defaultTokenTtlSeconds: 3600 });

/** A raw HTTP/1.1 connection: what a keep-alive client holds between and during requests. */
async function connect(url: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let received = "";
  socket.on("data", (chunk) => (received += chunk));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  return {
    socket,
    closed,
    received: () => received,
    /** Waits for one complete response (headers and a body of content-length) and returns its head. */
    async response(): Promise<{ status: number; headers: Record<string, string> }> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const end = received.indexOf("\r\n\r\n");
        if (end >= 0) {
          const [statusLine = "", ...lines] = received.slice(0, end).split("\r\n");
          const headers = Object.fromEntries(
            lines.map((line) => [
              line.slice(0, line.indexOf(":")).toLowerCase(),
              line.slice(line.indexOf(":") + 1).trim(),
            ]),
          );
          const length = Number(headers["content-length"] ?? 0);
          if (received.length >= end + 4 + length) {
            received = received.slice(end + 4 + length);
            return { status: Number(statusLine.split(" ")[1]), headers };
          }
        }
        if (Date.now() > deadline) throw new Error(`no complete response; got ${JSON.stringify(received)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

const isClosedWithin = (closed: Promise<void>, ms: number) =>
  Promise.race([
    closed.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
  ]);

describeEachDatabase("graceful stop", (getDb) => {
  let admin: string;
  beforeAll(async () => {
    admin = await signToken(
      api.tokenKeys,
      { sub: "drain-test", scope: "admin" },
      new Date(Date.now() + 600_000),
    );
  });
  const start = () =>
    startServer({ db: getDb(), api, logger: pino({ level: "silent" }), maxBodyBytes: 1 << 20 });

  /** Sends a request's head and all of its body but the last byte: the server holds it in flight. */
  function upsertInFlight(connection: Awaited<ReturnType<typeof connect>>, name: string) {
    const body = JSON.stringify({ name, uri: `s3://drain/${name}` });
    connection.socket.write(
      `POST /trpc/admin.assets.upsert HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, -1)}`,
    );
    return () => connection.socket.write(body.slice(-1));
  }

  it("draining: /readyz answers 503 at once, /healthz still 200, and every response says Connection: close", async () => {
    const server = await start();
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      server.startDraining();
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: "shutting down" });
      expect(ready.headers.get("connection")).toBe("close");
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      expect(health.headers.get("connection")).toBe("close");
    } finally {
      await server.close();
    }
  });

  it("close: idle keep-alive connections close at once, new ones are refused, in-flight requests finish with Connection: close", async () => {
    const server: RunningServer = await start();
    const idle = await connect(server.url);
    idle.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    expect((await idle.response()).headers.connection).toBe("keep-alive");
    const busy = await connect(server.url);
    const finish = upsertInFlight(busy, `drain_${Date.now()}`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the server has the head, waits for the body

    const closing = server.close();
    expect(await isClosedWithin(idle.closed, 2_000)).toBe(true);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    expect(await isClosedWithin(busy.closed, 200)).toBe(false);

    finish();
    const answer = await busy.response();
    expect(answer.status).toBe(200);
    expect(answer.headers.connection).toBe("close");
    expect(await isClosedWithin(busy.closed, 2_000)).toBe(true);
    await closing;
  });

  it("cutConnections: what is still in flight is cut and counted", async () => {
    const server = await start();
    const busy = await connect(server.url);
    upsertInFlight(busy, `cut_${Date.now()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = server.close();
    expect(await isClosedWithin(busy.closed, 200)).toBe(false);
    expect(server.cutConnections()).toBe(1);
    expect(await isClosedWithin(busy.closed, 2_000)).toBe(true);
    expect(busy.received()).toBe("");
    await closing;
  });
});
