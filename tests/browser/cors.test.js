'use strict';
// A page on a foreign origin (evil.example.org, the hub allows only
// app.example.test) cannot read the stream: the browser refuses the response
// because the hub answers no Access-Control-Allow-Origin for that origin.
// The same page on the application's origin, with the same token, can: so it
// is CORS, not the token, that stops the foreign one.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setUp } = require('./lib/setup');
const { newContext, waitForEvent, events, screenshot } = require('./lib/browser');
const { publish } = require('./lib/hub');
const jwt = require('./lib/jwt');

let env;
before(async () => { env = await setUp(); });
after(async () => { await env?.tearDown(); });

const WAYS = ['eventsource', 'fetch-credentials', 'fetch-bearer'];

async function tryFrom(origin, name) {
  const context = await newContext(env.browser);
  const page = await context.newPage();
  // Logged in at the application too: the cookie exists in this browser.
  await page.goto(`${env.app.origin}/login?user=5`);
  const token = jwt.legacySubscriber(env.hub.secret, ['access/5']);
  await page.goto(`${origin}/foreign.html?topic=access/5&token=${token}`);
  await waitForEvent(page, `(e, all) => ${JSON.stringify(WAYS)}.every((w) => all.some((x) => x.kind === w))`);
  if (origin === env.app.origin) {
    const sent = await publish(env.hub, jwt.legacyPublisher(env.hub.secret), { topic: 'access/5', data: 'secret', private: true });
    await waitForEvent(page, `(e) => e.kind === 'eventsource-message' && e.detail === 'secret'`);
    assert.equal(sent.status, 200);
  } else {
    // Give a delivered update the chance to show up on the foreign page.
    await publish(env.hub, jwt.legacyPublisher(env.hub.secret), { topic: 'access/5', data: 'secret', private: true });
    await page.waitForTimeout(500);
  }
  await screenshot(page, name);
  const result = { events: await events(page), console: context.console.slice() };
  await context.close();
  return result;
}

test('control: the same page on the allowed origin reads the stream three ways', async () => {
  const r = await tryFrom(env.app.origin, 'cors-allowed-origin');
  for (const way of WAYS) {
    const e = r.events.find((x) => x.kind === way);
    assert.equal(e.outcome, 'read', JSON.stringify(r.events));
  }
});

test('a page on a foreign origin cannot read the stream: the browser refuses it (CORS)', async () => {
  const r = await tryFrom(env.app.evilOrigin, 'cors-foreign-origin');
  for (const way of WAYS) {
    const e = r.events.find((x) => x.kind === way);
    assert.equal(e.outcome, 'refused', JSON.stringify(r.events));
  }
  assert.ok(!r.events.some((e) => e.kind === 'eventsource-message'), JSON.stringify(r.events));
  // Chromium says why, once per way: no Access-Control-Allow-Origin header
  // (on the stream itself for the two simple requests, which the hub did
  // answer with a stream; on the preflight for the bearer one).
  const blocked = r.console.filter((m) =>
    /from origin 'http:\/\/evil\.example\.org:\d+' has been blocked by CORS policy: .*No 'Access-Control-Allow-Origin' header/.test(m));
  assert.equal(blocked.length, 3, r.console.join('\n'));
  assert.equal(blocked.filter((m) => /preflight/.test(m)).length, 1, blocked.join('\n'));
});

test('the hub neither reflects a foreign origin nor allows it in a preflight', async () => {
  const evil = env.app.evilOrigin;
  const token = jwt.legacySubscriber(env.hub.secret, ['access/5']);
  const controller = new AbortController();
  const res = await fetch(`${env.hub.localUrl}?topic=access%2F5`, {
    headers: { Origin: evil, Cookie: `mercureAuthorization=${token}` },
    signal: controller.signal,
  });
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  assert.equal(res.headers.get('access-control-allow-credentials'), null);
  controller.abort();
  const preflight = await fetch(env.hub.localUrl, {
    method: 'OPTIONS',
    headers: { Origin: evil, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
  });
  assert.notEqual(preflight.headers.get('access-control-allow-origin'), evil);
  assert.notEqual(preflight.headers.get('access-control-allow-origin'), '*');
  // The allowed origin gets exactly itself back, with credentials.
  const ok = await fetch(env.hub.localUrl, {
    method: 'OPTIONS',
    headers: { Origin: env.app.origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization,last-event-id' },
  });
  assert.equal(ok.headers.get('access-control-allow-origin'), env.app.origin);
  assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
});
