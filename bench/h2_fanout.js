'use strict';
// Fan-out over HTTP/2: starts the hub (h2c, in-memory history, anonymous
// subscribers), opens CONNECTIONS connections of STREAMS event streams each
// on one topic with Node's HTTP/2 client, publishes UPDATES updates over
// HTTP/1.1 keep-alive (PUBLISHERS at a time), and reports deliveries per
// second until every stream has every update, with the hub's CPU time.
//
//   node bench/h2_fanout.js BINARY [CONNECTIONS] [STREAMS] [UPDATES] [PUBLISHERS]
//   (defaults: 120 x 125 = 15,000 streams, 200 updates, 4 publishers)
const http = require('node:http');
const http2 = require('node:http2');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const { startHub, PUBLISHER_KEY: KEY } = require('./hub_process');

const args = process.argv.slice(2);
if (!args[0]) {
  console.error('usage: node bench/h2_fanout.js BINARY [CONNECTIONS] [STREAMS] [UPDATES] [PUBLISHERS]');
  process.exit(2);
}
const [binary] = args;
const [C, S, M, P] = [args[1] || 120, args[2] || 125, args[3] || 200, args[4] || 4].map(Number);
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpuSeconds = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS; // utime + stime
};

async function main() {
  const { hub, port } = await startHub(binary);
  const token = execFileSync(binary, ['token', '--key', KEY, '--publish', '*']).toString().trim().split('\n').pop();

  // Each stream counts the events it got: one "data: " line each (the data
  // has no newline; a chunk boundary may split the marker, hence the tail).
  let opened = 0;
  let delivered = 0;
  const sessions = [];
  for (let c = 0; c < C; c++) {
    const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 1 << 20 } });
    session.on('error', () => {});
    sessions.push(session);
    for (let i = 0; i < S; i++) {
      const req = session.request({ ':path': '/.well-known/mercure?topic=bench' });
      req.on('response', () => opened++);
      let tail = '';
      req.setEncoding('latin1');
      req.on('data', (chunk) => {
        const text = tail + chunk;
        for (let at = text.indexOf('data: '); at >= 0; at = text.indexOf('data: ', at + 6)) delivered++;
        tail = text.slice(-5); // too short to hold a whole marker, so none is counted twice
      });
      req.on('error', () => {});
    }
  }
  while (opened < C * S) await sleep(20);
  await sleep(500);

  const agent = new http.Agent({ keepAlive: true, maxSockets: P });
  const data = JSON.stringify({ bench: 'x'.repeat(40) });
  const publish = () => new Promise((resolve, reject) => {
    const body = `topic=bench&data=${encodeURIComponent(data)}`;
    const req = http.request({ host: '127.0.0.1', port, path: '/.well-known/mercure', method: 'POST', agent,
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': Buffer.byteLength(body) } }, (res) => {
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
  const want = C * S * M;
  const until = Date.now() + 120000;
  while (delivered < want && Date.now() < until) await sleep(5);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(hub.pid) - cpu0;
  console.log(`h2_fanout ${C} connections x ${S} streams, ${M} updates, ${P} publishers: ` +
    `${delivered} of ${want} delivered in ${seconds.toFixed(3)} s = ${Math.round(delivered / seconds)} deliveries/s; ` +
    `hub CPU ${cpu.toFixed(2)} s (${((cpu * 1e9) / delivered).toFixed(0)} ns per delivery)`);
  for (const s of sessions) s.destroy();
  agent.destroy();
  hub.kill('SIGTERM');
  if (delivered < want) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
