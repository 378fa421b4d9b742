// Signs JWS signing inputs with Node's crypto: reads a JSON array of
// {alg, key (PEM private key or HMAC secret), input} on stdin and prints a
// JSON array of base64url signatures. Also exports public JWKs:
// {jwk: PEM public key} -> the JWK.
'use strict';
const crypto = require('crypto');

function sign(alg, key, input) {
  const data = Buffer.from(input);
  const bits = { '256': 'sha256', '384': 'sha384', '512': 'sha512' }[alg.slice(2)];
  if (alg.startsWith('HS')) return crypto.createHmac(bits, key).update(data).digest();
  if (alg === 'EdDSA') return crypto.sign(null, data, crypto.createPrivateKey(key));
  const options = { key: crypto.createPrivateKey(key) };
  if (alg.startsWith('ES')) options.dsaEncoding = 'ieee-p1363';
  if (alg.startsWith('PS')) {
    options.padding = crypto.constants.RSA_PKCS1_PSS_PADDING;
    options.saltLength = crypto.constants.RSA_PSS_SALTLEN_DIGEST;
  }
  return crypto.sign(bits, data, options);
}

let text = '';
process.stdin.on('data', (c) => (text += c));
process.stdin.on('end', () => {
  const out = JSON.parse(text).map((r) =>
    r.jwk ? crypto.createPublicKey(r.jwk).export({ format: 'jwk' }) : sign(r.alg, r.key, r.input).toString('base64url'),
  );
  process.stdout.write(JSON.stringify(out));
});
