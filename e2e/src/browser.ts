// A real browser for tests: Debian's Chromium (`apt-get install chromium`; .ci/run installs it), driven by
// playwright-core. No browser is downloaded. Without Chromium the browser tests are skipped, unless
// CAIRN_REQUIRE_BROWSER is set (CI): then they fail.
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

const CANDIDATES = [process.env.CAIRN_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"];

export function chromiumPath(): string | undefined {
  return CANDIDATES.find((path): path is string => path !== undefined && path !== "" && existsSync(path));
}

/** Whether browser tests should be skipped: no Chromium here, and nothing requires one. */
export function skipBrowserTests(): boolean {
  return chromiumPath() === undefined && !process.env.CAIRN_REQUIRE_BROWSER;
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) {
    throw new Error(
      "no Chromium: install Debian's package (apt-get install chromium) or set CAIRN_CHROMIUM to its path",
    );
  }
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}
