"""Display names settled once a trace is over: scope instances (``dense#2``), versions
of a variable bound several times (``h₁, h₂``), and the partial sums of ``sum()``
(``z (partial 2 of 3)``), versioned with the variable they end in.
"""

from __future__ import annotations

import functools

_PARTIAL = " (partial "


@functools.lru_cache(maxsize=4096)
def partial_name(name: str, k: int, n: int) -> str:
    """``z (partial k of n)``; one string per distinct name (a training loop's sums repeat
    the same few thousands of times)."""
    return f"{name}{_PARTIAL}{k} of {n})"


@functools.lru_cache(maxsize=1024)
def partial_names(name: str, n: int) -> tuple[str, ...]:
    """The names of a sum of n terms' partial sums, k = 2 .. n−1: one lookup per sum()
    instead of one per add."""
    return tuple([partial_name(name, k, n) for k in range(2, n)])


def partial_of(name: str | None) -> tuple[str, int, int] | None:
    """(variable, k, n) for the display name of a partial sum ``z (partial k of n)``
    (``z₂ (partial 2 of 3)`` when z is bound several times), else None."""
    if not name or not name.endswith(")") or _PARTIAL not in name:
        return None
    base, _, rest = name.rpartition(_PARTIAL)
    k, _, n = rest[:-1].partition(" of ")
    return (base, int(k), int(n)) if k.isdigit() and n.isdigit() else None


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
    a constant bound first (``h = np.zeros(4)`` before the loop) is h₀.  The plain name is
    kept as ``var`` for lookups."""
    seen: dict[str, list] = {}
    partials = []
    for v, attrs in nodes.items():
        name = attrs["name"]
        if name is not None and attrs["kind"] != "input":
            if partial_of(name) is None:
                seen.setdefault(name, []).append(v)
            else:
                partials.append(v)
    taken = {a["name"] for a in nodes.values() if a["name"] is not None}
    for name, ids in seen.items():
        if len(ids) < 2:
            continue
        first = nodes[ids[0]]
        if first["kind"] == "const" and versioned(name, 0) not in taken:
            first["name"], first["var"] = versioned(name, 0), name    # h = np.zeros(4): h₀
            taken.add(first["name"])
            ids = ids[1:]
        k = 0
        for v in ids:
            k += 1
            while versioned(name, k) in taken:      # never collide with a real name
                k += 1
            nodes[v]["name"] = versioned(name, k)
            nodes[v]["var"] = name
            taken.add(nodes[v]["name"])
    if partials:
        _version_partials(nodes, partials)


def _version_partials(nodes: dict, partials: list) -> None:
    """``z (partial 2 of 3)`` takes the version of the ``z`` its sum ends in: the next
    binding of z in the same scope (``z₂ (partial 2 of 3)``)."""
    bases = {partial_of(nodes[v]["name"])[0] for v in partials}  # type: ignore[index]
    ends: dict[tuple, list] = {}
    for v, attrs in nodes.items():
        var = attrs.get("var") or attrs["name"]
        if var in bases and attrs["kind"] == "op":
            ends.setdefault((var, attrs["scope"]), []).append(v)
    for v in partials:
        attrs = nodes[v]
        base, k, n = partial_of(attrs["name"])  # type: ignore[misc]
        later = [u for u in ends.get((base, attrs["scope"]), ()) if u > v]
        if later and nodes[later[0]]["name"] != base:
            attrs["name"] = partial_name(nodes[later[0]]["name"], k, n)
