// Authentication and authorization (spec §3, §4): tokens, scopes, and the execution-token self check.
import { describeEachDatabase } from "@cairn/db/testing";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { bearerToken, signToken, tokenKeys } from "../auth/tokens.ts";
import { createContextFromToken } from "../context.ts";
import { createCaller } from "../root.ts";
import { type Caller, failure, fixtures, TEST_SECRET, testConfig } from "../testing/fixtures.ts";

const UNKNOWN_ID = "0191f7a0-0000-7000-8000-0000000000cc";
const inOneHour = () => new Date(Date.now() + 3_600_000);
const b64 = (json: unknown) => Buffer.from(JSON.stringify(json)).toString("base64url");

/** One call of every procedure, with inputs that would be valid for an admin. */
function everyProcedure(caller: Caller, taskInstanceId: string, assetName: string) {
  const asset = { name: assetName };
  return {
    "taskState.get": () => caller.taskState.get({ taskInstanceId, key: "k" }),
    "taskState.set": () => caller.taskState.set({ taskInstanceId, key: "k", value: 1 }),
    "taskState.delete": () => caller.taskState.delete({ taskInstanceId, key: "k" }),
    "taskState.clear": () => caller.taskState.clear({ taskInstanceId }),
    "taskState.list": () => caller.taskState.list({ taskInstanceId }),
    "assetState.get": () => caller.assetState.get({ asset, key: "k" }),
    "assetState.set": () => caller.assetState.set({ asset, key: "k", value: 1 }),
    "assetState.delete": () => caller.assetState.delete({ asset, key: "k" }),
    "assetState.clear": () => caller.assetState.clear({ asset }),
    "assetState.list": () => caller.assetState.list({ asset }),
    ...adminProcedures(caller, taskInstanceId, assetName),
  };
}

function adminProcedures(caller: Caller, taskInstanceId: string, assetName: string) {
  return {
    "admin.taskInstances.create": () =>
      caller.admin.taskInstances.create({ dagId: "dag_auth", runId: "r", taskId: "t" }),
    "admin.taskInstances.retry": () => caller.admin.taskInstances.retry({ taskInstanceId }),
    "admin.dagRuns.delete": () => caller.admin.dagRuns.delete({ dagId: "dag_auth", runId: "r" }),
    "admin.assets.upsert": () => caller.admin.assets.upsert({ name: assetName, uri: "s3://auth/changed" }),
    "admin.assets.setActive": () => caller.admin.assets.setActive({ name: assetName, active: false }),
    "admin.assets.delete": () => caller.admin.assets.delete({ name: assetName }),
    "admin.tokens.issue": () => caller.admin.tokens.issue({ taskInstanceId }),
  };
}

