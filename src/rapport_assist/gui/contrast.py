"""WCAG 2.1 contrast of the sidebar's colour pairs, measured on the real style files.

Every pair is a foreground and the background it is drawn on, each named either by a rule of
``ui/styles/sidebar.qss`` and one of its properties (``QLabel#cardTitle`` ``color``) or by a
palette colour that code draws with (``@muted``: the tone meter's text, the transcript's speaker
names). The colours are read from the QSS and the style's palette, so a colour changed in either
is measured again (tests/test_sidebar_a11y.py fails a pair under its minimum).

The formula is ``rapport_assist.wcag`` (no Qt: the QA report's style sheet is measured with it too).

    python -m rapport_assist.gui.contrast          # every pair of both styles, lowest first
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..wcag import TEXT, UI, contrast_ratio
from .resources import STYLES, read_palette, ui_dir

# TEXT: body text 4.5:1 (nothing in the panel is "large" text, 18 pt or 14 pt bold); UI: control
# edges, focus rings, status dots, icons, the tone bar 3:1


Rule = tuple[list[str], dict[str, str]]


def parse_qss(text: str) -> list[Rule]:
    """The style sheet's rules in order: (selectors, {property: value}); comments dropped."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    rules: list[Rule] = []
    for block in text.split("}"):
        if "{" not in block:
            continue
        head, body = block.split("{", 1)
        selectors = [" ".join(s.split()) for s in head.split(",") if s.strip()]
        props: dict[str, str] = {}
        for decl in body.split(";"):
            if ":" in decl:
                key, value = decl.split(":", 1)
                props[key.strip()] = " ".join(value.split())
        rules.append((selectors, props))
    return rules


COLOUR = re.compile(r"@[a-z_]+|#[0-9a-fA-F]{6}\b")


def declared(rules: list[Rule], selector: str, prop: str) -> str | None:
    """The colour token (``@name`` or ``#rrggbb``) of ``prop`` in the last rule for exactly
    ``selector`` that sets it (``background`` also reads ``background-color``)."""
    found = None
    names = (prop, "background-color") if prop == "background" else (prop,)
    for selectors, props in rules:
        if selector in selectors:
            for name in names:
                if name in props:
                    token = COLOUR.search(props[name])
                    found = token[0] if token else found
    return found


@dataclass(frozen=True)
class Pair:
    what: str
    fg: str  # "SELECTOR | property" or "@palette_name"
    bg: str
    minimum: float


