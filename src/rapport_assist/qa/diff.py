"""``rules diff [--old PATH…] [--new PATH…] [INPUTS…]``: what a rule change does.

First what the change says: per rule, the settings that differ between the OLD and NEW rule
sets (switched on or off, status, severity, priority, title, message, cooldown, params, the
conditions) and the words added to or removed from each lexicon. Then what it does to past
calls: both rule sets run over the same timelines (from the transcript cache, so a corpus
recognized once by ``qa`` diffs in seconds). A nudge is the same in both when its rule fired at
the same utterance; per rule the report lists the nudges that appear (only with NEW) and
disappear (only with OLD), each with its evidence. And per call, the warnings ``qa`` would give it
(one side heard, a silent channel, a recording cut short, other participants left out...): on such
a call neither rule set heard it whole, so a change can show less there than it will on whole calls.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..annotate import Annotator
from ..pipeline import CallPipeline
from ..rules import RuleEngine, load_rules
from ..rules.model import Rule, RuleSet
from ..rules.spec import SEVERITY_WORDS
from ..sources import TRANSCRIPT_READ_AHEAD, Timeline, heard_sides
from ..timefmt import clock
from ..types import Nudge, Praise, RecordItem
from ..wording import plural
from .corpus import call_timelines
from .inputs import CallInput
from .runner import QaSettings
from .stats import call_stats
from .summary import warning_label


@dataclass(frozen=True)
class NudgeChange:
    call: str
    change: str  # "+" appears with NEW, "-" disappears
    nudge: dict[str, Any]


@dataclass(frozen=True)
class SettingChange:
    """One setting of a rule that differs: ``status``, ``severity``, ``message``, ``param long_turn_words``…"""

    name: str
    old: Any
    new: Any


@dataclass
class RuleDiff:
    rule: str
    appeared: list[NudgeChange] = field(default_factory=list)
    disappeared: list[NudgeChange] = field(default_factory=list)
    unchanged: int = 0
    in_old: bool = True
    in_new: bool = True
    settings: list[SettingChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.appeared or self.disappeared or self.settings) or self.in_old != self.in_new


@dataclass(frozen=True)
class LexiconChange:
    lexicon: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    status: str = ""  # "new" (not in the old rules), "removed" (not in the new), or "" (in both)


@dataclass
class DiffReport:
    calls: int
    rules: dict[str, RuleDiff]
    errors: list[tuple[str, str]]
    lexicons: list[LexiconChange] = field(default_factory=list)
    # per call with any: its warnings as qa gives them (``CallStats.warnings``: code -> what was found)
    warnings: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.lexicons) or any(r.changed for r in self.rules.values())


# what a rule's settings are called in a diff, and how to read them off the rule
_SETTINGS = ("status", "severity", "priority", "title", "message", "cooldown_s", "max_per_call")
# the parts that decide when a rule fires (params are reported by name; they change these too)
_CONDITIONS = ("when", "unless", "expect", "episode", "rewrites", "record", "praise", "points_at", "quote")


def _everything(ruleset: RuleSet) -> dict[str, Rule]:
    return {r.id: r for r in ruleset.rules + ruleset.disabled}


def _part(rule: Rule, name: str) -> Any:
    if name == "rewrites":  # phrases carry where they were written; only the words matter here
        return tuple((r.phrase.text, r.replacement) for r in rule.rewrites)
    return getattr(rule, name)


def compare_rules(old: Rule | None, new: Rule | None) -> list[SettingChange]:
    """The settings of one rule that differ between two rule sets (a missing rule: None)."""
    if old is None or new is None:
        return []
    out = []
    if old.enabled != new.enabled:
        out.append(SettingChange("enabled", old.enabled, new.enabled))
    for name in _SETTINGS:
        if getattr(old, name) != getattr(new, name):
            out.append(SettingChange(name, getattr(old, name), getattr(new, name)))
    if old.rewrites and old.message_if_no_rewrite != new.message_if_no_rewrite:
        out.append(SettingChange("message_if_no_rewrite", old.message_if_no_rewrite, new.message_if_no_rewrite))
    old_params, new_params = dict(old.params), dict(new.params)
    for name in sorted(set(old_params) | set(new_params)):
        if old_params.get(name) != new_params.get(name):
            out.append(SettingChange(f"param {name}", old_params.get(name), new_params.get(name)))
    if old_params == new_params and any(_part(old, k) != _part(new, k) for k in _CONDITIONS):
        out.append(SettingChange("conditions", str(old.loc), str(new.loc)))
    return out


def compare_lexicons(old: RuleSet, new: RuleSet) -> list[LexiconChange]:
    out = []
    for name in sorted(set(old.lexicons) | set(new.lexicons)):
        before = [p.text for p in old.lexicons[name].phrases] if name in old.lexicons else []
        after = [p.text for p in new.lexicons[name].phrases] if name in new.lexicons else []
        low_before, low_after = {t.lower() for t in before}, {t.lower() for t in after}
        added = tuple(t for t in after if t.lower() not in low_before)
        removed = tuple(t for t in before if t.lower() not in low_after)
        if added or removed:
            status = "new" if name not in old.lexicons else "removed" if name not in new.lexicons else ""
            out.append(LexiconChange(name, added, removed, status))
    return out


def _key(n: Nudge | Praise | RecordItem) -> tuple[str, int]:
    return n.rule, n.utterance_index


def diff_rules(
    calls: Sequence[CallInput], old_paths: Sequence[Path], new_paths: Sequence[Path], settings: QaSettings
) -> DiffReport:
    old_set, new_set = load_rules(list(old_paths)), load_rules(list(new_paths))  # rule errors before any work
    old_ids, new_ids = {r.id for r in old_set.rules}, {r.id for r in new_set.rules}
    old_all, new_all = _everything(old_set), _everything(new_set)
    rules = {
        rid: RuleDiff(
            rid,
            in_old=rid in old_ids,
            in_new=rid in new_ids,
            settings=compare_rules(old_all.get(rid), new_all.get(rid)),
        )
        for rid in sorted(
            old_ids | new_ids | {r for r in old_all.keys() & new_all.keys() if compare_rules(old_all[r], new_all[r])}
        )
    }
    errors: list[tuple[str, str]] = []
    warnings: dict[str, dict[str, str]] = {}
    n_calls = 0
    if not calls:
        return DiffReport(0, rules, errors, compare_lexicons(old_set, new_set))
    from ..privacy import Masker

    annotator = Annotator()
    masker = Masker(settings.mask_list)
    old_pipe = CallPipeline(annotator, RuleEngine(old_set), masker=masker)
    new_pipe = CallPipeline(annotator, RuleEngine(new_set), masker=masker)
    for call, timeline in call_timelines(calls, settings, on_error=lambda c, why: errors.append((c.id, why))):
        n_calls += 1
        found = []
        for pipe in (old_pipe, new_pipe):
            events = list(
                pipe.run(
                    Timeline(iter(timeline.items), TRANSCRIPT_READ_AHEAD),
                    audio_s=timeline.audio_s,
                    sides=heard_sides(timeline.items, call.spec.sides),  # as qa runs it
                )
            )
            # praise and records too: a change to a praise rule changes the agent's call summary,
            # one to a record rule the list it keeps (the promises to log)
            found.append([e for e in events if isinstance(e, (Nudge, Praise, RecordItem))])
        # the call's warnings, as qa finds them in its events (the same for both rule sets: they
        # come from the timeline and the sides heard)
        said = call_stats(e.to_json() for e in events).warnings
        if said:
            warnings[call.id] = said
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
    return DiffReport(n_calls, rules, errors, compare_lexicons(old_set, new_set), warnings)


def call_warning_lines(report: DiffReport) -> list[str]:
    """One line per call with warnings: its id and their short names (as ``qa`` says them)."""
    return [f"{call}: {', '.join(map(warning_label, said))}" for call, said in report.warnings.items()]


def warnings_count(report: DiffReport) -> str | None:
    """How many of the calls have warnings, and which (None: none has)."""
    if not report.warnings:
        return None
    labels = Counter(warning_label(code) for said in report.warnings.values() for code in said)
    which = ", ".join(f"{n} {label}" for label, n in labels.most_common())
    n = len(report.warnings)
    return (
        f"{n} of {plural(report.calls, 'call')} {'has' if n == 1 else 'have'} warnings ({which}): neither "
        f"rule set heard {'it' if n == 1 else 'them'} whole, so a change can show less there than on whole calls"
    )


_SETTING_NOTES = {
    ("status", "experimental"): "logged and in reports, no longer shown to agents",
    ("status", "stable"): "now shown to agents",
    ("enabled", False): "switched off",
    ("enabled", True): "switched on",
}


def _show_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and (" " in value or not value):
        text = value if len(value) <= 70 else value[:67] + "..."
        return f'"{text}"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def _setting_line(c: SettingChange) -> str:
    if c.name == "conditions":
        return f"conditions changed ({c.old} → {c.new}): see the nudges below"
    note = _SETTING_NOTES.get((c.name, c.new))
    if c.name == "severity":  # also as the sidebar shows it (and a team file may write it: 'urgent')
        shown = {v: k for k, v in SEVERITY_WORDS.items()}
        return f"severity: {c.old} ({shown.get(c.old, '?')}) → {c.new} ({shown.get(c.new, '?')})"
    return f"{c.name}: {_show_value(c.old)} → {_show_value(c.new)}" + (f" ({note})" if note else "")


def format_diff(report: DiffReport, show: int | None = 20) -> str:
    """The diff as text; ``show``: the changes listed per rule (None: every one)."""
    lines = []

    # (kind, "+" or "-") -> how many: nudges, praise lines, listed items
    counts = Counter(
        (c.nudge.get("type", "nudge"), c.change) for r in report.rules.values() for c in r.appeared + r.disappeared
    )
    total_plus, total_minus = counts["nudge", "+"], counts["nudge", "-"]
    # the agent's summary and the lists a record rule keeps change too, but they are not nudges
    others = "".join(
        f"; {label} +{counts[kind, '+']} -{counts[kind, '-']}"
        for kind, label in (("praise", "praise"), ("record", "listed items"))
        if counts[kind, "+"] or counts[kind, "-"]
    )
    n_settings = sum(1 for r in report.rules.values() if r.settings)
    changed = (f"; {plural(n_settings, 'rule')} with changed settings" if n_settings else "") + (
        f", {plural(len(report.lexicons), 'lexicon')} changed" if report.lexicons else ""
    )
    if report.calls or report.errors:
        lines.append(
            f"rules diff over {plural(report.calls, 'call')}: +{total_plus} "
            f"{'nudge appears' if total_plus == 1 else 'nudges appear'}, -{total_minus} "
            f"{'disappears' if total_minus == 1 else 'disappear'}" + others + changed
        )
    else:
        lines.append("rules diff (no calls given: settings only)" + changed)
    same = [f"{r.rule} ({r.unchanged})" for r in report.rules.values() if not r.changed]
    for lex in report.lexicons:
        words = [f"+{w}" for w in lex.added] + [f"-{w}" for w in lex.removed]
        status = f" ({lex.status})" if lex.status else ""
        lines.append(f"  lexicon {lex.lexicon}{status}: " + " ".join(words[:40]) + (" ..." if len(words) > 40 else ""))
    for r in report.rules.values():
        # a rule switched off on one side has an 'enabled' line of its own: here it is not loaded at all
        note = " (new rule)" if not r.in_old else " (removed: not in the NEW rules)" if not r.in_new else ""
        if any(c.name == "enabled" for c in r.settings):
            note = ""  # its own line says so
        if not r.changed:
            continue
        if report.calls:
            lines.append(f"  {r.rule}{note}: +{len(r.appeared)} -{len(r.disappeared)} ({r.unchanged} unchanged)")
        elif not r.settings:  # a rule added or removed whole: no settings to compare, no calls to show
            lines.append(f"  {r.rule}{note} (give calls to see where it fires)")
        else:
            lines.append(f"  {r.rule}{note}:")
        for setting in r.settings:
            lines.append(f"    {_setting_line(setting)}")
        changes = sorted(r.appeared + r.disappeared, key=lambda c: (c.call, c.nudge["t"], c.change))
        for c in changes[:show]:
            n = c.nudge
            kind = "praise: " if n.get("type") == "praise" else ""
            what = n.get("message") or _record_line(n)
            lines.append(f"    {c.change} {c.call} @{clock(n['t'])} #{n['utterance_index']}: {kind}{what}")
            for ev in n.get("evidence", ()):
                said = ", ".join(f'"{m}"' for m in ev["matched"])
                text = ev["text"] if len(ev["text"]) <= 100 else ev["text"][:97] + "..."
                lines.append(
                    f"        {ev['speaker']} #{ev['utterance_index']}: {text}" + (f"  [{said}]" if said else "")
                )
        if show is not None and len(changes) > show:
            lines.append(f"    ... {len(changes) - show} more (--show N or all, or --format json)")
    if same and report.calls:
        lines.append("  no change: " + ", ".join(same))
    for call_id, why in report.errors:
        lines.append(f"  error: {call_id}: {why}")
    return "\n".join(lines) + "\n"


def _record_line(item: dict[str, Any]) -> str:
    """A record rule's item, as the call summary lists it: 'promises list: “…” (by Friday)'."""
    when = item.get("time") or "no time given"
    return f"{item.get('list')} list: {item.get('speaker')} said “{item.get('text')}” ({when})"


def diff_to_json(report: DiffReport) -> dict[str, Any]:
    return {
        "calls": report.calls,
        "lexicons": {
            c.lexicon: {"added": list(c.added), "removed": list(c.removed), "status": c.status} for c in report.lexicons
        },
        "rules": {
            rid: {
                "in_old": r.in_old,
                "in_new": r.in_new,
                "unchanged": r.unchanged,
                "settings": {c.name: {"old": c.old, "new": c.new} for c in r.settings},
                "appeared": [{"call": c.call, **c.nudge} for c in r.appeared],
                "disappeared": [{"call": c.call, **c.nudge} for c in r.disappeared],
            }
            for rid, r in report.rules.items()
        },
        "errors": [{"call": c, "error": why} for c, why in report.errors],
        "warnings": {call: dict(said) for call, said in report.warnings.items()},
    }
