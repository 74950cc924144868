"""Escaping for the targets labels reach: Graphviz HTML-like labels and XML/SVG.

Every user string (names, scope names) passes through ``esc`` before it reaches
Graphviz: quotes, ``<``, ``>``, ``&``, braces and backslashes come out as text,
tabs and line breaks as spaces (one label item is one line: the step-through page
finds it by its text), and characters XML cannot carry (control characters, lone
surrogates) are shown as visible escapes instead of breaking the SVG.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")   # (line breaks too)


def clean(text: str) -> str:
    """Make ``text`` safe to place in XML: visible escapes for control characters."""
    text = str(text)
    if not _UNSAFE.search(text):      # the usual case: nothing to replace
        return text
    out = []
    for ch in str(text):
        o = ord(ch)
        if ch in "\t\n\r":      # a name is one line: a line break in it reads as a space
            out.append(" ")
        elif o < 32 or 0x7F <= o < 0xA0:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def esc(text: str) -> str:
    """Escape text for a Graphviz HTML-like label."""
    s = clean(text)
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\\", "\\\\"))  # Graphviz reads \N, \G ... as escapes
