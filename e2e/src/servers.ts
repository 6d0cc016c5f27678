// Test-only: built server processes on a fresh PostgreSQL database, with an admin token for them.
import { signToken, tokenKeys } from "@cairn/api";
import { emptyPostgresDatabase, freePort, spawnServer, TEST_JWT_SECRET } from "@cairn/server/testing";

/** `count` servers on one new database (dropped by the cleanups the caller runs after its tests). */
export async function startPostgresServers(count: number, cleanups: (() => Promise<void>)[]) {
  const database = await emptyPostgresDatabase(`e2e_${Date.now() % 100_000}`);
  cleanups.push(database.drop);
  const adminToken = await signToken(
    tokenKeys(TEST_JWT_SECRET),
    { sub: "e2e", scope: "admin" },
    new Date(Date.now() + 3_600_000),
  );
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const env = (port: number) => ({
    DATABASE_URL: database.url,
    CAIRN_JWT_SECRET: TEST_JWT_SECRET,
    PORT: String(port),
    LOG_LEVEL: "info",
  });
  const start = (port: number) => spawnServer({ env: env(port) });
  const servers = ports.map(start);
  const urls = await Promise.all(servers.map((server) => server.listening()));
  return { adminToken, ports, servers, urls, start };
}
