// Values, keys and input validation (spec §2, §4): what is accepted, what is refused, and that nothing a
// caller sends is ever an INTERNAL_SERVER_ERROR.
import { describeEachDatabase } from "@cairn/db/testing";
import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import {
  type Caller,
  failure,
  fixtures,
  listAllKeysOneByOne,
  testConfig,
  unique,
} from "../testing/fixtures.ts";

/** `depth` containers nested in each other, innermost holding 1. */
function nested(depth: number, kind: "array" | "object" | "mixed"): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) {
    const asArray = kind === "array" || (kind === "mixed" && i % 2 === 0);
    value = asArray ? [value] : { a: value };
  }
  return value;
}

const utf8 = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

describeEachDatabase("values and keys", (getDb) => {
  const f = fixtures(getDb);

  describe("values", () => {
    it("accepts any JSON value but a top-level null, and returns it equal", async () => {
      const t = await f.newTask();
      const values: unknown[] = [
        "",
        "plain",
        'quotes " and \\ backslashes \n\t and \u0001 controls',
        "héllo wörld 中文 🌍 \uFFFD \u{10FFFF}",
        0,
        -1,
        1.5,
        -273.15,
        1e308,
        5e-324,
        Number.MAX_SAFE_INTEGER,
        -Number.MAX_SAFE_INTEGER,
        true,
        false,
        [],
        {},
        [1, "a", null, true, { b: null }],
        { a: null, b: [null, null], c: { d: null } },
        { "": "empty key", "spaced key": 1, "a/b": 2, "é🌍": 3 },
        { job: { id: "application_1700000000_0001", attempts: [1, 2, 3], done: false } },
        Array.from({ length: 1000 }, (_, i) => i),
        "9007199254740993",
        JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}'),
      ];
      for (const [i, value] of values.entries()) {
        const key = `v${i}`;
        expect(await t.caller.taskState.set({ taskInstanceId: t.id, key, value })).toEqual({ version: 1 });
        expect((await t.caller.taskState.get({ taskInstanceId: t.id, key })).value, key).toEqual(value);
      }
      const listed = await t.caller.taskState.list({ taskInstanceId: t.id, limit: 1000 });
      for (const [i, value] of values.entries()) {
        expect(listed.items.find((item) => item.key === `v${i}`)?.value).toEqual(value);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      // -0 is JSON 0.
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "negzero", value: -0 });
      expect(
        Object.is((await t.caller.taskState.get({ taskInstanceId: t.id, key: "negzero" })).value, 0),
      ).toBe(true);
    });

    it("asset state takes the same values", async () => {
      const asset = await f.newAsset();
      const s = f.admin().assetState;
      const value = { watermark: "2026-05-15T00:00:00Z", rows: [1, null, { x: "🌍" }] };
      await s.set({ asset: { name: asset.name }, key: "wm", value });
      expect((await s.get({ asset: { uri: asset.uri }, key: "wm" })).value).toEqual(value);
      for (const bad of [null, Number.NaN, "a\u0000", { "k\u0000": 1 }, "\ud83d", nested(65, "array")]) {
        expect(await failure(s.set({ asset: { name: asset.name }, key: "bad", value: bad }))).toMatchObject({
          code: "BAD_REQUEST",
          reason: "invalid_value",
        });
      }
    });

    it("refuses a top-level null or a missing value with BAD_REQUEST", async () => {
      const t = await f.newTask();
      expect(
        await failure(t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: null })),
      ).toMatchObject({
        code: "BAD_REQUEST",
        reason: "invalid_value",
      });
      expect(
        await failure(t.caller.taskState.set({ taskInstanceId: t.id, key: "k" } as never)),
      ).toMatchObject({
        code: "BAD_REQUEST",
      });
      expect(await failure(t.caller.taskState.get({ taskInstanceId: t.id, key: "k" }))).toMatchObject({
        reason: "key_not_found",
      });
    });

    it("refuses non-finite numbers anywhere", async () => {
      const t = await f.newTask();
      for (const value of [
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        Number.NaN,
        JSON.parse("1e999"),
        [1, Number.NaN],
        { a: { b: Number.POSITIVE_INFINITY } },
      ]) {
        expect(
          await failure(t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value })),
        ).toMatchObject({
          code: "BAD_REQUEST",
          reason: "invalid_value",
        });
      }
    });

    it("refuses U+0000 and lone surrogates in strings and object keys", async () => {
      const t = await f.newTask();
      for (const value of [
        "\u0000",
        "a\u0000b",
        ["ok", "b\u0000"],
        { a: { b: "\u0000" } },
        { "k\u0000": 1 },
        { a: [{ "\u0000": true }] },
        "\ud800",
        "a\udc00b",
        "\ude00\ud83d",
        ["\ud83d"],
        { "\udfff": 1 },
        { a: { "x\ud800": null } },
      ]) {
        expect(
          await failure(t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value })),
          JSON.stringify(value),
        ).toMatchObject({ code: "BAD_REQUEST", reason: "invalid_value" });
      }
      // Escaped text that merely looks like those is fine, and so are proper surrogate pairs.
      for (const value of ["\\u0000", "\\ud800", "\ud83d\ude00", { "\ud83d\ude00": "\ud83d\ude00" }]) {
        await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value });
        expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "k" })).value).toEqual(value);
      }
    });

    it("accepts nesting 64 deep and refuses 65", async () => {
      const t = await f.newTask();
      for (const kind of ["array", "object", "mixed"] as const) {
        const ok = nested(64, kind);
        await t.caller.taskState.set({ taskInstanceId: t.id, key: kind, value: ok });
        expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: kind })).value).toEqual(ok);
        expect(
          await failure(t.caller.taskState.set({ taskInstanceId: t.id, key: kind, value: nested(65, kind) })),
        ).toMatchObject({ code: "BAD_REQUEST", reason: "invalid_value" });
      }
      // Very deep input is refused, not a stack overflow.
      expect(
        await failure(
          t.caller.taskState.set({ taskInstanceId: t.id, key: "deep", value: nested(100_000, "array") }),
        ),
      ).toMatchObject({ code: "BAD_REQUEST", reason: "invalid_value" });
    });

    it("refuses values that are not JSON (in-process callers can send them)", async () => {
      const t = await f.newTask();
      for (const value of [() => 1, Symbol("s"), 10n, { a: undefined }, [undefined]]) {
        expect(
          await failure(t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value })),
        ).toMatchObject({
          code: "BAD_REQUEST",
        });
      }
    });

    it("the default size limit is 65535 UTF-8 bytes of JSON", async () => {
      const t = await f.newTask();
      const atLimit = "x".repeat(65_533);
      expect(utf8(atLimit)).toBe(65_535);
      expect(await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: atLimit })).toEqual({
        version: 1,
      });
      expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "k" })).value).toBe(atLimit);
      expect(
        await failure(t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: `${atLimit}x` })),
      ).toMatchObject({ code: "PAYLOAD_TOO_LARGE", reason: "value_too_large" });
    });
  });

  describe("keys", () => {
    it("accepts 1 to 512 characters, `/` and any character but U+0000", async () => {
      const t = await f.newTask();
      const keys = [
        "a",
        "x".repeat(512),
        "spark/job_id",
        "/",
        " ",
        "with space and\ttab\nnewline",
        "ключ/鍵/🔑",
        "\uFFFD",
        "%_*?[]'\";--",
        // Characters are code points: 512 emoji (1024 UTF-16 units, 2048 UTF-8 bytes) are a valid key, and
        // its list cursor (the longest there is) must still be accepted.
        "😀".repeat(512),
        "中".repeat(512),
      ];
      for (const key of keys) {
        expect(await t.caller.taskState.set({ taskInstanceId: t.id, key, value: key.length })).toEqual({
          version: 1,
        });
        expect((await t.caller.taskState.get({ taskInstanceId: t.id, key })).key).toBe(key);
      }
      const seen = await listAllKeysOneByOne(t.caller, t.id);
      expect(seen.sort()).toEqual([...keys].sort());
    });

    it("refuses empty, too long, U+0000, lone surrogates and non-strings", async () => {
      const t = await f.newTask();
      const asset = await f.newAsset();
      const bad = [
        "",
        "x".repeat(513),
        "😀".repeat(513),
        `${"😀".repeat(512)}x`,
        "\u0000",
        "a\u0000b",
        "a\ud800",
        "\udc00",
      ];
      for (const key of [...bad, 1, null, ["k"], { k: 1 }]) {
        const calls = [
          () => t.caller.taskState.get({ taskInstanceId: t.id, key } as never),
          () => t.caller.taskState.set({ taskInstanceId: t.id, key, value: 1 } as never),
          () => t.caller.taskState.delete({ taskInstanceId: t.id, key } as never),
          () => f.admin().assetState.get({ asset: { name: asset.name }, key } as never),
          () => f.admin().assetState.set({ asset: { name: asset.name }, key, value: 1 } as never),
          () => f.admin().assetState.delete({ asset: { name: asset.name }, key } as never),
        ];
        for (const call of calls) {
          expect(await failure(call()), JSON.stringify(key).slice(0, 20)).toMatchObject({
            code: "BAD_REQUEST",
          });
        }
      }
      expect((await t.caller.taskState.list({ taskInstanceId: t.id })).items).toEqual([]);
    });
  });

  describe("input validation", () => {
    it("refuses unknown input fields: a misspelled ifversion never writes", async () => {
      const t = await f.newTask();
      const asset = await f.newAsset();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: "original" });
      const asset1 = { name: asset.name };
      await f.admin().assetState.set({ asset: asset1, key: "k", value: "original" });
      const ts = t.caller.taskState as unknown as Record<string, (input: unknown) => Promise<unknown>>;
      const as = f.admin().assetState as unknown as Record<string, (input: unknown) => Promise<unknown>>;
      const calls: Promise<unknown>[] = [
        ts.set!({ taskInstanceId: t.id, key: "k", value: "overwritten", ifversion: 7 }),
        ts.set!({ taskInstanceId: t.id, key: "k", value: "overwritten", IfVersion: 7 }),
        ts.set!({ taskInstanceId: t.id, key: "k", value: "overwritten", expires_at: null }),
        ts.get!({ taskInstanceId: t.id, key: "k", version: 1 }),
        ts.delete!({ taskInstanceId: t.id, key: "k", ifversion: 7 }),
        ts.clear!({ taskInstanceId: t.id, allmapindices: true }),
        ts.list!({ taskInstanceId: t.id, Limit: 5 }),
        as.set!({ asset: asset1, key: "k", value: "overwritten", ifversion: 7 }),
        as.get!({ asset: asset1, key: "k", extra: 1 }),
        as.delete!({ asset: asset1, key: "k", ifversion: 7 }),
        as.clear!({ asset: asset1, all: true }),
        as.list!({ asset: asset1, offset: 5 }),
        as.get!({ asset: { name: asset.name, group: "x" }, key: "k" }),
      ];
      for (const call of calls) expect(await failure(call)).toMatchObject({ code: "BAD_REQUEST" });
      const admin = f.admin().admin as unknown as Record<
        string,
        Record<string, (input: unknown) => Promise<unknown>>
      >;
      const adminCalls: Promise<unknown>[] = [
        admin.taskInstances!.create!({ dagId: "d", runId: "r", taskId: "t", try: 1 }),
        admin.taskInstances!.retry!({ taskInstanceId: t.id, force: true }),
        admin.dagRuns!.delete!({ dagId: t.dagId, runId: t.runId, cascade: true }),
        admin.assets!.upsert!({ name: asset.name, uri: asset.uri, active: false }),
        admin.assets!.setActive!({ name: asset.name, active: false, reason: "x" }),
        admin.assets!.delete!({ name: asset.name, force: true }),
        admin.tokens!.issue!({ taskInstanceId: t.id, ttl: 5 }),
      ];
      for (const call of adminCalls) expect(await failure(call)).toMatchObject({ code: "BAD_REQUEST" });
      expect(await t.caller.taskState.get({ taskInstanceId: t.id, key: "k" })).toMatchObject({
        value: "original",
        version: 1,
      });
      expect(await f.admin().assetState.get({ asset: asset1, key: "k" })).toMatchObject({
        value: "original",
        version: 1,
      });
    });

    it("an AssetRef names exactly one of name and uri", async () => {
      const asset = await f.newAsset();
      const s = f.admin().assetState as unknown as Record<string, (input: unknown) => Promise<unknown>>;
      for (const ref of [
        { name: asset.name, uri: asset.uri },
        {},
        { name: "" },
        { uri: "" },
        { name: 1 },
        { id: 1 },
        asset.name,
        [asset.name],
        null,
      ]) {
        for (const verb of ["get", "set", "delete", "clear", "list"]) {
          expect(
            await failure(s[verb]!({ asset: ref, key: "k", value: 1 })),
            `${verb} ${JSON.stringify(ref)}`,
          ).toMatchObject({
            code: "BAD_REQUEST",
          });
        }
      }
      for (const refs of [{ inlets: [{ name: asset.name, uri: asset.uri }] }, { outlets: [{}] }]) {
        expect(
          await failure(
            f.admin().admin.taskInstances.create({ dagId: "d", runId: "r", taskId: "t", ...refs } as never),
          ),
        ).toMatchObject({ code: "BAD_REQUEST" });
      }
    });

    it("ifVersion must be a whole number from 0 to 2^31-1", async () => {
      const t = await f.newTask();
      for (const ifVersion of [
        -1,
        1.5,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        2 ** 31,
        2 ** 53,
        "1",
        null,
        true,
      ]) {
        expect(
          await failure(
            t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value: 1, ifVersion } as never),
          ),
        ).toMatchObject({ code: "BAD_REQUEST" });
        expect(
          await failure(t.caller.taskState.delete({ taskInstanceId: t.id, key: "k", ifVersion } as never)),
        ).toMatchObject({ code: "BAD_REQUEST" });
        expect(
          await failure(
            f.admin().assetState.set({ asset: { name: "x" }, key: "k", value: 1, ifVersion } as never),
          ),
        ).toMatchObject({ code: "BAD_REQUEST" });
      }
    });

    it("limit is 1 to 1000; prefix and cursor are checked", async () => {
      const t = await f.newTask();
      const asset = await f.newAsset();
      await t.caller.taskState.set({ taskInstanceId: t.id, key: "a", value: 1 });
      expect((await t.caller.taskState.list({ taskInstanceId: t.id, limit: 1 })).items).toHaveLength(1);
      expect((await t.caller.taskState.list({ taskInstanceId: t.id, limit: 1000 })).items).toHaveLength(1);
      for (const limit of [0, 1001, -5, 1.5, "10", null, Number.NaN]) {
        expect(
          await failure(t.caller.taskState.list({ taskInstanceId: t.id, limit } as never)),
        ).toMatchObject({
          code: "BAD_REQUEST",
        });
        expect(
          await failure(f.admin().assetState.list({ asset: { name: asset.name }, limit } as never)),
        ).toMatchObject({
          code: "BAD_REQUEST",
        });
      }
      for (const bad of [
        { prefix: "a\u0000" },
        { prefix: "a\ud800" },
        { prefix: "x".repeat(513) },
        { prefix: 1 },
        { cursor: "!!" },
        { cursor: "AA" },
        { cursor: 5 },
        { cursor: "x".repeat(2049) },
      ]) {
        expect(
          await failure(t.caller.taskState.list({ taskInstanceId: t.id, ...bad } as never)),
        ).toMatchObject({
          code: "BAD_REQUEST",
        });
        expect(
          await failure(f.admin().assetState.list({ asset: { name: asset.name }, ...bad } as never)),
        ).toMatchObject({ code: "BAD_REQUEST" });
      }
    });
  });

  describe("malformed input is never an INTERNAL_SERVER_ERROR", () => {
    const BAD: unknown[] = [
      undefined,
      null,
      true,
      false,
      0,
      -1,
      1.5,
      -0,
      2 ** 31,
      2 ** 53 + 2,
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      "",
      " ",
      "x",
      "\u0000",
      "a\u0000",
      "\ud800",
      "x\udc00y",
      "\uFFFD",
      "x".repeat(3000),
      "中".repeat(1500),
      "0191f7a0-0000-7000-8000-0000000000dd",
      "0000-01-01T00:00:00Z",
      "9999-12-31T23:59:59-12:00",
      "2026-05-15T12:00:00+00:00",
      "AA",
      [],
      [1],
      ["x"],
      [null],
      {},
      { a: 1 },
      { name: "x" },
      { uri: "x" },
      { name: "x", uri: "y" },
      { name: "\ud800" },
      { name: "\u0000" },
      [{ name: "x" }],
      [{ uri: "\u0000" }],
      [{ name: "x", uri: "y" }],
      { "\ud800": "\u0000" },
      nested(70, "mixed"),
      new Date(0),
      10n,
      Symbol("s"),
      () => 1,
    ];

    type Procedure = (input: unknown) => Promise<unknown>;
    const OK_CODES = ["BAD_REQUEST", "NOT_FOUND", "CONFLICT", "FORBIDDEN", "PAYLOAD_TOO_LARGE"];

    /** Whole-input junk, then (when `fields`) each field of a valid input replaced by each junk value. */
    async function attack(name: string, procedure: Procedure, base: Record<string, unknown>, fields = true) {
      const inputs: unknown[] = [...BAD];
      for (const field of fields ? [...Object.keys(base), "extra", "ifversion"] : []) {
        for (const bad of BAD) inputs.push({ ...base, [field]: bad });
      }
      if ("asset" in base) {
        for (const bad of BAD)
          inputs.push({ ...base, asset: { name: bad } }, { ...base, asset: { uri: bad } });
      }
      if ("inlets" in base) {
        for (const bad of BAD) inputs.push({ ...base, inlets: [bad] }, { ...base, outlets: [{ uri: bad }] });
      }
      const codes = new Set<string>();
      for (const input of inputs) {
        try {
          await procedure(input);
          codes.add("ok");
        } catch (error) {
          if (!(error instanceof TRPCError)) throw error;
          if (!OK_CODES.includes(error.code)) {
            const shown = (() => {
              try {
                return JSON.stringify(input)?.slice(0, 200);
              } catch {
                return String(input);
              }
            })();
            throw new Error(`${name}(${shown}) gave ${error.code}: ${error.message}`);
          }
          codes.add(error.code);
        }
      }
      return codes;
    }

    it("on every procedure, for admin and execution callers", async () => {
      const asset = await f.newAsset();
      const t = await f.newTask({ inlets: [{ name: asset.name }] });
      const throwaway = await f.newAsset();
      const retryable = await f.newTask();
      const asTask = (caller: Caller) => caller as unknown as Record<string, Record<string, Procedure>>;
      const adminOf = (caller: Caller) =>
        asTask(caller).admin as unknown as Record<string, Record<string, Procedure>>;
      const plans: [string, (c: Caller) => Procedure, Record<string, unknown>][] = [
        ["taskState.get", (c) => asTask(c).taskState!.get!, { taskInstanceId: t.id, key: "k" }],
        [
          "taskState.set",
          (c) => asTask(c).taskState!.set!,
          { taskInstanceId: t.id, key: "k", value: 1, expiresAt: null, ifVersion: 1 },
        ],
        [
          "taskState.delete",
          (c) => asTask(c).taskState!.delete!,
          { taskInstanceId: t.id, key: "k", ifVersion: 1 },
        ],
        [
          "taskState.clear",
          (c) => asTask(c).taskState!.clear!,
          { taskInstanceId: t.id, allMapIndices: false },
        ],
        [
          "taskState.list",
          (c) => asTask(c).taskState!.list!,
          { taskInstanceId: t.id, prefix: "k", limit: 5, cursor: null },
        ],
        ["assetState.get", (c) => asTask(c).assetState!.get!, { asset: { name: asset.name }, key: "k" }],
        [
          "assetState.set",
          (c) => asTask(c).assetState!.set!,
          { asset: { uri: asset.uri }, key: "k", value: 1, expiresAt: null, ifVersion: 1 },
        ],
        [
          "assetState.delete",
          (c) => asTask(c).assetState!.delete!,
          { asset: { name: asset.name }, key: "k", ifVersion: 1 },
        ],
        ["assetState.clear", (c) => asTask(c).assetState!.clear!, { asset: { name: asset.name } }],
        [
          "assetState.list",
          (c) => asTask(c).assetState!.list!,
          { asset: { name: asset.name }, prefix: "k", limit: 5, cursor: null },
        ],
        [
          "admin.taskInstances.create",
          (c) => adminOf(c).taskInstances!.create!,
          { dagId: unique("fuzz"), runId: "r", taskId: "t", mapIndex: 0, inlets: [], outlets: [] },
        ],
        [
          "admin.taskInstances.retry",
          (c) => adminOf(c).taskInstances!.retry!,
          { taskInstanceId: retryable.id },
        ],
        ["admin.dagRuns.delete", (c) => adminOf(c).dagRuns!.delete!, { dagId: unique("fuzz"), runId: "r" }],
        [
          "admin.assets.upsert",
          (c) => adminOf(c).assets!.upsert!,
          { name: throwaway.name, uri: throwaway.uri, group: "g" },
        ],
        [
          "admin.assets.setActive",
          (c) => adminOf(c).assets!.setActive!,
          { name: throwaway.name, active: true },
        ],
        ["admin.assets.delete", (c) => adminOf(c).assets!.delete!, { name: unique("fuzz") }],
        ["admin.tokens.issue", (c) => adminOf(c).tokens!.issue!, { taskInstanceId: t.id, ttlSeconds: 60 }],
      ];
      for (const [name, pick, base] of plans) {
        const adminCodes = await attack(`${name} as admin`, pick(f.admin()), base);
        expect(adminCodes.has("BAD_REQUEST"), name).toBe(true);
        // An execution token is refused on the admin plane before its input is read.
        const taskCodes = await attack(`${name} as task`, pick(t.caller), base, !name.startsWith("admin."));
        if (name.startsWith("admin.")) expect([...taskCodes], name).toEqual(["FORBIDDEN"]);
      }
    });
  });
});

