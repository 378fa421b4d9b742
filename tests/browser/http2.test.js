'use strict';
// HTTP/2: Node's own HTTP/2 client (nghttp2 inside Node) over h2c with prior
// knowledge, and Debian's Chromium over TLS with ALPN "h2", where more event
// streams than HTTP/1.1's six connections per origin share one connection.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http2 = require('node:http2');
const { startHub } = require('./lib/hub');
const { launch, newContext, screenshot } = require('./lib/browser');
const { legacyPublisher, legacySubscriber } = require('./lib/jwt');
const { makeCertificate } = require('./lib/tls');

const HUB_PATH = '/.well-known/mercure';

// One HTTP/2 session to the hub; `connectOptions` for TLS.
function connect(origin, connectOptions = {}) {
  const session = http2.connect(origin, connectOptions);
  session.on('error', () => {});
  return session;
}

// An event stream on `session`: collects the SSE `data:` lines as events.
function subscribe(session, query, token) {
  const headers = { ':path': `${HUB_PATH}?${query}` };
  if (token) headers.authorization = 'Bearer ' + token;
  const req = session.request(headers);
  const sub = { req, status: null, events: [], ended: false, text: '' };
  sub.opened = new Promise((resolve) => req.on('response', (h) => resolve((sub.status = h[':status']))));
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    sub.text += chunk;
    let end;
    while ((end = sub.text.indexOf('\n\n')) >= 0) {
      const block = sub.text.slice(0, end);
      sub.text = sub.text.slice(end + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart());
      if (data.length) sub.events.push(data.join('\n'));
    }
  });
  req.on('end', () => (sub.ended = true));
  req.on('error', () => (sub.ended = true));
  sub.closed = new Promise((resolve) => req.on('close', resolve));
  return sub;
}

