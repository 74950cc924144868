"""``gt.trace`` and the ``Trace`` object: the graph, its inputs and output, gradients.

Tracing records a tape (``gradtrace.tape``) and backward runs on it; everything
downstream (diagrams, explanations, JSON, the CLI) reads ``Trace.graph``, built
from the tape when first asked for.  Nothing reaches back into the tracer.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from . import gcpause
from . import inputs as _inputs
from .backward import backward as _backward
from .errors import GradtraceError, GradtraceWarning, OutputError, TraceError

# the views a Trace offers as methods (they take a trace; none of them imports this module)
from .explain import explain
from .formulas import fill_formulas
from .gradcheck import check_trace
from .graph import nodes_of
from .jsonio import dumps
from .naming import name_instances, version_names, versioned
from .notation import MAX_PATHS
from .recorder import Recorder, note_nonfinite, warn_nonfinite
from .render.dot import to_dot
from .render.drawing import Drawing, make_drawing
from .render.files import render
from .render.notebook import mimebundle, show
from .snapshot import snapshot
from .switchboard import tracing
from .tape import REQ, Record, Tape, from_graph, to_graph, write_gradients
from .traced import Traced
from .usercode import located


class Trace:
    """One recorded forward pass: a tape, the ``networkx.MultiDiGraph`` made from it, and
    where its ends are."""

    def __init__(self, recorded: Tape | nx.MultiDiGraph, output: int, inputs: dict[str, int],
                 wrt: list[str], name: str = "C", fn: Callable | None = None,
                 named_args: dict[str, Any] | None = None, formulas: bool = False,
                 instances: bool = False):
        """``formulas``: the graph's edges already carry their formula texts (a loaded
        trace); ``instances``: scope labels still carry instance numbers to settle."""
        # a traced function arrives as a tape, a loaded trace as a graph; each makes the
        # other when it is first needed
        self._tape: Tape | None = recorded if isinstance(recorded, Tape) else None
        self._graph: nx.MultiDiGraph | None = None if isinstance(recorded, Tape) else recorded
        self.output = output
        self.inputs = dict(inputs)
        self.wrt = list(wrt)
        self.name = name
        self._fn = fn
        self._named_args = named_args
        self._formulas_done = formulas
        self._seed = None
        self.runner: Callable | None = None    # a torch trace re-runs its function its own way
        self.checker: Callable | None = None   # ... and checks against torch's own backward
        self.torch_parameters: frozenset | None = None   # its modules' nn.Parameters
        self._instances = instances    # scope labels still carry instance numbers
        self._named = False        # display names versioned (h₁, h₂ ...)

    # ------------------------------------------------------------ the graph
    @property
    def function(self) -> Callable | None:
        """The traced function (None for a trace loaded from JSON)."""
        return self._fn

    @property
    def arguments(self) -> dict[str, Any]:
        """The function's arguments by name, as it was called."""
        return self._named_args or {}

    @property
    def seed(self):
        """The seed the last backward started from (None: 1 for a scalar output)."""
        return self._seed

    @property
    def tape(self) -> Tape:
        """The trace as recorded, one record per node (what backward runs on)."""
        if self._tape is None:
            assert self._graph is not None
            self._tape = from_graph(self._graph)
        return self._tape

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The DAG, with every edge's ``formula`` text filled in (built from the tape the
        first time it is asked for: tracing and backward do not need it)."""
        if not self._formulas_done or not self._named:
            with gcpause.paused():       # millions of new dicts and tuples, none of them garbage
                self._finish_names()
                if not self._formulas_done:   # (a loaded trace brings its own)
                    fill_formulas(self._graph)
                    self._formulas_done = True
        assert self._graph is not None
        return self._graph

    def _finish_names(self) -> None:
        """Scope instances and versioned names, done once when names are first needed
        (tracing and backward do not need them, so they do not pay for them)."""
        if self._named:
            return
        if self._graph is None:
            assert self._tape is not None
            with gcpause.paused():
                self._graph = to_graph(self._tape)
        nodes = nodes_of(self._graph)
        if self._instances:
            name_instances(nodes)
            self._instances = False
        version_names(nodes)
        self.name = nodes[self.output]["name"] or self.name
        self._named = True

    @property
    def value(self):
        return self.tape.value(self.output)

    @property
    def output_name(self) -> str:
        if self._graph is not None:
            return nodes_of(self._graph)[self.output]["name"] or self.name
        return self.tape.names[self.output] or self.name

    # ------------------------------------------------------------ gradients
    def backward(self, seed=None) -> Trace:
        """Run the chain rule from the output; returns the trace for chaining."""
        tape = self.tape
        _backward(tape, self.output, seed)
        if self._graph is not None:
            write_gradients(tape, self._graph)
        self._seed = seed
        return self

    @property
    def has_grads(self) -> bool:
        return self.tape.grads is not None

    @property
    def grads(self) -> dict[str, Any]:
        """Gradient of the output for each input named in ``wrt``."""
        if not self.has_grads:
            self.backward()
        grads = self.tape.grads
        assert grads is not None
        return {name: grads[self.inputs[name]] for name in self.wrt}

    def grad(self, name: str):
        """The gradient for one input or named node (see ``resolve`` for plain names of
        reassigned variables)."""
        if not self.has_grads:
            self.backward()
        nid, note = self.resolve(name)
        if note:
            warnings.warn(note, GradtraceWarning, stacklevel=2)
        tape = self.tape
        if not tape.record(nid).req or tape.grads is None:
            raise TraceError(f"'{name}' has no gradient: it does not depend on any input in "
                             f"wrt ({', '.join(self.wrt)})")
        return tape.grads[nid]

    def node_id(self, name: str) -> int:
        """The node a name means (see ``resolve``)."""
        return self.resolve(name)[0]

    def resolve(self, name: str) -> tuple[int, str]:
        """(node id, a note saying which node was used, or "") for a name.

        A display name (``h₃``, or ``h_3`` typed plainly), an input name or the output's
        name is exact.  The plain name of a variable bound several times in one function
        call (``h`` in an unrolled loop) means its last binding, as the variable itself
        does when the function returns; the note says which.  A plain name bound in
        different calls or scopes (``z`` in each call of ``dense``) is ambiguous: the
        error lists the candidates with their display names and lines.
        """
        self._finish_names()
        if name in self.inputs:
            return self.inputs[name], ""
        if name == self.name:
            return self.output, ""
        nodes = nodes_of(self.graph)
        exact = [n for n, a in nodes.items() if a["name"] == name]
        if not exact and "_" in name:
            base, _, k = name.rpartition("_")
            if k.isdigit():
                exact = [n for n, a in nodes.items() if a["name"] == versioned(base, int(k))]
        if exact:
            return exact[-1], ""
        bound = [n for n, a in nodes.items() if a.get("var") == name]
        if not bound:
            known = sorted({str(a.get("var") or a["name"]) for a in nodes.values() if a["name"]})
            raise TraceError(f"no node named '{name}' in this trace; named nodes: "
                             f"{', '.join(known[:30])}{' ...' if len(known) > 30 else ''}")
        places = {nodes[n]["scope"] for n in bound}
        if len(places) == 1:
            last = bound[-1]
            return last, (f"'{name}' is bound {len(bound)} times; using its last binding "
                          f"{nodes[last]['name']}{self._where(last)}")
        listed = "; ".join(f"{nodes[n]['name']} ({'/'.join(nodes[n]['scope']) or 'top level'}"
                           f"{self._where(n)})" for n in bound[:12])
        raise TraceError(f"'{name}' names {len(bound)} nodes in different calls or scopes: "
                         f"{listed}{' ...' if len(bound) > 12 else ''}; use a display name "
                         f"({nodes[bound[0]]['name']}, or {name}_1 typed plainly)")

    def _where(self, nid: int) -> str:
        g = nodes_of(self.graph)[nid]
        return f", line {g['line']}" if g.get("line") else ""

    def check(self, **options):
        """Compare backward's gradients with central finite differences."""
        if self.checker is not None:
            return self.checker(self, **options)
        return check_trace(self, **options)

    # ------------------------------------------------------------ views
    def to_json(self, indent: int | None = None) -> str:
        return dumps(self, indent=indent)

    def explain(self, name: str, form: str = "recursive", max_paths: int = MAX_PATHS):
        return explain(self, name, form=form, max_paths=max_paths)

    def drawing(self, **options) -> Drawing:
        """The diagram for these rendering options, built once: its ``view`` (the boxes
        and edges drawn), ``layout`` choice, ``painter`` and ``texts``; ``boxes()`` and
        ``edges()`` say what each box and edge says."""
        return make_drawing(self, **options)

    def to_dot(self, **options) -> str:
        return to_dot(self, **options)

    def render(self, path, format: str | None = None, **options):
        return render(self, path, format=format, **options)

    def show(self, interactive: bool = True, **options):
        """The trace for inline display in Jupyter, sized to the cell: the step-through
        of the forward and backward pass (``interactive=False``: the static diagram),
        with render's options (style, collapse, rankdir, highlight, layout, lr ...)."""
        return show(self, interactive=interactive, **options)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return mimebundle(self)

    def _repr_svg_(self):
        bundle = self._repr_mimebundle_()
        return bundle.get("image/svg+xml")

    def __repr__(self):
        tape = self.tape
        return (f"<Trace {self.output_name} = {_short(self.value)}: {len(tape)} nodes, "
                f"{tape.edge_count()} edges, inputs {', '.join(self.inputs) or '(none)'}>")


