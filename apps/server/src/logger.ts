// The server's logger: JSON lines with ISO times and level names for log collectors, or pino-pretty's
// colored lines when a person watches the terminal (LOG_FORMAT=auto picks by whether stdout is a TTY).
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import type { ServerConfig } from "./config.ts";

export function createLogger(config: Pick<ServerConfig, "logLevel" | "logFormat">): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const human = config.logFormat === "pretty" || (config.logFormat === "auto" && process.stdout.isTTY);
  if (!human) return pino(options);
  // In-process (no worker thread) and synchronous, so the last lines before an exit are not lost.
  return pino(options, pretty({ sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }));
}
