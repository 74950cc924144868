// Run in a browser on a page holding one diagram's SVG (Graphviz's or the fast layout's):
// every edge label line's glyph box as the browser draws it, every node box, and points
// 1.5 units apart along every edge line, in the SVG's own units.  Returns the labels a
// node box covers or an edge line runs through (tests/test_label_geometry.py).
() => {
  const svg = document.querySelector('svg');
  const fast = (svg.getAttribute('class') || '').includes('fast');
  const toRoot = (el, b) => {           // bbox in the root svg's user space
    const m = el.getCTM(), r = svg.getCTM().inverse().multiply(m);
    const corners = [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height],
                     [b.x + b.width, b.y + b.height]];
    const pts = corners.map(([x, y]) => {
      const p = svg.createSVGPoint(); p.x = x; p.y = y; return p.matrixTransform(r);
    });
    const xs = pts.map(p => p.x), ys = pts.map(p => p.y);
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  };
  const labels = [], boxes = [], lines = [];
  const edgeTexts = fast ? svg.querySelectorAll('g.l text') : svg.querySelectorAll('g.edge text');
  edgeTexts.forEach(t => labels.push({box: toRoot(t, t.getBBox()), text: t.textContent}));
  const nodeShapes = fast ? svg.querySelectorAll('g.n rect') :
    Array.from(svg.querySelectorAll('g.node'))
      .map(g => g.querySelector('path, polygon, ellipse')).filter(Boolean);
  nodeShapes.forEach(s => boxes.push(toRoot(s, s.getBBox())));
  const paths = fast ? svg.querySelectorAll('path[class^="e "]')
                     : svg.querySelectorAll('g.edge > path');
  paths.forEach(p => {
    const n = p.getTotalLength(), pts = [];
    const m = svg.getCTM().inverse().multiply(p.getCTM());
    for (let s = 0; s <= n; s += 1.5) pts.push(p.getPointAtLength(s).matrixTransform(m));
    lines.push(pts.map(q => [q.x, q.y]));
  });
  const bad = [];
  for (const l of labels) {
    const [x0, y0, x1, y1] = l.box.map((v, i) => v + (i < 2 ? 0.5 : -0.5));
    const inside = ([x, y]) => x0 < x && x < x1 && y0 < y && y < y1;
    if (boxes.some(b => b[0] < x1 && x0 < b[2] && b[1] < y1 && y0 < b[3])) {
      bad.push([l.text, 'box']);
    } else if (lines.some(ln => ln.some(inside))) {
      bad.push([l.text, 'line']);
    }
  }
  return {labels: labels.length, boxes: boxes.length, lines: lines.length, bad};
}
