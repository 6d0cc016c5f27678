// The `cairn` commands on commander: each with its own options, help and examples. A flag a command does not
// declare is an error (exit 2), never ignored; --url, --token and --json go after the command that takes
// them (`cairn state ls --json`) or before it (`cairn --json state ls`).
import { applyMigrations, openDatabase } from "@cairn/db";
import { Command, InvalidArgumentError, Option } from "commander";
import { runServe } from "../serve.ts";
import { VERSION } from "../version.ts";
import { adminClient, serverUrl } from "./admin-client.ts";
import { cleanCommand } from "./clean-command.ts";
import { confirmer } from "./confirm.ts";
import { stdOutput } from "./output.ts";
import { type StateOptions, type StateVerb, stateCommand } from "./state-command.ts";
import { adminTokenCommand, issueTokenCommand } from "./token-command.ts";

/** What a run of the program did: its exit code (-1: keeps running, `serve`), the server it talked to. */
export interface Run {
  code: number;
  url?: string | undefined;
}

interface ServerOptions {
  url?: string | undefined;
  token?: string | undefined;
  json?: boolean | undefined;
}

const ENVIRONMENT = `
Environment:
  CAIRN_URL            the server (default http://127.0.0.1:4000); --url overrides it
  CAIRN_ADMIN_TOKEN    an admin token (cairn token admin makes one); --token overrides it
  CAIRN_JWT_SECRET     the secret cairn token admin signs with (default: the embedded server's)
  CAIRN_DATA_DIR       the embedded database's directory (default ./.cairn)
  DATABASE_URL         PostgreSQL, for cairn migrate and cairn serve (unset: the embedded database)

Exit codes: 0 done, 1 failed (the server said no, or cannot be reached), 2 usage error (nothing was done).`;

/** A whole number option argument between min and max. */
function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\s*-?\d+\s*$/.test(text) || value < min || value > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `It must be a whole number from ${min}.`
          : `It must be a whole number from ${min} to ${max}.`,
      );
    }
    return value;
  };
}

