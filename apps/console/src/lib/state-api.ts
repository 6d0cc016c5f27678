// One face for the two kinds of state the console shows: a task's (by dag, run, task and map index) and
// an asset's (by name). Views list, read, write and watch "a scope" without caring which plane it is.
import type { AppRouter } from "@cairn/api";
import { type UseQueryOptions, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useTRPC, useTRPCClient } from "./trpc.ts";

type Outputs = inferRouterOutputs<AppRouter>;
export type StateEntry = Outputs["admin"]["taskState"]["get"];
export type Writer = Outputs["admin"]["assetState"]["list"]["items"][number]["writer"];
export type ListedEntry = StateEntry & { writer?: Writer };
export interface StatePage {
  items: ListedEntry[];
  nextCursor: string | null;
  total: number;
}

export type StateScope =
  | { plane: "task"; dagId: string; runId: string; taskId: string; mapIndex: number }
  | { plane: "asset"; name: string };

/** What an operator types to confirm clearing a scope: the task id, or the asset's name. */
export function scopeName(scope: StateScope): string {
  return scope.plane === "task" ? scope.taskId : scope.name;
}

export interface ListInput {
  prefix?: string | undefined;
  limit: number;
  cursor: string | null;
}

export function useStateApi(scope: StateScope) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const task = scope.plane === "task" ? scope : undefined;
  const asset = scope.plane === "asset" ? { name: scope.name } : undefined;
  const address = task && {
    dagId: task.dagId,
    runId: task.runId,
    taskId: task.taskId,
    mapIndex: task.mapIndex,
  };

  const listOptions = (input: ListInput) =>
    address
      ? trpc.admin.taskState.list.queryOptions({ ...address, ...input })
      : trpc.admin.assetState.list.queryOptions({ asset: asset!, ...input });
  const getOptions = (key: string) =>
    address
      ? trpc.admin.taskState.get.queryOptions({ ...address, key })
      : trpc.admin.assetState.get.queryOptions({ asset: asset!, key });
  /** Everything the console has read of this plane's state: refetched after a change. */
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({
        queryKey: address ? trpc.admin.taskState.pathKey() : trpc.admin.assetState.pathKey(),
      }),
      queryClient.invalidateQueries({
        queryKey: address ? trpc.admin.taskInstances.list.pathKey() : trpc.admin.assets.list.pathKey(),
      }),
    ]);

  return {
    // The two planes' options differ only in their input; the views see one shape.
    listOptions: listOptions as unknown as (input: ListInput) => UseQueryOptions<StatePage>,
    getOptions: getOptions as unknown as (key: string) => UseQueryOptions<StateEntry>,
    refresh,
    /** The entry as it is now, or null when the key does not exist (or has expired). */
    fetchCurrent: async (key: string): Promise<StateEntry | null> => {
      try {
        return address
          ? await client.admin.taskState.get.query({ ...address, key })
          : await client.admin.assetState.get.query({ asset: asset!, key });
      } catch (error) {
        if ((error as { data?: { reason?: string } }).data?.reason === "key_not_found") return null;
        throw error;
      }
    },
    set: (input: { key: string; value: unknown; expiresAt?: string | null; ifVersion?: number }) =>
      address
        ? client.admin.taskState.set.mutate({ ...address, ...input })
        : client.admin.assetState.set.mutate({ asset: asset!, ...input }),
    remove: (input: { key: string; ifVersion?: number }) =>
      address
        ? client.admin.taskState.delete.mutate({ ...address, ...input })
        : client.admin.assetState.delete.mutate({ asset: asset!, ...input }),
    clear: () =>
      address
        ? client.admin.taskState.clear.mutate(address)
        : client.admin.assetState.clear.mutate({ asset: asset! }),
    watchInput: address ? { dagId: address.dagId, runId: address.runId } : { asset: asset! },
    /** Whether a watch event of admin.watch is about this scope. */
    concerns: (where: unknown): boolean => {
      if (typeof where !== "object" || where === null) return true;
      const w = where as { taskId?: string; mapIndex?: number; asset?: { name: string } };
      if (address) return w.taskId === address.taskId && w.mapIndex === address.mapIndex;
      return w.asset?.name === asset?.name;
    },
  };
}
