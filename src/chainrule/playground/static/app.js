// chainrule playground: the page. Plain JavaScript, no build step, no network but the
// local server. The network trains in Python; this file draws what the server streams.
"use strict";

const OPTIONS = {
  lr: [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10],
  activation: ["tanh", "relu", "sigmoid", "identity"],
  regularization: ["none", "l1", "l2"],
  reg_rate: [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10],
  problem: ["classification", "regression"],
  optimizer: ["sgd", "momentum", "rmsprop", "adam"],
  init: ["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
         "lecun_normal", "torch"],
  loss: ["mse", "cross_entropy"],
  dropout: [0, 0.1, 0.2, 0.3, 0.5],
};
const DATASETS = {
  classification: ["circle", "xor", "gauss", "spiral", "spiral3"],
  regression: ["plane", "multigauss"],
};
const FEATURE_LABELS = {x1: "x₁", x2: "x₂", x1sq: "x₁²", x2sq: "x₂²", x1x2: "x₁x₂",
                        sinx1: "sin x₁", sinx2: "sin x₂"};
const NEG = [8, 119, 189], MID = [232, 234, 235], POS = [245, 147, 34];
const CLASS_COLORS = [[8, 119, 189], [245, 147, 34], [46, 160, 67], [148, 103, 189],
  [214, 39, 40], [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34],
  [23, 190, 207]];
const MAX_LAYERS = 8, MAX_WIDTH = 32;

const state = {sid: null, config: null, points: null, sizes: null, frame: null,
               history: [], source: null, playing: false, selected: null};
const $ = (id) => document.getElementById(id);

function showError(msg) {
  const e = $("error");
  e.textContent = msg || "";
  e.classList.toggle("visible", Boolean(msg));
}

async function api(path, body, raw) {
  const url = path + (path.includes("?") ? "&" : "?") + "sid=" + state.sid;
  const opts = body === undefined ? {} : {method: "POST",
    body: raw ? body : JSON.stringify(body),
    headers: {"Content-Type": raw ? "text/csv" : "application/json"}};
  const r = await fetch(url, opts);
  const data = await r.json().catch(() => ({error: "bad response " + r.status}));
  if (!r.ok || data.error) throw new Error(data.error || ("HTTP " + r.status));
  return data;
}

function setHash(hash) { history.replaceState(null, "", "#" + hash); }

// ------------------------------------------------------------------ colours
function lerp(a, b, t) { return a.map((v, i) => Math.round(v + (b[i] - v) * t)); }
function valueColor(v) {                  // v in [-1, 1]
  return v < 0 ? lerp(MID, NEG, -v) : lerp(MID, POS, v);
}
function decode(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
function paintValues(canvas, bytes, n, discretize) {
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    let v = bytes[i] / 127.5 - 1;
    if (discretize) v = v >= 0 ? 1 : -1;
    const c = valueColor(v);
    img.data.set([c[0], c[1], c[2], 255], 4 * i);
  }
  return img;
}
function paintClasses(cls, conf, n, discretize) {
  const img = new ImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const t = discretize ? 1 : Math.max(0, (conf[i] / 255 - 0.3) / 0.7);
    const c = lerp(MID, CLASS_COLORS[cls[i] % CLASS_COLORS.length], t);
    img.data.set([c[0], c[1], c[2], 255], 4 * i);
  }
  return img;
}
function drawSmall(canvas, b64, n) {
  canvas.width = n; canvas.height = n;
  canvas.getContext("2d").putImageData(paintValues(canvas, decode(b64), n, false), 0, 0);
}

