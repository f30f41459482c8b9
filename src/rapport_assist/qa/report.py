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

import html
import json
import re
from typing import Any, Sequence

from .. import timefmt
from ..coaching import NO_PRAISE, time_words
from .inputs import CallInput
from .stats import CallStats

SEVERITY_COLOR = {"high": "#d64545", "medium": "#e8a33d", "low": "#6b8fb8"}
SPEAKER_COLOR = {"agent": "#2f6fb3", "customer": "#c2571a"}
TONE_COLOR = {"calm": "#cfe8d5", "tense": "#f6d58e", "angry": "#ef9a9a"}
TALK_OVER_COLOR = "#7a5af8"  # violet: apart from the angry band's pink and the high nudge's red
MARK_GAP = 14.0  # px between the centres of nudge/promise marks drawn at (nearly) one moment

_CSS = """
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f7f8fa;--agent:#2f6fb3;--customer:#c2571a}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1d2330;color:#fff;padding:16px 28px}header h1{margin:0;font-size:20px;font-weight:600}
header .sub{color:#b8c0cc;font-size:12px;margin-top:2px;word-break:break-all}
main{max-width:1180px;margin:0 auto;padding:18px 28px 40px}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:0 0 16px}
h2{font-size:15px;margin:0 0 10px;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(118px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:8px 10px}.card .v{font-size:19px;font-weight:600;white-space:nowrap}
.card .k{color:var(--muted);font-size:12px}.card.warn .v{color:#b42318}
.ratio{height:8px;border-radius:4px;background:var(--customer);overflow:hidden;margin-top:6px}.ratio>div{height:100%;background:var(--agent)}
svg.timeline{width:100%;height:auto;display:block;font-size:11px}svg .lbl{fill:var(--muted)}
svg .nudge{cursor:pointer}svg .nudge:hover{stroke:#000;stroke-width:1.5}
.legend{display:flex;flex-wrap:wrap;gap:14px;color:var(--muted);font-size:12px;margin-top:6px}
.legend i{display:inline-block;width:12px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.utt{display:grid;grid-template-columns:64px 86px 1fr;gap:8px;padding:6px 4px;border-top:1px solid var(--line)}
.utt .t{color:var(--muted);font-variant-numeric:tabular-nums}.utt .s{font-weight:600;text-transform:capitalize}
.utt.agent .s{color:var(--agent)}.utt.customer .s{color:var(--customer)}
.utt .meta{color:var(--muted);font-size:11px}
mark{background:#fde68a;border-radius:3px;padding:0 2px}mark.high{background:#fecaca}mark.low{background:#dbeafe}
.nudges{grid-column:3}.nudge-card{border-left:4px solid #e8a33d;background:#fffaf0;border-radius:6px;padding:6px 10px;margin:4px 0}
.nudge-card.high{border-color:#d64545;background:#fff5f5}.nudge-card.low{border-color:#6b8fb8;background:#f5f8ff}
.nudge-card b{font-weight:600}.nudge-card .why{color:var(--muted);font-size:12px}.nudge-card .ev{font-size:12px;margin-top:2px}
.flash{animation:flash 1.2s}@keyframes flash{0%{background:#fff3b0}100%{background:transparent}}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-top:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:500;font-size:12px;border-top:0}.ok{color:#067647}.no{color:#b42318}
.toolbar{float:right;font-size:12px;color:var(--muted)}.hidden{display:none}
.status{color:#b42318}
.coach h3{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.4px;margin:10px 0 4px}
.coach .item{margin:4px 0}.coach .well b{color:#067647}.coach .next b{color:#2f6fb3}
.coach .q{display:block;color:var(--muted);font-style:italic;font-size:12px}.coach .closing{color:var(--muted);margin-top:8px}
"""

