// Test fixtures built through the public surface: callers for an admin and for task instances.
import { randomUUID } from "node:crypto";
import type { Database } from "@cairn/db";
import { tokenKeys } from "../auth/tokens.ts";
import { type ApiConfig, createContextInner, defaultApiConfig } from "../context.ts";
import { createCaller } from "../root.ts";
import type { AssetRef } from "../schemas.ts";

export const TEST_SECRET = "test-secret-with-enough-entropy-0123456789abcdef";

export function testConfig(overrides: Partial<ApiConfig> = {}): ApiConfig {
  return { tokenKeys: tokenKeys(TEST_SECRET), ...defaultApiConfig, ...overrides };
}

export type Caller = ReturnType<typeof createCaller>;

/** A short unique suffix, so tests share a database without sharing data. */
export function unique(prefix: string): string {
  return `${prefix}_${randomUUID().slice(0, 8)}`;
}

/** Where fixtures().newTask puts its task instance: a new dag run unless dagId/runId name one. */
export interface NewTaskOptions {
  dagId?: string;
  runId?: string;
  taskId?: string;
  mapIndex?: number;
  inlets?: AssetRef[];
  outlets?: AssetRef[];
}

export function fixtures(getDb: () => Database, config: ApiConfig = testConfig()) {
  const admin = () =>
    createCaller(createContextInner({ db: getDb(), config, principal: { scope: "admin", sub: "test" } }));
  const asTask = (taskInstanceId: string) =>
    createCaller(
      createContextInner({
        db: getDb(),
        config,
        principal: {
          scope: "execution",
          sub: taskInstanceId.toLowerCase(),
          taskInstanceId: taskInstanceId.toLowerCase(),
        },
      }),
    );
  const anonymous = () => createCaller(createContextInner({ db: getDb(), config, principal: null }));
  /** A viewer token's caller (spec §7): admin queries and admin.watch only. */
  const viewer = () =>
    createCaller(createContextInner({ db: getDb(), config, principal: { scope: "viewer", sub: "viewer" } }));

  /** A new task instance in a new run (or the given one); returns its id and a caller holding its token. */
  async function newTask(opts: NewTaskOptions = {}) {
    const input = {
      dagId: opts.dagId ?? unique("dag"),
      runId: opts.runId ?? unique("run"),
      taskId: opts.taskId ?? unique("task"),
      mapIndex: opts.mapIndex ?? -1,
      inlets: opts.inlets ?? [],
      outlets: opts.outlets ?? [],
    };
    const { id, tryNumber } = await admin().admin.taskInstances.create(input);
    return { ...input, id, tryNumber, caller: asTask(id) };
  }

  async function newAsset(opts: { group?: string } = {}) {
    const name = unique("asset");
    const uri = `s3://bucket/${name}`;
    await admin().admin.assets.upsert({ name, uri, ...opts });
    return { name, uri };
  }

  return { admin, asTask, anonymous, viewer, newTask, newAsset, config };
}

/** Every key of a task's state, paging through `taskState.list` one key per page (cursor round trips). */
export async function listAllKeysOneByOne(caller: Caller, taskInstanceId: string): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: { key: string }[]; nextCursor: string | null } = await caller.taskState.list({
      taskInstanceId,
      limit: 1,
      cursor,
    });
    seen.push(...page.items.map((item) => item.key));
    cursor = page.nextCursor;
  } while (cursor !== null);
  return seen;
}

/** Runs a call expected to fail; returns its tRPC code and data.reason. */
export async function failure(
  call: Promise<unknown>,
): Promise<{ code: string; reason?: string; message: string }> {
  try {
    await call;
  } catch (error) {
    const e = error as { code?: string; message: string; cause?: { reason?: string } };
    return { code: e.code ?? "UNKNOWN", reason: e.cause?.reason, message: e.message };
  }
  throw new Error("expected the call to fail, but it succeeded");
}
