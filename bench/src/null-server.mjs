// B0: an HTTP server that answers every call at once with a fixed tRPC envelope, no database and no
// token check. W7 runs it as the floor of the measurement: the latency the load generator, the
// kernel and this machine add by themselves. Plain JavaScript, so it runs under plain node.
import http from "node:http";

const ENTRY = JSON.stringify({
  result: {
    data: { key: "k", value: 1, version: 1, updatedAt: "2026-01-01T00:00:00.000Z", expiresAt: null },
  },
});
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const body = req.url === "/healthz" ? '{"status":"ok"}' : ENTRY;
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(Number(process.env.PORT), process.env.HOST ?? "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
