export { apiConfigFrom, ConfigError, parseConfig, type ServerConfig } from "./config.ts";
export { type RunningServer, type ServerOptions, startServer } from "./http-server.ts";
