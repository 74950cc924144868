"""``gt.trace`` and the ``Trace`` object: the graph, its inputs and output, gradients.

Tracing records a tape (``gradtrace.core.tape``) and backward runs on it; everything
downstream (diagrams, explanations, JSON, the CLI) reads ``Trace.graph``, built
from the tape when first asked for.  Nothing reaches back into the tracer.
"""

from __future__ import annotations

import inspect
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from .calculus.backward import backward as _backward
from .calculus.gradcheck import check_options, check_trace
from .calculus.rerun import kept
from .core.formulas import fill_formulas
from .core.graph import nodes_of
from .core.jsonio import dumps
from .core.tape import Tape, from_graph, to_graph, write_gradients
from .errors import GradtraceError, GradtraceWarning, TraceError, option
from .names import spelling
from .names.naming import name_instances, version_names, versioned
from .notation import MAX_PATHS
from .record import gcpause
from .record import inputs as _inputs
from .render.dot import to_dot
from .render.drawing import Drawing, make_drawing

# the views a Trace offers as methods (they take a trace; none of them imports this module)
from .render.explain import explain
from .render.files import render
from .render.notebook import mimebundle, show


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
        self.mover: Callable | None = None     # ... and moves its inputs in place for a re-trace
        self.torch_parameters: frozenset | None = None   # its modules' nn.Parameters
        self.select: Callable | None = None    # output=: the part of the result re-runs use
        self.before_backward: Callable | None = None   # a torch trace checks its tensors
        self.user_grad: Callable | None = None   # (name, numpy grad) -> what t.grads gives
        self._instances = instances    # scope labels still carry instance numbers
        self._named = False        # display names versioned (h₁, h₂ ...)
        self.constants: dict[str, str] = {}   # inputs that stay constants -> why (said once)
        self.torch_params: dict[str, Any] = {}  # torch tensors updated in place by name
        self.wrt_given = False     # wrt was chosen by the caller, not "every input"
        self.tracer: Callable | None = None     # gt.trace itself (traced_again re-traces)
        self.headline = ""         # a finding the page states at its top (gt.grade's verdict)

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
        """The output's value (an array is a read-only view: the trace is a snapshot)."""
        return read_only(self.tape.value(self.output))

    @property
    def output_name(self) -> str:
        if self._graph is not None:
            return nodes_of(self._graph)[self.output]["name"] or self.name
        return self.tape.names[self.output] or self.name

    # ------------------------------------------------------------ gradients
    def backward(self, seed=None) -> Trace:
        """Run the chain rule from the output; returns the trace for chaining."""
        tape = self.tape
        if self.before_backward is not None:
            self.before_backward()
        _backward(tape, self.output, seed)
        if self._graph is not None:
            write_gradients(tape, self._graph)
        self._seed = None if seed is None else read_only(np.array(seed, dtype=float))
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
        if self.user_grad is not None:         # a torch trace: tensors, as torch's .grad
            return {name: self.user_grad(name, grads[self.inputs[name]]) for name in self.wrt}
        return {name: read_only(grads[self.inputs[name]]) for name in self.wrt}

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
            raise TraceError(self.no_gradient(name))
        if self.user_grad is not None:
            return self.user_grad(name, tape.grads[nid])
        return read_only(tape.grads[nid])

    def no_gradient(self, name: str) -> str:
        """Why the node ``name`` has no gradient: an input left out of wrt (and how to put
        it in), or a value that depends on no input in wrt."""
        nid = self.node_id(name)
        wrt = option(f"wrt={list(self.wrt)!r}", "--wrt " + ",".join(self.wrt))
        if nid in self.inputs.values():
            given = next(n for n, i in self.inputs.items() if i == nid)
            advice = option(f"trace with it in wrt (gt.trace(..., wrt={[*self.wrt, given]!r})),"
                            " or without wrt for every input",
                            f"add --wrt {given}, or leave --wrt out for every input")
            return f"'{name}' has no gradient: the input {given} is not among {wrt}; {advice}"
        return f"'{name}' has no gradient: it does not depend on any input in {wrt}"

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
        if not isinstance(name, str):
            raise TraceError(f"a node is named by a string, not {name!r}")
        self._finish_names()
        if name in self.inputs:
            return self.inputs[name], ""
        if name in self.constants:
            raise TraceError(self.constants[name])
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
            every = {*self.inputs, *self.constants, self.name,
                     *(str(a[k]) for a in nodes.values() for k in ("name", "var") if a.get(k))}
            alike = spelling.matching(name, every)
            if alike is not None and alike != name:      # w(L-2) typed for w(L−2)
                return self.resolve(alike)
            known = sorted({str(a.get("var") or a["name"]) for a in nodes.values() if a["name"]})
            raise TraceError(f"no node named '{name}' in this trace; named nodes: "
                             f"{', '.join(known[:30])}{' ...' if len(known) > 30 else ''}"
                             f"{spelling.differs(name, every)}")
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
        """Compare backward's gradients with central finite differences (re-running the
        function on the trace's own snapshot of its inputs; the caller's random generators
        and module buffers are left as they were)."""
        check_options(options)
        with kept(self):
            report = (self.checker or check_trace)(self, **options)
        report.constants = dict(self.constants)
        return report

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

    def __getstate__(self) -> dict:
        """A trace pickles with its tape, graph and gradients; its function and arguments
        only when they pickle too (a lambda does not: the unpickled trace is then like one
        loaded from JSON, which cannot re-run)."""
        if self.runner is not None:
            raise TraceError("a torch trace cannot be pickled: each call keeps torch's own "
                             "autograd graph for its VJP; save it with t.to_json() "
                             "(gt.load_json reads it back)")
        state = dict(self.__dict__)
        try:
            pickle.dumps((self._fn, self._named_args))
        except Exception:       # (pickle raises many kinds: PicklingError, TypeError ...)
            state["_fn"] = state["_named_args"] = None
        return state

    def parameter_names(self) -> list[str] | None:
        """A torch trace's inputs that are ``nn.Parameter``s (None for other traces)."""
        if self.runner is None:
            return None
        return [n for n in self.inputs if n in (self.torch_parameters or ())]

    def traced_again(self, moved: dict) -> Trace:
        """The function traced again with the inputs named in ``moved`` replaced (the
        step-through's update step redraws the forward pass from it)."""
        if self._fn is None or self.tracer is None:
            raise TraceError("this trace has no function to re-run (it was loaded from JSON)")
        if self.mover is not None:       # torch: parameters written into the modules
            with self.mover(self, moved) as args:
                return _traced_with(self, args)
        args = {k: _inputs.rebuild(v, k, lambda p, x: moved.get(p, x))
                for k, v in self.arguments.items()}
        return _traced_with(self, args)

    def __repr__(self):
        tape = self.tape
        return (f"<Trace {self.output_name} = {_short(self.value)}: {len(tape)} nodes, "
                f"{tape.edge_count()} edges, inputs {', '.join(self.inputs) or '(none)'}>")


def read_only(v):
    """An array as a read-only view (a float as it is): what a trace hands out cannot
    change the trace (copy it to change it)."""
    if type(v) is np.ndarray:
        v = v.view()
        v.flags.writeable = False
    return v


def _traced_with(t: Trace, args: dict) -> Trace:
    """``trace(t.function, ...)`` with ``args`` laid out as the first call had them."""
    fn = t.function
    assert fn is not None
    target = getattr(fn, "forward", fn) if t.runner is not None else fn

    tracer = t.tracer
    assert tracer is not None

    def again(*a, **k):
        return tracer(fn, *a, wrt=t.wrt or None, **k)
    try:
        again.__signature__ = inspect.signature(target)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the first trace already said them
        try:
            return _inputs.call(again, args, t.arguments)
        except GradtraceError:
            raise
        except Exception as e:
            raise TraceError(f"re-running the function on moved inputs raised "
                             f"{type(e).__name__}: {e}") from e


def _short(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else f"array{tuple(v.shape)}"
