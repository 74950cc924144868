/* gradtrace what-if: replays the traced program (forward and backward) when an input
   changes, and writes every number of the diagram again.  The program, the op table's
   JavaScript forms and the line templates come as JSON in #gt-whatif-data
   (gradtrace/render/whatif.py).  Arrays are {s: shape, d: Float64Array}; 0-d values
   are plain numbers, as in the trace. */
(function () {
  "use strict";
  var src = document.getElementById("gt-whatif-data");
  if (!src) return;
  var P = JSON.parse(src.textContent);
  var $ = function (id) { return document.getElementById(id); };

  /* ---- arrays */
  function num(x) { return typeof x === "string" ? (x === "NaN" ? NaN : x === "Inf" ? Infinity : -Infinity) : x; }
  function decode(v) {
    if (v === null || typeof v !== "object") return num(v);
    return { s: v.s, d: Float64Array.from(v.d, num) };
  }
  function shape(x) { return typeof x === "number" ? [] : x.s; }
  function size(s) { var n = 1; for (var i = 0; i < s.length; i++) n *= s[i]; return n; }
  function make(s, d) { return s.length === 0 ? d[0] : { s: s, d: d }; }
  function flat(x) { return typeof x === "number" ? [x] : x.d; }
  function bshape(shapes) {
    var nd = 0, out = [], i, j;
    for (i = 0; i < shapes.length; i++) nd = Math.max(nd, shapes[i].length);
    for (j = 0; j < nd; j++) {
      var n = 1;
      for (i = 0; i < shapes.length; i++) {
        var s = shapes[i], m = s[s.length - nd + j];
        if (m !== undefined && m !== 1) n = m;
      }
      out.push(n);
    }
    return out;
  }
  function indexer(s, target) {   /* flat index in target -> flat index in s (broadcast) */
    var n = s.length, nd = target.length, st = new Array(nd), k = 1;
    for (var j = nd - 1; j >= 0; j--) {
      var m = s[j - (nd - n)];
      st[j] = m === undefined || m === 1 ? 0 : k;
      if (m !== undefined) k *= m;
    }
    return function (i) {
      var r = 0;
      for (var j = nd - 1; j >= 0; j--) { var q = i % target[j]; i = (i - q) / target[j]; r += q * st[j]; }
      return r;
    };
  }
  function ew(fn, args, p, extra) {   /* an elementwise function over broadcast arguments */
    var scalar = true, i;
    for (i = 0; i < args.length; i++) if (typeof args[i] !== "number") scalar = false;
    if (extra !== undefined && typeof extra !== "number") scalar = false;
    if (scalar) return fn(args[0], args[1], args[2], extra, p);
    var shapes = args.map(shape);
    if (extra !== undefined) shapes.push(shape(extra));
    var S = bshape(shapes), n = size(S), out = new Float64Array(n);
    var all = extra === undefined ? args : args.concat([extra]);
    var at = all.map(function (a) {
      var s = shape(a);
      if (s.length === S.length && size(s) === n) return null;
      return indexer(s, S);
    });
    var ds = all.map(flat);
    var v = [0, 0, 0, 0];
    for (i = 0; i < n; i++) {
      for (var j = 0; j < all.length; j++) v[j] = ds[j][at[j] ? at[j](i) : (ds[j].length === 1 ? 0 : i)];
      out[i] = fn(v[0], v[1], v[2], extra === undefined ? undefined : v[all.length - 1], p);
    }
    return make(S, out);
  }
  function reshapeTo(x, s) {    /* sum a broadcast value back down to shape s */
    var xs = shape(x);
    if (xs.length === s.length && xs.every(function (m, j) { return m === s[j]; })) return x;
    var d = flat(x), out = new Float64Array(size(s)), S = xs, nd = S.length, k = s.length;
    for (var i = 0; i < d.length; i++) {
      var r = 0, mult = 1, rem = i;
      for (var j = nd - 1; j >= 0; j--) {
        var q = rem % S[j]; rem = (rem - q) / S[j];
        var t = j - (nd - k);
        if (t >= 0) { if (s[t] !== 1) r += q * mult; mult *= s[t]; }
      }
      out[r] += d[i];
    }
    return make(s, out);
  }
  function reduce(x, axes, keepdims, init, fn) {
    var S = shape(x), d = flat(x), nd = S.length, outS = [], keep = [];
    for (var j = 0; j < nd; j++) {
      var red = axes === null || axes.indexOf(j) >= 0;
      keep.push(!red);
      if (!red) outS.push(S[j]); else if (keepdims) outS.push(1);
    }
    var fullS = S.map(function (m, j) { return keep[j] ? m : 1; });
    var out = new Float64Array(size(fullS)).fill(init);
    for (var i = 0; i < d.length; i++) {
      var r = 0, mult = 1, rem = i;
      for (j = nd - 1; j >= 0; j--) {
        var q = rem % S[j]; rem = (rem - q) / S[j];
        if (keep[j]) { r += q * mult; mult *= S[j]; }
      }
      out[r] = fn(out[r], d[i]);
    }
    return make(outS, out);
  }
  function expand(g, xs, axes, keepdims) {   /* a reduced value, broadcast to shape xs */
    var s = xs.map(function (m, j) { return axes === null || axes.indexOf(j) >= 0 ? 1 : m; });
    var gd = flat(g), out = new Float64Array(size(xs)), at = indexer(s, xs);
    for (var i = 0; i < out.length; i++) out[i] = gd[at(i)];
    return make(xs, out);
  }
  function count(x, axes) {
    var S = shape(x), n = 1;
    for (var j = 0; j < S.length; j++) if (axes === null || axes.indexOf(j) >= 0) n *= S[j];
    return n;
  }
  var add2 = function (a, b) { return a + b; };
  var max2 = function (a, b) { return b > a || b !== b ? b : a; };
  function mm(a, b) {   /* 2-d a (m×n) times 2-d b (n×p) */
    var m = a.s[0], n = a.s[1], p = b.s[1], out = new Float64Array(m * p);
    for (var i = 0; i < m; i++) for (var k = 0; k < n; k++) {
      var x = a.d[i * n + k];
      for (var j = 0; j < p; j++) out[i * p + j] += x * b.d[k * p + j];
    }
    return { s: [m, p], d: out };
  }
  function as2(x, row) { return x.s.length === 2 ? x : { s: row ? [1, x.s[0]] : [x.s[0], 1], d: x.d }; }
  function T(x) {
    var m = x.s[0], n = x.s[1], out = new Float64Array(m * n);
    for (var i = 0; i < m; i++) for (var j = 0; j < n; j++) out[j * m + i] = x.d[i * n + j];
    return { s: [n, m], d: out };
  }
  function squeeze(x, s) { return make(s, x.d); }

  var R = {   /* the helpers the op table's JavaScript forms call */
    pow: Math.pow,
    sum: function (x, p) {
      var r = reduce(x, p.axis, p.keepdims, 0, add2);
      return p.initial ? ew(function (v) { return v + p.initial; }, [r]) : r;
    },
    mean: function (x, p) {
      var c = count(x, p.axis);
      return ew(function (v) { return v / c; }, [reduce(x, p.axis, p.keepdims, 0, add2)]);
    },
    spread: function (g, x, p, mean) {
      var e = expand(g, shape(x), p.axis, p.keepdims), c = mean ? count(x, p.axis) : 1;
      return mean ? ew(function (v) { return v / c; }, [e]) : e;
    },
    softmax: function (x, p) {
      var m = reduce(x, p.axis, true, -Infinity, max2);
      var e = ew(function (a, b) { return Math.exp(a - b); }, [x, m]);
      return ew(function (a, b) { return a / b; }, [e, reduce(e, p.axis, true, 0, add2)]);
    },
    softmaxVjp: function (g, o, p) {
      var s = reduce(ew(function (a, b) { return a * b; }, [g, o]), p.axis, true, 0, add2);
      return ew(function (a, b, c) { return a * (b - c); }, [o, g, s]);
    },
    logsumexp: function (x, p) {
      var m = ew(function (v) { return isFinite(v) ? v : 0; }, [reduce(x, p.axis, true, -Infinity, max2)]);
      var e = reduce(ew(function (a, b) { return Math.exp(a - b); }, [x, m]), p.axis, p.keepdims, 0, add2);
      var mm_ = p.keepdims ? m : squeeze(typeof m === "number" ? { s: [1], d: [m] } : m, shape(e));
      return ew(function (a, b) { return a + Math.log(b); }, [mm_, e]);
    },
    logsumexpVjp: function (g, o, x, p) {
      var xs = shape(x);
      return ew(function (a, b, c) { return a * Math.exp(c - b); },
                [expand(g, xs, p.axis, p.keepdims), expand(o, xs, p.axis, p.keepdims), x]);
    },
    matmul: function (a, b) {
      if (a.s.length === 1 && b.s.length === 1) {
        var t = 0; for (var i = 0; i < a.d.length; i++) t += a.d[i] * b.d[i]; return t;
      }
      var r = mm(as2(a, true), as2(b, false));
      return a.s.length === 1 ? make([r.s[1]], r.d) : b.s.length === 1 ? make([r.s[0]], r.d) : r;
    },
    matmulVjp: function (k, g, a, b) {
      if (a.s.length === 1 && b.s.length === 1) return ew(function (x, y) { return x * y; }, [g, k === 0 ? b : a]);
      var g2 = typeof g === "number" ? { s: [1, 1], d: [g] } :
        g.s.length === 2 ? g : a.s.length === 1 ? { s: [1, g.s[0]], d: g.d } : { s: [g.s[0], 1], d: g.d };
      var a2 = as2(a, true), b2 = as2(b, false);
      var r = k === 0 ? mm(g2, T(b2)) : mm(T(a2), g2);
      var want = k === 0 ? a.s : b.s;
      return make(want, r.d);
    },
    gather: function (x, p) {
      var d = flat(x), out = new Float64Array(p.map.length);
      for (var i = 0; i < out.length; i++) out[i] = p.map[i] >= 0 ? d[p.map[i]] : p.fills ? p.fills[i] : 0;
      return make(p.shape, out);
    },
    join: function (a) {      /* every argument's elements in one run (concatenate, stack) */
      var n = 0, i, j;
      for (i = 0; i < a.length; i++) n += flat(a[i]).length;
      var out = new Float64Array(n), at = 0;
      for (i = 0; i < a.length; i++) { var d = flat(a[i]); for (j = 0; j < d.length; j++) out[at++] = d[j]; }
      return { s: [n], d: out };
    },
    part: function (joined, a, k) {   /* argument k's share of a joined gradient */
      var at = 0;
      for (var i = 0; i < k; i++) at += flat(a[i]).length;
      var s = shape(a[k]);
      return make(s, joined.d.slice(at, at + size(s)));
    },
    logaddexp: function (x, y) {
      if (x === y) return x + Math.LN2;
      var t = x - y;
      return t > 0 ? x + Math.log1p(Math.exp(-t)) : t <= 0 ? y + Math.log1p(Math.exp(t)) : NaN;
    },
    round: function (x, decimals) {   /* numpy's round: half to even, at 10^-decimals */
      var m = Math.pow(10, decimals), y = x * m, r = Math.round(y);
      if (Math.abs(y % 1) === 0.5) r = 2 * Math.round(y / 2);
      return decimals >= 0 ? r / m : r * Math.pow(10, -decimals);
    },
    extreme: function (x, p, sign) {   /* max (sign 1) or min (sign -1), NaN wins */
      var pick = function (a, b) { return b !== b || a !== a ? NaN : (sign * b > sign * a ? b : a); };
      var r = reduce(x, p.axis, p.keepdims, sign * -Infinity, pick);
      return p.initial === undefined ? r : ew(function (v) { return sign * p.initial > sign * v ? p.initial : v; }, [r]);
    },
    extremeVjp: function (g, o, x, p) {   /* the gradient split evenly between ties */
      var xs = shape(x), oe = expand(o, xs, p.axis, p.keepdims);
      var mask = ew(function (a, b) { return a === b ? 1 : 0; }, [x, oe]);
      var ties = expand(reduce(mask, p.axis, true, 0, add2), xs, p.axis, true);
      return ew(function (gg, m, t) { return gg * m / Math.max(t, 1); }, [expand(g, xs, p.axis, p.keepdims), mask, ties]);
    },
    scatter: function (g, x, p) {
      var gd = flat(g), out = new Float64Array(size(shape(x)));
      for (var i = 0; i < p.map.length; i++) if (p.map[i] >= 0) out[p.map[i]] += gd[i];
      return make(shape(x), out);
    }
  };

  /* ---- the program */
  var nodes = P.nodes, N = nodes.length, out = P.output, D = P.digits;
  var forms = {};
  function elementwise(e) {   /* x, y, z: the arguments' elements, o: the output's */
    return new Function("R", "return function (x, y, z, o, p) { return (" + e + "); };")(R);
  }
  function compile(f) {
    return f.d.length ? {
      ew: true, f: elementwise(f.f),
      d: f.d.map(elementwise)
    } : {
      ew: false, f: new Function("R", "a", "p", "return (" + f.f + ");"),
      vjp: new Function("R", "k", "g", "o", "a", "p", "return (" + f.vjp + ");")
    };
  }
  Object.keys(P.forms).forEach(function (name) { forms[name] = compile(P.forms[name]); });
  function params(p) {      /* parameters: non-finite numbers came as strings */
    if (p && typeof p === "object") for (var key in p) if (typeof p[key] === "string") p[key] = num(p[key]);
    return p;
  }
  nodes.forEach(function (nd) { params(nd[4]); });
  var base = new Array(N);
  Object.keys(P.values).forEach(function (k) { base[+k] = decode(P.values[k]); });
  var seed = P.seed === null ? 1 : decode(P.seed);

  function forward(inputs) {   /* values (and elementwise locals) for these input values */
    var vals = base.slice(), locs = new Array(N);
    for (var k in inputs) vals[+k] = inputs[k];
    for (var v = 0; v < N; v++) {
      var nd = nodes[v];
      if (nd[1] === null) continue;
      var F = forms[nd[1]], a = nd[2].map(function (u) { return vals[u]; }), p = nd[4];
      if (F.ew) {
        var o = vals[v] = ew(F.f, a, p);
        if (nd[3]) locs[v] = F.d.map(function (dk) { return ew(dk, a, p, o); });
      } else vals[v] = F.f(R, a, p);
    }
    return { vals: vals, locs: locs };
  }
  function times(g, l) {   /* g·local, where a zero factor wins over inf/NaN */
    return ew(function (x, y) { var c = x * y; return c !== c && (x === 0 || y === 0) ? 0 : c; }, [g, l]);
  }
  function edgeC(st, v, k, g, a) {   /* what flows back along argument k of v when ∂C/∂v = g */
    var nd = nodes[v], F = forms[nd[1]], c;
    if (F.ew) c = times(g, st.locs[v][k]);
    else {
      a = a || {};
      a.args = a.args || nd[2].map(function (w) { return st.vals[w]; });
      c = F.vjp(R, k, g, st.vals[v], a.args, nd[4]);
    }
    return reshapeTo(c, shape(st.vals[nd[2][k]]));
  }
  function plus(a, b) { return a == null ? b : b == null ? a : ew(add2, [a, b]); }
  var mul = function (a, b) { return a * b; };
  function fold(st, v) {   /* a folded edge's composite locals (L) and contributions (C), by
                              the trace's edges in the order gradtrace/render/lesson.py used */
    st.folds = st.folds || {};
    if (st.folds[v]) return st.folds[v];
    var f = P.folds[v], adj = {}, accL = {}, up = {}, accC = {};
    adj[v] = 1; up[v] = st.grads[v];
    f.steps.forEach(function (s) {
      var c = s[0], w = s[1], k = s[2], inside = s[3];
      var l = st.locs[c] ? st.locs[c][k] : null;
      var n = adj[c] == null || l == null ? null :
        ew(mul, [adj[c], fitLocal(l, (P.localShapes[c] || {})[k])]);
      var into = inside ? adj : accL;
      into[w] = !(w in into) ? n : into[w] == null || n == null ? null : ew(add2, [into[w], n]);
      var x = st.cs[c] ? st.cs[c][k] : null;
      if (f.shared && x != null) x = up[c] == null ? null : edgeC(st, c, k, up[c]);
      var intoC = inside ? up : accC;
      intoC[w] = plus(intoC[w], x);
    });
    return (st.folds[v] = { L: accL, C: accC });
  }
  function backward(st) {
    var vals = st.vals, grads = new Array(N), cs = new Array(N);
    grads[out] = seed;
    for (var v = N - 1; v >= 0; v--) {
      var nd = nodes[v];
      if (!nd[3]) continue;
      var g = grads[v];
      if (g === undefined) g = grads[v] = ew(function () { return 0; }, [vals[v]]);
      if (nd[1] === null) continue;
      var args = nd[2], mine = cs[v] = [], a = { args: null };
      for (var k = 0; k < args.length; k++) {
        var u = args[k];
        if (!nodes[u][3]) { mine.push(null); continue; }
        var c = edgeC(st, v, k, g, a);
        mine.push(c);
        grads[u] = grads[u] === undefined ? c : ew(add2, [grads[u], c]);
      }
    }
    st.grads = grads; st.cs = cs;
    return st;
  }

  /* ---- numbers as the painter writes them (gradtrace.notation) */
  var MINUS = "\u2212";
  function strip(m) {     /* 1.500 -> 1.5, 2.000 -> 2 */
    if (m.indexOf(".") < 0) return m;
    var i = m.length;
    while (m.charCodeAt(i - 1) === 48) i--;
    if (m[i - 1] === ".") i--;
    return m.slice(0, i);
  }
  function fmt(x, d) {    /* Python's f"{x:.{d}g}", with a real minus sign */
    if (x !== x) return "NaN";
    if (x === Infinity) return "∞";
    if (x === -Infinity) return MINUS + "∞";
    if (x === 0) return "0";
    var e = x.toExponential(d - 1), longer = x.toExponential(d);
    if (longer.charCodeAt(longer.indexOf("e") - 1) === 53) {   /* ...5: maybe an exact tie */
      var exact = x.toExponential(d + 24), at = exact.indexOf("e");
      var digits = exact.slice(0, at).replace("-", "").replace(".", "");
      if (/^50*$/.test(digits.slice(d)) && +digits[d - 1] % 2 === 0)   /* half to even */
        e = (x < 0 ? "-" : "") + digits[0] + (d > 1 ? "." + digits.slice(1, d) : "") + exact.slice(at);
    }
    var at2 = e.indexOf("e"), ex = +e.slice(at2 + 1), s;
    if (ex < -4 || ex >= d) {
      var a = Math.abs(ex);
      s = strip(e.slice(0, at2)) + "e" + (ex < 0 ? "-" : "+") + (a < 10 ? "0" : "") + a;
    } else s = strip((+e).toFixed(Math.max(0, d - 1 - ex)));
    if (s === "-0") return "0";
    return s.charCodeAt(0) === 45 || s.indexOf("-") >= 0 ? s.replace(/-/g, MINUS) : s;
  }
  function signed(x, d) { var s = fmt(x, d); return s[0] === MINUS ? "(" + s + ")" : s; }
  function nested(d, s, off, digits) {
    if (s.length === 0) return fmt(d[off], digits);
    var step = size(s.slice(1)), parts = [];
    for (var i = 0; i < s[0]; i++) parts.push(nested(d, s.slice(1), off + i * step, digits));
    return "[" + parts.join(", ") + "]";
  }
  function norm(a) { var t = 0; for (var i = 0; i < a.length; i++) t += a[i] * a[i]; return Math.sqrt(t); }
  function valueText(x, d, rows, whole) {   /* notation.value_text: up to 16 values written out */
    if (typeof x === "number") return fmt(x, d);
    if (x.d.length <= (whole || 16)) {
      if (!rows || x.s.length !== 2 || x.s[0] < 2) return nested(x.d, x.s, 0, d);
      var out = [];      /* a matrix one row per line, as its box shows it */
      for (var i = 0; i < x.s[0]; i++) out.push(nested(x.d, [x.s[1]], i * x.s[1], d));
      return "[" + out.join(",\n") + "]";
    }
    var fin = Array.prototype.filter.call(x.d, isFinite), bad = x.d.length - fin.length, s;
    if (fin.length) {
      var lo = Infinity, hi = -Infinity;
      fin.forEach(function (v) { if (v < lo) lo = v; if (v > hi) hi = v; });
      s = fmt(lo, d) + " … " + fmt(hi, d) + ", ‖·‖ " + fmt(norm(fin), d);
    } else s = "no finite values";
    return s + (bad ? ", " + bad + " NaN/∞" : "");
  }
  function magnitude(x) {
    if (typeof x === "number") return Math.abs(x);
    for (var i = 0; i < x.d.length; i++) if (!isFinite(x.d[i])) return NaN;
    return norm(x.d);
  }
  function fitLocal(l, s) {   /* a local as the trace stores it (numpy's shape, not the output's) */
    if (s === undefined || typeof l === "number") return l;
    if (s.length === 0) return l.d[0];
    var S = l.s, out = new Float64Array(size(s)), k = S.length - s.length;
    for (var i = 0; i < out.length; i++) {   /* the element at index (0.., i) of the output */
      var rem = i, r = 0, mult = 1;
      for (var j = s.length - 1; j >= 0; j--) {
        var q = rem % s[j]; rem = (rem - q) / s[j]; r += q * mult; mult *= S[j + k];
      }
      out[i] = l.d[r];
    }
    return make(s, out);
  }
  var seen = new Map();    /* num(x) of this update: a value recurs on several lines */
  function numText(x) {
    var s = seen.get(x);
    if (s === undefined) { s = fmt(x, D); seen.set(x, s); }
    return s;
  }
  function number(x, f) {
    if (typeof x === "number" && f !== "m") {
      var s = numText(x);
      return f === "s" && s.charCodeAt(0) === 8722 ? "(" + s + ")" : s;
    }
    return f === "n" ? fmt(x, D) : f === "s" ? signed(x, D) : f === "m" ? fmt(magnitude(x), D) :
      valueText(x, D, f === "r", f === "e" ? 6 : 16);
  }
  function texts(st) {
    var res = {};
    seen.clear();
    for (var id in P.lines) {
      var t = P.lines[id], s = "";
      for (var i = 0; i < t.length; i++) {
        var q = t[i];
        if (typeof q === "string") { s += q; continue; }
        var x = q[0] === "v" ? st.vals[q[1]] : q[0] === "g" ? st.grads[q[1]] :
          q[0] === "l" ? fitLocal(st.locs[q[1]][q[2]], (P.localShapes[q[1]] || {})[q[2]]) :
          q[0] === "c" ? st.cs[q[1]][q[2]] : fold(st, q[1])[q[0]][q[2]];
        s += number(x, q[q.length - 1]);
      }
      res[id] = s;
    }
    return res;
  }

  /* ---- branches the code took on traced values */
  var CMP = {
    "<": function (a, b) { return a < b; }, "<=": function (a, b) { return a <= b; },
    ">": function (a, b) { return a > b; }, ">=": function (a, b) { return a >= b; },
    "==": function (a, b) { return a === b; }, "!=": function (a, b) { return a !== b; }
  };
  function flipped(vals) {
    for (var i = 0; i < P.guards.length; i++) {
      var q = P.guards[i], b = q.b === null ? decode(q.c) : vals[q.b];
      var got = ew(function (x, y) { return CMP[q.op](x, y) ? 1 : 0; }, [vals[q.a], b]);
      var want = decode(q.want), gd = flat(got), wd = flat(want);
      for (var j = 0; j < gd.length; j++) if (!gd[j] !== !wd[wd.length === 1 ? 0 : j]) return q;
    }
    return null;
  }

  window.gtWhatif = { forward: forward, backward: backward, R: R, fmt: fmt, valueText: valueText,
                      texts: texts, decode: decode, forms: forms, flipped: flipped, P: P,
                      compile: compile, params: params, ew: ew, reshapeTo: reshapeTo, fitLocal: fitLocal };
})();
