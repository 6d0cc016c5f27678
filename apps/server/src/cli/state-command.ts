// `cairn state ls|get|set|rm|clear|watch`: task state (by --dag/--run/--task[/--map-index]) or asset state
// (by --asset NAME or --asset-uri URI), through the admin state API of a running server.
import type { AdminClient } from "./admin-client.ts";
import { UsageError } from "./admin-client.ts";
import { type Output, preview, table } from "./output.ts";

export interface StateFlags {
  dag?: string | undefined;
  run?: string | undefined;
  task?: string | undefined;
  "map-index"?: string | undefined;
  asset?: string | undefined;
  "asset-uri"?: string | undefined;
  prefix?: string | undefined;
  limit?: string | undefined;
  "expires-at"?: string | undefined;
  "if-version"?: string | undefined;
  "all-map-indices"?: boolean | undefined;
}

type Scope =
  | { plane: "task"; address: { dagId: string; runId: string; taskId: string; mapIndex: number } }
  | { plane: "asset"; asset: { name: string } | { uri: string } };

function scopeOf(flags: StateFlags): Scope {
  if (flags.asset !== undefined || flags["asset-uri"] !== undefined) {
    if (flags.asset !== undefined && flags["asset-uri"] !== undefined) {
      throw new UsageError("give --asset or --asset-uri, not both");
    }
    return {
      plane: "asset",
      asset: flags.asset !== undefined ? { name: flags.asset } : { uri: flags["asset-uri"]! },
    };
  }
  if (!flags.dag || !flags.run || !flags.task) {
    throw new UsageError(
      "say whose state: --dag D --run R --task T [--map-index N], or --asset NAME / --asset-uri URI",
    );
  }
  return {
    plane: "task",
    address: {
      dagId: flags.dag,
      runId: flags.run,
      taskId: flags.task,
      mapIndex: integer(flags["map-index"] ?? "-1", "--map-index"),
    },
  };
}

function integer(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value)) throw new UsageError(`${flag} must be a whole number, got "${text}"`);
  return value;
}

function parseValue(text: string | undefined): unknown {
  if (text === undefined) throw new UsageError("cairn state set <key> <json-value>: the value is missing");
  try {
    return JSON.parse(text);
  } catch {
    // A bare word is a string: `cairn state set job_id app-42` stores "app-42".
    return text;
  }
}

function parseExpiry(text: string | undefined): string | null | undefined {
  if (text === undefined) return undefined;
  if (text === "never") return null;
  return text;
}

interface Entry {
  key: string;
  value?: unknown;
  version: number;
  updatedAt: string;
  expiresAt: string | null;
  writer?: {
    kind: string;
    dagId: string | null;
    runId: string | null;
    taskId: string | null;
    mapIndex: number | null;
  };
}

function writerText(writer: Entry["writer"]): string {
  if (!writer) return "";
  if (writer.kind !== "task") return writer.kind;
  return `${writer.dagId}/${writer.runId}/${writer.taskId}${writer.mapIndex !== null && writer.mapIndex >= 0 ? `[${writer.mapIndex}]` : ""}`;
}

