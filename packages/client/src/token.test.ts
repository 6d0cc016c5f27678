import { describe, expect, it } from "vitest";
import { createCairnClient, readTokenClaims } from "./index.ts";

const jwt = (payload: unknown) =>
  `eyJhbGciOiJIUzUxMiJ9.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.signature`;
const ID = "0196B7D2-0000-7000-8000-00000000000A";

describe("tokens", () => {
  it("reads the claims of a JWT without verifying it (base64url, UTF-8)", () => {
    expect(readTokenClaims(jwt({ sub: ID, scope: "execution", exp: 10, iat: 5 }))).toEqual({
      sub: ID,
      scope: "execution",
      exp: 10,
      iat: 5,
    });
    // base64url characters (- and _) and multi-byte UTF-8 in the payload.
    const claims = readTokenClaims(jwt({ sub: "opérateur ~~~???>>>", scope: "admin" }));
    expect(claims.sub).toBe("opérateur ~~~???>>>");
  });

  it("binds to the task instance of an execution token (lower case, as the server compares)", () => {
    expect(
      createCairnClient({ url: "http://x", token: jwt({ sub: ID, scope: "execution" }) }).taskInstanceId,
    ).toBe(ID.toLowerCase());
  });

  it("refuses what is not an execution token, with a clear message", () => {
    const bind = (token: string, taskInstanceId?: string) =>
      createCairnClient({ url: "http://x", token, taskInstanceId });
    expect(() => bind("")).toThrow(/token is missing/);
    expect(() => bind("not-a-jwt")).toThrow(/not a JWT/);
    expect(() => bind("a.b.c")).toThrow(/not a JWT/);
    expect(() => bind(jwt([1]))).toThrow(/not a JSON object/);
    expect(() => bind(jwt({ scope: "execution" }))).toThrow(/no `sub`/);
    expect(() => bind(jwt({ sub: ID }))).toThrow(/no `scope`/);
    expect(() => bind(jwt({ sub: ID, scope: "reader" }))).toThrow(/scope "reader".*execution token/);
    expect(() => bind(jwt({ sub: "scheduler", scope: "admin" }))).toThrow(/admin token.*taskInstanceId/);
    expect(() => bind(jwt({ sub: "scheduler", scope: "admin" }), "nope")).toThrow(/UUID/);
    expect(bind(jwt({ sub: "scheduler", scope: "admin" }), ID).taskInstanceId).toBe(ID.toLowerCase());
  });

  it("validates its numeric options", () => {
    const token = jwt({ sub: ID, scope: "execution" });
    expect(() => createCairnClient({ url: "http://x", token, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createCairnClient({ url: "http://x", token, retries: -1 })).toThrow(/retries/);
    expect(() => createCairnClient({ url: "http://x", token, retries: 1.5 })).toThrow(/retries/);
  });
});
