// The OpenAPI 3.1 description of the HTTP surface, made by walking the router: each procedure's input
// schema (zod, converted by z.toJSONSchema), its output (outputs.ts), who may call it (its middlewares,
// trpc.ts) and the errors it can answer with (procedure-errors.ts). tRPC's own wire, documented as is.
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import type { z } from "zod";
import { codeOf } from "../error-mapping.ts";
import { REASONS } from "../errors.ts";
import { httpStatusOf, type ProcedureError, procedureErrors } from "../procedure-errors.ts";
import type { ProcedurePath } from "../procedure-paths.ts";
import { appRouter } from "../root.ts";
import { type ProcedureAccess, procedureAccess } from "../trpc.ts";
import { componentRef, type JsonSchema, SchemaComponents } from "./json-schema.ts";
import { PROCEDURE_OUTPUTS } from "./outputs.ts";
import { SUMMARIES, TAGS } from "./summaries.ts";
import { ZErrorEnvelope } from "./wire.ts";

export type OpenApiDocument = { openapi: string; info: { version: string } & JsonSchema } & JsonSchema;

export interface OpenApiOptions {
  /** `info.version`: the server's version. */
  version: string;
}

/** A procedure as the router holds it at run time. */
interface RouterProcedure {
  _def: { type: "query" | "mutation" | "subscription"; inputs: z.ZodType[] };
}

const SECURITY: Record<ProcedureAccess, Record<string, string[]>[]> = {
  admin: [{ adminToken: [] }],
  "admin-read": [{ adminToken: [] }, { viewerToken: [] }],
  "task-instance": [{ executionToken: [] }, { adminToken: [] }],
  "any-token": [{ executionToken: [] }, { adminToken: [] }],
  public: [],
};

const ACCESS_TEXT: Record<ProcedureAccess, string> = {
  admin: "An admin token. An execution or a viewer token is FORBIDDEN `insufficient_scope`.",
  "admin-read": "An admin or a viewer token. An execution token is FORBIDDEN `insufficient_scope`.",
  "task-instance":
    "An execution token for this task instance (another `taskInstanceId` is FORBIDDEN `not_own_task_instance`, checked before the input is validated), or an admin token for any. A viewer token is FORBIDDEN `insufficient_scope`.",
  "any-token":
    "An execution or an admin token; the procedure checks the rest. Asset state: an execution token only for the assets its task declares as inlet or outlet (otherwise FORBIDDEN `asset_not_registered`, checked first, whether or not the asset exists); an admin token for any asset. A viewer token is FORBIDDEN `insufficient_scope`.",
  public: "No token.",
};