// ----------------------------------------------------------------- controls
function buildControls() {
  for (const [id, values] of Object.entries(OPTIONS)) {
    const sel = $(id);
    for (const v of values) {
      const o = document.createElement("option");
      o.value = String(v); o.textContent = String(v);
      sel.appendChild(o);
    }
    sel.addEventListener("change", () => {
      const value = typeof values[0] === "number" ? Number(sel.value) : sel.value;
      const patch = {[id]: value};
      if (id === "problem") {
        patch.dataset = DATASETS[value][0];
        if (value === "regression") patch.loss = "mse";
      }
      changeConfig(patch);
    });
  }
  for (const id of ["train_ratio", "noise", "batch_size"]) {
    const el = $(id);
    el.addEventListener("input", () => { $(id + "-v").textContent = el.value; });
    el.addEventListener("change", () => changeConfig({[id]: Number(el.value)}));
  }
  $("play").onclick = () => control(state.playing ? "pause" : "play");
  $("step").onclick = () => control("step");
  $("reset").onclick = () => control("reset");
  $("regenerate").onclick = () => control("regenerate");
  $("add-layer").onclick = () => {
    const h = state.config.hidden.slice();
    if (h.length < MAX_LAYERS) { h.push(2); changeConfig({hidden: h}); }
  };
  $("remove-layer").onclick = () => {
    const h = state.config.hidden.slice();
    if (h.length) { h.pop(); changeConfig({hidden: h}); }
  };
  for (const id of ["show_test", "discretize"]) {
    $(id).onchange = () => { drawOutput(); changeConfig({[id]: $(id).checked}); };
  }
  $("copy-python").onclick = () => copySnippet("python");
  $("copy-cli").onclick = () => copySnippet("cli");
  $("csv-file").onchange = upload;
}

function syncControls() {
  const c = state.config;
  for (const id of Object.keys(OPTIONS)) $(id).value = String(c[id]);
  for (const id of ["train_ratio", "noise", "batch_size"]) {
    $(id).value = c[id]; $(id + "-v").textContent = c[id];
  }
  $("show_test").checked = c.show_test; $("discretize").checked = c.discretize;
  const box = $("datasets");
  box.innerHTML = "";
  for (const name of DATASETS[c.problem].concat(c.dataset === "upload" ? ["upload"] : [])) {
    const b = document.createElement("button");
    b.textContent = name; b.dataset.dataset = name;
    b.className = name === c.dataset ? "active" : "";
    if (name !== "upload") b.onclick = () => changeConfig({dataset: name});
    box.appendChild(b);
  }
  $("n-layers").textContent = c.hidden.length;
}

async function changeConfig(patch) {
  try {
    const r = await api("/api/config", Object.assign({}, state.config, patch));
    state.config = r.config; setHash(r.hash); showError("");
  } catch (err) { showError(err.message); syncControls(); }
}

async function control(action) {
  try {
    const r = await api("/api/control", {action});
    if (r.hash) { state.config = r.config; setHash(r.hash); }
    if (action === "play" || action === "pause") setPlaying(action === "play");
    showError("");
  } catch (err) { showError(err.message); }
}

function setPlaying(p) { state.playing = p; $("play").textContent = p ? "❚❚" : "▶"; }

async function upload() {
  const file = $("csv-file").files[0];
  if (!file) return;
  if (file.size > 1000000) { showError("CSV too large: " + file.size + " bytes (at most 1 MB)"); return; }
  try {
    const r = await api("/api/upload", await file.text(), true);
    state.config = r.config; setHash(r.hash);
    showError("");
  } catch (err) { showError("upload refused: " + err.message); }
  $("csv-file").value = "";
}

async function copySnippet(kind) {
  try {
    const r = await api("/api/snippet");
    const text = r[kind];
    $("snippet").value = text;
    if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
  } catch (err) { showError(err.message); }
}

// ------------------------------------------------------------------ network
function layout() {
  const sizes = state.sizes, maxw = Math.max(...sizes, 8);
  const node = maxw > 8 ? 16 : 30, gap = maxw > 8 ? 4 : 10;
  const col = sizes.length > 6 ? 80 : 110, left = 50, top = 30;
  const pos = sizes.map((n, l) => Array.from({length: n}, (_, i) =>
    ({x: left + l * col, y: top + i * (node + gap)})));
  return {pos, node, col, height: top + maxw * (node + gap) + 10,
          width: left + sizes.length * col};
}

