"""Small shapes that say a state without colour: a status line's level (a filled circle when it
works, a triangle when it needs a look, a cross when it does not work...) and a nudge's severity
(types.SEVERITY_SHAPE: the triangle, diamond and square of the QA report's timeline).

Each shape is drawn in the colour the style gives it (the style sheet's ``color`` of the label,
or a palette colour), so the colour still says the state to those who see it; the shape says
it to those who do not. The shapes are sized from the font, so they grow with a large one."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPainterPathStroker, QPaintEvent, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ..types import SEVERITY_SHAPE

# a status line's level: working is whole, starting half way, off empty; a look and a failure are
# the warning triangle and a cross
LEVEL_SHAPE = {"ok": "circle", "info": "half", "warning": "triangle", "error": "cross", "off": "ring"}
SHAPES = ("circle", "half", "ring", "triangle", "diamond", "square", "cross")


def severity_shape(severity: str) -> str:
    return SEVERITY_SHAPE.get(severity, "circle")


def shape_path(shape: str, r: QRectF) -> QPainterPath:
    """The outline of ``shape`` filling the square ``r`` (drawn filled, no pen)."""
    path = QPainterPath()
    w = r.width()
    if shape in ("ring", "half"):
        inset = max(1.5, w * 0.2)
        outer, inner = QPainterPath(), QPainterPath()
        outer.addEllipse(r)
        inner.addEllipse(r.adjusted(inset, inset, -inset, -inset))
        if shape == "half":  # the ring with its left half filled
            right = QPainterPath()
            right.addRect(QRectF(r.center().x(), r.top(), w / 2 + 1, r.height()))
            inner = inner.intersected(right)
        return outer.subtracted(inner)
    if shape == "triangle":  # point up, from the top middle
        path.moveTo(r.center().x(), r.top())
        path.lineTo(r.right(), r.bottom())
        path.lineTo(r.left(), r.bottom())
        path.closeSubpath()
        return path
    if shape == "diamond":  # a little larger: its area is half its square's
        r = r.adjusted(-w * 0.1, -w * 0.1, w * 0.1, w * 0.1)
        c = r.center()
        path.moveTo(c.x(), r.top())
        path.lineTo(r.right(), c.y())
        path.lineTo(c.x(), r.bottom())
        path.lineTo(r.left(), c.y())
        path.closeSubpath()
        return path
    if shape == "square":  # a little smaller: a full square looks heavier than the others
        path.addRect(r.adjusted(w * 0.08, w * 0.08, -w * 0.08, -w * 0.08))
        return path
    if shape == "cross":
        stroke = max(1.6, w * 0.26)
        a = r.adjusted(stroke / 2, stroke / 2, -stroke / 2, -stroke / 2)
        lines = QPainterPath()
        lines.moveTo(a.topLeft())
        lines.lineTo(a.bottomRight())
        lines.moveTo(a.bottomLeft())
        lines.lineTo(a.topRight())
        stroker = QPainterPathStroker()
        stroker.setWidth(stroke)
        stroker.setCapStyle(Qt.PenCapStyle.RoundCap)
        return stroker.createStroke(lines).simplified()
    path.addEllipse(r)  # "circle", and anything unknown
    return path


def paint_mark(p: QPainter, shape: str, r: QRectF, colour: QColor, edge: QColor | None = None) -> None:
    """Fill ``shape`` in ``r``; ``edge``: a 1 px outline (keeps marks drawn side by side apart)."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(edge, 1) if edge is not None else Qt.PenStyle.NoPen)
    p.setBrush(colour)
    p.drawPath(shape_path(shape, r))
    p.restore()


def mark_side(fm: QFontMetrics) -> int:
    """A mark's size beside text of this font: about its capital letters' height."""
    return max(7, round(fm.capHeight() * 1.15))


class MarkLabel(QLabel):
    """A one-line label with a shape before its text, in the text's colour (the style sheet's):
    a card's severity badge, a line of the earlier nudges. The shape takes the label's indent, so
    the label's size does not change with it."""

    def __init__(self, text: str, name: str, shape: str = "") -> None:
        super().__init__(text)
        self.setObjectName(name)
        self.setWordWrap(False)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.shape = ""
        self.set_shape(shape)

    def set_shape(self, shape: str) -> None:
        if shape != self.shape:
            self.shape = shape
            self._indent()
            self.update()

    def _indent(self) -> None:
        side = mark_side(self.fontMetrics())
        self.setIndent(side + max(3, side // 2) if self.shape else -1)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._indent()

    def mark_rect(self) -> QRectF:
        """Where the shape is drawn: before the text, as high as its capitals and level with them."""
        fm = self.fontMetrics()
        side = mark_side(fm)
        r = self.contentsRect()
        top = r.top() + (r.height() - fm.height()) / 2  # the text's line (aligned to the middle)
        middle = top + fm.ascent() - fm.capHeight() / 2
        return QRectF(r.left() + 0.5, middle - side / 2, side, side)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        if self.shape:
            p = QPainter(self)
            paint_mark(p, self.shape, self.mark_rect(), self.palette().color(self.foregroundRole()))
            p.end()


class StatusDot(QLabel):
    """A status line's level (``LEVEL_SHAPE``) in the level's colour (``QLabel#statusDot[level=...]``
    ``color`` in the style sheet). Always the same size: a change of level moves nothing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusDot")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def level(self) -> str:
        return str(self.property("level") or "")

    def set_level(self, level: str) -> None:
        if level != self.level():
            self.setProperty("level", level)
            self.style().unpolish(self)
            self.style().polish(self)
            self.update()

    def mark(self) -> str:
        return LEVEL_SHAPE.get(self.level(), "ring")

    def side(self) -> int:
        return max(9, round(self.fontMetrics().capHeight() * 1.1))

    def sizeHint(self) -> QSize:
        return QSize(self.side(), self.side())

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.updateGeometry()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        side = self.side()
        c = QPointF(self.width() / 2, self.height() / 2)
        p = QPainter(self)
        colour = self.palette().color(self.foregroundRole())
        paint_mark(p, self.mark(), QRectF(c.x() - side / 2, c.y() - side / 2, side, side), colour)
        p.end()
