// Loads Prisma's WebAssembly schema engine (the same Rust engine as `prisma migrate`, no native binary)
// and binds it to a driver adapter factory.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import type { SchemaEngine } from "@prisma/schema-engine-wasm";

// Node has WebAssembly at run time; its types live in the DOM lib, which this package does not load.
type WasmExports = Record<string, unknown>;
declare const WebAssembly: {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: WasmExports } }>;
};

type Glue = typeof import("@prisma/schema-engine-wasm/schema_engine_bg") & {
  __wbg_set_wasm(exports: WasmExports): void;
};

let gluePromise: Promise<Glue> | undefined;

async function loadGlue(): Promise<Glue> {
  // The package's own entry imports the .wasm file as an ES module, which Node cannot do; instantiate it
  // the way @prisma/internals does instead.
  const require = createRequire(import.meta.url);
  // The package exports no path to its .wasm file; it sits beside the entry module.
  const wasmPath = join(dirname(require.resolve("@prisma/schema-engine-wasm")), "schema_engine_bg.wasm");
  const glue = (await import("@prisma/schema-engine-wasm/schema_engine_bg")) as Glue;
  const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
    "./schema_engine_bg.js": glue,
  });
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return glue;
}

// Without a registry an engine panic surfaces as an unrelated TypeError; with it, as the panic's text.
let lastPanic: string | undefined;
(globalThis as Record<string, unknown>).PRISMA_WASM_PANIC_REGISTRY = {
  set_message(message: string) {
    lastPanic = message;
  },
};

export function takeEnginePanic(): string | undefined {
  const message = lastPanic;
  lastPanic = undefined;
  return message;
}

export type EngineLog = (line: string) => void;

export async function openSchemaEngine(options: {
  schemaPath: string;
  schemaText: string;
  factory: SqlMigrationAwareDriverAdapterFactory;
  log?: EngineLog;
}): Promise<SchemaEngine> {
  gluePromise ??= loadGlue();
  const glue = await gluePromise;
  const log = options.log ?? (() => {});
  return glue.SchemaEngine.new(
    { datamodels: [[options.schemaPath, options.schemaText]] },
    (line: string) => log(line),
    bindMigrationAwareSqlAdapterFactory(options.factory),
  );
}
