// Test-only: ports for servers a test starts (PgBouncer, Cairn servers), shared by every package's tests.
import net from "node:net";

/** A port nothing listens on right now (for a server that must come back on the same address). */
export async function freePort(): Promise<number> {
  // Below Linux's ephemeral range (32768-60999), where the kernel picks the local ports of outgoing
  // connections: a test that restarts a server on its port found it taken once (EADDRINUSE) by such a
  // connection while the server was down (a client retrying a closed local port can even connect to
  // itself). Random, so parallel test files rarely pick the same one.
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  return listenOnce(0);
}

function canListen(port: number): Promise<boolean> {
  return listenOnce(port).then(
    () => true,
    () => false,
  );
}

async function listenOnce(port: number): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: bound } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return bound;
}
