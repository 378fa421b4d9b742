'use strict';
// What Chromium requires of the mercureAuthorization cookie for a
// credentialed EventSource from app.example.test to hub.example.test over
// plain http (the reasons are in lib/app-server.js, mercureCookie()). Each
// case logs in with other cookie attributes and subscribes.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setUp } = require('./lib/setup');
const { newContext, waitForEvent, events } = require('./lib/browser');

let env;
before(async () => { env = await setUp(); });
after(async () => { await env?.tearDown(); });

const CASES = [
  // [login query, stored by Chromium, the stream opens, why]
  ['samesite=Lax', true, true, 'same site (http + example.test): Lax cookies go with subresource requests'],
  ['samesite=Strict', true, true, 'same site: even Strict goes (symfony/mercure\'s default)'],
  ['samesite=', true, true, 'no SameSite: Chromium treats it as Lax'],
  ['samesite=None', false, false, 'SameSite=None without Secure is rejected when set'],
  ['samesite=None&secure=1', false, false, 'Secure cannot be set from an http response'],
  ['samesite=Lax&secure=1', false, false, 'Secure cannot be set from an http response'],
  ['domain=', true, false, 'without Domain the cookie is the app host\'s only and never reaches the hub'],
];

for (const [query, stored, opens, why] of CASES) {
  test(`cookie ${query}: ${opens ? 'works' : 'does not work'} (${why})`, async () => {
    const context = await newContext(env.browser);
    const page = await context.newPage();
    await page.goto(`${env.app.origin}/login?user=11&${query}`);
    const cookies = (await context.cookies()).filter((c) => c.name === 'mercureAuthorization');
    assert.equal(cookies.length, stored ? 1 : 0, JSON.stringify(cookies));
    const response = page.waitForResponse((r) => r.url().startsWith(env.hub.url));
    await page.goto(`${env.app.origin}/native.html?topic=access/11`);
    assert.equal((await response).status(), opens ? 200 : 401);
    await waitForEvent(page, opens ? "(e) => e.kind === 'open'" : "(e) => e.kind === 'error'");
    assert.deepEqual((await events(page)).map((e) => e.kind), [opens ? 'open' : 'error']);
    await context.close();
  });
}
