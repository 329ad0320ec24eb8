// hookrun dashboard: live fragments over server-sent events, step logs, actions. No framework, no build.
(function () {
  'use strict';
  var body = document.body;
  var liveDot = document.getElementById('live');
  var region = document.getElementById('live-region');

  // --- live updates: the server says "changed", the page fetches its fresh fragment ---
  var inflight = false, again = false, hellos = 0;
  function fragmentURL() {
    var u = new URL(location.href);
    u.searchParams.set('fragment', '1');
    u.hash = '';
    return u.toString();
  }
  function refresh() {
    if (!region) return;
    if (inflight) { again = true; return; }
    inflight = true;
    fetch(fragmentURL(), { headers: { Accept: 'text/html' }, cache: 'no-store' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { region.innerHTML = html; afterRender(); } })
      .catch(function () {})
      .then(function () { inflight = false; if (again) { again = false; refresh(); } });
  }
  if (body.dataset.topic && window.EventSource) {
    var es = new EventSource('/live?topic=' + encodeURIComponent(body.dataset.topic));
    es.addEventListener('hello', function () {
      liveDot.classList.add('on');
      if (hellos++ > 0) refresh(); // reconnected: changes may have been missed
    });
    es.addEventListener('changed', refresh);
    es.onerror = function () { liveDot.classList.remove('on'); };
  }

  // --- durations of running things tick locally ---
  function fmt(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (ms < 1000) return '<1s';
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
    var h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + String(m % 60).padStart(2, '0') + 'm';
    return Math.floor(h / 24) + 'd ' + String(h % 24).padStart(2, '0') + 'h';
  }
  setInterval(function () {
    document.querySelectorAll('.dur[data-start]').forEach(function (el) {
      if (!el.dataset.start || el.dataset.end) return;
      el.textContent = fmt(Date.now() - Date.parse(el.dataset.start));
    });
  }, 1000);

  // --- task graph edges ---
  function drawGraph() {
    var g = document.getElementById('graph');
    if (!g) return;
    var svg = g.querySelector('svg.edges');
    var edges = [];
    try { edges = JSON.parse(g.dataset.edges || '[]'); } catch (e) { return; }
    var box = g.getBoundingClientRect();
    var nodes = {};
    g.querySelectorAll('[data-node]').forEach(function (n) { nodes[n.dataset.node] = n.getBoundingClientRect(); });
    svg.setAttribute('width', g.scrollWidth);
    svg.setAttribute('height', g.scrollHeight);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    edges.forEach(function (e) {
      var a = nodes[e.from], b = nodes[e.to];
      if (!a || !b) return;
      var x1 = a.right - box.left + g.scrollLeft, y1 = a.top + a.height / 2 - box.top;
      var x2 = b.left - box.left + g.scrollLeft, y2 = b.top + b.height / 2 - box.top;
      var dx = Math.max(20, (x2 - x1) / 2);
      var p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
      p.setAttribute('d', 'M' + x1 + ',' + y1 + ' C' + (x1 + dx) + ',' + y1 + ' ' + (x2 - dx) + ',' + y2 + ' ' + x2 + ',' + y2);
      if (e.result) p.setAttribute('class', 'result');
      p.dataset.edge = e.from + '>' + e.to;
      svg.appendChild(p);
    });
  }
  window.addEventListener('resize', drawGraph);

  // --- step logs ---
  var logs = document.getElementById('logs');
  var logBody = document.getElementById('logbody');
  var logTitle = document.getElementById('logtitle');
  var logState = document.getElementById('logstate');
  var logES = null, current = '', chosen = new URL(location.href).searchParams.get('step') || '';
  function setState(cls, text) { logState.className = 'logstate ' + cls; logState.textContent = text; }
  function markSelected() {
    document.querySelectorAll('tr.step').forEach(function (tr) { tr.classList.toggle('selected', tr.dataset.step === current); });
  }
  function openLog(id) {
    if (!logs || !id || id === current) return;
    current = id;
    if (logES) logES.close();
    logBody.textContent = '';
    logTitle.textContent = id.replace('/', ' › ');
    setState('waiting', 'connecting…');
    markSelected();
    var parts = id.split('/');
    logES = new EventSource('/logs/' + encodeURIComponent(logs.dataset.ns) + '/' + encodeURIComponent(parts[0]) + '/' + encodeURIComponent(parts[1]));
    var es = logES;
    es.onopen = function () { if (es === logES) setState('running', 'streaming'); };
    es.onmessage = function (e) {
      var stick = logBody.scrollTop + logBody.clientHeight >= logBody.scrollHeight - 24;
      var d = document.createElement('div');
      d.className = 'line';
      d.textContent = e.data;
      logBody.appendChild(d);
      if (stick) logBody.scrollTop = logBody.scrollHeight;
    };
    es.addEventListener('waiting', function (e) { setState('waiting', e.data); });
    es.addEventListener('end', function () { setState('complete', 'complete'); es.close(); });
    es.addEventListener('failed', function (e) { setState('failed', e.data); es.close(); });
    es.onerror = function () { if (es.readyState === 2) return; setState('failed', 'disconnected'); es.close(); };
  }
  function followDefault() {
    if (chosen) { openLog(chosen); return; }
    var f = document.getElementById('follow');
    if (f && f.dataset.follow) openLog(f.dataset.follow);
  }
  document.addEventListener('click', function (e) {
    var a = e.target.closest('a.loglink');
    if (!a) return;
    e.preventDefault();
    chosen = a.dataset.step;
    var u = new URL(location.href);
    u.searchParams.set('step', chosen);
    history.replaceState(null, '', u.toString());
    openLog(chosen);
    logs.scrollIntoView({ behavior: 'smooth' });
  });

  // --- actions (only rendered with --allow-actions) ---
  function toast(msg, bad) {
    var t = document.getElementById('toast');
    t.textContent = msg;
    t.className = 'toast' + (bad ? ' bad' : '');
    t.hidden = false;
    clearTimeout(t._h);
    t._h = setTimeout(function () { t.hidden = true; }, 5000);
  }
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button[data-action]');
    if (!b) return;
    if (b.dataset.confirm && !b.classList.contains('armed')) {
      b.classList.add('armed');
      b.dataset.label = b.textContent;
      b.textContent = b.dataset.confirm;
      setTimeout(function () { b.classList.remove('armed'); b.textContent = b.dataset.label; }, 4000);
      return;
    }
    b.disabled = true;
    fetch(b.dataset.action, { method: 'POST', headers: { 'X-Hookrun-Action': '1' } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        toast(res.j.message, !res.ok);
        if (res.ok && res.j.url) location.href = res.j.url;
      })
      .catch(function (err) { toast(String(err), true); })
      .then(function () { b.disabled = false; });
  });

  function afterRender() {
    drawGraph();
    markSelected();
    followDefault();
  }
  afterRender();
})();
