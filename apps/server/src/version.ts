// The server's version (apps/server/package.json), compiled into the build; reported by /metrics
// (cairn_build_info), the start-up log and `cairn --version`.
import manifest from "../package.json" with { type: "json" };

export const VERSION: string = manifest.version;
