// Type tests: checked by `tsc --noEmit`, never run. Every `@ts-expect-error` must mark a real error
// (tsc reports an unused one), so these lines prove that misuse does not compile.
import type { AppRouter, DomainErrorReason } from "@cairn/api";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { expectTypeOf } from "vitest";
import {
  type AssetStateClient,
  type CairnClient,
  CairnError,
  type CairnErrorCode,
  createCairnClient,
  NotFoundError,
  type RouterOutputs,
  type StateEntry,
  VersionConflictError,
} from "./index.ts";

declare const taskInstanceId: string;

// The raw tRPC client: inputs and outputs come from the router's type alone.
export async function rawClient() {
  const trpc = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: "http://127.0.0.1:4000/trpc" })] });

  // @ts-expect-error key must be a string
  await trpc.taskState.set.mutate({ taskInstanceId: "x", key: 1, value: 1 });
  // @ts-expect-error a misspelled field is refused (and by the server too: strict objects)
  await trpc.taskState.set.mutate({ taskInstanceId, key: "k", value: 1, ifversion: 1 });
  // @ts-expect-error ifVersion is a number
  await trpc.taskState.set.mutate({ taskInstanceId, key: "k", value: 1, ifVersion: "1" });
  // @ts-expect-error no transformer: dates travel as ISO strings, a Date is not accepted
  await trpc.taskState.set.mutate({ taskInstanceId, key: "k", value: 1, expiresAt: new Date() });
  // @ts-expect-error taskInstanceId is required
  await trpc.taskState.get.query({ key: "k" });
  // @ts-expect-error an AssetRef is { name } or { uri }
  await trpc.assetState.get.query({ asset: { id: 1 }, key: "k" });
  // @ts-expect-error get is a query, not a mutation
  await trpc.taskState.get.mutate({ taskInstanceId, key: "k" });
  // @ts-expect-error no such procedure
  await trpc.taskState.increment.mutate({ taskInstanceId, key: "k" });

  const entry = await trpc.taskState.get.query({ taskInstanceId, key: "k" });
  // @ts-expect-error version is a number
  entry.version.toUpperCase();
  // @ts-expect-error expiresAt may be null
  entry.expiresAt.length;
  expectTypeOf(entry.version).toEqualTypeOf<number>();
  expectTypeOf(entry.updatedAt).toEqualTypeOf<string>();
  expectTypeOf(entry.expiresAt).toEqualTypeOf<string | null>();
  // @ts-expect-error the output of set is { version }, not the entry
  (await trpc.taskState.set.mutate({ taskInstanceId, key: "k", value: 1 })).value;
  expectTypeOf(await trpc.taskState.delete.mutate({ taskInstanceId, key: "k" })).toEqualTypeOf<{
    deleted: boolean;
  }>();
  const page = await trpc.taskState.list.query({ taskInstanceId, prefix: "a/", limit: 10 });
  expectTypeOf(page.nextCursor).toEqualTypeOf<string | null>();
  expectTypeOf(page.items[0]!.key).toEqualTypeOf<string>();
  const issued = await trpc.admin.tokens.issue.mutate({ taskInstanceId, ttlSeconds: 60 });
  expectTypeOf(issued).toEqualTypeOf<{ token: string; expiresAt: string }>();
}

