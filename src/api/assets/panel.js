'use strict';
// The operator's panel: charts drawn from /metrics polled every second, the
// active subscriptions (subscriptions option), and a token explainer that
// decodes in the page and asks only this hub (POST /panel/token) to verify.
const HISTORY_MS = 5 * 60 * 1000;
const POLL_MS = 1000;
const byId = (id) => document.getElementById(id);
const same = (path) => new URL(path, location.href);
const panel = { hub: null, samples: [], last: null };
window.qsPanel = panel;

const CHARTS = [
  { id: 'chart-connections', metric: 'quicksilver_connections', color: '#1f6feb', rate: false },
  { id: 'chart-subscribers', metric: 'mercure_subscribers_connected', color: '#1a7f37', rate: false },
  { id: 'chart-publishes', metric: 'mercure_updates_total', color: '#cf222e', rate: true },
  { id: 'chart-deliveries', metric: 'quicksilver_deliveries_total', color: '#8250df', rate: true },
];

function parseMetrics(text) {
  const values = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? ([-+0-9.eE]+|NaN|[+-]Inf)/.exec(line);
    if (m) values[m[1]] = Number(m[2]);
  }
  return values;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const f of [1, 2, 5, 10]) if (v <= f * p) return f * p;
  return 10 * p;
}

function formatValue(v) {
  if (!Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(1);
}

// One chart: the points of the last HISTORY_MS, time on x, 0..nice max on y.
function draw(chart, points, now) {
  const canvas = byId(chart.id).querySelector('canvas');
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(100, canvas.clientWidth), height = Math.max(60, canvas.clientHeight);
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, width, height);
  const top = 16, bottom = height - 14, left = 4, right = width - 4;
  const max = niceMax(Math.max(0, ...points.map((p) => p.v)));
  g.strokeStyle = '#d8dbe0';
  g.lineWidth = 1;
  g.beginPath();
  g.moveTo(left, top + 0.5); g.lineTo(right, top + 0.5);
  g.moveTo(left, bottom + 0.5); g.lineTo(right, bottom + 0.5);
  g.stroke();
  g.fillStyle = '#667085';
  g.font = '11px system-ui, sans-serif';
  g.textBaseline = 'top';
  g.fillText(formatValue(max), left, 2);
  g.textBaseline = 'bottom';
  g.fillText('-5 min', left, height);
  const nowLabel = 'now';
  g.fillText(nowLabel, right - g.measureText(nowLabel).width, height);
  const x = (t) => right - ((now - t) / HISTORY_MS) * (right - left);
  const y = (v) => bottom - (Math.max(0, v) / max) * (bottom - top);
  if (points.length) {
    g.beginPath();
    points.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p.v)) : g.moveTo(x(p.t), y(p.v))));
    g.strokeStyle = chart.color;
    g.lineWidth = 2;
    g.stroke();
    g.lineTo(x(points[points.length - 1].t), bottom);
    g.lineTo(x(points[0].t), bottom);
    g.closePath();
    g.globalAlpha = 0.12;
    g.fillStyle = chart.color;
    g.fill();
    g.globalAlpha = 1;
  }
  const figure = byId(chart.id);
  const latest = points.length ? points[points.length - 1].v : NaN;
  figure.querySelector('.now').textContent = formatValue(latest);
  // What the chart shows, for people using assistive technology and for tests.
  figure.dataset.points = String(points.length);
  figure.dataset.now = Number.isFinite(latest) ? String(latest) : '';
  figure.dataset.max = String(max);
  canvas.setAttribute('aria-label', figure.querySelector('figcaption').firstChild.textContent.trim() +
    ': now ' + formatValue(latest) + ', at most ' + formatValue(max) + ' over the last minutes');
}

function seriesOf(chart) {
  const out = [];
  const s = panel.samples;
  for (let i = 0; i < s.length; i++) {
    const v = s[i].values[chart.metric];
    if (v === undefined) continue;
    if (!chart.rate) { out.push({ t: s[i].t, v }); continue; }
    if (i === 0 || s[i - 1].values[chart.metric] === undefined) continue;
    const dt = (s[i].t - s[i - 1].t) / 1000;
    const dv = v - s[i - 1].values[chart.metric];
    out.push({ t: s[i].t, v: dt > 0 && dv >= 0 ? dv / dt : 0 });
  }
  return out;
}

