"""What is drawn: the graph's nodes, or one box per collapsed call instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.graph import nodes_of, preds_of
from ..errors import RenderError


@dataclass
class View:
    """What is drawn: nodes (ids, 'g<k>' for collapsed groups, ``chips.Chip`` for a
    shared input's reference beside one of its uses) and edges."""

    nodes: list
    edges: list            # (u, v, key, attrs) with u, v view ids
    groups: dict           # group id -> (scope tuple, member ids)
    member_of: dict        # node id -> group id
    shared: dict = field(default_factory=dict)    # home node id -> its chips, in use order


def box_id(v) -> str:
    """The DOT and SVG id of a view node: ``n12`` (a node), ``g3`` (a collapsed call),
    ``r5_12`` (node 5's chip beside node 12)."""
    if isinstance(v, int):
        return f"n{v}"
    return v if isinstance(v, str) else v.id


def _collapsed_scope(scope: tuple, collapse, depth: int | None = None) -> tuple | None:
    """The scope instance a node folds into: a call matched by name (every instance of
    ``dense`` folds into its own box, so the folded graph keeps the model's data flow),
    or anything deeper than ``depth`` calls."""
    if not scope:
        return None
    if depth is not None and len(scope) > depth:
        return scope[: depth + 1]
    if collapse is None or collapse is False:
        return None
    if collapse is True:
        return scope[:1]
    names = [collapse] if isinstance(collapse, str) else list(collapse)
    for i in range(len(scope)):
        if scope[i] in names or scope[i].split("#")[0] in names or \
                "/".join(scope[: i + 1]) in names:
            return scope[: i + 1]
    return None


def check_collapse(graph, collapse) -> None:
    """A scope name given to collapse that matches nothing is an error listing the scopes."""
    if collapse is None or isinstance(collapse, bool):
        return
    names = [collapse] if isinstance(collapse, str) else list(collapse)
    scopes = {a["scope"] for a in nodes_of(graph).values() if a["scope"]}
    known = {p for s in scopes for i in range(len(s)) for p in
             (s[i], s[i].split("#")[0], "/".join(s[: i + 1]))}
    missing = [n for n in names if n not in known]
    if missing:
        listed = sorted({s[i].split("#")[0] for s in scopes for i in range(len(s))})
        raise RenderError(f"collapse: no scope named {', '.join(map(repr, missing))}; the "
                          f"scopes are: {', '.join(listed) or '(none: the model has no calls '}"
                          f"{'' if listed else 'or gt.scope blocks)'}")


def build_view(graph, collapse, depth: int | None = None) -> View:
    check_collapse(graph, collapse)
    nodes = nodes_of(graph)
    member_of: dict[int, str] = {}
    groups: dict[str, tuple[tuple, list[int]]] = {}
    group_of_scope: dict[tuple, str] = {}
    for v, a in nodes.items():
        cs = _collapsed_scope(a["scope"], collapse, depth)
        if cs is None:
            continue
        gid = group_of_scope.get(cs)
        if gid is None:
            gid = group_of_scope[cs] = f"g{len(group_of_scope)}"
            groups[gid] = (cs, [])
        groups[gid][1].append(v)
        member_of[v] = gid
    view_nodes: list = []
    seen_groups = set()
    for v in nodes:
        gid = member_of.get(v)
        if gid is None:
            view_nodes.append(v)
        elif gid not in seen_groups:
            seen_groups.add(gid)
            view_nodes.append(gid)
    edges: list[tuple] = []
    merged: dict[tuple, int] = {}
    for v in nodes:
        for u, keyed in preds_of(graph)[v].items():
            for k, e in keyed.items():
                uu, vv = member_of.get(u, u), member_of.get(v, v)
                if uu == vv and isinstance(uu, str):
                    continue
                if isinstance(uu, str) or isinstance(vv, str):
                    key = (uu, vv)
                    if key in merged:
                        continue
                    merged[key] = 1
                    edges.append((uu, vv, 0, None))
                else:
                    edges.append((u, v, k, e))
    return View(view_nodes, edges, groups, member_of)
