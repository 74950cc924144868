"""What the bytecode around an op says about its value: where it is stored.

``z = w * a + b`` names the add node ``z`` because the bytecode right after the
add stores into ``z``.  We read that once per code object with ``dis`` and keep
a table offset -> what follows, so each op costs a dict lookup, not a trace hook.
"""

from __future__ import annotations

import dis
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any

RETURN = object()  # the op's value is returned, ask the caller
COMP = object()    # an element of a list comprehension: named h[k] after the list's target

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
    entries = []
    for k, (here, nxt) in enumerate(zip(instrs, instrs[1:])):
        what: object = named.get(k)
        if what is None and nxt.opname in _RETURN_OPS:
            what = RETURN
        elif what is None and nxt.opname == "LIST_APPEND" and code.co_name == "<listcomp>":
            what = COMP
        entries.append((here.opname in _CALL_OPS, what))
    for k, (here, nxt) in enumerate(zip(instrs, instrs[1:])):
        # a specialised PRECALL (3.11's adaptive interpreter, after a few runs) makes the
        # whole call itself: a frame inside it reports the PRECALL, which means its CALL
        entry = entries[k + 1] if here.opname == "PRECALL" and nxt.opname == "CALL" \
            else entries[k]
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


# ---------------------------------------------------------------- operands, as written
MISSING = object()   # an operand whose value cannot be read without running code again
_INSTRS: dict = {}
_NAME_LOADS = ("LOAD_FAST", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_CLOSURE")


def _instructions(code) -> tuple[list, dict[int, int]]:
    """A code object's instructions (no caches) and offset -> owning instruction index."""
    hit = _INSTRS.get(code)
    if hit is None:
        if len(_INSTRS) >= _MAX_TABLES:
            _INSTRS.clear()
        instrs = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
        where: dict[int, int] = {}
        for k, (here, nxt) in enumerate(zip(instrs, instrs[1:] + [None])):
            end = nxt.offset if nxt is not None else here.offset + 2
            for offset in range(here.offset, end, 2):
                where[offset] = k
        hit = _INSTRS[code] = (instrs, where)
    return hit


def operands(frame) -> list[tuple[str | None, object, tuple]]:
    """The operands of the instruction a frame is running, as the code writes them:
    (source text or None, value or MISSING, the values of the names it reads) for a
    binary operator's two sides or a call's arguments."""
    instrs, where = _instructions(frame.f_code)
    k = where.get(frame.f_lasti)
    if k is None:
        return []
    op = instrs[k].opname
    if op == "CALL" and k and instrs[k - 1].opname == "PRECALL":
        k -= 1
    if op == "BINARY_OP":
        depths = [2, 1]
    elif instrs[k].opname == "PRECALL":
        depths = list(range(instrs[k].arg, 0, -1))
    else:
        return []
    return [_source(frame, instrs, _producer(instrs, k, d), 3) for d in depths]


_UNKNOWN: tuple = (None, MISSING, (MISSING,))


def _source(frame, instrs, i, budget: int) -> tuple[Any, Any, tuple]:
    """(text, value, values of the names read) of the expression instruction i computes:
    names, constants, attributes, subscripts and calls of them; short texts only."""
    if i is None or budget < 0:
        return _UNKNOWN
    ins = instrs[i]
    op = ins.opname
    if op in _NAME_LOADS:
        value = _lookup(frame, ins.argval)
        return ins.argval, value, (() if isinstance(value, _PLAIN) else (value,))
    if op == "LOAD_CONST":
        text = repr(ins.argval)
        return (text if len(text) <= 12 else None), ins.argval, ()
    if op in ("LOAD_ATTR", "LOAD_METHOD"):
        text, base, roots = _source(frame, instrs, _producer(instrs, i, 1, anyway=True),
                                    budget - 1)
        value = MISSING if op == "LOAD_METHOD" else _attribute(base, ins.argval)
        return (f"{text}.{ins.argval}" if text else None), value, roots
    if op == "BINARY_SUBSCR":
        text, base, roots = _source(frame, instrs, _producer(instrs, i, 2), budget - 1)
        ktext, key, kroots = _source(frame, instrs, _producer(instrs, i, 1), budget - 1)
        if isinstance(key, (int, str)) and not isinstance(key, bool):
            ktext = repr(key)
        value = MISSING
        if isinstance(base, (list, tuple, dict)) and key is not MISSING:
            try:
                value = base[key]
            except (LookupError, TypeError):
                pass
        return (f"{text}[{ktext}]" if text and ktext else None), value, roots + kroots
    if op == "CALL" and i and instrs[i - 1].opname == "PRECALL":
        return _call_source(frame, instrs, i - 1, budget)
    return _UNKNOWN


def _call_source(frame, instrs, k, budget):
    n = instrs[k].arg
    kw = frame.f_code.co_consts[instrs[k - 1].arg] \
        if k and instrs[k - 1].opname == "KW_NAMES" else ()
    callee, _, roots = _source(frame, instrs, _producer(instrs, k, n + 1, anyway=True),
                               budget - 1)
    args = [_source(frame, instrs, _producer(instrs, k, d), budget - 1)
            for d in range(n, 0, -1)]
    roots = roots + tuple(r for a in args for r in (a[2] if a[1] is MISSING else (a[1],)))
    if callee is None or any(a[0] is None for a in args):
        return None, MISSING, roots
    names = [""] * (n - len(kw)) + [f"{name}=" for name in kw]
    text = f"{callee}({', '.join(p + a[0] for p, a in zip(names, args))})"
    return (text if len(text) <= 40 else None), MISSING, roots


_PLAIN = (ModuleType, type, FunctionType, BuiltinFunctionType, int, float, str, bool)


def _lookup(frame, name: str):
    for space in (frame.f_locals, frame.f_globals, frame.f_builtins):
        if name in space:
            return space[name]
    return MISSING


def _attribute(base, attr: str):
    """An attribute's stored value; MISSING where reading it would run code of the class
    (a property, a cached_property, a C getter such as an array's ``.T``)."""
    if base is MISSING or hasattr(type(getattr(type(base), attr, None)), "__get__"):
        return MISSING
    try:
        return getattr(base, attr)
    except Exception:   # noqa: BLE001 - a user's __getattr__ may raise anything
        return MISSING


_STORES = ("STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF")


def unpack_targets(frame):
    """What the call a frame is running is unpacked into: ``out, (h_n, c_n) = ...`` gives
    ``("out", ("h_n", "c_n"))`` (None for a target that is no plain name, such as
    ``_`` or ``self.h``); None when the result is not unpacked."""
    instrs, where = _instructions(frame.f_code)
    k = where.get(frame.f_lasti)
    if k is not None and instrs[k].opname == "PRECALL":    # (specialised: see _build_table)
        k += 1
    if k is None or k + 1 >= len(instrs) or instrs[k + 1].opname != "UNPACK_SEQUENCE":
        return None
    return _target(instrs, k + 1)[0]


def _target(instrs, j):
    """(target structure, index after it) of the store starting at instruction j."""
    ins = instrs[j] if j < len(instrs) else None
    if ins is None:
        return None, j
    if ins.opname in _STORES:
        return (None if ins.argval == "_" else ins.argval), j + 1
    if ins.opname == "UNPACK_SEQUENCE":
        parts = []
        j += 1
        for _ in range(ins.arg):
            part, j = _target(instrs, j)
            parts.append(part)
        return tuple(parts), j
    if ins.opname in _NAME_LOADS and j + 1 < len(instrs) and \
            instrs[j + 1].opname == "STORE_ATTR":
        return f"{ins.argval}.{instrs[j + 1].argval}", j + 2
    return None, len(instrs)       # something else: the rest is not followed
