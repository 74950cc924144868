"""The committed gallery: one SVG and its DOT per entry, plus a README with captions.

Each entry is exactly a ``gradtrace render`` command line, so every picture can be
remade by hand and ``gradtrace gallery --check`` can tell when code and gallery
have drifted apart (it compares DOT, which is deterministic byte for byte).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..render.output import run_graphviz, write_atomic
from ..render.page import page_data, steps_data
from .targets import trace_target


@dataclass(frozen=True)
class Entry:
    stem: str
    target: str
    options: dict = field(default_factory=dict)
    caption: str = ""
    notice: str = ""
    extras: tuple = ()      # more files of the same render: ".html" step-through, ".gif"

    def command(self, folder: str = "gallery", suffix: str = ".svg") -> str:
        flags = []
        for key, value in self.options.items():
            flag = "--" + key.replace("_", "-")
            if key == "collapse" and value is True:
                flags.append("--collapse-all")
            elif value is True:
                flags.append(flag)
            elif isinstance(value, (list, tuple)):
                flags.extend(f"{flag} {v}" for v in value)
            else:
                flags.append(f"{flag} {value}")
        return " ".join(["gradtrace render", self.target, *flags,
                         f"-o {folder}/{self.stem}{suffix}"])


ENTRIES = [
    Entry("seed_chain", "seed_chain", {"style": "3b1b"},
          "The lesson's chain: w(L), a(L−1) and b(L) flow into z(L), then a(L), then C0 with y.",
          "One box per quantity the lesson names. Each edge is a sensitivity: ∂z(L)/∂w(L) = "
          "a(L−1) says a nudge to w(L) nudges z(L) by a(L−1) times as much. Multiply the "
          "edges from w(L) down to C0, a(L−1) · σ'(z(L)) · 2(a(L) − y), and you have ∂C0/∂w(L) "
          "(hover over a box for that product with numbers).", (".html", ".gif")),
    Entry("seed_chain_ops", "seed_chain", {"style": "3b1b", "view": "ops"},
          "The same chain with every operation drawn (--view ops).",
          "The product w(L)·a(L−1) and the difference a(L) − y get boxes of their own here; "
          "the lesson view folds them into z(L) and C0, and the gradients and the sums are the "
          "same in both."),
    Entry("last_layer", "last_layer", {"style": "3b1b"},
          "The last layer alone: ∂C0/∂w(L) = ∂C0/∂a(L) · ∂a(L)/∂z(L) · ∂z(L)/∂w(L).",
          "The three edges into z(L) are its sensitivities: ∂z(L)/∂w(L) = a(L−1), ∂z(L)/∂b(L) = "
          "1 and ∂z(L)/∂a(L−1) = w(L). How strongly the previous neuron fires sets how much a "
          "nudge to the weight matters, and the weight sets how much the previous neuron "
          "matters.", (".html",)),
    Entry("last_layer_highlight", "last_layer", {"style": "3b1b", "highlight": "w(L)"},
          "The same layer with the path from w(L) to C0 highlighted.",
          "Only the path that ∂C0/∂w(L) travels stays lit, plus a(L−1) and y, the values its "
          "factors are made of; each lit edge shows the gradient arriving from C0 times the "
          "edge's sensitivity."),
    Entry("layer_fanout", "layer_fanout", {},
          "A layer of two neurons: C0 = Σj (a(L)j − yj)².",
          "Each a(L−1)k feeds both neurons, and each of those edges reads w(L)jk: a nudge to "
          "a(L−1)k reaches the cost along two paths, so its gradient is the sum over paths, "
          "written as two terms, one per edge (the ← number on it).", (".html",)),
    Entry("square", "square", {},
          "x · x: one value, two edges.",
          "The multiplication uses x twice, so there are two edges, each with ∂f/∂x = x = 3, and "
          "x's gradient is the sum over both paths, 3 + 3 = 6 (a tool that stores children in a "
          "set shows one arrow)."),
    Entry("shared_input", "shared_input", {},
          "x · y + x: two paths from x to the output.",
          "Nothing between x and f is named, so every operation is drawn: x's gradient is the "
          "sum over paths, y (through the product) + 1 (straight into the sum) = 6."),
    Entry("numpy_mlp", "numpy_mlp", {},
          "A numpy MLP (3 → 4 → 2, tanh) on a batch of 5: the tensor view.",
          "Boxes are the arrays the code names (h, out, err, loss). Matrix products have no "
          "per-element sensitivity, so their edges name the vector-Jacobian product (ḡ @ W1ᵀ, "
          "Xᵀ @ ḡ); b1's gradient has b1's shape because broadcasting over the batch is summed "
          "back.", (".html",)),
    Entry("numpy_mlp_heat", "numpy_mlp", {"style": "heat", "legend": True},
          "The same MLP in the heat style, with its legend.",
          "Each box is filled by the size of its gradient and each edge's width and colour "
          "follow what flowed back along it, on one log scale shared by every diagram (a band "
          "per decade, the legend lists them): b1, with the biggest gradient, is the warmest "
          "box; a thin pale edge would carry a vanishing nudge, NaN or ∞ would show in red."),
    Entry("softmax_xent", "softmax_xent", {},
          "Softmax cross-entropy of a linear classifier.",
          "The gradient reaching the logits is (softmax − one-hot)/n: logsumexp's VJP gives the "
          "softmax, the picked logits subtract the one-hot."),
    Entry("attention_head", "attention_head", {},
          "One attention head after a layer norm; functions and gt.scope blocks become clusters.",
          "layer_norm and attention are the functions that were called; query, key and value are "
          "gt.scope blocks inside attention. Each box is a value the code names (q, k, v, "
          "scores, weights)."),
    Entry("attention_head_collapsed", "attention_head", {"collapse": True},
          "The same head with its scopes collapsed.",
          "Each collapsed box counts its ops, names what flows in, and shows each output with "
          "its value and gradient; drop --collapse to expand them."),
    Entry("rnn", "rnn", {},
          "A vanilla RNN unrolled over 4 steps: h = tanh(x[t] @ Wx + h @ Wh).",
          "The variable h is bound once per step, so its boxes read h₁ … h₄ (hover for the "
          "source line); Wx and Wh feed every step, so their gradients are sums over the four "
          "paths, and `gradtrace explain rnn h` explains the last binding, h₄."),
    Entry("torch_mlp", "torch_mlp", {},
          "An nn.Sequential MLP with F.cross_entropy, traced from PyTorch.",
          "Parameters are named by module path (model.hidden.weight) and each module call is "
          "a cluster; tanh is a call gradtrace knows, so its edge carries 1 − tanh²(…) as "
          "its sensitivity, while F.linear and F.cross_entropy edges are the VJP torch "
          "computes for that one call. Every gradient equals torch's own .grad."),
    Entry("torch_ninja", "torch_ninja", {},
          "The \"backprop ninja\" net: batch norm and softmax written out in torch ops.",
          "Every intermediate is named after its variable (bndiff, bnvar_inv, counts_sum_inv "
          "…), so this is the cmp() table of the exercise drawn as a graph: hprebn, bndiff and "
          "counts feed two paths each and show their gradient as the sum over both, and b1's "
          "gradient is ~0 because batch norm subtracts the batch mean right after it."),
    Entry("torch_dcgan", "torch_dcgan", {},
          "A DCGAN discriminator with LeakyReLU(0.2, inplace=True), traced from PyTorch.",
          "Each in-place LeakyReLU is a new version of the tensor it overwrites, exactly as "
          "torch's autograd treats it: the box after a convolution (netD.0) and the one after "
          "its activation (netD.1) hold different values, and the chain rule passes through "
          "both. Every gradient equals torch's own .grad; `gradtrace check torch_dcgan` "
          "compares them, and leaves the labels unperturbed (BCE needs them in [0, 1])."),
    Entry("mlp_calls", "mlp_calls", {"collapse": ("dense", "gelu")},
          "A 4-layer MLP built with a loop, each call of dense and gelu collapsed to its own box.",
          "Every call is its own scope instance (dense#1 … dense#4, gelu#1 … gelu#4), so the "
          "collapsed graph is still the model: a chain of boxes, each showing its inputs and "
          "its output with value and gradient."),
    Entry("micrograd_neuron", "micrograd_neuron", {},
          "The micrograd lecture's neuron, o = tanh(x1·w1 + x2·w2 + b), read from its Value graph.",
          "Built with a scalar engine in the lecture's style and drawn with gt.from_micrograd: "
          "each edge carries the local derivative the lecture's draw_dot leaves out (1 − "
          "tanh²(n) = 0.5 into n, then 1 through each +, then w1 = −3 into x1), so x1's "
          "sensitivity −1.5 is the product along its path."),
    Entry("student_fanout", "student_fanout", {},
          "A student's engine graded: its + assigns .grad instead of adding to it.",
          "h = a + a uses a twice, so a's gradient is the sum of two paths, (−0.0904) + "
          "(−0.0904) = −0.181; the engine's backward assigned, keeping one path, and the box "
          "shows its .grad in a second colour beside the right sum. `gradtrace grade "
          "student_fanout` says so in words and exits 1."),
]


def render_entry(entry: Entry) -> tuple[str, Any]:
    """(DOT text, trace) for one entry, exactly as ``gradtrace render`` makes it."""
    t, _ = trace_target(entry.target)
    return t.to_dot(**entry.options), t


def readme(folder: str) -> str:
    lines = ["# gradtrace gallery", "",
             "Every picture here is made by the command under it; `gradtrace gallery` remakes "
             "them all and `gradtrace gallery --check` fails when any DOT file differs from "
             "what the code produces now.", ""]
    for e in ENTRIES:
        lines += [f"## {e.stem}", "", f"![{e.caption}]({e.stem}.svg)", "", f"*{e.caption}*", "",
                  "```", e.command(folder), *(e.command(folder, x) for x in e.extras), "```",
                  "", f"What to notice: {e.notice}", ""]
        if ".html" in e.extras:
            lines += [f"Step through it: open [{e.stem}.html]({e.stem}.html) in a browser "
                      "(→ steps, #step=N links a moment).", ""]
        if ".gif" in e.extras:
            lines += [f"![The backward pass of {e.stem}, animated]({e.stem}.gif)", ""]
    return "\n".join(lines)


def check(folder: Path) -> list[str]:
    """Names of the files whose content differs from what the code makes now."""
    stale = []
    for e in ENTRIES:
        dot, _ = render_entry(e)
        path = folder / f"{e.stem}.dot"
        if not path.exists() or path.read_text(encoding="utf-8") != dot:
            stale.append(str(path))
        if not (folder / f"{e.stem}.svg").exists():
            stale.append(str(folder / f"{e.stem}.svg"))
        for suffix in e.extras:
            path = folder / f"{e.stem}{suffix}"
            if not path.exists():
                stale.append(str(path))
            elif suffix == ".html" and page_data(path) != steps_data(trace_target(e.target)[0],
                                                                   **e.options):
                stale.append(str(path))
    readme_path = folder / "README.md"
    if not readme_path.exists() or readme_path.read_text(encoding="utf-8") != readme(folder.name):
        stale.append(str(readme_path))
    return stale


def write(folder: Path, progress=lambda entries: entries) -> list[Path]:
    """Regenerate every entry's DOT and SVG and the README; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for e in progress(ENTRIES):
        dot, t = render_entry(e)
        svg = run_graphviz(dot, "svg")
        for suffix, data in ((".dot", dot.encode("utf-8")), (".svg", svg)):
            path = folder / f"{e.stem}{suffix}"
            write_atomic(path, data)
            written.append(path)
        for suffix in e.extras:
            written.append(t.render(folder / f"{e.stem}{suffix}", **e.options))
    path = folder / "README.md"
    write_atomic(path, readme(folder.name).encode("utf-8"))
    written.append(path)
    return written