describeEachDatabase("auth", (getDb) => {
  const f = fixtures(getDb);
  const withToken = (token: string | undefined, config = f.config) =>
    createCaller(createContextFromToken({ db: getDb(), config, token }));

  describe("principals", () => {
    it("no principal is UNAUTHORIZED on every procedure, before the input is looked at", async () => {
      const t = await f.newTask();
      const asset = await f.newAsset();
      for (const [name, call] of Object.entries(everyProcedure(f.anonymous(), t.id, asset.name))) {
        expect(await failure(call()), name).toMatchObject({ code: "UNAUTHORIZED", reason: "invalid_token" });
      }
      const anonymous = f.anonymous() as unknown as Record<
        string,
        Record<string, (input: unknown) => Promise<unknown>>
      >;
      for (const verb of ["get", "set", "delete", "clear", "list"]) {
        expect(await failure(anonymous.taskState![verb]!({})), verb).toMatchObject({ code: "UNAUTHORIZED" });
        expect(await failure(anonymous.assetState![verb]!(null)), verb).toMatchObject({
          code: "UNAUTHORIZED",
        });
      }
      expect(await failure(withToken(undefined).taskState.list({ taskInstanceId: t.id }))).toMatchObject({
        code: "UNAUTHORIZED",
      });
      // Nothing happened.
      expect((await f.admin().taskState.list({ taskInstanceId: t.id })).items).toEqual([]);
    });

    it("an execution token on any admin procedure is FORBIDDEN, whatever the input", async () => {
      const t = await f.newTask();
      const asset = await f.newAsset();
      for (const [name, call] of Object.entries(adminProcedures(t.caller, t.id, asset.name))) {
        expect(await failure(call()), name).toMatchObject({
          code: "FORBIDDEN",
          reason: "insufficient_scope",
        });
      }
      expect(await failure(t.caller.admin.taskInstances.create({ bogus: true } as never))).toMatchObject({
        code: "FORBIDDEN",
      });
      // The asset was not touched.
      expect(await f.admin().admin.assets.setActive({ name: asset.name, active: true })).toEqual({
        active: true,
      });
      expect((await f.admin().taskState.list({ taskInstanceId: t.id })).items).toEqual([]);
    });

    it("an admin token works on the execution plane for any task instance", async () => {
      const t = await f.newTask();
      const a = f.admin().taskState;
      expect(await a.set({ taskInstanceId: t.id, key: "k", value: "by admin" })).toEqual({ version: 1 });
      expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "k" })).value).toBe("by admin");
      expect(await a.get({ taskInstanceId: t.id.toUpperCase(), key: "k" })).toMatchObject({ version: 1 });
      expect((await a.list({ taskInstanceId: t.id })).items).toHaveLength(1);
      expect(await a.delete({ taskInstanceId: t.id, key: "k" })).toEqual({ deleted: true });
      expect(await a.clear({ taskInstanceId: t.id, allMapIndices: true })).toEqual({ deleted: 0 });
    });
  });

  describe("execution-token self check", () => {
    it("another task instance's id is FORBIDDEN on every verb, whether or not it exists", async () => {
      const mine = await f.newTask();
      const other = await f.newTask();
      await other.caller.taskState.set({ taskInstanceId: other.id, key: "k", value: "secret" });
      const retried = await f.newTask();
      await f.admin().admin.taskInstances.retry({ taskInstanceId: retried.id });
      const ts = mine.caller.taskState;
      for (const target of [other.id, other.id.toUpperCase(), UNKNOWN_ID, retried.id]) {
        const forbidden = { code: "FORBIDDEN", reason: "not_own_task_instance" };
        expect(await failure(ts.get({ taskInstanceId: target, key: "k" }))).toMatchObject(forbidden);
        expect(await failure(ts.set({ taskInstanceId: target, key: "k", value: 1 }))).toMatchObject(
          forbidden,
        );
        expect(
          await failure(ts.set({ taskInstanceId: target, key: "k", value: 1, ifVersion: 0 })),
        ).toMatchObject(forbidden);
        expect(await failure(ts.delete({ taskInstanceId: target, key: "k" }))).toMatchObject(forbidden);
        expect(await failure(ts.clear({ taskInstanceId: target, allMapIndices: true }))).toMatchObject(
          forbidden,
        );
        expect(await failure(ts.list({ taskInstanceId: target }))).toMatchObject(forbidden);
      }
      expect(await other.caller.taskState.get({ taskInstanceId: other.id, key: "k" })).toMatchObject({
        value: "secret",
        version: 1,
      });
    });

    it("another task instance's id is FORBIDDEN even when the rest of the input is invalid", async () => {
      const mine = await f.newTask();
      const ts = mine.caller.taskState as unknown as Record<string, (input: unknown) => Promise<unknown>>;
      const invalidInputs: [string, Record<string, unknown>][] = [
        ["get", {}],
        ["get", { key: "" }],
        ["get", { key: 5 }],
        ["get", { key: "k", extra: 1 }],
        ["set", { key: "k" }],
        ["set", { key: "k", value: null }],
        ["set", { value: 1 }],
        ["set", { key: "k", value: Number.POSITIVE_INFINITY }],
        ["set", { key: "k", value: "x".repeat(70_000) }],
        ["set", { key: "k", value: 1, ifversion: 1 }],
        ["set", { key: "k", value: 1, ifVersion: -1 }],
        ["set", { key: "k", value: 1, expiresAt: "soon" }],
        ["set", { key: "k\u0000", value: 1 }],
        ["delete", { key: "k", ifVersion: 1.5 }],
        ["delete", {}],
        ["clear", { allMapIndices: "yes" }],
        ["list", { limit: 0 }],
        ["list", { limit: 1001 }],
        ["list", { cursor: "@@@" }],
        ["list", { prefix: 7 }],
      ];
      for (const target of [UNKNOWN_ID, (await f.newTask()).id]) {
        for (const [verb, rest] of invalidInputs) {
          expect(
            await failure(ts[verb]!({ taskInstanceId: target, ...rest })),
            `${verb} ${JSON.stringify(rest).slice(0, 50)}`,
          ).toMatchObject({
            code: "FORBIDDEN",
            reason: "not_own_task_instance",
          });
        }
      }
      // The same invalid inputs on the own id are BAD_REQUEST or PAYLOAD_TOO_LARGE, not FORBIDDEN.
      for (const [verb, rest] of invalidInputs) {
        const { code } = await failure(ts[verb]!({ taskInstanceId: mine.id, ...rest }));
        expect(["BAD_REQUEST", "PAYLOAD_TOO_LARGE"], verb).toContain(code);
      }
    });

    it("task instance ids match case-insensitively", async () => {
      const t = await f.newTask();
      const upper = t.id.toUpperCase();
      expect(await t.caller.taskState.set({ taskInstanceId: upper, key: "k", value: 1 })).toEqual({
        version: 1,
      });
      expect(await t.caller.taskState.get({ taskInstanceId: upper, key: "k" })).toMatchObject({ value: 1 });
      expect((await t.caller.taskState.list({ taskInstanceId: upper })).items).toHaveLength(1);
      expect(await t.caller.taskState.delete({ taskInstanceId: upper, key: "k" })).toEqual({ deleted: true });
      expect(await t.caller.taskState.clear({ taskInstanceId: upper })).toEqual({ deleted: 0 });
      // A token whose subject is in upper case matches a lower-case id too.
      const token = await signToken(f.config.tokenKeys, { sub: upper, scope: "execution" }, inOneHour());
      expect(await withToken(token).taskState.set({ taskInstanceId: t.id, key: "k", value: 2 })).toEqual({
        version: 1,
      });
    });

    it("an execution token for a deleted task instance is NOT_FOUND for its own id", async () => {
      const t = await f.newTask();
      await f.admin().admin.dagRuns.delete({ dagId: t.dagId, runId: t.runId });
      expect(await failure(t.caller.taskState.get({ taskInstanceId: t.id, key: "k" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "task_instance_not_found",
      });
    });
  });

  describe("tokens", () => {
    it("an issued execution token works for its own task and nothing else", async () => {
      const t = await f.newTask();
      const other = await f.newTask();
      const { token } = await f.admin().admin.tokens.issue({ taskInstanceId: t.id, ttlSeconds: 60 });
      const caller = withToken(token);
      expect(await caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1 })).toEqual({
        version: 1,
      });
      expect((await caller.taskState.get({ taskInstanceId: t.id, key: "k" })).value).toBe(1);
      expect(await failure(caller.taskState.get({ taskInstanceId: other.id, key: "k" }))).toMatchObject({
        code: "FORBIDDEN",
      });
      expect(await failure(caller.admin.tokens.issue({ taskInstanceId: t.id }))).toMatchObject({
        code: "FORBIDDEN",
        reason: "insufficient_scope",
      });
      // After a retry, the old token's task instance is superseded.
      await f.admin().admin.taskInstances.retry({ taskInstanceId: t.id });
      expect(await failure(caller.taskState.get({ taskInstanceId: t.id, key: "k" }))).toMatchObject({
        code: "NOT_FOUND",
        reason: "task_instance_superseded",
      });
    });

    it("an admin token works on both planes", async () => {
      const token = await signToken(f.config.tokenKeys, { sub: "scheduler", scope: "admin" }, inOneHour());
      const caller = withToken(token);
      const { id } = await caller.admin.taskInstances.create({
        dagId: "dag_tok",
        runId: `r${Date.now()}`,
        taskId: "t",
      });
      expect(await caller.taskState.set({ taskInstanceId: id, key: "k", value: 1 })).toEqual({ version: 1 });
    });

    it("an expired token is UNAUTHORIZED token_expired", async () => {
      const t = await f.newTask();
      const token = await signToken(
        f.config.tokenKeys,
        { sub: t.id, scope: "execution" },
        new Date(Date.now() - 5_000),
      );
      expect(await failure(withToken(token).taskState.get({ taskInstanceId: t.id, key: "k" }))).toMatchObject(
        {
          code: "UNAUTHORIZED",
          reason: "token_expired",
        },
      );
      const admin = await signToken(
        f.config.tokenKeys,
        { sub: "ops", scope: "admin" },
        new Date(Date.now() - 5_000),
      );
      expect(await failure(withToken(admin).admin.dagRuns.delete({ dagId: "d", runId: "r" }))).toMatchObject({
        code: "UNAUTHORIZED",
        reason: "token_expired",
      });
    });

    it("forged, malformed and non-HS512 tokens are UNAUTHORIZED", async () => {
      const t = await f.newTask();
      const sub = t.id;
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const rightKey = f.config.tokenKeys.secret;
      const sign = (alg: string, claims: Record<string, unknown>, key: Uint8Array = rightKey) =>
        new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(key);
      const valid = await sign("HS512", { sub, scope: "execution", exp });
      const [header, , signature] = valid.split(".");
      const tokens: Record<string, string> = {
        "another secret": await sign(
          "HS512",
          { sub, scope: "execution", exp },
          tokenKeys("another-secret").secret,
        ),
        "alg none": `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub, scope: "execution", exp })}.`,
        "alg none with a signature": `${b64({ alg: "none" })}.${b64({ sub, scope: "execution", exp })}.${signature}`,
        HS256: await sign("HS256", { sub, scope: "execution", exp }),
        HS384: await sign("HS384", { sub, scope: "execution", exp }),
        "no exp": await sign("HS512", { sub, scope: "execution" }),
        "no sub": await sign("HS512", { scope: "execution", exp }),
        "no scope": await sign("HS512", { sub, exp }),
        "empty sub": await sign("HS512", { sub: "", scope: "admin", exp }),
        "execution sub not a UUID": await sign("HS512", { sub: "scheduler", scope: "execution", exp }),
        "exp not a number": await sign("HS512", { sub, scope: "execution", exp: "tomorrow" }),
        "not yet valid": await sign("HS512", { sub, scope: "execution", exp, nbf: exp - 60 }),
        "payload swapped": `${header}.${b64({ sub, scope: "admin", exp })}.${signature}`,
        "signature cut": valid.slice(0, -4),
        empty: "",
        garbage: "not-a-token",
        "three dots": "a.b.c",
        "bearer prefix kept": `Bearer ${valid}`,
      };
      for (const [name, token] of Object.entries(tokens)) {
        expect(
          await failure(withToken(token).taskState.get({ taskInstanceId: t.id, key: "k" })),
          name,
        ).toMatchObject({
          code: "UNAUTHORIZED",
        });
        expect(
          await failure(withToken(token).admin.dagRuns.delete({ dagId: "d", runId: "r" })),
          name,
        ).toMatchObject({
          code: "UNAUTHORIZED",
        });
      }
      // The control: the same claims, properly signed, work.
      expect(await failure(withToken(valid).taskState.get({ taskInstanceId: t.id, key: "k" }))).toMatchObject(
        {
          code: "NOT_FOUND",
          reason: "key_not_found",
        },
      );
    });

    it("a valid token with an unknown scope is FORBIDDEN everywhere", async () => {
      const t = await f.newTask();
      const token = await new SignJWT({ scope: "other" })
        .setProtectedHeader({ alg: "HS512" })
        .setSubject(t.id)
        .setExpirationTime("1h")
        .sign(f.config.tokenKeys.secret);
      const asset = await f.newAsset();
      for (const [name, call] of Object.entries(everyProcedure(withToken(token), t.id, asset.name))) {
        expect(await failure(call()), name).toMatchObject({
          code: "FORBIDDEN",
          reason: "insufficient_scope",
        });
      }
    });

    it("the secret is the UTF-8 bytes of the string as given, not decoded", async () => {
      const secret = "c2VjcmV0LXRoYXQtbG9va3MtbGlrZS1iYXNlNjQtw6k="; // looks like base64, is used as text
      const config = testConfig({ tokenKeys: tokenKeys(secret) });
      const t = await f.newTask();
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const asText = await new SignJWT({ sub: t.id, scope: "execution", exp })
        .setProtectedHeader({ alg: "HS512" })
        .sign(new TextEncoder().encode(secret));
      const asDecoded = await new SignJWT({ sub: t.id, scope: "execution", exp })
        .setProtectedHeader({ alg: "HS512" })
        .sign(Buffer.from(secret, "base64"));
      expect(
        await withToken(asText, config).taskState.set({ taskInstanceId: t.id, key: "k", value: 1 }),
      ).toEqual({
        version: 1,
      });
      expect(
        await failure(withToken(asDecoded, config).taskState.list({ taskInstanceId: t.id })),
      ).toMatchObject({
        code: "UNAUTHORIZED",
      });
      // A token of the test secret is refused by a server with another secret.
      const ours = await signToken(tokenKeys(TEST_SECRET), { sub: t.id, scope: "execution" }, inOneHour());
      expect(await failure(withToken(ours, config).taskState.list({ taskInstanceId: t.id }))).toMatchObject({
        code: "UNAUTHORIZED",
        reason: "invalid_token",
      });
    });
  });
});

describe("bearerToken", () => {
  it("reads Authorization: Bearer <token>", () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken(null)).toBeUndefined();
    expect(bearerToken("")).toBeUndefined();
    expect(bearerToken("Bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(bearerToken("bearer   abc  ")).toBe("abc");
    expect(bearerToken(["Bearer one", "Bearer two"])).toBe("one");
    // Present but not a bearer token: an empty token, refused as malformed rather than treated as absent.
    expect(bearerToken("Basic dXNlcjpwYXNz")).toBe("");
    expect(bearerToken("Bearer a b")).toBe("");
  });
});
