"""The drawing object: options checked once at the entry, and the view, painter and node
texts built once per output (SVG, HTML, GIF), whatever the writer draws from them."""

from collections import Counter

import pytest

import gradtrace as gt
from gradtrace.core import formulas
from gradtrace.render import drawing as drawing_mod
from gradtrace.render import options as options_mod
from gradtrace.render import painter as painter_mod
from gradtrace.render import view as view_mod

from .conftest import needs_dot


@pytest.fixture
def builds(monkeypatch):
    """Counts how often options, views, painters and node texts are built."""
    counts: Counter = Counter()

    def counted(module, name, key):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            counts[key] += 1
            return original(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)

    original_post_init = options_mod.Options.__post_init__

    def post_init(self):
        counts["options"] += 1
        original_post_init(self)
    monkeypatch.setattr(options_mod.Options, "__post_init__", post_init)
    counted(drawing_mod, "build_view", "view")
    original_painter_init = painter_mod.Painter.__init__

    def painter_init(self, *args, **kwargs):
        counts["painter"] += 1
        original_painter_init(self, *args, **kwargs)
    monkeypatch.setattr(painter_mod.Painter, "__init__", painter_init)
    counted(painter_mod, "node_texts", "texts")
    counted(formulas, "node_texts", "texts elsewhere")
    return counts


def _chain(w=0.8, a_prev=0.6, b=-0.3, y=1.0):
    z = w * a_prev + b
    a = gt.sigmoid(z)
    return (a - y) ** 2


ONCE = {"options": 1, "view": 1, "painter": 1, "texts": 1}


@needs_dot
@pytest.mark.parametrize("suffix", [".svg", ".html", ".gif", ".png", ".dot"])
def test_one_build_per_render(builds, tmp_path, suffix):
    if suffix == ".gif":
        pytest.importorskip("PIL")
    t = gt.trace(_chain).backward()
    _ = t.graph                            # (names and formulas are the trace's, not a build)
    builds.clear()
    t.render(tmp_path / f"c{suffix}", style="3b1b")
    assert dict(builds) == ONCE


@pytest.mark.parametrize("layout", ["fast", "auto"])
def test_one_build_per_notebook_display(builds, layout):
    t = gt.trace(_chain).backward()
    _ = t.graph
    builds.clear()
    t.show(layout=layout)
    assert dict(builds) == ONCE


def test_the_drawing_says_what_it_draws():
    t = gt.trace(_chain).backward()
    d = t.drawing(style="3b1b", digits=3, view="ops")     # one box per operation
    assert d.options.style == "3b1b" and d.layout == "dot"
    assert d.texts[t.output] == t.output_name == "_chain"
    boxes = d.boxes()
    z = t.node_id("z")
    assert boxes[z][0].startswith("z") and any(line.startswith("= ") for line in boxes[z])
    labels = d.edges()
    into_z = [lines for (u, v, _), lines in labels.items() if v == z]
    assert sorted(into_z) == [["∂z/∂(w·a_prev) = 1", "← −0.226"], ["∂z/∂b = 1", "← −0.226"]]
    assert d.rankdir in ("LR", "TB")
    legend = dict(d.legend())
    assert legend["gradient"] == "#fcd34d" and legend["value"] == "#58c4dd"   # 3b1b's colours
    assert legend["gradient"] in t.to_dot(style="3b1b")
    folded = gt.trace(_chain).drawing(layout="fast")
    assert folded.layout == "fast" and folded.rankdir == folded.scene.placement.rankdir


def test_options_are_checked_at_the_entry(tmp_path):
    t = gt.trace(_chain)
    with pytest.raises(gt.RenderError, match="unknown rendering option"):
        t.drawing(colour="red")
    with pytest.raises(gt.RenderError, match="unknown style 'neon'"):
        t.render(tmp_path / "c.json", style="neon")      # JSON ignores style, not a typo
    assert not (tmp_path / "c.json").exists()
    with pytest.raises(gt.RenderError, match="unknown view 'op'"):
        t.drawing(view="op")
    with pytest.raises(gt.RenderError, match="whatif must be True or False"):
        t.render(tmp_path / "c.html", whatif="no")
    with pytest.raises(gt.RenderError, match="only applies when writing .html"):
        t.render(tmp_path / "c.svg", whatif=False)
    assert not (tmp_path / "c.html").exists() and not (tmp_path / "c.svg").exists()


def test_cli_choices_come_from_the_option_definitions():
    from gradtrace.cli.main import render
    choices = {p.name: tuple(p.type.choices) for p in render.params
               if hasattr(p.type, "choices")}
    assert choices["style"] == options_mod.STYLE_NAMES
    assert choices["rankdir"] == options_mod.RANKDIRS
    assert choices["layout"] == options_mod.LAYOUTS
    assert choices["view"] == options_mod.VIEWS
    assert choices["fmt"] == options_mod.FORMAT_NAMES
    assert set(options_mod.FORMAT_NAMES) == set(options_mod.FORMATS.values())


def test_view_module_is_what_the_drawing_uses():
    assert drawing_mod.build_view is view_mod.build_view


@needs_dot
def test_dot_too_slow_under_auto_draws_with_the_fast_layout_once(builds, tmp_path,
                                                               monkeypatch):
    from gradtrace.render import output
    monkeypatch.setattr(output, "AUTO_BUDGET", 1e-4)
    t = gt.trace(_chain).backward()
    _ = t.graph
    for suffix in (".svg", ".png"):
        builds.clear()
        with pytest.warns(gt.GradtraceWarning, match="fast layout"):
            path = t.render(tmp_path / f"c{suffix}")
        assert dict(builds) == ONCE and path.stat().st_size > 0
    assert 'class="gradtrace fast"' in (tmp_path / "c.svg").read_text()
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
