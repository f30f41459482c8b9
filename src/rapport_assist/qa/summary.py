"""The summary across calls: ``summary.csv`` (one row per call) and ``summary.html`` (calls with
warnings first, nudges per rule per call, the calls that most need a listen, trends by day, failed
calls with the reason).

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
from .report import ONE_SIDE, asset, clock, environment

_DATE = re.compile(r"(20\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)")
LISTEN_TOP = 10
# short names of a call's warnings (``CallStats.warnings``); the summary shows the full text on hover
WARNING_LABELS = {
    "no_speech": "silent",
    "audio_truncated": "cut short",
    "agent_only": "agent only",
    "customer_only": "customer only",
    "extra_channels": "extra channels",
    "downmixed": "side mixed down",
    "earlier_version": "earlier version",
    "silent_channel": "silent channel",
    # (sources.OTHER_PARTICIPANTS) a system's, a bot's or a supervisor's turns left out or read as the agent's
    "other_participants": "other participants",
}


def warning_label(code: str) -> str:
    return WARNING_LABELS.get(code, code.replace("_", " "))


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


BOTH_SIDES_COLUMNS = ("talk_ratio_agent", "dead_air", "dead_air_s", "talk_overs", "agent_talk_overs")


def summary_rows(
    calls: Sequence[CallInput], outcomes: Sequence[CallOutcome], out_dir: Path | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """The CSV's header and rows, one per call (calls not processed yet are listed as 'pending').
    Given ``out_dir``, a call's ``report`` is there only when its report is (not with ``--no-report``)."""
    by_id = {o.call_id: o for o in outcomes}
    rules = sorted({r for o in outcomes if o.stats for r in o.stats.nudges_by_rule})
    header = [
        "call",
        "status",
        "date",
        "files",
        "audio_s",
        "duration_s",
        "utterances",
        "nudges",
        *[f"nudges:{r}" for r in rules],
        "talk_ratio_agent",
        "dead_air",
        "dead_air_s",
        "talk_overs",
        "agent_talk_overs",
        "promises",
        "promises_uncommitted",
        "customer_peak_tone",
        "listen_score",
        "warnings",
        "report",
        "error",
    ]
    rows = []
    for call in calls:
        o = by_id.get(call.id)
        day = call_date(call)
        row: dict[str, Any] = {
            "call": call.id,
            "status": "pending" if o is None else ("done" if o.status == "skipped" else o.status),
            "date": day.isoformat() if day else "",
            "files": " + ".join(map(str, call.files)),
        }
        s = o.stats if o else None
        report = f"calls/{call.id}/report.html"
        if s is not None:
            row.update(
                {
                    "audio_s": "" if s.audio_s is None else round(s.audio_s, 2),
                    "duration_s": round(s.duration_s, 2),
                    "utterances": s.utterances,
                    "nudges": s.nudges,
                    **{f"nudges:{r}": s.nudges_by_rule.get(r, 0) for r in rules},
                    "talk_ratio_agent": "" if s.talk_ratio is None else round(s.talk_ratio, 3),
                    "dead_air": s.dead_air,
                    "dead_air_s": round(s.dead_air_s, 1),
                    "talk_overs": s.talk_overs,
                    "agent_talk_overs": s.agent_talk_overs,
                    # a recording of one side: nothing between the sides was measured
                    **(dict.fromkeys(BOTH_SIDES_COLUMNS, ONE_SIDE) if s.one_side is not None else {}),
                    "promises": s.promises,
                    "promises_uncommitted": s.promises_uncommitted,
                    "customer_peak_tone": s.customer_peak_tone,
                    "listen_score": s.listen_score,
                    "warnings": "; ".join(warning_label(code) for code in s.warnings),
                    "report": report if out_dir is None or (out_dir / report).is_file() else "",
                }
            )
        if o is not None and o.error:
            row["error"] = o.error
        rows.append({k: row.get(k, "") for k in header})
    return header, rows


def _spark(values: Sequence[float], width: int = 160, height: int = 28) -> list[tuple[float, float]]:
    """The points of a sparkline of ``values`` (drawn by summary.html.j2's spark macro)."""
    if not values:
        return []
    hi = max(values) or 1.0
    n = len(values)
    return [
        (4 + (width - 8) * (i / (n - 1) if n > 1 else 0.5), height - 4 - (height - 8) * v / hi)
        for i, v in enumerate(values)
    ]


def summary_html(
    header: list[str],
    rows: list[dict[str, Any]],
    title: str = "QA summary",
    warnings: dict[str, dict[str, str]] | None = None,
) -> str:
    """The summary page; ``warnings``: each call's warnings in full (code -> text), shown with its
    short names from the rows."""
    rules = [h.split(":", 1)[1] for h in header if h.startswith("nudges:")]
    done = [r for r in rows if r["status"] == "done"]
    warned = [
        (r, [(warning_label(code), text) for code, text in (warnings or {}).get(r["call"], {}).items()])
        for r in done
        if r.get("warnings")
    ]
    failed = [r for r in rows if r["status"] == "error"]
    pending = [r for r in rows if r["status"] == "pending"]
    audio = sum(float(r["audio_s"]) for r in done if r["audio_s"] != "")
    total_nudges = sum(int(r["nudges"]) for r in done)
    cards = [
        ("Calls", f"{len(done)} of {len(rows)}", False),
        ("Audio", clock(audio) if audio else "–", False),
        ("Nudges", str(total_nudges), False),
        ("Nudges per call", f"{total_nudges / len(done):.1f}" if done else "–", False),
        ("With warnings", str(len(warned)), bool(warned)),
        ("Failed", str(len(failed)), bool(failed)),
        ("Not done yet", str(len(pending)), False),
    ]
    ranked = sorted(done, key=lambda r: (-float(r["listen_score"] or 0), r["call"]))[:LISTEN_TOP]
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in done:
        by_day[r["date"] or "unknown"].append(r)
    days = sorted(by_day)
    trends = []
    for rule in ["(all)"] + rules if days else []:
        col = "nudges" if rule == "(all)" else "nudges:" + rule
        per_call = [sum(int(r[col]) for r in by_day[d]) / len(by_day[d]) for d in days]
        trends.append((rule, per_call, _spark(per_call)))
    return (
        environment()
        .get_template("summary.html.j2")
        .render(
            title=title,
            rows=rows,
            cards=cards,
            ranked=ranked,
            rules=rules,
            done=done,
            warned=warned,
            total_nudges=total_nudges,
            totals=[sum(int(r["nudges:" + k]) for r in done) for k in rules],
            days=[(d, len(by_day[d])) for d in days],
            trends=trends,
            failed=failed,
            pending=pending,
            css=asset("report.css") + asset("summary.css"),
        )
    )


def write_summary(out_dir: Path, calls: Sequence[CallInput], outcomes: Sequence[CallOutcome]) -> tuple[Path, Path]:
    header, rows = summary_rows(calls, outcomes, out_dir)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_path, html_path = out_dir / "summary.csv", out_dir / "summary.html"
    write_atomic(csv_path, buf.getvalue())
    warnings = {o.call_id: o.stats.warnings for o in outcomes if o.stats is not None and o.stats.warnings}
    write_atomic(html_path, summary_html(header, rows, warnings=warnings))
    return csv_path, html_path