async function waitFor(pred, what, timeout = 10000) {
  const until = Date.now() + timeout;
  while (!pred()) {
    if (Date.now() > until) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A complete request on `session`: {status, headers, body}.
function request(session, headers, body) {
  return new Promise((resolve, reject) => {
    const req = session.request(headers);
    let text = '';
    let head = null;
    req.setEncoding('utf8');
    req.on('response', (h) => (head = h));
    req.on('data', (c) => (text += c));
    req.on('end', () => resolve({ status: head && head[':status'], headers: head, body: text }));
    req.on('error', reject);
    req.end(body);
  });
}

function publishOn(session, token, topic, data) {
  const body = new URLSearchParams({ topic, data }).toString();
  return request(
    session,
    {
      ':method': 'POST',
      ':path': HUB_PATH,
      authorization: 'Bearer ' + token,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
  );
}

test('h2c: many event streams multiplexed on one connection, publishing over HTTP/2 too', async () => {
  const hub = await startHub();
  const session = connect(`http://127.0.0.1:${hub.port}`);
  try {
    const pub = legacyPublisher(hub.secret);
    const subs = [];
    for (let i = 0; i < 20; i++) subs.push(subscribe(session, `topic=t${i}`, legacySubscriber(hub.secret, ['*'])));
    const both = subscribe(session, 'topic=t3&topic=t7', legacySubscriber(hub.secret, ['*']));
    assert.deepEqual(await Promise.all(subs.map((s) => s.opened)), subs.map(() => 200));
    assert.equal(await both.opened, 200);
    for (let i = 0; i < 20; i++) {
      const r = await publishOn(session, pub, `t${i}`, `event ${i}`);
      assert.equal(r.status, 200, r.body);
      assert.match(r.body, /^urn:uuid:/);
    }
    await waitFor(() => subs.every((s) => s.events.length === 1) && both.events.length === 2, 'events');
    subs.forEach((s, i) => assert.deepEqual(s.events, [`event ${i}`]));
    assert.deepEqual(both.events, ['event 3', 'event 7']);
  } finally {
    session.destroy();
    assert.equal(await hub.stop(), 0, hub.log);
  }
});

test('h2c: the answer to a publish leaves before the fan-out of its update, on the same connection', async () => {
  // One worker, so the subscription and the publish share one loop and one
  // connection: the answer is written with the answers, the event after.
  const hub = await startHub({ args: ['--workers', '1'] });
  const session = connect(`http://127.0.0.1:${hub.port}`);
  try {
    const sub = subscribe(session, 'topic=order', legacySubscriber(hub.secret, ['*']));
    assert.equal(await sub.opened, 200);
    const pub = legacyPublisher(hub.secret);
    // Node hands over each DATA frame as it parses it, in the order they
    // arrived: the events read when the answer's body (the update's id)
    // arrives tell which frames came first.
    const seenAtAnswer = [];
    for (let i = 0; i < 20; i++) {
      const body = new URLSearchParams({ topic: 'order', data: `update ${i}` }).toString();
      const req = session.request({
        ':method': 'POST',
        ':path': HUB_PATH,
        authorization: 'Bearer ' + pub,
        'content-type': 'application/x-www-form-urlencoded',
      });
      let status = null;
      let text = '';
      req.setEncoding('utf8');
      req.on('response', (h) => (status = h[':status']));
      req.on('data', (c) => {
        if (!text) seenAtAnswer.push(sub.events.length);
        text += c;
      });
      await new Promise((resolve, reject) => {
        req.on('end', resolve);
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(status, 200, text);
      assert.match(text, /^urn:uuid:/);
    }
    await waitFor(() => sub.events.length === 20, 'every event');
    assert.deepEqual(sub.events, Array.from({ length: 20 }, (_, i) => `update ${i}`));
    // Update i's event never came before update i's answer.
    seenAtAnswer.forEach((n, i) => assert.ok(n <= i, `update ${i}: ${n} events before its answer`));
  } finally {
    session.destroy();
    assert.equal(await hub.stop(), 0, hub.log);
  }
});

test('h2c: a paused reader gets every event in order once it reads again (flow control)', async () => {
  const hub = await startHub();
  const session = connect(`http://127.0.0.1:${hub.port}`);
  try {
    const slow = subscribe(session, 'topic=slow', legacySubscriber(hub.secret, ['*']));
    const fast = subscribe(session, 'topic=fast', legacySubscriber(hub.secret, ['*']));
    assert.equal(await slow.opened, 200);
    assert.equal(await fast.opened, 200);
    slow.req.pause(); // its window closes after 64 KiB; the rest waits in the hub
    const pub = legacyPublisher(hub.secret);
    const big = 'x'.repeat(40000);
    for (let i = 0; i < 30; i++) assert.equal((await publishOn(session, pub, 'slow', `${i} ${big}`)).status, 200);
    // Another stream of the same connection is not held up by the paused one.
    assert.equal((await publishOn(session, pub, 'fast', 'not blocked')).status, 200);
    await waitFor(() => fast.events.length === 1, 'the other stream');
    assert.ok(slow.events.length < 30, 'the paused stream should not have everything yet');
    slow.req.resume();
    await waitFor(() => slow.events.length === 30, 'the paused stream', 20000);
    slow.events.forEach((e, i) => assert.equal(e, `${i} ${big}`));
  } finally {
    session.destroy();
    assert.equal(await hub.stop(), 0, hub.log);
  }
});

test('h2c: a stream too slow for subscriber_queue_limit is reset; the others go on', async () => {
  const hub = await startHub({ args: ['--subscriber_queue_limit', '64KiB'] });
  const session = connect(`http://127.0.0.1:${hub.port}`);
  try {
    const slow = subscribe(session, 'topic=t', legacySubscriber(hub.secret, ['*']));
    const fast = subscribe(session, 'topic=t', legacySubscriber(hub.secret, ['*']));
    assert.equal(await slow.opened, 200);
    assert.equal(await fast.opened, 200);
    let resetCode = null;
    slow.req.on('close', () => (resetCode = slow.req.rstCode));
    slow.req.pause();
    const pub = legacyPublisher(hub.secret);
    const big = 'x'.repeat(20000);
    for (let i = 0; i < 20; i++) assert.equal((await publishOn(session, pub, 't', `${i} ${big}`)).status, 200);
    await waitFor(() => fast.events.length === 20, 'the reading stream');
    await waitFor(() => /subscriber too slow, disconnected/.test(hub.log), 'the hub to cut the slow stream');
    slow.req.resume();
    await waitFor(() => resetCode !== null, 'the slow stream to be reset');
    assert.equal(resetCode, http2.constants.NGHTTP2_CANCEL);
    assert.ok(slow.events.length < 20, 'the slow stream should have been cut short');
    slow.events.forEach((e, i) => assert.equal(e, `${i} ${big}`)); // a clean prefix
    assert.equal((await publishOn(session, pub, 't', 'after')).status, 200);
    await waitFor(() => fast.events.length === 21, 'the connection to go on');
  } finally {
    session.destroy();
    assert.equal(await hub.stop(), 0, hub.log);
  }
});

test('h2c: a cancelled stream ends its subscription; limits answer 431 and 413', async () => {
  const hub = await startHub({ args: ['--max_header_size', '4KiB', '--max_request_body_size', '1KiB'] });
  const session = connect(`http://127.0.0.1:${hub.port}`);
  try {
    const gone = subscribe(session, 'topic=gone', legacySubscriber(hub.secret, ['*']));
    const stays = subscribe(session, 'topic=stays', legacySubscriber(hub.secret, ['*']));
    assert.equal(await gone.opened, 200);
    assert.equal(await stays.opened, 200);
    gone.req.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => /subscription ended .*subscriber=\d+/.test(hub.log), 'the hub to see the cancel');
    const pub = legacyPublisher(hub.secret);
    assert.equal((await publishOn(session, pub, 'stays', 'still here')).status, 200);
    await waitFor(() => stays.events.length === 1, 'the remaining stream');

    const big = await request(session, { ':path': '/healthz', 'x-filler': 'y'.repeat(6000) });
    assert.equal(big.status, 431);
    assert.match(big.body, /too large/);
    const body = 'data=' + 'z'.repeat(2000) + '&topic=a';
    const tooLong = await request(
      session,
      { ':method': 'POST', ':path': HUB_PATH, authorization: 'Bearer ' + pub, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    );
    assert.equal(tooLong.status, 413);
    // The connection still serves.
    assert.equal((await request(session, { ':path': '/healthz' })).status, 200);
  } finally {
    session.destroy();
    assert.equal(await hub.stop(), 0, hub.log);
  }
});

test('h2c: cookies sent as separate fields are joined (the token in the sixth)', async () => {
  const hub = await startHub();
  const session = connect(`http://127.0.0.1:${hub.port}`);
  try {
    const token = legacySubscriber(hub.secret, ['access/7']);
    // Node sends each array element as a field of its own, as browsers may.
    const req = session.request({
      ':path': `${HUB_PATH}?topic=access%2F7`,
      cookie: ['a=1', 'b=2', 'c=3', 'd=4', 'e=5', 'mercureAuthorization=' + token],
    });
    const status = await new Promise((resolve) => req.on('response', (h) => resolve(h[':status'])));
    assert.equal(status, 200);
    req.close();
  } finally {
    session.destroy();
    assert.equal(await hub.stop(), 0, hub.log);
  }
});

test('h2c: SIGTERM sends GOAWAY, ends event streams cleanly and exits 0', async () => {
  const hub = await startHub();
  const session = connect(`http://127.0.0.1:${hub.port}`);
  let goaway = null;
  session.on('goaway', (code) => (goaway = code));
  const subs = [0, 1, 2].map((i) => subscribe(session, `topic=s${i}`, legacySubscriber(hub.secret, ['*'])));
  assert.deepEqual(await Promise.all(subs.map((s) => s.opened)), [200, 200, 200]);
  const code = await hub.stop();
  assert.equal(code, 0, hub.log);
  await waitFor(() => subs.every((s) => s.ended), 'the streams to end');
  assert.equal(goaway, http2.constants.NGHTTP2_NO_ERROR);
  session.destroy();
});

test('Chromium over HTTPS: ALPN h2, ten EventSources on one connection all receive their updates', async () => {
  const tls = makeCertificate();
  const hub = await startHub({ tls, args: ['--anonymous'] });
  const origin = hub.origin;
  const browser = await launch(['--ignore-certificate-errors']);
  const session = connect(`https://127.0.0.1:${hub.port}`, { ca: tls.ca, servername: 'hub.example.test' });
  try {
    const page = await (await newContext(browser)).newPage();
    await page.goto(origin + '/');
    const protocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
    assert.equal(protocol, 'h2');
    // More streams than the six HTTP/1.1 connections a browser opens per origin.
    await page.evaluate((hubPath) => {
      window.received = {};
      window.opened = 0;
      for (let i = 0; i < 10; i++) {
        const es = new EventSource(`${hubPath}?topic=${encodeURIComponent('https://example.com/h2/' + i)}`);
        es.onopen = () => window.opened++;
        es.onmessage = (e) => (window.received[i] = (window.received[i] || []).concat(e.data));
      }
    }, HUB_PATH);
    await page.waitForFunction(() => window.opened === 10, null, { timeout: 10000 });
    const pub = legacyPublisher(hub.secret);
    for (let i = 0; i < 10; i++) {
      const r = await publishOn(session, pub, 'https://example.com/h2/' + i, 'update ' + i);
      assert.equal(r.status, 200, r.body);
    }
    await page.waitForFunction(() => Object.keys(window.received).length === 10, null, { timeout: 10000 });
    const received = await page.evaluate(() => window.received);
    for (let i = 0; i < 10; i++) assert.deepEqual(received[i], ['update ' + i]);
    await screenshot(page, 'http2-ten-eventsources');
  } finally {
    session.destroy();
    await browser.close();
    assert.equal(await hub.stop(), 0, hub.log);
    tls.remove();
  }
});
