/* gradtrace what-if controls: a slider per input, the output's value, the curve with
   its tangent, gradient descent, and the warning when a branch would flip.  The
   replayer is window.gtWhatif (whatif.js); the diagram's lines are written through
   window.gtPage.override (page.js). */
(function () {
  "use strict";
  var W = window.gtWhatif, page = window.gtPage;
  if (!W || !page) return;
  var P = W.P, $ = function (id) { return document.getElementById(id); };
  var box = $("gt-whatif"), SVGNS = document.querySelector("#gt-view svg").namespaceURI;
  var scalarOut = typeof W.decode(P.value) === "number";
  var cur = {}, active = false, focus = null, history = [], rows = [];
  var samples = null;     /* the curve's points; kept while only the focused input moves */

  function off(why) {
    box.className = "gt-off";
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = "What-if is off: " + why + ".";
    box.appendChild(p);
  }
  /* the replay at the traced inputs must say exactly what the trace drew */
  var st0 = W.backward(W.forward({})), t0 = W.texts(st0);
  for (var id in t0) {
    if (t0[id] !== page.original[id].trim()) {
      off("replaying the program gives '" + t0[id] + "' where the trace drew '" +
          page.original[id] + "' (" + id + ")");
      return;
    }
  }

  function operand(t) { return /[ +−·\/@]/.test(t) && t[0] !== "(" ? "(" + t + ")" : t; }
  function partial(top, bottom) { return "∂" + operand(top) + "/∂" + operand(bottom); }
  function get(x, at) { return at < 0 ? x : x.d[at]; }
  function valueOf(inp) {
    var v = inp.node in cur ? cur[inp.node] : W.decode(P.values[inp.node]);
    return get(v, inp.at);
  }
  function withValue(inputs, inp, x) {    /* inputs (node -> value) with one number changed */
    var m = {};
    for (var k in inputs) m[k] = inputs[k];
    var v = inp.node in m ? m[inp.node] : W.decode(P.values[inp.node]);
    if (inp.at < 0) m[inp.node] = x;
    else { var d = Float64Array.from(v.d); d[inp.at] = x; m[inp.node] = { s: v.s, d: d }; }
    return m;
  }

  /* ---- controls */
  var list = $("gt-whatif-inputs");
  P.inputs.forEach(function (inp, i) {
    var v = +inp.value, span = Math.max(Math.abs(v), 1);
    var row = document.createElement(inp.shape ? "div" : "label");
    row.className = "gt-wi-row";
    var name = document.createElement("span");
    name.textContent = inp.name;
    var range = document.createElement("input");
    range.type = "range"; range.min = v - span; range.max = v + span; range.step = span / 500;
    range.value = v; range.setAttribute("data-input", inp.name);
    range.setAttribute("aria-label", inp.name);
    var typed = document.createElement("input");
    typed.type = "number"; typed.step = "any"; typed.value = W.fmt(v, 4).replace("\u2212", "-");
    typed.setAttribute("data-typed", inp.name);
    typed.setAttribute("aria-label", inp.name + " value");
    row.appendChild(inp.shape ? chooser(inp, i, range, typed) : name);
    row.appendChild(range); row.appendChild(typed);
    list.appendChild(row);
    rows.push({ inp: inp, range: range, typed: typed });
    range.addEventListener("input", function () { set(i, +range.value, range); });
    typed.addEventListener("change", function () {
      var x = parseFloat(typed.value);
      if (isFinite(x)) set(i, x, typed);
    });
  });
  function chooser(inp, i, range, typed) {   /* which element of a larger array the slider moves */
    var pick = document.createElement("select"), n = inp.shape.reduce(function (a, b) { return a * b; }, 1);
    pick.setAttribute("aria-label", "element of " + inp.array);
    for (var k = 0; k < n; k++) {
      var idx = [], rem = k;
      for (var j = inp.shape.length - 1; j >= 0; j--) { idx.unshift(rem % inp.shape[j]); rem = Math.floor(rem / inp.shape[j]); }
      var o = document.createElement("option");
      o.value = k; o.textContent = inp.array + "[" + idx.join(", ") + "]";
      pick.appendChild(o);
    }
    pick.addEventListener("change", function () {
      inp.at = +pick.value; inp.name = pick.options[pick.selectedIndex].textContent;
      range.setAttribute("data-input", inp.name); range.setAttribute("aria-label", inp.name);
      typed.setAttribute("data-typed", inp.name);
      var v = valueOf(inp), span = Math.max(Math.abs(v), 1);
      range.min = v - span; range.max = v + span; range.step = span / 500;
      focus = i; samples = null;
      show(i, null); curve(active ? W.state : st0);
    });
    return pick;
  }

  /* dragging an input's value on the diagram moves it too */
  rows.forEach(function (r, i) {
    var line = r.inp.at < 0 ? document.getElementById("v" + r.inp.node) : null;
    if (!line) return;
    line.classList.add("gt-drag-num");
    line.addEventListener("pointerdown", function (e) {
      e.stopPropagation(); e.preventDefault();
      var x0 = e.clientX, v0 = valueOf(r.inp), per = (+r.range.max - +r.range.min) / 300;
      line.setPointerCapture(e.pointerId);
      function move(ev) { set(i, v0 + (ev.clientX - x0) * per, null); }
      function up() { line.removeEventListener("pointermove", move); line.removeEventListener("pointerup", up); }
      line.addEventListener("pointermove", move);
      line.addEventListener("pointerup", up);
    });
  });

  /* the curve starts on the parameter the output is most sensitive to */
  focus = 0;
  var best = -1;
  P.inputs.forEach(function (inp, i) {
    var g = st0.grads[inp.node], m = g === undefined ? -1 : Math.abs(get(g, inp.at));
    if (P.descend.indexOf(inp.node) >= 0 && m > best) { best = m; focus = i; }
  });

  function set(i, x, from) {
    if (i !== focus) samples = null;
    focus = i;
    cur = withValue(cur, P.inputs[i], x);
    update(from);
  }
  function show(i, from) {     /* a slider and its typed value follow the current value */
    var r = rows[i], x = valueOf(r.inp);
    if (r.range !== from) {
      if (x < +r.range.min) r.range.min = x;
      if (x > +r.range.max) r.range.max = x;
      r.range.value = x;
    }
    if (r.typed !== from) r.typed.value = W.fmt(x, 4).replace(/\u2212/g, "-");
  }

  function update(from) {
    var t = performance.now();
    var st = W.backward(W.forward(cur));
    active = true;
    $("gt-panel").classList.add("gt-whatif-on");
    page.override(W.texts(st));
    say(st);
    rows.forEach(function (r, i) { show(i, from); });
    curve(st);
    W.lastMs = performance.now() - t;
    W.state = st;
    return st;
  }
  function say(st) {
    var y = st.vals[P.output];
    $("gt-whatif-out").textContent = P.outputName + " = " + W.valueText(y, P.digits);
    var q = W.flipped(st.vals), warn = $("gt-warning");
    warn.hidden = !q;
    warn.textContent = q ? "at " + q.where + " the code would take the other branch for this " +
      "value; the diagram shows the traced path" : "";
  }
  function reset() {
    cur = {}; active = false; history = []; samples = null;
    $("gt-panel").classList.remove("gt-whatif-on");
    page.override(null);
    say(st0);
    rows.forEach(function (r, i) { show(i, null); });
    curve(st0);
    plotHistory();
  }

  /* ---- the curve: the output against the focused input, with its tangent */
  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    parent.appendChild(e);
    return e;
  }
  function plot(id, height) {   /* an empty SVG drawing inside the element ``id`` */
    var holder = $(id);
    holder.textContent = "";
    return el("svg", { viewBox: "0 0 300 " + height }, holder);
  }
  function curve(st) {
    var svg = plot("gt-curve", 150);
    if (!scalarOut || !rows.length) return;
    var inp = P.inputs[focus], x0 = valueOf(inp), r = rows[focus];
    var a = +r.range.min, b = +r.range.max;
    if (!samples || samples.a !== a || samples.b !== b) {
      samples = { a: a, b: b, xs: [], ys: [], off: [] };
      for (var i = 0; i <= 40; i++) {
        var x = a + ((b - a) * i) / 40, vals = W.forward(withValue(cur, inp, x)).vals;
        samples.xs.push(x);
        samples.ys.push(vals[P.output]);
        samples.off.push(P.guards.length ? !!W.flipped(vals) : false);
      }
    }
    var xs = samples.xs, ys = samples.ys;
    var y0 = st.vals[P.output], g = st.grads[inp.node];
    var slope = g === undefined ? 0 : get(g, inp.at);
    var fin = ys.filter(isFinite).concat([y0]);
    var lo = Math.min.apply(null, fin), hi = Math.max.apply(null, fin), pad = (hi - lo) * 0.1 || 1;
    lo -= pad; hi += pad;
    var X = function (x) { return 30 + ((x - a) / (b - a)) * 260; };
    var Y = function (y) { return 120 - ((y - lo) / (hi - lo)) * 105; };
    el("line", { x1: 30, y1: 120, x2: 290, y2: 120, "class": "gt-axis" }, svg);
    for (var k = 0; k < xs.length - 1; k++) {   /* dashed where the code would branch otherwise */
      if (!isFinite(ys[k]) || !isFinite(ys[k + 1])) continue;
      el("line", { x1: X(xs[k]), y1: Y(ys[k]), x2: X(xs[k + 1]), y2: Y(ys[k + 1]),
                   "class": samples.off[k] || samples.off[k + 1] ? "gt-curve-line gt-untaken" : "gt-curve-line" }, svg);
    }
    var dx = (b - a) * 0.15;
    el("line", { x1: X(x0 - dx), y1: Y(y0 - slope * dx), x2: X(x0 + dx), y2: Y(y0 + slope * dx),
                 "class": "gt-tangent" }, svg);
    el("circle", { cx: X(x0), cy: Y(y0), r: 3.5, "class": "gt-point" }, svg);
    var label = el("text", { x: 30, y: 12, "class": "gt-slope" }, svg);
    label.textContent = partial(P.outputName, inp.name) + " = " + W.fmt(slope, P.digits);
    var axis = el("text", { x: 160, y: 140, "text-anchor": "middle", "class": "gt-axis-label" }, svg);
    axis.textContent = inp.name + " = " + W.fmt(x0, P.digits);
  }

  /* ---- descend: one gradient step on the parameters, the cost after each */
  function plotHistory() {
    var svg = plot("gt-descend-plot", 60);
    if (history.length < 2) return;
    var lo = Math.min.apply(null, history), hi = Math.max.apply(null, history), n = history.length;
    var pts = history.map(function (c, i) {
      return (10 + (i / (n - 1)) * 280) + "," + (52 - ((c - lo) / ((hi - lo) || 1)) * 44);
    });
    el("polyline", { points: pts.join(" "), "class": "gt-curve-line" }, svg);
    var t = el("text", { x: 290, y: 10, "text-anchor": "end", "class": "gt-slope" }, svg);
    t.textContent = P.outputName + ": " + W.fmt(history[0], P.digits) + " → " +
      W.fmt(history[n - 1], P.digits) + " in " + (n - 1) + (n === 2 ? " step" : " steps");
  }
  var descend = $("gt-descend");
  if (!scalarOut || !P.descend.length) descend.disabled = true;
  descend.addEventListener("click", function () {
    var lr = parseFloat($("gt-lr").value);
    if (!(lr > 0 && isFinite(lr))) { $("gt-lr").setCustomValidity("a positive number"); return; }
    var st = active ? W.state : st0;
    if (!history.length) history.push(st.vals[P.output]);
    P.descend.forEach(function (node) {
      var g = st.grads[node], v = node in cur ? cur[node] : W.decode(P.values[node]);
      cur[node] = typeof v === "number" ? v - lr * g :
        { s: v.s, d: Float64Array.from(v.d, function (x, i) { return x - lr * g.d[i]; }) };
    });
    samples = null;
    var after = update(null);
    history.push(after.vals[P.output]);
    plotHistory();
  });
  $("gt-reset").addEventListener("click", reset);
  page.onstep = function () { if (active) reset(); };
  reset();
})();
