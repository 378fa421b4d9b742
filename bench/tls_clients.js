'use strict';
// Shared by the TLS benchmarks (tls_idle.js, tls_fanout.js): a self-signed
// certificate, idle event streams over TLS with Node's tls module (HTTP/1.1,
// ALPN), nginx + nchan serving the same certificate, and memory readers.
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { execFileSync, spawn } = require('node:child_process');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resident and proportional set sizes of the processes, in KiB (PSS shares
// the pages several processes map among them, so nginx's master and
// workers add up without counting shared memory twice).
function memoryKiB(pids) {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    rss += Number(/^Rss:\s+(\d+)/m.exec(text)[1]);
    pss += Number(/^Pss:\s+(\d+)/m.exec(text)[1]);
  }
  return { rss, pss };
}

// A self-signed P-256 certificate for localhost and 127.0.0.1 (openssl CLI),
// as the hub's integration tests make them.
function makeCertificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qs-tls-bench-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { dir, cert, key, ca: fs.readFileSync(cert) };
}

// Opens one event stream: TLS (1.3 unless maxVersion says otherwise), ALPN
// http/1.1, or plain TCP with `plain`, then GET `target` with HTTP/1.1. Resolves to the socket once the
// response headers arrived (status 200); `onData(text)` gets the rest.
function openEventStream(port, ca, target, { session, onData, maxVersion, plain } = {}) {
  return new Promise((resolve, reject) => {
    const socket = plain ? net.connect(port, '127.0.0.1')
      : tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'], session,
        maxVersion: maxVersion || 'TLSv1.3' });
    let head = '';
    let answered = false;
    socket.setEncoding('latin1');
    socket.on('session', (ticket) => { socket.ticket = ticket; }); // TLS 1.3 tickets come after the handshake
    socket.on(plain ? 'connect' : 'secureConnect', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
    });
    socket.on('data', (text) => {
      if (answered) {
        if (onData) onData(text);
        return;
      }
      head += text;
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      answered = true;
      if (!/^HTTP\/1\.1 200/.test(head)) {
        socket.destroy();
        reject(new Error(`event stream refused: ${head.split('\r\n')[0]}`));
        return;
      }
      resolve(socket);
      if (onData && head.length > end + 4) onData(head.slice(end + 4));
    });
    socket.on('error', (e) => { if (!answered) reject(e); });
  });
}

// Opens `count` event streams, `concurrency` handshakes at a time.
async function openMany(count, concurrency, open) {
  const sockets = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      next++;
      sockets.push(await open());
    }
  }));
  return sockets;
}

const NGINX = '/usr/sbin/nginx';
const NCHAN = '/usr/lib/nginx/modules/ngx_nchan_module.so';

// Installs nginx and nchan from Debian when they are missing (root only).
function ensureNchan() {
  if (fs.existsSync(NGINX) && fs.existsSync(NCHAN)) return;
  if (process.getuid() !== 0) throw new Error(`${NGINX} or ${NCHAN} missing: apt-get install nginx libnginx-mod-nchan`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx', 'libnginx-mod-nchan'],
    { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

const freePort = () => new Promise((resolve) => {
  const server = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

// nginx + nchan on a loopback port with the same certificate: TLS 1.2 and
// 1.3, two worker processes (the hub runs two workers), EventSource
// subscribers on /sub and publishers on /pub, one channel "bench".
// Resolves to {port, pids: master and workers, stop()}.
async function startNchan(certificate, workers = 2) {
  ensureNchan();
  const port = await freePort();
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'qs-nchan-'));
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(conf, `load_module ${NCHAN};
daemon off;
master_process on;
user root;
worker_processes ${workers};
worker_rlimit_nofile 20000;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 10000; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certificate.cert};
    ssl_certificate_key ${certificate.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /sub { nchan_subscriber eventsource; nchan_channel_id bench; }
    location = /pub { nchan_publisher; nchan_channel_id bench; }
  }
}
`);
  const master = spawn(NGINX, ['-p', prefix, '-c', conf], { stdio: 'ignore' });
  const until = Date.now() + 10000;
  for (;;) {
    const workerPids = childrenOf(master.pid);
    if (workerPids.length === workers && (await portOpen(port))) {
      return {
        port,
        pids: [master.pid, ...workerPids],
        stop: () => {
          master.kill('SIGTERM');
          fs.rmSync(prefix, { recursive: true, force: true });
        },
      };
    }
    if (Date.now() > until || master.exitCode !== null) {
      master.kill('SIGKILL');
      throw new Error('nginx did not start: ' + fs.readFileSync(path.join(prefix, 'error.log'), 'utf8'));
    }
    await sleep(50);
  }
}

function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

const portOpen = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

module.exports = { sleep, memoryKiB, makeCertificate, openEventStream, openMany, startNchan };
