// The router's procedures as dotted paths (`admin.taskState.get`), for tables that must name every one.
import type { AnyProcedure, inferProcedureOutput } from "@trpc/server";
import type { AppRouter } from "./root.ts";

type Record_ = AppRouter["_def"]["record"];

type PathsOf<R, Prefix extends string> = {
  [K in keyof R & string]: R[K] extends AnyProcedure ? `${Prefix}${K}` : PathsOf<R[K], `${Prefix}${K}.`>;
}[keyof R & string];

type At<R, P extends string> = P extends `${infer Head}.${infer Rest}`
  ? Head extends keyof R
    ? At<R[Head], Rest>
    : never
  : P extends keyof R
    ? R[P]
    : never;

/** Every procedure's path: `taskState.get`, ..., `admin.cleanup.preview`. */
export type ProcedurePath = PathsOf<Record_, "">;

/** A subscription's output is a stream of tracked events ({ id, data }): what each event's data is. */
type EventOf<O> = O extends AsyncIterable<infer E> ? (E extends { id: string; data: infer T } ? T : E) : O;

/** What a procedure returns (`result.data` on the wire), or what each event of a subscription carries. */
export type ProcedureOutput<P extends ProcedurePath> =
  At<Record_, P> extends infer Procedure extends AnyProcedure
    ? EventOf<inferProcedureOutput<Procedure>>
    : never;
