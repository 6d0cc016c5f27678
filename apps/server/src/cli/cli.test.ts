// The `cairn` CLI as an operator runs it: the built command (dist/cli.js, which the test run's global
// setup builds) as a child process talking HTTP to a real server (started here, over PGlite and
// PostgreSQL), checked by its output and exit code.
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createCaller,
  createContextInner,
  type Principal,
  signToken,
  tokenKeys,
  verifyToken,
} from "@cairn/api";
import { TEST_SECRET, testConfig } from "@cairn/api/testing";
import { openDatabase } from "@cairn/db";
import { describeEachDatabase, testDatabaseContext } from "@cairn/db/testing";
import pino from "pino";
import stringWidth from "string-width";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type RunningServer, startServer } from "../http-server.ts";
import { freePort } from "../testing/server-process.ts";
import { VERSION } from "../version.ts";

// Each CLI run is a new node process (about half a second of start-up, more on a busy machine).
vi.setConfig({ testTimeout: 90_000 });

const main = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const secret = TEST_SECRET;
const api = testConfig({ defaultTokenTtlSeconds: 3600 });
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const fromNow = (ms: number) => new Date(Date.now() + ms).toISOString();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cairn ...args` with only PATH and the given environment (nothing inherited by accident). */
function cairn(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs `cairn ...args` on a terminal (a pseudo-terminal from util-linux `script`), typing `input` into it;
 * `output` is what the terminal showed (stdout and stderr, echoed input, \r\n line ends).
 */
function cairnOnTerminal(
  args: string[],
  input: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      "script",
      ["-qec", [process.execPath, main, ...args].map(quote).join(" "), "/dev/null"],
      {
        env: { PATH: process.env.PATH ?? "", SHELL: "/bin/sh", TERM: "dumb", ...env },
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.stdin.write(input);
    child.on("error", reject);
    child.on("close", (code) => {
      child.stdin.end();
      resolve({ code, output });
    });
  });
}
const hasScript = spawnSync("script", ["--version"]).status === 0;

const lines = (text: string) => text.split("\n").filter((line) => line.length > 0);
/** A table row's cells (columns are separated by two or more spaces). */
const cells = (line: string) => line.split(/ {2,}/);
/** Where each cell of a table row starts, in terminal columns (a CJK character takes two). */
const cellColumns = (line: string) => {
  let from = 0;
  return cells(line).map((cell) => {
    const at = line.indexOf(cell, from);
    from = at + cell.length;
    return stringWidth(line.slice(0, at));
  });
};

let sequence = 0;
const unique = (prefix: string) => `${prefix}_${process.pid}_${Date.now().toString(36)}_${sequence++}`;

describeEachDatabase("cairn CLI against a running server", (getDb, kind) => {
  /** Checks of the CLI itself, not of a database: run against the first database of the run only. */
  const firstDatabase = kind === testDatabaseContext().kinds[0];
  let server: RunningServer;
  let adminToken: string;
  /** Env for a CLI run against this server. */
  const env = (extra: Record<string, string> = {}) => ({
    CAIRN_URL: server.url,
    CAIRN_ADMIN_TOKEN: adminToken,
    ...extra,
  });
  const as = (principal: Principal) =>
    createCaller(createContextInner({ db: getDb(), config: api, principal }));
  const admin = () => as({ scope: "admin", sub: "cli-test-setup" }).admin;

  beforeAll(async () => {
    server = await startServer({
      db: getDb(),
      api,
      logger: pino({ level: "silent" }),
      maxBodyBytes: 1 << 20,
    });
    adminToken = await signToken(
      api.tokenKeys,
      { sub: "cli-test", scope: "admin" },
      new Date(Date.now() + 600_000),
    );
  });
  afterAll(() => server?.close());

  async function newTask(opts: { outlets?: { name: string }[] } = {}) {
    const address = { dagId: unique("dag"), runId: unique("run"), taskId: unique("task") };
    const { id } = await admin().taskInstances.create({ ...address, outlets: opts.outlets ?? [] });
    const flags = ["--dag", address.dagId, "--run", address.runId, "--task", address.taskId];
    return { id, address, flags };
  }

  it("state set, ls (table and --json), get, rm and clear for a task", async () => {
    const t = await newTask();
    const set = await cairn(["state", "set", ...t.flags, "job_id", '"app-42"'], env());
    expect(set).toMatchObject({ code: 0, stdout: "set job_id (version 1)\n" });
    expect(await admin().taskState.get({ ...t.address, key: "job_id" })).toMatchObject({
      value: "app-42",
      version: 1,
    });

    await admin().taskState.set({ ...t.address, key: "spark/conf", value: { cores: 4 }, expiresAt: null });
    await admin().taskState.set({ ...t.address, key: "spark/conf", value: { cores: 8 }, expiresAt: null });

    const [ls, json, get] = await Promise.all([
      cairn(["state", "ls", ...t.flags], env()),
      cairn(["state", "ls", ...t.flags, "--prefix", "spark/", "--json"], env()),
      cairn(["state", "get", ...t.flags, "spark/conf"], env()),
    ]);
    expect(ls.code).toBe(0);
    expect(ls.stderr).toBe("");
    const [header, row1, row2, footer, ...more] = lines(ls.stdout);
    expect(more).toEqual([]);
    expect(cells(header!)).toEqual(["KEY", "VERSION", "UPDATED", "EXPIRES", "VALUE"]);
    const job = cells(row1!);
    expect(job).toEqual([
      "job_id",
      "1",
      expect.stringMatching(ISO_UTC),
      expect.stringMatching(ISO_UTC),
      '"app-42"',
    ]);
    // The default retention: about 30 days from now.
    expect(Math.abs(Date.parse(job[3]!) - (Date.now() + 30 * 86_400_000))).toBeLessThan(3_600_000);
    expect(cells(row2!)).toEqual(["spark/conf", "2", expect.stringMatching(ISO_UTC), "never", '{"cores":8}']);
    expect(footer).toBe("2 of 2 key(s)");
    // Columns line up: every row's VERSION starts where the header's does.
    expect(row1!.indexOf(" 1 ")).toBe(header!.indexOf("VERSION") - 1);

    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      items: [
        {
          key: "spark/conf",
          value: { cores: 8 },
          version: 2,
          updatedAt: expect.stringMatching(ISO_UTC),
          expiresAt: null,
        },
      ],
      total: 1,
    });

    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({ cores: 8 });

    // Deleting asks first; without a terminal to ask on (here: stdin is not one) it needs --yes.
    const [rmUnasked, clearUnasked] = await Promise.all([
      cairn(["state", "rm", ...t.flags, "job_id"], env()),
      cairn(["state", "clear", ...t.flags], env()),
    ]);
    expect(rmUnasked).toMatchObject({ code: 2, stdout: "" });
    expect(rmUnasked.stderr).toBe(
      `cairn: state rm would delete key "job_id" of task ${t.address.dagId}/${t.address.runId}/${t.address.taskId}: not done; pass --yes (-y) to confirm (there is no terminal to ask on)\n`,
    );
    expect(clearUnasked).toMatchObject({ code: 2, stdout: "" });
    expect(clearUnasked.stderr).toMatch(/^cairn: state clear would delete 2 key\(s\) of task .*--yes/);
    expect((await admin().taskState.list(t.address)).total).toBe(2);

    const rm = await cairn(["state", "rm", ...t.flags, "job_id", "--yes"], env());
    expect(rm).toMatchObject({ code: 0, stdout: "deleted job_id\n" });
    await expect(admin().taskState.get({ ...t.address, key: "job_id" })).rejects.toThrow(/does not exist/);

    const clear = await cairn(["state", "clear", ...t.flags, "-y"], env());
    expect(clear).toMatchObject({ code: 0, stdout: "deleted 1 key(s)\n" });
    expect((await admin().taskState.list(t.address)).total).toBe(0);
  });

  it("state set with --map-index and --expires-at; clear --all-map-indices", async () => {
    const t = await newTask();
    const at = fromNow(86_400_000);
    await admin().taskState.set({ ...t.address, key: "k", value: 0 });
    const mapped = await cairn(
      ["state", "set", ...t.flags, "--map-index", "3", "k", '{"n":1}', "--expires-at", at, "--json"],
      env(),
    );
    expect(mapped.code).toBe(0);
    expect(JSON.parse(mapped.stdout)).toEqual({ version: 1 });
    expect(await admin().taskState.get({ ...t.address, mapIndex: 3, key: "k" })).toMatchObject({
      value: { n: 1 },
      expiresAt: at,
    });

    const [both, clear] = await Promise.all([
      cairn(["state", "clear", ...t.flags, "--all-map-indices", "--map-index", "3", "--yes"], env()),
      cairn(["state", "clear", ...t.flags, "--all-map-indices", "--json", "--yes"], env()),
    ]);
    expect(both).toMatchObject({ code: 2, stdout: "" });
    expect(both.stderr).toContain("--all-map-indices clears every map index: leave out --map-index");
    expect(clear.code).toBe(0);
    expect(JSON.parse(clear.stdout)).toEqual({ deleted: 2 });
  });

  it("asset state ls shows who wrote each key", async () => {
    const name = unique("asset");
    const uri = `s3://cli/${name}`;
    await admin().assets.upsert({ name, uri });
    const t = await newTask({ outlets: [{ name }] });
    await as({ scope: "execution", sub: t.id, taskInstanceId: t.id }).assetState.set({
      asset: { name },
      key: "by_task",
      value: "2026-05-01",
    });
    const set = await cairn(["state", "set", "--asset", name, "by_admin", "[1,2]"], env());
    expect(set).toMatchObject({ code: 0, stdout: "set by_admin (version 1)\n" });

    const ls = await cairn(["state", "ls", "--asset-uri", uri], env());
    expect(ls.code).toBe(0);
    const [header, admins, tasks, footer] = lines(ls.stdout);
    expect(cells(header!)).toEqual(["KEY", "VERSION", "UPDATED", "EXPIRES", "WRITER", "VALUE"]);
    expect(cells(admins!)).toEqual([
      "by_admin",
      "1",
      expect.stringMatching(ISO_UTC),
      "never",
      "admin",
      "[1,2]",
    ]);
    expect(cells(tasks!)).toEqual([
      "by_task",
      "1",
      expect.stringMatching(ISO_UTC),
      "never",
      `${t.address.dagId}/${t.address.runId}/${t.address.taskId}`,
      '"2026-05-01"',
    ]);
    expect(footer).toBe("2 of 2 key(s)");
  });

  it("state watch prints a line per change of that task (and --json events) until SIGINT, then exits 0", async () => {
    const t = await newTask();
    await admin().taskState.set({ ...t.address, mapIndex: -1, key: "before", value: 1 });
    const watch = (extra: string[]) => {
      const child = spawn(process.execPath, [main, "state", "watch", ...t.flags, ...extra], {
        env: { PATH: process.env.PATH ?? "", ...env() },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      return { child, exited, stdout: () => stdout, stderr: () => stderr };
    };
    const text = watch([]);
    const json = watch(["--json", "--prefix", "aft"]);
    await expect
      .poll(() => text.stdout() + json.stdout(), { timeout: 30_000 })
      .toMatch(/synced[\s\S]*synced/);
    await admin().taskState.set({ ...t.address, mapIndex: -1, key: "after", value: { n: 2 } });
    // Another task of the same run: not shown.
    await admin().taskState.set({
      ...t.address,
      taskId: unique("other"),
      key: "after",
      value: "not this task",
    });
    await admin().taskState.delete({ ...t.address, mapIndex: -1, key: "after" });
    await expect.poll(() => lines(json.stdout()).length, { timeout: 10_000 }).toBe(3);
    await expect.poll(() => lines(text.stdout()).length, { timeout: 10_000 }).toBe(4);
    text.child.kill("SIGINT");
    json.child.kill("SIGINT");
    expect(await text.exited).toBe(0);
    expect(await json.exited).toBe(0);
    expect(lines(text.stdout())).toEqual([
      "set before = 1 (version 1)",
      "-- synced: live changes follow (Ctrl-C to stop)",
      'set after = {"n":2} (version 1)',
      "delete after (delete)",
    ]);
    expect(lines(json.stdout()).map((line) => JSON.parse(line))).toEqual([
      { op: "synced" },
      { op: "set", key: "after", entry: expect.objectContaining({ value: { n: 2 }, version: 1 }) },
      { op: "delete", key: "after", cause: "delete" },
    ]);
    expect(text.stderr() + json.stderr()).toBe("");
  });

  it.runIf(firstDatabase)(
    "state set takes JSON and refuses bad JSON (--string stores text); flags of the other plane are errors; tables align CJK keys",
    async () => {
      const name = unique("asset");
      await admin().assets.upsert({ name, uri: `s3://cli/${name}` });
      const asset = ["--asset", name];
      const [bad, text, cjk, negative, emoji] = await Promise.all([
        cairn(["state", "set", ...asset, "bad", "{oops"], env()),
        cairn(["state", "set", ...asset, "raw", "{oops", "--string"], env()),
        // --json before the command works as after it.
        cairn(["--json", "state", "set", ...asset, "鍵", '{"名前":"テスト"}'], env()),
        cairn(["state", "set", ...asset, "長い鍵の名前", "-1"], env()),
        cairn(["state", "set", ...asset, "emoji🎉", "true"], env()),
      ]);
      expect(bad).toMatchObject({ code: 2, stdout: "" });
      expect(bad.stderr).toMatch(
        /^cairn: the value is not JSON \(.+\): use --string to store it as text, or quote a JSON string \('"text"'\)\n$/,
      );
      await expect(admin().assetState.get({ asset: { name }, key: "bad" })).rejects.toThrow(/does not exist/);
      expect(text).toMatchObject({ code: 0, stdout: "set raw (version 1)\n" });
      expect(cjk).toMatchObject({ code: 0, stdout: '{"version":1}\n' });
      expect(negative.code).toBe(0);
      expect(emoji.code).toBe(0);
      const values = Object.fromEntries(
        (await admin().assetState.list({ asset: { name } })).items.map((e) => [e.key, e.value]),
      );
      expect(values).toEqual({ raw: "{oops", 鍵: { 名前: "テスト" }, 長い鍵の名前: -1, "emoji🎉": true });

      // `state clear --asset X --all-map-indices` once cleared the asset, ignoring the flag: now an error, even
      // with --yes, and nothing is deleted.
      const [allMapIndices, taskFlags, ls] = await Promise.all([
        cairn(["state", "clear", ...asset, "--all-map-indices", "--yes"], env()),
        cairn(["state", "clear", ...asset, "--dag", "d", "--run", "r", "--yes"], env()),
        cairn(["state", "ls", ...asset], env()),
      ]);
      expect(allMapIndices).toEqual({
        code: 2,
        stdout: "",
        stderr: "cairn: --all-map-indices is for task state (--dag --run --task), not for --asset\n",
      });
      expect(taskFlags).toEqual({
        code: 2,
        stdout: "",
        stderr: "cairn: --dag, --run are for task state (--dag --run --task), not for --asset\n",
      });
      expect((await admin().assetState.list({ asset: { name } })).total).toBe(4);

      // Columns start at the same terminal column on every row, whatever the keys' widths.
      expect(ls.code).toBe(0);
      const table = lines(ls.stdout).slice(0, -1);
      expect(table).toHaveLength(5);
      expect(table.map((row) => cells(row)[0]).sort()).toEqual(
        ["KEY", "emoji🎉", "raw", "鍵", "長い鍵の名前"].sort(),
      );
      const header = cellColumns(table[0]!);
      expect(header).toHaveLength(6);
      expect(header[1]).toBe(stringWidth("長い鍵の名前") + 2);
      for (const row of table) expect(cellColumns(row), row).toEqual(header);
    },
  );

  it.runIf(hasScript && firstDatabase)(
    "on a terminal, state clear and state rm ask [y/N]: n deletes nothing (exit 1), y deletes",
    async () => {
      const [kept, gone] = await Promise.all([newTask(), newTask()]);
      for (const t of [kept, gone]) {
        await admin().taskState.set({ ...t.address, key: "a", value: 1 });
        await admin().taskState.set({ ...t.address, key: "b", value: 2 });
      }
      const [no, yes] = await Promise.all([
        cairnOnTerminal(["state", "clear", ...kept.flags], "n\n", env()),
        cairnOnTerminal(["state", "rm", ...gone.flags, "a"], "y\n", env()),
      ]);
      const { dagId, runId, taskId } = kept.address;
      expect(no.output).toContain(`Delete 2 key(s) of task ${dagId}/${runId}/${taskId}? [y/N] `);
      expect(no.output).toContain("cairn: cancelled, nothing deleted");
      expect(no.code).toBe(1);
      expect((await admin().taskState.list(kept.address)).total).toBe(2);
      expect(yes.output).toContain(
        `Delete key "a" of task ${gone.address.dagId}/${gone.address.runId}/${gone.address.taskId}? [y/N] `,
      );
      expect(yes.output).toContain("deleted a");
      expect(yes.code).toBe(0);
      expect((await admin().taskState.list(gone.address)).items.map((e) => e.key)).toEqual(["b"]);
    },
  );

  it("token issue --ti prints an execution token that works", async () => {
    const t = await newTask();
    const issued = await cairn(["token", "issue", "--ti", t.id, "--ttl", "120"], env());
    expect(issued.code).toBe(0);
    const token = issued.stdout.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(await verifyToken(api.tokenKeys, token)).toMatchObject({
      scope: "execution",
      taskInstanceId: t.id,
    });
    const res = await fetch(`${server.url}/trpc/taskState.set`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ taskInstanceId: t.id, key: "k", value: 1 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: { data: { version: 1 } } });
  });

  it("clean --dry-run lists what would go; clean deletes it in batches with progress on stderr", async () => {
    // Nothing else in this file expires: start from an empty slate so the counts are exact.
    await as({ scope: "admin", sub: "x" }).admin.cleanup.run({});
    const t = await newTask();
    for (let i = 0; i < 5; i++) {
      await admin().taskState.set({
        ...t.address,
        key: `old${i}`,
        value: i,
        expiresAt: fromNow(-60_000 - i),
      });
    }
    await admin().taskState.set({ ...t.address, key: "fresh", value: 1 });
    const name = unique("asset");
    await admin().assets.upsert({ name, uri: `s3://cli/${name}` });
    await admin().assetState.set({ asset: { name }, key: "wm", value: 1, expiresAt: fromNow(-1000) });
    await admin().assetState.set({ asset: { name }, key: "kept", value: 1 });

    const dry = await cairn(["clean", "--dry-run"], env());
    expect(dry.code).toBe(0);
    const out = lines(dry.stdout);
    expect(cells(out[0]!)).toEqual(["PLANE", "OWNER", "KEY", "EXPIRED"]);
    const rows = out.slice(1, -1).map(cells);
    expect(rows).toHaveLength(6);
    expect(rows).toContainEqual(["asset", name, "wm", expect.stringMatching(ISO_UTC)]);
    for (let i = 0; i < 5; i++) {
      expect(rows).toContainEqual([
        "task",
        `${t.address.dagId}/${t.address.runId}/${t.address.taskId}[-1]`,
        `old${i}`,
        expect.stringMatching(ISO_UTC),
      ]);
    }
    expect(out.at(-1)).toBe("would delete 5 task state and 1 asset state row(s)");
    // A dry run deletes nothing.
    expect((await admin().cleanup.preview({})).total).toEqual({ task: 5, asset: 1 });

    // Without --yes (and no terminal to ask on) clean says what it would delete and deletes nothing.
    const unasked = await cairn(["clean", "--batch-size", "2"], env());
    expect(unasked).toMatchObject({ code: 2, stdout: "" });
    expect(unasked.stderr).toBe(
      "cairn: clean would delete 6 expired row(s) (5 task state, 1 asset state): not done; pass --yes (-y) to confirm (there is no terminal to ask on)\n",
    );
    expect((await admin().cleanup.preview({})).total).toEqual({ task: 5, asset: 1 });

    const clean = await cairn(["clean", "--batch-size", "2", "--yes"], env());
    expect(clean.code).toBe(0);
    expect(clean.stdout).toBe("deleted 5 task state and 1 asset state row(s)\n");
    // Progress counts against the total that had expired when it started: "n of total".
    const progress = lines(clean.stderr);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    for (const line of progress) {
      expect(line).toMatch(/^… deleted \d of 6 row\(s\) \(\d task state, \d asset state\)$/);
    }
    expect(progress.at(-1)).toBe("… deleted 6 of 6 row(s) (5 task state, 1 asset state)");
    expect((await admin().taskState.list(t.address)).items.map((e) => e.key)).toEqual(["fresh"]);
    expect((await admin().cleanup.preview({})).total).toEqual({ task: 0, asset: 0 });

    const again = await cairn(["clean", "--json", "--yes"], env());
    expect(again.code).toBe(0);
    expect(again.stderr).toBe("");
    expect(JSON.parse(again.stdout)).toEqual({ deleted: { task: 0, asset: 0 } });
  });

  it("API errors exit 1 with the code and reason on stderr", async () => {
    const t = await newTask();
    await admin().taskState.set({ ...t.address, key: "cas", value: 1 });
    const [conflict, missingRun] = await Promise.all([
      cairn(["state", "set", ...t.flags, "cas", "2", "--if-version", "7"], env()),
      cairn(["state", "get", "--dag", t.address.dagId, "--run", "no_such_run", "--task", "x", "k"], env()),
    ]);
    expect(conflict).toMatchObject({ code: 1, stdout: "" });
    expect(conflict.stderr).toMatch(/^cairn: .*\(CONFLICT, version_mismatch\)\n$/);
    expect((await admin().taskState.get({ ...t.address, key: "cas" })).value).toBe(1);
    expect(missingRun).toMatchObject({ code: 1, stdout: "" });
    expect(missingRun.stderr).toMatch(/^cairn: .*\(NOT_FOUND, dag_run_not_found\)\n$/);
  });
});

