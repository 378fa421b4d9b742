'use strict';
// A self-signed certificate for the test names (openssl CLI): the hub and
// the application serve it, Chromium runs with --ignore-certificate-errors
// and the test process trusts it explicitly.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function makeCertificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qs-tls-'));
  const cert = path.join(dir, 'test.crt');
  const key = path.join(dir, 'test.key');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=hub.example.test',
    '-addext', 'subjectAltName=DNS:hub.example.test,DNS:app.example.test,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return {
    cert,
    key,
    ca: fs.readFileSync(cert),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

module.exports = { makeCertificate };
