"""The fast layout's edge lines: on any DAG, in either orientation, every line runs from
its source's far side to its target's near side through its label box, and crosses no
box and no label on the way (checked segment by segment against every box), and the
same graph gives the same drawing."""

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import gradtrace as gt
from gradtrace.render import layout
from gradtrace.render.output import svg_text
from gradtrace.render.route import Router, Trunks


@st.composite
def dags(draw):
    n = draw(st.integers(2, 24))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 2), st.integers(1, 23)), min_size=1,
                          max_size=60))
    src, dst = [], []
    for u, step in edges:
        src.append(u)
        dst.append(min(u + step, n - 1))
    labelled = draw(st.lists(st.booleans(), min_size=len(src), max_size=len(src)))
    node_w = draw(st.lists(st.sampled_from([30.0, 60.0, 140.0]), min_size=n, max_size=n))
    node_h = draw(st.lists(st.sampled_from([20.0, 34.0, 47.0]), min_size=n, max_size=n))
    label_w = [draw(st.sampled_from([40.0, 90.0, 200.0])) if lab else 0.0 for lab in labelled]
    label_h = [30.0 if lab else 0.0 for lab in labelled]
    return n, src, dst, node_w, node_h, label_w, label_h


def crosses(a, b, box) -> bool:
    """Does segment a-b pass through the inside of box (x0, y0, x1, y1)?  (Liang-Barsky)"""
    (x0, y0), (x1, y1) = a, b
    lo, hi = 0.0, 1.0
    for p, q in ((x0 - x1, x0 - box[0]), (x1 - x0, box[2] - x0),
                 (y0 - y1, y0 - box[1]), (y1 - y0, box[3] - y0)):
        if p == 0:
            if q <= 0:
                return False
            continue
        t = q / p
        if p < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
    return hi - lo > 1e-6


def boxes_of(p, count):
    inset = 0.2                   # a line may end on a box's side, not enter it
    return [(p.x[i] - p.w[i] / 2 + inset, p.y[i] - p.h[i] / 2 + inset,
             p.x[i] + p.w[i] / 2 - inset, p.y[i] + p.h[i] / 2 - inset) for i in range(count)]


def placed(graph, rankdir):
    n, src, dst, node_w, node_h, label_w, label_h = graph
    p = layout.place(n, src, dst, node_w, node_h, label_w, label_h, rankdir=rankdir)
    return n, src, dst, p, Router(p, src, dst)


@settings(max_examples=60, deadline=None)
@given(dags(), st.sampled_from(["LR", "TB"]))
def test_lines_cross_no_box_and_no_label(graph, rankdir):
    n, src, dst, p, router = placed(graph, rankdir)
    real = n + int(np.sum(np.asarray(graph[5]) > 0))
    boxes = boxes_of(p, real)
    for e in range(len(src)):
        for part in (router.first(e), router.second(e)):
            for a, b in zip(part, part[1:]):
                hit = [i for i, box in enumerate(boxes) if crosses(a, b, box)]
                assert hit == [], (e, src[e], dst[e], a, b, hit)


@settings(max_examples=40, deadline=None)
@given(dags(), st.sampled_from(["LR", "TB"]))
def test_lines_join_source_label_and_target(graph, rankdir):
    _, src, dst, p, router = placed(graph, rankdir)
    lr = rankdir == "LR"

    def side(i, far):            # the middle of box i's far or near side along the flow
        along, half = (p.x[i], p.w[i] / 2) if lr else (p.y[i], p.h[i] / 2)
        return round(float(along + (half if far else -half)), 1)
    for e, (u, v) in enumerate(zip(src, dst)):
        first, second = router.first(e), router.second(e)
        k = int(p.label_box[e])
        ends = [(first, u, k if k >= 0 else v)] + ([(second, k, v)] if k >= 0 else [])
        for pts, a, b in ends:
            start, end = pts[0], pts[-1]
            assert abs((start[0] if lr else start[1]) - side(a, True)) <= 0.11
            assert abs((end[0] if lr else end[1]) - side(b, False)) <= 0.11
            assert abs((start[1] if lr else start[0]) - (p.y[a] if lr else p.x[a])) <= 0.11
        if k >= 0:     # the label box sits on its edge: the line stops at one side of it
            assert abs((first[-1][1] if lr else first[-1][0]) - (p.y[k] if lr else p.x[k])) < .11


def test_a_shared_trunk_is_drawn_once():
    """A weight used by every step of a long loop: its trunk is written once, so the
    line data grows with the steps, not with their square."""
    def chain(x=0.3, w=1.01, steps=400):
        acc = x
        for _ in range(steps):
            acc = gt.sigmoid(acc) * w
        return acc
    t = gt.trace(chain).backward()
    svg = svg_text(t, layout="fast", view="ops")
    points = sum(d.count("L") for d in re.findall(r' d="([^"]*)"', svg))
    assert points < 12 * t.graph.number_of_edges()


def test_the_same_trace_draws_the_same_lines():
    def rnn(x=np.linspace(-1, 1, 12).reshape(4, 3), Wx=np.full((3, 4), 0.1),
            Wh=np.eye(4) * 0.5, h0=np.zeros(4)):
        h = h0
        for t in range(4):
            h = np.tanh(x[t] @ Wx + h @ Wh)
        return np.sum(h * h)
    one = svg_text(gt.trace(rnn).backward(), layout="fast", view="ops")
    two = svg_text(gt.trace(rnn).backward(), layout="fast", view="ops")
    assert one == two


def test_the_check_sees_a_line_through_a_box():
    assert crosses((0, 5), (20, 5), (8, 0, 12, 10))
    assert crosses((0, 0), (20, 20), (8, 8, 12, 12))
    assert not crosses((0, 5), (8, 5), (8, 0, 12, 10))           # ends on its side
    assert not crosses((0, 0), (20, 2), (8, 8, 12, 12))


def test_a_trunk_drawn_once_still_reaches_every_edge():
    """Edges that share a trunk draw only its new part, and start on the part drawn."""
    n, src, dst = 5, [0, 0, 0, 1, 2, 3], [1, 2, 4, 2, 3, 4]
    p = layout.place(n, src, dst, [40.0] * n, [20.0] * n, [50.0] * 6, [30.0] * 6, rankdir="LR")
    router = Router(p, src, dst)
    trunks = Trunks(router)
    drawn = [trunks.first(e, ("c", 1.0)) for e in range(len(src))]
    full = [router.first(e) for e in range(len(src))]
    points = {q for part in drawn for q in part}
    for part, whole in zip(drawn, full):
        assert part[-1] == whole[-1] and part[0] in set(whole)
        assert set(whole) <= points | set(whole[:1])