// The worker client.
export async function workerClient(cairn: CairnClient) {
  expectTypeOf(createCairnClient).returns.toEqualTypeOf<CairnClient>();
  // @ts-expect-error url and token are required
  createCairnClient({ url: "http://127.0.0.1:4000" });
  // @ts-expect-error timeoutMs is a number of ms
  createCairnClient({ url: "http://x", token: "t", timeoutMs: "10s" });

  // get infers the value's type from the fallback; without one the value may be undefined.
  expectTypeOf(await cairn.get("offset", 0)).toEqualTypeOf<number>();
  expectTypeOf(await cairn.get<{ jobId: string }>("job", { jobId: "" })).toEqualTypeOf<{ jobId: string }>();
  expectTypeOf(await cairn.get("offset")).toEqualTypeOf<unknown>();
  expectTypeOf(await cairn.get<number>("offset")).toEqualTypeOf<number | undefined>();
  const offset: number = await cairn.get("offset", 0);
  // @ts-expect-error the fallback fixes the type: a number is not a string
  const wrong: string = await cairn.get("offset", 0);

  expectTypeOf(await cairn.entry<number>("offset")).toEqualTypeOf<StateEntry<number> | null>();
  // @ts-expect-error entry may be null
  (await cairn.entry("offset")).version;

  expectTypeOf(await cairn.set("offset", offset + 1)).toEqualTypeOf<{ version: number }>();
  await cairn.set("k", { nested: [1, null] }, { expiresAt: new Date(), ifVersion: 3 });
  await cairn.set("k", "v", { expiresAt: "2026-05-15T12:00:00Z" });
  await cairn.set("k", "v", { expiresAt: null, timeoutMs: 500, signal: AbortSignal.timeout(1000) });
  // @ts-expect-error a top-level null is not a value (delete the key instead)
  await cairn.set("k", null);
  // @ts-expect-error undefined is not a value
  await cairn.set("k", undefined);
  // @ts-expect-error misspelled option
  await cairn.set("k", 1, { ifversion: 1 });
  // @ts-expect-error ifVersion is a number
  await cairn.set("k", 1, { ifVersion: "1" });

  expectTypeOf(await cairn.delete("k")).toEqualTypeOf<boolean>();
  expectTypeOf(await cairn.clear({ allMapIndices: true })).toEqualTypeOf<number>();
  for await (const item of cairn.list<number>({ prefix: "part/", pageSize: 50 })) {
    expectTypeOf(item).toEqualTypeOf<StateEntry<number>>();
    // @ts-expect-error value is a number here
    item.value.toUpperCase();
  }

  const asset: AssetStateClient = cairn.asset({ name: "warehouse.orders" });
  cairn.asset({ uri: "s3://bucket/orders" });
  cairn.asset("warehouse.orders");
  // @ts-expect-error exactly one of name and uri
  cairn.asset({ name: "a", uri: "b" });
  // @ts-expect-error an AssetRef has a name or a uri
  cairn.asset({ id: 1 });
  expectTypeOf(await asset.get("watermark", "1970-01-01")).toEqualTypeOf<string>();
  expectTypeOf(await asset.clear()).toEqualTypeOf<number>();
  // @ts-expect-error asset state has no map indices
  await asset.clear({ allMapIndices: true });
  // @ts-expect-error assets do not nest
  asset.asset({ name: "x" });

  // The client's entry type matches the router's output (value aside, which tRPC types as optional).
  const wire = {} as RouterOutputs["taskState"]["get"];
  const _entry: StateEntry = { ...wire, value: wire.value };
  void _entry;
  void wrong;

  try {
    await cairn.set("k", 1, { ifVersion: 1 });
  } catch (error) {
    if (error instanceof VersionConflictError) expectTypeOf(error.code).toEqualTypeOf<CairnErrorCode>();
    if (error instanceof NotFoundError) {
      // reason is one of the contract's values (spec §4).
      expectTypeOf(error.reason).toEqualTypeOf<DomainErrorReason | undefined>();
      if (error.reason === "task_instance_superseded") throw error;
      // @ts-expect-error not a reason of the contract
      if (error.reason === "no_such_reason") throw error;
    }
    if (error instanceof CairnError) {
      expectTypeOf(error.httpStatus).toEqualTypeOf<number>();
      expectTypeOf(error.retryable).toEqualTypeOf<boolean>();
    }
  }
}

// step(): the function's result type flows to the caller, sync or async.
export async function steps(cairn: CairnClient) {
  expectTypeOf(await cairn.step("count", async () => 5)).toEqualTypeOf<number>();
  expectTypeOf(await cairn.step("job", () => ({ id: "remote-1" }))).toEqualTypeOf<{ id: string }>();
  expectTypeOf(await cairn.step("send", async () => {})).toEqualTypeOf<void>();
  // @ts-expect-error a number result is not a string
  const wrong: string = await cairn.step("count", async () => 5);
  return wrong;
}
