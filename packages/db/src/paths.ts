// Where prisma/schema.prisma and prisma/migrations are: the repository's top-level prisma/ folder when
// running from source, or the copy the server's build puts beside its bundle (dist/prisma). Found by
// walking up from this module, so both layouts (and a deployed bundle anywhere on disk) work.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findPrismaDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "prisma", "schema.prisma"))) return join(dir, "prisma");
    // Not found: name the place it was expected, so the error reading it says where to look.
    if (dirname(dir) === dir) return join(from, "prisma");
  }
}

const prismaDir = findPrismaDir(dirname(fileURLToPath(import.meta.url)));

export const prismaPaths = {
  prismaDir,
  schemaPath: join(prismaDir, "schema.prisma"),
  migrationsDir: join(prismaDir, "migrations"),
};
