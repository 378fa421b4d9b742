'use strict';
// The application server of the use case, reduced to what the browser needs:
// a login that sets the `mercureAuthorization` cookie for the shared domain
// (as the Symfony back end does at login), a refresh of that cookie, a bearer
// token for the draft-08 page, and the pages themselves. Node's http module
// only, no framework. It answers for any host name, so the same server is the
// application (app.example.test) and the foreign site (evil.example.org).
const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const jwt = require('./jwt');

const PAGES = path.join(__dirname, '..', 'pages');
const POLYFILL = require.resolve('event-source-polyfill/src/eventsource.js');

// The cookie the back end hands out at login.
//
// - Domain=example.test: the application (app.example.test) and the hub
//   (hub.example.test) are two hosts of one registrable domain; without a
//   Domain attribute the cookie would be host-only and never reach the hub.
// - Path=/.well-known/mercure: only the hub's endpoint receives it.
// - HttpOnly: page scripts cannot read the token.
// - SameSite=Lax by default. What Chromium requires over plain http (checked
//   by cookie.test.js, which logs in with each value):
//     Lax and Strict: work. app.example.test and hub.example.test are the
//       same site (scheme http and registrable domain example.test alike), so
//       the EventSource request to the hub is a same-site request, which
//       carries Lax and Strict cookies (Strict is symfony/mercure's default).
//     None: refused. Chromium rejects SameSite=None without Secure when it
//       stores the cookie, and Secure cannot be set over http, so the hub
//       never sees it. None is needed only when the hub is on another site,
//       and then only over https.
//   A foreign site (evil.example.org) is cross-site: with Lax or Strict the
//   browser does not send the cookie there at all.
// - No Secure: a Secure cookie is neither stored from an http response nor
//   sent on an http request, and these tests run over plain http on loopback.
//   In production (https) the back end adds Secure, as symfony/mercure does
//   whenever the hub URL is https.
function mercureCookie(token, opts = {}) {
  const parts = [`mercureAuthorization=${token}`];
  if (opts.domain !== '') parts.push(`Domain=${opts.domain || 'example.test'}`);
  parts.push(`Path=${opts.path || '/.well-known/mercure'}`);
  parts.push('HttpOnly');
  if (opts.sameSite !== '') parts.push(`SameSite=${opts.sameSite || 'Lax'}`);
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}

function parseCookies(header) {
  const out = {};
  for (const part of (header || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

// options: {hub: {url, secret}, resourceIdentifier}, read at each request, so
// the hub can be started after the application (it needs the app's origin).
// options.tls: {cert, key} (file paths) serves https instead of http.
function startAppServer(options = {}) {
  const serve = (handler) =>
    options.tls
      ? https.createServer({ cert: fs.readFileSync(options.tls.cert), key: fs.readFileSync(options.tls.key) }, handler)
      : http.createServer(handler);
  const server = serve((req, res) => {
    const hub = options.hub;
    const url = new URL(req.url, 'http://' + (req.headers.host || 'localhost'));
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
      res.end(body);
    };
    const session = parseCookies(req.headers.cookie).session;
    const [user, ttl] = (session || '').split(':');

    if (url.pathname === '/login') {
      // ?user=<id>&ttl=<seconds of the mercure token>&samesite=&domain=&secure=1
      const id = url.searchParams.get('user');
      if (!/^[A-Za-z0-9_-]+$/.test(id || '')) return send(400, 'text/plain', 'bad user');
      const seconds = Number(url.searchParams.get('ttl') || 3600);
      const token = jwt.legacySubscriber(hub.secret, [`access/${id}`], seconds);
      const cookie = mercureCookie(token, {
        sameSite: url.searchParams.get('samesite') ?? undefined,
        domain: url.searchParams.get('domain') ?? undefined,
        secure: url.searchParams.get('secure') === '1',
      });
      return send(200, 'text/html; charset=utf-8', `<!DOCTYPE html><title>Logged in</title><p>Logged in as ${id}</p>`, {
        // The application's own session: host-only, for /refresh and /token.
        'Set-Cookie': [cookie, `session=${id}:${seconds}; Path=/; HttpOnly; SameSite=Lax`],
      });
    }
    if (url.pathname === '/login-symfony') {
      // The cookie exactly as symfony/mercure's Authorization::createCookie()
      // builds it for this request's host (php/mercure.php cookie): Domain
      // .example.test, Path /.well-known/mercure, HttpOnly, SameSite=strict,
      // no Secure since the hub URL is http.
      const id = url.searchParams.get('user');
      if (!/^[A-Za-z0-9_-]+$/.test(id || '')) return send(400, 'text/plain', 'bad user');
      const cookie = execFileSync('php', [
        path.join(__dirname, '..', 'php', 'mercure.php'), 'cookie',
        '--hub', hub.url, '--secret', hub.secret, '--host', url.hostname, '--subscribe', `access/${id}`,
      ]).toString().trim();
      return send(200, 'text/html; charset=utf-8', `<!DOCTYPE html><title>Logged in</title><p>Logged in as ${id} (Symfony cookie)</p>`, {
        'Set-Cookie': [cookie, `session=${id}:3600; Path=/; HttpOnly; SameSite=Lax`],
      });
    }
    if (url.pathname === '/refresh') {
      // A fresh mercure cookie for the logged-in user, asked for by the page
      // when its stream dropped (the token expired): long-lived this time.
      if (!user) return send(401, 'text/plain', 'not logged in');
      const token = jwt.legacySubscriber(hub.secret, [`access/${user}`], 3600);
      return send(204, 'text/plain', '', { 'Set-Cookie': mercureCookie(token) });
    }
    if (url.pathname === '/token') {
      // A draft-08 subscriber token for the page that sends it as a bearer
      // token (the token is then readable by scripts: that is the trade-off).
      if (!user) return send(401, 'text/plain', 'not logged in');
      const claims = {
        aud: options.resourceIdentifier,
        exp: Math.floor(Date.now() / 1000) + 3600,
        authorization_details: [
          {
            type: 'https://mercure.rocks/authorization-detail',
            actions: ['subscribe'],
            topics: [{ match: `access/${user}` }],
          },
        ],
      };
      return send(200, 'application/json', JSON.stringify({ token: jwt.sign(hub.secret, claims, { alg: 'HS256', typ: 'at+jwt' }) }));
    }
    if (url.pathname === '/config.js') {
      return send(200, 'text/javascript', `window.HUB_URL = ${JSON.stringify(hub.url)};\n`);
    }
    if (url.pathname === '/vendor/eventsource.js') {
      return send(200, 'text/javascript', fs.readFileSync(POLYFILL));
    }
    const m = /^\/([a-z0-9-]+\.(html|js))$/.exec(url.pathname);
    if (m && fs.existsSync(path.join(PAGES, m[1]))) {
      const type = m[2] === 'html' ? 'text/html; charset=utf-8' : 'text/javascript';
      return send(200, type, fs.readFileSync(path.join(PAGES, m[1])));
    }
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    return send(404, 'text/plain', 'not found');
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      resolve({
        port,
        origin: `${options.tls ? 'https' : 'http'}://app.example.test:${port}`,
        evilOrigin: `${options.tls ? 'https' : 'http'}://evil.example.org:${port}`,
        options,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
      });
    });
  });
}

module.exports = { startAppServer, mercureCookie };
