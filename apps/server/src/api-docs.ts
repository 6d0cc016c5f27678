// GET /openapi.json (the OpenAPI document, made from the router at first request) and GET /docs (Swagger
// UI, from the swagger-ui-dist package beside the server: the page loads nothing from another host).
// Neither needs a token.
import { readFile } from "node:fs/promises";
import type http from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { openApiDocument, renderOpenApi } from "@cairn/api";
import { VERSION } from "./version.ts";

let documentText: string | undefined;

/** The document /openapi.json serves (and docs/openapi.json holds: `pnpm openapi`). */
export function openApiText(): string {
  documentText ??= renderOpenApi(openApiDocument({ version: VERSION }));
  return documentText;
}

/** The files of swagger-ui-dist the page loads, by name under /docs/. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

/** Where swagger-ui-dist is installed: resolved at run time, from the source, the build and the bundle alike. */
export function swaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

// URLs are relative to /docs, so the page also works behind a proxy that serves the API under a prefix.
const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Cairn API</title>
    <link rel="stylesheet" href="docs/swagger-ui.css">
    <link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="docs/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/swagger-ui-bundle.js"></script>
    <script src="docs/init.js"></script>
  </body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io for a badge.
const INIT = `window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  tryItOutEnabled: false,
  persistAuthorization: false,
});
`;

/** Scripts and styles from this server only (Swagger UI sets inline styles); no frames, no forms. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const cache = new Map<string, Promise<Buffer>>();

/** Answers /openapi.json, /docs and /docs/* (true), or leaves the request alone (false). */
export function serveApiDocs(
  path: string,
  res: http.ServerResponse,
  onError: (error: unknown) => void,
): boolean {
  if (path === "/openapi.json") {
    send(res, 200, "application/json", openApiText(), "no-cache");
    return true;
  }
  if (path === "/docs") {
    res.setHeader("content-security-policy", CSP);
    send(res, 200, "text/html; charset=utf-8", PAGE, "no-cache");
    return true;
  }
  if (!path.startsWith("/docs/")) return false;
  const name = path.slice("/docs/".length);
  if (name === "") {
    res.writeHead(308, { location: "../docs" });
    res.end();
    return true;
  }
  if (name === "init.js") {
    send(res, 200, "text/javascript; charset=utf-8", INIT, "no-cache");
    return true;
  }
  const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (!type) return false;
  let file = cache.get(name);
  if (!file) {
    file = Promise.resolve().then(() => readFile(join(swaggerUiDir(), name)));
    cache.set(name, file);
  }
  file.then(
    (body) => send(res, 200, type, body, "public, max-age=3600"),
    (error: unknown) => {
      cache.delete(name);
      onError(error);
      send(res, 500, "application/json", JSON.stringify({ error: "the API reference is not installed" }));
    },
  );
  return true;
}

export function send(
  res: http.ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  cacheControl?: string,
): void {
  res.writeHead(status, {
    "content-type": type,
    "x-content-type-options": "nosniff",
    ...(cacheControl ? { "cache-control": cacheControl } : {}),
  });
  res.end(body);
}