export function openApiDocument(options: OpenApiOptions): OpenApiDocument {
  const components = new SchemaComponents();
  components.convert(ZErrorEnvelope, "output");
  const responses = new ErrorResponses();
  const paths: Record<string, JsonSchema> = {};
  const procedures = appRouter._def.procedures as unknown as Record<ProcedurePath, RouterProcedure>;
  for (const [path, procedure] of Object.entries(procedures) as [ProcedurePath, RouterProcedure][]) {
    const { type, inputs } = procedure._def;
    const [input, ...more] = inputs;
    if (!input || more.length > 0) throw new Error(`${path}: expected exactly one input schema`);
    const access = procedureAccess(procedure);
    const name = pascalCase(path);
    const inputRef = components.add(`${name}Input`, input, "input");
    const outputRef = components.add(`${name}Output`, PROCEDURE_OUTPUTS[path], "output");
    // A subscription is called like a query (GET ?input=) and answers a stream of events.
    const errors = procedureErrors(path, type === "mutation" ? "mutation" : "query", access);
    if (type === "subscription") {
      paths[`/trpc/${path}`] = {
        get: {
          operationId: path,
          tags: [path.slice(0, path.lastIndexOf("."))],
          summary: SUMMARIES[path],
          description: subscriptionDescription(access, errors),
          security: SECURITY[access],
          parameters: [
            inputParameter(inputRef),
            {
              name: "Last-Event-ID",
              in: "header",
              required: false,
              description: "The id of the last event received (an EventSource sends it when it reconnects).",
              schema: { type: "string" },
            },
          ],
          responses: {
            "200": {
              description:
                "Server-Sent Events: each event's `data:` is a WatchEvent (`x-cairn-event`), its `id:` what to resume from; a refusal is one `serialized-error` event.",
              headers: { "x-request-id": { $ref: "#/components/headers/RequestId" } },
              content: { "text/event-stream": { schema: { type: "string" } } },
            },
          },
          "x-cairn-event": outputRef,
          "x-cairn-access": access,
        },
      };
      continue;
    }
    const operation: JsonSchema = {
      operationId: path,
      tags: [path.slice(0, path.lastIndexOf("."))],
      summary: SUMMARIES[path],
      description: operationDescription(type, access, errors),
      security: SECURITY[access],
      ...(type === "query"
        ? {
            parameters: [inputParameter(inputRef)],
          }
        : { requestBody: { required: true, content: { "application/json": { schema: inputRef } } } }),
      responses: {
        "200": {
          description: "Success: the output in tRPC's result envelope.",
          headers: { "x-request-id": { $ref: "#/components/headers/RequestId" } },
          content: { "application/json": { schema: resultEnvelope(outputRef) } },
        },
        ...Object.fromEntries(
          errors.map((error) => [String(httpStatusOf(error.code)), responses.ref(error)]),
        ),
      },
      "x-cairn-access": access,
    };
    paths[`/trpc/${path}`] = { [type === "query" ? "get" : "post"]: operation };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Cairn",
      version: options.version,
      description: INTRODUCTION,
      license: { name: "MIT", identifier: "MIT" },
    },
    tags: TAGS,
    paths,
    components: {
      schemas: components.schemas,
      responses: responses.components(),
      headers: {
        RequestId: {
          description:
            "The request's id, in the server's log lines: the x-request-id sent (200 characters at most), or a new UUID.",
          schema: { type: "string" },
        },
      },
      securitySchemes: {
        executionToken: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            'An execution token: an HS512 JWT with `scope: "execution"` and `sub` = a task instance id, from `admin.tokens.issue`. The execution plane only (taskState.*, assetState.*), for its own task instance and the assets its task declares.',
        },
        adminToken: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            'An admin token: an HS512 JWT with `scope: "admin"` and `sub` = who (`cairn token admin` signs one). Every procedure.',
        },
        viewerToken: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            'A viewer token: an HS512 JWT with `scope: "viewer"` and `sub` = who (`cairn token admin --scope viewer` signs one). Admin queries and admin.watch only.',
        },
      },
    },
    "x-cairn-reasons": Object.fromEntries(
      Object.entries(REASONS).map(([reason, { kind, meaning }]) => {
        const code = codeOf[kind];
        return [reason, { code, httpStatus: httpStatusOf(code), meaning }];
      }),
    ),
    "x-cairn-batching": {
      query: 'GET /trpc/<path>,<path>?batch=1&input=<URL-encoded JSON {"0": input0, "1": input1}>',
      mutation: 'POST /trpc/<path>,<path>?batch=1 with the JSON body {"0": input0, "1": input1}',
      answer:
        "A JSON array of envelopes, one per call, in order; HTTP status: the calls' common status, or 207 when they differ.",
    },
  };
}

/** The `input` query parameter of a GET (query or subscription). */
function inputParameter(inputRef: JsonSchema): JsonSchema {
  return {
    name: "input",
    in: "query",
    required: true,
    description: "The input as JSON, URL-encoded.",
    content: { "application/json": { schema: inputRef } },
  };
}

/** `admin.taskState.get` -> `AdminTaskStateGet`. */
function pascalCase(path: string): string {
  return path
    .split(".")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}

function resultEnvelope(data: JsonSchema): JsonSchema {
  return {
    type: "object",
    properties: {
      result: { type: "object", properties: { data }, required: ["data"], additionalProperties: false },
    },
    required: ["result"],
    additionalProperties: false,
  };
}

