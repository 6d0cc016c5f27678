// The operator console (apps/console) in a real browser (Debian's Chromium), served by the built server at
// /console, against PostgreSQL: an operator signs in, walks run → task → key, edits a value while a worker
// changes it (compare-and-set conflict), deletes a key, clears a task's state after typing its name, sees a
// worker's write without reloading, runs a cleanup; a viewer sees no edit controls; a phone-sized screen
// does not scroll sideways. Each view is saved as a screenshot under apps/console/e2e/screenshots/.
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { signToken, tokenKeys } from "@cairn/api";
import { type CairnClient, createCairnClient } from "@cairn/client";
import { postgresAvailable, stopAllServers, TEST_JWT_SECRET } from "@cairn/server/testing";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, skipBrowserTests } from "./browser.ts";
import { startPostgresServers } from "./servers.ts";
import { adminApi, newTaskInstance } from "./workers.ts";

const SCREENSHOTS = fileURLToPath(new URL("../../apps/console/e2e/screenshots/", import.meta.url));
const DAG = "orders_daily";
/** How long an assertion on the page may wait: CI runs other test files on the same two cores. */
const POLL = { timeout: 15_000 };
const RUN = "scheduled__2026-12-01T00:00:00+00:00";

/** The page's globals these tests read in the browser (e2e compiles without the DOM library). */
interface PageGlobals {
  sessionStorage: { getItem(key: string): string | null };
  document: { activeElement: { id: string } | null; documentElement: { scrollWidth: number } };
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Everything the browser reports that an operator would see as a problem. */
function watchProblems(page: Page, problems: string[]): void {
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/console`);
  await page.getByLabel("Admin or viewer token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}

describe.skipIf(skipBrowserTests() || !postgresAvailable())("the console in a browser (Chromium)", () => {
  let url: string;
  let serverOutput: () => string;
  let adminToken: string;
  let viewerToken: string;
  let worker: CairnClient;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    const started = await startPostgresServers(1, cleanups);
    url = started.urls[0]!;
    serverOutput = () => started.servers[0]!.output();
    adminToken = started.adminToken;
    viewerToken = await signToken(
      tokenKeys(TEST_JWT_SECRET),
      { sub: "night-shift", scope: "viewer" },
      new Date(Date.now() + 3_600_000),
    );
    const admin = adminApi(url, adminToken);
    await admin.admin.assets.upsert.mutate({ name: "orders", uri: "s3://lake/orders", group: "sales" });
    for (const run of ["scheduled__2026-11-29T00:00:00+00:00", "scheduled__2026-11-30T00:00:00+00:00"]) {
      await admin.admin.taskInstances.create.mutate({ dagId: DAG, runId: run, taskId: "extract" });
    }
    const extract = await newTaskInstance(url, adminToken, {
      dagId: DAG,
      runId: RUN,
      taskId: "extract",
      outlets: [{ name: "orders" }],
    });
    for (const mapIndex of [0, 1]) {
      await admin.admin.taskInstances.create.mutate({ dagId: DAG, runId: RUN, taskId: "load", mapIndex });
    }
    worker = createCairnClient({ url, token: extract.token });
    await worker.set("watermark", { ts: "2026-11-30T23:59:59Z", rows: 1200 });
    await worker.set("job_id", "emr-j-2AXXXXXXGAPLF");
    await worker.set("注文/進捗", { done: 3, of: 10 }, { expiresAt: new Date(Date.now() + 86_400_000) });
    await worker.asset("orders").set("watermark", "2026-11-30");
    await worker.asset("orders").set("soon-gone", 1, { expiresAt: new Date(Date.now() + 1_000) });
    browser = await launchBrowser();
    cleanups.push(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    watchProblems(page, problems);
  });

  it("signs in with a pasted admin token; the header says who, the scope and the expiry", async () => {
    await page.goto(`${url}/console`);
    await shot(page, "01-sign-in");
    await page.getByLabel("Admin or viewer token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), POLL).toContain("refused this token");
    await signIn(page, url, adminToken);
    const who = page.getByLabel("Signed in");
    expect(await who.textContent()).toMatch(/e2e\s*admin\s*token expires in (59|60) minutes/);
    // The token is in sessionStorage, never in the URL.
    expect(page.url()).not.toContain(adminToken.slice(-20));
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).sessionStorage.getItem("cairn.console.token"),
      ),
    ).toBe(adminToken);
  });

  it("shows the overview: counts and this server's calls per procedure", async () => {
    const runs = page.locator(".card", { hasText: "Dag runs" });
    await expect.poll(() => runs.locator(".card-value").textContent(), POLL).toBe("3");
    await page.getByRole("rowheader", { name: "taskState.set" }).waitFor();
    await shot(page, "02-overview");
  });

  it("walks from the dag runs to a run's task instances to a task's keys and one key's value", async () => {
    await page.getByRole("link", { name: "Dag runs", exact: true }).click();
    await page.getByRole("heading", { name: "Dag runs" }).waitFor();
    await page.getByRole("row", { name: new RegExp(RUN.replace(/[+]/g, "\\+")) }).waitFor();
    await shot(page, "03-dag-runs");
    await page.getByRole("link", { name: RUN }).click();
    await page.getByRole("heading", { name: `Run ${RUN}` }).waitFor();
    const load1 = page.getByRole("row", { name: /load\s+1/ });
    await load1.waitFor();
    await shot(page, "04-dag-run");
    await page.getByRole("link", { name: "extract" }).click();
    await page.getByRole("heading", { name: "Task extract" }).waitFor();
    await page.getByText("1–3 of 3 keys").waitFor();
    await page.getByRole("button", { name: "watermark" }).click();
    const value = page.getByTestId("value");
    await expect
      .poll(() => value.textContent(), POLL)
      .toBe(JSON.stringify({ ts: "2026-11-30T23:59:59Z", rows: 1200 }, null, 2));
    expect(await page.getByTestId("version").textContent()).toBe("1");
    expect(page.url()).toContain("?key=watermark");
    await shot(page, "05-task-state");
  });

  it("edits a value; a worker's write in between is a conflict showing both values, and overwrite wins", async () => {
    await page.getByRole("button", { name: "Edit value" }).click();
    const editor = page.getByLabel("Value (JSON)");
    await editor.fill('{ "rows": ');
    await page.getByText(/^Not valid JSON/).waitFor();
    expect(await page.getByRole("button", { name: /^Save/ }).isDisabled()).toBe(true);
    await editor.fill("null");
    await page.getByText("Value must not be null (delete the key to remove it)").waitFor();
    await editor.fill('{ "ts": "2026-12-01T06:00:00Z", "rows": 9999 }');
    await page.getByText(/^Valid JSON/).waitFor();
    // Between load and save, the worker moves the watermark on.
    await worker.set("watermark", { ts: "2026-12-01T01:00:00Z", rows: 1300 });
    await page.getByRole("button", { name: "Save (if still version 1)" }).click();
    await page.getByText("Another writer changed “watermark” while you edited (now version 2).").waitFor();
    expect(JSON.parse((await page.getByTestId("their-value").textContent()) ?? "")).toEqual({
      ts: "2026-12-01T01:00:00Z",
      rows: 1300,
    });
    expect(JSON.parse((await page.getByTestId("your-value").textContent()) ?? "")).toEqual({
      ts: "2026-12-01T06:00:00Z",
      rows: 9999,
    });
    await shot(page, "06-conflict");
    await page.getByRole("button", { name: "Overwrite with mine" }).click();
    await expect.poll(() => page.getByTestId("version").textContent(), POLL).toBe("3");
    expect(await worker.get("watermark")).toEqual({ ts: "2026-12-01T06:00:00Z", rows: 9999 });
  });

  it("shows a worker's write without a reload", async () => {
    await page.getByText("live", { exact: true }).waitFor();
    await worker.set("heartbeat", { at: "now" });
    await page.getByRole("button", { name: "heartbeat" }).waitFor(POLL);
    await worker.set("watermark", { ts: "2026-12-01T07:00:00Z", rows: 10_000 });
    await expect.poll(() => page.getByTestId("version").textContent(), POLL).toBe("4");
  });

  it("deletes a key after confirming", async () => {
    await page.getByRole("button", { name: "job_id" }).click();
    await page.getByRole("button", { name: "Delete key…" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete this key?" });
    await dialog.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "job_id" }).waitFor({ state: "detached" });
    expect(await worker.get("job_id")).toBeUndefined();
  });

  it("clears the task's state only once its name is typed", async () => {
    const clearButton = page.getByRole("button", { name: "Clear task state…" });
    const dialog = page.getByRole("dialog", { name: "Clear the state of extract" });
    // Escape closes the dialog and gives focus back to the button that opened it.
    await clearButton.click();
    await dialog.waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    expect(
      await clearButton.evaluate(
        (button) => button === (globalThis as unknown as PageGlobals).document.activeElement,
      ),
    ).toBe(true);
    await clearButton.click();
    const confirm = dialog.getByRole("button", { name: "Clear" });
    await dialog.getByLabel("Type extract to confirm").fill("extrac");
    expect(await confirm.isDisabled()).toBe(true);
    await shot(page, "07-clear-confirm");
    await dialog.getByLabel("Type extract to confirm").fill("extract");
    await confirm.click();
    await page.getByText("no keys").waitFor();
    const left: string[] = [];
    for await (const entry of worker.list()) left.push(entry.key);
    expect(left).toEqual([]);
  });

  it("shows an asset with its readers and writers, and each key's writer links to that task", async () => {
    const views = page.getByRole("navigation", { name: "Views" });
    await views.getByRole("link", { name: "Assets" }).click();
    await page.getByRole("link", { name: "orders" }).click();
    await page.getByRole("heading", { name: "Asset orders" }).waitFor();
    await page.getByText("s3://lake/orders").waitFor();
    await page.getByText(`${DAG}.extract`).waitFor();
    const writer = page.getByRole("link", { name: `${DAG}/${RUN}/extract` });
    await writer.waitFor();
    await shot(page, "08-asset");
    await views.getByRole("link", { name: "Assets" }).click();
    await page.getByLabel("Name or uri contains").fill("LAKE");
    await page.getByText("1–1 of 1 assets").waitFor();
    await shot(page, "09-assets");
    await page.goBack();
    await page.getByRole("link", { name: `${DAG}/${RUN}/extract` }).click();
    await page.getByRole("heading", { name: "Task extract" }).waitFor();
  });

  it("previews expired state and runs a cleanup with progress", async () => {
    await page.getByRole("link", { name: "Expired state" }).click();
    await page.getByText(/1 expired key await/).waitFor();
    await page.getByRole("row", { name: /soon-gone/ }).waitFor();
    await shot(page, "10-cleanup");
    await page.getByRole("button", { name: "Run cleanup now" }).click();
    await page.getByText("Done: deleted 1 expired keys.").waitFor();
    await page.getByText(/^0 expired keys await/).waitFor();
  });

  it("pages through a task's 10 000 keys, 1 000 at a time", async () => {
    const bulk = await newTaskInstance(url, adminToken, { dagId: DAG, runId: RUN, taskId: "bulk" });
    const client = createCairnClient({ url, token: bulk.token });
    for (let from = 0; from < 10_000; from += 1_000) {
      const keys = Array.from({ length: 1_000 }, (_, i) => `item/${String(from + i).padStart(5, "0")}`);
      await Promise.all(keys.map((key, i) => client.set(key, { n: from + i })));
    }
    await page.goto(`${url}/console/#/runs/${DAG}/${encodeURIComponent(RUN)}/bulk/-1`);
    await page.getByLabel("Per page").selectOption("1000");
    await page.getByText("1–1,000 of 10,000 keys").waitFor();
    for (let pageNumber = 2; pageNumber <= 10; pageNumber++) {
      await page.getByRole("button", { name: "Next" }).click();
      await page
        .getByText(
          `${(pageNumber - 1) * 1000 + 1}–${pageNumber * 1000} of 10,000 keys`.replace(
            /(\d)(\d{3})(?!\d)/g,
            "$1,$2",
          ),
        )
        .waitFor();
    }
    await page.getByRole("button", { name: "item/09999" }).waitFor();
    expect(await page.getByRole("button", { name: "Next" }).isDisabled()).toBe(true);
    await page.getByLabel("Key prefix").fill("item/0700");
    await page.getByText("1–10 of 10 keys starting with “item/0700”").waitFor();
  }, 90_000);

  it("a viewer sees the same views without any edit control", async () => {
    const viewer = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    watchProblems(viewer, problems);
    await worker.set("after-clear", [1, 2, 3]);
    // By keyboard only: the token field has focus first, Tab reaches the button, Enter submits.
    await viewer.goto(`${url}/console`);
    await viewer.getByLabel("Admin or viewer token").waitFor();
    await viewer.keyboard.press("Tab");
    expect(
      await viewer.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.id),
    ).toBe("token");
    await viewer.keyboard.insertText(viewerToken);
    await viewer.keyboard.press("Tab");
    await viewer.keyboard.press("Enter");
    await viewer.getByRole("heading", { name: "Overview" }).waitFor();
    expect(await viewer.getByLabel("Signed in").textContent()).toMatch(/night-shift\s*viewer/);
    await viewer.goto(`${url}/console/#/runs/${DAG}/${encodeURIComponent(RUN)}/extract/-1?key=after-clear`);
    await viewer.getByTestId("value").waitFor();
    await shot(viewer, "11-viewer-task-state");
    for (const control of ["Edit value", "Delete key…", "Add key…", "Clear task state…"]) {
      expect(await viewer.getByRole("button", { name: control }).count()).toBe(0);
    }
    await viewer.getByRole("link", { name: "Expired state" }).click();
    await viewer.getByText(/expired keys? await/).waitFor();
    expect(await viewer.getByRole("button", { name: "Run cleanup now" }).count()).toBe(0);
    await viewer.close();
  });

  it("fits a phone screen (390×844) without scrolling sideways", async () => {
    const phone = await browser.newPage({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    watchProblems(phone, problems);
    await signIn(phone, url, adminToken);
    for (const [name, hash] of [
      ["12-phone-overview", "#/"],
      ["13-phone-task-state", `#/runs/${DAG}/${encodeURIComponent(RUN)}/extract/-1?key=after-clear`],
    ] as const) {
      await phone.goto(`${url}/console/${hash}`);
      await phone.locator("main h1").waitFor();
      if (name.includes("task")) await phone.getByTestId("value").waitFor();
      expect(
        await phone.evaluate(
          () => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth,
        ),
      ).toBeLessThanOrEqual(390);
      await shot(phone, name);
    }
    await phone.close();
  });

  it("the server logged every change the console made with the token's sub", () => {
    const writes = serverOutput()
      .split("\n")
      .filter((line) => line.includes('"admin write"'))
      .map((line) => JSON.parse(line) as { sub: string; procedure: string; outcome: string });
    const byE2e = writes.filter((write) => write.sub === "e2e").map((w) => `${w.procedure} ${w.outcome}`);
    for (const change of [
      "admin.taskState.set CONFLICT",
      "admin.taskState.set OK",
      "admin.taskState.delete OK",
      "admin.taskState.clear OK",
      "admin.cleanup.run OK",
    ]) {
      expect(byE2e).toContain(change);
    }
  });

  it("logged no error in the browser (the conflict's 409 is the only failed request)", () => {
    const unexpected = problems.filter(
      (text) => !/Failed to load resource: the server responded with a status of (409|401)/.test(text),
    );
    expect(unexpected).toEqual([]);
  });
});