/** The Examples section of a command's help: `[command line, what it does]`. */
function examples(command: Command, lines: [string, string?][]): Command {
  const text = lines.map(([line, comment]) => `${comment ? `  # ${comment}\n` : ""}  $ ${line}`).join("\n");
  return command.addHelpText("after", `\nExamples:\n${text}`);
}

function serverOptions(command: Command): Command {
  return command
    .optionsGroup("Server:")
    .option("--url <url>", "the server (default CAIRN_URL or http://127.0.0.1:4000)")
    .option("--token <token>", "an admin token (default CAIRN_ADMIN_TOKEN)")
    .optionsGroup("Options:");
}

function jsonOption(command: Command): Command {
  return command.option("--json", "machine-readable output");
}

/** `cairn state clear`, as typed. */
function commandLine(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

export function buildProgram(run: Run): Command {
  const program = new Command("cairn")
    .description("Operate a Cairn server: task and asset state, tokens, cleanup and migrations.")
    .usage("<command> [options]")
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show this help")
    .helpCommand("help [command]", "show a command's help")
    // Options before a command belong to the program (only --url, --token and --json); after it, to the command.
    .enablePositionalOptions()
    .configureHelp({ sortSubcommands: false, sortOptions: false })
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, "cairn: ")) })
    .showHelpAfterError("(cairn --help lists the commands)")
    .exitOverride();
  program
    .option("--url <url>", "the server, for the commands that talk to one")
    .option("--token <token>", "an admin token, for the commands that talk to a server")
    .option("--json", "machine-readable output")
    .addHelpText("after", ENVIRONMENT);
  examples(program, [
    ["export CAIRN_ADMIN_TOKEN=$(cairn token admin --sub me)"],
    ["cairn state ls --dag etl --run 2026-05-01 --task load"],
    ["cairn state set --help", "each command's options and examples"],
  ]);
  // Options given before the command must be options of that command.
  program.hook("preAction", (_program, action) => {
    for (const flag of ["url", "token", "json"] as const) {
      if (program.getOptionValue(flag) !== undefined && !action.options.some((o) => o.long === `--${flag}`)) {
        action.error(`error: --${flag} does not apply to ${commandLine(action)}`, {
          code: "cairn.misplacedOption",
          exitCode: 2,
        });
      }
    }
  });
  const optionsOf = <T>(command: Command) => ({ ...program.opts(), ...command.opts() }) as T & ServerOptions;
  const connect = (options: ServerOptions) => () => {
    run.url = serverUrl(options.url);
    return adminClient({ url: options.url, token: options.token });
  };
  /** A leaf command: a usage error from commander (an unknown flag) ends with a pointer to its help. */
  const leaf = (parent: Command, nameAndArgs: string, description: string) => {
    const command = parent.command(nameAndArgs).description(description);
    return command.showHelpAfterError(`(${commandLine(command)} --help shows its options)`);
  };

  // serve, migrate
  examples(
    leaf(
      program,
      "serve",
      "run the server (same as pnpm start; configured by the environment, see the README)",
    ).action(() => {
      runServe();
      run.code = -1; // keeps running
    }),
    [["PORT=4000 DATABASE_URL=postgres://... cairn serve"], ["cairn serve", "embedded database in ./.cairn"]],
  );
  examples(
    jsonOption(
      leaf(program, "migrate", "apply pending migrations to DATABASE_URL (or the embedded database)"),
    ).action(async (_options, command: Command) => {
      const output = stdOutput(optionsOf<object>(command).json ?? false);
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
        run.code = 0;
      } finally {
        await db.close();
      }
    }),
    [["DATABASE_URL=postgres://... cairn migrate"], ["CAIRN_DATA_DIR=./.cairn cairn migrate --json"]],
  );

  // token issue, token admin
  const token = program
    .command("token")
    .description("make tokens: for a worker (issue) or an operator (admin)");
  examples(
    jsonOption(
      serverOptions(
        leaf(token, "issue", "an execution token for a task instance, issued by the server")
          .requiredOption("--ti <id>", "the task instance id")
          .option(
            "--ttl <seconds>",
            "lifetime (default CAIRN_TOKEN_TTL_SECONDS of the server)",
            wholeNumber(1),
          ),
      ),
    ).action(async (_options, command: Command) => {
      const options = optionsOf<{ ti: string; ttl?: number }>(command);
      run.code = await issueTokenCommand(connect(options)(), options, stdOutput(options.json ?? false));
    }),
    [["cairn token issue --ti 01a213ac-2454-7592-a267-fe6469194b18 --ttl 3600"]],
  );
  examples(
    jsonOption(
      leaf(
        token,
        "admin",
        "an admin (or read-only viewer) token, signed here with CAIRN_JWT_SECRET or the embedded server's secret",
      )
        .option("--sub <who>", "who the token is for (default operator)")
        .option("--ttl <seconds>", "lifetime (default 86400: a day)", wholeNumber(1))
        .addOption(
          new Option("--scope <scope>", "admin: everything; viewer: admin queries and admin.watch only")
            .choices(["admin", "viewer"])
            .default("admin"),
        ),
    ).action(async (_options, command: Command) => {
      const options = optionsOf<{ sub?: string; ttl?: number; scope?: string }>(command);
      run.code = await adminTokenCommand(options, stdOutput(options.json ?? false));
    }),
    [
      ["export CAIRN_ADMIN_TOKEN=$(cairn token admin --sub alice)"],
      ["cairn token admin --scope viewer --sub dashboards --ttl 604800", "read-only, a week"],
    ],
  );

  // state ls|get|set|rm|clear|watch
  const state = program
    .command("state")
    .description("read and fix task state (--dag --run --task) or asset state (--asset) on a running server")
    .showHelpAfterError("(cairn state --help lists its commands)");
  const stateVerb = (
    verb: StateVerb,
    args: string,
    description: string,
    configure: (command: Command) => Command,
    lines: [string, string?][],
  ) => {
    const command = leaf(state, `${verb}${args ? ` ${args}` : ""}`, description)
      .optionsGroup("Whose state (task, or asset):")
      .option("--dag <dag>", "task state: the dag id")
      .option("--run <run>", "task state: the run id")
      .option("--task <task>", "task state: the task id")
      .option("--map-index <n>", "task state: the map index (default -1: not mapped)", wholeNumber(-1))
      .option("--asset <name>", "asset state: the asset's name")
      .option("--asset-uri <uri>", "asset state: the asset's uri")
      .optionsGroup("Options:");
    jsonOption(serverOptions(configure(command)));
    command.action(async (...params: unknown[]) => {
      const self = params.at(-1) as Command;
      const options = optionsOf<StateOptions & { yes?: boolean }>(self);
      run.code = await stateCommand(
        connect(options),
        verb,
        self.processedArgs as (string | undefined)[],
        options,
        stdOutput(options.json ?? false),
        confirmer({ yes: options.yes ?? false, command: `state ${verb}` }),
      );
    });
    return examples(command, lines);
  };
  const task = "--dag etl --run 2026-05-01 --task load";
  stateVerb(
    "ls",
    "",
    "list keys with version, updated, expires (and the writer, for assets) and a preview of the value",
    (c) =>
      c
        .option("--prefix <prefix>", "only keys that start with this")
        .option("--limit <n>", "at most this many keys (default: all)", wholeNumber(1)),
    [
      [`cairn state ls ${task}`],
      ["cairn state ls --asset warehouse.orders --prefix wm/", "also shows who wrote each key"],
      [`cairn state ls ${task} --map-index 3 --json`],
    ],
  );
  stateVerb("get", "<key>", "print a key's value (--json: the entry with version and expiry)", (c) => c, [
    [`cairn state get checkpoint ${task}`],
    ["cairn state get watermark --asset-uri s3://warehouse/orders --json"],
  ]);
  stateVerb(
    "set",
    "<key> <value>",
    "write a key: the value is JSON (42, true, '\"text\"', '{\"a\":1}'); --string stores the text as it is",
    (c) =>
      c
        .option("--string", "store the value as text, not JSON")
        .option("--expires-at <iso>", "expiry: an ISO date-time, or never (default: the server's retention)")
        .option(
          "--if-version <n>",
          "only if the key is at this version (0: only if it does not exist)",
          wholeNumber(0),
        ),
    [
      [`cairn state set checkpoint 42 ${task}`],
      [`cairn state set spark/conf '{"cores":8}' ${task} --expires-at never`],
      ["cairn state set owner alice --string --asset warehouse.orders", 'stores "alice"'],
      [`cairn state set checkpoint 43 ${task} --if-version 1`, "fails if someone else wrote it"],
    ],
  );
  stateVerb(
    "rm",
    "<key>",
    "delete a key (asks first on a terminal; --yes otherwise)",
    (c) =>
      c
        .option("--if-version <n>", "only if the key is at this version", wholeNumber(0))
        .option("-y, --yes", "delete without asking"),
    [[`cairn state rm checkpoint ${task}`], [`cairn state rm checkpoint ${task} --yes`, "in a script"]],
  );
  stateVerb(
    "clear",
    "",
    "delete every key of a task (one map index, or all) or of an asset (asks first on a terminal; --yes otherwise)",
    (c) =>
      c
        .option("--all-map-indices", "task state: every map index of the task (not with --map-index)")
        .option("-y, --yes", "delete without asking"),
    [
      [`cairn state clear ${task}`, "asks: Delete 3 key(s) of task etl/2026-05-01/load? [y/N]"],
      [`cairn state clear ${task} --all-map-indices --yes`],
      ["cairn state clear --asset warehouse.orders --yes"],
    ],
  );
  stateVerb(
    "watch",
    "[key]",
    "print a line per change (--json: one event per line) until Ctrl-C; reconnects when the server restarts",
    (c) => c.option("--prefix <prefix>", "only keys that start with this (not with a key)"),
    [
      ["cairn state watch watermark --asset warehouse.orders"],
      [`cairn state watch ${task} --prefix spark/ --json`],
    ],
  );

  // clean
  examples(
    jsonOption(
      serverOptions(
        leaf(
          program,
          "clean",
          "delete expired state now, batch by batch with progress (the server also does it on its own schedule); asks first on a terminal, --yes otherwise",
        )
          .option("--dry-run", "list what would be deleted, delete nothing")
          .option("--limit <n>", "with --dry-run: how many rows to list (default 50)", wholeNumber(0, 10_000))
          .option("--batch-size <n>", "rows per batch (default 1000)", wholeNumber(1, 100_000))
          .option("-y, --yes", "delete without asking"),
      ),
    ).action(async (_options, command: Command) => {
      const options = optionsOf<{ dryRun?: boolean; limit?: number; batchSize?: number; yes?: boolean }>(
        command,
      );
      run.code = await cleanCommand(
        connect(options),
        options,
        stdOutput(options.json ?? false),
        confirmer({ yes: options.yes ?? false, command: "clean" }),
      );
    }),
    [
      ["cairn clean --dry-run", "what has expired"],
      ["cairn clean", "asks: Delete 1204 expired row(s) (...)? [y/N]"],
      ["cairn clean --yes --batch-size 500", "in a script or cron job"],
    ],
  );
  return program;
}
