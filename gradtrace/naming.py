"""Where an op was called from: the user's variable name and enclosing scopes.

``z = w * a + b`` names the add node ``z`` because the bytecode right after the
add stores into ``z``.  We read that once per code object with ``dis`` and keep
a table offset -> what follows, so each op costs a dict lookup and a short frame
walk, not a trace hook.  A ``return`` passes the question to the caller, so a
helper ``def neuron(...): return sigmoid(z)`` names its result after the
caller's variable.
"""

from __future__ import annotations

import dis
import os
import sys
from types import FrameType

RETURN = object()  # the op's value is returned, ask the caller

# Frames in these files are gradtrace's own; naming looks past them to user code: every
# module of the package but the built-in example models (whose variables name nodes).
# (torchbridge adds torch's own files as it meets them: a cache of library frames.)
USER_CODE = ("examples.py", "torch_examples.py")


def _package_files() -> set[str]:
    root = os.path.dirname(os.path.abspath(__file__))
    return {os.path.join(folder, name) for folder, _, names in os.walk(root)
            for name in names if name.endswith(".py")
            and not (folder == root and name in USER_CODE)}


INTERNAL_FILES: set[str] = _package_files()

_STORE_OPS = {"STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF", "STORE_ATTR",
              "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST"}
_RETURN_OPS = {"RETURN_VALUE"}
_CALL_OPS = {"CALL", "CALL_FUNCTION_EX", "CALL_KW", "PRECALL", "CALL_FUNCTION",
             "CALL_METHOD", "CALL_FUNCTION_KW"}

_TABLES: dict = {}
_MAX_TABLES = 4096


def _build_table(code) -> dict[int, tuple[bool, object]]:
    # An instruction owns the offsets up to the next one: in 3.11 a frame that is
    # inside a Python-level call reports the CALL's last inline-cache offset.
    instrs = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
    named = _stored_values(instrs)
    table: dict[int, tuple[bool, object]] = {}
    for k, (here, nxt) in enumerate(zip(instrs, instrs[1:])):
        what: object = named.get(k)
        if what is None and nxt.opname in _RETURN_OPS:
            what = RETURN
        entry = (here.opname in _CALL_OPS, what)
        for offset in range(here.offset, nxt.offset, 2):
            table[offset] = entry
    return table


# How many values an instruction pushes (the rest of its stack effect is what it pops).
_PUSHES_ONE = ("LOAD_", "BINARY_", "UNARY_", "BUILD_", "CALL", "COMPARE_OP", "CONTAINS_OP",
               "IS_OP", "FORMAT_VALUE", "GET_ITER", "LIST_", "DICT_")


def _pushes(ins) -> int:
    if ins.opname == "LOAD_METHOD":
        return 2
    if ins.opname == "LOAD_GLOBAL" and ins.arg is not None and ins.arg & 1:
        return 2
    if ins.opname.startswith(_PUSHES_ONE) and not ins.opname.startswith("BINARY_SLICE"):
        return 1
    return max(_effect(ins), 0)


def _effect(ins) -> int:
    try:
        return dis.stack_effect(ins.opcode, ins.arg if ins.opcode >= dis.HAVE_ARGUMENT else None)
    except ValueError:
        return 0


def _producer(instrs, k: int, depth: int, anyway: bool = False) -> int | None:
    """Index of the instruction that pushed the value ``depth`` places from the top just
    before instruction k (straight-line code only; None when it cannot tell)."""
    i = k - 1
    steps = 0
    while i >= 0 and steps < 80:
        ins = instrs[i]
        q = _pushes(ins)
        if depth <= q:
            return i if q == 1 or anyway else None
        if ins.is_jump_target:          # another path reaches here: the stack is unknown
            return None
        depth -= _effect(ins)           # before it: its pushes gone, its pops back
        i -= 1
        steps += 1
    return None


