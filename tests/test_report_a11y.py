"""Accessibility of the QA reports, on real files: ``rapport-assist qa`` run on transcripts (no
model), report.html and summary.html parsed as a browser would (html.parser), and the real
report.css measured for WCAG contrast (the formula of rapport_assist.wcag, as the sidebar's).

Landmarks and one h1, sections named by their headings, tables with captions and th scope, the
timeline titled, described and given in words, nudge marks that are keyboard links to their
cards, the transcript filter labelled, warnings and severities said in words (not colour alone),
text colours at 4.5:1 and focus rings at 3:1, ``lang``, and no network."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rapport_assist.cli import DATA_DIR, main
from rapport_assist.qa import report
from rapport_assist.wcag import TEXT, UI, contrast_ratio

TEMPLATES = Path(report.__file__).resolve().parent / "templates"
VOID = {"meta", "input", "br", "img", "link", "hr", "col", "source", "wbr", "area", "base", "embed", "track"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        out = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and all(c.attrs.get(k.rstrip("_")) == v for k, v in attrs.items()):
                    out.append(c)
                out += c.all(tag, **attrs)
        return out

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def ancestors(self) -> list[Node]:
        out, at = [], self.parent
        while at is not None:
            out.append(at)
            at = at.parent
        return out


class Tree(HTMLParser):
    """The page as a tree of elements (a closing tag closes up to its opening one, as browsers do)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.at = self.root
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.at)
        self.at.children.append(node)
        if tag not in VOID:
            self.at = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.at.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.at))

    def handle_endtag(self, tag: str) -> None:
        at: Node | None = self.at
        while at is not None and at.tag != tag:
            at = at.parent
        if at is not None and at.parent is not None:
            self.at = at.parent

    def handle_data(self, data: str) -> None:
        self.at.children.append(data)

    def by_id(self) -> dict[str, Node]:
        return {n.attrs["id"]: n for n in self.root.all() if "id" in n.attrs}


def _visible_text(node: Node) -> str:
    """The text a sighted reader sees (.vh text is for screen readers only)."""
    if "vh" in node.classes():
        return ""
    return "".join(c if isinstance(c, str) else _visible_text(c) for c in node.children)


def _spoken_text(node: Node) -> str:
    """The text a screen reader reads (aria-hidden left out)."""
    if node.attrs.get("aria-hidden") == "true":
        return ""
    return "".join(c if isinstance(c, str) else _spoken_text(c) for c in node.children)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """qa on three transcripts: the demo call (nudges, promises, tone), a call of the agent alone
    (a warning) and a broken file (a failed call)."""
    corpus = tmp_path_factory.mktemp("calls")
    shutil.copy(DATA_DIR / "demo_call.jsonl", corpus / "demo.jsonl")
    lines = ["Thank you for calling, how can I help?", "You need to restart the router.", "Bye now."]
    (corpus / "alone.jsonl").write_text(
        "".join(
            json.dumps({"speaker": "agent", "text": t, "start": 5.0 * i, "end": 5.0 * i + 3}) + "\n"
            for i, t in enumerate(lines)
        )
    )
    (corpus / "bad.jsonl").write_text('{"speaker": "agent", "text": "hi"}\nnot json\n')
    out = tmp_path_factory.mktemp("out")
    err = io.StringIO()
    code = main(
        ["qa", str(corpus), "--out", str(out), "--cache", str(out / "cache"), "--workers", "1"], io.StringIO(), err
    )
    assert code == 10, err.getvalue()  # the broken file failed, the others are done
    return out


def _events(run: Path, call: str) -> list[dict]:
    return [json.loads(line) for line in (run / "calls" / call / "events.jsonl").read_text().splitlines()]


def _page(path: Path) -> Tree:
    return Tree(path.read_text(encoding="utf-8"))


