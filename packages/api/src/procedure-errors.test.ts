// The errors and outputs the OpenAPI document lists, against the router: every procedure is called through
// tRPC's fetch adapter (the wire envelope) on a real database, in ways that succeed and ways that fail.
// Each error answered must be listed for its procedure (code and reason), each listed reason must be
// answered by some call (but the few that only a race can give), and each output must match its schema.
import { randomUUID } from "node:crypto";
import type { Database } from "@cairn/db";
import { describeEachDatabase } from "@cairn/db/testing";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { afterAll, expect, it } from "vitest";
import { signToken } from "./auth/tokens.ts";
import { createContextFromToken, createContextInner } from "./context.ts";
import { PROCEDURE_OUTPUTS } from "./openapi/outputs.ts";
import { PROCEDURE_REASONS, procedureErrors } from "./procedure-errors.ts";
import type { ProcedurePath } from "./procedure-paths.ts";
import { appRouter } from "./root.ts";
import { WatchHub } from "./services/watch/hub.ts";
import { testConfig, unique } from "./testing/fixtures.ts";
import { procedureAccess } from "./trpc.ts";

type Caller = "admin" | "viewer" | "none" | "expired" | { task: string };

/**
 * Reasons listed that no call here can give: an execution caller's own task instance vanishing between
 * the statements of one asset call (its dag run deleted meanwhile).
 */
const RACE_ONLY = new Set(
  [
    "assetState.get",
    "assetState.set",
    "assetState.delete",
    "assetState.clear",
    "assetState.list",
    "assetState.watch",
  ].map((path) => `${path} task_instance_not_found`),
);

const config = testConfig({ maxValueBytes: 100 });

const VERBS = ["get", "set", "delete", "clear", "list"] as const;
/** A state call's fields beside its namespace. */
const fieldsOf = (verb: (typeof VERBS)[number] | "watch") =>
  verb === "clear" || verb === "list" ? {} : verb === "set" ? { key: "k", value: 1 } : { key: "k" };
const procedures = appRouter._def.procedures as unknown as Record<
  ProcedurePath,
  { _def: { type: "query" | "mutation" | "subscription" } }
>;

/** A subscription's first message that is not `connected` or `ping`; the stream is then cancelled. */
async function firstEvent(res: Response): Promise<{ event: string | undefined; data: string }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended before its first event");
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1];
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.replace(/^data: ?/, ""))
          .join("\n");
        if (event === "connected" || event === "ping" || data === "") continue;
        return { event, data };
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

