"""In-place torch calls as new versions, and torch's version counters as a guard.

``nn.ReLU(inplace=True)``, ``F.leaky_relu(h, 0.2, inplace=True)``, ``h.relu_()``,
``h += b``: torch's autograd treats each as a new version of ``h`` computed from the
old one, and so does gradtrace.  The call is run out of place on a private copy of
the old values (so the old version keeps them, and its autograd graph saves nothing
the write can change), recorded as a node ``h₂ = relu(h₁)``, and the result is written
into the user's tensor, which from then on stands for the new node.

What cannot be recorded that way is refused with the call and its line: an input of
the trace (torch: "a leaf Variable that requires grad is being used in an in-place
operation"), a view (the write would change its base too), a tensor an earlier call
already used (torch may have saved it), and a result torch would not write back (another
dtype or shape).  Changes gradtrace did not see (``h.detach().zero_()``) are caught by
comparing each recorded tensor's ``_version`` with the one it had when it was recorded.
"""

from __future__ import annotations

import os

import torch

from ..core.tape import ARGS, KIND, VALUE
from ..errors import TraceError
from .call import to_numpy

# methods that end in "_" but change no values: the tensor itself, no new version
NO_VALUE_CHANGE = {"requires_grad_", "retain_grad", "share_memory_"}


def plan(func, name: str, args: tuple, kwargs: dict):
    """(out-of-place function, kwargs, target) for a call that changes ``target`` in
    place, or None for an ordinary call."""
    if kwargs.get("inplace") is True:          # F.relu(h, inplace=True), nn.Dropout(inplace)
        target = args[0] if args else kwargs.get("input")
        return func, {**kwargs, "inplace": False}, target
    if name.endswith("_") and not name.startswith("__") and args and \
            isinstance(args[0], torch.Tensor):
        plain = getattr(torch.Tensor, name[:-1], None)
        if not callable(plain):
            return None, kwargs, args[0]        # zero_, fill_, copy_ ...: no version to record
        return plain, kwargs, args[0]
    return None


def spelled(func, name: str, shown: tuple) -> str:
    """How the user wrote the call: .relu_(), F.relu(inplace=True)."""
    if shown[0] == "method" and name.endswith("_"):
        return f".{name}()"
    return f"{shown[1]}(inplace=True)" if shown[0] == "call" else shown[1]


def record(bridge, func, args: tuple, kwargs: dict, target, what: str, where: str):
    """Run an in-place call as a new version of ``target``; returns ``target``."""
    if func is None:
        raise TraceError(f"{what}{where} overwrites a traced tensor's values with no "
                         "out-of-place form gradtrace could record as a new version; write it "
                         "out of place (torch.zeros_like, torch.where, torch.cat ...)")
    rec = bridge.rec
    old = bridge.node_of(target)
    _refuse(bridge, old, target, what, where)
    aliases = _aliases(bridge, target, old, what, where)
    private = target.detach().clone()
    if old is None:
        old = bridge.const(target)
    else:                                      # the old version keeps its own values
        r = rec.records[old]
        rec.records[old] = r[:VALUE] + (_values(private),) + r[VALUE + 1:]
    bridge.nodes[id(private)] = (private, old)
    try:
        swapped = tuple(private if a is target else a for a in args)
        out = bridge.__torch_function__(func, (), swapped,
                                        {k: private if v is target else v
                                         for k, v in kwargs.items()})
    finally:
        del bridge.nodes[id(private)]
    new = bridge.node_of(out) if isinstance(out, torch.Tensor) else None
    if new is None or out.dtype != target.dtype or out.shape != target.shape:
        raise TraceError(f"{what}{where} would change a {target.dtype} tensor of shape "
                         f"{tuple(target.shape)} in place into "
                         f"{_describe(out)}, which torch refuses; write it out of place")
    for _, t, nid in aliases:                   # the base of a view keeps its values too
        r = rec.records[nid]
        rec.records[nid] = r[:VALUE] + (_values(t.detach().clone()),) + r[VALUE + 1:]
    with torch.no_grad():
        target.copy_(out)
    bridge.nodes[id(target)] = (target, new)
    bridge.versions[id(target)] = target._version
    if rec.names[new] is None:
        rec.set_name(new, rec.names[old])       # h.relu_(): h₂, the next version of h
    for key, t, nid in aliases:                 # changed with the view: not to be used again
        bridge.versions[key] = t._version
        bridge.superseded[key] = (t, f"{describe(bridge, nid)} was changed in place through "
                                     f"its view, by {what}{where}")
    return target


