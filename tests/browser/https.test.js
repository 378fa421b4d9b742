'use strict';
// The use case as deployed: the application on https://app.example.test and
// the hub on https://hub.example.test (HTTPS, so HTTP/2), the back end's
// mercureAuthorization cookie Secure and HttpOnly for Domain=example.test,
// credentialed EventSources (native and event-source-polyfill) receiving
// private updates byte for byte, and nothing for another user.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setUp } = require('./lib/setup');
const { newContext, waitForEvent, messages } = require('./lib/browser');
const { publish } = require('./lib/hub');
const jwt = require('./lib/jwt');

let env;
before(async () => { env = await setUp({ tls: true }); });
after(async () => { await env?.tearDown(); });

const PRIVATE_DATA = '{"myData":"some new data","text":"caf\\u00e9 \u20ac\ud83d\ude00"}';

for (const client of ['native', 'polyfill']) {
  for (const sameSite of ['Strict', 'None']) {
    test(`${client} EventSource over HTTPS with a Secure, SameSite=${sameSite} cookie`, async () => {
      assert.ok(env.hub.url.startsWith('https://'));
      const publisher = jwt.legacyPublisher(env.hub.secret);
      const pages = {};
      for (const user of ['31', '32']) {
        const context = await newContext(env.browser);
        const page = await context.newPage();
        await page.goto(`${env.app.origin}/login?user=${user}&secure=1&samesite=${sameSite}`);
        const cookies = (await context.cookies()).filter((c) => c.name === 'mercureAuthorization');
        assert.equal(cookies.length, 1);
        assert.equal(cookies[0].secure, true);
        assert.equal(cookies[0].httpOnly, true);
        assert.equal(cookies[0].domain, '.example.test');
        const response = page.waitForResponse((r) => r.url().startsWith(env.hub.url));
        await page.goto(`${env.app.origin}/${client}.html?topic=access/${user}&topic=access/31`);
        const r = await response;
        assert.equal(r.status(), 200);
        assert.equal((await r.allHeaders())['access-control-allow-credentials'], 'true');
        assert.equal((await r.allHeaders())['access-control-allow-origin'], env.app.origin);
        assert.equal((await r.securityDetails()).protocol.startsWith('TLS 1.'), true);
        await waitForEvent(page, "(e) => e.kind === 'open'");
        pages[user] = page;
      }
      const p31 = await publish(env.hub, publisher, { topic: 'access/31', data: PRIVATE_DATA, private: true });
      assert.equal(p31.status, 200, p31.body);
      const p32 = await publish(env.hub, publisher, { topic: 'access/32', data: 'for 32', private: true });
      assert.equal(p32.status, 200, p32.body);
      await waitForEvent(pages['31'], `(e) => e.kind === 'message' && e.lastEventId === ${JSON.stringify(p31.body)}`);
      await waitForEvent(pages['32'], `(e) => e.kind === 'message' && e.lastEventId === ${JSON.stringify(p32.body)}`);
      assert.deepEqual((await messages(pages['31'])).map((m) => m.data), [PRIVATE_DATA]);
      // User 32 asked for access/31 too: its token does not allow it.
      assert.deepEqual((await messages(pages['32'])).map((m) => m.data), ['for 32']);
      for (const page of Object.values(pages)) await page.context().close();
    });
  }
}
