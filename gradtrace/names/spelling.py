"""Names as a user types them: stored names use typographic characters (``w(L−2)`` with
U+2212, ``a′``, ``h₀``) that a keyboard writes as ``-``, ``'`` and ``0``.  A name given by
the user is matched with those folded together; when it still matches nothing, the error
says which character differs from the closest name."""

from __future__ import annotations

import difflib
import unicodedata

_PLAIN = str.maketrans({"−": "-", "–": "-", "‐": "-", "′": "'", "’": "'", "‘": "'",
                        "″": '"', "·": ".", "×": "x",
                        **{chr(0x2080 + d): str(d) for d in range(10)},
                        **{s: str(d) for d, s in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}})


def plain(name: str) -> str:
    """``name`` with look-alike characters written as a keyboard types them."""
    return name.translate(_PLAIN)


def matching(given: str, names) -> str | None:
    """The one name in ``names`` that ``given`` spells with look-alikes, or None."""
    key = plain(given)
    found = {n for n in names if plain(n) == key}
    return found.pop() if len(found) == 1 else None


def differs(given: str, names) -> str:
    """'' or a clause saying which character of ``given`` differs from the closest name:
    ``; 'w(L-2)' is close to 'w(L−2)', whose character 4 is '−' (U+2212), not '-'``."""
    by_plain = {plain(str(n)): str(n) for n in names}
    close = difflib.get_close_matches(plain(given), list(by_plain), n=1, cutoff=0.6)
    if not close:
        return ""
    near = by_plain[close[0]]
    for i, (a, b) in enumerate(zip(plain(given), close[0])):   # (look-alikes matched)
        if a != b:
            return (f"; '{given}' is close to '{near}', whose character {i + 1} is "
                    f"'{near[i]}' ({_code(near[i])}), not '{given[i]}' ({_code(given[i])})")
    shorter, longer = (given, near) if len(given) < len(near) else (near, given)
    return f"; '{given}' is close to '{near}' (they differ in length at character " \
        f"{len(shorter) + 1}: '{longer[len(shorter)]}')"


def _code(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, '').lower()}".rstrip()
