"""The ``gradtrace`` command: render, explain, check and inspect model files; the gallery.

Exit status: 0 success, 1 a gradient check failed (or the gallery is stale),
2 a usage or input error.  Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys
from collections import Counter
from contextlib import nullcontext, redirect_stdout
from pathlib import Path

import click

from .. import __version__
from ..notation import ATOL, DIGITS, EPS, MAX_PATHS, RTOL, magnitude, num
from ..render import options as render_options
from ..render.options import DIGITS_RANGE, FORMAT_NAMES, LAYOUTS, RANKDIRS, STYLE_NAMES, VIEWS
from .report import reported


def quiet_option(f):
    return click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")(f)


def input_options(f):
    f = click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False),
                     metavar="FILE.npz|FILE.json",
                     help="Input values by parameter name (override the defaults).")(f)
    f = click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                     help="Set one input: a number or a JSON list, e.g. --set w=0.5 "
                          "--set x='[1, 2]'. Repeatable.")(f)
    return f


def listed(ctx, param, values: tuple[str, ...]) -> tuple[str, ...]:
    """A repeatable name option also takes a comma-separated list (``--data aLm1,y``);
    a comma inside brackets or parentheses is part of a name (``params[(0, 1)]``)."""
    names: list[str] = []
    for value in values:
        depth, start = 0, 0
        for i, ch in enumerate(value + ","):
            depth += (ch in "([{") - (ch in ")]}")
            if ch == "," and depth <= 0:
                if value[start:i].strip():
                    names.append(value[start:i].strip())
                start = i + 1
    return tuple(names)


def pick_option(f):
    return click.option("--pick", metavar="INDEX|KEY",
                        help="Which value to differentiate when TARGET returns a tuple, list "
                             "or dict, e.g. --pick 1 for (logits, loss); Python's output=.")(f)


def load_trace(target: str, sets=(), inputs_file=None, wrt=None, pick=None):
    from .targets import trace_target
    with reported(target):
        t, short = trace_target(target, sets, inputs_file, wrt, pick)
    if not isinstance(t.value, float):
        click.echo(f"note: {short} returns an array of shape {tuple(t.value.shape)}; the "
                   "gradients shown are those of its sum", err=True)
    return t, short


def say(quiet: bool, text: str) -> None:
    if not quiet:
        click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gradtrace")
def main():
    """Make backpropagation visible: trace a model, run the chain rule, draw every step.

    \b
    Examples:
      gradtrace examples
      gradtrace render seed_chain --style 3b1b -o chain.svg
      gradtrace explain model.py:loss w
      gradtrace check model.py:loss
    """


@main.command("ops")
def list_ops():
    """List the numpy functions and methods gradtrace differentiates (from its op table)."""
    from ..ops.listing import supported_markdown
    click.echo(supported_markdown(), nl=False)


@main.command()
@click.argument("target")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), metavar="OUT",
              help="Output file (default: FUNCTION.svg in the current folder); - writes to "
                   "standard output in --format (default svg).")
@click.option("--format", "fmt",
              type=click.Choice(FORMAT_NAMES),
              help="Output format (default: from OUT's suffix, else svg). html: a page "
                   "that steps through the forward and backward pass; gif: the backward "
                   "pass animated (needs Pillow).")
@click.option("--style", type=click.Choice(STYLE_NAMES), default="default", show_default=True)
@click.option("--view", type=click.Choice(VIEWS), default="lesson", show_default=True,
              help="lesson: one box per value your code names, unnamed steps folded into "
                   "the edges; ops: one box per operation.")
@click.option("--share", type=click.Choice(render_options.SHARES),
              default=render_options.Options.share, show_default=True,
              help=render_options.SHARE_HELP)
@input_options
@pick_option
@click.option("--wrt", multiple=True, metavar="NAME", callback=listed,
              help="Inputs that get gradients (default: every floating input). "
                   "Repeatable, or comma-separated.")
@click.option("--highlight", metavar="NAME", help="Emphasise the paths from NAME to the output.")
@click.option("--collapse", multiple=True, metavar="SCOPE", callback=listed,
              help="Fold a scope (function or gt.scope name) into one node. "
                   "Repeatable, or comma-separated.")
@click.option("--collapse-all", is_flag=True, help="Fold every top-level scope.")
@click.option("--depth", type=click.IntRange(0), default=None, metavar="N",
              help="Fold every call nested deeper than N levels (each call its own box).")
@click.option("--rankdir", type=click.Choice(RANKDIRS), default="auto",
              show_default=True,
              help="Direction of flow; auto picks left-to-right or top-to-bottom, whichever "
                   "gives the squarer drawing.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="auto",
              show_default=True, help="fast: gradtrace's layered layout, for big graphs.")
@click.option("--digits", type=click.IntRange(*DIGITS_RANGE), default=DIGITS, show_default=True)
@click.option("--no-values", is_flag=True, help="Hide node values.")
@click.option("--no-grads", is_flag=True, help="Hide gradients.")
@click.option("--no-locals", is_flag=True, help="Hide local derivatives on edges.")
@click.option("--timeout", type=float, default=None, metavar="SECONDS",
              help="Seconds Graphviz may take (0 or inf: no limit). Default: with --layout "
                   "auto, dot gets 10 s and the fast layout draws what it cannot; with "
                   "--layout dot, 120 s.")
@click.option("--lr", type=float, default=None, metavar="ETA",
              help="Learning rate of the HTML page's last step, w ← w − η·∂C/∂w "
                   "(default 0.1; .html only).")
@click.option("--no-whatif", is_flag=True,
              help="Leave out the HTML page's what-if (sliders that replay the model).")
@click.option("--params", multiple=True, metavar="NAME", callback=listed,
              help="Inputs the HTML page's update step moves (default: wrt if given, else "
                   "every input not named like data). Repeatable, or comma-separated; "
                   ".html only.")
@click.option("--data", "data_names", multiple=True, metavar="NAME", callback=listed,
              help="Inputs the update step holds fixed as data, besides x, y, targets, "
                   "labels ... Repeatable, or comma-separated; .html only.")
@quiet_option
def render(target, output, fmt, style, view, share, sets, inputs_file, pick, wrt, highlight,
           collapse, collapse_all, depth, rankdir, layout, digits, no_values, no_grads,
           no_locals, timeout, lr, no_whatif, params, data_names, quiet):
    """Draw TARGET's graph with local derivatives, gradients and fan-out sums.

    TARGET is FILE.py:FUNCTION, package.module:FUNCTION or a built-in example
    (see `gradtrace examples`). A model file is imported, so its top-level code
    runs. Inputs come from the function's default arguments.

    \b
    Examples:
      gradtrace render seed_chain --style 3b1b -o chain.svg
      gradtrace render model.py:loss --set w=0.5 --set x='[1, 2]' -o loss.png
      gradtrace render model.py:net --collapse-all --format pdf
      gradtrace render seed_chain -o chain.html --lr 0.5    # step through it in a browser
    """
    to_stdout = output == "-"
    if to_stdout and fmt is None:
        fmt = "svg"
    # resolved before the model runs, so a model that changes directory does not move it
    out = None if to_stdout else (Path(output).resolve() if output else None)
    cwd = Path.cwd()
    real_stdout = sys.stdout
    # with -o -, stdout carries the drawing: what the model prints goes to stderr
    with redirect_stdout(sys.stderr) if to_stdout else nullcontext():
        t, short = load_trace(target, sets, inputs_file, wrt, pick)
    if out is None and not to_stdout:
        out = cwd / f"{short}.{fmt or 'svg'}"
    options = dict(style=style, view=view, share=share, values=not no_values,
                   grads=not no_grads, locals=not no_locals, digits=digits, rankdir=rankdir,
                   layout=layout, highlight=highlight,
                   collapse=True if collapse_all else (list(collapse) or None), depth=depth)
    if lr is not None:
        options["lr"] = lr
    if no_whatif:
        options["whatif"] = False
    if params:
        options["params"] = list(params)
    if data_names:
        options["data"] = list(data_names)
    if to_stdout:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp, reported(target):
            with redirect_stdout(sys.stderr):      # (the page's update step runs the model)
                path = t.render(Path(tmp) / f"out.{fmt}", format=fmt, timeout=timeout,
                                **options)
            real_stdout.buffer.write(path.read_bytes())
            real_stdout.flush()
        return
    with reported(target):
        if highlight and not quiet:
            note = t.resolve(highlight)[1]
            if note:
                click.echo(note, err=True)
        path = t.render(out, format=fmt, timeout=timeout, **options)
    say(quiet, str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path))


@main.command()
@click.argument("target")
@click.argument("node", required=False)
@click.option("--wrt", multiple=True, metavar="NAME", callback=listed,
              help="Inputs that get gradients (default: every floating input). "
                   "Repeatable, or comma-separated.")
@click.option("--form", type=click.Choice(["recursive", "paths"]), default="recursive",
              show_default=True)
@click.option("--max-paths", type=click.IntRange(1), default=MAX_PATHS, show_default=True)
@click.option("--latex", is_flag=True, help="Print LaTeX (align*) in the lesson's notation.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.option("--render", "render_to", type=click.Path(dir_okay=False), metavar="OUT.svg",
              help="Also draw the graph with NODE's paths highlighted.")
@click.option("--view", type=click.Choice(VIEWS), default="lesson", show_default=True,
              help="The view --render draws.")
@click.option("--timeout", type=float, default=None, metavar="SECONDS",
              help="Seconds Graphviz may take for --render (0 or inf: no limit).")
@input_options
@pick_option
@quiet_option
def explain(target, node, wrt, form, max_paths, latex, as_json, render_to, view, timeout, sets,
            inputs_file, pick, quiet):
    """Explain the gradient of TARGET's output with respect to NODE (an input or any
    named node) as the chain rule, with numbers.

    The recursive form goes from the output down to NODE, one line per node:
    ∂C/∂v = Σ ∂C/∂consumer · ∂consumer/∂v. The paths form lists every path
    from NODE to the output as a product of local derivatives and adds them up.
    TARGET is FILE.py:FUNCTION, package.module:FUNCTION or a built-in example;
    a model file is imported, so its top-level code runs.

    \b
    Examples:
      gradtrace explain seed_chain "w(L)"
      gradtrace explain layer_fanout "a(L−1)0" --form paths
      gradtrace explain model.py:loss w --latex
    """
    if node is None:
        hint = (f"; explain takes the node as an argument now: gradtrace explain {target} "
                f"{wrt[0]!r}" if len(wrt) == 1 else "")
        raise click.UsageError(f"which gradient? name the node: gradtrace explain {target} "
                               f"NODE{hint}")
    t, _ = load_trace(target, sets, inputs_file, wrt, pick)
    with reported(target):
        e = t.explain(node, form=form, max_paths=max_paths)
        if render_to:
            path = t.render(render_to, highlight=node, timeout=timeout, view=view)
    if e.note and (as_json or latex) and not quiet:
        click.echo(e.note, err=True)       # which binding, when a plain name was used
    if as_json:
        click.echo(e.to_json())
    elif latex:
        click.echo(e.to_latex())
    elif not quiet:
        click.echo(e.text)
    if render_to:
        say(quiet, f"wrote {path}")


@main.command()
@click.argument("target")
@input_options
@pick_option
@click.option("--wrt", multiple=True, metavar="NAME", callback=listed,
              help="Inputs to check (default: all); repeatable, or comma-separated.")
@click.option("--rtol", type=float, default=RTOL, show_default=True)
@click.option("--atol", type=float, default=ATOL, show_default=True)
@click.option("--eps", type=float, default=EPS, show_default=True,
              help="Finite-difference step (relative to |x| when |x| > 1).")
@click.option("--max-elements", type=click.IntRange(1), default=1000, show_default=True,
              help="Elements checked per input (a fixed sample beyond this).")
@quiet_option
def check(target, sets, inputs_file, pick, wrt, rtol, atol, eps, max_elements, quiet):
    """Compare TARGET's gradients with central finite differences (float64).

    Prints a table of inputs with their largest absolute and relative errors;
    exits 1 if any input is outside the tolerance. TARGET is FILE.py:FUNCTION,
    package.module:FUNCTION or a built-in example; a model file is imported,
    so its top-level code runs. A TARGET returning a micrograd-style Value is
    checked through its replay, your engine's .grad on each leaf compared too.

    \b
    Examples:
      gradtrace check numpy_mlp
      gradtrace check model.py:loss --wrt W --rtol 1e-6
    """
    from ..calculus.gradcheck import check_options
    with reported(target):               # bad options are named before the model runs
        check_options({"eps": eps, "rtol": rtol, "atol": atol})
    t, _ = load_trace(target, sets, inputs_file, wrt, pick)
    with reported(target):
        report = t.check(eps=eps, rtol=rtol, atol=atol, max_elements=max_elements)
    if not quiet or not report.ok:
        click.echo(str(report))
    sys.exit(0 if report.ok else 1)


def _line(attrs) -> str:
    return f" (line {attrs['line']})" if attrs.get("line") else ""


@main.command()
@click.argument("target")
@input_options
@pick_option
@quiet_option
def info(target, sets, inputs_file, pick, quiet):
    """Counts, op histogram, fan-out nodes and gradient norms of TARGET's graph.

    TARGET is FILE.py:FUNCTION, package.module:FUNCTION or a built-in example;
    a model file is imported, so its top-level code runs.

    \b
    Example:
      gradtrace info attention_head
    """
    from ..core.formulas import node_texts
    t, short = load_trace(target, sets, inputs_file, pick=pick)
    g = t.graph
    texts = {v: s for v, (s, _) in node_texts(g).items()}
    kinds = Counter(a["kind"] for _, a in g.nodes(data=True))
    ops = Counter(a["op"] for _, a in g.nodes(data=True) if a["op"])
    lines = [f"{short}: {texts[t.output]} = {_value(t.value)}",
             f"nodes {g.number_of_nodes()} ({kinds['input']} inputs, {kinds['const']} constants, "
             f"{kinds['op']} ops), edges {g.number_of_edges()}",
             "ops: " + ", ".join(f"{op} {n}" for op, n in
                                 sorted(ops.items(), key=lambda x: (-x[1], x[0])))]
    fan = [(v, g.out_degree(v)) for v in g if g.out_degree(v) > 1 and g.nodes[v]["requires_grad"]]
    lines.append(f"fan-out nodes ({len(fan)}): " + (", ".join(
        f"{texts[v]} ×{d}{_line(g.nodes[v])}" for v, d in fan[:20])
        + (" ..." if len(fan) > 20 else "") or "none"))
    rebound: dict[str, list] = {}
    for _, a in g.nodes(data=True):
        if a.get("var"):
            rebound.setdefault(a["var"], []).append(a)
    if rebound:
        lines.append("names bound several times: " + ", ".join(
            f"{var} ×{len(found)} ({found[0]['name']} … {found[-1]['name']}"
            f"{', line ' + str(found[0]['line']) if found[0].get('line') else ''})"
            for var, found in sorted(rebound.items())))
    lines.append("gradient norm per input:")
    width = max((len(n) for n in t.inputs), default=0)
    for name, nid in t.inputs.items():
        attrs = g.nodes[nid]
        label = f" ({texts[nid]})" if texts[nid] != name else ""
        grad = num(magnitude(attrs["grad"])) if "grad" in attrs else "(not in wrt)"
        lines.append(f"  {name.ljust(width)}  {grad}{label}")
    say(quiet, "\n".join(lines))


def _value(v) -> str:
    return num(v, 6) if isinstance(v, float) else f"array of shape {tuple(v.shape)}"


@main.command()
def examples():
    """List the built-in examples, one line each.

    \b
    Example:
      gradtrace examples
    """
    from ..examples import EXAMPLES, TORCH_EXAMPLES, summary
    width = max(len(n) for n in [*EXAMPLES, *TORCH_EXAMPLES])
    for name, fn in EXAMPLES.items():
        click.echo(f"{name.ljust(width)}  {summary(fn)}")
    for name, text in TORCH_EXAMPLES.items():
        click.echo(f"{name.ljust(width)}  {text} (needs torch)")


@main.command()
@click.option("-o", "--output", "folder", type=click.Path(file_okay=False), default="gallery",
              show_default=True, help="Folder to write.")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 and name the files whose content differs.")
@quiet_option
def gallery(folder, check_only, quiet):
    """Regenerate the gallery: an SVG and DOT file per example and a README.

    \b
    Examples:
      gradtrace gallery
      gradtrace gallery --check
    """
    from . import gallery as gal
    folder = Path(folder)
    if check_only:
        with reported("the gallery"):
            stale = gal.check(folder)
        if stale:
            click.echo("the gallery is out of date; run `gradtrace gallery`:", err=True)
            for name in stale:
                click.echo(f"  {name}", err=True)
            sys.exit(1)
        say(quiet, f"{folder}: {len(gal.ENTRIES)} entries up to date")
        return
    with reported("the gallery"):
        if quiet:
            written = gal.write(folder)
        else:
            def progress(entries):
                with click.progressbar(entries, label="rendering", file=sys.stderr,
                                       item_show_func=lambda e: e.stem if e else "") as bar:
                    yield from bar
            written = gal.write(folder, progress)
    say(quiet, f"wrote {len(written)} files to {folder}")


@main.command("grade")
@click.argument("target")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), metavar="OUT.html",
              help="Also write the step-through page, the wrong gradients marked.")
@quiet_option
def grade_command(target, html_out, quiet):
    """Grade a student's micrograd-style backward pass: exit 1 if a .grad is wrong.

    TARGET (FILE.py:FUNCTION) builds a Value graph, calls its backward(), and returns
    the output Value; every .grad is compared with gradtrace's own backward pass.

    \b
    Example:
      gradtrace grade student.py:neuron --html neuron.html
    """
    from ..valuegraph import from_micrograd
    from ..valuegraph.walk import check_root
    from .targets import load_target
    with reported(target):
        fn, _short = load_target(target)
    with reported(target):
        root = fn()
    title = getattr(fn, "__name__", "") or target
    with reported(target):
        check_root(root, f"{title} returned", "grade reads")
        report = from_micrograd(root, title=title).grade()
        if html_out:
            report.trace.render(html_out, whatif=False)
    if not quiet or not report.ok:
        click.echo(report.text)
    sys.exit(0 if report.ok else 1)