_JS = """
(function(){
  var root=document.documentElement;
  document.querySelectorAll('svg .nudge, svg .utt-bar').forEach(function(el){
    el.addEventListener('click',function(){
      var target=document.getElementById(el.getAttribute('data-target'));
      if(!target)return;
      target.scrollIntoView({behavior:'smooth',block:'center'});
      target.classList.remove('flash');void target.offsetWidth;target.classList.add('flash');
    });
  });
  var only=document.getElementById('only-nudged');
  if(only){only.addEventListener('change',function(){
    document.querySelectorAll('.utt').forEach(function(u){
      u.classList.toggle('hidden',only.checked&&!u.querySelector('.nudge-card, mark'));
    });
  });}
  var svg=document.querySelector('svg.timeline');
  var bars=svg?svg.querySelectorAll('.utt-bar').length:0;
  root.setAttribute('data-timeline-bars',String(bars));
  root.setAttribute('data-ready',svg&&svg.getBBox().width>0?'1':'0');
})();
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def clock(t: float | None) -> str:
    if t is None:
        return "–"
    return timefmt.clock(t)


def highlight(text: str, phrases: Sequence[tuple[str, str, str]]) -> str:
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
    out, at = [], 0
    for a, b, cls, title in spans:
        out.append(_esc(text[at:a]))
        out.append(f'<mark class="{cls}" title="{_esc(title)}">{_esc(text[a:b])}</mark>')
        at = b
    out.append(_esc(text[at:]))
    return "".join(out)


def _ticks(duration: float) -> float:
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800):
        if duration / step <= 12:
            return step
    return 3600


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


def timeline_svg(events: Sequence[dict[str, Any]], duration: float) -> str:
    """The call's timeline as inline SVG (scales with the page width)."""
    W, left, right = 1100, 92, 14
    plot = W - left - right
    dur = max(duration, 1.0)

    def x(t: float) -> float:
        return left + plot * min(max(t, 0.0), dur) / dur

    rows = {"agent": 24, "customer": 50, "nudges": 84, "tone": 112, "loud": 150, "pace": 226}
    lane_h = 18
    H = 300
    parts: list[str] = [f'<svg class="timeline" viewBox="0 0 {W} {H}" role="img" aria-label="Call timeline">']
    # grid and axis
    step = _ticks(dur)
    t = 0.0
    while t <= dur + 1e-6:
        parts.append(f'<line x1="{x(t):.1f}" y1="14" x2="{x(t):.1f}" y2="{H - 22}" stroke="#eef0f3"/>')
        parts.append(f'<text class="lbl" x="{x(t):.1f}" y="{H - 8}" text-anchor="middle">{clock(t)[:-2]}</text>')
        t += step
    labels = [("agent", "Agent"), ("customer", "Customer"), ("nudges", "Nudges"), ("tone", "Customer tone")]
    for key, text in labels:
        parts.append(f'<text class="lbl" x="4" y="{rows[key] + 13}">{text}</text>')
    parts.append(f'<text class="lbl" x="4" y="{rows["loud"] + 12}">Loudness</text>'
                 f'<text class="lbl" x="4" y="{rows["loud"] + 26}">(dBFS)</text>')
    parts.append(f'<text class="lbl" x="4" y="{rows["pace"] + 12}">Pace</text>'
                 f'<text class="lbl" x="4" y="{rows["pace"] + 26}">(syll./s)</text>')
    utts = [e for e in events if e.get("type") == "utterance"]
    # dead air and talk-over behind everything
    for e in events:
        if e.get("type") == "signal" and e.get("kind") == "dead_air":
            a, b = x(e["since"]), x(e["since"] + e["silence_s"])
            parts.append(f'<rect x="{a:.1f}" y="{rows["agent"] - 4}" width="{max(b - a, 1.5):.1f}" height="{lane_h * 2 + 16}" '
                         f'fill="#98a2b3" fill-opacity=".25"><title>dead air {e["silence_s"]:.0f} s at {clock(e["since"])}'
                         f'{" (hold announced)" if e.get("hold_announced") else ""}</title></rect>')
        if e.get("type") == "signal" and e.get("kind") == "talk_over":
            a, b = x(e["start"]), x(e["start"] + e["overlap_s"])
            parts.append(f'<rect x="{a:.1f}" y="{rows["agent"] - 4}" width="{max(b - a, 2):.1f}" height="{lane_h * 2 + 16}" '
                         f'fill="{TALK_OVER_COLOR}" fill-opacity=".35"><title>{_esc(e["speaker"])} talked over the {_esc(e["over"])} '
                         f'for {e["overlap_s"]:.1f} s at {clock(e["start"])}</title></rect>')
    for key in ("agent", "customer"):
        parts.append(f'<rect x="{left}" y="{rows[key]}" width="{plot}" height="{lane_h}" fill="#f2f4f7" rx="3"/>')
    for u in utts:
        a, b = x(u["start"]), x(u["end"])
        y = rows[u["speaker"]]
        text = u["text"] if len(u["text"]) <= 140 else u["text"][:137] + "…"
        parts.append(f'<rect class="utt-bar" data-target="u{u["index"]}" x="{a:.1f}" y="{y}" width="{max(b - a, 1.5):.1f}" '
                     f'height="{lane_h}" rx="2" fill="{SPEAKER_COLOR[u["speaker"]]}"><title>{clock(u["start"])} '
                     f'{_esc(u["speaker"])}: {_esc(text)}</title></rect>')
    # nudges and promises; marks at one moment are spread side by side, not drawn on each other
    marks = [e for e in events if e.get("type") in ("nudge", "record")]
    for e, cx in zip(marks, _spread([x(e["t"]) for e in marks], MARK_GAP)):
        cy = rows["nudges"] + 9
        if e.get("type") == "nudge":
            color = SEVERITY_COLOR.get(e["severity"], "#e8a33d")
            parts.append(f'<path class="nudge" data-target="n{e["utterance_index"]}-{_esc(e["rule"])}" '
                         f'd="M{cx:.1f},{cy - 8} L{cx + 7:.1f},{cy + 6} L{cx - 7:.1f},{cy + 6} Z" fill="{color}"'
                         f'{" fill-opacity=&quot;.45&quot;" if e.get("experimental") else ""}>'
                         f'<title>{clock(e["t"])} {_esc(e["rule"])}: {_esc(e["message"])}</title></path>')
        else:
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy}" r="4" fill="#fff" stroke="#067647" stroke-width="2">'
                         f'<title>{clock(e["t"])} promise: {_esc(e["text"])}</title></circle>')
    # customer tone band: each customer utterance's running tone, held until the next one
    cust = [u for u in utts if u["speaker"] == "customer" and (u.get("signals") or {}).get("tone_state")]
    parts.append(f'<rect x="{left}" y="{rows["tone"]}" width="{plot}" height="{lane_h}" fill="#f2f4f7" rx="3"/>')
    for i, u in enumerate(cust):
        state = u["signals"]["tone_state"]
        a = x(u["start"])
        b = x(cust[i + 1]["start"]) if i + 1 < len(cust) else x(dur)
        parts.append(f'<rect x="{a:.1f}" y="{rows["tone"]}" width="{max(b - a, 1):.1f}" height="{lane_h}" '
                     f'fill="{TONE_COLOR.get(state["label"], "#eee")}"><title>{clock(u["start"])} customer '
                     f'{_esc(state["label"])} ({state["score"]:.2f}): {_esc("; ".join(state.get("evidence", [])))}</title></rect>')
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
        parts.append(f'<rect x="{left}" y="{top}" width="{plot}" height="{height}" fill="none" stroke="#eef0f3"/>')
        parts.append(f'<text class="lbl" x="{left - 4}" y="{top + 9}" text-anchor="end">{hi:g}</text>'
                     f'<text class="lbl" x="{left - 4}" y="{top + height}" text-anchor="end">{lo:g}</text>')
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
                parts.append(f'<polyline points="{path}" fill="none" stroke="{SPEAKER_COLOR[speaker]}" stroke-width="1.6" '
                             f'stroke-opacity=".8"/>')
            for px, py, v, u in pts:
                parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.6" fill="{SPEAKER_COLOR[speaker]}">'
                             f'<title>{clock(u["start"])} {speaker}: {v:.1f} {"dBFS" if key == "loud" else "syllables/s"}'
                             f'</title></circle>')
        if not any((u.get("signals") or {}).get(field) is not None for u in utts):
            parts.append(f'<text class="lbl" x="{left + 8}" y="{top + height / 2 + 4}">no audio measure '
                         f'(transcript input)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def stats_html(s: CallStats) -> str:
    ratio = s.talk_ratio
    bar = f'<div class="ratio"><div style="width:{(ratio or 0) * 100:.0f}%"></div></div>' if ratio is not None else ""
    cards = [
        ("Duration", clock(s.duration_s), False),
        ("Talk ratio agent / customer", f"{_pct(ratio)} / {_pct(None if ratio is None else 1 - ratio)}{bar}", False),
        ("Dead air (seconds)", f"{s.dead_air} ({s.dead_air_s:.0f})", s.dead_air > 0),
        ("Talk-over by the agent / customer", f"{s.agent_talk_overs} / {s.talk_overs - s.agent_talk_overs}",
         s.agent_talk_overs > 0),
        ("Nudges", str(s.nudges), s.nudges > 0),
        ("Promises (no time frame)", f"{s.promises} ({s.promises_uncommitted})", s.promises_uncommitted > 0),
        ("Customer tone peak", s.customer_peak_tone, s.customer_peak_tone == "angry"),
        ("Needs a listen (score)", f"{s.listen_score:g}", s.listen_score >= 5),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card{" warn" if warn else ""}"><div class="v">{v}</div><div class="k">{_esc(k)}</div></div>'
        for k, v, warn in cards) + "</div>"


def transcript_html(events: Sequence[dict[str, Any]]) -> str:
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
    out = ['<div class="toolbar"><label><input type="checkbox" id="only-nudged"> only utterances with nudges</label></div>']
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
        cards = []
        for n in fired_at.get(u["index"], []):
            evid = []
            for ev in n.get("evidence", []):
                said = ", ".join(f"“{_esc(m)}”" for m in ev.get("matched", []))
                what = f"{_esc(ev['speaker'])} at {clock(ev['start'])}" + (f": {said}" if said else "")
                if ev.get("note"):
                    what += f" <span class=\"why\">({_esc(ev['note'])})</span>"
                evid.append(f'<div class="ev">because {what}</div>')
            rewrite = f'<div class="ev">try: {_esc(n["rewrite"])}</div>' if n.get("rewrite") else ""
            exp = " <span class=\"why\">(experimental: not shown to agents)</span>" if n.get("experimental") else ""
            cards.append(f'<div class="nudge-card {_esc(n["severity"])}" id="n{u["index"]}-{_esc(n["rule"])}">'
                         f'<b>{_esc(n["rule"])}</b> · {_esc(n["severity"])}{exp} — {_esc(n["message"])}'
                         f'{"".join(evid)}{rewrite}<div class="why">{_esc(n.get("why", ""))}</div></div>')
        out.append(f'<div class="utt {_esc(u["speaker"])}" id="u{u["index"]}"><div class="t">{clock(u["start"])}</div>'
                   f'<div class="s">{_esc(u["speaker"])}</div><div>{highlight(u["text"], marks.get(u["index"], []))}'
                   f'<div class="meta">#{u["index"]} · {" · ".join(meta)}</div></div>'
                   + (f'<div></div><div></div><div class="nudges">{"".join(cards)}</div>' if cards else "") + "</div>")
    if not utts:
        out.append("<p>No speech was found in this call.</p>")
    return "".join(out)


def promises_html(events: Sequence[dict[str, Any]]) -> str:
    recs = [e for e in events if e.get("type") == "record"]
    if not recs:
        return "<p>No promises were made on this call.</p>"
    rows = "".join(
        f'<tr><td>{clock(r["t"])}</td><td>{_esc(r["speaker"])}</td><td><a href="#u{r["utterance_index"]}">'
        f'{_esc(r["text"])}</a></td><td>{_esc(r["time"] or "–")}</td>'
        f'<td class="{"ok" if r["committed"] else "no"}">{"yes" if r["committed"] else "no time frame"}</td></tr>'
        for r in recs)
    return f"<table><tr><th>at</th><th>who</th><th>promise</th><th>when</th><th>committed</th></tr>{rows}</table>"


def coaching_html(events: Sequence[dict[str, Any]]) -> str:
    """The agent's call summary (the ``coaching`` event), as the agent saw it in the sidebar."""
    c = next((e for e in reversed(events) if e.get("type") == "coaching"), None)
    if c is None:
        return "<p>No call summary in this call's events.</p>"

    def item(line: dict[str, Any], kind: str, quote: str) -> str:
        q = f'<span class="q">{_esc(quote)}</span>' if quote else ""
        return f'<div class="item {kind}"><b>{_esc(line["title"])}</b> — {_esc(line["text"])}{q}</div>'

    well = "".join(item(line, "well", f"you said: “{line['quote']}”" if line.get("quote") else "")
                   for line in c.get("went_well", []))
    out = ["<h3>What went well</h3>", well or f"<p>{_esc(NO_PRAISE)}</p>"]
    if c.get("try_next"):
        out += ["<h3>One thing to try next time</h3>", item(c["try_next"], "next", c["try_next"].get("quote", ""))]
    if c.get("promises"):
        rows = "".join(f'<li>“{_esc(p["text"])}” — <span class="{"ok" if p["committed"] else "no"}">'
                       f'{_esc(time_words(p["time"]) or "no time given")}</span></li>' for p in c["promises"])
        out += ["<h3>Promises to log</h3>", f"<ul>{rows}</ul>"]
    out.append(f'<p class="closing">{_esc(c.get("closing", ""))}</p>')
    return '<div class="coach">' + "".join(out) + "</div>"


def render_report(call: CallInput, events: Sequence[dict[str, Any]], stats: CallStats) -> str:
    """The whole report page."""
    statuses = [e for e in events if e.get("type") == "status" and e.get("level") in ("warning", "error")]
    notes = "".join(f'<p class="status">{_esc(s["message"])}</p>' for s in statuses)
    files = " + ".join(str(f) for f in call.files)
    end = next((e for e in reversed(events) if e.get("type") == "call_end"), {})
    masking = {"on": " · personal data masked", "off": " · masking off (--no-mask)"}.get(end.get("masking"), "")
    by_rule = "".join(f"<tr><td>{_esc(k)}</td><td>{v}</td></tr>" for k, v in stats.nudges_by_rule.items())
    legend = ('<div class="legend"><span><i style="background:#2f6fb3"></i>agent</span>'
              '<span><i style="background:#c2571a"></i>customer</span>'
              '<span><i style="background:#d64545"></i>high</span><span><i style="background:#e8a33d"></i>medium</span>'
              '<span><i style="background:#6b8fb8"></i>low nudge</span>'
              '<span><i style="background:#fff;border:2px solid #067647"></i>promise</span>'
              '<span><i style="background:#cfe8d5"></i>calm</span><span><i style="background:#f6d58e"></i>tense</span>'
              '<span><i style="background:#ef9a9a"></i>angry</span>'
              '<span><i style="background:#98a2b3;opacity:.5"></i>dead air</span>'
              f'<span><i style="background:{TALK_OVER_COLOR};opacity:.5"></i>talk-over</span></div>')
    data = json.dumps({"call": call.id, "stats": stats.to_json()}).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>QA report — {_esc(call.id)}</title><style>{_CSS}</style></head>
<body><header><h1>Call {_esc(call.id)}</h1><div class="sub">{_esc(call.kind)} · {_esc(files)}{masking}</div></header>
<main>
<section><h2>Call statistics</h2>{stats_html(stats)}{notes}</section>
<section id="coaching"><h2>Call summary for the agent</h2>{coaching_html(events)}</section>
<section><h2>Timeline</h2>{timeline_svg(events, stats.duration_s)}{legend}</section>
<section><h2>Nudges per rule</h2>{"<table>" + by_rule + "</table>" if by_rule else "<p>No nudges.</p>"}</section>
<section><h2>Promise list</h2>{promises_html(events)}</section>
<section><h2>Transcript</h2>{transcript_html(events)}</section>
</main>
<script type="application/json" id="call-data">{data}</script>
<script>{_JS}</script>
</body></html>
"""