def _structure_is_sound(page: Tree) -> None:
    """What both pages share: lang, landmarks, one h1, named sections, headings in order, tables
    with captions and scoped headers, in-page links that land, no network."""
    (html,) = page.root.all("html")
    assert html.attrs.get("lang") == "en"
    assert len(page.root.all("h1")) == 1 and page.root.all("h1")[0].text().strip()
    assert len(page.root.all("header")) == 1 and len(page.root.all("main")) == 1
    ids = page.by_id()
    for section in page.root.all("section"):
        heading = ids[section.attrs["aria-labelledby"]]
        assert heading.tag == "h2" and heading in section.all("h2") and heading.text().strip()
    levels = [int(n.tag[1]) for n in page.root.all() if re.fullmatch(r"h[1-6]", n.tag)]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels  # no level skipped
    for table in page.root.all("table"):
        captions = table.all("caption")
        assert (
            len(captions) == 1
            and captions[0].text().strip()
            and [c for c in table.children if isinstance(c, Node)][0] is captions[0]
        )
        headers = table.all("th")
        assert headers and all(th.attrs.get("scope") in ("col", "row") for th in headers)
    for a in page.root.all("a"):
        href = a.attrs.get("href", "")
        assert not href.startswith(("http:", "https:", "//")), href  # self-contained
        if href.startswith("#"):
            assert href[1:] in ids, f"link to a missing #{href[1:]}"
        assert _spoken_text(a).strip() or a.attrs.get("aria-label"), a.attrs  # every link has a name
    for tag in ("link", "img", "iframe"):
        assert not [n for n in page.root.all(tag) if n.attrs.get("src", n.attrs.get("href", "")).startswith("http")]


def test_the_report_has_landmarks_headings_and_tables_a_screen_reader_can_walk(run):
    page = _page(run / "calls" / "demo" / "report.html")
    _structure_is_sound(page)
    (nav,) = page.root.all("nav")
    assert nav.attrs.get("aria-label") and len(nav.all("a")) == len(page.root.all("section"))
    assert page.root.all("a")[0].attrs.get("href") == "#main"  # the first Tab: skip to the report
    tables = {t.all("caption")[0].text().split(";")[0]: t for t in page.root.all("table")}
    by_rule = tables["How often each rule nudged in this call"]
    rows = [tr for tr in by_rule.all("tr") if tr.all("th", scope="row")]
    nudges = [e for e in _events(run, "demo") if e["type"] == "nudge"]
    assert {tr.all("th")[0].text() for tr in rows} == {n["rule"] for n in nudges}


def test_the_timeline_is_described_and_said_in_words_with_every_nudge_linked(run):
    page = _page(run / "calls" / "demo" / "report.html")
    ids = page.by_id()
    (svg,) = [s for s in page.root.all("svg") if "timeline" in s.classes()]
    assert svg.attrs["role"] == "group"
    title, desc = ids[svg.attrs["aria-labelledby"]], ids[svg.attrs["aria-describedby"]]
    assert (title.tag, desc.tag) == ("title", "desc") and title in svg.all() and desc in svg.all()
    events = _events(run, "demo")
    nudges = [e for e in events if e["type"] == "nudge"]
    assert f"{len(nudges)} nudges" in desc.text() and "in words" in desc.text()
    # each nudge mark is a link (Tab reaches an <a href> in SVG) to its card, named in words
    links = svg.all("a")
    assert len(links) == len(nudges) >= 3
    for a, n in zip(links, sorted(nudges, key=lambda n: n["t"])):
        card = ids[a.attrs["href"][1:]]
        assert "nudge-card" in card.classes() and card.attrs.get("tabindex") == "-1"  # the link moves the focus
        assert n["rule"] in a.attrs["aria-label"] and n["severity"] in a.attrs["aria-label"]
        assert a.all("path")[0].attrs.get("stroke")  # an edge: the mark stands out, whatever its fill
    # the shapes differ by severity (colour is not the only sign), as the legend shows
    shapes = {n["severity"]: a.all("path")[0].attrs["d"].count("L") for a, n in zip(links, nudges)}
    assert len(set(shapes.values())) == len(shapes)
    legend = page.root.all("ul", class_="legend")[0]
    assert {"high nudge", "medium nudge", "low nudge", "promise", "dead air", "talk-over"} <= {
        li.text() for li in legend.all("li")
    }
    # the text alternative: linked from above the chart, every nudge and promise in it, linked
    assert ids["timeline-help"].all("a", href="#timeline-text")
    words = ids["timeline-text"]
    assert words.tag == "details" and words.all("summary")
    items = words.all("li")
    promises = [e for e in events if e["type"] == "record"]
    assert len([li for li in items if " nudge " in li.text()]) == len(nudges)
    assert len([li for li in items if "promise by" in li.text()]) == len(promises)
    assert any("customer tone angry" in li.text() for li in items)
    for n in nudges:
        assert [li for li in items if li.all("a", href=f"#n{n['utterance_index']}-{n['rule']}")]


