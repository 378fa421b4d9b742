'use strict';
// Memory per idle HTTPS subscriber, side by side with nginx + nchan: each
// scenario starts a fresh server, opens its idle event streams on one topic
// (HTTP/1.1 event streams: `concurrency` handshakes at a time), waits for
// allocations to settle and reports the growth of the server's memory per
// subscriber (RSS; PSS summed over nginx's processes). Scenarios:
//   plain     the hub, plaintext HTTP/1.1 (the reference)
//   tls       the hub, TLS 1.3 full handshakes, ALPN http/1.1
//   tls12     the hub, TLS 1.2
//   resumed   the hub, TLS 1.3 resumed with the ticket of a first connection
//   h2        the hub, HTTP/2 over TLS: H2_CONNECTIONS connections of one
//             stream, then H2_STREAMS - 1 more streams on each: the cost of
//             a connection and of a stream apart
//   nchan     nginx + nchan (Debian's packages, installed when missing),
//             the same certificate, TLS 1.3, two workers
//
//   node bench/tls_idle.js BINARY [SUBSCRIBERS] [SCENARIOS]
//   (defaults: 3000, plain,tls,tls12,resumed,h2,nchan; H2_CONNECTIONS=100 and
//   H2_STREAMS=30 in the environment)
const http2 = require('node:http2');
const { startHub } = require('./hub_process');
const { sleep, memoryKiB, makeCertificate, openEventStream, openMany, startNchan } = require('./tls_clients');

const [binary, subscribers = '3000', which = 'plain,tls,tls12,resumed,h2,nchan'] = process.argv.slice(2);
if (!binary) {
  console.error('usage: node bench/tls_idle.js BINARY [SUBSCRIBERS] [SCENARIOS]');
  process.exit(2);
}
const N = Number(subscribers);
if (!(N > 0 && N <= 5000)) {
  console.error('tls_idle: SUBSCRIBERS is 1 to 5000 (one process holds them all, and the fd limit)');
  process.exit(2);
}
const H2C = Number(process.env.H2_CONNECTIONS || 100);
const H2S = Number(process.env.H2_STREAMS || 30);
const CONCURRENCY = 50;
const SETTLE_MS = 1500;
const TARGET = '/.well-known/mercure?topic=bench';
const certificate = makeCertificate();
const tlsArgs = ['--tls_cert', certificate.cert, '--tls_key', certificate.key];

const perSubscriber = (before, after, n) => Math.round(((after - before) * 1024) / n);

async function measure(label, pids, count, open) {
  await sleep(500);
  const before = memoryKiB(pids);
  const t0 = Date.now();
  const sockets = await open();
  const seconds = (Date.now() - t0) / 1000;
  await sleep(SETTLE_MS);
  const after = memoryKiB(pids);
  console.log(`${label}: ${count} idle subscribers in ${seconds.toFixed(1)} s; RSS ${before.rss} -> ${after.rss} KiB ` +
    `= ${perSubscriber(before.rss, after.rss, count)} B each (PSS ${perSubscriber(before.pss, after.pss, count)} B)`);
  return { sockets, before, after };
}

async function hubScenario(label, extra, open) {
  const { hub, port } = await startHub(binary, extra);
  try {
    const { sockets } = await measure(label, [hub.pid], N, () => openMany(N, CONCURRENCY, () => open(port)));
    for (const s of sockets) s.destroy();
  } finally {
    hub.kill('SIGTERM');
  }
}

async function h2Scenario() {
  const { hub, port } = await startHub(binary, tlsArgs);
  try {
    const sessions = [];
    const streams = [];
    const openStream = (session) => new Promise((resolve, reject) => {
      const req = session.request({ ':path': TARGET });
      req.on('response', (h) => (h[':status'] === 200 ? resolve(req) : reject(new Error('status ' + h[':status']))));
      req.on('data', () => {});
      req.on('error', reject);
      streams.push(req);
    });
    const first = await measure(`h2 over TLS, ${H2C} connections x 1 stream`, [hub.pid], H2C, async () => {
      for (let c = 0; c < H2C; c++) {
        const session = http2.connect(`https://localhost:${port}`, { ca: certificate.ca, host: '127.0.0.1' });
        session.on('error', () => {});
        sessions.push(session);
      }
      await Promise.all(sessions.map(openStream));
      return sessions;
    });
    const more = H2C * (H2S - 1);
    const second = await measure(`h2 over TLS, ${H2S - 1} more streams on each connection`, [hub.pid], more,
      async () => {
        await Promise.all(sessions.flatMap((s) => Array.from({ length: H2S - 1 }, () => openStream(s))));
        return sessions;
      });
    const perStream = perSubscriber(first.after.rss, second.after.rss, more);
    const perConnection = perSubscriber(first.before.rss, first.after.rss, H2C) - perStream;
    console.log(`h2 over TLS: ${perStream} B per stream, ${perConnection} B per connection (its first stream apart)`);
    for (const s of sessions) s.destroy();
  } finally {
    hub.kill('SIGTERM');
  }
}

async function nchanScenario() {
  const nginx = await startNchan(certificate);
  try {
    const { sockets } = await measure('nchan over TLS 1.3', nginx.pids, N,
      () => openMany(N, CONCURRENCY, () => openEventStream(nginx.port, certificate.ca, '/sub')));
    for (const s of sockets) s.destroy();
  } finally {
    nginx.stop();
  }
}

async function main() {
  console.log(`tls_idle ${binary} ${N} ${which}`);
  for (const scenario of which.split(',')) {
    if (scenario === 'plain') {
      await hubScenario('hub plaintext HTTP/1.1', [], (port) => openEventStream(port, null, TARGET, { plain: true }));
    } else if (scenario === 'tls') {
      await hubScenario('hub TLS 1.3 HTTP/1.1', tlsArgs, (port) => openEventStream(port, certificate.ca, TARGET));
    } else if (scenario === 'tls12') {
      await hubScenario('hub TLS 1.2 HTTP/1.1', tlsArgs,
        (port) => openEventStream(port, certificate.ca, TARGET, { maxVersion: 'TLSv1.2' }));
    } else if (scenario === 'resumed') {
      let ticket = null;
      let resumed = 0;
      await hubScenario('hub TLS 1.3 HTTP/1.1 resumed with a ticket', tlsArgs, async (port) => {
        while (!ticket) {
          const first = await openEventStream(port, certificate.ca, TARGET);
          await sleep(50); // the ticket follows the handshake
          ticket = first.ticket || null;
          first.destroy();
        }
        const s = await openEventStream(port, certificate.ca, TARGET, { session: ticket });
        if (s.isSessionReused()) resumed++;
        return s;
      });
      console.log(`  of which resumed: ${resumed} of ${N}`);
    } else if (scenario === 'h2') {
      await h2Scenario();
    } else if (scenario === 'nchan') {
      await nchanScenario();
    } else {
      throw new Error(`unknown scenario ${scenario}`);
    }
  }
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => require('node:fs').rmSync(certificate.dir, { recursive: true, force: true }));
