# The Cairn server image: exactly the folder `pnpm bundle` writes (out/cairn: the built server, the CLI,
# the migrations and the production dependencies), run by node alone, as e2e/src/artifact.test.ts runs it.
#
#   pnpm install && pnpm bundle && docker build -t cairn .
#
# Embedded database (one replica, data in the /data volume):
#   docker run -p 4000:4000 -v cairn-data:/data cairn
# PostgreSQL: set DATABASE_URL and CAIRN_JWT_SECRET (see compose.yaml and the README's Deploy section).
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    CAIRN_DATA_DIR=/data

WORKDIR /app
COPY out/cairn/ /app/
RUN mkdir -p /data && chown node:node /data

USER node
VOLUME ["/data"]
EXPOSE 4000

# Ready = the database answers; a draining server (after SIGTERM) answers 503.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node is PID 1 and handles SIGTERM itself: drain, close the database, exit 0 (CAIRN_SHUTDOWN_TIMEOUT_SECONDS).
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
