'use strict';
// The page at / of the hub (src/api/ui.c): load it, subscribe with its form,
// publish with its form using a token, see the event appear. It must load
// nothing from outside the hub. --no-ui turns it off. Its operator's panel
// has its own test (panel.test.js).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setUp, RESOURCE_IDENTIFIER } = require('./lib/setup');
const { startHub } = require('./lib/hub');
const { newContext, screenshot } = require('./lib/browser');
const jwt = require('./lib/jwt');

let env;
before(async () => { env = await setUp(); });
after(async () => { await env?.tearDown(); });

test('the hub page subscribes and publishes with its forms, and loads nothing from elsewhere', async () => {
  const context = await newContext(env.browser);
  const page = await context.newPage();
  const response = await page.goto(env.hub.origin + '/');
  assert.equal(response.status(), 200);
  const headers = await response.allHeaders();
  assert.match(headers['content-type'], /^text\/html/);
  assert.match(headers['content-security-policy'] || '', /default-src 'self'/);
  await page.waitForLoadState('networkidle').catch(() => {});
  assert.equal(await page.textContent('#hub-url'), env.hub.url);

  // A subscriber token that allows every topic (draft-08 token, as the page
  // sends it in Authorization: Bearer).
  const subscriber = jwt.sign(env.hub.secret, {
    aud: RESOURCE_IDENTIFIER,
    exp: Math.floor(Date.now() / 1000) + 600,
    authorization_details: [
      { type: 'https://mercure.rocks/authorization-detail', actions: ['subscribe'], topics: [{ match: '*' }] },
    ],
  }, { alg: 'HS256', typ: 'at+jwt' });
  await page.fill('#subscribe textarea[name=topics]', 'https://example.com/books/1\nhttps://example.com/users/:id');
  await page.fill('#subscribe input[name=token]', subscriber);
  await page.click('#subscribe button[type=submit]');
  await page.waitForFunction(() => /^Subscribed/.test(document.getElementById('subscribe-status').textContent));

  const publisher = jwt.legacyPublisher(env.hub.secret);
  const publishOnce = async (topic, data, isPrivate) => {
    await page.fill('#publish input[name=topic]', topic);
    await page.fill('#publish textarea[name=data]', data);
    await page.setChecked('#publish input[name=private]', isPrivate);
    await page.fill('#publish input[name=token]', publisher);
    await page.click('#publish button[type=submit]');
    await page.waitForFunction((d) => [...document.querySelectorAll('#events li')].some((li) => li.textContent.endsWith('\n' + d)), data);
    const status = await page.textContent('#publish-status');
    assert.match(status, /^Published: urn:uuid:/);
    return status.slice('Published: '.length);
  };
  const id1 = await publishOnce('https://example.com/books/1', '{"hello":"world"}', false);
  const id2 = await publishOnce('https://example.com/users/7', '{"private":"yes"}', true);
  const items = await page.$$eval('#events li', (lis) => lis.map((li) => li.textContent));
  // Newest first.
  assert.deepEqual(items, [`${id2}\n{"private":"yes"}`, `${id1}\n{"hello":"world"}`]);

  // A refused publish says so.
  await page.fill('#publish input[name=token]', 'not-a-token');
  await page.click('#publish button[type=submit]');
  await page.waitForFunction(() => /^Refused: 40[13]/.test(document.getElementById('publish-status').textContent));
  await screenshot(page, 'hub-ui');

  const foreign = context.requests.map((r) => r.url()).filter((u) => !u.startsWith(env.hub.origin + '/'));
  assert.deepEqual(foreign, [], 'the page loaded something from outside the hub');
  const loaded = new Set(context.requests.map((r) => new URL(r.url()).pathname));
  assert.ok(loaded.has('/ui.js') && loaded.has('/ui.css') && loaded.has('/panel.js'), [...loaded].join(' '));
  // No CSP violation, no script error. Expected: the refused publish (401 or
  // 403) and the /favicon.ico Chromium asks for by itself (playwright does not
  // report that request), which the hub does not have (404).
  const favicon = await fetch(`http://127.0.0.1:${env.hub.port}/favicon.ico`);
  await favicon.arrayBuffer();
  const faviconMisses = favicon.status === 404 ? 1 : 0;
  const problems = context.console.filter((m) => /^(pageerror|error)/.test(m) && !/status of 40[13] /.test(m));
  assert.equal(problems.filter((m) => /status of 404 /.test(m)).length, faviconMisses, problems.join('\n'));
  assert.deepEqual(problems.filter((m) => !/status of 404 /.test(m)), []);
  await page.click('#unsubscribe');
  await context.close();
});

test('--no-ui: no page at /', async () => {
  const hub = await startHub({ args: ['--no-ui'] });
  try {
    for (const p of ['/', '/ui.js', '/ui.css', '/panel.js', '/panel/hub']) {
      const res = await fetch(`http://127.0.0.1:${hub.port}${p}`);
      assert.equal(res.status, 404, p);
      await res.arrayBuffer();
    }
  } finally {
    assert.equal(await hub.stop(), 0, hub.log.slice(-3000));
  }
});
