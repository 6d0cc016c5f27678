// Prisma CLI configuration. Only `prisma generate` (and validate/format) run through the Prisma CLI here;
// migrations run through Prisma's WebAssembly schema engine via `pnpm db:*` (packages/db/src/migrations).
import { fileURLToPath } from "node:url";
import { defineConfig } from "prisma/config";

// The CLI insists on downloading a native schema engine before any command unless this names a file.
// generate/validate/format never execute it, so it points at a stub that explains where migrations live.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= fileURLToPath(
  new URL("./packages/db/scripts/no-native-schema-engine.sh", import.meta.url),
);

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  // env("DATABASE_URL") would throw when it is unset, even for generate.
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://unused@localhost/unused" },
});
