"""Where an op was called from: the user's variable name and enclosing scopes.

``z = w * a + b`` names the add node ``z`` because the bytecode right after the
add stores into ``z`` (``gradtrace.names.bytecode`` reads that once per code object), so
each op costs a dict lookup and a short frame walk, not a trace hook.  A
``return`` passes the question to the caller, so a helper ``def neuron(...):
return sigmoid(z)`` names its result after the caller's variable.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from types import FrameType

from ..core.tape import ARGS, OP
from .bytecode import (  # noqa: F401
    APPEND,
    COMP,
    MISSING,
    RETURN,
    SLOT,
    UNPACK,
    operands,
    site_of,
    slot_name,
)
from .versions import (  # noqa: F401  (the names every stage asks naming for)
    _MARK,
    name_instances,
    partial_name,
    partial_names,
    partial_of,
    version_names,
    versioned,
)

# Frames in these files are gradtrace's own; naming looks past them to user code: every
# module of the package but the built-in example models (whose variables name nodes) and
# the target loader (a Value graph the CLI or the gallery reads is placed at its call there,
# the same place whoever runs the command, so the gallery stays reproducible).
# (pytorch/bridge.py adds torch's own files as it meets them: a cache of library frames.)
USER_CODE = ("examples.py", os.path.join("pytorch", "torch_examples.py"),
             os.path.join("cli", "targets.py"))
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _package_files() -> set[str]:
    user = {os.path.join(PACKAGE_DIR, f) for f in USER_CODE}
    return {path for folder, _, names in os.walk(PACKAGE_DIR) for name in names
            if name.endswith(".py") and (path := os.path.join(folder, name)) not in user}


INTERNAL_FILES: set[str] = _package_files()
OWN_DIR = PACKAGE_DIR + os.sep

_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_NOT_NAMES = {"forward", "__call__", "_"}   # a module's output is named by its path instead


class Naming:
    names: list          # the recorder's name column (Naming is its mixin)
    records: list        # ... and its records

    """The recorder's half that reads names and scopes off the user's frames.

    Mixed into ``Recorder`` (not held as a member) so the hot path pays no extra
    call per op.  State: ``entry`` (gradtrace's frame that calls the user's
    function), ``scopes`` (open ``gt.scope`` blocks), ``pending`` (see
    ``_name_from_builtin``), a per-frame cache of instruction sites.
    """

    def init_naming(self, sites: list) -> None:
        self.entry: FrameType | None = None
        self.scopes: list[tuple[int, str]] = []
        self.pending: tuple | None = None    # (frame, lasti, name, node id)
        self._interned: dict[tuple, tuple] = {(): ()}
        self._site_cache: dict = {}   # frame -> (its caller or None, lasti -> site)
        self._scope_version = 0
        self._genexpr_sites: dict = {}   # (code, caller frame) -> a genexpr's lasti -> site
        self.sites = sites         # per node id: (file, line) of the code that made it, or None
        self._locs: dict = {}      # interned (file, line) pairs
        self._frames: dict = {}    # call frame -> its instance label (see instance_label)
        self._calls: dict = {}     # function or scope name -> instances so far
        self.object_paths: dict[int, str] = {}   # id of an object in the arguments -> path
        self._unpacking: tuple | None = None   # (frame, lasti, part index) being unpacked
        self._comps: dict = {}     # list comprehension frame -> elements named so far
        self.const_site: tuple | None = None   # where const_name last found a name

    @property
    def scope_version(self) -> int:
        """Bumped whenever gt.scope enters or leaves: every remembered site's scope is
        stale, so the site cache starts again (the hot path compares no version)."""
        return self._scope_version

    @scope_version.setter
    def scope_version(self, version: int) -> None:
        self._scope_version = version
        self._site_cache.clear()
        self._genexpr_sites.clear()

    def has_instances(self) -> bool:
        """Did any call or gt.scope get an instance label (names to resolve at the end)?"""
        return bool(self._calls)

    def interned(self, key: tuple) -> tuple:
        """One tuple object per distinct scope (scopes are compared and stored a lot)."""
        return self._interned.setdefault(key, key)

    def forget_frames(self):
        """Drop every frame reference once the trace is over (frames hold user objects)."""
        self.entry = None
        self._site_cache.clear()
        self._genexpr_sites.clear()
        self._frames.clear()
        self._unpacking = None
        self.commit_pending()
        self._comps.clear()

    def _locate(self, nid: int, dunder: bool):
        """The user's variable name for a new node, and its scope tuple."""
        f: FrameType | None = sys._getframe(2)
        internal = INTERNAL_FILES
        while f is not None and f.f_code.co_filename in internal:
            f = f.f_back
        if f is None:
            self.sites.append(None)
            return None, ()
        lasti = f.f_lasti
        hit = None
        known = self._site_cache.get(f)     # one of the frames of the latest ops
        if known is not None and (known[0] is None or known[0] is f.f_back):
            hit = known[1].get(lasti)
        is_call, name, scope, loc = hit if hit is not None else self._site(f, lasti)
        self.sites.append(loc)
        pending = self.pending
        if type(name) is tuple:          # hs[t] = ...: the slot's key is read now
            if name[0] == UNPACK:        # the parts of one call made right here
                name = self._next_part(f, lasti, name[1]) \
                    if direct_caller(sys._getframe(1)) is f else None
                if pending is not None and pending[0] is f and pending[1] != lasti:
                    self.commit_pending()
                return name, scope
            if name[0] is COMP:
                if not (dunder and is_call):     # (a builtin's adds: when it is over)
                    name = self.comp_index(name[2], name[1])
            else:
                name = slot_name(f, name)
        if pending is not None and pending[0] is f:
            if pending[1] != lasti:
                self.commit_pending()
            elif dunder and is_call and name is not None and pending[2] is not None:
                pending[3].append(nid)       # the next add of the same sum() call
                return None, scope
        if dunder and is_call and name is not None:
            name = self._name_from_builtin(f, name, nid)
        return name, scope

    def _site(self, user, lasti):
        """(is a call, variable name, scope) of an instruction, remembered per frame.

        Loops run the same few instructions of one or two frames again and again (a
        ``sum()`` over a generator alternates between the generator's frame and its
        caller's), so the two frames of the latest ops keep their tables; a function's
        callers are fixed while it runs, but a generator's f_back can change between
        resumptions, so for a generator it is part of the key.
        """
        code = user.f_code
        back = user.f_back if code.co_flags & _RESUMABLE else None
        cache = self._site_cache
        known = cache.get(user)
        if known is None or known[0] is not back:
            if known is None and len(cache) >= 2:
                caller = user.f_back          # (kept: it runs again when this one is done)
                del cache[next(fr for fr in cache if fr is not caller)]
            if back is not None and code.co_name == "<genexpr>":
                # sum(w * x for ...) makes a new generator per call, whose sites (no name,
                # no instance label of its own) depend only on its code and its caller
                table = self._genexpr_sites.setdefault((code, back), {})
            else:
                table = {}
            known = cache[user] = (back, table)
        table = known[1]
        hit = table.get(lasti)
        if hit is None:
            hit = table[lasti] = self._site_walk(user)
        return hit

    def _site_walk(self, user):
        f = user
        internal = INTERNAL_FILES
        is_call, what = site_of(f)
        comp = None                    # h = [f(x) for x in xs]: the list's target names it
        if what is COMP:
            comp, what = f, RETURN
        hops = 0
        helper = None
        while what is RETURN and hops < 8:
            helper = f.f_code.co_name       # this function hands the value to its caller
            f = f.f_back
            while f is not None and f is not self.entry and f.f_code.co_filename in internal:
                f = f.f_back                # a library between two user frames (nn.Module)
            if f is None or f is self.entry:
                what = None
                break
            what = site_of(f)[1]
            if what is COMP and comp is None:
                comp, what = f, RETURN
            hops += 1
        if comp is not None:
            what = (COMP, what, comp) if type(what) is str else None
        elif what is None and helper and helper[0] != "<" and f is not None \
                and f is not self.entry and helper not in _NOT_NAMES:
            what = helper     # `dense(...)` stored nowhere: named after the helper
        loc = (user.f_code.co_filename, user.f_lineno)
        loc = self._locs.setdefault(loc, loc)
        return is_call, (None if what is RETURN else what), self._scope_walk(user), loc

    def comp_index(self, frame, target: str) -> str:
        """``h[k]`` for the k-th element a list comprehension's frame appends."""
        k = self._comps.get(frame, 0)
        self._comps[frame] = k + 1
        return f"{target}[{k}]"

    def const_name(self, value, traced: Callable[[object], bool]) -> str | None:
        """How the user's line reads a constant array it hands to a traced op: ``xs[2]``
        for ``xs[t] @ W``, ``targets.view(-1)`` in ``F.cross_entropy(logits, ...)``.
        The operand that is the constant (the same object), or the one operand that is
        not traced; None when the op runs inside a library or it cannot tell."""
        f = direct_caller(sys._getframe(1))
        if f is None:
            return None
        found = operands(f)
        named = [text for text, v, _ in found if v is value]
        if not named:         # the one operand that may be it: not traced, not a number
            named = [text for text, v, roots in found
                     if not isinstance(v, (int, float)) and (v is MISSING or not traced(v))
                     and not any(r is not MISSING and traced(r) for r in roots)]
        if len(named) != 1 or named[0] is None:
            return None
        self.const_site = (f.f_code.co_filename, f.f_lineno)
        return named[0]

    def _next_part(self, frame, lasti, names):
        """The next target of ``Q, K, V = call(...)`` for the call running at lasti."""
        last = self._unpacking
        k = last[2] + 1 if last is not None and last[0] is frame and last[1] == lasti else 0
        self._unpacking = (frame, lasti, k)
        return names[k] if k < len(names) else None

    def _name_from_builtin(self, user, name, nid):
        """``s = sum(xs)`` makes many adds from one call: the last one is ``s``, the
        ones before it are its partial sums (named when the call is over)."""
        pending = self.pending
        if pending is not None and pending[0] is user and pending[1] == user.f_lasti:
            pending[3].append(nid)
            if pending[2] is None:              # begun by summing(): the name is known now
                self.pending = (user, pending[1], name, pending[3])
            return None
        if pending is not None:
            self.commit_pending()
        self.pending = (user, user.f_lasti, name, [nid])
        return None

    def summing(self, term) -> bool:
        """Is ``0 + term`` the start value of a builtin such as ``sum()`` (called from
        the user's frame), so that the ``0`` is no term of the picture?  Then ``term``
        starts the sum's chain of adds."""
        f: FrameType | None = sys._getframe(2)
        while f is not None and f.f_code.co_filename in INTERNAL_FILES:
            f = f.f_back
        if f is None or not site_of(f)[0]:
            return False
        pending = self.pending
        if pending is not None and not (pending[0] is f and pending[1] == f.f_lasti):
            self.commit_pending()
            pending = None
        if pending is None:
            name = self._site(f, f.f_lasti)[1]
            if type(name) is tuple and name[0] is not COMP:
                name = slot_name(f, name) if name[0] != UNPACK else None
            self.pending = pending = (f, f.f_lasti, name, [])
        pending[3].append(~term._id)            # ~id: a start, not an add
        return True

    def commit_pending(self):
        """Name the adds a builtin call made: each chain (one call) ends in the
        variable's node, and its earlier adds are ``z (partial k of n)``."""
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        name, entries = pending[2], pending[3]
        if name is None:
            return
        chains = _chains(entries, self.records)
        names = self.names
        if chains is None:               # a module or library call: its last node is it
            last = entries[-1]
            if last >= 0 and names[last] is None:
                names[last] = self.comp_index(name[2], name[1]) if type(name) is tuple \
                    else name
            return
        for start, adds in chains:
            _name_chain(names, self.comp_index(name[2], name[1]) if type(name) is tuple
                        else name, start, adds)

    def _scope_walk(self, user) -> tuple:
        chain = []
        f = user
        entry = self.entry
        internal = INTERNAL_FILES
        while f is not None and f is not entry:
            if f.f_code.co_filename not in internal:
                name = f.f_code.co_name
                chain.append(name if name[:1] == "<" else self._frame_label(f))
            f = f.f_back
        if f is None or (len(chain) < 2 and not self.scopes):
            return ()
        chain.reverse()
        if self.scopes:
            parts = []
            for depth, fname in enumerate(chain):
                if depth and fname[0] != "<":
                    parts.append(fname)
                parts.extend(s for d, s in self.scopes if d == depth)
            key = tuple(parts)
        else:
            key = tuple([c for c in chain[1:] if c[0] != "<"])
        interned = self._interned.get(key)
        if interned is None:
            interned = self._interned[key] = key
        return interned

    def _frame_label(self, f) -> str:
        """Each call is its own scope instance: the frame keeps one label while it runs
        (frames are held until the trace ends, so a new call never reuses an old label)."""
        label = self._frames.get(f)
        if label is None:
            label = self._frames[f] = self.instance_label(self._call_name(f))
        return label

    def _call_name(self, f) -> str:
        """A function's name; a method's called on an object is the object's access path
        (``net.layers[0]`` for ``layer(x)``, ``net.encode`` for ``net.encode(x)``), or its
        class for ``__call__`` on an object made inside the function (``Layer``): never
        ``__call__``, a name the user did not write for this call."""
        code = f.f_code
        name = code.co_name
        if not code.co_argcount or code.co_varnames[0] != "self":
            return name
        obj = f.f_locals.get("self")
        path = self.object_paths.get(id(obj))
        if path is not None:
            return path if name == "__call__" else f"{path}.{name}"
        return type(obj).__name__ if name == "__call__" else name

    def instance_label(self, name: str) -> str:
        """``name`` plus its instance number, resolved by ``name_instances`` at the end."""
        name = name.replace(_MARK, "\\x00") or "(unnamed)"   # (a NUL in a name stays text)
        k = self._calls[name] = self._calls.get(name, 0) + 1
        return f"{name}{_MARK}{k}"

    def scope_depth(self, caller) -> int:
        """How many user frames below the traced function ``caller`` is (for gt.scope)."""
        depth = 0
        f = caller
        while f is not None and f is not self.entry:
            if f.f_code.co_filename not in INTERNAL_FILES:
                depth += 1
            f = f.f_back
        return max(depth - 1, 0)