/**
 * The error responses, as `components.responses`: one per tRPC code and set of reasons, named after the
 * code (`NotFound`), and after the reasons too when a code comes with several sets
 * (`NotFound.dag_run_not_found.key_not_found`).
 */
class ErrorResponses {
  private readonly byKey = new Map<string, { error: ProcedureError; name: () => string }>();
  private readonly variants = new Map<string, number>();

  ref(error: ProcedureError): JsonSchema {
    const key = JSON.stringify(error);
    let found = this.byKey.get(key);
    if (!found) {
      const base = pascalCase(error.code.toLowerCase().replace(/_(.)/g, (_, c: string) => c.toUpperCase()));
      this.variants.set(base, (this.variants.get(base) ?? 0) + 1);
      const name = () => (this.variants.get(base) === 1 ? base : [base, ...error.reasons].join("."));
      found = { error, name };
      this.byKey.set(key, found);
    }
    // Its name is known once every variant is: components() fills it in.
    const reference: JsonSchema = { $ref: "" };
    this.references.push({ reference, name: found.name });
    return reference;
  }

  private readonly references: { reference: JsonSchema; name: () => string }[] = [];

  /** `components.responses`; completes every reference ref() returned. */
  components(): JsonSchema {
    for (const { reference, name } of this.references) reference.$ref = `#/components/responses/${name()}`;
    const out: JsonSchema = {};
    for (const { error, name } of this.byKey.values()) out[name()] = errorResponse(error);
    return out;
  }
}

function errorResponse(error: ProcedureError): JsonSchema {
  const reasons = error.reasons.map((reason) => `\`${reason}\``).join(", ");
  const description = [
    `\`${error.code}\`${reasons ? `: ${reasons}` : ""}`,
    ...(error.withoutReason ? [`${reasons ? "Without a reason: " : ""}${error.withoutReason}`] : []),
  ].join(". ");
  const data: JsonSchema = {
    properties: {
      code: { const: error.code },
      httpStatus: { const: httpStatusOf(error.code) },
      ...(error.reasons.length > 0 ? { reason: { enum: error.reasons } } : {}),
    },
    ...(error.withoutReason ? {} : { required: ["reason"] }),
  };
  const reason = error.reasons[0];
  const example = {
    error: {
      message: reason ? REASONS[reason].meaning : (error.withoutReason ?? error.code),
      code: TRPC_ERROR_CODES_BY_KEY[error.code],
      data: { code: error.code, httpStatus: httpStatusOf(error.code), ...(reason ? { reason } : {}) },
    },
  };
  return {
    description,
    content: {
      "application/json": {
        example,
        schema: {
          allOf: [
            componentRef("ErrorEnvelope"),
            {
              properties: {
                error: { properties: { code: { const: TRPC_ERROR_CODES_BY_KEY[error.code] }, data } },
              },
            },
          ],
        },
      },
    },
  };
}

function subscriptionDescription(access: ProcedureAccess, errors: ProcedureError[]): string {
  const lines = errors.map((error) => {
    const reasons = error.reasons.map((reason) => `\`${reason}\``).join(", ");
    const parts = [reasons, error.withoutReason ? `without a reason: ${error.withoutReason}` : ""];
    return `- \`${error.code}\`: ${parts.filter(Boolean).join("; ")}`;
  });
  return [
    "A subscription: `GET` with the input as the URL-encoded JSON `input` parameter; the answer is `text/event-stream` (HTTP 200), kept open.",
    "Messages: `event: connected` first; then one message per event, `id: <event id>` and `data: <WatchEvent as JSON>` (a snapshot of the matching keys as `set` events, `synced`, then every change); `event: ping` while idle; `event: return` when the server ends the stream (token expired, try superseded, asset gone or inactive, shutdown: reconnect or stop). Reconnecting with `Last-Event-ID` (or `lastEventId` in the input) resumes after that event, or starts with `reset` and a new snapshot.",
    `**Token:** ${ACCESS_TEXT[access]}`,
    [
      "**Refusals** come as the stream's only message, `event: serialized-error`, whose data is the error object (`message`, `code`, `data.code`, `data.reason`):",
      ...lines,
    ].join("\n"),
  ].join("\n\n");
}

