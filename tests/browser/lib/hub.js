'use strict';
// Starts the hub under test (the binary in $QS_BINARY) on a free loopback port
// and stops it. The hub logs `listening on 127.0.0.1:<port>` on stderr when it
// is ready.
const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const https = require('node:https');

const SECRET = 'browser-tests-secret-that-is-long-enough-for-hs256';

function hubBinary() {
  const candidates = [
    process.env.QS_BINARY,
    path.resolve(__dirname, '../../../build/sanitize/quicksilver'),
    path.resolve(__dirname, '../../../build-browser/quicksilver'),
  ].filter(Boolean);
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error('hub binary not found: set QS_BINARY (tried ' + candidates.join(', ') + ')');
}

// options.args: extra command-line options; options.corsOrigins: list;
// options.tls: {cert, key, ca} serves HTTPS (and HTTP/2 through ALPN).
async function startHub(options = {}) {
  const args = [
    '--listen', '127.0.0.1:0',
    '--transport', 'memory',
    '--publisher_jwt', SECRET,
    '--subscriber_jwt', SECRET,
    '--log_level', 'debug',
    '--workers', '2',
    // SIGTERM then stops at once, as the tests' teardown expects (drain_timeout has its own tests).
    '--drain_timeout', '0',
  ];
  if (options.corsOrigins && options.corsOrigins.length) args.push('--cors_origins', options.corsOrigins.join(','));
  if (options.tls) args.push('--tls_cert', options.tls.cert, '--tls_key', options.tls.key);
  args.push(...(options.args || []));
  const child = spawn(hubBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const onData = (chunk) => {
    log += chunk.toString();
    if (process.env.QS_HUB_LOG) process.stderr.write('[hub] ' + chunk);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hub did not start within 15 s:\n' + log)), 15000);
    const check = () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr.on('data', check);
    child.stdout.on('data', check);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`hub exited (${code ?? signal}) before listening:\n${log}`));
    });
  });
  const scheme = options.tls ? 'https' : 'http';
  const hub = {
    port,
    child,
    secret: SECRET,
    ca: options.tls ? options.tls.ca : null,
    get log() { return log; },
    // The URL the browser uses: the hub's own name, mapped to 127.0.0.1.
    url: `${scheme}://hub.example.test:${port}/.well-known/mercure`,
    // The URL the test process itself uses (no name resolution tricks).
    localUrl: `${scheme}://127.0.0.1:${port}/.well-known/mercure`,
    origin: `${scheme}://hub.example.test:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return hub;
}

// Publishes from the test process (as the back end would, without PHP): form
// fields in the order symfony/mercure sends them. Returns {status, body}.
async function publish(hub, token, fields) {
  const body = new URLSearchParams();
  for (const t of [].concat(fields.topic)) body.append('topic', t);
  body.append('data', fields.data ?? '');
  if (fields.private) body.append('private', 'on');
  for (const k of ['id', 'type', 'retry']) if (fields[k] != null) body.append(k, String(fields[k]));
  const headers = { Authorization: 'Bearer ' + token, 'Content-Type': 'application/x-www-form-urlencoded' };
  if (hub.ca) return postTls(hub, headers, body.toString());
  const res = await fetch(hub.localUrl, { method: 'POST', headers, body: body.toString() });
  return { status: res.status, body: await res.text() };
}

// A POST over HTTPS that trusts the test certificate (fetch() has no option for it).
function postTls(hub, headers, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(hub.localUrl, { method: 'POST', headers, ca: hub.ca, servername: 'hub.example.test' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

module.exports = { startHub, publish, hubBinary, SECRET };