def test_nudges_severities_and_warnings_are_said_in_words(run):
    page = _page(run / "calls" / "demo" / "report.html")
    cards = [n for n in page.root.all("div") if "nudge-card" in n.classes()]
    assert cards
    for card in cards:
        severity = (card.classes() - {"nudge-card"}).pop()
        assert f"· {severity}" in _visible_text(card)  # the word, beside the coloured edge
    warned = [n for n in page.root.all("div") if {"card", "warn"} <= n.classes()]
    assert warned  # the demo call has nudges and an angry customer
    for card in warned:
        (flag,) = [n for n in card.all("div") if "flag" in n.classes()]
        assert "⚠" in _visible_text(flag) and _spoken_text(flag).strip() == "worth a look"
    # a call of one side: its note is a warning in words, not in red alone
    alone = _page(run / "calls" / "alone" / "report.html")
    notes = [p for p in alone.root.all("p") if "status" in p.classes()]
    assert notes and all(_spoken_text(p).startswith("Warning: ") for p in notes)
    # the ratio bar repeats the figure beside it: hidden from screen readers
    assert all(n.attrs.get("aria-hidden") == "true" for n in page.root.all("div") if "ratio" in n.classes())


def test_the_transcript_filter_is_labelled_and_says_what_it_shows(run):
    page = _page(run / "calls" / "demo" / "report.html")
    ids = page.by_id()
    box = ids["only-nudged"]
    assert box.tag == "input" and box.attrs["type"] == "checkbox"
    (label,) = page.root.all("label", for_="only-nudged")
    assert label.text().strip() == "Only utterances with nudges"
    assert ids[box.attrs["aria-controls"]].all("div")  # the utterances it filters
    assert ids["shown"].attrs.get("role") == "status"  # the count, read out when it changes


def test_the_summary_has_landmarks_captions_and_warnings_in_words(run):
    page = _page(run / "summary.html")
    _structure_is_sound(page)
    marks = [n for n in page.root.all("span") if "wn" in n.classes()]
    assert marks and all(_spoken_text(m).startswith("warning: ") for m in marks)
    assert all("agent only" in _visible_text(m) for m in marks)
    for svg in page.root.all("svg"):  # the trend lines say their figures
        assert svg.attrs.get("role") == "img" and svg.attrs["aria-label"].startswith("nudges per call by day: ")
    called = {th.text() for th in page.root.all("th", scope="row")}
    assert {"demo", "alone", "bad"} <= {c.split(" ")[0].strip() for c in called}


# -- contrast of report.css: every text colour on the backgrounds it is drawn on -----------------


