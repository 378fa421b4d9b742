'use strict';
// HS256 JSON Web Tokens, minted the way the back end of the use case does:
// header {"typ":"JWT","alg":"HS256"} and the legacy `mercure` claim.
const crypto = require('node:crypto');

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// Signs `claims` (an object, or a JSON string when the exact text matters, as
// with lcobucci/jwt's fractional `exp`) with `secret`.
function sign(secret, claims, header = { typ: 'JWT', alg: 'HS256' }) {
  const payload = typeof claims === 'string' ? claims : JSON.stringify(claims);
  const input = b64url(JSON.stringify(header)) + '.' + b64url(payload);
  return input + '.' + b64url(crypto.createHmac('sha256', secret).update(input).digest());
}

// `exp` in seconds from now, written with microseconds as lcobucci/jwt (used by
// symfony/mercure) writes it, e.g. 1767229200.123456.
function expIn(seconds) {
  return (Date.now() / 1000 + seconds).toFixed(6);
}

// Legacy subscriber token: {"exp": <float>, "mercure": {"publish": [], "subscribe": [...]}}.
function legacySubscriber(secret, topics, ttlSeconds = 3600) {
  return sign(secret, `{"exp":${expIn(ttlSeconds)},"mercure":${JSON.stringify({ publish: [], subscribe: topics })}}`);
}

// Legacy publisher token: {"exp": <float>, "mercure": {"publish": ["*"], "subscribe": []}}.
function legacyPublisher(secret, topics = ['*'], ttlSeconds = 3600) {
  return sign(secret, `{"exp":${expIn(ttlSeconds)},"mercure":${JSON.stringify({ publish: topics, subscribe: [] })}}`);
}

module.exports = { sign, expIn, legacySubscriber, legacyPublisher };
