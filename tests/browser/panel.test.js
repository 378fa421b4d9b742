'use strict';
// The operator's panel on the page at / (src/api/ui.c, panel_script.c,
// panel.c): its charts draw from /metrics and move while the test publishes,
// the active subscriptions are listed, and the token box explains an expired
// token and a wrong-audience token, asking only the hub itself.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setUp, RESOURCE_IDENTIFIER } = require('./lib/setup');
const { publish } = require('./lib/hub');
const { newContext, screenshot } = require('./lib/browser');
const jwt = require('./lib/jwt');

let env;
before(async () => { env = await setUp({ hubArgs: ['--subscriptions'] }); });
after(async () => { await env?.tearDown(); });

const now = () => Math.floor(Date.now() / 1000);

// Pixels of a chart's line (saturated colour: the labels and grid are grey)
// above the bottom quarter of its canvas, where a series of zeros lies.
function raisedLinePixels(page, id) {
  return page.evaluate((chartId) => {
    const canvas = document.querySelector(`#${chartId} canvas`);
    const { width, height } = canvas;
    const data = canvas.getContext('2d').getImageData(0, 0, width, Math.floor(height * 0.75)).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      const r = data[i], g = data[i + 1], b = data[i + 2];
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
    }
    return n;
  }, id);
}

const chartState = (page, id) => page.$eval(`#${id}`, (f) => ({ points: Number(f.dataset.points), now: Number(f.dataset.now), max: Number(f.dataset.max) }));

// A subscriber held by the test process: fetch() reading the stream.
async function openSubscriber(token, topic) {
  const controller = new AbortController();
  const url = new URL(env.hub.localUrl);
  url.searchParams.append('topic', topic);
  const response = await fetch(url, { headers: { Authorization: 'Bearer ' + token }, signal: controller.signal });
  assert.equal(response.status, 200);
  const reader = response.body.getReader();
  (async () => { try { for (;;) { if ((await reader.read()).done) break; } } catch (e) { /* aborted */ } })();
  return () => controller.abort();
}

test('the charts draw from /metrics and move while updates are published', async () => {
  const context = await newContext(env.browser);
  const page = await context.newPage();
  const response = await page.goto(env.hub.origin + '/');
  assert.match((await response.allHeaders())['content-security-policy'] || '', /default-src 'self'/);
  for (const id of ['chart-connections', 'chart-subscribers', 'chart-publishes', 'chart-deliveries'])
    assert.equal(await page.locator(`#${id} canvas`).count(), 1, id);
  // Live, with a few samples drawn.
  await page.waitForFunction(() => document.getElementById('panel').dataset.state === 'live' &&
    Number(document.getElementById('chart-publishes').dataset.points) >= 2, null, { timeout: 15000 });
  // The page itself holds a connection open.
  assert.ok((await chartState(page, 'chart-connections')).now >= 1);
  const idle = await chartState(page, 'chart-publishes');
  assert.equal(idle.now, 0, JSON.stringify(idle));
  assert.equal(await raisedLinePixels(page, 'chart-publishes'), 0, 'a series of zeros lies on the baseline');
  assert.equal(await raisedLinePixels(page, 'chart-deliveries'), 0);
  const before = await page.$eval('#chart-publishes canvas', (c) => c.toDataURL());

  const topic = 'https://example.com/panel/1';
  const subscriber = jwt.legacySubscriber(env.hub.secret, [topic]);
  const closeSubscriber = await openSubscriber(subscriber, topic);
  const publisher = jwt.legacyPublisher(env.hub.secret);
  try {
    await page.waitForFunction(() => Number(document.getElementById('chart-subscribers').dataset.now) >= 1,
      null, { timeout: 10000 });
    // About 20 updates a second for 3 seconds.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const r = await publish(env.hub, publisher, { topic, data: 'tick' });
      assert.equal(r.status, 200, r.body);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await page.waitForFunction(() => Number(document.getElementById('chart-publishes').dataset.max) >= 5 &&
      Number(document.getElementById('chart-deliveries').dataset.max) >= 5, null, { timeout: 10000 });
    const busy = await chartState(page, 'chart-publishes');
    assert.ok(busy.points > idle.points, JSON.stringify({ idle, busy }));
    assert.ok(await raisedLinePixels(page, 'chart-publishes') > 20, 'the publishes line rose');
    assert.ok(await raisedLinePixels(page, 'chart-deliveries') > 20, 'the deliveries line rose');
    assert.notEqual(await page.$eval('#chart-publishes canvas', (c) => c.toDataURL()), before);
    assert.match(await page.textContent('#chart-publishes .now'), /^\d/);
    await screenshot(page, 'hub-panel-charts');

    // The active subscriptions, with a token that grants reading them.
    const ns = '/.well-known/mercure/subscriptions';
    const watcher = jwt.sign(env.hub.secret, {
      aud: RESOURCE_IDENTIFIER,
      exp: now() + 600,
      authorization_details: [{
        type: 'https://mercure.rocks/authorization-detail',
        actions: ['subscribe'],
        topics: [{ match: ns }, { match: ns + '/*', match_type: 'urlpattern' }],
      }],
    }, { alg: 'HS256', typ: 'at+jwt' });
    assert.equal(await page.isHidden('#subscriptions-on'), false);
    await page.fill('#subscriptions-token', watcher);
    await page.click('#subscriptions-form button[type=submit]');
    await page.waitForFunction((t) => [...document.querySelectorAll('#subscriptions-list td')].some((td) => td.textContent === 'topic ' + t),
      topic, { timeout: 10000 });
    assert.match(await page.textContent('#subscriptions-status'), /^1 active subscription\b/);
  } finally {
    closeSubscriber();
  }
  const problems = context.console.filter((m) => /^(pageerror|error)/.test(m));
  assert.deepEqual(problems, []);
  const foreign = context.requests.map((r) => r.url()).filter((u) => !u.startsWith(env.hub.origin + '/'));
  assert.deepEqual(foreign, []);
  await context.close();
});