DISPATCH_FILES: set[str] = set()   # a library's dispatch of the very call being recorded


def direct_caller(f: FrameType | None) -> FrameType | None:
    """The user's frame making the call being recorded, walking out from ``f`` past
    gradtrace's frames and a library's dispatch of that one call (torch's
    ``handle_torch_function`` and the function's own Python wrapper); None when the call
    is made inside library code (torch's ``nn.LSTM.forward`` calling ``_VF.lstm``)."""
    while f is not None and f.f_code.co_filename.startswith(OWN_DIR):
        f = f.f_back
    if f is not None and f.f_code.co_filename in DISPATCH_FILES:
        while f is not None and f.f_code.co_filename in DISPATCH_FILES:
            f = f.f_back
        if f is not None and f.f_code.co_filename in INTERNAL_FILES:
            f = f.f_back                 # the wrapper that asked for the dispatch
    if f is None or f.f_code.co_filename in INTERNAL_FILES:
        return None
    return f


def _chains(entries: list[int], records) -> list[tuple[int | None, list[int]]] | None:
    """Split one call site's nodes into calls: (start term or None, adds), where each
    add takes the one before it (or the start) as an argument; None when a node is not
    an add (a module or library call made them).  One pass: it runs for every sum()."""
    out: list[tuple[int | None, list[int]]] = []
    adds: list[int] = []
    prev = -1                           # the chain's last node so far (-1: no chain yet)
    for e in entries:
        if e < 0:                       # a start value: a new call
            prev = ~e
            adds = []
            out.append((prev, adds))
            continue
        rec = records[e]
        if rec[OP].name != "add":
            return None
        if prev in rec[ARGS]:
            adds.append(e)
        else:
            adds = [e]
            out.append((None, adds))
        prev = e
    return out


def _name_chain(names: list, name, start: int | None, adds: list[int]) -> None:
    """One builtin call's adds: the last is ``name``, each earlier one a partial sum;
    a sum of one term names that term (when nothing else named it)."""
    if not adds:
        if start is not None and names[start] is None:
            names[start] = name
        return
    for nid, partial in zip(adds, partial_names(name, len(adds) + 1)):   # (all but the last)
        if names[nid] is None:
            names[nid] = partial
    if names[adds[-1]] is None:
        names[adds[-1]] = name
