export {
  bearerToken,
  type Principal,
  signToken,
  type TokenKeys,
  tokenKeys,
  verifyToken,
} from "./auth/tokens.ts";
export {
  type AdminWrite,
  type ApiConfig,
  type CallObserver,
  type Context,
  createContextFromToken,
  createContextInner,
  defaultApiConfig,
  type ProcedureCall,
} from "./context.ts";
export { type ErrorData, streamError } from "./error-mapping.ts";
export { DomainError, type DomainErrorReason } from "./errors.ts";
export { type OpenApiDocument, type OpenApiOptions, openApiDocument } from "./openapi/document.ts";
export { renderOpenApi } from "./openapi/render.ts";
export { type AppRouter, appRouter, createCaller } from "./root.ts";
export { MAX_KEY_LENGTH } from "./schemas.ts";
export { type CleanupCounts, deleteExpired, previewExpired } from "./services/cleanup.ts";
export { CallHistory, type RecentCalls } from "./services/operator/call-history.ts";
export { WatchHub, type WatchHubOptions, type WatchObserver } from "./services/watch/hub.ts";
export type { WatchWriter } from "./services/watch/stream.ts";
