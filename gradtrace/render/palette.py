"""Colours, one palette per style, and what each style turns on.

A style is a palette plus presets of two behaviours that are options in their own
right: ``terse`` (short labels: values and ∇ only, no edge text) and ``heat`` (a box's
fill follows its |gradient|, an edge's colour and width its |contribution|).
``style="compact"`` is the compact palette with terse on; ``style="3b1b", heat=True`` is
the dark palette with heat.

Heat uses one fixed log scale, the same in every diagram, so two diagrams (a model
before and after an update, or two models) compare by colour: a band per decade from
10⁻⁴ to 10², everything smaller (and 0) in the first band, everything larger in the
last.  Its text inks keep 4.5:1 contrast on every fill.
"""

from __future__ import annotations

import math
import re

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

HEAT_LOW, HEAT_HIGH = -4, 2    # the scale's decades: 10⁻⁴ … 10²; beyond them, clipped
HEAT_BANDS = HEAT_HIGH - HEAT_LOW + 2   # below 10⁻⁴, one per decade, 10² and above
# edge colours per band, on a light and on a dark background (bigger reads stronger)
HEAT_RAMP = ["#d4e2f0", "#b3d0e8", "#8cbbdc", "#6baed6", "#4292c6", "#2171b5", "#08519c",
             "#08306b"]
HEAT_RAMP_DARK = ["#2a3440", "#2f4b66", "#34628a", "#3f7cad", "#5a97c8", "#7fb3de",
                  "#a9cdec", "#d6e8f7"]
# box fills per band (pale to warm; dark: near-black to brown), and for NaN or ∞
HEAT_FILLS = ["#f2f2f2", "#ffffcc", "#fff3a6", "#ffe680", "#fed466", "#fec04f", "#feab43",
              "#fd9a3c"]
HEAT_FILLS_DARK = ["#181818", "#1f1c12", "#2a2310", "#36280e", "#442b0c", "#532d0a",
                   "#632e08", "#743006"]
HEAT_BAD = "#e41a1c"
HEAT_BAD_FILL, HEAT_BAD_FILL_DARK = "#fcd7d7", "#3d1212"
# text inks that keep 4.5:1 on every heat fill (a palette's own are kept where they do)
HEAT_INKS = dict(value="#1d3d5c", grad="#7a2410", dim="#424242")
HEAT_INKS_DARK = dict(value="#7fd3e6", grad="#fcd34d", dim="#b8b8b8")


def is_dark(colour: str) -> bool:
    """Is a background colour dark (light text on it)?"""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        return False
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 128


def heat_band(m: float) -> int | None:
    """The band of magnitude ``m`` on the fixed scale: 0 below 10⁻⁴ (and for 0), then one
    per decade, ``HEAT_BANDS - 1`` from 10² on; None for NaN or ∞."""
    if not math.isfinite(m):
        return None
    if m <= 0:
        return 0
    return min(max(math.floor(math.log10(m)) - HEAT_LOW + 1, 0), HEAT_BANDS - 1)


def heat_band_text(band: int) -> str:
    """What band ``band`` covers, in decades: '10⁻³ ≤ |·| < 10⁻²'."""
    if band == 0:
        return f"|·| < {_decade(HEAT_LOW)} (and 0): clipped, all alike"
    if band == HEAT_BANDS - 1:
        return f"|·| ≥ {_decade(HEAT_HIGH)}: clipped, all alike"
    low = HEAT_LOW + band - 1
    return f"{_decade(low)} ≤ |·| < {_decade(low + 1)}"


def _decade(k: int) -> str:
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return {0: "1", 1: "10"}.get(k, f"10{str(k).translate(sup)}")


def heat_palette(palette: dict[str, str]) -> dict[str, str]:
    """``palette`` with heat's fills, edge ramp and text inks for its background."""
    dark = is_dark(palette["bg"])
    inks = HEAT_INKS_DARK if dark else HEAT_INKS
    keep = {k: palette[k] for k in inks if _ink_fits(palette[k], dark)}
    return {**palette, **inks, **keep}


def heat_fills(palette: dict[str, str]) -> tuple[list[str], list[str], str]:
    """(box fills, edge colours, NaN fill) per band for ``palette``'s background."""
    if is_dark(palette["bg"]):
        return HEAT_FILLS_DARK, HEAT_RAMP_DARK, HEAT_BAD_FILL_DARK
    return HEAT_FILLS, HEAT_RAMP, HEAT_BAD_FILL


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (or white/black)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _luminance(colour: str) -> float:
    colour = {"white": "#ffffff", "black": "#000000"}.get(colour, colour)
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _ink_fits(ink: str, dark: bool) -> bool:
    fills = (HEAT_FILLS_DARK + [HEAT_BAD_FILL_DARK]) if dark else (HEAT_FILLS + [HEAT_BAD_FILL])
    return all(contrast(ink, f) >= 4.5 for f in fills)
