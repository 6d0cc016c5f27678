// GET /console: the operator console (apps/console), a single-page app served from its build. The build
// is copied into dist/console beside the server (scripts/build.ts); from source, apps/console/dist is
// used. No token is needed for the files: the page asks for one and sends it with each API call.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type http from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { send } from "./api-docs.ts";

const CANDIDATES = [
  fileURLToPath(new URL("./console/", import.meta.url)),
  fileURLToPath(new URL("../../console/dist/", import.meta.url)),
];

let dir: string | undefined;
function consoleDir(): string | undefined {
  dir ??= CANDIDATES.find((candidate) => existsSync(join(candidate, "index.html")));
  return dir;
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

/** Only this server's scripts, styles and API; no frames, no forms posted elsewhere, no inline script. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const cache = new Map<string, Promise<Buffer>>();

function file(path: string): Promise<Buffer> {
  let body = cache.get(path);
  if (!body) {
    body = readFile(path);
    cache.set(path, body);
    body.catch(() => cache.delete(path));
  }
  return body;
}

/** Answers /console and /console/* (true), or leaves the request alone (false). */
export function serveConsole(
  path: string,
  res: http.ServerResponse,
  onError: (error: unknown) => void,
): boolean {
  if (path !== "/console" && !path.startsWith("/console/")) return false;
  // The page's URLs are relative: /console must become /console/ for ./assets/... to resolve.
  if (path === "/console") {
    res.writeHead(308, { location: "console/" });
    res.end();
    return true;
  }
  const root = consoleDir();
  if (!root) {
    send(res, 404, "text/plain; charset=utf-8", "the console is not built: run `pnpm build` first\n");
    return true;
  }
  const name = path.slice("/console/".length);
  // Hashed build files under assets/ (cached for good); every other path is the page (its views are in
  // the URL's fragment, so this only catches a reload of a mistyped path).
  const asset = /^assets\/[\w.-]+$/.test(name) ? name : undefined;
  const type = asset ? TYPES[extname(asset)] : "text/html; charset=utf-8";
  if (!type) {
    send(res, 404, "text/plain; charset=utf-8", "not found\n");
    return true;
  }
  file(join(root, asset ?? "index.html")).then(
    (body) => {
      if (!asset) res.setHeader("content-security-policy", CSP);
      send(res, 200, type, body, asset ? "public, max-age=31536000, immutable" : "no-cache");
    },
    (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        send(res, 404, "text/plain; charset=utf-8", "not found\n");
        return;
      }
      onError(error);
      send(res, 500, "text/plain; charset=utf-8", "the console could not be read\n");
    },
  );
  return true;
}
