"""The report of one call: a single self-contained HTML file (inline CSS, SVG and a little JS; no
network, no CDN), built from the call's events alone.

* a timeline: each side's speech, the nudges, the customer's tone, both sides' loudness and pace,
  dead air and talk-over;
* the call statistics (talk ratio, dead air, talk-over, nudges, promises);
* the transcript, each nudge after the utterance it fired at, its evidence highlighted;
* the promise list;
* the agent's call summary (the ``coaching`` event: what went well, one thing to try, promises).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Mapping, Sequence

import jinja2
from markupsafe import Markup

from .. import timefmt
from ..coaching import NO_PRAISE, time_words
from ..types import SEVERITY_SHAPE
from ..wording import one_side_note
from .inputs import CallInput
from .stats import CallStats

SEVERITY_COLOR = {"high": "#d64545", "medium": "#e8a33d", "low": "#6b8fb8"}
# a nudge mark's shape says its severity too (colour is never the only sign): types.SEVERITY_SHAPE,
# a triangle, a diamond, a square, as in the sidebar; each is outlined in MARK_EDGE, which keeps
# 3:1 against the white page
MARK_EDGE = "#1d2330"
# the customer's orange keeps 4.5:1 as text on white (their name in the transcript; was #c2571a, 4.49:1)
SPEAKER_COLOR = {"agent": "#2f6fb3", "customer": "#b5501a"}
TONE_COLOR = {"calm": "#cfe8d5", "tense": "#f6d58e", "angry": "#ef9a9a"}
TALK_OVER_COLOR = "#7a5af8"  # violet: apart from the angry band's pink and the high nudge's red
DEAD_AIR_COLOR = "#98a2b3"
PROMISE_COLOR = "#067647"
MARK_GAP = 14.0  # px between the centres of nudge/promise marks drawn at (nearly) one moment


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates in qa/templates, autoescaped (every value is HTML-escaped unless it is Markup)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rapport_assist.qa", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["clock"] = clock
    env.filters["time_words"] = time_words
    return env


def asset(name: str) -> Markup:
    """A style sheet or script from qa/templates, to inline in a page (trusted text: not escaped)."""
    env = environment()
    assert env.loader is not None
    return Markup(env.loader.get_source(env, name)[0])


def clock(t: float | None) -> str:
    if t is None:
        return "–"
    return timefmt.clock(t)


def highlight(text: str, phrases: Sequence[tuple[str, str, str]]) -> Markup:
    """``text`` escaped, with each (phrase, severity class, title) found in it wrapped in <mark>."""
    spans: list[tuple[int, int, str, str]] = []
    lower = text.lower()
    for phrase, cls, title in phrases:
        p = phrase.strip().lower()
        if not p:
            continue
        for m in re.finditer(re.escape(p), lower):
            a, b = m.span()
            if all(b <= s or a >= e for s, e, _, _ in spans):
                spans.append((a, b, cls, title))
    spans.sort()
    out: list[str] = []
    at = 0
    for a, b, cls, title in spans:
        out.append(text[at:a])  # plain text: Markup.join escapes it
        out.append(Markup('<mark class="{}" title="{}">{}</mark>').format(cls, title, text[a:b]))
        at = b
    out.append(text[at:])
    return Markup("").join(out)


def _ticks(duration: float) -> float:
    """The step between the timeline's ticks: at most 12 of them, on round times. Past 12 hours, whole
    hours (a transcript timed in epoch milliseconds, 1.7e12 s, would otherwise draw millions)."""
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration / step <= 12:
            return step
    return 3600.0 * math.ceil(duration / 3600 / 12)


def _spread(xs: Sequence[float], gap: float) -> list[float]:
    """Positions for marks wanted at ``xs``: marks closer than ``gap`` form a group, spread
    ``gap`` apart around the group's middle (so two nudges at one moment are two triangles)."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    out = list(xs)
    group: list[int] = []

    def place() -> None:
        if group:
            middle = sum(xs[i] for i in group) / len(group)
            for k, i in enumerate(group):
                out[i] = middle + (k - (len(group) - 1) / 2) * gap
            group.clear()

    for i in order:
        if group and xs[i] - xs[group[-1]] >= gap:
            place()
        group.append(i)
    place()
    return out


