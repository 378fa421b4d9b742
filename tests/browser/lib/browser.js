'use strict';
// Debian's chromium driven by playwright-core (which downloads no browser).
const fs = require('node:fs');
const INSTALL = 'run scripts/install-test-tools.sh';
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  throw new Error(`playwright-core is not installed in tests/browser/node_modules: ${INSTALL}`);
}
const os = require('node:os');
const path = require('node:path');

// Screenshots and traces for a person to look at: $QS_ARTIFACTS_DIR (ctest
// sets it under the build folder), else build/browser-artifacts in the tree.
function artifactsDir() {
  const dir = process.env.QS_ARTIFACTS_DIR || path.resolve(__dirname, '../../../build/browser-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

async function screenshot(page, name) {
  const file = path.join(artifactsDir(), name.replace(/[^A-Za-z0-9_.-]/g, '_') + '.png');
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Launches a headless Chromium whose only network is loopback: the three
// names of the tests resolve to 127.0.0.1 and every other name fails.
// `extraArgs` are more command-line switches (e.g. to accept a test CA).
// playwright's launch() passes Chromium a new, empty --user-data-dir of its
// own (a fresh temporary profile, deleted at close); it refuses the flag in
// `args` and wants launchPersistentContext() for a chosen one, which allows a
// single context, and these tests need two users at once.
async function launch(extraArgs = []) {
  const executablePath = process.env.QS_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) throw new Error(`${executablePath} is missing (Debian package chromium): ${INSTALL}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qs-chromium-'));
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // playwright-core's own default arguments stay (among them --no-first-run,
    // --disable-background-networking, --disable-sync, --disable-component-update).
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,MediaRouter,OptimizationHints',
      '--host-resolver-rules=MAP app.example.test 127.0.0.1, MAP hub.example.test 127.0.0.1, ' +
        'MAP evil.example.org 127.0.0.1, MAP * ~NOTFOUND',
      ...extraArgs,
    ],
    downloadsPath: tmp,
    env: { ...process.env, HOME: tmp, XDG_CONFIG_HOME: tmp, XDG_CACHE_HOME: tmp },
  });
  const close = browser.close.bind(browser);
  browser.close = async () => {
    await close();
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  return browser;
}

// A context (a separate cookie jar, like another person's browser) that
// records every request and console message of its pages.
async function newContext(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  context.requests = [];
  context.console = [];
  context.on('request', (r) => context.requests.push(r));
  context.on('page', (page) => {
    page.on('console', (m) => context.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => context.console.push(`pageerror: ${e.message}`));
  });
  return context;
}

// Waits until the page's `window.events` has an entry satisfying `pred`
// (a function source taking (event, events)).
async function waitForEvent(page, pred, timeout = 10000) {
  await page.waitForFunction(`(window.events || []).some((e, i, all) => (${pred})(e, all))`, null, {
    timeout,
    polling: 25,
  });
}

const events = (page) => page.evaluate(() => window.events.slice());
const messages = async (page) => (await events(page)).filter((e) => e.kind === 'message');

module.exports = { launch, newContext, screenshot, waitForEvent, events, messages, artifactsDir };
