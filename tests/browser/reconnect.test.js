'use strict';
// The connection drops and the browser reconnects by itself with the last
// event id: what was published in between arrives, nothing twice.
//
// How the drop happens: the back end mints the cookie's token with a 3 s
// lifetime; the hub closes the stream when the token expires. The page's
// onerror asks the application for a fresh cookie (GET /refresh), which is
// set before the browser reconnects (EventSource waits its reconnection time,
// about 3 s in Chromium, 1 s or more in the polyfill). The test publishes the
// "in between" updates as soon as it sees onerror.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setUp } = require('./lib/setup');
const { newContext, waitForEvent, messages, events, screenshot } = require('./lib/browser');
const { publish } = require('./lib/hub');
const jwt = require('./lib/jwt');

let env;
before(async () => { env = await setUp(); });
after(async () => { await env?.tearDown(); });

// The polyfill never sends a Last-Event-ID header: it appends its last event
// id to the URL as ?lastEventId=<id> (its option lastEventIdQueryParameterName,
// default "lastEventId"), and the use case uses it with its defaults.
// The third case is the front end's workaround: the polyfill told to use the
// lastEventID query parameter, which the hub reads.
const CLIENTS = {
  native: { page: 'native', cursor: async (request) => (await request.allHeaders())['last-event-id'] },
  polyfill: { page: 'polyfill', cursor: async (request) => new URL(request.url()).searchParams.get('lastEventId') },
  'polyfill+lastEventID': {
    page: 'polyfill',
    query: '&lastEventIdParam=lastEventID',
    cursor: async (request) => new URL(request.url()).searchParams.get('lastEventID'),
  },
};

for (const [client, how] of Object.entries(CLIENTS)) {
  const name = `${client}: after the hub closed the stream (token expiry), reconnection with the last event id delivers what was published in between, once`;
  test(name, async () => {
    const publisher = jwt.legacyPublisher(env.hub.secret);
    const context = await newContext(env.browser);
    const page = await context.newPage();
    const subscribeRequests = [];
    page.on('request', (r) => { if (r.url().startsWith(env.hub.url)) subscribeRequests.push(r); });

    await page.goto(`${env.app.origin}/login?user=7&ttl=3`);
    await page.goto(`${env.app.origin}/${how.page}.html?topic=access/7&topic=news&topic=access/8&refresh=1${how.query || ''}`);
    await waitForEvent(page, "(e) => e.kind === 'open'");
    const before = [];
    before.push(await publish(env.hub, publisher, { topic: 'access/7', data: '{"n":1}', private: true }));
    before.push(await publish(env.hub, publisher, { topic: 'news', data: '{"n":2}' }));
    await waitForEvent(page, `(e) => e.lastEventId === ${JSON.stringify(before[1].body)}`);

    // The page also asks for access/8, which its token does not allow: the
    // replay after reconnection must withhold that private update too.
    // The hub closes the stream at the token's exp (3 s after login).
    await waitForEvent(page, "(e) => e.kind === 'error'", 10000);
    const error = (await events(page)).find((e) => e.kind === 'error');
    assert.equal(error.readyState, 0, 'the browser is reconnecting (CONNECTING), not giving up');
    const between = [];
    between.push(await publish(env.hub, publisher, { topic: 'access/7', data: '{"n":3,"private":true}', private: true }));
    between.push(await publish(env.hub, publisher, { topic: 'news', data: '{"n":4}' }));
    between.push(await publish(env.hub, publisher, { topic: 'access/8', data: '{"not":"for user 7"}', private: true }));
    const reopened = (await events(page)).filter((e) => e.kind === 'open').length;
    assert.equal(reopened, 1, 'the updates "in between" were published before the reconnection');

    await waitForEvent(page, "(e, all) => all.filter((x) => x.kind === 'open').length === 2", 15000);
    const after = await publish(env.hub, publisher, { topic: 'access/7', data: '{"n":5}', private: true });
    try {
      await waitForEvent(page, `(e) => e.lastEventId === ${JSON.stringify(after.body)}`);
    } finally {
      await screenshot(page, `reconnect-${client}`);
    }

    // The reconnection carried the last event id received (so what follows
    // is up to the hub), and the fresh cookie (the first one had expired).
    assert.equal(subscribeRequests.length, 2);
    assert.ok(!(await how.cursor(subscribeRequests[0])));
    assert.equal(await how.cursor(subscribeRequests[1]), before[1].body);
    const cookies = await Promise.all([0, 1].map(async (i) => (await subscribeRequests[i].allHeaders()).cookie));
    assert.ok(cookies[0] && cookies[1] && cookies[0] !== cookies[1], 'a fresh cookie on reconnection');
    if (client === 'native') {
      // The legacy hub answers its cursor back (Last-Event-ID), as 0.x did.
      const response = await subscribeRequests[1].response();
      assert.equal(response.status(), 200);
      assert.equal((await response.allHeaders())['last-event-id'], before[1].body);
    }

    const got = await messages(page);
    assert.deepEqual(got.map((m) => [m.lastEventId, m.data]), [
      [before[0].body, '{"n":1}'],
      [before[1].body, '{"n":2}'],
      [between[0].body, '{"n":3,"private":true}'],
      [between[1].body, '{"n":4}'],
      [after.body, '{"n":5}'],
    ]);
    await context.close();
  });
}
