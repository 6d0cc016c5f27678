// Confirmation for commands that delete (`state rm`, `state clear`, `clean`): a question on a terminal,
// `--yes` anywhere else (a script, a pipe, CI), so nothing is deleted by a command nobody was asked about.
import { createInterface } from "node:readline/promises";
import { UsageError } from "./admin-client.ts";
import type { Output } from "./output.ts";

/** Resolves true to go ahead; false when the operator said no (or Ctrl-C / Ctrl-D at the question). */
export type Confirm = (action: string) => Promise<boolean>;

type Stream<T> = T & { isTTY?: boolean | undefined };

export interface ConfirmOptions {
  /** --yes: do it without asking. */
  yes: boolean;
  /** The command, for the refusal: `state clear`. */
  command: string;
  input?: Stream<NodeJS.ReadableStream>;
  /** Where the question goes: stderr, so stdout stays the command's output. */
  output?: Stream<NodeJS.WritableStream>;
}

/**
 * `action` says what would happen ("delete 3 key(s) of task etl/2026-05-01/load"). With --yes it goes
 * ahead; with stdin and stderr on a terminal it asks `Delete ...? [y/N]`; otherwise it refuses with a
 * usage error saying to pass --yes.
 */
export function confirmer(options: ConfirmOptions): Confirm {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stderr;
  return async (action) => {
    if (options.yes) return true;
    if (!input.isTTY || !output.isTTY) {
      throw new UsageError(
        `${options.command} would ${action}: not done; pass --yes (-y) to confirm (there is no terminal to ask on)`,
      );
    }
    const rl = createInterface({ input, output, terminal: true });
    try {
      const answer = await new Promise<string>((resolve) => {
        rl.once("SIGINT", () => {
          output.write("\n");
          resolve("");
        });
        rl.once("close", () => resolve(""));
        rl.question(`${action[0]!.toUpperCase()}${action.slice(1)}? [y/N] `).then(resolve, () => resolve(""));
      });
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  };
}

/** The operator said no: nothing was deleted, and the exit code says the command did not do its job. */
export function cancelled(output: Output): number {
  output.err("cairn: cancelled, nothing deleted");
  return 1;
}
