/* gradtrace step-through: shows the lines each step names, nothing else.
   The steps come as JSON in #gt-data (see gradtrace/render/story.py). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("gt-data").textContent);
  var steps = data.steps, last = steps.length - 1;
  var $ = function (id) { return document.getElementById(id); };
  var view = $("gt-view"), svg = view.querySelector("svg");
  var slider = $("gt-slider"), play = $("gt-play");
  var lines = {}, original = {}, shown = {}, said = {};
  svg.querySelectorAll(".gt-x").forEach(function (el) {
    lines[el.id] = el; original[el.id] = el.textContent;
  });
  var cur = -1, lit = [], timer = null;
  var over = null;      /* line id -> text while what-if values are on (whatif.js) */

  function stateAt(n) {           /* what is visible and what each line says at step n */
    var vis = {}, txt = {};
    for (var i = 0; i <= n; i++) {
      var s = steps[i];
      for (var j = 0; j < s.show.length; j++) vis[s.show[j]] = true;
      for (var id in s.text) txt[id] = s.text[id];
    }
    return { vis: vis, txt: txt };
  }

  function paint(st) {
    for (var id in lines) {
      var el = lines[id], v = over ? true : !!st.vis[id];
      if (shown[id] !== v) { el.classList.toggle("gt-hidden", !v); shown[id] = v; }
      var t = over && id in over ? over[id] : id in st.txt ? st.txt[id] : original[id];
      if (said[id] !== t) {
        var c = el.firstChild;      /* a text node's data: cheaper than replacing it */
        if (c && c.nodeType === 3 && !c.nextSibling) c.data = t; else el.textContent = t;
        said[id] = t;
      }
    }
  }

  function go(n, follow) {
    n = Math.max(0, Math.min(last, n | 0));
    paint(stateAt(n));
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
    if (follow !== false && lit.length) keepInView(lit[0]);
    if (n === last) stop();
    if (window.gtPage && window.gtPage.onstep) window.gtPage.onstep(n);
  }

  function panel(s) {
    $("gt-title").textContent = s.title;
    var ol = $("gt-lines");
    ol.textContent = "";
    s.lines.forEach(function (line) {
      var li = document.createElement("li");
      li.textContent = line;
      ol.appendChild(li);
    });
  }

  /* ---- pan and zoom: the root viewBox */
  var box0 = svg.viewBox.baseVal, home = [box0.x, box0.y, box0.width, box0.height];
  var box = home.slice();
  svg.removeAttribute("width"); svg.removeAttribute("height");
  function setBox(b) { box = b; svg.setAttribute("viewBox", b.join(" ")); }
  function scale() {               /* screen pixels per SVG unit */
    var r = view.getBoundingClientRect();
    return Math.min(r.width / box[2], r.height / box[3]) || 1;
  }
  function toSvg(cx, cy) {
    var m = svg.getScreenCTM();
    if (!m) return [box[0], box[1]];
    var p = svg.createSVGPoint(); p.x = cx; p.y = cy;
    p = p.matrixTransform(m.inverse());
    return [p.x, p.y];
  }
  function zoom(k, cx, cy) {
    var p = toSvg(cx, cy), w = box[2] * k, h = box[3] * k;
    if (w < home[2] / 200 || w > home[2] * 20) return;
    setBox([p[0] - (p[0] - box[0]) * k, p[1] - (p[1] - box[1]) * k, w, h]);
  }
  view.addEventListener("wheel", function (e) {
    e.preventDefault();
    zoom(Math.exp(Math.max(-100, Math.min(100, e.deltaY)) * 0.002), e.clientX, e.clientY);
  }, { passive: false });
  var drag = null;
  view.addEventListener("pointerdown", function (e) {
    drag = { x: e.clientX, y: e.clientY, box: box.slice(), s: scale() };
    view.classList.add("gt-drag");
    view.setPointerCapture(e.pointerId);
  });
  view.addEventListener("pointermove", function (e) {
    if (!drag) return;
    setBox([drag.box[0] - (e.clientX - drag.x) / drag.s, drag.box[1] - (e.clientY - drag.y) / drag.s,
            box[2], box[3]]);
  });
  function endDrag() { drag = null; view.classList.remove("gt-drag"); }
  view.addEventListener("pointerup", endDrag);
  view.addEventListener("pointercancel", endDrag);
  function fit() { setBox(home.slice()); }

  /* Where each step's element sits, in viewBox units, measured once at load: reading
     geometry after the lines changed would make the browser lay out the whole SVG. */
  var centers = {};
  function measure(el) {
    var b = el.getBBox(), m = el.getScreenCTM(), root = svg.getScreenCTM();
    if (!m || !root) return null;
    var p = svg.createSVGPoint();
    p.x = b.x + b.width / 2; p.y = b.y + b.height / 2;
    p = p.matrixTransform(m).matrixTransform(root.inverse());
    return [p.x, p.y];
  }
  steps.forEach(function (s) {
    var el = s.now.length ? $(s.now[0]) : null;
    if (el && !(el.id in centers)) centers[el.id] = measure(el);
  });
  function keepInView(el) {       /* pan (never zoom) so the step's node is on screen */
    var c = centers[el.id];
    if (!c || box.join() === home.join()) return;      /* fitted: everything is in view */
    var mx = box[2] * 0.05, my = box[3] * 0.05;
    if (c[0] > box[0] + mx && c[0] < box[0] + box[2] - mx &&
        c[1] > box[1] + my && c[1] < box[1] + box[3] - my) return;
    setBox([c[0] - box[2] / 2, c[1] - box[3] / 2, box[2], box[3]]);
  }

  /* ---- controls */
  function stop() {
    if (timer) { clearInterval(timer); timer = null; }
    play.textContent = "▶ Play"; play.setAttribute("aria-label", "play");
  }
  function toggle() {
    if (timer) { stop(); return; }
    if (cur === last) go(0);
    timer = setInterval(function () { go(cur + 1); }, 900);
    play.textContent = "⏸ Pause"; play.setAttribute("aria-label", "pause");
  }
  $("gt-prev").addEventListener("click", function () { stop(); go(cur - 1); });
  $("gt-next").addEventListener("click", function () { stop(); go(cur + 1); });
  $("gt-fit").addEventListener("click", fit);
  play.addEventListener("click", toggle);
  slider.addEventListener("input", function () { stop(); go(+slider.value); });
  document.addEventListener("keydown", function (e) {
    if (e.target === slider || e.altKey || e.ctrlKey || e.metaKey) return;
    var k = e.key;
    if (k === "ArrowRight" || k === "ArrowDown" || k === "PageDown") { stop(); go(cur + 1); }
    else if (k === "ArrowLeft" || k === "ArrowUp" || k === "PageUp") { stop(); go(cur - 1); }
    else if (k === "Home") { stop(); go(0); }
    else if (k === "End") { stop(); go(last); }
    else if (k === " ") toggle();
    else if (k === "f" || k === "F") fit();
    else if (k === "+" || k === "=") { var r = view.getBoundingClientRect(); zoom(0.8, r.left + r.width / 2, r.top + r.height / 2); }
    else if (k === "-") { var q = view.getBoundingClientRect(); zoom(1.25, q.left + q.width / 2, q.top + q.height / 2); }
    else return;
    e.preventDefault();
  });
  function fromHash() {
    var m = /(?:^#|&)step=(\d+)/.exec(location.hash);
    return m ? +m[1] : null;
  }
  window.addEventListener("hashchange", function () {
    var n = fromHash();
    if (n !== null && n !== cur) go(n);
  });
  window.gtPage = {        /* for whatif.js: show its texts, learn of steps taken */
    last: last, onstep: null, original: original,
    override: function (o) {
      var f = window.gtPage.onstep, wasOn = !!over;
      over = o; window.gtPage.onstep = null;
      if (o && wasOn && cur === last - 1) paint({ vis: {}, txt: {} });
      else go(o ? last - 1 : cur, false);
      if (o) lit.forEach(function (el) { el.classList.remove("gt-now", "gt-also"); });
      window.gtPage.onstep = f;
    }
  };
  var start = fromHash();
  go(start === null ? 0 : start, false);
  if (scale() < 0.5 && lit.length) {   /* too small to read whole: zoom in on the step */
    var r = view.getBoundingClientRect(), k = scale() / 0.9;
    setBox([box[0], box[1], box[2] * k, box[3] * k]);
    keepInView(lit[0]);
  }
})();
