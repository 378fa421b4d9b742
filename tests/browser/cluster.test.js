'use strict';
// The use case on three nodes: three hubs on the redis transport behind a
// real HAProxy (round robin, no stickiness), a real Chromium subscribing
// through the balancer with the login cookie, and the Symfony publisher
// (Debian's php-symfony-mercure) publishing on the nodes. When the stream
// drops (the cookie's token expires), the browser reconnects by itself
// through the balancer, lands on another node, and gets what was published
// in between, once.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const { startAppServer } = require('./lib/app-server');
const { startCluster } = require('./lib/cluster');
const { launch, newContext, waitForEvent, messages, events, screenshot } = require('./lib/browser');
const { RESOURCE_IDENTIFIER } = require('./lib/setup');

const SCRIPT = path.join(__dirname, 'php', 'mercure.php');

let app, cluster, browser;
before(async () => {
  if (!fs.existsSync('/usr/share/php/Symfony/Component/Mercure/autoload.php'))
    throw new Error('php-cli and php-symfony-mercure (Debian) are needed: run scripts/install-test-tools.sh');
  app = await startAppServer({ resourceIdentifier: RESOURCE_IDENTIFIER });
  cluster = await startCluster(3, { corsOrigins: [app.origin], args: ['--resource_identifier', RESOURCE_IDENTIFIER] });
  app.options.hub = cluster.balancer;
  browser = await launch();
});
after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (app) await app.close();
  if (cluster) await cluster.tearDown();
});

// `php mercure.php publish` against one node (hubUrl); resolves {id}.
function symfonyPublish(hubUrl, args) {
  return new Promise((resolve, reject) => {
    execFile('php', [SCRIPT, 'publish', '--hub', hubUrl, '--secret', cluster.balancer.secret, ...args],
      (error, stdout, stderr) => (error ? reject(new Error(stderr || String(error))) : resolve(JSON.parse(stdout))));
  });
}

// The node whose mercure_subscribers_connected says it holds the browser's stream.
async function nodeWithSubscriber() {
  const holding = [];
  for (const [i, node] of cluster.nodes.entries()) {
    const text = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
    const m = /^mercure_subscribers_connected(?:\{[^}]*\})? (\d+)/m.exec(text);
    if (m && Number(m[1]) > 0) holding.push(i);
  }
  return holding;
}

test('through HAProxy: Symfony publishes on any node, the browser gets private updates, reconnects to another node and misses nothing', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(`${app.origin}/login?user=7&ttl=3`);
  await page.goto(`${app.origin}/native.html?topic=access/7&topic=access/8&refresh=1`);
  await waitForEvent(page, "(e) => e.kind === 'open'");
  const first = await nodeWithSubscriber();
  assert.equal(first.length, 1, 'one node holds the stream');
  const nodeUrl = (i) => cluster.nodes[i].localUrl;
  const other = (i) => (i + 1) % 3;

  const data = JSON.stringify({ myData: 'some new data', n: 1 });
  const before = [await symfonyPublish(nodeUrl(other(first[0])), ['--topic', 'access/7', '--data', data, '--private'])];
  before.push(await symfonyPublish(cluster.balancer.localUrl, ['--topic', 'access/7', '--data', '{"n":2}', '--private']));
  await waitForEvent(page, `(e) => e.lastEventId === ${JSON.stringify(before[1].id)}`);

  // The hub closes the stream at the token's exp (3 s after login); the page
  // gets a fresh cookie and the browser reconnects through the balancer.
  await waitForEvent(page, "(e) => e.kind === 'error'", 10000);
  // The first update is published while the browser is away (its retry
  // delay is about 3 s, one PHP run well under a second), so the resume on
  // another node has at least one update to replay; on a loaded machine the
  // later ones may be published after it reconnected, and must arrive once
  // all the same.
  const between = [];
  between.push(await symfonyPublish(nodeUrl(0), ['--topic', 'access/7', '--data', '{"between":0}', '--private']));
  assert.equal((await events(page)).filter((e) => e.kind === 'open').length, 1, 'published before the reconnection');
  for (let i = 1; i < 3; i++)
    between.push(await symfonyPublish(nodeUrl(i), ['--topic', 'access/7', '--data', `{"between":${i}}`, '--private']));
  const notMine = await symfonyPublish(nodeUrl(0), ['--topic', 'access/8', '--data', 'not for user 7', '--private']);

  await waitForEvent(page, "(e, all) => all.filter((x) => x.kind === 'open').length === 2", 15000);
  const second = await nodeWithSubscriber();
  assert.equal(second.length, 1);
  assert.notEqual(second[0], first[0], 'round robin sent the reconnection to another node');
  const last = await symfonyPublish(nodeUrl(first[0]), ['--topic', 'access/7', '--data', '{"last":true}', '--private']);
  try {
    await waitForEvent(page, `(e) => e.lastEventId === ${JSON.stringify(last.id)}`);
  } finally {
    await screenshot(page, 'cluster-haproxy');
  }
  const got = (await messages(page)).map((m) => [m.lastEventId, m.data]);
  assert.deepEqual(got, [
    [before[0].id, data],
    [before[1].id, '{"n":2}'],
    ...between.map((u, i) => [u.id, `{"between":${i}}`]),
    [last.id, '{"last":true}'],
  ]);
  assert.ok(!got.some(([id]) => id === notMine.id), 'a private update of another user never arrives');
  await context.close();
});