describe("cairn CLI without a server", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("token admin signs an admin (or --scope viewer) token with CAIRN_JWT_SECRET; without a secret it is a usage error", async () => {
    const emptyDir = await mkdtemp(join(tmpdir(), "cairn-cli-"));
    dirs.push(emptyDir);
    const [plain, noSecret, viewer, badScope] = await Promise.all([
      cairn(["token", "admin", "--sub", "ops-alice", "--ttl", "120"], { CAIRN_JWT_SECRET: secret }),
      cairn(["token", "admin"], { CAIRN_DATA_DIR: emptyDir }),
      cairn(["token", "admin", "--scope", "viewer", "--sub", "dashboards"], { CAIRN_JWT_SECRET: secret }),
      cairn(["token", "admin", "--scope", "root"], { CAIRN_JWT_SECRET: secret }),
    ]);
    expect(viewer.code).toBe(0);
    expect(await verifyToken(api.tokenKeys, viewer.stdout.trim())).toEqual({
      scope: "viewer",
      sub: "dashboards",
    });
    expect(badScope).toMatchObject({ code: 2, stdout: "" });
    expect(badScope.stderr).toContain(
      "cairn: option '--scope <scope>' argument 'root' is invalid. Allowed choices are admin, viewer.",
    );
    expect(plain.code).toBe(0);
    const token = plain.stdout.trim();
    expect(await verifyToken(api.tokenKeys, token)).toEqual({ scope: "admin", sub: "ops-alice" });
    const exp = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")).exp as number;
    expect(Math.abs(exp * 1000 - (Date.now() + 120_000))).toBeLessThan(60_000);
    await expect(verifyToken(tokenKeys(`${secret}-other`), token)).rejects.toThrow();

    expect(noSecret).toMatchObject({ code: 2, stdout: "" });
    expect(noSecret.stderr).toContain("no signing secret");
  });

  it("--version, and each command's own help with its options and examples", async () => {
    const [version, top, set, clear, ls, clean] = await Promise.all([
      cairn(["--version"]),
      cairn(["--help"]),
      cairn(["state", "set", "--help"]),
      cairn(["state", "clear", "--help"]),
      cairn(["state", "ls", "-h"]),
      cairn(["clean", "--help"]),
    ]);
    expect(version).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
    for (const run of [top, set, clear, ls, clean]) {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe("");
      expect(run.stdout).toMatch(/\nExamples:\n( {2}# .*\n)? {2}\$ \S/);
    }
    expect(top.stdout).toMatch(/^Usage: cairn <command> \[options\]\n/);
    for (const command of ["serve", "migrate", "token", "state", "clean"]) {
      expect(top.stdout).toMatch(new RegExp(`\n  ${command} `));
    }
    expect(set.stdout).toMatch(/^Usage: cairn state set \[options\] <key> <value>\n/);
    for (const flag of [
      "--dag <dag>",
      "--asset <name>",
      "--string",
      "--expires-at <iso>",
      "--if-version <n>",
    ]) {
      expect(set.stdout).toContain(flag);
    }
    expect(set.stdout).toContain(`$ cairn state set spark/conf '{"cores":8}'`);
    expect(clear.stdout).toMatch(/^Usage: cairn state clear \[options\]\n/);
    expect(clear.stdout).toContain("--all-map-indices");
    expect(clear.stdout).toContain("-y, --yes");
    expect(ls.stdout).toContain("--prefix <prefix>");
    expect(clean.stdout).toMatch(/^Usage: cairn clean \[options\]\n/);
    for (const flag of ["--dry-run", "--batch-size <n>", "-y, --yes", "--url <url>", "--json"]) {
      expect(clean.stdout).toContain(flag);
    }
    // Each its own: no flag of another command.
    expect(ls.stdout).not.toContain("--all-map-indices");
    expect(set.stdout).not.toContain("--dry-run");
    expect(clean.stdout).not.toContain("--dag");
    expect(new Set([top.stdout, set.stdout, clear.stdout, ls.stdout, clean.stdout]).size).toBe(5);
  });

  it("usage errors exit 2 with a message; a flag of another command is one", async () => {
    const env = { CAIRN_URL: "http://127.0.0.1:9", CAIRN_ADMIN_TOKEN: "t" };
    const [none, unknownFlag, unknownCommand, noScope, noToken, noTi, ...misplaced] = await Promise.all([
      cairn([], env),
      cairn(["state", "ls", "--bogus"], env),
      cairn(["frobnicate"], env),
      cairn(["state", "ls"], env),
      cairn(["state", "ls", "--asset", "a"], { CAIRN_URL: "http://127.0.0.1:9" }),
      cairn(["token", "issue"], env),
      cairn(["state", "ls", "--asset", "a", "--all-map-indices"], env),
      cairn(["clean", "--dag", "etl", "--yes"], env),
      cairn(["token", "admin", "--url", "http://x"], { CAIRN_JWT_SECRET: secret }),
      cairn(["--token", "t", "migrate"], env),
      cairn(["clean", "--limit", "5", "--yes"], env),
      cairn(["state", "get", "--asset", "a", "k", "extra"], env),
      cairn(["state", "ls", "--asset", "a", "--limit", "ten"], env),
    ]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe("");
    expect(none.stderr).toMatch(/^Usage: cairn <command> \[options\]/);
    for (const [run, message] of [
      [unknownFlag, "unknown option '--bogus'"],
      [unknownCommand, "unknown command 'frobnicate'"],
      [noScope, "say whose state"],
      [noToken, "no admin token"],
      [noTi, "required option '--ti <id>' not specified"],
      [misplaced[0], "unknown option '--all-map-indices'\n(cairn state ls --help shows its options)"],
      [misplaced[1], "unknown option '--dag'"],
      [misplaced[2], "unknown option '--url'"],
      [misplaced[3], "--token does not apply to cairn migrate"],
      [misplaced[4], "--limit is for --dry-run"],
      [misplaced[5], "too many arguments for 'get'"],
      [misplaced[6], "option '--limit <n>' argument 'ten' is invalid. It must be a whole number from 1."],
    ] as const) {
      expect(run!.code, message).toBe(2);
      expect(run!.stdout, message).toBe("");
      expect(run!.stderr, message).toContain(message);
      expect(run!.stderr, message).toMatch(/^cairn: /);
    }
  });

  it("an unreachable server exits 1 with a message naming the URL and the cause", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const [ls, watch, clean, unknownHost] = await Promise.all([
      cairn(["state", "ls", "--asset", "a"], { CAIRN_URL: url, CAIRN_ADMIN_TOKEN: "t" }),
      cairn(["state", "watch", "--asset", "a", "--url", url], { CAIRN_ADMIN_TOKEN: "t" }),
      cairn(["--url", `${url}/`, "clean", "--yes"], { CAIRN_ADMIN_TOKEN: "t" }),
      cairn(["state", "get", "--asset", "a", "k", "--url", "http://cairn.invalid:4000"], {
        CAIRN_ADMIN_TOKEN: "t",
      }),
    ]);
    for (const run of [ls, watch, clean]) {
      expect(run).toEqual({
        code: 1,
        stdout: "",
        stderr: `cairn: cannot reach the server at ${url} (connect ECONNREFUSED 127.0.0.1:${port}): is it running? set CAIRN_URL or --url\n`,
      });
    }
    expect(unknownHost).toMatchObject({ code: 1, stdout: "" });
    expect(unknownHost.stderr).toMatch(
      /^cairn: cannot reach the server at http:\/\/cairn\.invalid:4000 \(getaddrinfo E[A-Z]+ cairn\.invalid\)/,
    );
  });

  it("migrate applies the migrations to an embedded database directory", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "cairn-cli-migrate-"));
    dirs.push(dataDir);
    const run = await cairn(["migrate"], { CAIRN_DATA_DIR: dataDir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const migrations = (
      await readdir(fileURLToPath(new URL("../../../../prisma/migrations", import.meta.url)))
    )
      .filter((name) => /^\d+_/.test(name))
      .sort();
    expect(run.stdout).toBe(`applied: ${migrations.join(", ")}\n`);

    const db = await openDatabase({ url: "", dataDir });
    try {
      const rows = await db.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM task_state");
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await db.close();
    }
  });
});
