// Run in a browser on a page holding one diagram's SVG (Graphviz's or the fast layout's):
// each edge line's length and whether it runs through a box (a point of the line more than
// 3 units inside a box: an edge touches its own boxes only at their borders), in the SVG's
// own units (tests/test_chips.py).
() => {
  const svg = document.querySelector('svg');
  const fast = (svg.getAttribute('class') || '').includes('fast');
  const root = svg.getCTM().inverse();
  const box = (el) => {
    const b = el.getBBox(), m = root.multiply(el.getCTM());
    const p = [[b.x, b.y], [b.x + b.width, b.y + b.height]].map(([x, y]) => {
      const q = svg.createSVGPoint(); q.x = x; q.y = y; return q.matrixTransform(m); });
    return [Math.min(p[0].x, p[1].x), Math.min(p[0].y, p[1].y),
            Math.max(p[0].x, p[1].x), Math.max(p[0].y, p[1].y)];
  };
  const shapes = fast ? Array.from(svg.querySelectorAll('g.n rect')) :
    Array.from(svg.querySelectorAll('g.node'))
      .map(g => g.querySelector('path, polygon, ellipse')).filter(Boolean);
  const boxes = shapes.map(box);
  const paths = fast ? svg.querySelectorAll('path[class^="e "]')
                     : svg.querySelectorAll('g.edge > path');
  const edges = [];
  paths.forEach(p => {
    const n = p.getTotalLength(), m = root.multiply(p.getCTM());
    let length = 0, prev = null, through = false;
    for (let s = 0; s <= n; s += 2) {
      const q = p.getPointAtLength(s).matrixTransform(m);
      if (prev) length += Math.hypot(q.x - prev.x, q.y - prev.y);
      prev = q;
      through = through || boxes.some(b => b[0] + 3 < q.x && q.x < b[2] - 3 &&
                                            b[1] + 3 < q.y && q.y < b[3] - 3);
    }
    const title = fast ? '' : p.parentNode.querySelector('title').textContent;
    edges.push({title, length, through});
  });
  const vb = svg.viewBox.baseVal;
  return {edges, boxes: boxes.length, width: vb.width, height: vb.height};
}
