import { fileURLToPath } from "node:url";

const prismaDir = fileURLToPath(new URL("../../../prisma/", import.meta.url));

export const prismaPaths = {
  prismaDir,
  schemaPath: `${prismaDir}schema.prisma`,
  migrationsDir: `${prismaDir}migrations`,
};