function buildNetwork() {
  const net = $("network"), svg = $("links"), c = state.config;
  net.querySelectorAll(".node, .layer-ctl").forEach((e) => e.remove());
  svg.innerHTML = "";
  const L = layout();
  state.layout = L;
  net.style.height = L.height + "px"; net.style.width = L.width + "px";
  svg.setAttribute("width", L.width); svg.setAttribute("height", L.height);
  // feature column: every feature, the used ones bright
  const used = c.features;
  const allF = Object.keys(FEATURE_LABELS);
  state.featurePos = {};
  allF.forEach((f, i) => {
    const d = document.createElement("div");
    const on = used.includes(f);
    d.className = "node feature" + (on ? "" : " off");
    d.dataset.feature = f;
    Object.assign(d.style, {left: "0px", top: (30 + i * (L.node + 10)) + "px",
      width: L.node + "px", height: L.node + "px"});
    d.innerHTML = '<canvas></canvas>';
    d.title = FEATURE_LABELS[f] + (on ? " (click to remove)" : " (click to use)");
    d.onclick = () => {
      const fs = on ? used.filter((x) => x !== f) : allF.filter((x) => used.includes(x) || x === f);
      if (fs.length) changeConfig({features: fs});
    };
    net.appendChild(d);
  });
  // layer 0 positions = the used features' boxes
  L.pos[0] = used.map((f) => ({x: 0, y: 30 + allF.indexOf(f) * (L.node + 10)}));
  allF.forEach((f, i) => {
    const lab = document.createElement("div");
    lab.className = "layer-ctl";
    Object.assign(lab.style, {left: (L.node + 4) + "px", top: (34 + i * (L.node + 10)) + "px"});
    lab.textContent = FEATURE_LABELS[f];
    net.appendChild(lab);
  });
  state.sizes.forEach((n, l) => {
    if (l === 0) return;
    L.pos[l].forEach((p, i) => {
      const d = document.createElement("div");
      d.className = "node" + (l === state.sizes.length - 1 ? " out" : "");
      d.dataset.layer = l; d.dataset.index = i;
      Object.assign(d.style, {left: p.x + "px", top: p.y + "px", width: L.node + "px",
        height: L.node + "px"});
      d.innerHTML = "<canvas></canvas>";
      net.appendChild(d);
    });
    if (l < state.sizes.length - 1) {   // per-layer + / − neurons
      const ctl = document.createElement("div");
      ctl.className = "layer-ctl";
      Object.assign(ctl.style, {left: (L.pos[l][0].x - 8) + "px", top: "0px"});
      ctl.innerHTML = `<button class="add-neuron" data-layer="${l - 1}">+</button>` +
        `<button class="remove-neuron" data-layer="${l - 1}">−</button> ${n}`;
      ctl.querySelector(".add-neuron").onclick = () => resize(l - 1, +1);
      ctl.querySelector(".remove-neuron").onclick = () => resize(l - 1, -1);
      net.appendChild(ctl);
    }
  });
  // links: a visible line and a wide transparent one for the mouse
  const ns = "http://www.w3.org/2000/svg";
  state.links = [];
  for (let l = 1; l < state.sizes.length; l++) {
    for (let j = 0; j < state.sizes[l]; j++) {
      for (let i = 0; i < state.sizes[l - 1]; i++) {
        const a = L.pos[l - 1][i], b = L.pos[l][j], h = L.node / 2;
        const d = `M${a.x + L.node},${a.y + h} C${(a.x + b.x + L.node) / 2},${a.y + h} ` +
                  `${(a.x + b.x + L.node) / 2},${b.y + h} ${b.x},${b.y + h}`;
        const hit = document.createElementNS(ns, "path");
        hit.setAttribute("d", d); hit.setAttribute("class", "link-hit");
        hit.setAttribute("fill", "none"); hit.setAttribute("stroke-width", "7");
        const line = document.createElementNS(ns, "path");
        line.setAttribute("d", d); line.setAttribute("class", "link");
        line.setAttribute("fill", "none");
        for (const e of [hit, line]) {
          e.dataset.layer = l - 1; e.dataset.row = j; e.dataset.col = i;
        }
        hit.addEventListener("mousemove", (ev) => tooltip(ev, l - 1, j, i));
        hit.addEventListener("mouseleave", () => { $("tooltip").style.display = "none"; });
        hit.addEventListener("click", () => explain(l - 1, j, i));
        svg.appendChild(hit); svg.appendChild(line);
        state.links.push({line, layer: l - 1, row: j, col: i});
      }
    }
  }
}

function resize(layer, delta) {
  const h = state.config.hidden.slice();
  h[layer] = Math.min(MAX_WIDTH, Math.max(1, h[layer] + delta));
  changeConfig({hidden: h});
}

