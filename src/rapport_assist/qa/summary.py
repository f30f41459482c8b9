"""The summary across calls: ``summary.csv`` (one row per call) and ``summary.html`` (nudges per
rule per call, the calls that most need a listen, trends by day, failed calls with the reason).

The counts come from each call's ``call.json``, whose statistics were computed from that call's
``events.jsonl`` (``stats.call_stats``): the summary and the event logs agree by construction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from ..fileio import write_atomic
from .inputs import CallInput
from .outcome import CallOutcome
from .report import _CSS, _esc, clock

_DATE = re.compile(r"(20\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)")
LISTEN_TOP = 10


def call_date(call: CallInput) -> dt.date | None:
    """The day of a call: a date in its file name (2026-11-23, 20261123), else the file's modification day."""
    for f in call.files:
        m = _DATE.search(f.name)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                pass
    try:
        return dt.date.fromtimestamp(call.files[0].stat().st_mtime)
    except OSError:
        return None


def summary_rows(calls: Sequence[CallInput], outcomes: Sequence[CallOutcome]) -> tuple[list[str], list[dict[str, Any]]]:
    """The CSV's header and rows, one per call (calls not processed yet are listed as 'pending')."""
    by_id = {o.call_id: o for o in outcomes}
    rules = sorted({r for o in outcomes if o.stats for r in o.stats.nudges_by_rule})
    header = ["call", "status", "date", "files", "audio_s", "duration_s", "utterances", "nudges",
              *[f"nudges:{r}" for r in rules], "talk_ratio_agent", "dead_air", "dead_air_s", "talk_overs",
              "agent_talk_overs", "promises", "promises_uncommitted", "customer_peak_tone", "listen_score",
              "report", "error"]
    rows = []
    for call in calls:
        o = by_id.get(call.id)
        day = call_date(call)
        row: dict[str, Any] = {"call": call.id, "status": "pending" if o is None else ("done" if o.status == "skipped" else o.status),
                               "date": day.isoformat() if day else "", "files": " + ".join(map(str, call.files))}
        s = o.stats if o else None
        if s is not None:
            row.update({"audio_s": "" if s.audio_s is None else round(s.audio_s, 2), "duration_s": round(s.duration_s, 2),
                        "utterances": s.utterances, "nudges": s.nudges,
                        **{f"nudges:{r}": s.nudges_by_rule.get(r, 0) for r in rules},
                        "talk_ratio_agent": "" if s.talk_ratio is None else round(s.talk_ratio, 3),
                        "dead_air": s.dead_air, "dead_air_s": round(s.dead_air_s, 1), "talk_overs": s.talk_overs,
                        "agent_talk_overs": s.agent_talk_overs, "promises": s.promises,
                        "promises_uncommitted": s.promises_uncommitted, "customer_peak_tone": s.customer_peak_tone,
                        "listen_score": s.listen_score, "report": f"calls/{call.id}/report.html"})
        if o is not None and o.error:
            row["error"] = o.error
        rows.append({k: row.get(k, "") for k in header})
    return header, rows