def _stored_values(instrs) -> dict[int, object]:
    """For each instruction whose value a store keeps, what it is stored as:
    ``Q, K, V = a, b, c`` (each of the three), ``self.h = ...`` (``self.h``),
    ``cache["z1"] = ...`` (``cache['z1']``), ``hs[t] = ...`` (resolved when recorded)."""
    named: dict[int, object] = {}
    for k, ins in enumerate(instrs):
        op = ins.opname
        if op in ("STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF"):
            target, depth = ins.argval, 1
        elif op == "STORE_ATTR":
            obj = _producer(instrs, k, 1)
            owner = _loaded_name(instrs, obj)
            target, depth = (f"{owner}.{ins.argval}" if owner else ins.argval), 2
        elif op == "STORE_SUBSCR":
            key = _producer(instrs, k, 1)
            box = _producer(instrs, k, 2)
            owner = _loaded_name(instrs, box)
            if owner is None or key is None:
                continue
            kins = instrs[key]
            if kins.opname == "LOAD_CONST":
                target = f"{owner}[{kins.argval!r}]"
            elif kins.opname in ("LOAD_FAST", "LOAD_NAME", "LOAD_DEREF"):
                target = (SLOT, owner, kins.argval)
            else:
                continue
            depth = 3
        elif op == "UNPACK_SEQUENCE":        # Q, K, V = np.split(...): one call, n parts
            names: list[str] = []
            for j in range(1, ins.arg + 1):
                if k + j >= len(instrs) or instrs[k + j].opname not in (
                        "STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF"):
                    names = []
                    break
                names.append(instrs[k + j].argval)
            src = _producer(instrs, k, 1)
            if names and src is not None and src not in named:
                named[src] = (UNPACK, tuple(names))
            continue
        elif op in ("PRECALL", "CALL") and ins.arg == 1 and not (
                op == "CALL" and k and instrs[k - 1].opname == "PRECALL"):
            method = _producer(instrs, k, 2, anyway=True)     # xs.append(value)
            if method is None or instrs[method].opname != "LOAD_METHOD" or \
                    instrs[method].argval != "append":
                continue
            owner = _loaded_name(instrs, _producer(instrs, method, 1))
            if owner is None:
                continue
            target, depth = (APPEND, owner), 1
        else:
            continue
        src = _producer(instrs, k, depth)
        if src is not None and src not in named:
            named[src] = target
    return named