describeEachDatabase("every procedure's errors and output, as the OpenAPI document lists them", (getDb) => {
  const answered = new Set<string>();
  const succeeded = new Set<string>();
  const problems: string[] = [];
  let expiredToken: string;
  let hub: WatchHub | undefined;

  async function call(path: ProcedurePath, caller: Caller, input: unknown) {
    const type = procedures[path]._def.type;
    const url = new URL(`http://cairn.test/trpc/${path}`);
    if (type !== "mutation") url.searchParams.set("input", JSON.stringify(input));
    const req = new Request(url, {
      method: type === "mutation" ? "POST" : "GET",
      ...(type === "mutation"
        ? { body: JSON.stringify(input), headers: { "content-type": "application/json" } }
        : {}),
    });
    expiredToken ??= await signToken(
      config.tokenKeys,
      { sub: "x", scope: "admin" },
      new Date(Date.now() - 1000),
    );
    const db: Database = getDb();
    hub ??= new WatchHub(db);
    const res = await fetchRequestHandler({
      endpoint: "/trpc",
      req,
      router: appRouter,
      createContext: () =>
        caller === "expired"
          ? createContextFromToken({ db, config, token: expiredToken })
          : createContextInner({
              db,
              config,
              watch: hub,
              principal:
                caller === "none"
                  ? null
                  : caller === "admin" || caller === "viewer"
                    ? { scope: caller, sub: "test" }
                    : { scope: "execution", sub: caller.task, taskInstanceId: caller.task },
            }),
    });
    type Body = {
      result?: { data: unknown };
      error?: { data: { code: string; httpStatus: number; reason?: string } };
    };
    let body: Body;
    if (type === "subscription") {
      // An event stream: a refusal is its one serialized-error event (HTTP 200), else its first event.
      const first = await firstEvent(res);
      body =
        first.event === "serialized-error"
          ? { error: JSON.parse(first.data) as NonNullable<Body["error"]> }
          : { result: { data: JSON.parse(first.data) as unknown } };
    } else {
      body = (await res.json()) as Body;
    }
    if (body.error) {
      const { code, httpStatus, reason } = body.error.data;
      const listed = procedureErrors(
        path,
        type === "mutation" ? "mutation" : "query",
        procedureAccess(procedures[path]),
      ).find((e) => e.code === code);
      const ok = listed && (reason ? listed.reasons.includes(reason as never) : listed.withoutReason);
      if (!ok || (type !== "subscription" && httpStatus !== res.status))
        problems.push(`${path}: ${code} ${reason ?? "(no reason)"} not listed`);
      answered.add(`${path} ${reason ?? code}`);
      return { error: body.error.data };
    }
    const parsed = PROCEDURE_OUTPUTS[path].safeParse(body.result?.data);
    if (!parsed.success) problems.push(`${path}: output does not match its schema: ${parsed.error.message}`);
    succeeded.add(path);
    return { data: body.result?.data as Record<string, unknown> };
  }

  afterAll(async () => {
    await hub?.close();
    // Reported here too, in case a test stopped early.
    if (problems.length > 0) console.error(problems.join("\n"));
  });

  it("answers only listed errors, every listed reason, and outputs that match their schemas", async () => {
    const admin = (path: ProcedurePath, input: unknown) => call(path, "admin", input);
    const asset = { name: unique("asset"), uri: `s3://b/${unique("a")}` };
    const inactive = { name: unique("inactive"), uri: `s3://b/${unique("i")}` };
    const unknownAsset = { name: unique("nope") };
    await admin("admin.assets.upsert", asset);
    await admin("admin.assets.upsert", inactive);
    await admin("admin.assets.upsert", { name: unique("other"), uri: asset.uri }); // asset_uri_taken
    const where = { dagId: unique("dag"), runId: unique("run"), taskId: "t" };
    const outlets = [{ name: asset.name }, { name: inactive.name }];
    const created = await admin("admin.taskInstances.create", { ...where, outlets });
    await admin("admin.taskInstances.create", { ...where, outlets }); // task_instance_exists
    await admin("admin.taskInstances.create", { ...where, taskId: "u", outlets: [unknownAsset] });
    const old = created.data!.id as string;
    const task = (await admin("admin.taskInstances.retry", { taskInstanceId: old })).data!.id as string;
    await admin("admin.assets.setActive", { name: inactive.name, active: false });
    await admin("admin.assets.setActive", { name: unknownAsset.name, active: false });
    const missing = randomUUID();

    // Task state, execution plane: the own task, another one, a superseded try, a missing one.
    const own = { task };
    const ti = { taskInstanceId: task };
    await call("taskState.set", own, { ...ti, key: "k", value: 1 });
    await call("taskState.set", own, { ...ti, key: "k", value: null });
    await call("taskState.set", own, { ...ti, key: "k", value: "x".repeat(200) });
    await call("taskState.set", own, { ...ti, key: "k", value: 2, ifVersion: 7 });
    await call("taskState.set", own, { ...ti, key: "k", value: 2, ifversion: 1 }); // validation
    await call("taskState.get", own, { ...ti, key: "k" });
    await call("taskState.get", own, { ...ti, key: "nope" });
    await call("taskState.list", own, { ...ti });
    await call("taskState.list", own, { ...ti, cursor: "!!" });
    await call("taskState.delete", own, { ...ti, key: "k", ifVersion: 9 });
    await call("taskState.delete", own, { ...ti, key: "k" });
    await call("taskState.clear", own, ti);
    await call("taskState.watch", own, { ...ti, prefix: "k" });
    await call("taskState.watch", own, { ...ti, key: "k", prefix: "k" }); // validation
    for (const verb of [...VERBS, "watch"] as const) {
      const path = `taskState.${verb}` as const;
      const input = (id: string) => ({ taskInstanceId: id, ...fieldsOf(verb) });
      await call(path, "admin", input(missing));
      await call(path, { task: old }, input(old));
      await call(path, own, input(missing)); // not its own task instance
      await call(path, "none", input(task));
      await call(path, "expired", input(task));
    }

    // Asset state, execution plane: a declared asset, an undeclared one, a declared inactive one, an old try.
    const on = (ref: { name: string } | { uri: string }) => ({
      asset: "name" in ref ? { name: ref.name } : ref,
    });
    await call("assetState.set", own, { ...on(asset), key: "k", value: 1 });
    await call("assetState.set", own, { ...on(asset), key: "k", value: null });
    await call("assetState.set", own, { ...on(asset), key: "k", value: "x".repeat(200) });
    await call("assetState.set", own, { ...on(asset), key: "k", value: 1, ifVersion: 7 });
    await call("assetState.get", own, { ...on({ uri: asset.uri }), key: "k" });
    await call("assetState.get", own, { ...on(asset), key: "nope" });
    await call("assetState.list", own, on(asset));
    await call("assetState.list", own, { ...on(asset), cursor: "!!" });
    await call("assetState.delete", own, { ...on(asset), key: "k", ifVersion: 9 });
    await call("assetState.delete", own, { ...on(asset), key: "k" });
    await call("assetState.clear", own, on(asset));
    await call("assetState.watch", own, { ...on(asset), key: "k" });
    for (const verb of [...VERBS, "watch"] as const) {
      const path = `assetState.${verb}` as const;
      const input = (ref: { name: string } | { uri: string }) => ({ ...on(ref), ...fieldsOf(verb) });
      await call(path, own, input(unknownAsset));
      await call(path, own, input({ name: inactive.name }));
      await call(path, { task: old }, input({ name: asset.name }));
      await call(path, "admin", input(unknownAsset));
    }

    // Admin plane.
    const address = { ...where, mapIndex: -1 };
    const noRun = { ...where, runId: unique("gone") };
    await admin("admin.taskState.set", { ...address, key: "k", value: 1 });
    await admin("admin.taskState.set", { ...address, key: "k", value: null });
    await admin("admin.taskState.set", { ...address, key: "k", value: "x".repeat(200) });
    await admin("admin.taskState.set", { ...address, key: "k", value: 1, ifVersion: 7 });
    await admin("admin.taskState.set", { ...noRun, key: "k", value: 1 });
    await admin("admin.taskState.get", { ...address, key: "k" });
    await admin("admin.taskState.get", { ...address, key: "nope" });
    await admin("admin.taskState.get", { ...noRun, key: "k" });
    await admin("admin.taskState.list", address);
    await admin("admin.taskState.list", { ...address, cursor: "!!" });
    await admin("admin.taskState.list", noRun);
    await admin("admin.taskState.delete", { ...address, key: "k", ifVersion: 9 });
    await admin("admin.taskState.delete", { ...address, key: "k" });
    await admin("admin.taskState.delete", { ...noRun, key: "k" });
    await admin("admin.taskState.clear", address);
    await admin("admin.taskState.clear", noRun);
    await admin("admin.assetState.set", { ...on(asset), key: "k", value: 1 });
    await admin("admin.assetState.set", { ...on(asset), key: "k", value: null });
    await admin("admin.assetState.set", { ...on(asset), key: "k", value: "x".repeat(200) });
    await admin("admin.assetState.set", { ...on(asset), key: "k", value: 1, ifVersion: 7 });
    await admin("admin.assetState.get", { ...on(asset), key: "k" });
    await admin("admin.assetState.get", { ...on(asset), key: "nope" });
    await admin("admin.assetState.list", on(asset));
    await admin("admin.assetState.list", { ...on(asset), cursor: "!!" });
    await admin("admin.assetState.delete", { ...on(asset), key: "k", ifVersion: 9 });
    await admin("admin.assetState.delete", { ...on(asset), key: "k" });
    await admin("admin.assetState.clear", on(asset));
    for (const verb of VERBS)
      await admin(`admin.assetState.${verb}`, { ...on(unknownAsset), ...fieldsOf(verb) });
    await admin("admin.tokens.issue", { taskInstanceId: task });
    await admin("admin.tokens.issue", { taskInstanceId: old });
    await admin("admin.tokens.issue", { taskInstanceId: missing });
    await admin("admin.taskInstances.retry", { taskInstanceId: missing });
    await admin("admin.taskInstances.setState", { taskInstanceId: task, state: "running" });
    await admin("admin.taskInstances.setState", { taskInstanceId: missing, state: "running" });
    await admin("admin.taskInstances.clear", { taskInstanceId: task });
    await admin("admin.taskInstances.clear", { taskInstanceId: missing });
    await admin("admin.watch", { dagId: where.dagId, runId: where.runId });
    await admin("admin.watch", { asset: { uri: asset.uri }, prefix: "k" });
    await admin("admin.watch", { ...on(unknownAsset) });
    await admin("admin.watch", { dagId: where.dagId, runId: unique("gone") });
    await admin("admin.cleanup.preview", {});
    // The operator read API (spec §7), by admin and by viewer tokens.
    for (const reader of ["admin", "viewer"] as const) {
      await call("admin.dagRuns.list", reader, { dagId: where.dagId });
      await call("admin.taskInstances.list", reader, { dagId: where.dagId, runId: where.runId });
      await call("admin.assets.list", reader, { search: asset.name.slice(2, 8).toUpperCase() });
      await call("admin.stats", reader, {});
      await call("admin.session", reader, {});
      await call("admin.metrics.recent", reader, {});
      await call("admin.taskState.list", reader, address);
      await call("admin.watch", reader, { dagId: where.dagId, runId: where.runId });
    }
    await admin("admin.dagRuns.list", { cursor: "!!" });
    await admin("admin.taskInstances.list", { dagId: where.dagId, runId: where.runId, cursor: "!!" });
    await admin("admin.taskInstances.list", { dagId: where.dagId, runId: unique("gone") });
    await admin("admin.assets.list", { cursor: "!!" });
    // A viewer may not write, nor use the execution plane.
    await call("admin.taskState.set", "viewer", { ...address, key: "k", value: 1 });
    await call("taskState.get", "viewer", { taskInstanceId: task, key: "k" });
    await call("assetState.get", "viewer", { ...on(asset), key: "k" });
    await admin("admin.cleanup.run", {});
    await admin("admin.assets.delete", { name: inactive.name });
    await admin("admin.dagRuns.delete", { dagId: where.dagId, runId: where.runId });
    // Admin procedures refuse other callers.
    for (const path of Object.keys(PROCEDURE_REASONS) as ProcedurePath[]) {
      if (!path.startsWith("admin.")) continue;
      await call(path, own, {});
      await call(path, "none", {});
    }

    expect(problems).toEqual([]);
    const never = Object.entries(PROCEDURE_REASONS).flatMap(([path, reasons]) =>
      reasons.map((reason) => `${path} ${reason}`).filter((key) => !answered.has(key) && !RACE_ONLY.has(key)),
    );
    expect(never, "listed reasons that no call answered with").toEqual([]);
    expect(
      Object.keys(procedures).filter((path) => !succeeded.has(path)),
      "procedures never called successfully",
    ).toEqual([]);
  }, 60_000);
});
