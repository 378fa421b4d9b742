'use strict';
// Memory per idle HTTP/2 event stream: starts the hub (h2c, in-memory
// history, anonymous subscribers), opens CONNECTIONS connections of STREAMS
// event streams each (a distinct topic per stream) with Node's HTTP/2 client,
// and reports the growth of the hub's resident memory per stream.
//
//   node bench/h2_idle.js BINARY [CONNECTIONS] [STREAMS]     (default 80 x 125)
const http2 = require('node:http2');
const fs = require('node:fs');
const { startHub } = require('./hub_process');

const [binary, connections = '80', streams = '125'] = process.argv.slice(2);
if (!binary) {
  console.error('usage: node bench/h2_idle.js BINARY [CONNECTIONS] [STREAMS]');
  process.exit(2);
}
const C = Number(connections);
const S = Number(streams);

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const { hub, port } = await startHub(binary);
  await sleep(500);
  const before = rssKiB(hub.pid);
  let opened = 0;
  const sessions = [];
  for (let c = 0; c < C; c++) {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    sessions.push(session);
    for (let i = 0; i < S; i++) {
      const req = session.request({ ':path': `/.well-known/mercure?topic=${encodeURIComponent(`https://example.com/${c}/${i}`)}` });
      req.on('response', (h) => { if (h[':status'] === 200) opened++; });
      req.on('data', () => {});
      req.on('error', () => {});
    }
  }
  const until = Date.now() + 60000;
  while (opened < C * S && Date.now() < until) await sleep(50);
  await sleep(2000); // let allocations settle
  const after = rssKiB(hub.pid);
  console.log(`h2_idle ${C} connections x ${S} streams: ${opened} open; hub RSS ${before} KiB -> ${after} KiB; ` +
    `${Math.round(((after - before) * 1024) / opened)} B per idle stream`);
  for (const s of sessions) s.destroy();
  hub.kill('SIGTERM');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
