"""``rules diff OLD NEW INPUTS…``: what a rule change does to past calls.

Both rule sets run over the same timelines (from the transcript cache, so a corpus recognized
once by ``qa`` diffs in seconds). A nudge is the same in both when its rule fired at the same
utterance; per rule the report lists the nudges that appear (only with NEW) and disappear
(only with OLD), each with its evidence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..annotate import Annotator
from ..pipeline import CallPipeline
from ..rules import RuleEngine, load_rules
from ..sources import TRANSCRIPT_READ_AHEAD, Timeline
from ..types import Nudge
from .corpus import call_timelines
from .inputs import CallInput
from .runner import QaSettings


@dataclass(frozen=True)
class NudgeChange:
    call: str
    change: str  # "+" appears with NEW, "-" disappears
    nudge: dict[str, Any]


@dataclass
class RuleDiff:
    rule: str
    appeared: list[NudgeChange] = field(default_factory=list)
    disappeared: list[NudgeChange] = field(default_factory=list)
    unchanged: int = 0
    in_old: bool = True
    in_new: bool = True


@dataclass
class DiffReport:
    calls: int
    rules: dict[str, RuleDiff]
    errors: list[tuple[str, str]]

    @property
    def changed(self) -> bool:
        return any(r.appeared or r.disappeared for r in self.rules.values())


def _key(n: Nudge) -> tuple[str, int]:
    return n.rule, n.utterance_index


def diff_rules(calls: Sequence[CallInput], old_paths: Sequence[Path], new_paths: Sequence[Path],
               settings: QaSettings) -> DiffReport:
    old_set, new_set = load_rules(list(old_paths)), load_rules(list(new_paths))  # rule errors before any work
    annotator = Annotator()
    from ..privacy import Masker

    masker = Masker(settings.mask_list)
    old_pipe = CallPipeline(annotator, RuleEngine(old_set), masker=masker)
    new_pipe = CallPipeline(annotator, RuleEngine(new_set), masker=masker)
    old_ids, new_ids = {r.id for r in old_set.rules}, {r.id for r in new_set.rules}
    rules = {rid: RuleDiff(rid, in_old=rid in old_ids, in_new=rid in new_ids) for rid in sorted(old_ids | new_ids)}
    errors: list[tuple[str, str]] = []
    n_calls = 0
    for call, timeline in call_timelines(calls, settings, on_error=lambda c, why: errors.append((c.id, why))):
        n_calls += 1
        found = []
        for pipe in (old_pipe, new_pipe):
            events = pipe.run(Timeline(iter(timeline.items), TRANSCRIPT_READ_AHEAD), audio_s=timeline.audio_s)
            found.append([e for e in events if isinstance(e, Nudge)])
        old = Counter(_key(n) for n in found[0])
        new = Counter(_key(n) for n in found[1])
        for side, nudges, other, sign in ((0, found[0], new, "-"), (1, found[1], old, "+")):
            left = Counter(other)
            for n in nudges:
                diff = rules.setdefault(n.rule, RuleDiff(n.rule))
                if left[_key(n)] > 0:
                    left[_key(n)] -= 1
                    if side == 1:
                        diff.unchanged += 1
                    continue
                change = NudgeChange(call.id, sign, n.to_json())
                (diff.appeared if sign == "+" else diff.disappeared).append(change)
    return DiffReport(n_calls, rules, errors)


def _clock(t: float) -> str:
    m, s = divmod(max(0.0, t), 60.0)
    return f"{int(m)}:{s:04.1f}"


def format_diff(report: DiffReport, show: int = 20) -> str:
    lines = []
    total_plus = sum(len(r.appeared) for r in report.rules.values())
    total_minus = sum(len(r.disappeared) for r in report.rules.values())
    lines.append(f"rules diff over {report.calls} call(s): +{total_plus} nudges appear, -{total_minus} disappear")
    same = [f"{r.rule} ({r.unchanged})" for r in report.rules.values() if not (r.appeared or r.disappeared)]
    for r in report.rules.values():
        note = " (new rule)" if not r.in_old else " (removed or switched off)" if not r.in_new else ""
        if not (r.appeared or r.disappeared):
            continue
        lines.append(f"  {r.rule}{note}: +{len(r.appeared)} -{len(r.disappeared)} ({r.unchanged} unchanged)")
        changes = sorted(r.appeared + r.disappeared, key=lambda c: (c.call, c.nudge["t"], c.change))
        for c in changes[:show]:
            n = c.nudge
            lines.append(f"    {c.change} {c.call} @{_clock(n['t'])} #{n['utterance_index']}: {n['message']}")
            for ev in n["evidence"]:
                said = ", ".join(f'"{m}"' for m in ev["matched"])
                text = ev["text"] if len(ev["text"]) <= 100 else ev["text"][:97] + "..."
                lines.append(f"        {ev['speaker']} #{ev['utterance_index']}: {text}" + (f"  [{said}]" if said else ""))
        if len(changes) > show:
            lines.append(f"    ... {len(changes) - show} more (--show N, or --format json)")
    if same:
        lines.append("  no change (nudges): " + ", ".join(same))
    for call_id, why in report.errors:
        lines.append(f"  error: {call_id}: {why}")
    return "\n".join(lines) + "\n"


def diff_to_json(report: DiffReport) -> dict[str, Any]:
    return {
        "calls": report.calls,
        "rules": {rid: {"in_old": r.in_old, "in_new": r.in_new, "unchanged": r.unchanged,
                        "appeared": [{"call": c.call, **c.nudge} for c in r.appeared],
                        "disappeared": [{"call": c.call, **c.nudge} for c in r.disappeared]}
                  for rid, r in report.rules.items()},
        "errors": [{"call": c, "error": why} for c, why in report.errors],
    }
