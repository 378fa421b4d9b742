'use strict';
// Subscribes to the hub as the front end of the use case does:
//   new EventSource(hubUrl + '?topic=access/42', {withCredentials: true})
// (or EventSourcePolyfill, same options). The mercureAuthorization cookie,
// set by the back end at login for the shared domain, goes with the request.
// Query string: topic (repeatable), refresh=1 (ask the app for a fresh cookie
// when the stream drops), lastEventIdParam=NAME (the polyfill's
// lastEventIdQueryParameterName option; its default is lastEventId).
(function () {
  const params = new URLSearchParams(location.search);
  const url = new URL(window.HUB_URL);
  for (const t of params.getAll('topic')) url.searchParams.append('topic', t);
  const Client = window.USE_POLYFILL ? window.EventSourcePolyfill : window.EventSource;
  window.events = [];
  const list = document.getElementById('events');
  function record(e) {
    e.t = Date.now();
    window.events.push(e);
    const li = document.createElement('li');
    li.textContent = e.kind + (e.kind === 'message' ? ' ' + e.lastEventId + ' ' + e.data : ' readyState=' + e.readyState);
    list.appendChild(li);
  }
  document.getElementById('url').textContent = url.href;
  const options = { withCredentials: true };
  if (params.has('lastEventIdParam')) options.lastEventIdQueryParameterName = params.get('lastEventIdParam');
  const source = new Client(url.href, options);
  window.source = source;
  source.onopen = () => record({ kind: 'open', readyState: source.readyState });
  source.onmessage = (e) => record({ kind: 'message', type: e.type, data: e.data, lastEventId: e.lastEventId });
  source.onerror = () => {
    record({ kind: 'error', readyState: source.readyState });
    // The token in the cookie expired and the hub closed the stream: the
    // application hands out a fresh cookie before the browser reconnects.
    if (params.has('refresh') && source.readyState !== 2)
      fetch('/refresh', { credentials: 'same-origin' }).then((r) => record({ kind: 'refreshed', status: r.status }));
  };
})();