def _pairs() -> tuple[Pair, ...]:
    header, body, card, qa, dialog, summary = (
        "QFrame#header | background",
        "QWidget#scrollBody | background",
        "QFrame#card | background",
        "QFrame#qaBar | background",
        "QDialog | background",
        "QFrame#coaching | background",
    )
    checked = "QToolButton:checked | background"
    menu = "QMenu | background"
    pairs = [
        Pair("panel text", "QWidget#scrollBody | color", body, TEXT),
        Pair("panel text (header)", "QWidget#sidebar | color", header, TEXT),
        Pair("labels", "QLabel | color", body, TEXT),
        Pair("labels (header)", "QLabel | color", header, TEXT),
        Pair("tool buttons", "QToolButton | color", body, TEXT),
        Pair("call time", "QLabel#timer | color", header, TEXT),
        Pair("call state line", "QLabel#modeLabel | color", header, TEXT),
        Pair("Start call button", "QPushButton#callButton | color", "QPushButton#callButton | background", TEXT),
        Pair(
            "Stop button",
            'QPushButton#callButton[active="true"] | color',
            'QPushButton#callButton[active="true"] | background',
            TEXT,
        ),
        Pair("Stop button edge", 'QPushButton#callButton[active="true"] | border', header, UI),
        Pair("call button focus ring", "QPushButton#callButton:focus | border-color", header, UI),
        Pair("Stop button focus ring", 'QPushButton#callButton[active="true"]:focus | border', header, UI),
        Pair("menu icon", "@icon", header, UI),
        Pair("tool button focus ring", "QToolButton:focus | border-color", header, UI),
        Pair("section title", "QLabel#sectionTitle | color", body, TEXT),
        Pair("section toggle", "QToolButton#sectionToggle | color", body, TEXT),
        Pair("section toggle (open)", "QToolButton#sectionToggle | color", checked, TEXT),
        Pair("section toggle focus ring", "QToolButton#sectionToggle:focus | border-color", body, UI),
        Pair("tone meter words", "@text", body, TEXT),
        Pair("tone meter, no customer yet", "@muted", body, TEXT),
        Pair("tone bar: calm", "@calm", body, UI),
        Pair("tone bar: tense", "@tense", body, UI),
        Pair("tone bar: angry", "@angry", body, UI),
        Pair("no cards yet", "QLabel#empty | color", body, TEXT),
        Pair("status line", "QLabel#statusText | color", body, TEXT),
        Pair("status icons", "@icon", body, UI),
        Pair("rules error", "QLabel#rulesError | color", "QLabel#rulesError | background", TEXT),
        Pair("rules error edge", "QLabel#rulesError | border", body, UI),
        Pair("notice", "QLabel#notice | color", body, TEXT),
        Pair("earlier cards", "QLabel#historyItem | color", body, TEXT),
        Pair("promise", "QLabel#promise | color", body, TEXT),
        Pair("promise time", "QLabel#promiseTime | color", body, TEXT),
        Pair("promise without a time", 'QLabel#promiseTime[committed="false"] | color', body, TEXT),
        Pair("card title", "QLabel#cardTitle | color", card, TEXT),
        Pair("card message", "QLabel#cardMessage | color", card, TEXT),
        Pair("card line", "QLabel#cardLine | color", card, TEXT),
        Pair("card why", "QLabel#cardWhy | color", card, TEXT),
        Pair("card time, rule ids", "QLabel#cardMeta | color", card, TEXT),
        Pair("card quote", "QLabel#cardEvidence | color", "QLabel#cardEvidence | background", TEXT),
        Pair("card rewrite", "QLabel#cardRewrite | color", "QLabel#cardRewrite | background", TEXT),
        Pair("card buttons", "QToolButton#cardAction | color", card, TEXT),
        Pair("card buttons (hover)", "QToolButton#cardAction | color", "QToolButton:hover | background", TEXT),
        Pair("card button (chosen)", "QToolButton#cardAction:checked | color", checked, TEXT),
        Pair("card button icons", "@muted", card, UI),
        Pair("card button focus ring", "QToolButton#cardAction:focus | border-color", card, UI),
        Pair("card focus ring", "QFrame#card:focus | border-top", body, UI),
        Pair("card focus ring (inside)", "QFrame#card:focus | border-top", card, UI),
        Pair("TIP badge", "QLabel#cardSeverity | color", card, TEXT),
        Pair("NUDGE badge", 'QLabel#cardSeverity[severity="medium"] | color', card, TEXT),
        Pair("URGENT badge", 'QLabel#cardSeverity[severity="high"] | color', card, TEXT),
        Pair("TIP edge", "QFrame#card | border-left", body, UI),
        Pair("NUDGE edge", 'QFrame#card[severity="medium"] | border-left-color', body, UI),
        Pair("URGENT edge", 'QFrame#card[severity="high"] | border-left-color', body, UI),
        Pair("transcript", "QTextBrowser#transcript | color", "QTextBrowser#transcript | background", TEXT),
        Pair("transcript: You", "@accent", "QTextBrowser#transcript | background", TEXT),
        Pair("transcript: Customer, captions", "@muted", "QTextBrowser#transcript | background", TEXT),
        Pair("transcript focus ring", "QTextBrowser#transcript:focus | border", body, UI),
        Pair("review position", "QLabel#qaTime | color", qa, TEXT),
        Pair("review buttons' icons", "@icon", qa, UI),
        Pair("timeline progress", "@accent", qa, UI),
        Pair("timeline: tip mark", "@low", qa, UI),
        Pair("timeline: nudge mark", "@medium", qa, UI),
        Pair("timeline: urgent mark", "@high", qa, UI),
        Pair("drop-down", "QComboBox | color", "QComboBox | background", TEXT),
        Pair("drop-down edge", "QComboBox | border", qa, UI),
        Pair("drop-down edge (settings)", "QComboBox | border", dialog, UI),
        Pair("drop-down focus ring", "QComboBox:focus | border", dialog, UI),
        Pair(
            "drop-down list, chosen",
            "QComboBox QAbstractItemView | selection-color",
            "QComboBox QAbstractItemView | selection-background-color",
            TEXT,
        ),
        Pair("drop-down list", "QComboBox QAbstractItemView | color", "QComboBox QAbstractItemView | background", TEXT),
        Pair("tooltip", "QToolTip | color", "QToolTip | background", TEXT),
        Pair("menu", "QMenu | color", menu, TEXT),
        Pair("menu, chosen item", "QMenu::item:selected | color", "QMenu::item:selected | background", TEXT),
        Pair("menu: shortcut list (disabled items)", "QMenu::item:disabled | color", menu, TEXT),
        Pair("menu edge (on the panel)", "QMenu | border", body, UI),
        Pair("menu edge (on the header)", "QMenu | border", header, UI),
        Pair("menu check mark", "@icon", menu, UI),
        Pair("menu check mark, chosen item", "@accent_text", "QMenu::item:selected | background", UI),
        Pair("settings text", "QDialog | color", dialog, TEXT),
        Pair("settings labels", "QCheckBox | color", dialog, TEXT),
        Pair("settings text fields", "QLineEdit | color", "QLineEdit | background", TEXT),
        Pair("settings seconds", "QDoubleSpinBox | color", "QDoubleSpinBox | background", TEXT),
        Pair("settings note", "QLabel#notice | color", dialog, TEXT),
        Pair("settings fields", "QSpinBox | color", "QSpinBox | background", TEXT),
        Pair("settings field edge", "QSpinBox | border", dialog, UI),
        Pair("settings field focus ring", "QSpinBox:focus | border", dialog, UI),
        Pair("check box focus ring", "QCheckBox:focus | border-color", dialog, UI),
        Pair("check box edge", "QCheckBox::indicator | border", dialog, UI),
        Pair("check box, ticked", "QCheckBox::indicator:checked | background", dialog, UI),
        Pair("check mark", "@accent_text", "QCheckBox::indicator:checked | background", UI),
        Pair("Cancel button", "QDialog QPushButton | color", "QDialog QPushButton | background", TEXT),
        Pair("Cancel button edge", "QDialog QPushButton | border", dialog, UI),
        Pair("Cancel button focus ring", "QDialog QPushButton:focus | border", dialog, UI),
        Pair("OK button", "QDialog QPushButton:default | color", "QDialog QPushButton:default | background", TEXT),
        Pair("OK button focus ring", "QDialog QPushButton:default:focus | border-color", dialog, UI),
        Pair("summary focus ring", "QFrame#coaching:focus | border-left", body, UI),
        Pair("summary title", "QLabel#coachingTitle | color", summary, TEXT),
        Pair("summary headings", "QLabel#coachingHeading | color", summary, TEXT),
        Pair("summary: went well", "QLabel#coachingItem | color", summary, TEXT),
        Pair("summary: try next", 'QLabel#coachingItem[kind="next"] | color', summary, TEXT),
        Pair("summary text", "QLabel#coachingText | color", summary, TEXT),
        Pair("summary quote", "QLabel#coachingQuote | color", "QLabel#coachingQuote | background", TEXT),
        Pair("summary closing", "QLabel#coachingClosing | color", summary, TEXT),
        Pair("summary promise", "QLabel#promise | color", summary, TEXT),
        Pair("summary promise time", "QLabel#promiseTime | color", summary, TEXT),
        Pair("summary promise without a time", 'QLabel#promiseTime[committed="false"] | color', summary, TEXT),
        Pair("summary Hide button", "QToolButton#cardAction | color", summary, TEXT),
    ]
    pairs += [Pair(f"status dot: {level}", f'QLabel#statusDot[level="{level}"] | color', body, UI)
              for level in ("ok", "info", "warning", "error", "off")]  # fmt: skip
    return tuple(pairs)