def mark_path(shape: str, cx: float, cy: float) -> str:
    """The outline of a nudge mark centred at (cx, cy), from its top middle: a triangle (high), a
    diamond (medium) or a square (low)."""
    top, bot = cy - 8, cy + 6
    if shape == "diamond":
        return f"M{cx:.1f},{top} L{cx + 7:.1f},{cy - 1} L{cx:.1f},{bot} L{cx - 7:.1f},{cy - 1} Z"
    if shape == "square":
        return f"M{cx:.1f},{cy - 6} L{cx + 6:.1f},{cy - 6} L{cx + 6:.1f},{cy + 5} L{cx - 6:.1f},{cy + 5} L{cx - 6:.1f},{cy - 6} Z"
    return f"M{cx:.1f},{top} L{cx + 7:.1f},{bot} L{cx - 7:.1f},{bot} Z"


def nudge_anchor(n: Mapping[str, Any]) -> str:
    """The id of a nudge's card in the transcript (the timeline's marks and lists link to it)."""
    return f"n{n['utterance_index']}-{n['rule']}"


def _nudge_words(n: Mapping[str, Any]) -> str:
    return f"{n['severity']} nudge {n['rule']}" + (" (experimental)" if n.get("experimental") else "")


def timeline_moments(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The timeline in words, in time order: each nudge (linked to its card), promise (linked to
    its utterance), dead air, talk-over and change of the customer's tone. The report shows it
    under the chart, its text alternative."""
    out: list[dict[str, Any]] = []
    last_tone = None
    for e in events:
        kind = e.get("type")
        if kind == "nudge":
            out.append({"t": e["t"], "what": _nudge_words(e), "text": e["message"], "href": "#" + nudge_anchor(e)})
        elif kind == "record":
            out.append(
                {"t": e["t"], "what": f"promise by the {e.get('speaker', 'agent')}", "text": f"“{e['text']}”",
                 "href": f"#u{e['utterance_index']}" if e.get("utterance_index") is not None else None}
            )  # fmt: skip
        elif kind == "signal" and e.get("kind") == "dead_air":
            held = " (hold announced)" if e.get("hold_announced") else ""
            out.append({"t": e["since"], "what": "dead air", "text": f"{e['silence_s']:.0f} s{held}", "href": None})
        elif kind == "signal" and e.get("kind") == "talk_over":
            text = f"the {e['speaker']} talked over the {e['over']} for {e['overlap_s']:.1f} s"
            out.append({"t": e["start"], "what": "talk-over", "text": text, "href": None})
        elif kind == "utterance" and e.get("speaker") == "customer":
            state = (e.get("signals") or {}).get("tone_state")
            if state and state.get("label") != last_tone:
                last_tone = state.get("label")
                evidence = "; ".join(state.get("evidence", []))
                out.append(
                    {"t": e["start"], "what": f"customer tone {last_tone}", "text": evidence, "href": f"#u{e['index']}"}
                )
    return sorted(out, key=lambda m: m["t"])


def _timeline_description(events: Sequence[dict[str, Any]], duration: float) -> str:
    """The chart's <desc>: what it shows, in counts, and where the same moments are in words."""
    utts = [e for e in events if e.get("type") == "utterance"]
    nudges = [e for e in events if e.get("type") == "nudge"]
    severities = ", ".join(
        f"{n} {sev}" for sev in ("high", "medium", "low") if (n := sum(1 for e in nudges if e["severity"] == sev))
    )
    signals = [e.get("kind") for e in events if e.get("type") == "signal"]
    return (
        f"{clock(duration)} of call: {sum(1 for u in utts if u['speaker'] == 'agent')} agent and "
        f"{sum(1 for u in utts if u['speaker'] == 'customer')} customer utterances, {len(nudges)} nudges"
        + (f" ({severities})" if severities else "")
        + f", {sum(1 for e in events if e.get('type') == 'record')} promises, {signals.count('dead_air')} dead air, "
        f"{signals.count('talk_over')} talk-over, with each side's loudness and pace. Each nudge mark is a link "
        "to its card in the transcript; the list under the chart gives every moment in words."
    )


def timeline_svg(events: Sequence[dict[str, Any]], duration: float) -> Markup:
    """The call's timeline as inline SVG (scales with the page width). Built here (it is geometry),
    each element with ``Markup.format``, which escapes every value put into it. Titled and
    described for screen readers; the nudge marks are links (Tab reaches them)."""
    W, left, right = 1100, 92, 14
    plot = W - left - right
    dur = max(duration, 1.0)
    M = Markup

    def x(t: float) -> float:
        return left + plot * min(max(t, 0.0), dur) / dur

    rows = {"agent": 24, "customer": 50, "nudges": 84, "tone": 112, "loud": 150, "pace": 226}
    lane_h = 18
    H = 300
    parts: list[Markup] = [
        M(
            '<svg class="timeline" viewBox="0 0 {} {}" role="group" aria-labelledby="timeline-title" '
            'aria-describedby="timeline-desc"><title id="timeline-title">Call timeline</title>'
            '<desc id="timeline-desc">{}</desc>'
        ).format(W, H, _timeline_description(events, duration))
    ]
    # grid and axis
    step = _ticks(dur)
    t = 0.0
    while t <= dur + 1e-6:
        parts.append(M('<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{y}" stroke="#eef0f3"/>').format(x=x(t), y=H - 22))
        parts.append(
            M('<text class="lbl" x="{:.1f}" y="{}" text-anchor="middle">{}</text>').format(x(t), H - 8, clock(t)[:-2])
        )
        t += step
    labels = [("agent", "Agent"), ("customer", "Customer"), ("nudges", "Nudges"), ("tone", "Customer tone")]
    for key, text in labels:
        parts.append(M('<text class="lbl" x="4" y="{}">{}</text>').format(rows[key] + 13, text))
    for key, name, units in (("loud", "Loudness", "(dBFS)"), ("pace", "Pace", "(syll./s)")):
        parts.append(
            M('<text class="lbl" x="4" y="{}">{}</text><text class="lbl" x="4" y="{}">{}</text>').format(
                rows[key] + 12, name, rows[key] + 26, units
            )
        )
    utts = [e for e in events if e.get("type") == "utterance"]
    # dead air and talk-over behind everything
    band = M(
        '<rect x="{a:.1f}" y="{y}" width="{w:.1f}" height="{h}" fill="{fill}" fill-opacity="{op}">'
        '<title>{title}</title></rect>'
    )
    for e in events:
        if e.get("type") == "signal" and e.get("kind") == "dead_air":
            a, b = x(e["since"]), x(e["since"] + e["silence_s"])
            title = f"dead air {e['silence_s']:.0f} s at {clock(e['since'])}" + (
                " (hold announced)" if e.get("hold_announced") else ""
            )
            parts.append(
                band.format(
                    a=a,
                    y=rows["agent"] - 4,
                    w=max(b - a, 1.5),
                    h=lane_h * 2 + 16,
                    fill=DEAD_AIR_COLOR,
                    op=".25",
                    title=title,
                )
            )
        if e.get("type") == "signal" and e.get("kind") == "talk_over":
            a, b = x(e["start"]), x(e["start"] + e["overlap_s"])
            title = f"{e['speaker']} talked over the {e['over']} for {e['overlap_s']:.1f} s at {clock(e['start'])}"
            parts.append(
                band.format(
                    a=a,
                    y=rows["agent"] - 4,
                    w=max(b - a, 2),
                    h=lane_h * 2 + 16,
                    fill=TALK_OVER_COLOR,
                    op=".35",
                    title=title,
                )
            )
    lane = M('<rect x="{}" y="{}" width="{}" height="{}" fill="#f2f4f7" rx="3"/>')
    for key in ("agent", "customer"):
        parts.append(lane.format(left, rows[key], plot, lane_h))
    for u in utts:
        a, b = x(u["start"]), x(u["end"])
        text = u["text"] if len(u["text"]) <= 140 else u["text"][:137] + "…"
        parts.append(
            M(
                '<rect class="utt-bar" data-target="u{i}" x="{a:.1f}" y="{y}" width="{w:.1f}" height="{h}" '
                'rx="2" fill="{fill}"><title>{at} {who}: {text}</title></rect>'
            ).format(
                i=u["index"],
                a=a,
                y=rows[u["speaker"]],
                w=max(b - a, 1.5),
                h=lane_h,
                fill=SPEAKER_COLOR[u["speaker"]],
                at=clock(u["start"]),
                who=u["speaker"],
                text=text,
            )
        )
    # nudges and promises; marks at one moment are spread side by side, not drawn on each other
    marks = [e for e in events if e.get("type") in ("nudge", "record")]
    for e, cx in zip(marks, _spread([x(e["t"]) for e in marks], MARK_GAP)):
        cy = rows["nudges"] + 9
        if e.get("type") == "nudge":
            parts.append(
                M(
                    '<a class="nudge-link" href="#{target}" aria-label="{at} {words}: {message}">'
                    '<path class="nudge" data-target="{target}" d="{d}" fill="{fill}"{faint} stroke="{edge}" '
                    'stroke-width="1"><title>{at} {words}: {message}</title></path></a>'
                ).format(
                    target=nudge_anchor(e),
                    d=mark_path(SEVERITY_SHAPE.get(e["severity"], "diamond"), cx, cy),
                    fill=SEVERITY_COLOR.get(e["severity"], "#e8a33d"),
                    faint=M(' fill-opacity=".45"') if e.get("experimental") else "",
                    edge=MARK_EDGE,
                    at=clock(e["t"]),
                    words=_nudge_words(e),
                    message=e["message"],
                )
            )
        else:
            parts.append(
                M(
                    '<circle cx="{:.1f}" cy="{}" r="4" fill="#fff" stroke="{}" stroke-width="2">'
                    '<title>{} promise: {}</title></circle>'
                ).format(cx, cy, PROMISE_COLOR, clock(e["t"]), e["text"])
            )
    # customer tone band: each customer utterance's running tone, held until the next one
    cust = [u for u in utts if u["speaker"] == "customer" and (u.get("signals") or {}).get("tone_state")]
    parts.append(lane.format(left, rows["tone"], plot, lane_h))
    for i, u in enumerate(cust):
        state = u["signals"]["tone_state"]
        a = x(u["start"])
        b = x(cust[i + 1]["start"]) if i + 1 < len(cust) else x(dur)
        earlier = cust[i - 1]["signals"]["tone_state"]["label"] if i else None
        if b - a >= 44 and state["label"] != earlier:  # the tone in words where it changes and has room
            words = M('<text class="band" x="{:.1f}" y="{}" aria-hidden="true">{}</text>').format(
                a + 4, rows["tone"] + 13, state["label"]
            )
        else:
            words = M("")
        parts.append(
            M(
                '<rect x="{a:.1f}" y="{y}" width="{w:.1f}" height="{h}" fill="{fill}"><title>{at} customer '
                '{label} ({score:.2f}): {evidence}</title></rect>{words}'
            ).format(
                a=a,
                y=rows["tone"],
                w=max(b - a, 1),
                h=lane_h,
                fill=TONE_COLOR.get(state["label"], "#eee"),
                at=clock(u["start"]),
                label=state["label"],
                score=state["score"],
                evidence="; ".join(state.get("evidence", [])),
                words=words,
            )
        )
    # loudness and pace per side, one point per utterance
    for key, field, lo, hi, height in (("loud", "loudness_dbfs", -60.0, 0.0, 62), ("pace", "rate_sps", 0.0, 8.0, 50)):
        top = rows[key]
        values = [v for u in utts if (v := (u.get("signals") or {}).get(field)) is not None]
        if values:  # fit the scale to the call, in whole steps, so changes show
            unit = 5.0 if key == "loud" else 1.0
            lo = max(lo, unit * ((min(values) - unit / 2) // unit))
            hi = min(hi, unit * -((-(max(values) + unit / 2)) // unit))
            if hi - lo < 2 * unit:
                hi, lo = hi + unit, lo - unit
        parts.append(
            M('<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#eef0f3"/>').format(
                left, top, plot, height
            )
        )
        parts.append(
            M(
                '<text class="lbl" x="{x}" y="{y1}" text-anchor="end">{hi:g}</text>'
                '<text class="lbl" x="{x}" y="{y2}" text-anchor="end">{lo:g}</text>'
            ).format(x=left - 4, y1=top + 9, hi=hi, y2=top + height, lo=lo)
        )
        for speaker in ("agent", "customer"):
            pts = []
            for u in utts:
                v = (u.get("signals") or {}).get(field)
                if u["speaker"] != speaker or v is None:
                    continue
                vy = top + height - height * (min(max(v, lo), hi) - lo) / (hi - lo)
                pts.append((x((u["start"] + u["end"]) / 2), vy, v, u))
            if len(pts) > 1:
                path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in pts)
                parts.append(  # the customer's line dashed: the two sides apart without their colours
                    M(
                        '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.6" stroke-opacity=".8"{}/>'
                    ).format(
                        path, SPEAKER_COLOR[speaker], M(' stroke-dasharray="5 3"') if speaker == "customer" else ""
                    )
                )
            for px, py, v, u in pts:
                parts.append(
                    M(
                        '<circle cx="{:.1f}" cy="{:.1f}" r="2.6" fill="{}"><title>{} {}: {:.1f} {}</title></circle>'
                    ).format(
                        px,
                        py,
                        SPEAKER_COLOR[speaker],
                        clock(u["start"]),
                        speaker,
                        v,
                        "dBFS" if key == "loud" else "syllables/s",
                    )
                )
        if not any((u.get("signals") or {}).get(field) is not None for u in utts):
            parts.append(
                M('<text class="lbl" x="{}" y="{}">no audio measure (transcript input)</text>').format(
                    left + 8, top + height / 2 + 4
                )
            )
    parts.append(M("</svg>"))
    return M("").join(parts)


def legend() -> list[dict[str, Any]]:
    """The timeline's key, each entry a small drawing of what it names (report.html.j2 draws it)."""
    out: list[dict[str, Any]] = [
        {"label": "agent (solid line)", "kind": "side", "fill": SPEAKER_COLOR["agent"], "dash": ""},
        {"label": "customer (dashed line)", "kind": "side", "fill": SPEAKER_COLOR["customer"], "dash": "4 2"},
    ]
    for sev in ("high", "medium", "low"):
        out.append(
            {"label": f"{sev} nudge", "kind": "mark", "fill": SEVERITY_COLOR[sev], "edge": MARK_EDGE,
             "d": mark_path(SEVERITY_SHAPE[sev], 8, 9)}
        )  # fmt: skip
    out.append({"label": "promise", "kind": "promise", "fill": "#fff", "edge": PROMISE_COLOR})
    out += [{"label": f"customer {k}", "kind": "band", "fill": v, "opacity": 1} for k, v in TONE_COLOR.items()]
    out.append({"label": "dead air", "kind": "band", "fill": DEAD_AIR_COLOR, "opacity": 0.5})
    out.append({"label": "talk-over", "kind": "band", "fill": TALK_OVER_COLOR, "opacity": 0.5})
    return out


ONE_SIDE = "one side only"  # a figure between the sides, on a recording of one side (CallStats.one_side)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def _parts() -> Any:
    """The section macros of templates/parts.html.j2."""
    return environment().get_template("parts.html.j2").module


def _stat_cards(s: CallStats) -> list[dict[str, Any]]:
    ratio = s.talk_ratio
    both = s.one_side is None  # a recording of one side: nothing between the sides is measured
    cards = [
        ("Duration", clock(s.duration_s), False),
        (
            "Talk ratio agent / customer",
            f"{_pct(ratio)} / {_pct(None if ratio is None else 1 - ratio)}" if both else ONE_SIDE,
            False,
        ),
        ("Dead air (seconds)", f"{s.dead_air} ({s.dead_air_s:.0f})" if both else ONE_SIDE, s.dead_air > 0),
        (
            "Talk-over by the agent / customer",
            f"{s.agent_talk_overs} / {s.talk_overs - s.agent_talk_overs}" if both else ONE_SIDE,
            s.agent_talk_overs > 0,
        ),
        ("Nudges", str(s.nudges), s.nudges > 0),
        ("Promises (no time frame)", f"{s.promises} ({s.promises_uncommitted})", s.promises_uncommitted > 0),
        ("Customer tone peak", s.customer_peak_tone, s.customer_peak_tone == "angry"),
        ("Needs a listen (score)", f"{s.listen_score:g}", s.listen_score >= 5),
    ]
    return [
        {"key": k, "value": v, "warn": warn, "ratio": ratio if k.startswith("Talk ratio") else None}
        for k, v, warn in cards
    ]


def stats_html(s: CallStats) -> Markup:
    return Markup(_parts().stats_cards(_stat_cards(s)))


def _utterances(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transcript's rows: each utterance's text with its evidence marked, its measures, its nudges."""
    utts = [e for e in events if e.get("type") == "utterance"]
    nudges = [e for e in events if e.get("type") == "nudge"]
    marks: dict[int, list[tuple[str, str, str]]] = {}
    for n in nudges:
        for ev in n.get("evidence", []):
            for phrase in ev.get("matched", []):
                marks.setdefault(ev["utterance_index"], []).append((phrase, n["severity"], n["rule"]))
    fired_at: dict[int, list[dict[str, Any]]] = {}
    for n in nudges:
        fired_at.setdefault(n["utterance_index"], []).append(n)
    rows = []
    for u in utts:
        sig = u.get("signals") or {}
        meta = []
        if u.get("confidence") is not None:
            meta.append(f"heard {u['confidence']:.0%} sure")
        if sig.get("loudness_dbfs") is not None:
            meta.append(f"{sig['loudness_dbfs']:.0f} dBFS")
        if sig.get("rate_sps") is not None:
            meta.append(f"{sig['rate_sps']:.1f} syll./s")
        tone = sig.get("tone")
        if tone and tone.get("label") != "calm":
            meta.append(f"tone {tone['label']}")
        rows.append(
            {
                "index": u["index"],
                "speaker": u["speaker"],
                "start": u["start"],
                "meta": meta,
                "text": highlight(u["text"], marks.get(u["index"], [])),
                "nudges": fired_at.get(u["index"], []),
            }
        )
    return rows


def transcript_html(events: Sequence[dict[str, Any]]) -> Markup:
    return Markup(_parts().transcript(_utterances(events)))


def promises_html(events: Sequence[dict[str, Any]]) -> Markup:
    return Markup(_parts().promises([e for e in events if e.get("type") == "record"]))


def _coaching(events: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return next((e for e in reversed(events) if e.get("type") == "coaching"), None)


def coaching_html(events: Sequence[dict[str, Any]]) -> Markup:
    """The agent's call summary (the ``coaching`` event), as the agent saw it in the sidebar."""
    return Markup(_parts().coaching(_coaching(events), NO_PRAISE))


def _notes(events: Sequence[dict[str, Any]], stats: CallStats, end: Mapping[str, Any]) -> list[str]:
    """The report's notes under its figures: the call's warnings and errors, and once for a call
    of one side, what was left out (with the silent channel as its reason, not a note of its own)."""
    notes = [
        e["message"]
        for e in events
        if e.get("type") == "status" and e.get("level") in ("warning", "error") and e.get("code") != "silent_channel"
    ]
    one_side = end.get("one_side")
    if one_side:
        notes.append(stats.warnings.get(f"{one_side}_only") or one_side_note(one_side))
    return notes


def render_report(call: CallInput, events: Sequence[dict[str, Any]], stats: CallStats) -> str:
    """The whole report page: templates/report.html.j2 with report.css and report.js inlined."""
    end: Mapping[str, Any] = next((e for e in reversed(events) if e.get("type") == "call_end"), {})
    first: dict[str, str] = {}  # each rule's first nudge: its row in "Nudges per rule" links there
    for e in events:
        if e.get("type") == "nudge":
            first.setdefault(e["rule"], "#" + nudge_anchor(e))
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            call_id=call.id,
            kind=call.kind,
            files=" + ".join(str(f) for f in call.files),
            masking={"on": " · personal data masked", "off": " · masking off (--no-mask)"}.get(
                str(end.get("masking")), ""
            ),
            cards=_stat_cards(stats),
            notes=_notes(events, stats, end),
            coaching=_coaching(events),
            no_praise=NO_PRAISE,
            timeline=timeline_svg(events, stats.duration_s),
            moments=timeline_moments(events),
            legend=legend(),
            by_rule=[(rule, count, first.get(rule)) for rule, count in stats.nudges_by_rule.items()],
            promises=[e for e in events if e.get("type") == "record"],
            utterances=_utterances(events),
            data={"call": call.id, "stats": stats.to_json()},
            css=asset("report.css"),
            js=asset("report.js"),
        )
    )