def _loaded_name(instrs, i) -> str | None:
    if i is None:
        return None
    ins = instrs[i]
    if ins.opname in ("LOAD_FAST", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_DEREF"):
        return ins.argval
    return None


SLOT = "slot"      # a container slot whose key is a variable: named when the op is recorded
APPEND = "append"  # xs.append(value): named xs[i], i the list's length when recorded
UNPACK = "unpack"  # Q, K, V = one_call(...): the call's parts take the names in turn


def slot_name(frame, what) -> str | None:
    """``hs[3]`` for ``hs[t] = ...`` with t == 3 now; ``xs[2]`` for the third append."""
    try:
        if what[0] == APPEND:
            return f"{what[1]}[{len(frame.f_locals[what[1]])}]"
        return f"{what[1]}[{frame.f_locals[what[2]]!r}]"
    except (KeyError, TypeError):
        return None


def site_of(frame) -> tuple[bool, object]:
    """(is the current instruction a call?, stored name / RETURN / None) for a frame."""
    code = frame.f_code
    table = _TABLES.get(code)
    if table is None:
        if len(_TABLES) >= _MAX_TABLES:
            _TABLES.clear()
        table = _TABLES[code] = _build_table(code)
    return table.get(frame.f_lasti, (False, None))


class Naming:
    names: list          # the recorder's name column (Naming is its mixin)

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
        self._site_cache: list = []
        self.scope_version = 0     # bumped whenever gt.scope enters or leaves
        self.sites = sites         # per node id: (file, line) of the code that made it, or None
        self._locs: dict = {}      # interned (file, line) pairs
        self._frames: dict = {}    # call frame -> its instance label (see instance_label)
        self._calls: dict = {}     # function or scope name -> instances so far
        self._unpacking: tuple | None = None   # (frame, lasti, part index) being unpacked

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
        self._frames.clear()
        self._unpacking = None
        self.commit_pending()

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
        cache = self._site_cache
        if cache:                        # the frame of the previous op, most of the time
            fr, bk, version, table = cache[0]
            if fr is f and bk is f.f_back and version == self.scope_version:
                hit = table.get(lasti)
        is_call, name, scope, loc = hit if hit is not None else self._site(f, lasti)
        self.sites.append(loc)
        if type(name) is tuple:          # hs[t] = ...: the slot's key is read now
            if name[0] == UNPACK:
                name = self._next_part(f, lasti, name[1])
            else:
                name = slot_name(f, name)
        pending = self.pending
        if pending is not None and pending[0] is f and pending[1] != lasti:
            self.commit_pending()
        if dunder and is_call and name is not None:
            name = self._name_from_builtin(f, name, nid)
        return name, scope

    def _site(self, user, lasti):
        """(is a call, variable name, scope) of an instruction, remembered per frame.

        Loops run the same few instructions of one or two frames again and again; a
        frame's callers are fixed while it runs (a generator's f_back can change
        between resumptions, so it is part of the key).
        """
        back = user.f_back
        for fr, bk, version, table in self._site_cache:
            if fr is user and bk is back and version == self.scope_version:
                hit = table.get(lasti)
                if hit is None:
                    hit = table[lasti] = self._site_walk(user)
                return hit
        table = {}
        self._site_cache.insert(0, (user, back, self.scope_version, table))
        del self._site_cache[2:]
        hit = table[lasti] = self._site_walk(user)
        return hit

    def _site_walk(self, user):
        f = user
        internal = INTERNAL_FILES
        is_call, what = site_of(f)
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
            hops += 1
        if what is None and helper is not None and helper[0] != "<" and f is not None \
                and f is not self.entry:
            what = helper     # `dense(...)` stored nowhere: named after the helper
        loc = (user.f_code.co_filename, user.f_lineno)
        loc = self._locs.setdefault(loc, loc)
        return is_call, (None if what is RETURN else what), self._scope_walk(user), loc

    def _next_part(self, frame, lasti, names):
        """The next target of ``Q, K, V = call(...)`` for the call running at lasti."""
        last = self._unpacking
        k = last[2] + 1 if last is not None and last[0] is frame and last[1] == lasti else 0
        self._unpacking = (frame, lasti, k)
        return names[k] if k < len(names) else None

    def _name_from_builtin(self, user, name, nid):
        """``s = sum(xs)`` makes many adds from one call: only the last one is ``s``."""
        pending = self.pending
        if pending is not None and not (pending[0] is user and pending[1] == user.f_lasti):
            self.commit_pending()
        self.pending = (user, user.f_lasti, name, nid)
        return None

    def commit_pending(self):
        if self.pending is not None:
            _, _, name, nid = self.pending
            if self.names[nid] is None:
                self.names[nid] = name
            self.pending = None

    def _scope_walk(self, user) -> tuple:
        chain = []
        f = user
        entry = self.entry
        internal = INTERNAL_FILES
        while f is not None and f is not entry:
            if f.f_code.co_filename not in internal:
                name = f.f_code.co_name
                chain.append(name if name[0] == "<" else self._frame_label(f))
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
            label = self._frames[f] = self.instance_label(f.f_code.co_name)
        return label

    def instance_label(self, name: str) -> str:
        """``name`` plus its instance number, resolved by ``name_instances`` at the end."""
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




_MARK = "\x00"   # separates a scope name from its instance number while tracing


def name_instances(nodes: dict) -> None:
    """Scope labels become what a reader sees: a function called (or a gt.scope block
    entered) once keeps its name; one used several times becomes dense#1, dense#2 ..."""
    count: dict[str, int] = {}
    for attrs in nodes.values():
        for part in attrs["scope"]:
            base, mark, k = part.partition(_MARK)
            if mark:
                count[base] = max(count.get(base, 0), int(k))
    done: dict[tuple, tuple] = {(): ()}
    for attrs in nodes.values():
        scope = attrs["scope"]
        shown = done.get(scope)
        if shown is None:
            parts = []
            for part in scope:
                base, mark, k = part.partition(_MARK)
                parts.append(f"{base}#{k}" if mark and count[base] > 1 else base)
            shown = done[scope] = tuple(parts)
        attrs["scope"] = shown


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def versioned(name: str, k: int) -> str:
    """The k-th binding of ``name``: h₁, h₂ ... (k counts from 1, in creation order)."""
    return f"{name}{str(k).translate(_SUBSCRIPTS)}"


def version_names(nodes: dict) -> None:
    """A name bound by several nodes (``h = np.tanh(...)`` in a loop, ``z`` in every call of
    ``dense``) becomes h₁, h₂ ... in creation order, so no two nodes share a display name;
    the plain name is kept as ``var`` for lookups."""
    seen: dict[str, list] = {}
    for v, attrs in nodes.items():
        name = attrs["name"]
        if name is not None and attrs["kind"] != "input":
            seen.setdefault(name, []).append(v)
    taken = {a["name"] for a in nodes.values() if a["name"] is not None}
    for name, ids in seen.items():
        if len(ids) < 2:
            continue
        k = 0
        for v in ids:
            k += 1
            while versioned(name, k) in taken:      # never collide with a real name
                k += 1
            nodes[v]["name"] = versioned(name, k)
            nodes[v]["var"] = name
            taken.add(nodes[v]["name"])
