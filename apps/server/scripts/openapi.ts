// `pnpm openapi`: writes docs/openapi.json, the OpenAPI document the server serves at /openapi.json, made
// from the router. apps/server/src/api-docs.test.ts fails while the committed file and the router disagree.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { openApiText } from "../src/api-docs.ts";

export const OPENAPI_FILE = fileURLToPath(new URL("../../../docs/openapi.json", import.meta.url));

await writeFile(OPENAPI_FILE, openApiText());
process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
