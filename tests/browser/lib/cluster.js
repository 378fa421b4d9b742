'use strict';
// Several hub nodes on the redis transport behind a real load balancer:
// Debian's redis-server and haproxy, each on a free loopback port with its
// files in a temporary directory, started and stopped (by their process)
// here. The nodes are started with lib/hub.js.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { startHub } = require('./hub');

const INSTALL = 'run scripts/install-deps.sh --test and scripts/install-test-tools.sh';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Resolves once something accepts TCP connections on the port.
async function waitForPort(port, child, name, log) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    const up = await new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => { sock.destroy(); resolve(true); });
      sock.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not listen on ${port} within 15 s:\n${log()}`);
}

function run(exe, args, name) {
  if (!fs.existsSync(exe)) throw new Error(`${exe} is missing: ${INSTALL}`);
  const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (c) => (log += c));
  child.stderr.on('data', (c) => (log += c));
  return { child, log: () => log.slice(-4000) };
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  return exited.then(() => clearTimeout(timer));
}

// Starts Redis, `count` nodes sharing one stream, and HAProxy balancing them
// round robin without stickiness. hubOptions go to startHub for every node.
// Returns {nodes, balancer: {port, url, localUrl, origin, secret}, tearDown()}.
async function startCluster(count, hubOptions = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qs-cluster-'));
  const started = [];
  const nodes = [];
  const tearDown = async () => {
    const codes = [];
    for (const node of nodes) codes.push(await node.stop());
    for (const s of started.reverse()) await stop(s.child);
    fs.rmSync(dir, { recursive: true, force: true });
    const bad = codes.map((c, i) => [c, i]).filter(([c]) => c !== 0);
    if (bad.length) throw new Error(bad.map(([c, i]) => `node ${i + 1} exited with ${c}:\n${nodes[i].log.slice(-3000)}`).join('\n'));
  };
  try {
    const redisPort = await freePort();
    const redis = run('/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], 'redis-server');
    started.push(redis);
    await waitForPort(redisPort, redis.child, 'redis-server', redis.log);
    const stream = `qs-browser-${process.pid}-${Date.now()}`;
    for (let i = 0; i < count; i++) {
      nodes.push(await startHub({
        ...hubOptions,
        args: [...(hubOptions.args || []), '--transport', 'redis', '--redis_url', `redis://127.0.0.1:${redisPort}`,
          '--redis_stream', stream],
      }));
    }
    const port = await freePort();
    const config = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(config, [
      'global',
      '  maxconn 2000',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 120s',
      '  timeout server 120s',
      'frontend hub',
      `  bind 127.0.0.1:${port}`,
      '  default_backend nodes',
      'backend nodes',
      '  balance roundrobin',
      ...nodes.map((n, i) => `  server n${i + 1} 127.0.0.1:${n.port}`),
      '',
    ].join('\n'));
    const haproxy = run('/usr/sbin/haproxy', ['-db', '-f', config], 'haproxy');
    started.push(haproxy);
    await waitForPort(port, haproxy.child, 'haproxy', haproxy.log);
    const balancer = {
      port,
      secret: nodes[0].secret,
      ca: null,
      url: `http://hub.example.test:${port}/.well-known/mercure`,
      localUrl: `http://127.0.0.1:${port}/.well-known/mercure`,
      origin: `http://hub.example.test:${port}`,
    };
    return { nodes, balancer, redisPort, stream, tearDown };
  } catch (e) {
    await tearDown().catch(() => {});
    throw e;
  }
}

module.exports = { startCluster };
