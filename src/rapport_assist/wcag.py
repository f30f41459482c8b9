"""WCAG 2.1 contrast of two colours: the formula alone, with no Qt and no style files, so the
sidebar's check (gui/contrast.py, on the QSS and palettes) and the QA report's (tests on
qa/templates/report.css) measure with the same code.

The formula (WCAG 2.1, "relative luminance" and "contrast ratio", written out here): each sRGB
channel c in [0, 1] is linearised as c / 12.92 when c <= 0.04045, else ((c + 0.055) / 1.055) ** 2.4;
luminance L = 0.2126 R + 0.7152 G + 0.0722 B; the ratio is (L_light + 0.05) / (L_dark + 0.05).
(WCAG 2.1 prints 0.03928 as the threshold; no 8-bit value lies between the two.)
"""

from __future__ import annotations

import re

TEXT = 4.5  # body text (WCAG 1.4.3 AA); "large" text (18 pt, or 14 pt bold) may have 3:1
UI = 3.0  # control edges, focus rings, marks and icons (WCAG 1.4.11)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def hex_colour(colour: str) -> str:
    """``#rgb`` or ``#rrggbb`` as lower-case ``#rrggbb`` (ValueError for anything else)."""
    h = colour.strip().lstrip("#")
    if re.fullmatch(r"[0-9a-fA-F]{3}", h):
        h = "".join(c * 2 for c in h)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", h):
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    return "#" + h.lower()


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb`` (or ``#rgb``): 0 (black) to 1 (white)."""
    h = hex_colour(colour)[1:]
    r, g, b = (_linear(int(h[i : i + 2], 16)) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1 to 21 (order does not matter)."""
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
