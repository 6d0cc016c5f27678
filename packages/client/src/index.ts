// @cairn/client: the typed client worker code imports. Depends on the API's router *type* only.
export {
  type AssetRef,
  type AssetStateClient,
  type CairnClient,
  type CairnClientOptions,
  type ClearOptions,
  createCairnClient,
  type DeleteOptions,
  type ListOptions,
  type RouterInputs,
  type RouterOutputs,
  type SetOptions,
  type StateClient,
  type StateEntry,
  type StateValue,
  type TaskStateClient,
} from "./client.ts";
export {
  BadRequestError,
  CairnError,
  type CairnErrorCode,
  ConflictError,
  ForbiddenError,
  NetworkError,
  NotFoundError,
  OutcomeUnknownError,
  ServerError,
  TimeoutError,
  UnauthorizedError,
  ValueTooLargeError,
  VersionConflictError,
} from "./errors.ts";
export { type Duration, durationMs } from "./retention.ts";
export { StepResultError, stepKey } from "./step.ts";
export { readTokenClaims, type TokenClaims } from "./token.ts";
export {
  type BackoffOptions,
  type CairnTRPCClient,
  type CallOptions,
  createCairnTRPCClient,
  type FetchLike,
  type TransportOptions,
} from "./transport.ts";
export type {
  WaitForOptions,
  WatchChange,
  WatchedEntry,
  WatchOptions,
  WatchTarget,
  WatchWriter,
} from "./watch.ts";
