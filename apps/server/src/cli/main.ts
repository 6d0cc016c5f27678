// `cairn`: the operator's command line (`pnpm cairn <command>` in this repository). The commands are in
// program.ts; this file runs them and turns what went wrong into a message and an exit code: 2 for a usage
// error (nothing was done), 1 for a failure (the API said no, the server cannot be reached), 0 when done.
import { CommanderError } from "commander";
import { Unreachable, UsageError } from "./admin-client.ts";
import { buildProgram, type Run } from "./program.ts";

/**
 * Exits once a command is done, after stdout and stderr are flushed: a finished command must not wait for
 * a database pool's idle timers (the server's start-up migrations run `cairn migrate` and wait for it).
 */
function exit(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

const run: Run = { code: 0 };
buildProgram(run)
  .parseAsync(process.argv.slice(2), { from: "user" })
  .then(
    () => {
      if (run.code >= 0) exit(run.code);
    },
    (error: unknown) => {
      if (error instanceof CommanderError) {
        // commander has printed the help, the version or the error: --help and --version exit 0, the rest
        // (an unknown flag or command, a missing argument, a bad option value, no command at all) is usage.
        exit(error.exitCode === 0 ? 0 : 2);
        return;
      }
      process.stderr.write(`cairn: ${message(error, run.url)}\n`);
      exit(error instanceof UsageError ? 2 : 1);
    },
  );

function message(error: unknown, url: string | undefined): string {
  if (isApiError(error)) {
    const { code, reason } = error.data;
    return `${error.message} (${code}${reason ? `, ${reason}` : ""})`;
  }
  const unreachable = fetchFailure(error);
  if (unreachable !== undefined) {
    return `cannot reach the server at ${url ?? "(no url)"} (${unreachable}): is it running? set CAIRN_URL or --url`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** An error answer of the API, as the tRPC client surfaces it (`data` is the contract's error data). */
function isApiError(error: unknown): error is Error & { data: { code: string; reason?: string } } {
  return error instanceof Error && typeof (error as { data?: { code?: unknown } }).data?.code === "string";
}

/**
 * Why a request never got an answer, when it did not: fetch's `TypeError: fetch failed` (wrapped by the
 * tRPC client) has the system error as its cause (`connect ECONNREFUSED 127.0.0.1:4000`, `getaddrinfo
 * ENOTFOUND host`; several tried addresses: an AggregateError with an empty message). `state watch`'s
 * event stream says it as an Unreachable.
 */
function fetchFailure(error: unknown): string | undefined {
  if (error instanceof Unreachable) return error.message;
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof TypeError && e.message === "fetch failed") {
      const cause = e.cause;
      if (!(cause instanceof Error)) return e.message;
      if (cause.message) return cause.message;
      const errors = cause instanceof AggregateError ? cause.errors.filter((x) => x instanceof Error) : [];
      if (errors.length > 0) return errors.map((x: Error) => x.message).join("; ");
      const code = (cause as { code?: unknown }).code;
      return typeof code === "string" ? code : e.message;
    }
  }
  return undefined;
}
