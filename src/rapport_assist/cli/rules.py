"""``rules check|test|list|explain|schema|diff``: load and lint rule files, run their examples,
list the rules with their settings, trace one rule over a call, print the rule files' JSON
Schema, and show what a rule change does."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Sequence

from ..errors import BadInput, ExitStatus, RuleError, UsageError
from ..types import Status
from ..wording import plural
from .common import (
    Console,
    _channel_order,
    _check_show,
    _discover_options,
    _masking,
    _qa_settings,
    _rule_paths,
    _warn,
    _write_out,
)
from .parser import (
    BATCH_MODELS,
    CORPUS,
    DEBUG,
    MASK,
    REPORT_FORMAT,
    RULE_FILES,
    RULES,
    TRANSCRIPTS,
    _block,
    rule_path,
    _command,
    _Parser,
    _show_count,
)
from .replay import _recognizer_factory

if TYPE_CHECKING:  # pragma: no cover
    from ..annotate import Annotator
    from ..qa.cache import CachedTimeline
    from ..qa.inputs import CallInput
    from ..rules.model import RuleSet
    from ..rules.source import Loc


SWITCHED_OFF_HINT = (
    "a rule file given switches it off ('enabled: false', or an override saying so): "
    "run without that file, or take the line out, to see it work"
)


def _switched_off_hint(paths: Sequence[Path], rule_id: str) -> str:
    """SWITCHED_OFF_HINT with the place that switches the rule off: the override's 'enabled'
    (as 'rules list' marks it), else the rule's own 'enabled: false'."""
    from ..rules.listing import list_rules

    entry = next((r for r in list_rules(paths).rules if r.id == rule_id), None)
    if entry is None:
        return SWITCHED_OFF_HINT
    override = entry.overrides.get("enabled")
    if override is not None:
        return f"the override at {override.at} switches it off: take that line out, or run without that file, to see it work"
    return (
        f"the rule at {entry.defined_at} is written 'enabled: false': a team file switches it on with "
        f"'overrides: [{{rule: {rule_id}, enabled: true}}]'"
    )


def _add_rules_parser(sub: argparse._SubParsersAction) -> None:
    """Add the command ``rules`` and its actions."""
    rules = sub.add_parser("rules", help="check, test, list, explain and diff rule files; print their JSON Schema")
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION", parser_class=_Parser)
    _add_rules_actions(actions)
    _add_rules_list(actions)


