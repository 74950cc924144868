"""legend=True says what this diagram's fills, colours and marks mean; the HTML page
has it by default."""

import gradtrace as gt
from gradtrace import examples as ex
from gradtrace.render.output import svg_text
from gradtrace.render.page import page

from .conftest import needs_dot
from .svgread import all_text


def test_legend_explains_only_what_the_diagram_shows():
    chain = gt.trace(ex.seed_chain).backward()
    dot = chain.to_dot(legend=True)
    assert "legend [" in dot and "what flowed back along the edge" in dot
    assert "(VJP)" not in dot.split("legend [")[1]          # no array op in the chain
    assert "legend [" not in chain.to_dot()                  # off unless asked for
    mlp = gt.trace(ex.numpy_mlp).backward()
    text = mlp.to_dot(legend=True, style="heat").split("legend [")[1]
    assert "vector-Jacobian product" in text and "‖·‖" in text
    assert "on one log scale for every diagram" in text     # heat's fixed scale
    assert "this diagram&#39;s edges: |←| from " in text or "this diagram's edges" in text


def test_fast_layout_draws_the_legend_below_the_picture():
    t = gt.trace(ex.seed_chain).backward()
    svg = svg_text(t, layout="fast", legend=True)
    assert '<g class="legend">' in svg
    assert "the output, where backward starts" in all_text(svg)


@needs_dot
def test_html_page_explains_itself_in_its_panel_not_under_it():
    """The page's legend is its panel's #gt-legend; the diagram's own legend (which the
    panel would cover) is drawn when asked, or with heat, whose scale only it shows."""
    t = gt.trace(ex.seed_chain).backward()
    plain = page(t)
    assert 'id="gt-legend"' in plain and "the gradient, from the backward pass" not in plain
    assert "the gradient, from the backward pass" in page(t, legend=True)
    assert '<g class="legend"' in page(t, heat=True, layout="fast") or \
        "10⁻⁴" in page(t, heat=True)
