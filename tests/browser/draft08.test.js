'use strict';
// The draft-08 flavour in the browser: fetch() with Authorization: Bearer
// (a draft-08 token: typ at+jwt, aud, authorization_details), match=
// parameters, the stream read from the response body.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setUp } = require('./lib/setup');
const { newContext, waitForEvent, messages, events, screenshot } = require('./lib/browser');
const { publish } = require('./lib/hub');
const jwt = require('./lib/jwt');

let env;
before(async () => { env = await setUp(); });
after(async () => { await env?.tearDown(); });

test('fetch() + bearer token + match=: private update of the user and public update arrive byte-exact, others do not', async () => {
  const publisher = jwt.legacyPublisher(env.hub.secret);
  const context = await newContext(env.browser);
  const page = await context.newPage();
  await page.goto(`${env.app.origin}/login?user=3`);
  await page.goto(`${env.app.origin}/fetch.html?match=access/3&match=news&match=access/4`);
  await waitForEvent(page, "(e) => e.kind === 'response'");
  const [response] = await events(page);
  assert.equal(response.status, 200, JSON.stringify(response));
  assert.equal(response.contentType, 'text/event-stream');

  const data = '{"myData":"draft-08","emoji":"\ud83d\ude80","quote":"\\""}';
  const mine = await publish(env.hub, publisher, { topic: 'access/3', data, private: true });
  const theirs = await publish(env.hub, publisher, { topic: 'access/4', data: 'not for 3', private: true });
  const typed = await publish(env.hub, publisher, { topic: 'access/3', data: 'a\nb', private: true, type: 'notice', id: 'my-own-id-1' });
  const pub = await publish(env.hub, publisher, { topic: 'news', data: 'public news' });
  for (const p of [mine, theirs, typed, pub]) assert.equal(p.status, 200, p.body);
  assert.equal(typed.body, 'my-own-id-1');
  await waitForEvent(page, `(e) => e.lastEventId === ${JSON.stringify(pub.body)}`);
  await screenshot(page, 'draft08-fetch');
  assert.deepEqual((await messages(page)).map((m) => [m.lastEventId, m.type, m.data]), [
    [mine.body, 'message', data],
    ['my-own-id-1', 'notice', 'a\nb'],
    [pub.body, 'message', 'public news'],
  ]);

  // Reconnecting by hand with Last-Event-ID: only what came after it, still
  // filtered by the token.
  const later = await publish(env.hub, publisher, { topic: 'access/3', data: 'later', private: true });
  const page2 = await context.newPage();
  await page2.goto(`${env.app.origin}/fetch.html?match=access/3&match=news&match=access/4&lastEventId=${encodeURIComponent(mine.body)}`);
  await waitForEvent(page2, `(e) => e.lastEventId === ${JSON.stringify(later.body)}`);
  assert.deepEqual((await messages(page2)).map((m) => m.lastEventId), ['my-own-id-1', pub.body, later.body]);
  // The cursor comes back in Mercure-Last-Event-ID, readable cross-origin
  // (the hub lists it in Access-Control-Expose-Headers).
  const [response2] = await events(page2);
  assert.equal(response2.cursor, mine.body);
  await context.close();
});

test('fetch() with a bearer token lacking the topic: the private update is withheld; no token: 401', async () => {
  const publisher = jwt.legacyPublisher(env.hub.secret);
  const context = await newContext(env.browser);
  const page = await context.newPage();
  await page.goto(`${env.app.origin}/login?user=9`);
  await page.goto(`${env.app.origin}/fetch.html?match=access/10&match=news`);
  await waitForEvent(page, "(e) => e.kind === 'response'");
  await publish(env.hub, publisher, { topic: 'access/10', data: 'for 10', private: true });
  const pub = await publish(env.hub, publisher, { topic: 'news', data: 'news' });
  await waitForEvent(page, `(e) => e.lastEventId === ${JSON.stringify(pub.body)}`);
  assert.deepEqual((await messages(page)).map((m) => m.data), ['news']);
  await context.close();

  // Logged out: the page gets no token and the hub refuses it.
  const anon = await newContext(env.browser);
  const page2 = await anon.newPage();
  await page2.goto(`${env.app.origin}/fetch.html?match=news`);
  await waitForEvent(page2, "(e) => e.kind === 'response' || e.kind === 'failed'");
  const [first] = await events(page2);
  assert.equal(first.status, 401, JSON.stringify(first));
  await anon.close();
});
