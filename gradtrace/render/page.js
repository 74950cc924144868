/* gradtrace step-through: shows the lines each step names, frames the step, says it.
   The steps come as JSON in #gt-data (see gradtrace/render/story.py). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("gt-data").textContent);
  var steps = data.steps, last = steps.length - 1;
  var $ = function (id) { return document.getElementById(id); };
  var view = $("gt-view"), svg = view.querySelector("svg"), body = document.body;
  view.classList.add("gt-on");  /* not laid out bit by bit while parsing */
  var slider = $("gt-slider"), play = $("gt-play"), fitButton = $("gt-fit");
  var lines = {}, original = {}, origLen = {};
  svg.querySelectorAll(".gt-x").forEach(function (el) {
    lines[el.id] = el; original[el.id] = el.textContent; origLen[el.id] = el.textContent.length;
  });
  var more = {};  /* a matrix's further rows (v17r1…) */
  svg.querySelectorAll(".gt-xr").forEach(function (el) {
    var id = el.id.replace(/r\d+$/, "");
    if (!more[id]) { more[id] = []; original[id] = original[id].trim(); }
    more[id].push(el); original[id] += "\n" + el.textContent.trim();
  });
  var over = null;  /* line id -> text while what-if values are on (whatif.js) */
  var full = false;  /* repaint every line at the next go (what-if on or off) */

  /* each line's history (the step it appears at, each (step, text)): a step touches
     only the lines that change */
  var showAt = {}, texts = {}, touched = [];
  steps.forEach(function (s, i) {
    var here = {};
    s.show.forEach(function (id) { if (!(id in showAt)) showAt[id] = i; here[id] = 1; });
    for (var id in s.text) { (texts[id] = texts[id] || []).push([i, s.text[id]]); here[id] = 1; }
    touched.push(Object.keys(here));
  });
  function textAt(id, n) {
    var h = texts[id], t = original[id];
    if (h) for (var i = 0; i < h.length && h[i][0] <= n; i++) t = h[i][1];
    return t;
  }
  /* A line that will say more (a growing sum, "was ..."): its box's centre and width,
     read before it first grows, to centre the longer text and shrink it (to 60%) if need be */
  var fits = {}, longer = {};
  for (var lid in texts) {
    longer[lid] = texts[lid].some(function (h) { return h[1].length > origLen[lid]; });
  }
  function prepareFit(fid) {
    var el0 = lines[fid];
    if (!el0) return;
    var node = $("n" + fid.slice(1).split("_").pop()), nb = node ? node.getBBox() : null;
    var tx = el0.tagName.toLowerCase() === "tspan" ? el0.parentNode : el0;
    var font = parseFloat(getComputedStyle(el0).fontSize) || 12;
    fits[fid] = { t: tx, x: tx.getAttribute("x"), anchor: tx.getAttribute("text-anchor"),
                  /* a culled text is not laid out: its width from its font */
                  perChar: el0.getComputedTextLength() / Math.max(1, origLen[fid]) || font * 0.55,
                  centre: nb ? nb.x + nb.width / 2 : null, room: nb ? nb.width - 12 : 1e9, font: font };
  }
  function fitLine(id, el, t) {
    var f = fits[id];
    if (!f || f.centre === null) return;
    if (t.length > origLen[id]) {
      f.t.setAttribute("text-anchor", "middle"); f.t.setAttribute("x", f.centre);
      var wide = f.perChar * t.length;
      el.style.fontSize = wide > f.room ? f.font * Math.max(0.6, f.room / wide) + "px" : "";
    } else {
      if (f.anchor === null) f.t.removeAttribute("text-anchor"); else f.t.setAttribute("text-anchor", f.anchor);
      f.t.setAttribute("x", f.x); el.style.fontSize = "";
    }
  }
  var cur = -1, lit = [], timer = null, hooks = [];
  function setLine(id, n) {
    var el = lines[id];
    if (!el) return;
    var hide = !(over || (id in showAt && showAt[id] <= n)), rows = more[id] || [];
    el.classList.toggle("gt-hidden", hide);
    var t = over && id in over ? over[id] : textAt(id, n), p = t.split("\n"), m = rows.length;
    if (p.length > m + 1) p[m] = p.slice(m).join(" ");
    if (m && el.textContent.trim() === p[0]) p[0] = el.textContent;
    if (el.textContent !== p[0]) { el.textContent = p[0]; fitLine(id, el, p[0]); }
    rows.forEach(function (r, i) {
      r.classList.toggle("gt-hidden", hide);
      if (r.textContent.trim() !== (p[i + 1] || "")) r.textContent = p[i + 1] || "";
    });
  }

  function go(n, follow) {
    n = Math.max(0, Math.min(last, n | 0));
    var from = cur < 0 ? -1 : Math.min(cur, n), to = cur < 0 ? last : Math.max(cur, n);
    var ids = [];
    if (cur < 0 || full) { for (var id in lines) ids.push(id); full = false; }
    else for (var i = from + 1; i <= to; i++) ids = ids.concat(touched[i]);
    /* reads first (geometry of this step, boxes of lines about to grow), then writes */
    steps[n].now.concat(steps[n].also).forEach(function (nid) { if (nid[0] != "e") measureNode(nid); });
    ids.forEach(function (lid) {
      if (longer[lid] && !(lid in fits) && textAt(lid, n).length > origLen[lid]) prepareFit(lid);
    });
    ids.forEach(function (lid) { setLine(lid, n); });
    lit.forEach(function (el) { el.classList.remove("gt-now", "gt-also"); });
    lit = [];
    [["now", "gt-now"], ["also", "gt-also"]].forEach(function (kc) {
      steps[n][kc[0]].forEach(function (id) {
        var el = $(id);
        if (el) { el.classList.add(kc[1]); lit.push(el); }
      });
    });
    cur = n;
    panel(steps[n]);
    slider.value = n;
    $("gt-count").textContent = "step " + n + " of " + last;
    $("gt-prev").disabled = n === 0;
    $("gt-next").disabled = n === last;
    try { history.replaceState(null, "", "#step=" + n); } catch (e) { /* sandboxed frame */ }
    if (follow !== false && following) frame(n, follow !== "jump");
    if (n === last) stop();
    hooks.forEach(function (h) { h(n, steps[n]); });
    if (window.gtPage && window.gtPage.onstep) window.gtPage.onstep(n);
  }

  function words(text) {  /* a line that wraps between terms, never inside a name */
    var li = document.createElement("li");
    text.split(" ").forEach(function (w, i) {
      if (i) li.appendChild(document.createTextNode(" "));
      var s = document.createElement("span");
      s.textContent = w;
      li.appendChild(s);
    });
    return li;
  }
  function panel(s) {
    var title = $("gt-title");
    title.textContent = "";
    Array.prototype.slice.call(words(s.title).childNodes).forEach(function (c) { title.appendChild(c); });
    var ol = $("gt-lines");
    ol.textContent = "";
    (s.say || []).forEach(function (t) { var li = words(t); li.className = "gt-say"; ol.appendChild(li); });
    s.lines.forEach(function (line) {
      var li = words(line);
      if (/ complete: |^the lesson.s chain: |^held fixed: |→ .*, (down|up) /.test(line)) li.className = "gt-key";
      ol.appendChild(li);
    });
  }

  /* ---- the view: the SVG keeps its viewBox (1 unit = 1 CSS px) and moves by a CSS
     transform (a viewBox change lays out every text again; a transform only repaints) */
  var box0 = svg.viewBox.baseVal, home = [box0.x, box0.y, box0.width, box0.height];
  var box = home.slice(), following = true, anim = null, at = [0, 0, 1];
  svg.removeAttribute("width"); svg.removeAttribute("height");
  svg.style.width = home[2] + "px"; svg.style.height = home[3] + "px";
  function size() { var r = view.getBoundingClientRect(); return [r.width || 1, r.height || 1]; }
  function setBox(b) {  /* show box b = [x, y, w, h] (units), centred, whole */
    box = b;
    var wh = size(), k = Math.min(wh[0] / b[2], wh[1] / b[3]) || 1;
    at = [(wh[0] - b[2] * k) / 2 - (b[0] - home[0]) * k, (wh[1] - b[3] * k) / 2 - (b[1] - home[1]) * k, k];
    svg.style.transform = "translate(" + at[0] + "px," + at[1] + "px) scale(" + k + ")";
    view.setAttribute("data-box", b.map(function (v) { return +v.toFixed(2); }).join(" "));
    if (units.length) cullTo();
  }
  function scale() { return at[2]; }
  function toSvg(cx, cy) {
    var r = view.getBoundingClientRect();
    return [home[0] + (cx - r.left - at[0]) / at[2], home[1] + (cy - r.top - at[1]) / at[2]];
  }
  function zoom(k, cx, cy) {
    var p = toSvg(cx, cy), w = box[2] * k, h = box[3] * k;
    if (w < home[2] / 400 || w > home[2] * 20) return;
    halt();
    setBox([p[0] - (p[0] - box[0]) * k, p[1] - (p[1] - box[1]) * k, w, h]);
  }
  function zoomCentre(k) { var r = view.getBoundingClientRect(); zoom(k, r.left + r.width / 2, r.top + r.height / 2); }
  function pan(dx, dy) { halt(); setBox([box[0] + dx * box[2], box[1] + dy * box[3], box[2], box[3]]); }

  /* geometry (view units) and font sizes */
  var graph = svg.querySelector("g"), unit = 1, geo = {}, font = {};
  var toView = (function () {
    var a = graph.getScreenCTM(), b = svg.getScreenCTM();
    return a && b ? b.inverse().multiply(a) : null;
  })();
  unit = toView ? Math.abs(toView.a) : 1;
  function inView(el) {  /* an element's box in view units */
    var r = el.getBBox(), p = svg.createSVGPoint(), q = svg.createSVGPoint();
    p.x = r.x; p.y = r.y; q.x = r.x + r.width; q.y = r.y + r.height;
    p = p.matrixTransform(toView); q = q.matrixTransform(toView);
    return [Math.min(p.x, q.x), Math.min(p.y, q.y), Math.max(p.x, q.x), Math.max(p.y, q.y)];
  }
  /* a big drawing (.gt-cull) lays out only the texts near the view (15,000 take seconds) */
  var units = [], ubox = [], uin = [];
  if (view.classList.contains("gt-cull") && toView) {
    units = Array.prototype.slice.call(svg.querySelectorAll("g.node,g.edge,g.cluster,g.n,g.l,g.legend"));
    ubox = units.map(inView);
  }
  function cullTo() {
    var wh = size(), k = at[2], m = 200, lo = [home[0] - at[0] / k - m, home[1] - at[1] / k - m];
    var hi = [lo[0] + wh[0] / k + 2 * m, lo[1] + wh[1] / k + 2 * m], readable = k * 10 >= 3;
    for (var i = 0; i < units.length; i++) {
      var g = ubox[i], inside = readable && g[2] >= lo[0] && g[0] <= hi[0] && g[3] >= lo[1] && g[1] <= hi[1];
      if (inside !== !!uin[i]) { units[i].classList.toggle("gt-in", inside); uin[i] = inside; }
    }
  }
  function measureNode(id) {  /* a node's box and its smallest text */
    if (id in geo) return;
    var el = $(id);
    geo[id] = null;
    if (!el || !toView) return;
    geo[id] = inView(el);
    var f = 1e9;
    el.querySelectorAll("text").forEach(function (t) { f = Math.min(f, parseFloat(getComputedStyle(t).fontSize) || 1e9); });
    font[id] = f < 1e9 ? f * unit : 12 * unit;
  }

  /* The frame for step n: its node and every node it sends to, the node's text at least
     14 px (18 presenting); the whole drawing when that is readable. Receivers too spread
     for that: frame them all and magnify the node in place (a lens, at most 3x). */
  function target(n) {
    var s = steps[n];
    return targetFor(s.now.concat(s.also).filter(function (id) { return geo[id]; }));
  }
  function fitK(u, wh, pad) { return Math.min((wh[0] - 2 * pad) / (u[2] - u[0]), (wh[1] - 2 * pad) / (u[3] - u[1])); }
  function join(a, g) { return [Math.min(a[0], g[0]), Math.min(a[1], g[1]), Math.max(a[2], g[2]), Math.max(a[3], g[3])]; }
  function targetFor(ids) {  /* {box: [x, y, w, h], lens, id} */
    if (!ids.length) return null;
    var main = geo[ids[0]], f = font[ids[0]], wh = size();
    var least = (body.classList.contains("gt-present") ? 18.2 : 14.2) / f, most = 1.4 * least;
    var whole = Math.min(wh[0] / home[2], wh[1] / home[3]);
    if (whole >= least) return { box: home.slice(), lens: 1 };
    var pad = 14, room = [(wh[0] - 2 * pad) / least, (wh[1] - 2 * pad) / least];
    function gap(g) { return Math.abs(g[0] + g[2] - main[0] - main[2]) + Math.abs(g[1] + g[3] - main[1] - main[3]); }
    function fits(j) { return j[2] - j[0] <= room[0] && j[3] - j[1] <= room[1]; }
    var rest = ids.slice(1).map(function (id) { return geo[id]; });
    var all = rest.reduce(join, main.slice());
    if (!fits(all)) {
      var lensed = lensFor(main, all, least, wh, pad);
      if (lensed) { lensed.id = ids[0]; return lensed; }
    }
    /* the node, then its receivers, nearest first, as many as fit readably */
    var u = main.slice();
    rest.sort(function (a, b) { return gap(a) - gap(b); }).forEach(function (g) {
      var j = join(u, g);
      if (fits(j)) u = j;
    });
    var k = Math.max(least, Math.min(most, fitK(u, wh, pad))), w = wh[0] / k, h = wh[1] / k, m = pad / k;
    var cx = clamp((u[0] + u[2]) / 2, main[2] + m - w / 2, main[0] - m + w / 2, (main[0] + main[2]) / 2);
    var cy = clamp((u[1] + u[3]) / 2, main[3] + m - h / 2, main[1] - m + h / 2, (main[1] + main[3]) / 2);
    return { box: [cx - w / 2, cy - h / 2, w, h], lens: 1 };
  }
  function lensFor(main, all, least, wh, pad) {  /* the magnified node in the frame too */
    var mx = (main[0] + main[2]) / 2, my = (main[1] + main[3]) / 2;
    var hw = (main[2] - main[0]) / 2, hh = (main[3] - main[1]) / 2, u = all, k = 1, lens = 1;
    for (var i = 0; i < 4; i++) {  /* the frame grows with the lens */
      k = fitK(u, wh, pad); lens = Math.max(1, least / k * 1.01);
      u = join(all, [mx - hw * lens, my - hh * lens, mx + hw * lens, my + hh * lens]);
    }
    k = fitK(u, wh, pad); lens = Math.max(1, least / k * 1.01);
    if (lens > 3) return null;
    var w = wh[0] / k, h = wh[1] / k, cx = (u[0] + u[2]) / 2, cy = (u[1] + u[3]) / 2;
    return { box: [cx - w / 2, cy - h / 2, w, h], lens: lens };
  }
  var lensed = null;  /* [element, the comment holding its place] */
  function setLens(id, factor, glide) {
    var el = id && factor > 1 ? $(id) : null, ease = glide && !still ? "transform .3s" : "";
    if (lensed && lensed[0] !== el) {
      var old = lensed[0];
      old.style.transition = ease; old.style.transform = "";
      if (lensed[1].parentNode) lensed[1].parentNode.replaceChild(old, lensed[1]);
      lensed = null;
    }
    view.setAttribute("data-lens", el ? factor.toFixed(3) : "1");
    if (!el) return;
    if (!lensed && el.parentNode) {  /* drawn last: on top */
      var mark = document.createComment("lens");
      el.parentNode.insertBefore(mark, el); el.parentNode.appendChild(el);
      lensed = [el, mark];
    }
    el.style.transformBox = "fill-box"; el.style.transformOrigin = "center";
    el.style.transition = ease; el.style.transform = "scale(" + factor.toFixed(4) + ")";
  }
  function clamp(x, lo, hi, fallback) { return lo > hi ? fallback : Math.max(lo, Math.min(hi, x)); }
  var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var smooth = Object.keys(lines).length < 6000;
  function offscreen(n, b) {  /* say when a receiver is out of the frame */
    var wh = size(), k = Math.min(wh[0] / b[2], wh[1] / b[3]), cx = b[0] + b[2] / 2, cy = b[1] + b[3] / 2;
    var v = [cx - wh[0] / k / 2, cy - wh[1] / k / 2, cx + wh[0] / k / 2, cy + wh[1] / k / 2];
    var out = steps[n].also.filter(function (id) {
      var g = geo[id];
      return g && (g[0] < v[0] || g[1] < v[1] || g[2] > v[2] || g[3] > v[3]);
    }).length;
    $("gt-off").textContent = out ? out + " dashed node" + (out > 1 ? "s are" : " is") +
      " outside the view: F shows the whole drawing" : "";
  }
  function frame(n, glide) {
    var t = target(n);
    if (!t) return;
    var b = t.box;
    offscreen(n, b);
    setLens(t.id, t.lens, glide && smooth);
    if (!glide || still || !smooth || (timer && speed < 500)) { halt(); setBox(b); return; }
    halt();
    var a = box.slice(), t0 = performance.now(), ms = 320;
    view.setAttribute("data-moving", "1");
    function tick(now) {
      var t = Math.min(1, (now - t0) / ms), e = t < 0.5 ? 2 * t * t : 1 - Math.pow(-2 * t + 2, 2) / 2;
      setBox(a.map(function (v, i) { return v + (b[i] - v) * e; }));
      if (t < 1) anim = requestAnimationFrame(tick); else halt();
    }
    anim = requestAnimationFrame(tick);
  }
  function halt() { if (anim) cancelAnimationFrame(anim); anim = null; view.removeAttribute("data-moving"); }
  function fit() {  /* F: the whole drawing, and stay there; F again follows */
    following = !following;
    fitButton.textContent = following ? "Fit" : "Follow";
    fitButton.setAttribute("aria-label", following ? "fit to window" : "follow the step");
    if (following) frame(cur, true);
    else { halt(); setLens(null, 1, true); setBox(home.slice()); $("gt-off").textContent = ""; }
  }

  view.addEventListener("wheel", function (e) {
    e.preventDefault();
    zoom(Math.exp(Math.max(-100, Math.min(100, e.deltaY)) * 0.002), e.clientX, e.clientY);
  }, { passive: false });
  var drag = null, pending = null;
  var pressed = null;
  view.addEventListener("pointerdown", function (e) {
    halt();
    var g = e.target.closest ? e.target.closest("g[id^='n'],g[id^='r']") : null;
    pressed = g && /^(n\d+|r\d+_\d+)$/.test(g.id) ? [parseInt(g.id.slice(1)), e.clientX, e.clientY] : null;
    drag = { x: e.clientX, y: e.clientY, box: box.slice(), s: scale() };
    svg.style.willChange = "transform";  /* a drag moves a ready layer, no repaint */
    view.setPointerCapture(e.pointerId);
  });
  view.addEventListener("pointermove", function (e) {  /* at most one move per frame */
    if (!drag) return;
    var first = !pending;
    pending = [e.clientX, e.clientY];
    if (first) requestAnimationFrame(function () {
      if (drag && pending) setBox([drag.box[0] - (pending[0] - drag.x) / drag.s,
                                   drag.box[1] - (pending[1] - drag.y) / drag.s, box[2], box[3]]);
      pending = null;
    });
  });
  function endDrag(e) {
    if (pressed && e && e.type === "pointerup" &&
        Math.abs(e.clientX - pressed[1]) + Math.abs(e.clientY - pressed[2]) < 5) inspect(pressed[0]);
    pressed = null;
    if (drag && pending) setBox([drag.box[0] - (pending[0] - drag.x) / drag.s,
                                 drag.box[1] - (pending[1] - drag.y) / drag.s, box[2], box[3]]);
    drag = null; pending = null; svg.style.willChange = "";
  }
  view.addEventListener("pointerup", endDrag);
  view.addEventListener("pointercancel", endDrag);

  /* ---- a node's whole value and gradient: click it, or find it by name (/) */
  var info = data.nodes || {}, byName = {};
  for (var nid in info) byName[info[nid][0]] = nid;
  function inspect(nid) {
    var d = info[nid], box = $("gt-node");
    if (!d || !box) return;
    box.textContent = "";
    [["b", d[0] + (d[1] ? "  (" + d[1] + ")" : "")], ["value", d[2]], ["gradient", d[3]]]
      .forEach(function (kv) {
        if (kv[1] === null || kv[1] === undefined) return;
        var p = document.createElement(kv[0] === "b" ? "b" : "p");
        p.textContent = kv[0] === "b" ? kv[1] : kv[0] + ": " + kv[1];
        box.appendChild(p);
      });
    box.hidden = false;
  }
  function find(name) {
    var nid = byName[name.trim()];
    if (nid === undefined) return false;
    var id = "n" + nid;
    measureNode(id);
    var b2 = targetFor(geo[id] ? [id] : []);
    if (b2) { halt(); setLens(null, 1, false); setBox(b2.box); }
    inspect(nid);
    return true;
  }
  var findBox = $("gt-find");
  if (findBox) findBox.addEventListener("change", function () {
    findBox.classList.toggle("gt-miss", !find(findBox.value));
  });

  /* ---- controls */
  var speedBox = $("gt-speed"), speed = 900;
  function stop() {
    if (timer) { clearInterval(timer); timer = null; }
    play.textContent = "▶ Play"; play.setAttribute("aria-label", "play");
  }
  function start() {
    timer = setInterval(function () { go(cur + 1); }, speed);
    play.textContent = "⏸ Pause"; play.setAttribute("aria-label", "pause");
  }
  function toggle() {
    if (timer) { stop(); return; }
    if (cur === last) go(0);
    start();
  }
  if (speedBox) speedBox.addEventListener("change", function () {
    speed = +speedBox.value || 900;
    if (timer) { clearInterval(timer); start(); }
  });
  function present() { body.classList.toggle("gt-present"); frame(cur, false); }
  $("gt-prev").addEventListener("click", function () { stop(); go(cur - 1); });
  $("gt-next").addEventListener("click", function () { stop(); go(cur + 1); });
  fitButton.addEventListener("click", fit);
  play.addEventListener("click", toggle);
  slider.addEventListener("input", function () { stop(); go(+slider.value, "jump"); });
  window.addEventListener("resize", function () { if (following) frame(cur, false); else setBox(box); });
  document.addEventListener("keydown", function (e) {
    var tag = e.target && e.target.tagName;
    if (e.target === slider || tag === "SELECT" || tag === "INPUT" || tag === "TEXTAREA" ||
        e.altKey || e.ctrlKey || e.metaKey) return;
    if ((e.key === " " || e.key === "Enter") && tag === "BUTTON") return;
    var k = e.key;
    if (e.shiftKey && k.indexOf("Arrow") === 0) {
      pan(k === "ArrowLeft" ? -0.15 : k === "ArrowRight" ? 0.15 : 0,
          k === "ArrowUp" ? -0.15 : k === "ArrowDown" ? 0.15 : 0);
    }
    else if (k === "ArrowRight" || k === "ArrowDown" || k === "PageDown") { stop(); go(cur + 1); }
    else if (k === "ArrowLeft" || k === "ArrowUp" || k === "PageUp") { stop(); go(cur - 1); }
    else if (k === "Home") { stop(); go(0, "jump"); }
    else if (k === "End") { stop(); go(last, "jump"); }
    else if (k === " ") toggle();
    else if (k === "f" || k === "F") fit();
    else if (k === "p" || k === "P") present();
    else if (k === "/" && findBox) findBox.focus();
    else if (k === "+" || k === "=") zoomCentre(0.8);
    else if (k === "-" || k === "−" || k === "_") zoomCentre(1.25);
    else return;
    e.preventDefault();
  });
  function fromHash() {
    var m = /(?:^#|&)step=(\d+)/.exec(location.hash);
    return m ? +m[1] : null;
  }
  window.addEventListener("hashchange", function () {
    var n = fromHash();
    if (n !== null && n !== cur) go(n, "jump");
  });
  /* for whatif.js (override, onstep) and others */
  window.gtPage = window.gradtracePage = {
    last: last, onstep: null, original: original, steps: steps,
    go: go, step: function () { return cur; }, onStep: function (h) { hooks.push(h); },
    override: function (o) {
      var f = window.gtPage.onstep;
      over = o; full = true; window.gtPage.onstep = null;
      go(o ? last - 1 : cur, false);
      if (o) lit.forEach(function (el) { el.classList.remove("gt-now", "gt-also"); });
      window.gtPage.onstep = f;
    }
  };
  var first = fromHash();
  setBox(home.slice());
  go(first === null ? 0 : first, "jump");
})();
