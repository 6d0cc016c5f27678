// docs/api.md against the code it describes: every procedure of the router is in its table with its type,
// every `data.reason` a domain error can carry is documented (and nothing stale is), and every relative
// link of the repository's Markdown points at a file (and heading) inside the repository.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { appRouter } from "@cairn/api";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const API_DOC = join(ROOT, "docs", "api.md");
const apiDoc = readFileSync(API_DOC, "utf8");

/** `taskState.get` → `query`, from the router itself. */
function routerProcedures(): Map<string, string> {
  const procedures = new Map<string, string>();
  // Typed as nested routers, but at run time a flat record keyed by dotted path (http-server.ts relies on it).
  const flat: Record<string, unknown> = appRouter._def.procedures;
  for (const [path, procedure] of Object.entries(flat)) {
    procedures.set(path, (procedure as { _def: { type: string } })._def.type);
  }
  return procedures;
}

/**
 * The members of the `DomainErrorReason` union, read from its source: it is a type only, with no runtime
 * list. The union is `| "a" | "b" ...;` in packages/api/src/errors.ts.
 */
function domainErrorReasons(): string[] {
  const source = readFileSync(join(ROOT, "packages", "api", "src", "errors.ts"), "utf8");
  const union = /export type DomainErrorReason\s*=([^;]*);/.exec(source)?.[1];
  if (union === undefined) throw new Error("DomainErrorReason not found in packages/api/src/errors.ts");
  return [...union.matchAll(/"([^"]+)"/g)].map((match) => match[1]!);
}

/** Text without fenced code blocks (their lines become empty, so line numbers stay right). */
function withoutFences(markdown: string): string {
  let inFence = false;
  return markdown
    .split("\n")
    .map((line) => {
      if (/^\s{0,3}(```|~~~)/.test(line)) {
        inFence = !inFence;
        return "";
      }
      return inFence ? "" : line;
    })
    .join("\n");
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to `-`, `-1`, `-2` for repeats. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, text] of withoutFences(markdown).matchAll(/^#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    const base = text!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Inline links and images `[text](target "title")`, and reference definitions `[id]: target`. */
function linkTargets(markdown: string): { line: number; target: string }[] {
  const found: { line: number; target: string }[] = [];
  withoutFences(markdown)
    .split("\n")
    .forEach((raw, index) => {
      // Code spans are not links (`[x](y)` in backticks), but may sit inside a link's text.
      const line = raw.replace(/`[^`]*`/g, "``");
      for (const match of line.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+["'(][^)]*)?\)/g)) {
        found.push({ line: index + 1, target: match[1]! });
      }
      const definition = /^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(line);
      if (definition) found.push({ line: index + 1, target: definition[1]! });
    });
  return found;
}

const SKIPPED_DIRS = new Set(["node_modules", "dist", ".turbo", ".git", ".cairn", "out"]);

function markdownFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) files.push(...markdownFilesUnder(path));
    } else if (entry.name.endsWith(".md")) files.push(path);
  }
  return files;
}

/** The documentation a reader follows links in: READMEs, docs/, the client's README, the examples. */
function documentationFiles(): string[] {
  return [
    join(ROOT, "README.md"),
    ...markdownFilesUnder(join(ROOT, "docs")),
    join(ROOT, "packages", "client", "README.md"),
    ...markdownFilesUnder(join(ROOT, "examples")),
    ...markdownFilesUnder(join(ROOT, "apps", "example-worker")),
  ].filter((file) => existsSync(file));
}

/** What is wrong with one link target, or undefined when it resolves inside the repository. */
function linkProblem(file: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto: ...: not a repository path
  if (target === "") return "empty link target";
  if (target.startsWith("/")) return "absolute path: use a path relative to this file";
  const hash = target.indexOf("#");
  const pathPart = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = pathPart === "" ? file : resolve(dirname(file), decodeURIComponent(pathPart));
  const inRepo = relative(ROOT, resolved);
  if (inRepo.startsWith("..") || isAbsolute(inRepo)) return "points outside the repository";
  if (!existsSync(resolved)) return "no such file in the repository";
  if (anchor !== undefined && anchor !== "" && resolved.endsWith(".md") && statSync(resolved).isFile()) {
    if (!anchorsOf(readFileSync(resolved, "utf8")).has(anchor)) return `no heading #${anchor} there`;
  }
  return undefined;
}

describe("docs/api.md follows the router", () => {
  it("lists every procedure with its type in its table, and no procedure the router lacks", () => {
    const procedures = routerProcedures();
    expect(procedures.size).toBeGreaterThan(20);
    const missing = [...procedures]
      .filter(
        ([path, type]) =>
          !new RegExp(`^\\| \`${path.replaceAll(".", "\\.")}\` \\| ${type} \\|`, "m").test(apiDoc),
      )
      .map(([path, type]) => `${path} (${type})`);
    expect(missing, "procedures without a row `| `path` | type |` in docs/api.md").toEqual([]);
    const documented = [...apiDoc.matchAll(/^\| `([A-Za-z.]+)` \| (?:query|mutation|subscription) \|/gm)].map(
      (m) => m[1]!,
    );
    const stale = documented.filter((path) => !procedures.has(path));
    expect(stale, "procedures in docs/api.md that the router does not have").toEqual([]);
  });

  it("documents every data.reason of the domain errors, and no reason the code lacks", () => {
    const reasons = domainErrorReasons();
    expect(reasons.length).toBeGreaterThan(10);
    for (const reason of reasons) expect(reason).toMatch(/^[a-z]+(_[a-z]+)*$/);
    const missing = reasons.filter((reason) => !apiDoc.includes(`\`${reason}\``));
    expect(missing, "reasons not mentioned (as `reason`) in docs/api.md").toEqual([]);
    // The reasons table: `| `reason` | CODE status | ...`.
    const tabled = [...apiDoc.matchAll(/^\| `([a-z_]+)` \| [A-Z_]+ \d{3} \|/gm)].map((m) => m[1]!);
    expect(new Set(tabled), "the reasons table of docs/api.md").toEqual(new Set(reasons));
  });
});

describe("documentation links", () => {
  it("every relative link resolves to a file (and heading) inside the repository", () => {
    const files = documentationFiles();
    expect(files).toContain(API_DOC);
    const problems: string[] = [];
    for (const file of files) {
      for (const { line, target } of linkTargets(readFileSync(file, "utf8"))) {
        const problem = linkProblem(file, target);
        if (problem) problems.push(`${relative(ROOT, file)}:${line}: ${target}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("finds links, including those written around code spans", () => {
    expect(linkTargets("see [`docs/api.md`](docs/api.md) and `[not](a-link)`\n```\n[x](y)\n```")).toEqual([
      { line: 1, target: "docs/api.md" },
    ]);
    expect(linkProblem(join(ROOT, "README.md"), "../shared/README.md")).toBe("points outside the repository");
    expect(linkProblem(join(ROOT, "docs", "api.md"), "../README.md#contract-notes")).toBeUndefined();
    expect(linkProblem(join(ROOT, "docs", "api.md"), "#no-such-heading")).toBe(
      "no heading #no-such-heading there",
    );
  });
});