export async function stateCommand(
  client: AdminClient,
  verb: string | undefined,
  args: string[],
  flags: StateFlags,
  output: Output,
): Promise<number> {
  const scope = scopeOf(flags);
  const key = args[0];
  const needKey = () => {
    if (key === undefined) throw new UsageError(`cairn state ${verb} <key>: the key is missing`);
    return key;
  };
  const ifVersion =
    flags["if-version"] === undefined ? {} : { ifVersion: integer(flags["if-version"], "--if-version") };

  switch (verb) {
    case "ls": {
      const limit = flags.limit === undefined ? undefined : integer(flags.limit, "--limit");
      const items: Entry[] = [];
      let cursor: string | null = null;
      let total = 0;
      do {
        const pageSize: number = Math.min(1000, limit === undefined ? 1000 : limit - items.length);
        const page: { items: Entry[]; nextCursor: string | null; total: number } =
          scope.plane === "task"
            ? await client.admin.taskState.list.query({
                ...scope.address,
                prefix: flags.prefix,
                limit: pageSize,
                cursor,
              })
            : await client.admin.assetState.list.query({
                asset: scope.asset,
                prefix: flags.prefix,
                limit: pageSize,
                cursor,
              });
        items.push(...page.items);
        total = page.total;
        cursor = page.nextCursor;
      } while (cursor !== null && (limit === undefined || items.length < limit));
      if (output.json) {
        output.out(JSON.stringify({ items, total }));
        return 0;
      }
      const rows = items.map((e) => ({
        key: e.key,
        version: String(e.version),
        updated: e.updatedAt,
        expires: e.expiresAt ?? "never",
        ...(scope.plane === "asset" ? { writer: writerText(e.writer) } : {}),
        value: preview(e.value),
      }));
      const columns = [
        "key",
        "version",
        "updated",
        "expires",
        ...(scope.plane === "asset" ? ["writer"] : []),
        "value",
      ];
      output.out(table(rows, columns, "(no keys)"));
      output.out(`${items.length} of ${total} key(s)`);
      return 0;
    }
    case "get": {
      const entry: Entry =
        scope.plane === "task"
          ? await client.admin.taskState.get.query({ ...scope.address, key: needKey() })
          : await client.admin.assetState.get.query({ asset: scope.asset, key: needKey() });
      output.out(output.json ? JSON.stringify(entry) : JSON.stringify(entry.value, null, 2));
      return 0;
    }
    case "set": {
      const value = parseValue(args[1]);
      const expiresAt = parseExpiry(flags["expires-at"]);
      const expiry = expiresAt === undefined ? {} : { expiresAt };
      const result =
        scope.plane === "task"
          ? await client.admin.taskState.set.mutate({
              ...scope.address,
              key: needKey(),
              value,
              ...expiry,
              ...ifVersion,
            })
          : await client.admin.assetState.set.mutate({
              asset: scope.asset,
              key: needKey(),
              value,
              ...expiry,
              ...ifVersion,
            });
      output.out(output.json ? JSON.stringify(result) : `set ${key} (version ${result.version})`);
      return 0;
    }
    case "watch":
      return watchCommand(client, scope, key, flags.prefix, output);
    case "rm": {
      const result =
        scope.plane === "task"
          ? await client.admin.taskState.delete.mutate({ ...scope.address, key: needKey(), ...ifVersion })
          : await client.admin.assetState.delete.mutate({ asset: scope.asset, key: needKey(), ...ifVersion });
      output.out(
        output.json ? JSON.stringify(result) : result.deleted ? `deleted ${key}` : `${key} did not exist`,
      );
      return 0;
    }
    case "clear": {
      const result =
        scope.plane === "task"
          ? await client.admin.taskState.clear.mutate({
              ...scope.address,
              allMapIndices: flags["all-map-indices"] ?? false,
            })
          : await client.admin.assetState.clear.mutate({ asset: scope.asset });
      output.out(output.json ? JSON.stringify(result) : `deleted ${result.deleted} key(s)`);
      return 0;
    }
    default:
      throw new UsageError("cairn state ls|get|set|rm|clear ...");
  }
}

type WatchEvent = {
  op: "set" | "delete" | "synced" | "reset";
  key?: string;
  entry?: Entry;
  cause?: string;
  writer?: Entry["writer"];
  where?: { dagId: string; runId: string; taskId: string; mapIndex: number } | { asset: unknown };
};

/**
 * `cairn state watch [key] [--prefix P]`: a line per event until Ctrl-C (or SIGTERM). A task's state is
 * watched through admin.watch of its dag run, keeping the events of that task and map index. When the
 * server ends the stream (a restart), it reconnects and resumes from the last event.
 */
async function watchCommand(
  client: AdminClient,
  scope: Scope,
  key: string | undefined,
  prefix: string | undefined,
  output: Output,
): Promise<number> {
  if (key !== undefined && prefix !== undefined) throw new UsageError("give a key or --prefix, not both");
  const input =
    scope.plane === "task"
      ? { dagId: scope.address.dagId, runId: scope.address.runId, prefix: key ?? prefix }
      : { asset: scope.asset, prefix: key ?? prefix };
  const wanted = (event: WatchEvent) => {
    if (event.op === "synced" || event.op === "reset") return true;
    if (key !== undefined && event.key !== key) return false;
    if (scope.plane === "asset" || !event.where || !("taskId" in event.where)) return true;
    return event.where.taskId === scope.address.taskId && event.where.mapIndex === scope.address.mapIndex;
  };
  const print = (event: WatchEvent) => {
    if (output.json) {
      const { where: _where, ...rest } = event;
      return output.out(JSON.stringify(rest));
    }
    if (event.op === "set") {
      const writer = scope.plane === "asset" ? ` by ${writerText(event.writer)}` : "";
      return output.out(
        `set ${event.key} = ${preview(event.entry?.value)} (version ${event.entry?.version}${writer})`,
      );
    }
    if (event.op === "delete") return output.out(`delete ${event.key} (${event.cause})`);
    output.out(
      event.op === "synced"
        ? "-- synced: live changes follow (Ctrl-C to stop)"
        : "-- reset: the state is sent again",
    );
  };
  let lastEventId: string | undefined;
  const stop = new Promise<number>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve(0));
  });
  for (;;) {
    const ended = await Promise.race([
      stop,
      new Promise<number | Error | "reconnect">((resolve) => {
        const subscription = client.admin.watch.subscribe(
          { ...input, ...(lastEventId ? { lastEventId } : {}) },
          {
            onData: ({ id, data }) => {
              lastEventId = id;
              const event = data as WatchEvent;
              if (wanted(event)) print(event);
            },
            onError: (error) => resolve(error instanceof Error ? error : new Error(String(error))),
            onComplete: () => resolve("reconnect"),
          },
        );
        void stop.then(() => subscription.unsubscribe());
      }),
    ]);
    if (typeof ended === "number") return ended;
    if (ended instanceof Error) throw ended;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
