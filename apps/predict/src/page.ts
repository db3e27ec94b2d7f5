import { PALETTE } from './draw';

/**
 * The server's page (`GET /`): self-contained HTML (inline CSS and JS, no CDN). The user
 * picks or drops an image; it is posted to /api/predict with min_prob=0 (every detection
 * the model keeps); the image is drawn on a canvas with its boxes, coloured per class with a
 * "label 0.98" tag; a slider hides the boxes below a probability.
 *
 * For tests and scripts the page exposes its state: `canvas#view[data-visible]` (boxes drawn),
 * `[data-total]` (detections received) and `window.lumen` ({ objects, threshold, visible }).
 */
export function pageHtml(title = 'Lumen'): string {
  const palette = JSON.stringify(PALETTE);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title.replace(/[<>&]/g, '')} — object detection</title>
<style>
  :root { color-scheme: light; --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --accent: #1f77b4; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: #f6f7f9; }
  header { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 20px; margin: 0; }
  header .classes { color: var(--muted); font-size: 13px; }
  main { padding: 20px 24px; max-width: 1200px; }
  .controls { display: flex; gap: 24px; align-items: center; flex-wrap: wrap; margin-bottom: 14px; }
  .pick { display: inline-block; padding: 8px 14px; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
  .pick input { display: none; }
  label.slider { display: flex; gap: 10px; align-items: center; }
  #threshold { width: 220px; }
  #threshold-value { font-variant-numeric: tabular-nums; min-width: 3em; }
  #drop { border: 2px dashed var(--line); border-radius: 8px; background: #fff; min-height: 240px; display: flex; align-items: center; justify-content: center; padding: 8px; }
  #drop.over { border-color: var(--accent); background: #eef5fb; }
  #drop .hint { color: var(--muted); }
  #view { max-width: 100%; height: auto; display: none; }
  #status { margin: 10px 0; min-height: 1.4em; color: var(--muted); }
  #status.error { color: #b42318; }
  #objects { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 6px; }
  #objects li { padding: 2px 8px; border-radius: 4px; color: #fff; font-size: 13px; }
</style>
</head>
<body>
<header><h1>${title.replace(/[<>&]/g, '')}</h1><span class="classes" id="classes"></span></header>
<main>
  <div class="controls">
    <label class="pick">Choose an image…<input type="file" id="file" accept="image/*"></label>
    <label class="slider">Minimum probability
      <input type="range" id="threshold" min="0" max="1" step="0.01" value="0.5">
      <span id="threshold-value">0.50</span></label>
  </div>
  <div id="drop"><span class="hint">…or drop an image here</span><canvas id="view" data-visible="0" data-total="0"></canvas></div>
  <p id="status"></p>
  <ul id="objects"></ul>
</main>
<script>
(function () {
  'use strict';
  var PALETTE = ${palette};
  var state = { classes: [], objects: [], threshold: 0.5, visible: 0, image: null };
  window.lumen = state;
  var canvas = document.getElementById('view');
  var ctx = canvas.getContext('2d');
  var slider = document.getElementById('threshold');
  var sliderValue = document.getElementById('threshold-value');
  var statusEl = document.getElementById('status');
  var list = document.getElementById('objects');
  var drop = document.getElementById('drop');

  function colour(label) {
    var i = state.classes.indexOf(label);
    return PALETTE[(i < 0 ? PALETTE.length - 1 : i) % PALETTE.length];
  }
  function textColour(hex) {
    var v = parseInt(hex.slice(1), 16);
    var luma = 0.299 * ((v >> 16) & 255) + 0.587 * ((v >> 8) & 255) + 0.114 * (v & 255);
    return luma > 150 ? '#000' : '#fff';
  }
  function setStatus(text, isError) {
    statusEl.textContent = text;
    statusEl.className = isError ? 'error' : '';
  }

  function draw() {
    var img = state.image;
    if (!img) return;
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    ctx.drawImage(img, 0, 0);
    var short = Math.min(canvas.width, canvas.height);
    var line = Math.max(2, Math.round(short / 250));
    var font = Math.max(12, Math.round(short / 40));
    var pad = Math.max(2, Math.round(font / 4));
    ctx.font = font + 'px system-ui, "DejaVu Sans", sans-serif';
    ctx.textBaseline = 'top';
    var shown = state.objects.filter(function (o) { return o.prob >= state.threshold; });
    shown.slice().reverse().forEach(function (o) {
      var c = colour(o.label), b = o.bbox;
      ctx.lineWidth = line;
      ctx.strokeStyle = c;
      ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
      var text = o.label + ' ' + o.prob.toFixed(2);
      var w = ctx.measureText(text).width + 2 * pad, h = font + 2 * pad;
      var x = Math.max(0, Math.min(b[0], canvas.width - w));
      var y = b[1] - h >= 0 ? b[1] - h : Math.min(b[1], Math.max(0, canvas.height - h));
      ctx.fillStyle = c;
      ctx.fillRect(x, y, w, h);
      ctx.fillStyle = textColour(c);
      ctx.fillText(text, x + pad, y + pad);
    });
    state.visible = shown.length;
    canvas.dataset.visible = String(shown.length);
    canvas.dataset.total = String(state.objects.length);
    list.innerHTML = '';
    shown.forEach(function (o) {
      var li = document.createElement('li');
      li.style.background = colour(o.label);
      li.style.color = textColour(colour(o.label));
      li.textContent = o.label + ' ' + o.prob.toFixed(2);
      list.appendChild(li);
    });
    setStatus(shown.length + ' of ' + state.objects.length + ' objects shown (probability \\u2265 ' + state.threshold.toFixed(2) + ')');
  }

  function predict(file) {
    if (!file) return;
    setStatus('Detecting objects in ' + file.name + '\\u2026');
    canvas.dataset.total = '0';
    canvas.dataset.visible = '0';
    var form = new FormData();
    form.append('image', file);
    var url = URL.createObjectURL(file);
    var img = new Image();
    var loaded = new Promise(function (resolve, reject) {
      img.onload = resolve;
      img.onerror = function () { reject(new Error('the browser cannot show this image')); };
    });
    img.src = url;
    fetch('api/predict?min_prob=0', { method: 'POST', body: form })
      .then(function (res) {
        return res.json().catch(function () { return { error: 'HTTP ' + res.status }; }).then(function (body) {
          if (!res.ok) throw new Error(body.error || ('HTTP ' + res.status));
          return body;
        });
      })
      .then(function (body) {
        return loaded.then(function () {
          state.image = img;
          state.objects = body.objects;
          drop.querySelector('.hint').style.display = 'none';
          canvas.style.display = 'block';
          draw();
        });
      })
      .catch(function (err) { setStatus(err.message, true); });
  }

  slider.addEventListener('input', function () {
    state.threshold = Number(slider.value);
    sliderValue.textContent = state.threshold.toFixed(2);
    draw();
  });
  document.getElementById('file').addEventListener('change', function (e) { predict(e.target.files[0]); });
  drop.addEventListener('dragover', function (e) { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    drop.classList.remove('over');
    predict(e.dataTransfer.files[0]);
  });
  fetch('api/model').then(function (r) { return r.json(); }).then(function (m) {
    state.classes = m.classes || [];
    document.getElementById('classes').textContent = state.classes.length + ' classes: ' + state.classes.join(', ');
  }).catch(function () {});
})();
</script>
</body>
</html>
`;
}
