/**
 * One way to start a real browser in tests: the Debian chromium driven by playwright-core.
 *
 * Each launch runs on a fresh profile in a temp dir, so no cookie, cache or storage leaks from
 * one test file into another. playwright-core creates that profile itself (a
 * `playwright_chromiumdev_profile-*` dir under the OS temp dir, passed as `--user-data-dir`) and
 * deletes it on `browser.close()`; it refuses a `--user-data-dir` of ours in `launch()`. The flags
 * below keep chromium from calling home (sync, component updates, background fetches): tests
 * send traffic to 127.0.0.1 or ::1 only.
 *
 * Good to know when asserting on what the server sees: headless chromium announces itself as
 * `HeadlessChrome` in its User-Agent (see case C15, bot filtering), and playwright-core disables
 * the back/forward cache unless asked to keep it.
 *
 * @example
 * const browser = await launchBrowser();
 * try {
 *   const page = await browser.newPage();
 *   await page.goto(site.origin + '/');
 * } finally {
 *   await browser.close();
 * }
 */
import { chromium, type Browser } from 'playwright-core';

/** Where the Debian package puts the browser (`apt-get install -y chromium`). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for every test browser: headless, no sandbox (root in CI), nothing that phones out. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches headless chromium with a throwaway profile, so a test starts from a browser that has
 * never seen a cookie. Close the returned Browser in teardown: that also removes the profile.
 */
export async function launchBrowser(
  options: { backForwardCache?: boolean } = {},
): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS],
    // playwright-core turns the cache off by default; a test of restored pages needs it on.
    ...(options.backForwardCache === true
      ? { ignoreDefaultArgs: ['--disable-back-forward-cache'] }
      : {}),
  });
}
