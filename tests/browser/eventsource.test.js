'use strict';
// Two users, each logged in in a browser context of their own (the back end
// set their mercureAuthorization cookie for example.test), subscribe from
// app.example.test to the hub on hub.example.test with a credentialed
// EventSource: native, then the event-source-polyfill the use case names.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setUp } = require('./lib/setup');
const { newContext, waitForEvent, messages, events, screenshot } = require('./lib/browser');
const { publish } = require('./lib/hub');
const jwt = require('./lib/jwt');

let env;
before(async () => { env = await setUp(); });
after(async () => { await env?.tearDown(); });

// JSON as json_encode() writes it, with characters that the form encoding,
// the SSE framing and UTF-8 decoding could each get wrong.
const PRIVATE_DATA = '{"myData":"some new data","user":1,"text":"caf\\u00e9 ~ + & = % \\/ \u00e9\u20ac\ud83d\ude00","n":[1,2.5,null,true]}';
const PUBLIC_DATA = '{"news":"for everyone","text":"line\\none"}';
const USER2_DATA = '{"myData":"for user 2 only"}';
const MULTILINE = 'first line\nsecond line\n\nafter an empty line';

for (const client of ['native', 'polyfill']) {
  test(`${client} EventSource: private updates reach their user only, public updates reach both`, async () => {
    const publisher = jwt.legacyPublisher(env.hub.secret);
    const pages = {};
    for (const user of ['1', '2']) {
      const context = await newContext(env.browser);
      const page = await context.newPage();
      await page.goto(`${env.app.origin}/login?user=${user}`);
      // User 2 also asks for access/1, as a curious user could: the hub must
      // still keep user 1's private updates away from that stream.
      const topics = user === '1' ? ['access/1', 'news'] : ['access/2', 'news', 'access/1'];
      await page.goto(`${env.app.origin}/${client}.html?` + topics.map((t) => 'topic=' + encodeURIComponent(t)).join('&'));
      await waitForEvent(page, "(e) => e.kind === 'open'");
      // The page really uses the client it names (the polyfill reads the
      // stream through XMLHttpRequest).
      const isPolyfill = await page.evaluate(() => !!window.EventSourcePolyfill && window.source instanceof window.EventSourcePolyfill);
      assert.equal(isPolyfill, client === 'polyfill');
      pages[user] = page;
    }
    // Both subscriptions are registered at the hub before onopen fired (the
    // hub flushes the headers after subscribing).
    const p1 = await publish(env.hub, publisher, { topic: 'access/1', data: PRIVATE_DATA, private: true });
    assert.equal(p1.status, 200, p1.body);
    const p2 = await publish(env.hub, publisher, { topic: 'access/2', data: USER2_DATA, private: true });
    assert.equal(p2.status, 200, p2.body);
    const p3 = await publish(env.hub, publisher, { topic: 'access/1', data: MULTILINE, private: true });
    assert.equal(p3.status, 200, p3.body);
    const pub = await publish(env.hub, publisher, { topic: 'news', data: PUBLIC_DATA });
    assert.equal(pub.status, 200, pub.body);

    // The public update comes last: once a page has it, everything published
    // before it that it was ever going to get has been delivered.
    for (const user of ['1', '2']) await waitForEvent(pages[user], `(e) => e.kind === 'message' && e.lastEventId === ${JSON.stringify(pub.body)}`);

    const got1 = await messages(pages['1']);
    assert.deepEqual(got1.map((m) => [m.lastEventId, m.data]), [
      [p1.body, PRIVATE_DATA],
      [p3.body, MULTILINE],
      [pub.body, PUBLIC_DATA],
    ]);
    for (const m of got1) assert.equal(m.type, 'message');
    const got2 = await messages(pages['2']);
    assert.deepEqual(got2.map((m) => [m.lastEventId, m.data]), [
      [p2.body, USER2_DATA],
      [pub.body, PUBLIC_DATA],
    ]);
    // onopen fired once, onerror never.
    for (const user of ['1', '2']) {
      const kinds = (await events(pages[user])).map((e) => e.kind);
      assert.equal(kinds.filter((k) => k === 'open').length, 1, kinds.join(','));
      assert.equal(kinds.filter((k) => k === 'error').length, 0, kinds.join(','));
      await screenshot(pages[user], `eventsource-${client}-user${user}`);
    }
    for (const user of ['1', '2']) await pages[user].context().close();
  });
}

test('a subscriber without the cookie is refused (no anonymous access): onerror, readyState CLOSED', async () => {
  const context = await newContext(env.browser);
  const page = await context.newPage();
  const response = page.waitForResponse((r) => r.url().startsWith(env.hub.url));
  await page.goto(`${env.app.origin}/native.html?topic=access/1`);
  assert.equal((await response).status(), 401);
  await waitForEvent(page, "(e) => e.kind === 'error'");
  assert.deepEqual((await events(page)).map((e) => [e.kind, e.readyState]), [['error', 2]]);
  await context.close();
});
