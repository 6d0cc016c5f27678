#!/bin/sh
echo "Cairn does not use Prisma's native schema engine. Run migrations with: pnpm db:migrate | db:status | db:check | db:new <name>" >&2
exit 1