def _add_rules_actions(rsub: argparse._SubParsersAction) -> None:
    own = _block()
    own.add_argument("--strict", action="store_true", help="fail (exit 5) on lint warnings too")
    text = "load rule files: every error with file:line:col, then lint warnings"
    _command(
        rsub,
        "check",
        _rules_check,
        [RULES, RULE_FILES, DEBUG, own],
        help=text,
        description=_rule_files_description(text),
    )
    own = _block()
    own.add_argument("--rule", action="append", metavar="ID", help="only this rule's examples (repeatable)")
    own.add_argument(
        "--explain",
        action="store_true",
        help="under each failed example, trace why its rule fired or did not at each turn (as 'rules explain')",
    )
    text = "run every rule's inline fires/quiet examples"
    _command(
        rsub, "test", _rules_test, [RULES, RULE_FILES, DEBUG, own], help=text, description=_rule_files_description(text)
    )

    own = _block()
    own.add_argument(
        "input",
        type=Path,
        help="transcript (.jsonl, .txt, .json, .vtt, .srt) or a recording (agent left, customer right)",
    )
    own.add_argument("--rule", required=True, metavar="ID", help="the rule to trace")
    _command(
        rsub,
        "explain",
        _explain,
        [RULES, BATCH_MODELS, own, CORPUS, TRANSCRIPTS, MASK, DEBUG],
        help="trace why a rule fired or did not at each utterance of a call",
        description="Replay a transcript or recording through the pipeline and trace "
        "one rule: which conditions held, what matched, what it did. A recording is "
        "transcribed as 'qa' does it, through the same transcript cache, so the "
        "utterance numbers are qa's (and eval's labels').",
    )

    _command(
        rsub, "schema", _rules_schema, [DEBUG], help="print the JSON Schema of rule files (for editor autocompletion)"
    )

    own = _block()
    own.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="recordings, transcripts, folders, globs or @LIST files (none: settings only)",
    )
    own.add_argument(
        "--old",
        type=rule_path,
        action="append",
        default=[],
        metavar="PATH",
        help="rule file or folder only the OLD side loads (repeatable)",
    )
    own.add_argument(
        "--new",
        type=rule_path,
        action="append",
        default=[],
        metavar="PATH",
        help="rule file or folder only the NEW side loads (repeatable), e.g. the team file being changed",
    )
    own.add_argument(
        "--only",
        action="store_true",
        help="without the default packs: OLD is exactly --rules + --old, NEW is --rules + --new "
        "(to compare two full copies of the rules)",
    )
    show = _block()
    show.add_argument(
        "--show",
        type=_show_count,
        default=20,
        metavar="N|all",
        help="changes to list per rule (default: 20; all: every one)",
    )
    _command(
        rsub,
        "diff",
        _diff_command,
        [RULES, BATCH_MODELS, own, REPORT_FORMAT, show, CORPUS, TRANSCRIPTS, MASK, DEBUG],
        help="what a rule change does: changed settings, and which nudges appear and disappear",
        description="Compare the OLD rules (the default packs + --rules + --old) with the NEW ones "
        "(the default packs + --rules + --new): per rule, the settings that differ "
        "(switched off, status, severity, priority, title, message, params...) and the "
        "lexicon words added or removed; then, over the given recorded calls or "
        "transcripts, the nudges that appear and disappear, with their evidence. "
        "Recordings are transcribed once and cached (as by 'qa'), so diffs over a corpus "
        "take seconds. A call heard only in part (one side, a silent channel, cut short, other "
        "participants left out), where a change can show no effect, gets a warning on stderr, as in "
        "'qa'. Example: 'rules diff --new team.yaml calls/'.",
    )


def _add_rules_list(rsub: argparse._SubParsersAction) -> None:
    own = _block()
    own.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="ID",
        help="this rule in full: why, message, each param's comment, lexicons (repeatable)",
    )
    own.add_argument("--tag", action="append", default=[], metavar="TAG", help="rules with this tag (repeatable)")
    text = "list the rules: severity, status, params, examples; and what a team file's overrides change"
    blocks = [RULES, RULE_FILES, own, REPORT_FORMAT, DEBUG]
    _command(rsub, "list", _rules_list, blocks, help=text, description=_rule_files_description(text))


def _rules_list(args: argparse.Namespace, con: Console) -> int:
    from ..rules.listing import format_text, list_rules, select, to_json

    listing = list_rules(_rule_paths(args, *args.paths))
    chosen = select(listing, args.rule, args.tag)
    if args.format == "json":
        import json

        con.stdout.write(json.dumps(to_json(listing, chosen), indent=2, ensure_ascii=False) + "\n")
    else:
        con.stdout.write(format_text(listing, chosen, detail=bool(args.rule)))
    return ExitStatus.OK


def _rule_files_description(text: str) -> str:
    return (
        text[0].upper() + text[1:] + ". PATHs are loaded on top of the default packs (as --rules), so a team "
        "file is checked against the rules it overrides; --only-rules loads files without the defaults."
    )


def _diff_command(args: argparse.Namespace, con: Console) -> int:
    import json

    from ..qa.diff import call_warning_lines, diff_rules, diff_to_json, format_diff, warnings_count
    from ..qa.inputs import discover

    stdout = con.stdout
    _check_show(args.show)
    old, new = _diff_sides(args)
    settings = _qa_settings(args, Path("."), 1)
    calls: list[CallInput] = []
    if args.inputs:
        calls, warnings = discover(args.inputs, **_discover_options(args), exclude=(settings.cache_dir,))
        for w in warnings:
            con.stderr.write(f"rapport-assist: warning: {w}\n")
    report = diff_rules(calls, old, new, settings)
    text = (
        json.dumps(diff_to_json(report), ensure_ascii=False, indent=2) + "\n"
        if args.format == "json"
        else format_diff(report, args.show)
    )
    _write_out(stdout, text, "the diff")
    # what may make the diff mislead, per call and counted (on stderr, as qa and eval warn)
    for line in call_warning_lines(report):
        con.stderr.write(f"rapport-assist: warning: {line}\n")
    count = warnings_count(report)
    if count:
        con.stderr.write(f"rapport-assist: rules diff: {count}\n")
    return ExitStatus.SOME_CALLS_FAILED if report.errors else ExitStatus.OK


