'use strict';
// Starts the hub under measurement for the Node benchmarks: h2c and HTTP/1.1
// on an ephemeral loopback port, in-memory history, anonymous subscribers,
// two workers, and any `extra` options (--tls_cert/--tls_key for HTTPS).
// Resolves to {hub (the child process), port} once it listens.
const { spawn } = require('node:child_process');

const PUBLISHER_KEY = 'bench-publisher-key-bench-publisher-key';

function startHub(binary, extra = []) {
  const hub = spawn(binary, ['--listen', '127.0.0.1:0', '--transport', 'memory', '--anonymous', '--workers', '2',
    '--publisher_jwt', PUBLISHER_KEY, '--max_connections', '20000', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    hub.stderr.on('data', (d) => {
      log += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve({ hub, port: Number(m[1]) });
    });
    hub.on('exit', () => reject(new Error('hub exited:\n' + log)));
  });
}

module.exports = { startHub, PUBLISHER_KEY };