function operationDescription(
  type: "query" | "mutation",
  access: ProcedureAccess,
  errors: ProcedureError[],
): string {
  const call =
    type === "query"
      ? "A query: `GET` with the input as the URL-encoded JSON `input` parameter."
      : "A mutation: `POST` with the input as a JSON body (`Content-Type: application/json`).";
  const lines = errors.map((error) => {
    const reasons = error.reasons.map((reason) => `\`${reason}\``).join(", ");
    const parts = [reasons, error.withoutReason ? `without a reason: ${error.withoutReason}` : ""];
    return `- \`${error.code}\` (${httpStatusOf(error.code)}): ${parts.filter(Boolean).join("; ")}`;
  });
  const errorList = ["**Errors** (`error.data.code`: `error.data.reason`):", ...lines].join("\n");
  return [call, `**Token:** ${ACCESS_TEXT[access]}`, errorList].join("\n\n");
}

const INTRODUCTION = `Durable task state and asset state for workflow workers. The API is tRPC 11 over HTTP with plain JSON (no transformer), so any HTTP client can call it: each procedure is one path under \`/trpc/\`. The wire contract is docs/contract.md in the repository.

## Calls

- A query: \`GET /trpc/<procedure>?input=<URL-encoded JSON>\`.
- A mutation: \`POST /trpc/<procedure>\` with the input as the JSON body and \`Content-Type: application/json\` (otherwise 415 \`UNSUPPORTED_MEDIA_TYPE\`).
- Success: HTTP 200 and \`{"result": {"data": <output>}}\`.
- Failure: the HTTP status of the error and \`{"error": {"message", "code", "data": {"code", "httpStatus", "path", "reason"}}}\`: \`code\` is the JSON-RPC 2.0 number, \`data.code\` the tRPC code (\`NOT_FOUND\`), \`data.reason\` why, for domain errors (each operation lists its reasons; \`x-cairn-reasons\` says what each means). Input that fails validation is \`BAD_REQUEST\` with \`data.fieldErrors\` and \`data.formErrors\` instead of a reason. A 500 never shows internal messages.
- Unknown input fields are refused (\`BAD_REQUEST\`). Dates are ISO-8601 strings: input takes \`Z\` or an offset, output is UTC with \`Z\`.
- The other method on a procedure's path is 405 \`METHOD_NOT_SUPPORTED\`; a path that names no procedure is 404 \`NOT_FOUND\` without a reason.
- Every response carries \`x-request-id\`.

## Tokens

\`Authorization: Bearer <token>\`, an HS512 JWT. An **execution token** (\`scope: "execution"\`, \`sub\` = a task instance id, from \`admin.tokens.issue\`) calls the execution plane: \`taskState.*\` for its own task instance, \`assetState.*\` for the assets its task declares. An **admin token** (\`scope: "admin"\`) calls everything. A missing, malformed or expired token is 401 \`UNAUTHORIZED\` (\`invalid_token\`, \`token_expired\`); a token without the scope a procedure needs is 403 \`FORBIDDEN\` (\`insufficient_scope\`). This document (\`/openapi.json\`), its reference page (\`/docs\`), \`/healthz\`, \`/readyz\` and \`/metrics\` need no token.

## Batching

Several calls of one kind in one request (\`x-cairn-batching\`): the procedures' paths joined by commas, \`?batch=1\`, and the inputs as one JSON object keyed by each call's index.

- Queries: \`GET /trpc/taskState.get,taskState.list?batch=1&input=\` and the URL-encoded \`{"0": {...}, "1": {...}}\`.
- Mutations: \`POST /trpc/taskState.set,taskState.delete?batch=1\` with the body \`{"0": {...}, "1": {...}}\`.

The answer is a JSON array holding one envelope per call, in order. Its HTTP status is the calls' common status, or 207 when they differ. The token applies to every call of the batch; each call fails or succeeds on its own.`;
