// herd's live dashboard: reads the update stream (GET /events) and draws it
// with dygraphs. Every update is documented in src/dashboard/feed.h. In the
// HTML report (src/dashboard/report.cc) the updates are window.herdReport.
'use strict';
(function () {
  const TIMINGS = ['http_req_blocked', 'http_req_connecting', 'http_req_tls_handshaking',
    'http_req_sending', 'http_req_waiting', 'http_req_receiving', 'http_req_duration'];
  const rows = { rate: [], vus: [], failed: [], latency: [], timings: [] };
  const charts = {};

  function draw(name, labels) {
    const data = rows[name];
    if (charts[name]) {
      charts[name].updateOptions({ file: data });
      return;
    }
    charts[name] = new Dygraph(document.getElementById('chart-' + name), data, {
      labels: ['t (s)'].concat(labels), legend: 'always', labelsSeparateLines: false,
      includeZero: true, xlabel: 'seconds', strokeWidth: 1.5,
    });
  }

  function num(v, digits) {
    return v === null || v === undefined ? '–' : Number(v).toFixed(digits);
  }

  function setText(id, text) {
    document.getElementById(id).textContent = text;
  }

  function fillTable(id, items, cells, verdict) {
    const body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren();
    for (const it of items) {
      const tr = document.createElement('tr');
      if (verdict) tr.dataset.verdict = verdict(it);
      for (const [text, isNum] of cells(it)) {
        const td = document.createElement('td');
        td.textContent = text;
        if (isNum) td.className = 'num';
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  function record(u) {
    const o = u.overview;
    rows.rate.push([u.t, o.req_rate]);
    rows.vus.push([u.t, o.vus]);
    rows.failed.push([u.t, o.failed * 100]);
    rows.latency.push([u.t, o.p50, o.p90, o.p95, o.p99]);
    rows.timings.push([u.t].concat(TIMINGS.map((n) => (u.timings[n] ? u.timings[n].p95 : null))));
  }

  function show(u) {
    const o = u.overview;
    draw('rate', ['req/s']);
    draw('vus', ['VUs']);
    draw('failed', ['failed %']);
    draw('latency', ['p50', 'p90', 'p95', 'p99']);
    draw('timings', TIMINGS);

    setText('stat-t', num(u.t, 1) + ' s');
    setText('stat-vus', num(o.vus, 0));
    setText('stat-requests', num(o.requests, 0));
    setText('stat-rate', num(o.req_rate, 1));
    setText('stat-failed', num(o.failed * 100, 2) + ' %');
    setText('stat-p95', num(o.p95, 2) + ' ms');
    setText('stat-iterations', num(o.iterations, 0));

    fillTable('table-thresholds', u.thresholds,
      (t) => [[t.metric], [t.source], [num(t.value, 3), true], [t.ok ? 'pass' : 'fail']],
      (t) => (t.ok ? 'pass' : 'fail'));
    fillTable('table-checks', u.checks,
      (c) => [[c.group], [c.name], [String(c.passes), true], [String(c.fails), true]]);
    for (const key of ['scenario', 'group', 'name']) {
      if (!u.breakdown) break;  // the report keeps the tables of its final update only
      fillTable('table-' + key, u.breakdown[key],
        (b) => [[b.value], [num(b.requests, 0), true], [num(b.failed * 100, 2) + ' %', true], [num(b.p95, 2), true]]);
    }
    if (Array.isArray(u.runners)) {
      document.getElementById('runners').hidden = false;
      fillTable('table-runners', u.runners,
        (r) => [[r.name], [num(r.req_rate, 1), true], [num(r.cpu * 100, 0) + ' %', true], [num(r.loop_lag_ms, 1) + ' ms', true]]);
    }
    const state = document.getElementById('state');
    state.dataset.state = u.final ? 'ended' : 'live';
    state.textContent = u.final ? 'test ended' : 'live';
  }

  // The report's end-of-run data (report_info_json in src/dashboard/report.cc).
  function showInfo(info) {
    const m = info.meta;
    document.getElementById('run').hidden = false;
    setText('meta-script', m.script || '–');
    setText('meta-parallelism', String(m.parallelism));
    setText('meta-start', m.start);
    setText('meta-end', m.end);
    setText('meta-duration', num(m.duration_s, 1) + ' s');
    setText('meta-exit-code', String(m.exit_code));
    document.getElementById('meta-exit-code').dataset.verdict = m.exit_code === 0 ? 'pass' : 'fail';
    setText('meta-options', JSON.stringify(m.options, null, 2));
    document.getElementById('summary').hidden = false;
    fillTable('table-summary', info.summary, (r) => [[r.section], [r.metric], [r.type], [r.cells.join('   ')]]);
    document.getElementById('health').hidden = false;
    const warnings = document.getElementById('health-warnings');
    warnings.replaceChildren();
    for (const w of info.health.warnings) {
      const li = document.createElement('li');
      li.textContent = w;
      warnings.appendChild(li);
    }
    document.getElementById('health-ok').hidden = info.health.warnings.length > 0;
    fillTable('table-health', info.health.generators,
      (g) => [[g.name], [String(g.cores), true], [num(g.seconds, 0), true], [num(g.cpu_avg * 100, 0) + ' %', true],
        [num(g.cpu_max * 100, 0) + ' %', true], [num(g.cpu_saturated_s, 0) + ' s', true],
        [num(g.lag_p99_ms, 1) + ' ms', true], [num(g.lag_max_ms, 1) + ' ms', true],
        [num(g.lag_saturated_s, 0) + ' s', true], [num(g.unhealthy_s, 0) + ' s', true],
        [g.saturated ? 'saturated' : 'healthy']],
      (g) => (g.saturated ? 'fail' : 'pass'));
  }

  if (Array.isArray(window.herdReport)) {
    window.herdReport.forEach(record);
    if (window.herdReport.length) show(window.herdReport[window.herdReport.length - 1]);
    if (window.herdReportInfo) showInfo(window.herdReportInfo);
    const state = document.getElementById('state');
    state.dataset.state = 'report';
    state.textContent = 'report';
    return;
  }
  const source = new EventSource('events');
  source.addEventListener('update', (e) => {
    const u = JSON.parse(e.data);
    record(u);
    show(u);
    if (u.final) source.close();
  });
  source.onerror = () => {
    const state = document.getElementById('state');
    if (state.dataset.state !== 'ended') {
      state.dataset.state = 'disconnected';
      state.textContent = 'disconnected';
    }
  };
})();
