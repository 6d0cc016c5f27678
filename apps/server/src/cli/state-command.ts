// `cairn state ls|get|set|rm|clear|watch`: task state (by --dag/--run/--task[/--map-index]) or asset state
// (by --asset NAME or --asset-uri URI), through the admin state API of a running server.
import type { AdminClient } from "./admin-client.ts";
import { Unreachable, UsageError } from "./admin-client.ts";
import { type Confirm, cancelled } from "./confirm.ts";
import { type Output, preview, table } from "./output.ts";

export type StateVerb = "ls" | "get" | "set" | "rm" | "clear" | "watch";

/** The options of `cairn state <verb>` as commander parses them (each verb declares its own). */
export interface StateOptions {
  dag?: string | undefined;
  run?: string | undefined;
  task?: string | undefined;
  mapIndex?: number | undefined;
  asset?: string | undefined;
  assetUri?: string | undefined;
  prefix?: string | undefined;
  limit?: number | undefined;
  expiresAt?: string | undefined;
  ifVersion?: number | undefined;
  allMapIndices?: boolean | undefined;
  string?: boolean | undefined;
}

type Scope =
  | { plane: "task"; address: { dagId: string; runId: string; taskId: string; mapIndex: number } }
  | { plane: "asset"; asset: { name: string } | { uri: string } };

/**
 * Whose state, from the scope flags. Flags of the other plane are errors, not ignored: `state clear --asset
 * X --all-map-indices` must not clear the asset's state while the operator meant something else.
 */
function scopeOf(options: StateOptions): Scope {
  const taskFlags = (
    [
      ["--dag", options.dag],
      ["--run", options.run],
      ["--task", options.task],
      ["--map-index", options.mapIndex],
      ["--all-map-indices", options.allMapIndices],
    ] as const
  )
    .filter(([, value]) => value !== undefined)
    .map(([flag]) => flag);
  if (options.asset !== undefined || options.assetUri !== undefined) {
    const assetFlag = options.asset !== undefined ? "--asset" : "--asset-uri";
    if (options.asset !== undefined && options.assetUri !== undefined) {
      throw new UsageError("give --asset or --asset-uri, not both");
    }
    if (taskFlags.length > 0) {
      throw new UsageError(
        `${taskFlags.join(", ")} ${taskFlags.length > 1 ? "are" : "is"} for task state (--dag --run --task), not for ${assetFlag}`,
      );
    }
    return {
      plane: "asset",
      asset: options.asset !== undefined ? { name: options.asset } : { uri: options.assetUri! },
    };
  }
  if (!options.dag || !options.run || !options.task) {
    throw new UsageError(
      "say whose state: --dag D --run R --task T [--map-index N], or --asset NAME / --asset-uri URI",
    );
  }
  if (options.allMapIndices && options.mapIndex !== undefined) {
    throw new UsageError("--all-map-indices clears every map index: leave out --map-index");
  }
  return {
    plane: "task",
    address: {
      dagId: options.dag,
      runId: options.run,
      taskId: options.task,
      mapIndex: options.mapIndex ?? -1,
    },
  };
}

/** `cairn state set <key> <value>`: the value is JSON (`42`, `'"text"'`, `'{"a":1}'`), or text with --string. */
function parseValue(text: string, asString: boolean): unknown {
  if (asString) return text;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `the value is not JSON (${error instanceof Error ? error.message : String(error)}): use --string to store it as text, or quote a JSON string ('"text"')`,
    );
  }
}

function parseExpiry(text: string | undefined): string | null | undefined {
  if (text === undefined) return undefined;
  if (text === "never") return null;
  return text;
}