def css_rules(css: str) -> tuple[dict[str, str], list[tuple[list[str], dict[str, str]]]]:
    """report.css as (custom properties of :root, [(selectors, {property: value})]); @media and
    @keyframes blocks left out (print and an animation's first frame are not what is read)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    while (m := re.search(r"@(media|keyframes)[^{]*\{", css)) is not None:  # drop the block, braces balanced
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(css[i], 0)
            i += 1
        css = css[: m.start()] + css[i:]
    rules = []
    for block in css.split("}"):
        if "{" in block:
            head, body = block.split("{", 1)
            props = {}
            for decl in body.split(";"):
                if ":" in decl:
                    k, v = decl.split(":", 1)
                    props[k.strip()] = v.strip()
            rules.append(([" ".join(s.split()) for s in head.split(",")], props))
    variables = {k: v for sels, props in rules if ":root" in sels for k, v in props.items() if k.startswith("--")}
    return variables, rules


COLOUR = re.compile(r"var\(--[a-z-]+\)|#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")


def css_colour(css: str, side: str) -> str:
    """One side of a pair: ``#rrggbb`` as is, or ``SELECTOR | property`` read from the last rule
    for exactly that selector (``background`` also reads ``background-color``; ``outline``'s colour)."""
    variables, rules = css_rules(css)
    if side.startswith("#"):
        return side
    selector, prop = (p.strip() for p in side.split("|"))
    names = (prop, "background-color") if prop == "background" else (prop, "outline-color") if prop == "outline" else (prop,)  # fmt: skip
    found = None
    for sels, props in rules:
        if selector in sels:
            for name in names:
                if name in props and (m := COLOUR.search(props[name])):
                    found = m[0]
    if found is None:
        raise LookupError(f"{selector} sets no colour in {prop}")
    if found.startswith("var("):
        found = variables[found[4:-1]]
    return found


WHITE = "#ffffff"  # a section's background
PAGE = "body | background"
HEADER = "header | background"
PAIRS = [
    ("body text", "body | color", PAGE, TEXT),
    ("body text in a section", "body | color", WHITE, TEXT),
    ("title", "header | color", HEADER, TEXT),
    ("file names under the title", "header .sub | color", HEADER, TEXT),
    ("section links", "header nav a | color", HEADER, TEXT),
    ("the link to the summary", "header .up | color", HEADER, TEXT),
    ("links", "a | color", WHITE, TEXT),
    ("links on a nudge card", "a | color", ".nudge-card | background", TEXT),
    ("skip link", ".skip | color", ".skip | background", TEXT),
    ("figure labels", ".card .k | color", WHITE, TEXT),
    ("a figure worth a look", ".card.warn .v | color", WHITE, TEXT),
    ("its ⚠ mark", ".card .flag | color", WHITE, TEXT),
    ("timeline labels", "svg .lbl | fill", WHITE, TEXT),
    ("timeline labels on a lane", "svg .lbl | fill", "#f2f4f7", TEXT),
    ("tone words on the calm band", "svg .band | fill", report.TONE_COLOR["calm"], TEXT),
    ("tone words on the tense band", "svg .band | fill", report.TONE_COLOR["tense"], TEXT),
    ("tone words on the angry band", "svg .band | fill", report.TONE_COLOR["angry"], TEXT),
    ("legend", ".legend | color", WHITE, TEXT),
    ("timeline in words: opener", "summary | color", WHITE, TEXT),
    ("timeline in words: times", ".moments .t | color", WHITE, TEXT),
    ("transcript times", ".utt .t | color", WHITE, TEXT),
    ("agent's name", ".utt.agent .s | color", WHITE, TEXT),
    ("customer's name", ".utt.customer .s | color", WHITE, TEXT),
    ("utterance measures", ".utt .meta | color", WHITE, TEXT),
    ("evidence marked (medium)", "mark | color", "mark | background", TEXT),
    ("evidence marked (high)", "mark | color", "mark.high | background", TEXT),
    ("evidence marked (low)", "mark | color", "mark.low | background", TEXT),
    ("medium nudge card", "body | color", ".nudge-card | background", TEXT),
    ("high nudge card", "body | color", ".nudge-card.high | background", TEXT),
    ("low nudge card", "body | color", ".nudge-card.low | background", TEXT),
    ("why, on a medium card", ".nudge-card .why | color", ".nudge-card | background", TEXT),
    ("why, on a high card", ".nudge-card .why | color", ".nudge-card.high | background", TEXT),
    ("why, on a low card", ".nudge-card .why | color", ".nudge-card.low | background", TEXT),
    ("table headers", "th | color", WHITE, TEXT),
    ("row headers", "th[scope=row] | color", WHITE, TEXT),
    ("table captions", "caption | color", WHITE, TEXT),
    ("committed", ".ok | color", WHITE, TEXT),
    ("not committed", ".no | color", WHITE, TEXT),
    ("filter", ".toolbar | color", WHITE, TEXT),
    ("call warnings", ".status | color", WHITE, TEXT),
    ("summary headings", ".coach h3 | color", WHITE, TEXT),
    ("went well", ".coach .well b | color", WHITE, TEXT),
    ("try next", ".coach .next b | color", WHITE, TEXT),
    ("quotes", ".coach .q | color", WHITE, TEXT),
    ("closing line", ".coach .closing | color", WHITE, TEXT),
    # summary.css
    ("zero counts", ".z | color", WHITE, TEXT),
    ("notes", ".k | color", WHITE, TEXT),
    ("warning marks", ".wn | color", WHITE, TEXT),
    # focus rings and marks (WCAG 1.4.11)
    ("focus ring", "a:focus-visible | outline", WHITE, UI),
    ("focus ring on the page", "a:focus-visible | outline", PAGE, UI),
    ("focus ring on a nudge card", "a:focus-visible | outline", ".nudge-card.high | background", UI),
    ("focus ring in the header", "header nav a:focus-visible | outline", HEADER, UI),
    ("focus ring on the link to the summary", "header .up:focus-visible | outline", HEADER, UI),
    ("focus ring on a timeline mark", "svg a:focus-visible | outline", WHITE, UI),
    ("timeline mark edges", report.MARK_EDGE, WHITE, UI),
    ("promise marks", report.PROMISE_COLOR, WHITE, UI),
]


def _css() -> str:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8") + (TEMPLATES / "summary.css").read_text(
        encoding="utf-8"
    )


