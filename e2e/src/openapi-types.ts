// TypeScript types for docs/openapi.json made by openapi-typescript, an independent generator, into
// src/generated/openapi.ts; openapi-client.test.ts calls the server through openapi-fetch with them.
// `pnpm openapi` runs this after writing docs/openapi.json; the test fails when the file is stale.
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";

export const OPENAPI_FILE = fileURLToPath(new URL("../../docs/openapi.json", import.meta.url));
export const CLIENT_TYPES_FILE = fileURLToPath(new URL("./generated/openapi.ts", import.meta.url));

/** The types openapi-typescript makes of the document's text. */
export async function clientTypes(documentText: string): Promise<string> {
  const ast = await openapiTS(documentText, { silent: true, defaultNonNullable: false });
  return `${COMMENT_HEADER.replace(" */", " * From docs/openapi.json by `pnpm openapi` (e2e/src/openapi-types.ts).\n */")}${astToString(ast)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await writeFile(CLIENT_TYPES_FILE, await clientTypes(await readFile(OPENAPI_FILE, "utf8")));
  process.stdout.write(`wrote ${CLIENT_TYPES_FILE}\n`);
}
