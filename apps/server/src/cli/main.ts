// `cairn`: the operator's command line (`pnpm cairn <command>` in this repository).
import { parseArgs } from "node:util";
import { applyMigrations, openDatabase } from "@cairn/db";
import { runServe } from "../serve.ts";
import { adminClient, UsageError } from "./admin-client.ts";
import { cleanCommand } from "./clean-command.ts";
import { stdOutput } from "./output.ts";
import { stateCommand } from "./state-command.ts";
import { adminTokenCommand, issueTokenCommand } from "./token-command.ts";

const usage = `usage: cairn <command> [options]

  serve                                 run the server (same as pnpm start; configured by env, see README)
  migrate                               apply pending migrations to DATABASE_URL or the embedded database
  token issue --ti <id> [--ttl <s>]     an execution token for a task instance (asks the server)
  token admin [--sub <who>] [--ttl <s>] [--scope admin|viewer]
                                        an admin (or read-only viewer) token, signed with CAIRN_JWT_SECRET
                                        or the embedded secret
  state ls [--prefix P] [--limit N]     list keys with version, updated, expires (and writer, for assets)
  state get <key>                       print a value
  state set <key> <json> [--expires-at ISO|never] [--if-version N]
  state rm <key> [--if-version N]
  state clear [--all-map-indices]
  state watch [key] [--prefix P]        a line per change (--json: one JSON event per line) until Ctrl-C
        whose state: --dag D --run R --task T [--map-index N]   or   --asset NAME | --asset-uri URI
  clean [--dry-run] [--batch-size N]    delete expired state now (--dry-run lists what would go)

  --url URL      server (default CAIRN_URL or http://127.0.0.1:4000)
  --token T      admin token (default CAIRN_ADMIN_TOKEN)
  --json         machine-readable output`;

const options = {
  url: { type: "string" },
  token: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  ti: { type: "string" },
  ttl: { type: "string" },
  sub: { type: "string" },
  scope: { type: "string" },
  dag: { type: "string" },
  run: { type: "string" },
  task: { type: "string" },
  "map-index": { type: "string" },
  asset: { type: "string" },
  "asset-uri": { type: "string" },
  prefix: { type: "string" },
  limit: { type: "string" },
  "expires-at": { type: "string" },
  "if-version": { type: "string" },
  "all-map-indices": { type: "boolean" },
  "dry-run": { type: "boolean" },
  "batch-size": { type: "string" },
} as const;

async function main(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args: argv,
    options,
    allowPositionals: true,
    strict: true,
  });
  const [command, sub, ...rest] = positionals;
  const output = stdOutput(flags.json ?? false);
  if (flags.help || !command) {
    output.out(usage);
    return command || flags.help ? 0 : 2;
  }
  const client = () => adminClient({ url: flags.url, token: flags.token });
  switch (command) {
    case "serve":
      runServe();
      return -1; // keeps running
    case "migrate": {
      // Behind a transaction pooler, migrations need PostgreSQL itself (session-level locks).
      const db = await openDatabase({ url: process.env.CAIRN_MIGRATE_DATABASE_URL || undefined });
      try {
        const applied = await applyMigrations(db.migrationFactory);
        output.out(
          output.json
            ? JSON.stringify({ applied })
            : applied.length
              ? `applied: ${applied.join(", ")}`
              : "up to date",
        );
        return 0;
      } finally {
        await db.close();
      }
    }
    case "token":
      if (sub === "issue") return issueTokenCommand(client(), flags, output);
      if (sub === "admin") return adminTokenCommand(flags, output);
      throw new UsageError("cairn token issue --ti <id> | cairn token admin");
    case "state":
      return stateCommand(client(), sub, rest, flags, output);
    case "clean":
      return cleanCommand(client(), flags, output);
    default:
      throw new UsageError(`unknown command "${command}"\n\n${usage}`);
  }
}

/**
 * Exits once a command is done, after stdout and stderr are flushed: a finished command must not wait for
 * a database pool's idle timers (the server's start-up migrations run `cairn migrate` and wait for it).
 */
function exit(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) exit(code);
  },
  (error: unknown) => {
    if (
      error instanceof UsageError ||
      (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      process.stderr.write(`cairn: ${error.message}\n`);
      exit(2);
    } else if (isApiError(error)) {
      const { code, reason } = error.data;
      process.stderr.write(`cairn: ${error.message} (${code}${reason ? `, ${reason}` : ""})\n`);
      exit(1);
    } else {
      process.stderr.write(`cairn: ${error instanceof Error ? error.message : String(error)}\n`);
      exit(1);
    }
  },
);

/** An error answer of the API, as the tRPC client surfaces it (`data` is the contract's error data). */
function isApiError(error: unknown): error is Error & { data: { code: string; reason?: string } } {
  return error instanceof Error && typeof (error as { data?: { code?: unknown } }).data?.code === "string";
}
