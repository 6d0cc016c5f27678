// Optional peer dependencies that nothing in production needs, and that pnpm would otherwise link into
// every copy of these packages (so into the server artifact, `pnpm bundle`): the Prisma CLI (~150 MB with
// its studio), TypeScript and Fastify. Development tools list them as their own dependencies.
const unneededPeers = {
  "@prisma/client": ["prisma", "typescript"],
  "@trpc/client": ["typescript"],
  "@trpc/server": ["typescript", "fastify"],
};

module.exports = {
  hooks: {
    readPackage(manifest) {
      for (const peer of unneededPeers[manifest.name] ?? []) {
        delete manifest.peerDependencies?.[peer];
        delete manifest.peerDependenciesMeta?.[peer];
      }
      return manifest;
    },
  },
};