function redraw() {
  const now = Date.now();
  for (const chart of CHARTS) draw(chart, seriesOf(chart), now);
}

async function poll() {
  try {
    const response = await fetch(same(panel.hub.metrics), { cache: 'no-store' });
    if (!response.ok) throw new Error('/metrics answered ' + response.status);
    const values = parseMetrics(await response.text());
    const t = Date.now();
    panel.samples.push({ t, values });
    while (panel.samples.length && panel.samples[0].t < t - HISTORY_MS - POLL_MS) panel.samples.shift();
    byId('panel-status').textContent = 'Live: updated ' + new Date(t).toLocaleTimeString() + '.';
    byId('panel').dataset.state = 'live';
  } catch (err) {
    byId('panel-status').textContent = 'Cannot read the metrics: ' + err.message;
    byId('panel').dataset.state = 'error';
  }
  redraw();
}

// ---- Active subscriptions ----

let subscriptionsGeneration = 0; // a new Show ends the previous loop

function renderSubscriptions(doc) {
  const body = byId('subscriptions-list');
  body.replaceChildren();
  for (const s of doc.subscriptions || []) {
    const tr = document.createElement('tr');
    const selector = s.match !== undefined ? (s.match_type || 'exact') + ' ' + s.match : 'topic ' + s.topic;
    for (const text of [selector, s.subscriber || '', s.payload === undefined ? '' : JSON.stringify(s.payload)]) {
      const td = document.createElement('td'); td.textContent = text; tr.append(td);
    }
    body.append(tr);
  }
  const n = (doc.subscriptions || []).length;
  byId('subscriptions-status').textContent = n + ' active subscription' + (n === 1 ? '' : 's') +
    (doc.truncated ? ' (truncated)' : '') + ', ' + new Date().toLocaleTimeString() + '.';
}