function weightOf(layer, row, col) {
  return state.frame ? state.frame.weights[layer].W[row][col] : 0;
}

function tooltip(ev, layer, row, col) {
  const t = $("tooltip");
  t.textContent = "w = " + weightOf(layer, row, col).toFixed(4) + "  (click: ∂L/∂w)";
  Object.assign(t.style, {display: "block", left: (ev.clientX + 12) + "px",
    top: (ev.clientY + 12) + "px"});
}

function drawNetwork() {
  const f = state.frame;
  for (const k of state.links) {
    const w = f.weights[k.layer].W[k.row][k.col];
    k.line.setAttribute("stroke", w >= 0 ? "rgb(245,147,34)" : "rgb(8,119,189)");
    k.line.setAttribute("stroke-width", (1 + 9 * Math.min(Math.abs(w), 5) / 5).toFixed(2));
    k.line.dataset.weight = w;
  }
  const feats = document.querySelectorAll(".node.feature");
  feats.forEach((d) => drawSmall(d.querySelector("canvas"), f.inputs[d.dataset.feature], 20));
  document.querySelectorAll(".node[data-layer]").forEach((d) => {
    const l = Number(d.dataset.layer), i = Number(d.dataset.index);
    if (l < state.sizes.length - 1) drawSmall(d.querySelector("canvas"), f.neurons[l - 1][i], 20);
  });
}

