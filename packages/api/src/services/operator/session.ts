// admin.session: who the server takes the caller to be, for the console's header, and the value limit
// its editor checks before sending.
import type { Principal } from "../../auth/tokens.ts";
import type { ApiConfig } from "../../context.ts";

export interface Session {
  sub: string;
  scope: Principal["scope"];
  /** When the token expires; null when it never does. */
  expiresAt: string | null;
  /** CAIRN_MAX_VALUE_BYTES (0 = no limit). */
  maxValueBytes: number;
}

export function sessionOf(principal: Principal, expiresAtMs: number | undefined, config: ApiConfig): Session {
  return {
    sub: principal.sub,
    scope: principal.scope,
    expiresAt: expiresAtMs === undefined ? null : new Date(expiresAtMs).toISOString(),
    maxValueBytes: config.maxValueBytes,
  };
}
