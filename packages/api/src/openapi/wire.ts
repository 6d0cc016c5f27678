// tRPC's plain-JSON envelopes as zod schemas: the error shape must equal what the error formatter
// (error-mapping.ts) returns, or the package does not compile.
import { type TRPC_ERROR_CODE_KEY, TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { z } from "zod";
import type { formatError } from "../error-mapping.ts";
import { type DomainErrorReason, REASONS } from "../errors.ts";

const TRPC_CODES = Object.keys(TRPC_ERROR_CODES_BY_KEY) as [TRPC_ERROR_CODE_KEY, ...TRPC_ERROR_CODE_KEY[]];
const REASON_NAMES = Object.keys(REASONS) as [DomainErrorReason, ...DomainErrorReason[]];

export const ZErrorBody = z
  .strictObject({
    message: z.string().meta({ description: 'What went wrong; "internal server error" for a 500.' }),
    code: z
      .number()
      .int()
      .meta({ description: "The JSON-RPC 2.0 number of data.code (-32004 for NOT_FOUND)." }),
    data: z
      .strictObject({
        code: z.enum(TRPC_CODES).meta({ description: "The tRPC error code." }),
        httpStatus: z.number().int().meta({ description: "The HTTP status of this error." }),
        path: z.string().optional().meta({ description: "The procedure called." }),
        reason: z
          .enum(REASON_NAMES)
          .optional()
          .meta({ description: "Why, for domain errors: each operation lists the reasons it can return." }),
        fieldErrors: z.record(z.string(), z.array(z.string())).optional().meta({
          description: "Input validation failures: the input's fields and what is wrong with each.",
        }),
        formErrors: z
          .array(z.string())
          .optional()
          .meta({ description: "Input validation failures that concern no single field." }),
      })
      .meta({ id: "ErrorData" }),
  })
  .meta({ id: "ErrorBody" });

export const ZErrorEnvelope = z
  .strictObject({ error: ZErrorBody })
  .meta({ id: "ErrorEnvelope", description: "A failed call: tRPC's error envelope." });

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const errorShapeMatches: Same<z.output<typeof ZErrorBody>, ReturnType<typeof formatError>> = true;
void errorShapeMatches;