// ------------------------------------------------------------------- output
function drawOutput() {
  const f = state.frame, canvas = $("heatmap");
  if (!f) return;
  const ctx = canvas.getContext("2d"), n = 100, disc = $("discretize").checked;
  const img = f.output.kind === "value"
    ? paintValues(canvas, decode(f.output.data), n, disc)
    : paintClasses(decode(f.output.cls), decode(f.output.conf), n, disc);
  const off = document.createElement("canvas");
  off.width = n; off.height = n;
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  const small = document.querySelector(".node.out canvas");
  if (small) {
    small.width = 30; small.height = 30;
    small.getContext("2d").drawImage(off, 0, 0, 30, 30);
  }
  const p = state.points, s = canvas.width / 12;
  const dot = (xy, y, stroke) => {
    const cx = (xy[0] + 6) * s, cy = (6 - xy[1]) * s;
    let col;
    if (p.n_classes === null) col = valueColor(Math.max(-1, Math.min(1, y)));
    else if (p.n_classes === 2) col = y === 1 ? POS : NEG;
    else col = CLASS_COLORS[y % CLASS_COLORS.length];
    ctx.beginPath(); ctx.arc(cx, cy, 3, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${col})`; ctx.fill();
    ctx.strokeStyle = stroke; ctx.lineWidth = 1; ctx.stroke();
  };
  p.train.forEach((xy, i) => dot(xy, p.train_y[i], "#fff"));
  if ($("show_test").checked) p.test.forEach((xy, i) => dot(xy, p.test_y[i], "#000"));
}

function drawLosses() {
  const c = $("loss-chart"), ctx = c.getContext("2d"), h = state.history;
  ctx.clearRect(0, 0, c.width, c.height);
  if (h.length < 2) return;
  const max = Math.max(...h.map((r) => Math.max(r[1] || 0, r[2] || 0)), 1e-9);
  const x = (i) => i / (h.length - 1) * c.width;
  const y = (v) => c.height - (v / max) * (c.height - 4) - 2;
  for (const [k, color] of [[1, "#999"], [2, "#000"]]) {
    ctx.beginPath();
    h.forEach((r, i) => (i ? ctx.lineTo(x(i), y(r[k] || 0)) : ctx.moveTo(x(i), y(r[k] || 0))));
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.stroke();
  }
}

function fmt(v) { return v === null || v === undefined ? "NaN" : v.toFixed(3); }

// --------------------------------------------------------------- chain rule
async function explain(layer, row, col) {
  document.querySelectorAll(".link.selected").forEach((e) => e.classList.remove("selected"));
  const sel = document.querySelector(`.link[data-layer="${layer}"][data-row="${row}"][data-col="${col}"]`);
  if (sel) sel.classList.add("selected");
  state.selected = {layer, row, col};
  const box = $("chain-rule");
  box.textContent = "computing ∂L/∂w …";
  try {
    const e = await api(`/api/explain?layer=${layer}&row=${row}&col=${col}`);
    const rows = e.terms.map((t) =>
      `<tr><td>${t.path}</td><td class="num">${t.value.toExponential(4)}</td></tr>`).join("");
    const rest = e.n_terms > e.terms.length
      ? `<tr><td>… ${e.n_terms - e.terms.length} more ${e.grouped ? "groups" : "paths"}</td>` +
        `<td class="num">${e.rest.toExponential(4)}</td></tr>` : "";
    const rel = Math.abs(e.path_sum - e.finite_difference) /
      Math.max(1e-12, Math.abs(e.path_sum) + Math.abs(e.finite_difference));
    box.innerHTML =
      `<h2>∂L/∂w for ${e.weight_name} (w = ${e.weight.toFixed(4)})</h2>` +
      `<p>L: the data loss on the ${e.n_samples} training points (evaluation mode, float64). ` +
      `Chain rule: ∂L/∂w = Σ over the ${e.n_paths} path(s) from w to the output of ` +
      `a · σ'(z) · w' · σ'(z') ⋯ · ∂L/∂ŷ${e.grouped ? " (grouped by the next neuron)" : ""}.</p>` +
      `<table>${rows}${rest}</table>` +
      `<p>Σ paths = <b id="cr-pathsum" data-value="${e.path_sum}">${e.path_sum.toExponential(8)}</b><br>` +
      `engine backward = <span id="cr-gradient" data-value="${e.gradient}">${e.gradient.toExponential(8)}</span><br>` +
      `finite difference (ε = 1e-6) = <span id="cr-fd" data-value="${e.finite_difference}">` +
      `${e.finite_difference.toExponential(8)}</span> (relative difference ${rel.toExponential(1)})</p>`;
  } catch (err) { box.textContent = ""; showError(err.message); }
}

// ------------------------------------------------------------------ stream
function connect() {
  if (state.source) state.source.close();
  const src = new EventSource("/api/stream?sid=" + state.sid);
  state.source = src;
  src.addEventListener("init", (ev) => {
    const d = JSON.parse(ev.data);
    state.config = d.config; state.points = d.points; state.sizes = d.points.sizes;
    state.history = []; state.frame = null;
    setHash(d.hash); syncControls(); buildNetwork(); setPlaying(false);
    $("chain-rule").textContent = "";
  });
  src.addEventListener("frame", (ev) => {
    const f = JSON.parse(ev.data);
    state.frame = f;
    if (!state.history.length || state.history[state.history.length - 1][0] !== f.steps)
      state.history.push([f.steps, f.train_loss, f.test_loss]);
    if (state.history.length > 2000) state.history = state.history.filter((_, i) => i % 2 === 0);
    if (!state.drawPending) {     // draw at most once per animation frame
      state.drawPending = true;
      requestAnimationFrame(draw);
    }
  });
  src.onerror = () => { if (src.readyState === EventSource.CLOSED) showError("connection lost: reload the page"); };
}

function draw() {
  state.drawPending = false;
  const f = state.frame;
  if (!f) return;
  $("epoch").textContent = f.epoch; $("steps").textContent = f.steps;
  $("train-loss").textContent = fmt(f.train_loss); $("test-loss").textContent = fmt(f.test_loss);
  $("test-loss").dataset.value = f.test_loss === null ? "NaN" : f.test_loss;
  $("engine").textContent = f.compiled ? "compiled step" : "eager step";
  document.body.dataset.steps = f.steps;
  setPlaying(f.playing);
  if (f.message) showError(f.message);
  drawNetwork(); drawOutput(); drawLosses();
}

async function start() {
  const tip = document.createElement("div");
  tip.id = "tooltip"; document.body.appendChild(tip);
  buildControls();
  try {
    const r = await fetch("/api/session", {method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({hash: location.hash.slice(1)})});
    const d = await r.json();
    if (!r.ok) throw new Error(d.error);
    state.sid = d.sid; state.config = d.config; setHash(d.hash);
    if (d.warning) showError(d.warning);
    $("download").href = "/api/model?sid=" + d.sid;
    syncControls();
    connect();
  } catch (err) { showError("cannot start a session: " + err.message); }
}

window.playground = state;   // for the browser tests and the curious
start();
