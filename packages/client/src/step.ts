// cairn.step(name, fn): run `fn` at most once to success across the tries of a task, and give later tries
// its stored result (as Inngest's step.run, or Temporal's heartbeat details). The result lives in the
// task's state under `cairn:step:<name>`, so a retry (a new task instance, a new token) finds it.
import { CairnError, OutcomeUnknownError, VersionConflictError } from "./errors.ts";
import type { CallOptions } from "./transport.ts";

/** The stored form: `{ result }`, or `{}` for a step whose function returned nothing. */
interface StepRecord<T> {
  result?: T;
}

/** The part of the task-state client a step needs. */
interface StepState {
  entry<T>(key: string, options?: CallOptions): Promise<{ value: T } | null>;
  set(key: string, value: object, options: CallOptions & { ifVersion: number }): Promise<{ version: number }>;
}

/** The task-state key of a step. */
export const stepKey = (name: string) => `cairn:step:${name}`;

/**
 * The function of a step ran, but its result cannot be stored: nothing was stored, and the next try
 * will run the step again. The result is kept here (`result`), so this try can still use it.
 */
export class StepResultError extends CairnError {
  override name = "StepResultError";
  readonly result: unknown;
  constructor(message: string, result: unknown, cause?: unknown) {
    super(message, { code: "BAD_REQUEST", httpStatus: 0, cause });
    this.result = result;
  }
}

/** Why `value` is not JSON that comes back equal (and that the server stores), or undefined when it is. */
function notStorable(value: unknown, path: string, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case "string":
      if (value.includes("\u0000")) return `${path} contains U+0000`;
      if (/\p{Surrogate}/u.test(value)) return `${path} contains a lone UTF-16 surrogate`;
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`;
    case "boolean":
      return undefined;
    case "object": {
      if (value === null) return undefined;
      if (seen.has(value)) return `${path} refers back to itself (a cycle)`;
      const prototype = Object.getPrototypeOf(value);
      if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) {
        const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
        return `${path} is a ${kind}, which would come back as something else (store plain JSON: a string for a Date)`;
      }
      seen.add(value);
      const entries = Array.isArray(value)
        ? value.map((item, i) => [`[${i}]`, item] as const)
        : Object.entries(value);
      for (const [name, child] of entries) {
        if (child === undefined && !Array.isArray(value)) continue; // dropped, and reads back as undefined
        const problem = notStorable(child, Array.isArray(value) ? `${path}${name}` : `${path}.${name}`, seen);
        if (problem) return problem;
      }
      seen.delete(value);
      return undefined;
    }
    default:
      return `${path} is a ${typeof value}, which JSON cannot hold`;
  }
}

/** Steps in flight in this process, by client and step: concurrent calls of one step share one run. */
const inFlight = new Map<string, Promise<unknown>>();

export function stepRunner(state: StepState, scope: string) {
  return async function step<T>(
    name: string,
    fn: () => T | Promise<T>,
    options?: CallOptions,
  ): Promise<Awaited<T>> {
    if (typeof name !== "string" || name === "")
      throw new TypeError("step(name, fn): name must be a non-empty string");
    const key = stepKey(name);
    const id = `${scope}\u0000${key}`;
    const running = inFlight.get(id);
    if (running) return running as Promise<Awaited<T>>;
    const run = runOnce<Awaited<T>>(state, name, key, fn as () => Promise<Awaited<T>>, options);
    inFlight.set(id, run);
    try {
      return await run;
    } finally {
      inFlight.delete(id);
    }
  };
}

async function runOnce<T>(
  state: StepState,
  name: string,
  key: string,
  fn: () => Promise<T>,
  options: CallOptions | undefined,
): Promise<T> {
  const stored = await state.entry<StepRecord<T>>(key, options);
  if (stored) return stored.value.result as T;
  const result = await fn(); // a throwing function stores nothing
  const problem = result === undefined ? undefined : notStorable(result, "the result", new Set());
  if (problem) {
    throw new StepResultError(
      `step "${name}": ${problem}; nothing was stored, so the next try runs the step again (the result is on this error's \`result\`)`,
      result,
    );
  }
  const record: StepRecord<T> = result === undefined ? {} : { result };
  for (let attempt = 1; ; attempt++) {
    try {
      // Create only: if another try (a zombie) stored its result first, that one stands.
      await state.set(key, record, { ...options, ifVersion: 0 });
      return result;
    } catch (error) {
      if (error instanceof VersionConflictError || error instanceof OutcomeUnknownError) {
        const now = await state.entry<StepRecord<T>>(key, options);
        if (now) return now.value.result as T;
        // An unknown outcome that turned out not applied: creating again is safe.
        if (error instanceof OutcomeUnknownError && attempt < 3) continue;
      }
      if (error instanceof CairnError && (error.httpStatus === 400 || error.httpStatus === 413)) {
        throw new StepResultError(
          `step "${name}": the server refused its result (${error.message}); nothing was stored, so the next try runs the step again (the result is on this error's \`result\`)`,
          result,
          error,
        );
      }
      throw error;
    }
  }
}