test('the token box explains an expired token and a wrong-audience token, asking only the hub', async () => {
  const context = await newContext(env.browser);
  const page = await context.newPage();
  await page.goto(env.hub.origin + '/');
  await page.waitForFunction(() => document.getElementById('expected-aud').textContent !== '');
  assert.equal(await page.textContent('#expected-aud'), RESOURCE_IDENTIFIER);

  const explain = async (token, topics = '') => {
    await page.fill('#token-form textarea[name=token]', token);
    await page.fill('#token-form textarea[name=topics]', topics);
    await page.click('#token-form button[type=submit]');
    await page.waitForFunction(() => /^Checked at /.test(document.getElementById('token-status').textContent));
    const text = (sel) => page.$eval(sel, (e) => e.textContent).catch(() => null);
    return {
      expiry: await text('#token-decoded [data-finding=expiry]'),
      audience: await text('#token-decoded [data-finding=audience]'),
      format: await text('#token-decoded [data-finding=format]'),
      publisher: await text('#token-verdict [data-role=publisher]'),
      subscriber: await text('#token-verdict [data-role=subscriber]'),
    };
  };

  // Expired ten minutes ago (legacy token, as symfony/mercure mints them).
  const expired = jwt.sign(env.hub.secret, { exp: now() - 600, mercure: { publish: ['*'], subscribe: [] } });
  let seen = await explain(expired);
  assert.match(seen.format, /legacy/);
  assert.match(seen.expiry, /^expiry: expired \d{4}-\d\d-\d\dT[\d:]+Z \(10 min ago\)$/, seen.expiry);
  assert.match(seen.publisher, /^publisher: refused: expired since \d{4}-\d\d-\d\dT[\d:]+Z/, seen.publisher);
  assert.match(seen.subscriber, /^subscriber: refused: expired since/, seen.subscriber);

  // A draft-08 token for another hub.
  const otherHub = 'https://other.example/.well-known/mercure';
  const wrongAudience = jwt.sign(env.hub.secret, {
    aud: otherHub,
    exp: now() + 600,
    authorization_details: [{ type: 'https://mercure.rocks/authorization-detail', actions: ['subscribe'], topics: [{ match: '*' }] }],
  }, { alg: 'HS256', typ: 'at+jwt' });
  seen = await explain(wrongAudience);
  assert.match(seen.format, /draft-08/);
  assert.match(seen.expiry, /^expiry: expires \d{4}-\d\d-\d\dT[\d:]+Z \(in 10 min\)$/, seen.expiry);
  assert.ok(seen.audience.includes(`"${otherHub}" does not contain "${RESOURCE_IDENTIFIER}"`), seen.audience);
  const wrongAud = `refused: wrong aud: the token's aud is \`${otherHub}\`, this hub expects \`${RESOURCE_IDENTIFIER}\``;
  assert.equal(seen.subscriber, 'subscriber: ' + wrongAud);
  assert.equal(seen.publisher, 'publisher: ' + wrongAud);

  // The same token for this hub is accepted, and the grant that decides is named.
  const good = jwt.sign(env.hub.secret, {
    aud: RESOURCE_IDENTIFIER,
    exp: now() + 600,
    authorization_details: [{ type: 'https://mercure.rocks/authorization-detail', actions: ['subscribe'], topics: [{ match: '*' }] }],
  }, { alg: 'HS256', typ: 'at+jwt' });
  seen = await explain(good, 'https://example.com/books/1');
  assert.match(seen.audience, /contains .* as this hub expects/);
  assert.match(seen.subscriber, /^subscriber: accepted by subscriber key 1 of 1 \(HS256, legacy key\); draft-08 rules/, seen.subscriber);
  assert.match(seen.subscriber, /receives private updates of https:\/\/example\.com\/books\/1 \(grant #1\)/);
  assert.match(seen.publisher, /^publisher: accepted/);
  assert.match(seen.publisher, /may not publish to https:\/\/example\.com\/books\/1$/);

  // Not a token at all: the page says why, the hub too.
  seen = await explain('not.a-token');
  assert.equal(await page.textContent('#token-decoded li'), 'not decodable: not a JWS compact token: expected three parts separated by dots, found 2');
  await screenshot(page, 'hub-panel-token');

  // The tokens went to the hub's /panel/token only, in the body, and the hub logged none of them.
  const tokens = [expired, wrongAudience, good];
  const carrying = context.requests.filter((r) => tokens.some((t) => r.url().includes(t) || (r.postData() || '').includes(t)));
  assert.deepEqual([...new Set(carrying.map((r) => r.method() + ' ' + r.url()))], [`POST ${env.hub.origin}/panel/token`]);
  for (const t of tokens) assert.ok(!env.hub.log.includes(t), 'a token reached the hub log');
  const problems = context.console.filter((m) => /^(pageerror|error)/.test(m));
  assert.deepEqual(problems, []);
  await context.close();
});