def measure(css: str) -> list[tuple[str, str, str, float, float]]:
    out = []
    for what, fg, bg, minimum in PAIRS:
        a, b = css_colour(css, fg), css_colour(css, bg)
        out.append((what, a, b, contrast_ratio(a, b), minimum))
    return out


def test_every_text_colour_of_the_report_css_keeps_its_contrast():
    failing = [f"{what}: {a} on {b} = {r:.2f} < {m}" for what, a, b, r, m in measure(_css()) if r < m]
    assert failing == []


def test_every_text_colour_of_the_report_css_is_measured():
    """A rule that gives text a colour and is in no pair would escape the contrast check."""
    _, rules = css_rules(_css())
    covered = {fg.split(" |")[0] for _, fg, _, _ in PAIRS}
    missing = [
        sels for sels, props in rules
        if any(k in props and COLOUR.search(props[k]) for k in ("color", "fill")) and not set(sels) & covered
    ]  # fmt: skip
    assert missing == []


def test_a_colour_too_light_fails_the_report_contrast_check():
    css = _css().replace("--muted:#667085", "--muted:#98a2b3").replace(".z{color:#667085}", ".z{color:#c0c5cc}")
    failing = {what for what, _, _, r, m in measure(css) if r < m}
    assert {"figure labels", "table headers", "zero counts", "why, on a high card"} <= failing


def test_focus_is_visible_and_motion_can_be_calmed():
    css = _css()
    _, rules = css_rules(css)
    focused = {s for sels, props in rules for s in sels if ":focus" in s and ("outline" in props or "stroke" in props)}
    assert {"a:focus-visible", "svg a:focus-visible", "input:focus-visible", ".nudge-card:focus"} <= focused
    assert "svg a:focus .nudge" in focused  # the mark itself thickens its edge
    assert "@media (prefers-reduced-motion:reduce)" in css and "@media print" in css


# -- in a browser: the keyboard path works (headless Chromium, as tests/test_qa.py) --------------

PROBE = """<script>(function(){
var r=document.documentElement, out={};
var link=document.querySelector('svg a.nudge-link');
out.linkTabbable=link.tabIndex>=0;
link.focus(); out.linkFocused=document.activeElement===link;
out.ring=getComputedStyle(link).outlineStyle;
link.dispatchEvent(new MouseEvent('click',{bubbles:true,cancelable:true}));
out.cardFocused=document.activeElement&&document.activeElement.id===link.getAttribute('href').slice(1);
var box=document.getElementById('only-nudged'); box.click();
out.shown=document.getElementById('shown').textContent;
out.hidden=document.querySelectorAll('.utt.hidden').length;
r.setAttribute('data-probe',JSON.stringify(out));
})();</script></body>"""


@pytest.mark.slow
def test_a_keyboard_user_can_follow_a_nudge_mark_to_its_card_in_chromium(run, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed; it is a required test dependency: run 'make setup'")
    page = tmp_path / "report.html"
    page.write_text((run / "calls" / "demo" / "report.html").read_text(encoding="utf-8").replace("</body>", PROBE))
    done = subprocess.run(
        [exe, f"--user-data-dir={tmp_path / 'profile'}", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    probe = json.loads(Tree(done.stdout).root.all("html")[0].attrs["data-probe"])
    assert probe["linkTabbable"] and probe["linkFocused"] and probe["cardFocused"], probe
    assert probe["ring"] == "solid", probe  # :focus-visible after a focus that no mouse made
    assert probe["hidden"] > 0 and re.fullmatch(r"Showing \d+ of \d+ utterances\.", probe["shown"]), probe