def _diff_sides(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """OLD = defaults (unless --only) + --rules + --old; NEW = the same with --new."""
    from ..rules import rule_paths

    rule_like = [
        p
        for p in args.inputs
        if Path(p).suffix.lower() in (".yaml", ".yml") or (Path(p).is_dir() and any(Path(p).glob("*.yaml")))
    ]
    if rule_like:
        raise UsageError(
            f"{rule_like[0]} is a rule file or folder, not a call",
            "name rules with --old/--new: 'rules diff --new team.yaml CALLS...' compares the default "
            "packs with the default packs + team.yaml; 'rules diff --only --old A --new B CALLS...' "
            "compares two full copies",
        )
    if not args.old and not args.new:
        raise UsageError(
            "nothing to compare: both sides would load the same rules",
            "give the changed file with --new (and what it replaces with --old)",
        )
    base = rule_paths(args.rules, only=args.only_rules) if not args.only else list(args.rules)
    old, new = base + list(args.old), base + list(args.new)
    for side, paths in (("OLD", old), ("NEW", new)):
        if not paths:
            raise UsageError(
                f"with --only the {side} side has no rule files",
                f"give them with --{side.lower()} PATH, or drop --only to start from the default packs",
            )
    return old, new


def _rules_schema(args: argparse.Namespace, con: Console) -> int:
    import json

    from ..rules.schema import rule_schema

    con.stdout.write(json.dumps(rule_schema(), indent=2) + "\n")
    return ExitStatus.OK


def _rules_check(args: argparse.Namespace, con: Console) -> int:
    from ..rules import load_rules

    paths = _rule_paths(args, *args.paths)
    ruleset = load_rules(paths)
    for warning in ruleset.warnings:
        con.stdout.write(f"{warning}\n")
    off = f" ({len(ruleset.disabled)} switched off)" if ruleset.disabled else ""
    n = len(ruleset.warnings)
    warned = f"{n} lint warning{'s' if n != 1 else ''}"
    # as 'rules list' counts them: a rule switched off is one of the rules loaded
    total = len(ruleset.rules) + len(ruleset.disabled)
    loaded = f"{total} rule{'s' if total != 1 else ''}{off} loaded from {_describe_paths(args, paths)}"
    if args.strict and ruleset.warnings:
        raise RuleError(f"{warned} with --strict ({loaded})", "fix the warnings above")
    # check reads the files; the fires/quiet examples are run by 'rules test' (spaCy: slower)
    examples = sum(len(r.examples) for r in ruleset.rules)
    untested = f" ({examples} examples not run: 'rapport-assist rules test' runs them)" if examples else ""
    con.stdout.write(f"ok: {loaded}, {warned}{untested}\n")
    return ExitStatus.OK


def _rules_test(args: argparse.Namespace, con: Console) -> int:
    from ..annotate import Annotator
    from ..rule_examples import run_examples
    from ..rules import load_rules, rule_paths

    paths = _rule_paths(args, *args.paths)
    ruleset = load_rules(paths)
    if args.rule:
        known = {r.id for r in ruleset.rules}
        for rule_id in args.rule:
            if rule_id not in known:
                from ..rules.source import unknown_rule_hint

                if any(r.id == rule_id for r in ruleset.disabled):
                    raise UsageError(
                        f"no enabled rule {rule_id!r} (it is switched off)", _switched_off_hint(paths, rule_id)
                    )
                raise UsageError(f"no enabled rule {rule_id!r}", unknown_rule_hint(rule_id, known))
    annotator = Annotator()
    results = run_examples(ruleset, annotator, only=args.rule)
    failed = [r for r in results if not r.passed]
    # an example of a default rule that a team file broke (a param, a lexicon it removed from):
    # say so, or the team lead looks for the mistake in a default pack they never edited
    team = [*args.rules, *args.paths]
    broke: set[tuple[str, str, int]] = set()
    culprits: dict[tuple[str, str, int], list[Loc]] = {}
    if failed and team and not args.only_rules:
        defaults = load_rules(rule_paths())
        failing = sorted({r.rule for r in failed} & {r.id for r in defaults.rules})
        if failing:
            alone = run_examples(defaults, annotator, only=failing)
            broke = {(r.rule, r.kind, r.number) for r in alone if r.passed}
            if broke:  # and which override entry did it, by its file:line
                culprits = _override_culprits(paths, ruleset, set(defaults.files), broke, annotator)
    for r in failed:
        why = ""
        if (r.rule, r.kind, r.number) in broke:
            at = culprits.get((r.rule, r.kind, r.number), [])
            if len(at) == 1:
                changed_by = f"the override at {at[0]} changes"
            elif at:
                changed_by = f"the overrides at {', '.join(map(str, at))} change"
            else:
                changed_by = f"{', '.join(map(str, team))} changes"
            why = f" (it passes with the default packs alone: {changed_by} this rule or its words)"
        con.stdout.write(f"FAIL {r.describe()}{why}\n")
        if args.explain:
            from ..rule_examples import explain_example

            for line in explain_example(ruleset, annotator, r.rule, r.kind, r.number):
                con.stdout.write(f"    {line}\n")
    if failed and not args.explain:
        con.stdout.write("(--explain traces each failed example turn by turn)\n")
    rules_run = len({r.rule for r in results})
    con.stdout.write(f"{len(results) - len(failed)} passed, {len(failed)} failed ({plural(rules_run, 'rule')})\n")
    return ExitStatus.EXAMPLES_FAILED if failed else ExitStatus.OK


def _override_culprits(
    paths: Sequence[Path],
    ruleset: RuleSet,
    default_files: set[str],
    broke: set[tuple[str, str, int]],
    annotator: Annotator,
) -> dict[tuple[str, str, int], list[Loc]]:
    """For each default example a team file broke (rule, kind, number): the team's override
    entries that break it, by where they are written. First each entry on its own (the team's
    other entries loaded as if not written): those that break it alone; for an example none
    breaks alone, the entries without which it passes again (they break it together). Nothing
    found (e.g. a team's new rule is what interferes): the caller names the files. One load and
    one run of the broken rules' examples per entry, only when an example broke."""
    from ..rule_examples import run_examples
    from ..rules import load_rules

    entries = [e for e in ruleset.overrides if e.path not in default_files]
    rules = sorted({rule for rule, _, _ in broke})

    def failing_without(leave_out: list[Loc]) -> set[tuple[str, str, int]]:
        try:
            loaded = load_rules(paths, leave_out=leave_out)
        except RuleError:
            return set()
        return {(r.rule, r.kind, r.number) for r in run_examples(loaded, annotator, only=rules) if not r.passed}

    found: dict[tuple[str, str, int], list[Loc]] = {}
    for entry in entries:
        for key in sorted(failing_without([e for e in entries if e != entry]) & broke):
            found.setdefault(key, []).append(entry)
    if len(entries) > 1 and (together := broke - found.keys()):
        for entry in entries:
            for key in sorted(together - failing_without([entry])):
                found.setdefault(key, []).append(entry)
    return found


def _describe_paths(args: argparse.Namespace, paths: Sequence[Path]) -> str:
    """'the default packs (rules/) + team.yaml', or the --only-rules paths."""
    shown = ", ".join(map(str, paths))
    if args.only_rules:
        return shown
    from ..rules import default_rules_dir

    if paths[0] != default_rules_dir():
        return shown
    here = os.path.relpath(paths[0])
    # each file as the loader reads it, once: a default pack or a team file named again (or by a
    # link) is not shown as one more file on top
    loaded = {paths[0].resolve(), *(f.resolve() for f in paths[0].glob("*.yaml"))}
    shown_team = []
    for path in paths[1:]:
        if path.resolve() not in loaded:
            loaded.add(path.resolve())
            shown_team.append(str(path))
    team = ", ".join(shown_team)
    return f"the default packs ({paths[0] if here.startswith('..') else here})" + (f" + {team}" if team else "")


def _explain_timeline(args: argparse.Namespace, stderr: IO[str]) -> CachedTimeline:
    """The input's timeline as ``qa`` has it (the transcript cache, batch recognition, qa's
    utterance numbers), with progress on a terminal while a recording is recognized."""
    from ..qa.inputs import discover
    from ..qa.progress import CallProgress
    from ..qa.runner import call_timeline

    calls, warnings = discover([args.input], **_discover_options(args))
    for w in warnings:
        stderr.write(f"rapport-assist: warning: {w}\n")
    if len(calls) != 1:
        raise BadInput(f"{args.input} holds {len(calls)} calls", "explain one call: name one recording or transcript")
    settings = _qa_settings(args, Path("."), 1)  # no outputs: only the cache is written
    progress = CallProgress("explain", None, stderr)

    def report(step: str, fraction: float | None) -> None:
        progress.fraction(f"{step} {args.input.name}", fraction, force=fraction in (None, 0.0, 1.0))

    try:
        timeline, _ = call_timeline(calls[0], settings, report)
    finally:
        progress.clear()
    return timeline


def _explain(args: argparse.Namespace, con: Console) -> int:
    from ..annotate import Annotator
    from ..pipeline import CallPipeline
    from ..privacy import masker_for
    from ..rules import RuleEngine, load_rules
    from ..rules.explain import RuleExplainer
    from ..sources import TRANSCRIPT_READ_AHEAD, ReplayInput, Timeline, heard_sides, open_replay

    stdout = con.stdout
    paths = _rule_paths(args)
    ruleset = load_rules(paths)
    ids = [r.id for r in ruleset.rules]
    if args.rule not in ids:
        from ..rules.source import unknown_rule_hint

        if any(r.id == args.rule for r in ruleset.disabled):
            hint = _switched_off_hint(paths, args.rule)
            raise UsageError(f"no enabled rule {args.rule!r} (it is switched off)", hint)
        raise UsageError(f"no enabled rule {args.rule!r}", unknown_rule_hint(args.rule, ids))
    engine = RuleEngine(ruleset)
    explainer = RuleExplainer(engine, args.rule)
    rule = explainer.rule
    spec = ReplayInput(path=args.input, speaker_map=args.speaker_map, channel_order=_channel_order(args.channels))
    spec.check()  # --speaker-map on a recording, before any work
    if spec.is_transcript:
        from ..transcript_base import open_input

        # a missing, folder or unreadable transcript fails before the trace's first line is printed
        open_input(Path(args.input), Path(args.input).suffix or "transcript").close()
        source = open_replay(spec, _recognizer_factory(args))
        items, audio_s = source.items(), source.audio_s
    else:
        timeline = _explain_timeline(args, con.stderr)
        items = Timeline(iter(timeline.items), TRANSCRIPT_READ_AHEAD, heard_sides(timeline.items, spec.sides))
        audio_s = timeline.audio_s
    # an experimental rule's nudges are logged, never shown: "why did the agent not see it?"
    experimental = rule.status == "experimental"
    status = " (experimental: its nudges are logged and in reports, not shown to agents)" if experimental else ""
    stdout.write(f"rule {rule.id} ({rule.source}): {rule.title}{status}\n")
    pipeline = CallPipeline(Annotator(), engine, observer=explainer, masker=masker_for(_masking(args)))
    for event in pipeline.run(items, audio_s=audio_s):
        if spec.is_transcript and isinstance(event, Status) and event.level == "warning":  # a bot's turns left out
            _warn(con.stderr, event.message)
        explainer.on_event(event)
        while explainer.lines:
            stdout.write(explainer.lines.pop(0) + "\n")
    while explainer.lines:
        stdout.write(explainer.lines.pop(0) + "\n")
    where = ", ".join(f"#{i}" for i in explainer.fired_at) or "nowhere"
    stdout.write(f"{rule.id} fired {plural(len(explainer.fired_at), 'time')}: {where}\n")
    return ExitStatus.OK
