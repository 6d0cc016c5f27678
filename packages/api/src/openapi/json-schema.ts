// Zod schemas to JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) with zod's own z.toJSONSchema,
// collected as the document's `components.schemas`: schemas with a zod `id` (`.meta({ id })`) become
// components of that name and are referenced, never copied.
import { z } from "zod";

export type JsonSchema = { [key: string]: unknown };

const DEFS = "#/$defs/";
const COMPONENTS = "#/components/schemas/";

export const componentRef = (name: string): JsonSchema => ({ $ref: `${COMPONENTS}${name}` });

export class SchemaComponents {
  /** `components.schemas`, in the order they were added. */
  readonly schemas: Record<string, JsonSchema> = {};
  /** The component each converted zod schema became, per direction (a schema can differ between them). */
  private readonly named = { input: new Map<z.ZodType, string>(), output: new Map<z.ZodType, string>() };

  /**
   * Adds `schema` as component `name` and returns a reference to it. A zod schema already added (two
   * procedures taking the same input) gets a component that refers to the first one.
   */
  add(name: string, schema: z.ZodType, io: "input" | "output"): JsonSchema {
    const earlier = this.named[io].get(schema);
    const converted = earlier ? componentRef(earlier) : this.convert(schema, io);
    if (!earlier) this.named[io].set(schema, name);
    this.put(name, converted);
    return componentRef(name);
  }

  /** JSON Schema for `schema`, its `id`-named parts moved into the components. */
  convert(schema: z.ZodType, io: "input" | "output"): JsonSchema {
    const converted = z.toJSONSchema(schema, {
      target: "draft-2020-12",
      io,
      unrepresentable: "throw",
      override: ({ zodSchema, path }) => refuseRegexFlags(zodSchema, path),
    }) as JsonSchema;
    const { $schema: _dialect, $defs, ...rest } = converted;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
      this.put(id, toComponentRefs(def) as JsonSchema);
    }
    return toComponentRefs(rest) as JsonSchema;
  }

  private put(name: string, schema: JsonSchema): void {
    const existing = this.schemas[name];
    if (existing && JSON.stringify(existing) !== JSON.stringify(schema)) {
      throw new Error(`two different schemas are named "${name}": give one of them another id`);
    }
    this.schemas[name] = schema;
  }
}

/** `#/$defs/X` (zod's references) to `#/components/schemas/X`, everywhere in a schema. */
function toComponentRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toComponentRefs);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref" && typeof value === "string") {
      if (!value.startsWith(DEFS)) throw new Error(`unexpected $ref ${value} in a converted schema`);
      out[key] = `${COMPONENTS}${value.slice(DEFS.length)}`;
    } else {
      out[key] = toComponentRefs(value);
    }
  }
  return out;
}

/**
 * JSON Schema patterns have no flags: a regex with one (`/…/i`) would be documented as stricter or looser
 * than the server is. Spell the cases out instead (`[0-9a-fA-F]`).
 */
function refuseRegexFlags(schema: unknown, path: (string | number)[]): void {
  type Zod = { _zod?: { def?: { pattern?: unknown; checks?: Zod[] } } };
  const def = (schema as Zod)._zod?.def;
  // A format (z.uuid()) is its own first check; .regex() adds one.
  for (const check of [schema as Zod, ...(def?.checks ?? [])]) {
    const pattern = check._zod?.def?.pattern;
    if (pattern instanceof RegExp && pattern.flags.replace("u", "") !== "") {
      throw new Error(
        `the pattern ${pattern} at ${path.join(".") || "(root)"} has flags, which JSON Schema cannot express`,
      );
    }
  }
}