describeEachDatabase("value size limits", (getDb) => {
  it("a limit counts UTF-8 bytes of the JSON text: exactly at the limit is fine, one byte over is not", async () => {
    const f = fixtures(getDb, testConfig({ maxValueBytes: 100 }));
    const t = await f.newTask();
    const set = (value: unknown) => t.caller.taskState.set({ taskInstanceId: t.id, key: "k", value });
    const tooLarge = { code: "PAYLOAD_TOO_LARGE", reason: "value_too_large" };
    const cases: [unknown, unknown][] = [
      ["x".repeat(98), "x".repeat(99)], // 1-byte characters, plus two quotes
      ["é".repeat(49), `${"é".repeat(49)}x`], // 2 bytes each: 52 UTF-16 units are 101 bytes
      [`${"€".repeat(32)}xx`, "€".repeat(33)], // 3 bytes each
      [`${"😀".repeat(24)}xx`, `${"😀".repeat(24)}xxx`], // 4 bytes each (two UTF-16 units)
      [{ a: "x".repeat(92) }, { a: "x".repeat(93) }], // {"a":"…"} is 8 bytes of syntax
      [Array.from({ length: 49 }, () => 0), Array.from({ length: 50 }, () => 0)], // [0,0,…]: 99 and 101
      ["\\".repeat(49), `${"\\".repeat(49)}x`], // escaped: 2 bytes each in JSON
    ];
    for (const [ok, over] of cases) {
      expect(utf8(ok)).toBeLessThanOrEqual(100);
      expect(utf8(over)).toBe(101);
      expect(await set(ok), JSON.stringify(ok)).toMatchObject({ version: expect.any(Number) });
      expect(await failure(set(over)), JSON.stringify(over)).toMatchObject(tooLarge);
    }
    // Exactly 100 bytes in each case where the pair allows it.
    expect(utf8("x".repeat(98))).toBe(100);
    expect(utf8("é".repeat(49))).toBe(100);
    expect(utf8(`${"😀".repeat(24)}xx`)).toBe(100);
    expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "k" })).value).toEqual("\\".repeat(49));
  });

  it("maxValueBytes 0 means no limit", async () => {
    const f = fixtures(getDb, testConfig({ maxValueBytes: 0 }));
    const t = await f.newTask();
    const big = "€".repeat(400_000); // 1.2 MB as UTF-8
    expect(await t.caller.taskState.set({ taskInstanceId: t.id, key: "big", value: big })).toEqual({
      version: 1,
    });
    expect((await t.caller.taskState.get({ taskInstanceId: t.id, key: "big" })).value).toBe(big);
  });
});