def _short(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else f"array{tuple(v.shape)}"


def _numeric_result(result) -> bool:
    if isinstance(result, (bool, int, float, np.number, np.bool_)):
        return True
    return isinstance(result, np.ndarray) and result.dtype.kind in "biuf"


def trace(fn: Callable, *args, wrt=None, **kwargs) -> Trace:
    """Run ``fn(*args, **kwargs)`` once on traced stand-ins and record every op.

    Floating inputs (floats, float arrays, nested in dicts/lists/tuples) become
    named input nodes; ``wrt`` picks which get gradients (default: all of them).
    """
    named = _inputs.bind(fn, args, kwargs)
    fname = getattr(getattr(fn, "func", fn), "__name__", None) or type(fn).__name__
    guard = None
    if "torch" in sys.modules:       # torch is never imported here, only used if it was
        from . import torchrun
        if torchrun.uses_torch(fn, named):
            return _torch_trace(torchrun, fn, args, kwargs, wrt, fname)
        guard = torchrun.NumpyGuard()
    in_wrt = _inputs.wanted(wrt)
    rec = Recorder()
    input_ids: dict[str, int] = {}

    def stand_in(path, value):
        kind = _inputs.classify(path, value)
        if kind == "const":
            return value
        value = float(value) if kind == "float" else snapshot(value)
        note_nonfinite(rec, path, value)
        t = rec.leaf("input", value, path, in_wrt(path))
        input_ids[path] = t._id
        return t

    try:
        with tracing(rec, guard=guard):
            traced_args = {p: _inputs.rebuild(v, p, stand_in) for p, v in named.items()}
            floating = list(input_ids)
            _inputs.check_wrt(wrt, floating)
            warn_nonfinite(rec)
            rec.entry = sys._getframe()
            result = _inputs.call(fn, traced_args, named)
    except GradtraceError as e:
        located(e)
        raise
    except Exception as e:   # numpy turned our error into its own ("setting an array element")
        inner = e.__cause__ or e.__context__
        if not isinstance(inner, GradtraceError):
            raise
        inner.__traceback__ = e.__traceback__
        raise located(inner) from None
    if type(result) is not Traced:
        result = _constant_output(rec, result, fname)
    return _finished(rec, result._id, input_ids, floating, fname, fn, named)


def _constant_output(rec, result, fname: str, level: int = 3):
    """A result that is not a traced value: refused, or a constant output with a warning."""
    if isinstance(result, (tuple, list, dict)):
        raise TraceError(f"{fname} returned a {type(result).__name__}; gt.trace needs one "
                         "value (a scalar loss, or an array with backward(seed=...))")
    if not _numeric_result(result):
        hint = (f"; it looks like a micrograd-style Value: gt.from_micrograd({fname}()) "
                "reads its graph" if hasattr(result, "_prev") and hasattr(result, "data")
                else "")
        raise OutputError(
            f"the output of {fname} is a {type(result).__name__} ({result!r:.40}); it must "
            f"be a number or a float array computed from the function's float inputs{hint}",
            result)
    warnings.warn(
        f"the output of {fname} does not depend on any traced input (it returned "
        f"{type(result).__name__} {result!r:.40}), so every gradient is 0; if that is not "
        "what you meant, make it a function of its float inputs", GradtraceWarning,
        stacklevel=level)
    value = np.asarray(result, dtype=np.float64)
    return rec.leaf("const", float(value) if value.ndim == 0 else value, None, False)


def _finished(rec, out_id: int, input_ids: dict, floating: list, fname: str, fn, named,
              level: int = 3) -> Trace:
    """The Trace of a finished recording: the output named, wrt checked, warnings said."""
    records = rec.records
    if rec.names[out_id] is None:
        rec.set_name(out_id, fname if fname.isidentifier() else "C")
    out = Record._make(records[out_id])
    chosen = [n for n in floating if records[input_ids[n]][REQ]]
    if not out.req and chosen and out.kind == "op":
        warnings.warn(f"the output of {fname} does not depend on any input in wrt "
                      f"({', '.join(chosen)}), so every gradient is 0", GradtraceWarning,
                      stacklevel=level)
    return Trace(rec.tape, out_id, input_ids, chosen, name=rec.names[out_id], fn=fn,
                 named_args=named, instances=rec.has_instances())


def _torch_trace(torchrun, fn, args, kwargs, wrt, fname: str) -> Trace:
    """A forward pass written with torch (see ``gradtrace.torchbridge``)."""
    named = torchrun.bind(fn, args, kwargs)
    try:
        r = torchrun.record(fn, named, wrt)
    except GradtraceError as e:
        located(e)
        raise
    if r.output is None:
        if type(r.result).__module__.startswith("torch") and hasattr(r.result, "detach"):
            r.result = torchrun.to_float_or_array(r.result)
        out_id = _constant_output(r.rec, r.result, fname, 4)._id
    else:
        out_id = r.output
    if not isinstance(getattr(fn, "__name__", None), str):
        fname = "C"                  # a module: its output is the cost, as the lesson writes it
    t = _finished(r.rec, out_id, r.inputs, list(r.inputs), fname, fn, named, 4)
    t.runner = torchrun.rerun
    t.checker = torchrun.check
    t.torch_parameters = r.parameters       # what a descent step moves (gradtrace.params)
    return t