async function pollSubscriptions() {
  const token = byId('subscriptions-token').value.trim();
  if (!token) return;
  try {
    const response = await fetch(same(panel.hub.hub_path + '/subscriptions'),
      { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store', credentials: 'omit' });
    if (!response.ok) {
      byId('subscriptions-status').textContent = 'Refused: ' + response.status + ' ' + (await response.text());
      return;
    }
    renderSubscriptions(await response.json());
  } catch (err) {
    byId('subscriptions-status').textContent = 'Error: ' + err.message;
  }
}

async function subscriptionsLoop(generation) {
  while (generation === subscriptionsGeneration) {
    await pollSubscriptions();
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function setUpSubscriptions() {
  const on = panel.hub.subscriptions;
  byId('subscriptions-off').hidden = on;
  byId('subscriptions-on').hidden = !on;
  if (!on) return;
  byId('subscriptions-form').addEventListener('submit', (e) => {
    e.preventDefault();
    subscriptionsLoop(++subscriptionsGeneration);
  });
}

// ---- Token box ----

function base64urlJson(part, what) {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new Error('the ' + what + ' is not base64url');
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((part.length + 3) % 4);
  let bytes;
  try { bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)); } catch (e) {
    throw new Error('the ' + what + ' is not base64url');
  }
  let text;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch (e) {
    throw new Error('the ' + what + ' is not UTF-8');
  }
  try { return JSON.parse(text); } catch (e) { throw new Error('the ' + what + ' is not JSON: ' + e.message); }
}

function decodeToken(token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a JWS compact token: expected three parts separated by dots, found ' + parts.length);
  const header = base64urlJson(parts[0], 'header');
  const claims = base64urlJson(parts[1], 'payload');
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('the header is not a JSON object');
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new Error('the payload is not a JSON object');
  return { header, claims, signed: parts[2].length > 0 };
}

function ago(deltaS) {
  const a = Math.abs(deltaS);
  const text = a < 120 ? Math.round(a) + ' s' : a < 7200 ? Math.round(a / 60) + ' min' :
    a < 172800 ? Math.round(a / 3600) + ' h' : Math.round(a / 86400) + ' days';
  return deltaS < 0 ? text + ' ago' : 'in ' + text;
}

function when(seconds) {
  const ms = seconds * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return 'out of range';
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

// What the claims say, read in the page (the hub's verdict follows).
function localFindings(decoded, expectedAudience) {
  const { header, claims } = decoded;
  const out = [];
  const now = Date.now() / 1000;
  const details = Array.isArray(claims.authorization_details) ? claims.authorization_details : null;
  const legacy = claims.mercure !== undefined || claims['https://mercure.rocks/'] !== undefined;
  out.push(['format', details ? 'draft-08 (authorization_details)' : legacy ? 'legacy (mercure claim)' : 'no Mercure claim: grants nothing']);
  out.push(['algorithm', String(header.alg) + (header.kid !== undefined ? ', kid ' + JSON.stringify(header.kid) : '') +
    (header.typ !== undefined ? ', typ ' + JSON.stringify(header.typ) : ', no typ')]);
  if (typeof claims.exp === 'number') {
    const d = claims.exp - now;
    out.push(['expiry', (d < 0 ? 'expired ' : 'expires ') + when(claims.exp) + ' (' + ago(d) + ')', d < 0 ? 'bad' : 'ok']);
  } else {
    out.push(['expiry', 'no exp: legacy tokens may omit it, draft-08 tokens must have it', 'warn']);
  }
  if (typeof claims.nbf === 'number' && claims.nbf > now) out.push(['not before', when(claims.nbf) + ' (' + ago(claims.nbf - now) + ')', 'bad']);
  if (typeof claims.iat === 'number') out.push(['issued', when(claims.iat) + ' (' + ago(claims.iat - now) + ')']);
  if (claims.iss !== undefined) out.push(['issuer', JSON.stringify(claims.iss)]);
  if (claims.sub !== undefined) out.push(['subject', JSON.stringify(claims.sub)]);
  const aud = claims.aud === undefined ? null : [].concat(claims.aud);
  if (aud === null) {
    out.push(['audience', 'no aud' + (details ? ': draft-08 keys refuse it, legacy keys accept it' : '')]);
  } else if (expectedAudience && aud.includes(expectedAudience)) {
    out.push(['audience', JSON.stringify(claims.aud) + ' contains ' + expectedAudience + ', as this hub expects', 'ok']);
  } else {
    out.push(['audience', JSON.stringify(claims.aud) + ' does not contain ' + JSON.stringify(expectedAudience) +
      ', the audience this hub expects' + (details ? '' : ' (checked for draft-08 tokens only)'), details ? 'bad' : 'warn']);
  }
  if (details) {
    for (const d of details) {
      if (!d || d.type !== 'https://mercure.rocks/authorization-detail') continue;
      const topics = (Array.isArray(d.topics) ? d.topics : []).map((t) => JSON.stringify(t)).join(', ');
      out.push(['grants', (Array.isArray(d.actions) ? d.actions.join(' and ') : '?') + ': ' + topics +
        (d.payload !== undefined ? ' with payload ' + JSON.stringify(d.payload) : '')]);
    }
  } else if (legacy) {
    const m = claims.mercure !== undefined ? claims.mercure : claims['https://mercure.rocks/'];
    for (const action of ['publish', 'subscribe']) {
      if (m && Array.isArray(m[action])) out.push(['grants', action + ': ' + (m[action].length ? m[action].map((t) => JSON.stringify(t)).join(', ') : 'nothing')]);
    }
  }
  return out;
}

function addRow(list, label, text, tone, attrs) {
  const li = document.createElement('li');
  const b = document.createElement('b'); b.textContent = label + ': ';
  li.append(b, document.createTextNode(text));
  if (tone) li.className = tone;
  for (const [k, v] of Object.entries(attrs || {})) li.dataset[k] = v;
  list.append(li);
  return li;
}

function describeRole(role, r) {
  if (!r.accepted) return 'refused: ' + r.reason;
  let text = 'accepted by ' + role + ' key ' + r.key + ' of ' + r.key_count + ' (' + r.alg +
    (r.jwks ? ', from a JWK Set' : '') + (r.issuer ? ', of issuer ' + r.issuer : r.legacy_key ? ', legacy key' : '') +
    '); ' + r.rules;
  const g = r.grants;
  const grants = [];
  for (const p of g.publish) grants.push('publish ' + p.type + ' ' + p.pattern);
  for (const s of g.subscribe) grants.push('subscribe ' + s.type + ' ' + s.pattern + (s.payload ? ' (payload ' + s.payload + ')' : ''));
  text += '; grants ' + (grants.length ? grants.join(', ') : 'nothing');
  return text;
}

async function explain(token, topics) {
  const out = byId('token-explain');
  out.replaceChildren();
  const local = document.createElement('ul'); local.id = 'token-decoded';
  const hubList = document.createElement('ul'); hubList.id = 'token-verdict';
  const h3a = document.createElement('h3'); h3a.textContent = 'What the token says (decoded in this page)';
  const h3b = document.createElement('h3'); h3b.textContent = 'What this hub says (verified by the hub)';
  out.append(h3a, local, h3b, hubList);
  let decoded = null;
  try {
    decoded = decodeToken(token);
  } catch (err) {
    addRow(local, 'not decodable', err.message, 'bad');
  }
  if (decoded) {
    const pre = (label, value) => {
      const li = document.createElement('li'); const b = document.createElement('b'); b.textContent = label;
      const p = document.createElement('pre'); p.textContent = JSON.stringify(value, null, 2);
      li.append(b, p); local.append(li);
    };
    pre('header', decoded.header);
    pre('claims', decoded.claims);
    for (const [label, text, tone] of localFindings(decoded, panel.hub && panel.hub.resource_identifier)) {
      addRow(local, label, text, tone, { finding: label });
    }
  }
  const body = new URLSearchParams({ token });
  for (const t of topics) body.append('topic', t);
  byId('token-status').textContent = 'Asking the hub...';
  try {
    // Only this hub ever sees the token: same origin, no cookies, not cached.
    const response = await fetch(same('/panel/token'), { method: 'POST', body, credentials: 'omit', cache: 'no-store' });
    if (!response.ok) {
      addRow(hubList, 'hub', response.status + ' ' + (await response.text()), 'bad', { role: 'error' });
      byId('token-status').textContent = '';
      return;
    }
    const verdict = await response.json();
    for (const role of ['publisher', 'subscriber']) {
      const r = verdict[role];
      const li = addRow(hubList, role, describeRole(role, r), r.accepted ? 'ok' : 'bad', { role, accepted: String(r.accepted) });
      for (const t of r.topics || []) {
        const verb = role === 'publisher' ? (t.allowed ? 'may publish to ' : 'may not publish to ') :
          (t.allowed ? 'receives private updates of ' : 'does not receive private updates of ');
        const sub = document.createElement('div');
        sub.textContent = verb + t.topic + (t.allowed ? ' (grant #' + t.grant + ')' : '');
        li.append(sub);
      }
    }
    byId('token-status').textContent = 'Checked at ' + new Date(verdict.now_ms).toLocaleTimeString() + '.';
  } catch (err) {
    addRow(hubList, 'hub', 'cannot ask the hub: ' + err.message, 'bad', { role: 'error' });
    byId('token-status').textContent = '';
  }
}

function setUpTokenBox() {
  byId('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const token = String(form.get('token') || '').trim().replace(/^Bearer\s+/i, '');
    const topics = String(form.get('topics') || '').split('\n').map((s) => s.trim()).filter(Boolean);
    if (!token) { byId('token-status').textContent = 'Paste a token first.'; return; }
    explain(token, topics);
  });
}

async function start() {
  setUpTokenBox();
  try {
    const response = await fetch(same('/panel/hub'), { cache: 'no-store' });
    if (!response.ok) throw new Error('/panel/hub answered ' + response.status);
    panel.hub = await response.json();
  } catch (err) {
    byId('panel-status').textContent = 'Cannot reach the hub: ' + err.message;
    return;
  }
  byId('expected-aud').textContent = panel.hub.resource_identifier || '(none)';
  setUpSubscriptions();
  if (!panel.hub.metrics) {
    byId('panel-status').textContent = 'Metrics are served on the admin address (admin_listen) only: no live charts here.';
    byId('panel').dataset.state = 'admin';
    redraw();
    return;
  }
  window.addEventListener('resize', redraw);
  // One request at a time: the next poll starts a second after the last ended.
  for (;;) {
    await poll();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

start();