def _aliases(bridge, target, old, what: str, where: str) -> list:
    """Recorded tensors sharing ``target``'s memory (the base of a view): allowed only
    when nothing but the calls leading to ``target`` used them, as torch allows a view's
    in-place change when its base is not used elsewhere.  [(key, tensor, node)]"""
    ptr = target.untyped_storage().data_ptr()
    if not ptr:
        return []
    rec = bridge.rec
    found = []
    for key, (t, nid) in bridge.nodes.items():
        if t is target or bridge.bases.get(key, t).untyped_storage().data_ptr() != ptr:
            continue
        if rec.records[nid][KIND] != "op":
            raise TraceError(f"{what}{where} changes {describe(bridge, nid)}, an input of the "
                             "trace, in place through a view of it; clone it first "
                             "(h = h.clone()) or write it out of place")
        found.append((key, t, nid))
    chain = _ancestors(rec, old) if found else set()
    for _, _, nid in found:
        other = next((v for v in _users(rec, nid) if v not in chain), None)
        if other is not None:
            raise TraceError(f"{what}{where} changes a view of {describe(bridge, nid)} in "
                             f"place, which {describe(bridge, other)} also used; clone the "
                             "view first (h = h.clone()) or write it out of place")
    return found


def _ancestors(rec, nid) -> set:
    seen, todo = {nid}, [nid]
    while todo:
        for u in rec.records[todo.pop()][ARGS]:
            if u not in seen:
                seen.add(u)
                todo.append(u)
    return seen


def _users(rec, nid: int) -> list:
    records = rec.records
    return [v for v in range(nid + 1, len(records)) if nid in records[v][ARGS]]


def refuse_superseded(bridge, flat: list, traced: list, where) -> None:
    """A tensor changed in place through its view is not used again (torch would see its
    new values, the trace recorded the old ones)."""
    for i in traced:
        hit = bridge.superseded.get(id(flat[i]))
        if hit is not None and hit[0] is flat[i]:
            raise TraceError(f"{hit[1]}, and is used again{where()}; use the view, or "
                             "clone the view before changing it in place")


def _refuse(bridge, old, target, what: str, where: str) -> None:
    rec = bridge.rec
    if old is not None and rec.records[old][KIND] != "op" or \
            old is None and target.requires_grad:
        name = rec.names[old] if old is not None else None
        raise TraceError(f"{what}{where} changes {_quoted(name) or 'a tensor'}, an input of "
                         "the trace, in place; torch refuses this for a leaf that requires "
                         "grad, and gradtrace for every input: clone it first "
                         "(x = x.clone()) or write it out of place")
    if old is not None:
        user = _first_use(rec, old)
        if user is not None:
            raise TraceError(f"{what}{where} changes {describe(bridge, old)} in place after "
                             f"{describe(bridge, user)} used it (torch may have saved it for "
                             "backward); write it out of place (h = F.relu(h)) or clone it "
                             "before the first use")


def _first_use(rec, nid: int):
    records = rec.records
    for v in range(nid + 1, len(records)):
        if nid in records[v][ARGS]:
            return v
    return None


def _values(private: torch.Tensor):
    return to_numpy(private, copy=False)


def _describe(out) -> str:
    if isinstance(out, torch.Tensor):
        return f"a {out.dtype} tensor of shape {tuple(out.shape)}"
    return f"a {type(out).__name__}"


def _quoted(name) -> str:
    return f"'{name}'" if name else ""


def describe(bridge, nid: int) -> str:
    """A recorded node as an error names it: 'h' (model.py:12)."""
    rec = bridge.rec
    name = rec.names[nid]
    if name is None:
        name = bridge.fallback.get(nid)
    site = rec.sites[nid] if nid < len(rec.sites) else None
    where = f" ({os.path.basename(str(site[0]))}:{site[1]})" if site else ""
    return f"'{name}'{where}" if name else f"a tensor{where or ' the trace recorded'}"


def stale(bridge, inputs: bool) -> list[int]:
    """Recorded tensors changed in place since they were recorded (by code gradtrace did
    not see); ``inputs``: the trace's inputs too (their values are snapshots, so after the
    trace an optimizer step is harmless; during it, a change means the code is not what
    torch would differentiate)."""
    records = bridge.rec.records
    versions = bridge.versions
    return [nid for key, (t, nid) in bridge.nodes.items()
            if t._version != versions.get(key, t._version) and
            (inputs or records[nid][KIND] == "op")]


def raise_if_stale(bridge, inputs: bool) -> None:
    changed = stale(bridge, inputs)
    if changed:
        raise TraceError(f"{describe(bridge, changed[0])} was modified in place after it was "
                         "used, by code gradtrace did not see (.detach() or .data, "
                         "torch.no_grad(), a C++ extension); its recorded gradient would be "
                         "wrong, and torch's backward would refuse it too: write the change "
                         "out of place, or make it before the tensor is used")
