'use strict';
// The Symfony publisher: Debian's php-symfony-mercure publishes private and
// public updates exactly as the back end of the use case does
// (php/mercure.php), and builds the login cookie; a browser logged in with
// that cookie receives them.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { setUp } = require('./lib/setup');
const { newContext, waitForEvent, messages, screenshot } = require('./lib/browser');
const jwt = require('./lib/jwt');

const SCRIPT = path.join(__dirname, 'php', 'mercure.php');

let env;
before(async () => {
  const fs = require('node:fs');
  if (!fs.existsSync('/usr/share/php/Symfony/Component/Mercure/autoload.php'))
    throw new Error('php-cli and php-symfony-mercure (Debian) are needed: run scripts/install-test-tools.sh');
  env = await setUp();
});
after(async () => { await env?.tearDown(); });

// Runs `php mercure.php publish ...` against the hub; resolves {code, out, err}.
function php(args) {
  return new Promise((resolve) => {
    execFile('php', [SCRIPT, 'publish', '--hub', env.hub.localUrl, ...args], (error, stdout, stderr) =>
      resolve({ code: error ? error.code : 0, out: stdout, err: stderr }));
  });
}
async function symfonyPublish(args) {
  const r = await php(['--secret', env.hub.secret, ...args]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}
const decode = (part) => Buffer.from(part, 'base64url').toString();

test('the token Symfony sends has the shape of LcobucciFactory\'s: HS256, exp with microseconds, legacy mercure claim', async () => {
  const { token, id } = await symfonyPublish(['--topic', 'shape', '--data', '']);
  assert.match(id, /^urn:uuid:[0-9a-f-]{36}$/);
  const [header, claims] = token.split('.').map(decode);
  assert.equal(header, '{"typ":"JWT","alg":"HS256"}');
  assert.match(claims, /^\{"exp":\d{10}(\.\d{1,6})?,"mercure":\{"publish":\["\*"\],"subscribe":\[\]\}\}$/);
});

test('Symfony publishes private and public updates; the browser logged in with the Symfony cookie receives them, with the returned ids', async () => {
  const context = await newContext(env.browser);
  const page = await context.newPage();
  const login = await page.goto(`${env.app.origin}/login-symfony?user=42`);
  const setCookie = (await login.headersArray()).filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value).join('\n');
  assert.match(setCookie, /^mercureAuthorization=[^;]+; path=\/\.well-known\/mercure; domain=\.example\.test; httponly; samesite=strict$/m);
  const [cookie] = (await context.cookies(env.hub.url)).filter((c) => c.name === 'mercureAuthorization');
  assert.ok(cookie, 'Chromium stored the Symfony cookie and sends it to the hub');
  assert.deepEqual([cookie.domain, cookie.path, cookie.httpOnly, cookie.secure, cookie.sameSite],
    ['.example.test', '/.well-known/mercure', true, false, 'Strict']);

  await page.goto(`${env.app.origin}/native.html?topic=access/42&topic=news&topic=access/43`);
  await waitForEvent(page, "(e) => e.kind === 'open'");

  // new Update("access/{$id}", json_encode([...]), true), with what PHP's
  // urlencode() turns into %XX (~, /, +, &, =, %, non-ASCII) and a space (+).
  const data = JSON.stringify({ myData: 'some new data ~ + & = % é 😀', path: '/a/b?c=d' });
  const privateUpdate = await symfonyPublish(['--topic', 'access/42', '--data', data, '--private']);
  const notMine = await symfonyPublish(['--topic', 'access/43', '--data', 'for 43', '--private']);
  const withId = await symfonyPublish(['--topic', 'access/42', '--data', 'typed', '--private', '--id', 'sf-id-1', '--type', 'message', '--retry', '2500']);
  // Public, several topics, through StaticTokenProvider with a token the
  // back end minted itself.
  const publicUpdate = await symfonyPublish([
    '--topic', 'news', '--topic', 'https://example.com/news/1', '--data', '{"public":true}',
    '--static-token', jwt.legacyPublisher(env.hub.secret),
  ]);
  assert.equal(withId.id, 'sf-id-1');
  await waitForEvent(page, `(e) => e.lastEventId === ${JSON.stringify(publicUpdate.id)}`);
  await screenshot(page, 'symfony-publisher');
  assert.deepEqual((await messages(page)).map((m) => [m.lastEventId, m.data]), [
    [privateUpdate.id, data],
    ['sf-id-1', 'typed'],
    [publicUpdate.id, '{"public":true}'],
  ]);
  assert.notEqual(notMine.id, privateUpdate.id);
  await context.close();
});

test('Symfony reports a refused publish as RuntimeException("Failed to send an update.")', async () => {
  const wrongKey = await php(['--secret', 'not-the-hub-secret', '--topic', 'news', '--data', 'x']);
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.err, /RuntimeException: Failed to send an update\. \(HTTP\/1\.1 401/);
  const noPublish = await php(['--secret', env.hub.secret, '--topic', 'news', '--data', 'x',
    '--static-token', jwt.sign(env.hub.secret, { mercure: { subscribe: ['*'] } })]);
  assert.equal(noPublish.code, 1);
  assert.match(noPublish.err, /Failed to send an update\. \(HTTP\/1\.1 (401|403)/);
});
