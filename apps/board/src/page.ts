/**
 * The board's page (`GET /`): the jobs as a table (a checkbox shows or hides a job in every
 * chart) and one uPlot chart per quantity — total loss, each loss term, learning rate,
 * validation mAP, gradient norm, images/s — with one series per job. It polls /api/jobs every
 * `refreshMs` and fetches again the series of the jobs whose metrics.jsonl changed; new jobs
 * join the charts. uPlot comes from the server (/assets), not a CDN.
 *
 * For tests and scripts the page exposes its state as `window.board`: { jobs (names, in
 * series order), colors (name -> stroke), charts (key -> uPlot), series (name -> the job's
 * series), info (name -> its /api/jobs entry), shown (name -> false when unticked), updates
 * (finished polls) }.
 */
export function pageHtml(options: { jobsDir: string; refreshMs: number }): string {
  const folder = options.jobsDir.replace(/[<>&]/g, '');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lumen board — ${folder}</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<style>
  :root { color-scheme: light; --fg: #1d2330; --muted: #667085; --line: #d0d5dd; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: #f6f7f9; }
  header { padding: 12px 24px; background: #fff; border-bottom: 1px solid var(--line); display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 19px; margin: 0; }
  header .folder { color: var(--muted); font-family: ui-monospace, monospace; font-size: 13px; }
  #status { margin-left: auto; color: var(--muted); font-size: 13px; }
  #status.error { color: #b42318; }
  main { padding: 16px 24px; }
  table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); margin-bottom: 16px; font-variant-numeric: tabular-nums; }
  th, td { padding: 4px 10px; text-align: left; border-bottom: 1px solid #eaecf0; white-space: nowrap; }
  th { font-weight: 600; color: var(--muted); font-size: 12px; }
  td.num { text-align: right; }
  .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 6px; }
  .warn { color: #b54708; }
  #empty { color: var(--muted); }
  #charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 14px; }
  .chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; min-width: 0; }
  .chart h2 { font-size: 14px; margin: 0 0 4px; font-weight: 600; }
  .chart .plot { width: 100%; }
</style>
</head>
<body>
<header><h1>Lumen board</h1><span class="folder">${folder}</span><span id="status">loading…</span></header>
<main>
  <p id="empty" hidden></p>
  <table id="jobs" hidden>
    <thead><tr><th>job</th><th>step</th><th>loss</th><th>val mAP (best)</th><th>final</th><th>updated</th></tr></thead>
    <tbody></tbody>
  </table>
  <div id="charts"></div>
</main>
<script src="/assets/uPlot.iife.min.js"></script>
<script>
(function () {
  'use strict';
  var REFRESH_MS = ${Math.max(50, Math.round(options.refreshMs))};
  var PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  var HEIGHT = 220;
  // Whole steps on the x axis: 1, 2, 5, 10, 20, 50…
  var STEP_INCREMENTS = [];
  for (var p = 1; p <= 1e8; p *= 10) STEP_INCREMENTS.push(p, 2 * p, 5 * p);
  var board = { jobs: [], colors: {}, charts: {}, series: {}, info: {}, shown: {}, updates: 0 };
  window.board = board;
  var versions = {};
  var layout = '';
  var status = document.getElementById('status');
  var chartsEl = document.getElementById('charts');

  function colorOf(name) {
    if (!board.colors[name]) board.colors[name] = PALETTE[Object.keys(board.colors).length % PALETTE.length];
    return board.colors[name];
  }
  function fmt(value, digits) {
    if (value == null) return '–';
    if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5)) return value.toExponential(2);
    return value.toFixed(digits);
  }
  function last(values) {
    for (var i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
    return null;
  }
  function ago(iso) {
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 90 ? s + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago' : s < 172800 ? Math.round(s / 3600) + ' h ago' : new Date(iso).toLocaleDateString();
  }

  /** Decimals that write x exactly (0.25 -> 2, 5 -> 0), at most 12. */
  function decimalsOf(x) {
    for (var d = 0; d < 12; d++) {
      var v = x * Math.pow(10, d);
      if (Math.abs(v - Math.round(v)) < 1e-6) return d;
    }
    return 12;
  }
  /** Y tick labels with as many digits as the tick spacing needs (an lr of 2e-5 is not "0"). */
  function tickLabels(_u, ticks, _axis, _space, incr) {
    var decimals = decimalsOf(incr);
    if (decimals <= 4) return ticks.map(function (t) { return t.toFixed(decimals); });
    var largest = Math.max.apply(null, ticks.map(Math.abs).concat([incr]));
    var digits = Math.min(4, decimalsOf(incr / Math.pow(10, Math.floor(Math.log10(largest)))));
    return ticks.map(function (t) { return t === 0 ? '0' : t.toExponential(digits); });
  }

  /** The charts the jobs have data for: total loss, each loss term, lr, mAP, gradient norm, images/s. */
  function chartList() {
    var keys = [];
    var hasEval = false;
    board.jobs.forEach(function (name) {
      var s = board.series[name];
      if (!s) return;
      Object.keys(s.train).forEach(function (key) { if (key.indexOf('loss_') === 0 && keys.indexOf(key) < 0) keys.push(key); });
      if (s.evals.step.length > 0) hasEval = true;
    });
    var charts = [{ key: 'loss', title: 'total loss' }];
    keys.forEach(function (key) { charts.push({ key: key, title: key.replace(/^loss_/, '') + ' loss' }); });
    charts.push({ key: 'lr', title: 'learning rate' });
    if (hasEval) charts.push({ key: 'mAP', title: 'validation mAP', evals: true });
    charts.push({ key: 'gradNorm', title: 'gradient norm' });
    charts.push({ key: 'imagesPerSecond', title: 'images / s' });
    return charts;
  }

  function dataOf(chart) {
    var tables = board.jobs.map(function (name) {
      var s = board.series[name];
      if (!s) return [[], []];
      if (chart.evals) return [s.evals.step, s.evals.mAP];
      return [s.train.step, s.train[chart.key] || s.train.step.map(function () { return null; })];
    });
    return uPlot.join(tables);
  }

  function build(charts) {
    Object.keys(board.charts).forEach(function (key) { board.charts[key].destroy(); });
    board.charts = {};
    chartsEl.textContent = '';
    charts.forEach(function (chart) {
      var box = document.createElement('section');
      box.className = 'chart';
      box.dataset.key = chart.key;
      var title = document.createElement('h2');
      title.textContent = chart.title;
      var plot = document.createElement('div');
      plot.className = 'plot';
      box.appendChild(title);
      box.appendChild(plot);
      chartsEl.appendChild(box);
      var series = [{ label: 'step' }].concat(board.jobs.map(function (name) {
        return { label: name, stroke: colorOf(name), width: 1.5, spanGaps: true, show: board.shown[name] !== false, points: { show: chart.evals ? true : undefined },
          value: function (_u, v) { return fmt(v, 4); } };
      }));
      board.charts[chart.key] = new uPlot({
        width: Math.max(300, plot.clientWidth), height: HEIGHT,
        // mAP is a fraction: a fixed 0-1 scale keeps an all-zero start readable.
        scales: { x: { time: false }, y: chart.evals ? { range: [0, 1] } : {} },
        axes: [{ label: 'step', incrs: STEP_INCREMENTS }, { size: 64, values: tickLabels }],
        series: series,
        legend: { live: true },
      }, dataOf(chart), plot);
    });
  }

  function renderTable() {
    var table = document.getElementById('jobs');
    var body = table.querySelector('tbody');
    body.textContent = '';
    board.jobs.forEach(function (name, index) {
      var s = board.series[name];
      var info = board.info[name];
      var row = document.createElement('tr');
      var cell = function (text, className) {
        var td = document.createElement('td');
        td.textContent = text;
        if (className) td.className = className;
        row.appendChild(td);
        return td;
      };
      var first = cell('');
      var label = document.createElement('label');
      var box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = board.shown[name] !== false;
      box.dataset.job = name;
      box.addEventListener('change', function () {
        board.shown[name] = box.checked;
        Object.keys(board.charts).forEach(function (key) { board.charts[key].setSeries(index + 1, { show: box.checked }); });
      });
      var swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colorOf(name);
      label.appendChild(box);
      label.appendChild(swatch);
      label.appendChild(document.createTextNode(name));
      first.appendChild(label);
      var steps = s ? s.train.step : [];
      cell(steps.length ? String(steps[steps.length - 1]) : 'starting', 'num');
      cell(s ? fmt(last(s.train.loss || []), 4) : '–', 'num');
      var maps = s ? s.evals.mAP.filter(function (v) { return v != null; }) : [];
      cell(maps.length ? fmt(maps[maps.length - 1], 4) + ' (' + fmt(Math.max.apply(null, maps), 4) + ')' : '–', 'num');
      cell(s && s.finals.length ? s.finals.map(function (f) { return f.split + ' ' + fmt(f.mAP, 4); }).join(', ') : '–');
      var notes = [];
      if (s && s.warnings) notes.push(s.warnings + ' warning(s)');
      if (s && s.skipped) notes.push(s.skipped + ' skipped batch(es)');
      if (s && s.damaged) notes.push(s.damaged + ' unreadable line(s)');
      var updated = cell(ago(info.modified) + (notes.length ? ' · ' + notes.join(', ') : ''));
      if (notes.length) updated.className = 'warn';
      body.appendChild(row);
    });
    table.hidden = board.jobs.length === 0;
  }

  function render() {
    var empty = document.getElementById('empty');
    empty.hidden = board.jobs.length > 0;
    empty.textContent = 'No jobs in this folder yet: start one with lumen train (it writes jobs/<config>-<time>/metrics.jsonl); it appears here as it starts.';
    renderTable();
    var charts = chartList();
    var next = board.jobs.join('\\n') + '|' + charts.map(function (c) { return c.key; }).join(',');
    if (next !== layout || Object.keys(board.charts).length !== charts.length) {
      layout = next;
      build(charts);
    } else {
      charts.forEach(function (chart) { board.charts[chart.key].setData(dataOf(chart)); });
    }
  }

  function getJson(url) {
    return fetch(url, { cache: 'no-store' }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || response.statusText);
        return body;
      });
    });
  }

  function poll() {
    getJson('/api/jobs').then(function (list) {
      board.info = {};
      list.jobs.forEach(function (job) { board.info[job.name] = job; colorOf(job.name); });
      var stale = list.jobs.filter(function (job) { return versions[job.name] !== job.version; });
      return Promise.all(stale.map(function (job) {
        return getJson('/api/jobs/' + encodeURIComponent(job.name)).then(function (series) {
          board.series[job.name] = series;
          versions[job.name] = series.version;
        }, function () { /* gone between the list and the fetch: the next poll drops it */ });
      })).then(function () {
        board.jobs = list.jobs.map(function (job) { return job.name; }).filter(function (name) { return board.series[name]; });
        Object.keys(board.series).forEach(function (name) { if (!board.info[name]) { delete board.series[name]; delete versions[name]; } });
        render();
        status.className = '';
        status.textContent = board.jobs.length + ' job(s) · updated ' + new Date().toLocaleTimeString();
      });
    }).catch(function (error) {
      status.className = 'error';
      status.textContent = String(error.message || error);
    }).then(function () {
      board.updates += 1;
      setTimeout(poll, REFRESH_MS);
    });
  }

  window.addEventListener('resize', function () {
    Object.keys(board.charts).forEach(function (key) {
      var chart = board.charts[key];
      chart.setSize({ width: Math.max(300, chart.root.parentNode.clientWidth), height: HEIGHT });
    });
  });
  poll();
})();
</script>
</body>
</html>
`;
}
