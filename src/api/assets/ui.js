'use strict';
const hub = new URL('/.well-known/mercure', location.href);
document.getElementById('hub-url').textContent = hub.href;
let controller = null;
const status = (id, text) => { document.getElementById(id).textContent = text; };
function addEvent(text) {
  const li = document.createElement('li'); li.textContent = text;
  document.getElementById('events').prepend(li);
}
function parseEvents(buffer, onEvent) {
  let index;
  while ((index = buffer.search(/\r\n\r\n|\n\n|\r\r/)) >= 0) {
    const block = buffer.slice(0, index); buffer = buffer.slice(index).replace(/^(\r\n|\n|\r){2}/, '');
    const event = { id: '', type: 'message', data: [] };
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line.startsWith(':') || line === '') continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1); if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') event.data.push(value); else if (field === 'id') event.id = value;
      else if (field === 'event') event.type = value;
    }
    if (event.data.length) onEvent(event);
  }
  return buffer;
}
document.getElementById('subscribe').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (controller) controller.abort();
  controller = new AbortController();
  const form = new FormData(e.target);
  const url = new URL(hub);
  for (const t of form.get('topics').split('\n').map((s) => s.trim()).filter(Boolean))
    url.searchParams.append(/\/:[A-Za-z_]/.test(t) ? 'match_urlpattern' : 'match', t);
  const headers = {};
  if (form.get('token')) headers.Authorization = 'Bearer ' + form.get('token');
  try {
    const response = await fetch(url, { headers, signal: controller.signal });
    if (!response.ok) { status('subscribe-status', 'Refused: ' + response.status + ' ' + (await response.text())); return; }
    status('subscribe-status', 'Subscribed to ' + url.search);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = parseEvents(buffer + value, (ev) => addEvent((ev.type !== 'message' ? ev.type + ' ' : '') + ev.id + '\n' + ev.data.join('\n')));
    }
    status('subscribe-status', 'The hub closed the stream.');
  } catch (err) { if (err.name !== 'AbortError') status('subscribe-status', 'Error: ' + err.message); }
});
document.getElementById('unsubscribe').addEventListener('click', () => {
  if (controller) controller.abort(); controller = null; status('subscribe-status', 'Not subscribed.');
});
document.getElementById('publish').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const body = new URLSearchParams({ topic: form.get('topic'), data: form.get('data') });
  if (form.get('private')) body.append('private', 'on');
  const response = await fetch(hub, { method: 'POST', body, headers: { Authorization: 'Bearer ' + form.get('token') } });
  const text = await response.text();
  status('publish-status', response.ok ? 'Published: ' + text : 'Refused: ' + response.status + ' ' + text);
});
