// The OpenAPI document made from the router: one operation per procedure with tRPC's method, inputs
// converted from the zod schemas as clients send them, the token each needs, every reason listed, and an
// error envelope that is what the server sends.
import type { Database } from "@cairn/db";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Principal } from "../auth/tokens.ts";
import { createContextInner } from "../context.ts";
import { REASONS } from "../errors.ts";
import { appRouter } from "../root.ts";
import { ZTaskInstanceId } from "../schemas.ts";
import { testConfig } from "../testing/fixtures.ts";
import { openApiDocument } from "./document.ts";
import { SchemaComponents } from "./json-schema.ts";
import { ZErrorEnvelope } from "./wire.ts";

// biome-ignore lint/suspicious/noExplicitAny: walking a JSON document
type Json = Record<string, any>;
const doc = openApiDocument({ version: "1.2.3" }) as Json;
const operation = (path: string) => {
  const item = doc.paths[`/trpc/${path}`] as Json;
  return (item.get ?? item.post) as Json;
};
const schema = (name: string) => doc.components.schemas[name] as Json;

describe("the OpenAPI document", () => {
  it("has one operation per procedure: queries GET with an `input` parameter, mutations POST with a body", () => {
    const procedures = Object.entries(appRouter._def.procedures as unknown as Json) as [string, Json][];
    expect(Object.keys(doc.paths)).toEqual(procedures.map(([path]) => `/trpc/${path}`));
    for (const [path, procedure] of procedures) {
      const item = doc.paths[`/trpc/${path}`] as Json;
      if (procedure._def.type === "subscription") continue; // the next test
      const method = procedure._def.type === "query" ? "get" : "post";
      expect(Object.keys(item), path).toEqual([method]);
      expect(item[method].operationId).toBe(path);
      if (method === "get") {
        expect(item.get.parameters).toEqual([
          expect.objectContaining({ name: "input", in: "query", required: true }),
        ]);
        expect(item.get.requestBody).toBeUndefined();
      } else {
        expect(item.post.requestBody.content["application/json"].schema.$ref).toMatch(/Input$/);
      }
      expect(item[method].responses["200"].content["application/json"].schema.properties.result).toEqual({
        type: "object",
        properties: { data: { $ref: expect.stringMatching(/^#\/components\/schemas\/\w+Output$/) } },
        required: ["data"],
        additionalProperties: false,
      });
    }
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.version).toBe("1.2.3");
    expect(JSON.stringify(openApiDocument({ version: "1.2.3" }))).toBe(JSON.stringify(doc));
  });

  it("describes subscriptions as GET with an `input` parameter answering an event stream of WatchEvent", () => {
    const subscriptions = Object.entries(appRouter._def.procedures as unknown as Json).filter(
      ([, procedure]) => (procedure as Json)._def.type === "subscription",
    );
    expect(subscriptions.map(([path]) => path)).toEqual([
      "taskState.watch",
      "assetState.watch",
      "admin.watch",
    ]);
    for (const [path] of subscriptions) {
      const item = doc.paths[`/trpc/${path}`] as Json;
      expect(Object.keys(item), path).toEqual(["get"]);
      expect(item.get.parameters).toEqual([
        expect.objectContaining({ name: "input", in: "query", required: true }),
        expect.objectContaining({ name: "Last-Event-ID", in: "header", required: false }),
      ]);
      expect(Object.keys(item.get.responses["200"].content)).toEqual(["text/event-stream"]);
      expect(item.get["x-cairn-event"].$ref).toMatch(/Output$/);
      expect(item.get.description).toContain("serialized-error");
    }
    expect(schema("WatchEvent").oneOf ?? schema("WatchEvent").anyOf).toHaveLength(4);
  });

  it("names the token each procedure needs, as its middlewares check it", () => {
    const both = [{ executionToken: [] }, { adminToken: [] }];
    for (const path of Object.keys(appRouter._def.procedures)) {
      const op = operation(path);
      if (path.startsWith("admin.")) {
        // Queries and watch: admin or viewer (spec §7); mutations: admin only.
        const reads = op === (doc.paths[`/trpc/${path}`] as Json).get;
        expect([op["x-cairn-access"], op.security], path).toEqual(
          reads ? ["admin-read", [{ adminToken: [] }, { viewerToken: [] }]] : ["admin", [{ adminToken: [] }]],
        );
      } else if (path.startsWith("taskState.")) {
        expect([op["x-cairn-access"], op.security], path).toEqual(["task-instance", both]);
      } else {
        expect([op["x-cairn-access"], op.security], path).toEqual(["any-token", both]);
      }
    }
    expect(Object.keys(doc.components.securitySchemes)).toEqual([
      "executionToken",
      "adminToken",
      "viewerToken",
    ]);
  });

  it("converts inputs from the zod schemas as clients send them: defaults optional, unknown fields refused", () => {
    const list = schema("TaskStateListInput");
    expect(list.required).toEqual(["taskInstanceId"]);
    expect(list.additionalProperties).toBe(false);
    expect(list.properties.limit).toMatchObject({ type: "integer", minimum: 1, maximum: 1000, default: 100 });
    expect(list.properties.cursor.anyOf).toEqual([
      expect.objectContaining({ type: "string" }),
      { type: "null" },
    ]);
    const set = schema("TaskStateSetInput");
    expect(set.required).toEqual(["taskInstanceId", "key", "value"]);
    expect(set.properties.value).toEqual({ description: expect.stringContaining("top-level null") });
    expect(set.properties.expiresAt.anyOf[0]).toMatchObject({ type: "string", format: "date-time" });
    expect(schema("AssetStateGetInput").properties.asset).toEqual({ $ref: "#/components/schemas/AssetRef" });
    expect(schema("AssetRef").anyOf).toHaveLength(2);
    // Two procedures taking the same zod schema share one component.
    expect(schema("AdminAssetStateGetInput")).toEqual({ $ref: "#/components/schemas/AssetStateGetInput" });
    // The id pattern accepts what the server accepts: both cases.
    const pattern = new RegExp(schema("TaskStateGetInput").properties.taskInstanceId.pattern);
    const id = "0191F7A0-0000-7000-8000-0000000000EE";
    expect([pattern.test(id), ZTaskInstanceId.safeParse(id).success]).toEqual([true, true]);
    expect([pattern.test("not-a-uuid"), ZTaskInstanceId.safeParse("not-a-uuid").success]).toEqual([
      false,
      false,
    ]);
  });

  it("lists every reason, each under the code it comes with", () => {
    const listed = new Map<string, Set<string>>();
    for (const [name, response] of Object.entries(doc.components.responses as Json)) {
      const data = response.content["application/json"].schema.allOf[1].properties.error.properties.data;
      for (const reason of data.properties.reason?.enum ?? []) {
        listed.set(reason, (listed.get(reason) ?? new Set()).add(data.properties.code.const));
      }
      expect(name.split(".")[0]).toBe(
        (data.properties.code.const as string)
          .toLowerCase()
          .replace(/(^|_)(.)/g, (_: string, __: string, c: string) => c.toUpperCase()),
      );
    }
    expect([...listed.keys()].sort()).toEqual(Object.keys(REASONS).sort());
    expect(doc["x-cairn-reasons"].version_mismatch).toMatchObject({ code: "CONFLICT", httpStatus: 409 });
    const get = operation("taskState.get");
    expect(Object.keys(get.responses)).toEqual(["200", "400", "401", "403", "404", "500", "503"]);
    expect(get.responses["404"].$ref).toBe(
      "#/components/responses/NotFound.key_not_found.task_instance_not_found.task_instance_superseded",
    );
    expect(get.description).toContain("- `NOT_FOUND` (404): `key_not_found`, `task_instance_not_found`");
    const set = operation("taskState.set");
    expect(Object.keys(set.responses)).toEqual(expect.arrayContaining(["409", "413", "415", "502"]));
  });

  it("describes the error envelope exactly as the server sends it", async () => {
    const call = async (path: string, input: unknown, principal: Principal | null) => {
      const res = await fetchRequestHandler({
        endpoint: "/trpc",
        req: new Request(`http://cairn.test/trpc/${path}`, {
          method: "POST",
          body: JSON.stringify(input),
          headers: { "content-type": "application/json" },
        }),
        router: appRouter,
        createContext: () =>
          createContextInner({
            db: { sql: { query: async () => [] } } as unknown as Database,
            config: testConfig(),
            principal,
          }),
      });
      return res.json();
    };
    const unauthorized = await call("taskState.set", { key: "k" }, null);
    expect(ZErrorEnvelope.parse(unauthorized).error).toMatchObject({
      code: -32001,
      data: { code: "UNAUTHORIZED", httpStatus: 401, path: "taskState.set", reason: "invalid_token" },
    });
    const invalid = await call("admin.dagRuns.delete", { dagId: "d" }, { scope: "admin", sub: "t" });
    expect(ZErrorEnvelope.parse(invalid).error).toMatchObject({
      code: -32600,
      data: {
        code: "BAD_REQUEST",
        httpStatus: 400,
        fieldErrors: { runId: [expect.any(String)] },
        formErrors: [],
      },
    });
    expect(schema("ErrorEnvelope")).toMatchObject({ required: ["error"], additionalProperties: false });
    expect(schema("ErrorData").properties.reason.enum).toEqual(Object.keys(REASONS));
  });

  it("refuses a regex with flags, which a JSON Schema pattern cannot carry", () => {
    const components = new SchemaComponents();
    expect(() => components.convert(z.object({ id: z.string().regex(/^a$/i) }), "input")).toThrow(/flags/);
    expect(() => components.convert(z.object({ id: z.string().regex(/^a$/) }), "input")).not.toThrow();
  });
});
