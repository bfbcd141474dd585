// biograd playground: the page. Plain JavaScript and canvas/SVG, no library, no build step.
// Every number comes from the server (biograd's engine); this file only draws and sends settings.
// User strings (column names, class labels) are shown with textContent only, never as HTML.
"use strict";
(function () {
  const replayNode = document.getElementById("replay-data");
  const REPLAY = replayNode ? JSON.parse(replayNode.textContent) : null;
  const TOKEN = REPLAY ? "" : new URLSearchParams(window.location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  // orange (negative) - white - blue (positive), as TensorFlow Playground; reads for colour-blind viewers
  const NEG = [232, 113, 10], POS = [8, 119, 189], MID = [245, 245, 245];
  const CLASS_COLOURS = ["#E69F00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  const NODE = 40, GAP_Y = 12, COL_W = 120, TOP = 56, LEFT = 96;

  let points = null, frame = null, settings = null, shapeKey = "", selected = null;
  let playing = false, busy = false, frameCount = 0, totalFrames = 0, fpsStart = performance.now();
  const decoded = new Map();

  // ---------------------------------------------------------------- server
  function url(path, params) {
    const q = new URLSearchParams(params || {});
    q.set("token", TOKEN);
    return path + "?" + q.toString();
  }
  async function getJSON(path, params) {
    const r = await fetch(url(path, params), { cache: "no-store" });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }
  async function post(path, body) {
    const r = await fetch(url(path), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await r.json();
    if (!r.ok) throw new Error(answer.error || r.statusText);
    return answer;
  }
  function say(text) { $("message").textContent = text || ""; }

  // ---------------------------------------------------------------- colours and heatmaps
  function bytes(b64) {
    let out = decoded.get(b64);
    if (out) return out;
    const s = atob(b64);
    out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    if (decoded.size > 400) decoded.clear();
    decoded.set(b64, out);
    return out;
  }
  function diverging(t) { // t in [-1, 1]
    const end = t < 0 ? NEG : POS, a = Math.min(1, Math.abs(t));
    return [0, 1, 2].map((i) => Math.round(MID[i] + (end[i] - MID[i]) * a));
  }
  function hex(c) { return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)]; }
  function sequential(t) { // light yellow -> dark blue, for regression values
    const stops = [[255, 247, 188], [127, 205, 187], [44, 127, 184], [37, 52, 148]];
    const x = Math.max(0, Math.min(1, t)) * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
    return [0, 1, 2].map((k) => Math.round(stops[i][k] + (stops[i + 1][k] - stops[i][k]) * f));
  }
  const scratch = document.createElement("canvas");
  let scratchImage = null;
  function paint(canvas, grid, colourOf) {
    if (scratch.width !== grid) { scratch.width = grid; scratch.height = grid; scratchImage = null; }
    const ctx = scratch.getContext("2d");
    if (!scratchImage) scratchImage = ctx.createImageData(grid, grid);
    const px = scratchImage.data;
    for (let i = 0; i < grid * grid; i++) {
      const c = colourOf(i);
      px[4 * i] = c[0]; px[4 * i + 1] = c[1]; px[4 * i + 2] = c[2]; px[4 * i + 3] = 255;
    }
    ctx.putImageData(scratchImage, 0, 0);
    const out = canvas.getContext("2d");
    out.imageSmoothingEnabled = true;
    out.drawImage(scratch, 0, 0, canvas.width, canvas.height);
  }
  function neuronValue(n, i) { return (bytes(n.map)[i] / 255) * 2 * n.scale - n.scale; }
  function surfaceColour(out, i, k) {
    if (out.kind === "binary") return diverging((bytes(out.p)[i] / 255) * 2 - 1);
    if (out.kind === "regression") {
      const c = sequential(bytes(out.v)[i] / 255);
      return points && points.one_feature ? c.map((v) => Math.round(v + (255 - v) * 0.7)) : c; // pale under a curve
    }
    const cls = bytes(out.cls)[i], p = bytes(out.p)[i] / 255, base = hex(CLASS_COLOURS[cls % 8]);
    const a = Math.max(0, (p - 1 / k) / (1 - 1 / k));
    return [0, 1, 2].map((j) => Math.round(MID[j] + (base[j] - MID[j]) * (0.25 + 0.75 * a)));
  }
  function surfaceValue(out, i) {
    if (out.kind === "binary") return "P(" + className(1) + ") = " + (bytes(out.p)[i] / 255).toFixed(3);
    if (out.kind === "regression") return "prediction = " + (out.lo + (bytes(out.v)[i] / 255) * (out.hi - out.lo)).toPrecision(3);
    return "class " + className(bytes(out.cls)[i]) + ", P = " + (bytes(out.p)[i] / 255).toFixed(3);
  }
  function className(c) { return points && points.classes ? points.classes[c] : String(c); }

  // ---------------------------------------------------------------- the network drawing
  function layout(shape) {
    const tallest = Math.max(...shape);
    const height = TOP + tallest * (NODE + GAP_Y) + 10;
    return shape.map((n, l) => {
      const x = LEFT + l * COL_W, y0 = TOP + ((tallest - n) * (NODE + GAP_Y)) / 2;
      return Array.from({ length: n }, (_, j) => ({ x, y: y0 + j * (NODE + GAP_Y), height }));
    });
  }
  function inputName(j) { return points && points.features[j] !== undefined ? points.features[j] : "x" + (j + 1); }

  function buildNetwork(shape) {
    const net = $("net"), svg = $("links");
    for (const el of Array.from(net.querySelectorAll(".node, .node-label, .layer-head"))) el.remove();
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const pos = layout(shape), L = shape.length;
    const width = LEFT + (L - 1) * COL_W + NODE + 20, height = pos[0][0].height;
    net.style.height = height + "px"; net.style.width = width + "px";
    svg.setAttribute("width", width); svg.setAttribute("height", height);
    for (let l = 1; l < L; l++) {
      for (let k = 0; k < shape[l]; k++) {
        for (let j = 0; j < shape[l - 1]; j++) {
          const a = pos[l - 1][j], b = pos[l][k], p = document.createElementNS(SVG, "path");
          const x1 = a.x + NODE, y1 = a.y + NODE / 2, x2 = b.x, y2 = b.y + NODE / 2, mx = (x1 + x2) / 2;
          p.setAttribute("d", `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
          p.id = `w-${l - 1}-${k}-${j}`;
          p.dataset.layer = l - 1; p.dataset.neuron = k; p.dataset.source = j;
          p.addEventListener("click", () => inspect({ layer: l - 1, neuron: k, source: j }));
          p.addEventListener("mousemove", (e) => tipWeight(e, l - 1, k, j));
          p.addEventListener("mouseleave", hideTip);
          svg.appendChild(p);
        }
      }
    }
    for (let l = 0; l < L; l++) {
      for (let j = 0; j < shape[l]; j++) {
        const c = document.createElement("canvas");
        c.width = NODE; c.height = NODE; c.className = "node";
        c.style.left = pos[l][j].x + "px"; c.style.top = pos[l][j].y + "px";
        c.id = l === 0 ? `in-${j}` : `n-${l - 1}-${j}`;
        if (l > 0) {
          c.dataset.layer = l - 1; c.dataset.neuron = j;
          c.addEventListener("click", () => inspect({ layer: l - 1, neuron: j }));
          c.addEventListener("mousemove", (e) => tipNeuron(e, l - 1, j));
          c.addEventListener("mouseleave", hideTip);
        } else {
          const label = document.createElement("div");
          label.className = "node-label"; label.textContent = inputName(j);
          label.style.left = "0px"; label.style.width = LEFT - 4 + "px";
          label.style.top = pos[l][j].y + 2 + "px"; label.style.textAlign = "right";
          net.appendChild(label);
        }
        net.appendChild(c);
      }
      if (l > 0 && l < L - 1 && !REPLAY) net.appendChild(layerHead(l - 1, pos[l][0].x));
      if (l === L - 1) {
        const label = document.createElement("div");
        label.className = "node-label"; label.textContent = "output";
        label.style.left = pos[l][0].x + "px"; label.style.top = pos[l][0].y - 16 + "px";
        net.appendChild(label);
      }
    }
    drawInputs(shape[0]);
  }

  function layerHead(h, x) {
    const head = document.createElement("div");
    head.className = "layer-head";
    head.style.left = x - 30 + "px"; head.style.top = "0px"; head.style.width = NODE + 60 + "px";
    const plus = document.createElement("button"), minus = document.createElement("button");
    plus.type = minus.type = "button"; plus.textContent = "+"; minus.textContent = "\u2212";
    plus.title = "add a neuron"; minus.title = "remove a neuron";
    plus.id = `add-neuron-${h}`; minus.id = `remove-neuron-${h}`;
    plus.addEventListener("click", () => changeNeurons(h, +1));
    minus.addEventListener("click", () => changeNeurons(h, -1));
    const count = document.createElement("div");
    count.textContent = settings.hidden[h] + (settings.hidden[h] === 1 ? " neuron" : " neurons");
    const act = document.createElement("select");
    act.id = `activation-${h}`; act.title = "activation of this layer";
    for (const name of ["relu", "tanh", "sigmoid", "leaky_relu", "identity"]) {
      const o = document.createElement("option"); o.value = o.textContent = name; act.appendChild(o);
    }
    act.value = settings.activations[h];
    act.addEventListener("change", () => {
      const activations = settings.activations.slice(); activations[h] = act.value;
      send({ activations });
    });
    head.append(plus, minus, count, act);
    return head;
  }

  function drawInputs(n) {
    if (!points) return;
    const g = 24;
    for (let j = 0; j < n; j++) {
      const c = $(`in-${j}`);
      if (!c) continue;
      if (j > 1) { paint(c, 1, () => [220, 220, 220]); continue; } // held at its mean in the plane
      paint(c, g, (i) => {
        const col = i % g, row = Math.floor(i / g);
        return diverging(j === 0 ? (col / (g - 1)) * 2 - 1 : 1 - (row / (g - 1)) * 2);
      });
    }
  }

  function drawNetwork(f) {
    const shape = f.shape, key = shape.join("-") + "|" + (settings ? settings.activations.join(",") : "") + "|" + (points ? points.version : "");
    if (key !== shapeKey) { buildNetwork(shape); shapeKey = key; }
    const grid = points ? points.grid : 40;
    f.neurons.forEach((layer, l) => layer.forEach((n, j) => {
      const c = $(`n-${l}-${j}`);
      if (c) paint(c, grid, (i) => diverging(neuronValue(n, i) / n.scale));
    }));
    const k = points && points.classes ? points.classes.length : 2;
    for (let o = 0; o < shape[shape.length - 1]; o++) {
      const c = $(`n-${shape.length - 2}-${o}`);
      if (!c) continue;
      if (f.output.per_class) { // softmax: output neuron o shows P(class o) in its class colour
        const p = bytes(f.output.per_class[o]), base = hex(CLASS_COLOURS[o % 8]);
        paint(c, grid, (i) => [0, 1, 2].map((j) => Math.round(MID[j] + (base[j] - MID[j]) * (p[i] / 255))));
      } else paint(c, grid, (i) => surfaceColour(f.output, i, k));
    }
    let biggest = 0;
    for (const layer of f.weights) for (const row of layer.w) for (const w of row) biggest = Math.max(biggest, Math.abs(w));
    f.weights.forEach((layer, l) => layer.w.forEach((row, kk) => row.forEach((w, j) => {
      const p = $(`w-${l}-${kk}-${j}`);
      if (!p) return;
      const c = w < 0 ? NEG : POS;
      p.setAttribute("stroke", `rgb(${c[0]},${c[1]},${c[2]})`);
      p.setAttribute("stroke-width", (0.5 + (7 * Math.abs(w)) / Math.max(biggest, 1e-9)).toFixed(2));
      p.setAttribute("stroke-opacity", (0.35 + (0.65 * Math.abs(w)) / Math.max(biggest, 1e-9)).toFixed(2));
    })));
  }

  // ---------------------------------------------------------------- output, points, curves
  function drawSurface(f) {
    const canvas = $("surface"), ctx = canvas.getContext("2d");
    const k = points && points.classes ? points.classes.length : 2;
    paint(canvas, points.grid, (i) => surfaceColour(f.output, i, k));
    if (!dots || dots.version !== points.version) dots = drawDots(canvas.width, canvas.height);
    ctx.drawImage(dots.canvas, 0, 0);
    if (points.one_feature && f.output.kind === "regression") drawCurve(ctx, f.output, canvas.width, canvas.height);
  }

  function drawCurve(ctx, out, W, H) { // one feature: the prediction as a curve over it
    const g = points.grid, v = bytes(out.v), [, , y0, y1] = points.extent;
    for (const [colour, width] of [["#fff", 5], ["#111", 2]]) {
      ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath();
      for (let c = 0; c < g; c++) {
        const value = out.lo + (v[c] / 255) * (out.hi - out.lo);
        const x = ((c + 0.5) / g) * W, y = H - ((value - y0) / (y1 - y0)) * H;
        if (c === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
  }

  let dots = null;
  function drawDots(W, H) { // the data points, drawn once per data set onto their own transparent layer
    const canvas = document.createElement("canvas"), ctx = canvas.getContext("2d");
    canvas.width = W; canvas.height = H;
    const [x0, x1, y0, y1] = points.extent;
    const px = (x) => ((x - x0) / (x1 - x0)) * W, py = (y) => H - ((y - y0) / (y1 - y0)) * H;
    const ys = points.y_train.concat(points.y_test);
    const lo = Math.min(...ys), hi = Math.max(...ys);
    function colourOf(y) {
      if (points.task === "regression") { const c = sequential((y - lo) / (hi - lo || 1)); return `rgb(${c[0]},${c[1]},${c[2]})`; }
      if (points.task === "binary") { const c = y > 0.5 ? POS : NEG; return `rgb(${c[0]},${c[1]},${c[2]})`; }
      return CLASS_COLOURS[y % 8];
    }
    for (const [set, values, stroke] of [[points.train, points.y_train, "#fff"], [points.test, points.y_test, "#000"]]) {
      ctx.lineWidth = 1;
      set.forEach((p, i) => {
        ctx.beginPath();
        ctx.arc(px(p[0]), py(p[1]), 3.2, 0, 2 * Math.PI);
        ctx.fillStyle = colourOf(values[i]); ctx.fill();
        ctx.strokeStyle = stroke; ctx.stroke();
      });
    }
    return { canvas, version: points.version };
  }

  function drawCurves(f) {
    const canvas = $("curves"), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    const m = { l: 42, r: 8, t: 8, b: 28 };
    ctx.clearRect(0, 0, W, H);
    const c = f.curves, values = c.loss.concat(c.val_loss).filter((v) => v !== null && isFinite(v));
    if (c.baseline !== null && isFinite(c.baseline)) values.push(c.baseline);
    const top = values.length ? Math.max(...values) * 1.05 : 1, last = c.epoch.length ? c.epoch[c.epoch.length - 1] : 1;
    const X = (e) => m.l + ((e - (c.epoch[0] || 0)) / Math.max(last - (c.epoch[0] || 0), 1)) * (W - m.l - m.r);
    const Y = (v) => H - m.b - (v / (top || 1)) * (H - m.t - m.b);
    ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(m.l, m.t); ctx.lineTo(m.l, H - m.b); ctx.lineTo(W - m.r, H - m.b); ctx.stroke();
    ctx.fillStyle = "#666"; ctx.font = "11px sans-serif";
    ctx.fillText("epoch", W / 2 - 14, H - 4);
    ctx.fillText(String(last), W - m.r - 24, H - m.b + 12);
    ctx.save(); ctx.translate(11, H / 2 + 12); ctx.rotate(-Math.PI / 2); ctx.fillText("loss", 0, 0); ctx.restore();
    ctx.fillText(top.toPrecision(2), 14, m.t + 8);
    if (c.baseline !== null) {
      ctx.setLineDash([2, 3]); ctx.strokeStyle = "#aaa";
      ctx.beginPath(); ctx.moveTo(m.l, Y(c.baseline)); ctx.lineTo(W - m.r, Y(c.baseline)); ctx.stroke();
    }
    for (const [vals, colour, dash] of [[c.loss, "#1b4f9c", []], [c.val_loss, "#e8710a", [5, 3]]]) {
      ctx.setLineDash(dash); ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath();
      let started = false;
      vals.forEach((v, i) => {
        if (v === null) { started = false; return; }
        if (!started) { ctx.moveTo(X(c.epoch[i]), Y(v)); started = true; } else ctx.lineTo(X(c.epoch[i]), Y(v));
      });
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }

  function fmt(v) {
    if (v === null || v === undefined) return "\u2013";
    if (v === 0) return "0";
    const a = Math.abs(v);
    return a >= 1e-3 && a < 1e4 ? v.toPrecision(4).replace(/\.?0+$/, (m) => (m.includes(".") ? "" : m)) : v.toExponential(3);
  }

  function render(f) {
    const began = performance.now();
    draw(f);
    document.body.dataset.drawMs = (performance.now() - began).toFixed(1);
  }

  function draw(f) {
    frame = f;
    if (f.settings) settings = f.settings;
    $("epoch").textContent = f.epoch;
    $("stepcount").textContent = f.step;
    $("sps").textContent = Math.round(f.steps_per_second || 0);
    $("train-loss").textContent = fmt(f.train_loss);
    $("test-loss").textContent = fmt(f.test_loss);
    $("shape").textContent = f.shape.join("-");
    document.body.dataset.epoch = f.epoch;
    document.body.dataset.step = f.step;
    document.body.dataset.trainLoss = f.train_loss;
    if (f.message) say(f.message);
    if (!points) return;
    drawNetwork(f);
    drawSurface(f);
    drawCurves(f);
    const d = f.diagnosis;
    $("verdict").textContent = d ? d.verdict : "";
    $("diag-text").textContent = d ? d.explanation + " " + d.advice : "Train a few epochs: the diagnosis reads the curves as History.diagnose() does.";
    if (!REPLAY && playing !== f.playing) setPlaying(f.playing);
    frameCount++;
    document.body.dataset.frames = ++totalFrames;
    const now = performance.now();
    if (now - fpsStart > 1000) {
      $("fps").textContent = Math.round((frameCount * 1000) / (now - fpsStart));
      document.body.dataset.fps = $("fps").textContent;
      frameCount = 0; fpsStart = now;
    }
  }

  function showData(p) {
    points = p;
    dots = null;
    decoded.clear();
    $("x-label").textContent = p.features[0];
    $("y-label").textContent = !p.one_feature ? p.features[1] : p.task === "regression" ? p.target : "(points spread out at random)";
    $("data-desc").textContent = p.description + " \u2013 " + p.train.length + " training rows (filled, white edge), " +
      p.test.length + " test rows (black edge).";
    const notes = $("data-notes");
    while (notes.firstChild) notes.removeChild(notes.firstChild);
    for (const n of p.notes) { const li = document.createElement("li"); li.textContent = n; notes.appendChild(li); }
    const legend = $("legend");
    while (legend.firstChild) legend.removeChild(legend.firstChild);
    const title = document.createElement("span"); title.textContent = p.target + ": "; legend.appendChild(title);
    if (p.classes) {
      p.classes.forEach((name, c) => {
        const key = document.createElement("span"); key.className = "key";
        const colour = p.task === "binary" ? (c === 1 ? POS : NEG) : hex(CLASS_COLOURS[c % 8]);
        key.style.background = `rgb(${colour[0]},${colour[1]},${colour[2]})`;
        const label = document.createElement("span"); label.textContent = name;
        legend.append(key, label);
      });
    } else {
      const label = document.createElement("span");
      label.textContent = "low (light) to high (dark blue)";
      legend.appendChild(label);
    }
    shapeKey = "";
  }

  // ---------------------------------------------------------------- hover and click
  function showTip(e, text) {
    const tip = $("tip"); tip.textContent = text; tip.hidden = false;
    tip.style.left = e.clientX + 14 + "px"; tip.style.top = e.clientY + 10 + "px";
  }
  function hideTip() { $("tip").hidden = true; }
  function layerName(l) { return l === frame.shape.length - 2 ? "output" : "hidden layer " + (l + 1); }
  function sourceName(l, j) { return l === 0 ? inputName(j) : `neuron ${j + 1} of hidden layer ${l}`; }
  function tipWeight(e, l, k, j) {
    if (!frame) return;
    showTip(e, `weight ${sourceName(l, j)} \u2192 neuron ${k + 1} of ${layerName(l)}\nw = ${fmt(frame.weights[l].w[k][j])}`);
  }
  function gridIndex(e, el) {
    const r = el.getBoundingClientRect(), g = points.grid;
    const col = Math.min(g - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * g)));
    const row = Math.min(g - 1, Math.max(0, Math.floor(((e.clientY - r.top) / r.height) * g)));
    return { i: row * g + col, x: points.extent[0] + ((col + 0.5) / g) * (points.extent[1] - points.extent[0]),
      y: points.extent[3] - ((row + 0.5) / g) * (points.extent[3] - points.extent[2]) };
  }
  function tipNeuron(e, l, j) {
    if (!frame || !points) return;
    const at = gridIndex(e, e.currentTarget), b = frame.weights[l].b[j];
    let text = `neuron ${j + 1} of ${layerName(l)}\nbias b = ${fmt(b)}`;
    if (l < frame.neurons.length) text += `\noutput here = ${fmt(neuronValue(frame.neurons[l][j], at.i))}`;
    else if (frame.output.per_class) text += `\nP(${className(j)}) here = ${(bytes(frame.output.per_class[j])[at.i] / 255).toFixed(3)}`;
    else text += "\n" + surfaceValue(frame.output, at.i);
    showTip(e, text);
  }

  async function inspect(target) {
    if (REPLAY || !frame) return;
    selected = target;
    for (const el of Array.from(document.querySelectorAll(".selected"))) el.classList.remove("selected");
    const id = target.source === undefined ? `n-${target.layer}-${target.neuron}` : `w-${target.layer}-${target.neuron}-${target.source}`;
    if (!$(id)) { selected = null; $("inspector").hidden = true; return; } // gone with a network change
    $(id).classList.add("selected");
    try {
      const params = { layer: target.layer, neuron: target.neuron };
      if (target.source !== undefined) params.source = target.source;
      showInspection(await getJSON("/api/inspect", params));
    } catch (err) { say(err.message); }
  }

  function showInspection(r) {
    const box = $("inspector"), lines = [];
    const where = `neuron ${r.neuron + 1} of ${layerName(r.layer)}`;
    const act = r.activation === "identity" ? "z (no activation)" : `${r.activation}(z)`;
    const penalty = r.regularization === "none" || !r.reg_rate ? "" : r.regularization === "l2"
      ? ` + L2: rate \u00d7 w = ${fmt(r.penalty_part)}` : ` + L1: rate \u00d7 sign(w) = ${fmt(r.penalty_part)}`;
    lines.push(`Batch: ${r.batch_size} training rows; the sample shown is training row ${r.sample_row}.`);
    lines.push("Forward (this sample):");
    if (r.kind === "weight") lines.push(`  input  a_in = ${fmt(r.input_sample)}   (${sourceName(r.layer, r.source)})`);
    lines.push(`  z = \u03a3 w\u00b7a_in + b = ${fmt(r.z)}`);
    lines.push(`  a = ${act} = ${fmt(r.a)}`);
    lines.push("Backward (the chain rule, from loss.backward()):");
    if (r.dL_da !== null && r.activation !== "identity") lines.push(`  dL/da = ${fmt(r.dL_da)}`);
    lines.push(`  delta = dL/dz = ${fmt(r.delta)}   (sum over the batch: ${fmt(r.delta_sum)})`);
    const sym = r.kind === "weight" ? "w" : "b";
    if (r.kind === "weight") lines.push(`  dL/dw = \u03a3 over the batch of delta \u00d7 a_in = ${fmt(r.data_part)}${penalty}`);
    else lines.push(`  dL/db = \u03a3 over the batch of delta = ${fmt(r.data_part)}`);
    lines.push(`        = ${fmt(r.grad)}   (the engine's .grad)`);
    lines.push("Update:");
    lines.push(`  ${sym} \u2190 ${sym} \u2212 lr \u00d7 dL/d${sym} = ${fmt(r.value)} \u2212 ${fmt(r.lr)} \u00d7 ${fmt(r.grad)} = ${fmt(r.plain_update)}`);
    if (r.optimizer !== "sgd") {
      lines.push(`  ${r.optimizer === "adam" ? "Adam" : "SGD with momentum"} uses its running averages: it moves ${sym} to ${fmt(r.after)}.`);
    }
    lines.push(`Loss of this batch: ${fmt(r.loss)} (data ${fmt(r.data_loss)}); dropout is off here, as when predicting.`);
    $("insp-title").textContent = r.kind === "weight" ? `Weight ${sourceName(r.layer, r.source)} \u2192 ${where}` : `${where[0].toUpperCase()}${where.slice(1)} (its bias b)`;
    $("insp-body").textContent = lines.join("\n");
    box.dataset.grad = String(r.grad);
    box.dataset.value = String(r.value);
    box.dataset.after = String(r.after);
    box.dataset.delta = String(r.delta);
    box.dataset.rows = r.rows.join(",");
    $("backprop-link").href = url("/backprop", { sample: 0 });
    box.hidden = false;
  }

  // ---------------------------------------------------------------- controls
  function setPlaying(on) {
    playing = on;
    $("play").textContent = on ? "\u23F8 Pause" : "\u25B6 Play";
    document.body.dataset.playing = on ? "1" : "0";
    if (on) loop();
  }
  let again = false, againPoints = false;
  async function tick(withPoints) { // one frame now; asked again while fetching: one more afterwards
    if (busy) { again = true; againPoints = againPoints || !!withPoints; return; }
    busy = true;
    try {
      let points1 = withPoints;
      do {
        again = false;
        const f = await fetchFrame(points1);
        points1 = againPoints; againPoints = false;
        if (f) { if (f.data) showData(f.data); render(f); }
      } while (again);
    } finally { busy = false; }
  }
  async function fetchFrame(withPoints) {
    const need = withPoints || !points || (frame && points && frame.data_version !== points.version);
    const asked = performance.now();
    try {
      const f = await getJSON("/api/frame", need ? { points: 1 } : {});
      document.body.dataset.fetchMs = (performance.now() - asked).toFixed(1);
      return f;
    } catch (err) { say(err.message); return null; }
  }
  let looping = false, sinceInspect = 0;
  async function loop() { // while playing: two frames on their way while one is drawn
    if (looping) return;
    looping = true;
    try {
      const pending = [fetchFrame(), fetchFrame()];
      while (playing) {
        const f = await pending.shift();
        if (playing) pending.push(fetchFrame());
        if (f && !(frame && frame.frame > f.frame)) { if (f.data) showData(f.data); render(f); }
        if (selected && ++sinceInspect >= 15) { sinceInspect = 0; inspect(selected); } // live numbers
        await new Promise((done) => requestAnimationFrame(done));
      }
      await Promise.all(pending);
    } finally { looping = false; }
  }
  async function send(changes) {
    try {
      say("");
      const state = await post("/api/settings", changes);
      settings = state.settings;
      setControls(settings);
      await tick(true);
      setControls(settings); // the loss choices follow the task of the new data
      if (selected) inspect(selected);
    } catch (err) { say(err.message); if (settings) setControls(settings); }
  }
  async function control(action) {
    try {
      const state = await post("/api/control", { action });
      settings = state.settings;
      setPlaying(state.playing);
      if (!state.playing) await tick();
      if (selected && !state.playing) inspect(selected);
    } catch (err) { say(err.message); }
  }
  function changeNeurons(h, by) {
    const hidden = settings.hidden.slice(); hidden[h] = Math.min(8, Math.max(1, hidden[h] + by));
    send({ hidden, activations: settings.activations });
  }
  function setControls(s) {
    $("lr").value = String(s.lr);
    if ($("lr").value !== String(s.lr)) { const o = document.createElement("option"); o.textContent = String(s.lr); $("lr").appendChild(o); $("lr").value = String(s.lr); }
    $("optimizer").value = s.optimizer;
    $("batch").value = String(s.batch_size);
    if ($("batch").value !== String(s.batch_size)) { const o = document.createElement("option"); o.textContent = String(s.batch_size); $("batch").appendChild(o); $("batch").value = String(s.batch_size); }
    $("reg").value = s.regularization; $("reg-rate").value = String(s.reg_rate); $("dropout").value = String(s.dropout);
    $("dataset").value = s.dataset; $("noise").value = s.noise; $("ratio").value = s.train_ratio;
    $("noise-value").textContent = s.noise; $("ratio-value").textContent = Math.round(s.train_ratio * 100) + "%";
    $("n-points").value = String(s.n_points); $("seed").value = s.seed;
    $("csv-panel").hidden = s.dataset !== "csv" && $("dataset").value !== "csv";
    const loss = $("loss");
    while (loss.firstChild) loss.removeChild(loss.firstChild);
    const task = frame ? frame.task : "binary";
    const choices = { binary: ["bce_with_logits", "mse"], multiclass: ["cross_entropy"], regression: ["mse", "l1"] }[task] || [s.loss];
    for (const c of choices) { const o = document.createElement("option"); o.value = o.textContent = c; loss.appendChild(o); }
    loss.value = s.loss;
    $("remove-layer").disabled = s.hidden.length === 0;
    $("add-layer").disabled = s.hidden.length >= 6;
  }
  function wire() {
    $("play").addEventListener("click", () => control(playing ? "pause" : "play"));
    $("step").addEventListener("click", () => control("step"));
    $("reset").addEventListener("click", () => control("reset"));
    $("lr").addEventListener("change", (e) => send({ lr: Number(e.target.value) }));
    $("optimizer").addEventListener("change", (e) => send({ optimizer: e.target.value }));
    $("batch").addEventListener("change", (e) => send({ batch_size: e.target.value === "full" ? "full" : Number(e.target.value) }));
    $("loss").addEventListener("change", (e) => send({ loss: e.target.value }));
    $("reg").addEventListener("change", (e) => send({ regularization: e.target.value }));
    $("reg-rate").addEventListener("change", (e) => send({ reg_rate: Number(e.target.value) }));
    $("dropout").addEventListener("change", (e) => send({ dropout: Number(e.target.value) }));
    $("dataset").addEventListener("change", (e) => {
      if (e.target.value === "csv") { $("csv-panel").hidden = false; return; }
      $("csv-panel").hidden = true;
      send({ dataset: e.target.value, loss: "auto" });
    });
    $("noise").addEventListener("change", (e) => send({ noise: Number(e.target.value) }));
    $("ratio").addEventListener("change", (e) => send({ train_ratio: Number(e.target.value) }));
    $("n-points").addEventListener("change", (e) => send({ n_points: Number(e.target.value) }));
    $("seed").addEventListener("change", (e) => send({ seed: Number(e.target.value) }));
    $("add-layer").addEventListener("click", () => send({ hidden: settings.hidden.concat([4]), activations: settings.activations.concat([settings.activations[settings.activations.length - 1] || "tanh"]) }));
    $("remove-layer").addEventListener("click", () => send({ hidden: settings.hidden.slice(0, -1), activations: settings.activations.slice(0, -1) }));
    $("csv-file").addEventListener("change", upload);
    $("csv-load").addEventListener("click", useColumns);
    $("surface").addEventListener("mousemove", (e) => {
      if (!frame || !points) return;
      const at = gridIndex(e, e.currentTarget);
      showTip(e, `${points.features[0]} = ${fmt(at.x)}\n${points.features.length > 1 ? points.features[1] : ""} = ${fmt(at.y)}\n${surfaceValue(frame.output, at.i)}`);
    });
    $("surface").addEventListener("mouseleave", hideTip);
    for (const [id, what] of [["export-script", "script"], ["export-torch", "torch"], ["export-model", "model"], ["export-replay", "replay"]]) {
      $(id).href = url("/api/export/" + what);
    }
  }

  async function upload() {
    const file = $("csv-file").files[0];
    if (!file) return;
    $("data-msg").textContent = "Reading " + file.name + " ...";
    try {
      const r = await fetch(url("/api/upload"), {
        method: "POST",
        headers: { "Content-Type": "application/octet-stream", "X-Filename": encodeURIComponent(file.name) },
        body: await file.arrayBuffer(),
      });
      const info = await r.json();
      if (!r.ok) throw new Error(info.error);
      const box = $("csv-columns");
      while (box.firstChild) box.removeChild(box.firstChild);
      const head = document.createElement("div"); head.className = "small";
      head.textContent = `${info.rows} rows. Features (numeric columns; the first two are the plot's axes):`;
      box.appendChild(head);
      info.numeric.forEach((name, i) => {
        const label = document.createElement("label"), box2 = document.createElement("input"), text = document.createElement("span");
        box2.type = "checkbox"; box2.value = name; box2.checked = i < 2; box2.className = "csv-feature";
        text.textContent = name; label.append(box2, text); box.appendChild(label);
      });
      const target = $("csv-target");
      while (target.firstChild) target.removeChild(target.firstChild);
      for (const name of info.columns) { const o = document.createElement("option"); o.value = name; o.textContent = name; target.appendChild(o); }
      target.value = info.columns[info.columns.length - 1];
      $("csv-load").disabled = false;
      $("data-msg").textContent = "";
    } catch (err) { $("data-msg").textContent = err.message; }
  }
  async function useColumns() {
    const features = Array.from(document.querySelectorAll(".csv-feature")).filter((b) => b.checked).map((b) => b.value);
    const target = $("csv-target").value;
    try {
      $("data-msg").textContent = "";
      const state = await post("/api/settings", { dataset: "csv", features: features.filter((f) => f !== target), target, loss: "auto" });
      settings = state.settings;
      await tick(true);
      setControls(settings);
    } catch (err) { $("data-msg").textContent = err.message; }
  }

  // ---------------------------------------------------------------- replay (a saved page, no server)
  function startReplay() {
    for (const id of ["reset", "play", "step", "add-layer", "remove-layer", "csv-file"]) $(id).disabled = true;
    for (const el of Array.from(document.querySelectorAll("header .settings select, #data-panel select, #data-panel input"))) el.disabled = true;
    $("exports").hidden = true;
    $("replay-bar").hidden = false;
    showData(REPLAY.points);
    const slider = $("replay-slider"), snaps = REPLAY.snapshots;
    slider.max = String(snaps.length - 1);
    slider.value = String(snaps.length - 1);
    const show = () => {
      const f = snaps[Number(slider.value)];
      $("replay-label").textContent = `epoch ${f.epoch}, step ${f.step} (${Number(slider.value) + 1} of ${snaps.length})`;
      render(f);
    };
    slider.addEventListener("input", show);
    show();
  }

  if (REPLAY) { startReplay(); return; }
  wire();
  getJSON("/api/frame", { points: 1 }).then((f) => {
    showData(f.data);
    settings = f.settings;
    frame = f;
    setControls(settings);
    render(f);
    setPlaying(f.playing);
  }).catch((err) => say(err.message));
})();
