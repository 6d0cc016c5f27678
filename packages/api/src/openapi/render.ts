import type { OpenApiDocument } from "./document.ts";

/** The document as docs/openapi.json holds it and /openapi.json serves it. */
export function renderOpenApi(document: OpenApiDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
