"""Styles and icons from the bundled ``ui/`` folder (or ``$RAPPORT_ASSIST_UI``)."""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from ..bundled import UI_DIR
from ..fileio import write_atomic
from ..userdirs import cache_dir

UI_ENV = "RAPPORT_ASSIST_UI"
STYLES = ("light", "dark")


def ui_dir() -> Path | None:
    """The ``ui/`` folder: ``$RAPPORT_ASSIST_UI`` if it has the styles, else the bundled one (bundled.UI_DIR)."""
    override = os.environ.get(UI_ENV)
    candidates = [Path(override)] if override else []
    for path in [*candidates, UI_DIR]:
        if (path / "styles" / "sidebar.qss").is_file():
            return path
    return None


def read_palette(style: str) -> dict[str, str]:
    folder = ui_dir()
    if folder is None:
        return dict(_FALLBACK)
    values = dict(_FALLBACK)
    path = folder / "styles" / f"{style}.palette"
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):  # `name = #rrggbb`
            key, value = (part.strip() for part in line.split("=", 1))
            if key and value:
                values[key] = value.split()[0]
    return values


DESIGN_PT = 10.0  # the system font size the style sheet's pt sizes were drawn for


def font_scale(system_pt: float) -> float:
    """How much the style sheet's font sizes grow for the system font (``QApplication.font()``):
    1 up to a 10 pt system font, then in proportion (a 15 pt font: 1.5). Never smaller: the panel
    is read at a glance. A font set in pixels (size -1 in pt) keeps the designed sizes."""
    return max(1.0, system_pt / DESIGN_PT) if system_pt > 0 else 1.0


class Theme:
    """One style: its palette (QColor by name), style sheet and icons. ``scale`` multiplies every
    font size in pt (``font_scale``: a large system font makes the panel's text large too)."""

    def __init__(self, style: str = "light", scale: float = 1.0) -> None:
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}: use light or dark")
        self.name = style
        self.scale = scale
        self.palette = read_palette(style)
        self.missing = ui_dir() is None

    def pt(self, size: float) -> str:
        """A font size for the style sheet or rich text: ``size`` pt at this theme's scale."""
        return f"{round(size * self.scale, 2):g}pt"

    def color(self, name: str) -> QColor:
        return QColor(self.palette.get(name, "#888888"))

    def style_sheet(self) -> str:
        folder = ui_dir()
        if folder is None:
            return ""
        qss = (folder / "styles" / "sidebar.qss").read_text(encoding="utf-8")
        # url(icon:NAME) or url(icon:NAME:COLOUR): the icon drawn in a palette colour (default @icon)
        qss = ICON_URL.sub(lambda m: f"url({self.icon_file(m[1], m[2] or 'icon')})", qss)
        if self.scale != 1.0:
            qss = PT_SIZE.sub(lambda m: self.pt(float(m[1])), qss)
        names = sorted(self.palette, key=len, reverse=True)  # @surface_alt before @surface
        for name in names:
            qss = qss.replace(f"@{name}", self.palette[name])
        return qss

    def icon_file(self, name: str, colour: str = "icon") -> str:
        """A path to the icon's SVG in a palette colour, for the style sheet (``image: url(...)``):
        arrows of spin boxes and drop-downs, which a style sheet must draw itself."""
        return _icon_file(name, self.palette.get(colour, colour))

    def icon(self, name: str, color: str | None = None) -> QIcon:
        return _icon(name, color or self.palette.get("icon", "#555555"))


PT_SIZE = re.compile(r"\b(\d+(?:\.\d+)?)pt\b")
ICON_URL = re.compile(r"url\(icon:([a-z0-9-]+)(?::([a-z_]+))?\)")


@lru_cache(maxsize=64)
def _icon_file(name: str, color: str) -> str:
    """A file of icon ``name`` drawn in ``color``, for the style sheet (its ``url()`` reads files).
    Named by a digest of its text, so every start reuses it and a changed icon is a new file."""
    folder = ui_dir()
    path = folder / "icons" / f"{name}.svg" if folder else None
    if path is None or not path.is_file():
        return ""
    svg = path.read_text(encoding="utf-8").replace("currentColor", color)
    digest = hashlib.sha256(svg.encode("utf-8")).hexdigest()[:12]
    out = Path(_icon_cache()) / f"{name}-{color.lstrip('#')}-{digest}.svg"
    if not out.is_file():
        write_atomic(out, svg)  # whole or absent: another panel may be starting at the same moment
    return out.as_posix()


@lru_cache(maxsize=1)
def _icon_cache() -> str:
    """The user's cache folder's ``icons/`` (a few dozen small files, the same at every start);
    where it cannot be written, a temporary folder deleted at exit. (A new temporary folder at
    every start, never deleted, left one per start in /tmp.)"""
    folder = cache_dir() / "icons"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-")
        probe.close()
        return str(folder)
    except OSError:
        temporary = tempfile.mkdtemp(prefix="rapport-assist-icons-")
        atexit.register(shutil.rmtree, temporary, ignore_errors=True)
        return temporary


@lru_cache(maxsize=256)
def _icon(name: str, color: str) -> QIcon:
    folder = ui_dir()
    path = folder / "icons" / f"{name}.svg" if folder else None
    if path is None or not path.is_file():
        return QIcon()
    svg = path.read_text(encoding="utf-8").replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    icon = QIcon()
    for size in (16, 20, 24, 32, 48, 64):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


_FALLBACK = {
    "bg": "#f5f6f8",
    "surface": "#ffffff",
    "surface_alt": "#eef1f4",
    "text": "#1e2630",
    "muted": "#5f6b78",
    "border": "#d7dde4",
    "accent": "#2f6f9f",
    "accent_text": "#ffffff",
    "high": "#b64a1d",
    "medium": "#906412",
    "low": "#357393",
    "ok": "#357957",
    "warning": "#906412",
    "error": "#c0392b",
    "off": "#818991",
    "calm": "#357957",
    "tense": "#a87d1f",
    "angry": "#b64a1d",
    "icon": "#4a5561",
    "quote": "#f1f4f7",
    "focus": "#2f6f9f",
    "control": "#788490",
}
