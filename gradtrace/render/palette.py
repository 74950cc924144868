"""Colours, one palette per style, and what each style turns on.

A style is a palette plus presets of two behaviours that are options in their own
right: ``terse`` (short labels: values and ∇ only, no edge text) and ``heat`` (edge
colour and width follow |contribution|).  ``style="compact"`` is the compact palette
with terse on; ``style="3b1b", heat=True`` is the dark palette with heat edges.
"""

from __future__ import annotations

_LIGHT = dict(bg="white", fg="#1b1b1b", dim="#6b6b6b", value="#1f4e79", grad="#a33a1e",
              edge="#6b6b6b", param="#e3eefa", data="#eef3e6", const="#f4f4f4", op="#ffffff",
              out="#fff1c9", border="#4a4a4a", font="Helvetica", cluster="#f7f7f2",
              faded="#d0d0d0", highlight="#e8590c",
              wrong="#c2185b")      # a graded student's .grad that differs (gt.grade)

PALETTES: dict[str, dict[str, str]] = {
    "default": dict(_LIGHT),
    "3b1b": dict(bg="#0e0e0e", fg="#ece6e2", dim="#8f8f8f", value="#58c4dd", grad="#fcd34d",
                 edge="#a8a8a8", param="#1c3b4a", data="#1f3322", const="#1b1b1b",
                 op="#161616", out="#4a3a10", border="#d0d0d0", font="CMU Serif,Times,serif",
                 cluster="#171717", faded="#3a3a3a", highlight="#ff8c42", wrong="#ff7aa8"),
    # compact: the light palette, quieter borders and no fills on ops, for small print
    "compact": dict(_LIGHT, border="#7a7a7a", param="#edf3fb", data="#f3f6ee",
                    cluster="#fafaf7"),
    # heat: neutral boxes so the coloured edges carry the reading
    "heat": dict(_LIGHT, value="#444444", grad="#08306b", param="#f2f2f2", data="#f7f7f7",
                 out="#fdf0d5", edge="#c6dbef"),
}

STYLES: dict[str, dict[str, bool]] = {      # style -> the behaviours it turns on
    "default": {}, "3b1b": {}, "compact": {"terse": True}, "heat": {"heat": True},
}

HEAT_RAMP = ["#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]
HEAT_BAD = "#e41a1c"