/** Whose state, for people: `task etl/2026-05-01/load[3]`, `asset warehouse.orders`. */
function scopeText(scope: Scope, allMapIndices = false): string {
  if (scope.plane === "asset") {
    return "name" in scope.asset ? `asset ${scope.asset.name}` : `asset ${scope.asset.uri}`;
  }
  const { dagId, runId, taskId, mapIndex } = scope.address;
  const index = allMapIndices ? " (every map index)" : mapIndex >= 0 ? `[${mapIndex}]` : "";
  return `task ${dagId}/${runId}/${taskId}${index}`;
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

/**
 * `cairn state <verb>`: `args` are the verb's arguments (the key, and the value for set). The scope is
 * checked before the client is made or anything is asked of the server.
 */
export async function stateCommand(
  connect: () => AdminClient,
  verb: StateVerb,
  args: (string | undefined)[],
  options: StateOptions,
  output: Output,
  confirm: Confirm,
): Promise<number> {
  const scope = scopeOf(options);
  const [key, text] = args;
  const needKey = () => {
    if (key === undefined) throw new UsageError(`cairn state ${verb} <key>: the key is missing`);
    return key;
  };
  const ifVersion = options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion };
  const value = verb === "set" ? parseValue(text ?? "", options.string ?? false) : undefined;
  const client = connect();

  switch (verb) {
    case "ls": {
      const limit = options.limit;
      const items: Entry[] = [];
      let cursor: string | null = null;
      let total = 0;
      do {
        const pageSize: number = Math.min(1000, limit === undefined ? 1000 : limit - items.length);
        const page: { items: Entry[]; nextCursor: string | null; total: number } =
          scope.plane === "task"
            ? await client.admin.taskState.list.query({
                ...scope.address,
                prefix: options.prefix,
                limit: pageSize,
                cursor,
              })
            : await client.admin.assetState.list.query({
                asset: scope.asset,
                prefix: options.prefix,
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
      const expiresAt = parseExpiry(options.expiresAt);
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
      return watchCommand(client, scope, key, options.prefix, output);
    case "rm": {
      if (!(await confirm(`delete key ${JSON.stringify(needKey())} of ${scopeText(scope)}`))) {
        return cancelled(output);
      }
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
      const allMapIndices = options.allMapIndices ?? false;
      const what = `delete ${await keyCount(client, scope, allMapIndices)} of ${scopeText(scope, allMapIndices)}`;
      if (!(await confirm(what))) return cancelled(output);
      const result =
        scope.plane === "task"
          ? await client.admin.taskState.clear.mutate({ ...scope.address, allMapIndices })
          : await client.admin.assetState.clear.mutate({ asset: scope.asset });
      output.out(output.json ? JSON.stringify(result) : `deleted ${result.deleted} key(s)`);
      return 0;
    }
  }
}

/**
 * How many keys a clear deletes, for its question: the list's total, or with --all-map-indices the live keys
 * of the task's current tries, one per map index (admin.taskInstances.list; a key written by an admin at
 * a map index without a task instance is not counted there, hence "at least").
 */
async function keyCount(client: AdminClient, scope: Scope, allMapIndices: boolean): Promise<string> {
  if (scope.plane === "asset") {
    const page = await client.admin.assetState.list.query({ asset: scope.asset, limit: 1 });
    return `${page.total} key(s)`;
  }
  if (!allMapIndices) {
    const page = await client.admin.taskState.list.query({ ...scope.address, limit: 1 });
    return `${page.total} key(s)`;
  }
  const { dagId, runId, taskId } = scope.address;
  let keys = 0;
  let cursor: string | null = null;
  do {
    const page: { items: { taskId: string; keys: number }[]; nextCursor: string | null } =
      await client.admin.taskInstances.list.query({ dagId, runId, taskIdPrefix: taskId, limit: 200, cursor });
    for (const item of page.items) {
      if (item.taskId !== taskId) continue;
      keys += item.keys;
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return `at least ${keys} key(s)`;
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
  // Once connected, a dropped connection (a server restart) is retried; a server never reached is an error.
  let connected = false;
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
            onStarted: () => {
              connected = true;
            },
            onConnectionStateChange: (state) => {
              if (connected || state.state !== "connecting" || !state.error) return;
              const failed = /^TypeError: fetch failed(?:: (.+))?$/s.exec(state.error.message);
              // Resolved before unsubscribing: the unsubscription completes the stream ("reconnect").
              resolve(failed ? new Unreachable(failed[1] ?? "fetch failed") : state.error);
              subscription.unsubscribe();
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