PAIRS = _pairs()

# colours that need no contrast: disabled controls (WCAG 1.4.3 and 1.4.11 exempt inactive parts)
EXEMPT = ("QPushButton#callButton:disabled", "QComboBox:disabled")


@dataclass(frozen=True)
class Measured:
    style: str
    pair: Pair
    fg: str  # #rrggbb
    bg: str
    ratio: float

    @property
    def ok(self) -> bool:
        return self.ratio >= self.pair.minimum


def style_files() -> tuple[str, dict[str, dict[str, str]]]:
    """The QSS text and each style's palette, as the sidebar reads them."""
    folder = ui_dir()
    if folder is None:
        raise FileNotFoundError("no ui/ folder with styles/sidebar.qss")
    qss = (Path(folder) / "styles" / "sidebar.qss").read_text(encoding="utf-8")
    return qss, {style: read_palette(style) for style in STYLES}


def resolve(side: str, rules: list[Rule], palette: dict[str, str]) -> str:
    """One side of a pair as ``#rrggbb`` (KeyError or LookupError when the QSS lacks it)."""
    token = side
    if "|" in side:
        selector, prop = (part.strip() for part in side.split("|", 1))
        found = declared(rules, selector, prop)
        if found is None:
            raise LookupError(f"{selector} sets no colour in {prop}")
        token = found
    return palette[token[1:]] if token.startswith("@") else token


def measure() -> list[Measured]:
    """Every pair in both styles."""
    qss, palettes = style_files()
    rules = parse_qss(qss)
    out = []
    for style, palette in palettes.items():
        for pair in PAIRS:
            fg, bg = resolve(pair.fg, rules, palette), resolve(pair.bg, rules, palette)
            out.append(Measured(style, pair, fg, bg, contrast_ratio(fg, bg)))
    return out


def colour_rules(qss: str) -> list[list[str]]:
    """For every rule of the QSS that sets a text colour, its selectors as ``SELECTOR | color``."""
    out = []
    for selectors, props in parse_qss(qss):
        if "color" in props and COLOUR.search(props["color"]):
            out.append([f"{s} | color" for s in selectors])
    return out


def main() -> int:
    rows = sorted(measure(), key=lambda m: (m.pair.minimum, m.ratio))
    for m in rows:
        flag = "" if m.ok else "  < minimum"
        print(f"{m.style:5}  {m.ratio:5.2f} (min {m.pair.minimum:g})  {m.fg} on {m.bg}  {m.pair.what}{flag}")
    for style in STYLES:
        for minimum, kind in ((TEXT, "text"), (UI, "marks and edges")):
            low = min((m for m in rows if m.style == style and m.pair.minimum == minimum), key=lambda m: m.ratio)
            print(f"{style}: lowest {kind} pair {low.ratio:.2f}:1 ({low.pair.what})")
    return 0 if all(m.ok for m in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
