// A counting TCP proxy in front of PostgreSQL, for the short "SQL statements per operation" sampling
// phase (pg_stat_statements needs shared_preload_libraries and a restart; this needs neither). It reads
// the wire protocol in both directions and counts, per statement text:
//   executions: Execute ('E') and simple Query ('Q') messages from the client
//   parses:     Parse ('P') messages (a named prepared statement is parsed once per connection)
// and transactions: ReadyForQuery ('Z') with status idle, i.e. each implicit or explicit transaction end.
import net from "node:net";

export interface StatementCount {
  executions: number;
  parses: number;
}

export interface ProxyCounts {
  statements: number;
  parses: number;
  transactions: number;
  byText: Map<string, StatementCount>;
}

export interface CountingProxy {
  port: number;
  counts: ProxyCounts;
  reset(): void;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Short, one-line form of a statement's text, for the report. */
export function shortSql(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (!/^with\s/i.test(flat)) return flat.slice(0, 90);
  // Skip the CTEs: the main statement is the first SELECT/INSERT/UPDATE/DELETE at parenthesis depth 0.
  let depth = 0;
  for (let i = 4; i < flat.length; i++) {
    const ch = flat[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (depth === 0 && /^(select|insert|update|delete)\b/i.test(flat.slice(i, i + 7))) {
      return `WITH … ${flat.slice(i, i + 80)}`;
    }
  }
  return flat.slice(0, 90);
}

export async function startCountingProxy(target: { host: string; port: number }): Promise<CountingProxy> {
  const counts: ProxyCounts = { statements: 0, parses: 0, transactions: 0, byText: new Map() };
  const reset = () => {
    counts.statements = 0;
    counts.parses = 0;
    counts.transactions = 0;
    counts.byText = new Map();
  };
  const entry = (text: string) => {
    const key = shortSql(text);
    let e = counts.byText.get(key);
    if (!e) {
      e = { executions: 0, parses: 0 };
      counts.byText.set(key, e);
    }
    return e;
  };
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    // Per connection: prepared statement name -> text; portal name -> text.
    const statements = new Map<string, string>();
    const portals = new Map<string, string>();
    let startup = true;
    let expectSslAnswer = 0;
    let fromClient: Buffer = Buffer.alloc(0);
    let fromServer: Buffer = Buffer.alloc(0);

    const cstring = (buf: Buffer, at: number): [string, number] => {
      const end = buf.indexOf(0, at);
      return [buf.toString("utf8", at, end), end + 1];
    };

    const onClientMessage = (type: number, body: Buffer) => {
      switch (type) {
        case 0x50 /* P */:
          {
            const [name, next] = cstring(body, 0);
            const [text] = cstring(body, next);
            statements.set(name, text);
            counts.parses++;
            entry(text).parses++;
            break;
          }
        case 0x42 /* B */:
          {
            const [portal, next] = cstring(body, 0);
            const [name] = cstring(body, next);
            portals.set(portal, statements.get(name) ?? `<prepared ${name}>`);
            break;
          }
        case 0x45 /* E */:
          {
            const [portal] = cstring(body, 0);
            counts.statements++;
            entry(portals.get(portal) ?? "<unknown portal>").executions++;
            break;
          }
        case 0x51 /* Q */:
          {
            const [text] = cstring(body, 0);
            counts.statements++;
            entry(text).executions++;
            break;
          }
      }
    };

    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk);
      fromClient = fromClient.length ? Buffer.concat([fromClient, chunk]) : chunk;
      for (;;) {
        if (startup) {
          if (fromClient.length < 8) break;
          const length = fromClient.readInt32BE(0);
          if (fromClient.length < length) break;
          const code = fromClient.readInt32BE(4);
          fromClient = fromClient.subarray(length);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) expectSslAnswer++;
          else startup = false;
          continue;
        }
        if (fromClient.length < 5) break;
        const length = fromClient.readInt32BE(1);
        if (fromClient.length < 1 + length) break;
        onClientMessage(fromClient[0]!, fromClient.subarray(5, 1 + length));
        fromClient = fromClient.subarray(1 + length);
      }
    });

    upstream.on("data", (chunk: Buffer) => {
      client.write(chunk);
      fromServer = fromServer.length ? Buffer.concat([fromServer, chunk]) : chunk;
      for (;;) {
        if (expectSslAnswer > 0) {
          if (fromServer.length < 1) break;
          expectSslAnswer--;
          fromServer = fromServer.subarray(1);
          continue;
        }
        if (fromServer.length < 5) break;
        const length = fromServer.readInt32BE(1);
        if (fromServer.length < 1 + length) break;
        if (fromServer[0] === 0x5a /* Z */ && fromServer[5] === 0x49 /* I */) counts.transactions++;
        fromServer = fromServer.subarray(1 + length);
      }
    });

    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    counts,
    reset,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