def _spark(values: Sequence[float], width: int = 160, height: int = 28) -> str:
    if not values:
        return ""
    hi = max(values) or 1.0
    n = len(values)
    pts = [(4 + (width - 8) * (i / (n - 1) if n > 1 else 0.5), height - 4 - (height - 8) * v / hi) for i, v in enumerate(values)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="#2f6fb3"/>' for x, y in pts)
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<polyline points="{line}" fill="none" stroke="#2f6fb3" stroke-width="1.5"/>{dots}</svg>')


def summary_html(header: list[str], rows: list[dict[str, Any]], title: str = "QA summary") -> str:
    rules = [h.split(":", 1)[1] for h in header if h.startswith("nudges:")]
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] == "error"]
    pending = [r for r in rows if r["status"] == "pending"]
    audio = sum(float(r["audio_s"]) for r in done if r["audio_s"] != "")
    total_nudges = sum(int(r["nudges"]) for r in done)
    cards = [("Calls", f"{len(done)} of {len(rows)}"), ("Audio", clock(audio) if audio else "–"),
             ("Nudges", str(total_nudges)), ("Nudges per call", f"{total_nudges / len(done):.1f}" if done else "–"),
             ("Failed", str(len(failed))), ("Not done yet", str(len(pending)))]
    parts = ['<section><h2>Overview</h2><div class="cards">' + "".join(
        f'<div class="card{" warn" if k == "Failed" and v != "0" else ""}"><div class="v">{_esc(v)}</div>'
        f'<div class="k">{_esc(k)}</div></div>' for k, v in cards) + "</div></section>"]
    # most need a listen
    ranked = sorted(done, key=lambda r: (-float(r["listen_score"] or 0), r["call"]))[:LISTEN_TOP]
    if ranked:
        body = "".join(
            f'<tr><td><a href="{_esc(r["report"])}">{_esc(r["call"])}</a></td><td>{_esc(r["listen_score"])}</td>'
            f'<td>{_esc(r["nudges"])}</td><td>{_esc(r["customer_peak_tone"])}</td><td>{_esc(r["dead_air"])}</td>'
            f'<td>{_esc(r["agent_talk_overs"])}</td><td>{_esc(r["promises_uncommitted"])}</td></tr>' for r in ranked)
        parts.append('<section><h2>Calls that most need a listen</h2><p class="k">Score: nudges weighted by severity '
                     '(high 3, medium 2, low 1), +3 angry customer (+1 tense), +1 per dead air, agent talk-over and '
                     'promise without a time frame.</p><table><tr><th>call</th><th>score</th><th>nudges</th>'
                     '<th>customer tone peak</th><th>dead air</th><th>agent talk-over</th><th>open promises</th></tr>'
                     f'{body}</table></section>')
    # nudges per rule per call
    head = "".join(f'<th title="{_esc(r)}">{_esc(r)}</th>' for r in rules)
    body = ""
    for r in rows:
        if r["status"] != "done":
            continue
        cells = "".join(f'<td class="{"z" if str(r["nudges:" + k]) == "0" else ""}">{_esc(r["nudges:" + k])}</td>' for k in rules)
        body += (f'<tr><td><a href="{_esc(r["report"])}">{_esc(r["call"])}</a></td><td>{_esc(r["date"])}</td>'
                 f'<td>{clock(float(r["audio_s"])) if r["audio_s"] != "" else "–"}</td><td>{_esc(r["nudges"])}</td>{cells}</tr>')
    totals = "".join(f'<td><b>{sum(int(r["nudges:" + k]) for r in done)}</b></td>' for k in rules)
    parts.append('<section><h2>Nudges per rule per call</h2><div style="overflow-x:auto"><table class="grid">'
                 f'<tr><th>call</th><th>date</th><th>length</th><th>all</th>{head}</tr>{body}'
                 f'<tr><td><b>total</b></td><td></td><td></td><td><b>{total_nudges}</b></td>{totals}</tr></table></div></section>')
    # trends by day
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in done:
        by_day[r["date"] or "unknown"].append(r)
    days = sorted(by_day)
    if days:
        trend_rows = ""
        for rule in ["(all)"] + rules:
            col = "nudges" if rule == "(all)" else "nudges:" + rule
            per_call = [sum(int(r[col]) for r in by_day[d]) / len(by_day[d]) for d in days]
            trend_rows += (f'<tr><td>{_esc(rule)}</td><td>{_spark(per_call)}</td>'
                           + "".join(f"<td>{v:.2f}</td>" for v in per_call) + "</tr>")
        day_head = "".join(f"<th>{_esc(d)}<br><span class='k'>{len(by_day[d])} calls</span></th>" for d in days)
        parts.append('<section><h2>Trends: nudges per call, by day</h2><div style="overflow-x:auto"><table>'
                     f'<tr><th>rule</th><th>trend</th>{day_head}</tr>{trend_rows}</table></div></section>')
    if failed:
        body = "".join(f'<tr><td>{_esc(r["call"])}</td><td>{_esc(r["files"])}</td><td class="no">{_esc(r["error"])}</td></tr>'
                       for r in failed)
        parts.append(f'<section><h2>Calls that failed</h2><table><tr><th>call</th><th>files</th><th>why</th></tr>'
                     f'{body}</table></section>')
    if pending:
        parts.append(f'<section><h2>Not processed yet</h2><p>{_esc(", ".join(r["call"] for r in pending))} — '
                     'run the same command again to finish them.</p></section>')
    css = _CSS + ".grid td,.grid th{text-align:center}.grid td:first-child{text-align:left}.z{color:#c0c5cc}.k{color:#667085;font-size:12px}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title><style>{css}</style>'
            f'</head><body><header><h1>{_esc(title)}</h1><div class="sub">{len(rows)} calls · summary.csv has the same '
            f'figures</div></header><main>{"".join(parts)}</main></body></html>\n')


def write_summary(out_dir: Path, calls: Sequence[CallInput], outcomes: Sequence[CallOutcome]) -> tuple[Path, Path]:
    header, rows = summary_rows(calls, outcomes)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_path, html_path = out_dir / "summary.csv", out_dir / "summary.html"
    write_atomic(csv_path, buf.getvalue())
    write_atomic(html_path, summary_html(header, rows))
    return csv_path, html_path
