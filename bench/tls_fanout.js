'use strict';
// Fan-out over TLS: starts the hub with a certificate (in-memory history,
// anonymous subscribers, two workers), opens SUBSCRIBERS event streams on
// one topic over TLS 1.3 (HTTP/1.1, ALPN), publishes UPDATES updates over
// HTTPS keep-alive (PUBLISHERS at a time), and reports deliveries per second
// until every subscriber has every update, with the hub's CPU time.
//
//   node bench/tls_fanout.js BINARY [SUBSCRIBERS] [UPDATES] [PUBLISHERS]
//   (defaults: 5000 subscribers, 100 updates, 4 publishers)
const https = require('node:https');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const { startHub, PUBLISHER_KEY: KEY } = require('./hub_process');
const { sleep, makeCertificate, openEventStream, openMany } = require('./tls_clients');

const args = process.argv.slice(2);
if (!args[0]) {
  console.error('usage: node bench/tls_fanout.js BINARY [SUBSCRIBERS] [UPDATES] [PUBLISHERS]');
  process.exit(2);
}
const [binary] = args;
const [N, M, P] = [args[1] || 5000, args[2] || 100, args[3] || 4].map(Number);
if (!(N > 0 && N <= 5000)) {
  console.error('tls_fanout: SUBSCRIBERS is 1 to 5000');
  process.exit(2);
}
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString());
const cpuSeconds = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS; // utime + stime
};

async function main() {
  const certificate = makeCertificate();
  const { hub, port } = await startHub(binary, ['--tls_cert', certificate.cert, '--tls_key', certificate.key]);
  try {
    const token = execFileSync(binary, ['token', '--key', KEY, '--publish', '*']).toString().trim().split('\n').pop();
    // Each subscriber counts its "data: " lines (the data has no newline; a
    // read may split the marker, hence the tail).
    let delivered = 0;
    const sockets = await openMany(N, 50, () => {
      let tail = '';
      return openEventStream(port, certificate.ca, '/.well-known/mercure?topic=bench', {
        onData: (chunk) => {
          const text = tail + chunk;
          for (let at = text.indexOf('data: '); at >= 0; at = text.indexOf('data: ', at + 6)) delivered++;
          tail = text.slice(-5);
        },
      });
    });
    await sleep(500);

    const agent = new https.Agent({ keepAlive: true, maxSockets: P, ca: certificate.ca });
    const data = JSON.stringify({ bench: 'x'.repeat(40) });
    const publish = () => new Promise((resolve, reject) => {
      const body = `topic=bench&data=${encodeURIComponent(data)}`;
      const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, path: '/.well-known/mercure',
        method: 'POST', agent, headers: { Authorization: 'Bearer ' + token,
          'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error('publish ' + res.statusCode))));
      });
      req.on('error', reject);
      req.end(body);
    });
    const cpu0 = cpuSeconds(hub.pid);
    const t0 = process.hrtime.bigint();
    let next = 0;
    await Promise.all(Array.from({ length: P }, async () => {
      while (next < M) {
        next++;
        await publish();
      }
    }));
    const want = N * M;
    const until = Date.now() + 120000;
    while (delivered < want && Date.now() < until) await sleep(5);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds(hub.pid) - cpu0;
    console.log(`tls_fanout ${N} subscribers, ${M} updates, ${P} publishers: ` +
      `${delivered} of ${want} delivered in ${seconds.toFixed(3)} s = ${Math.round(delivered / seconds)} deliveries/s; ` +
      `hub CPU ${cpu.toFixed(2)} s (${((cpu * 1e9) / delivered).toFixed(0)} ns per delivery)`);
    for (const s of sockets) s.destroy();
    agent.destroy();
    if (delivered < want) process.exitCode = 1;
  } finally {
    hub.kill('SIGTERM');
    fs.rmSync(certificate.dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
