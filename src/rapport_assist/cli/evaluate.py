"""``eval``: score the rules on labelled (or unlabelled) dialogues, transcripts, recordings or a
spoken set."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import BadInput, ExitStatus, UsageError
from .common import (
    Console,
    _channel_order,
    _check_show,
    _discover_options,
    _qa_settings,
    _rule_paths,
    _warn,
    _write_out,
)
from .parser import BATCH_MODELS, CORPUS, DEBUG, REPORT_FORMAT, RULES, TRANSCRIPTS, _block, _command, _show_count

if TYPE_CHECKING:  # pragma: no cover
    from ..evaluate import Conversation
    from ..rules.model import RuleSet


def _add_eval_parser(sub: argparse._SubParsersAction) -> None:
    own = _block()
    own.add_argument(
        "input",
        type=Path,
        help="dialogue .jsonl file (one conversation per line), one transcript (.txt, .json, .vtt, .srt), a folder of "
        "transcripts (*.jsonl, *.txt, *.json, *.vtt, *.srt) and/or recordings (transcribed and cached as by "
        "'qa'), or a spoken set (a folder with spoken.jsonl, made by "
        "scripts/make_spoken_dev.py: transcript and audio routes side by side)",
    )
    own.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="labels per transcript name (.json object or .jsonl lines); see README.md",
    )
    own.add_argument(
        "--rule",
        action="append",
        metavar="ID",
        help="only this rule (repeatable): one that nudges (a praise or record rule has no nudges to score)",
    )
    show = _block()
    show.add_argument(
        "--show",
        type=_show_count,
        default=10,
        metavar="N|all",
        help="misses and false alarms (or fires, unlabelled) to list per rule (default: 10; all: every one)",
    )
    _command(
        sub,
        "eval",
        _eval_command,
        [RULES, BATCH_MODELS, own, REPORT_FORMAT, show, CORPUS, TRANSCRIPTS, DEBUG],
        help="score the rules on labelled dialogues or transcripts",
        description="Run conversations through the rules as calls and report, per rule, precision/"
        "recall/F1 per conversation and per turn, misses and false alarms (labelled "
        "data) or nudges per conversation (unlabelled data).",
    )


def _has_recordings(folder: Path) -> bool:
    from ..audio import AUDIO_SUFFIXES

    return any(p.suffix.lower() in AUDIO_SUFFIXES for p in folder.rglob("*") if p.is_file())


def _audio_conversations(args: argparse.Namespace, stderr: IO[str]) -> list[Conversation]:
    """The calls of a folder with recordings as conversations (their recognized timelines), labelled by call id."""
    from ..evaluate import Conversation, apply_labels, read_labels
    from ..qa.corpus import call_timelines
    from ..qa.inputs import discover
    from ..types import Utterance

    settings = _qa_settings(args, Path("."), 1)  # no outputs: only the cache is written
    calls, warnings = discover([args.input], **_discover_options(args), exclude=(settings.cache_dir,))
    for w in warnings:
        stderr.write(f"rapport-assist: warning: {w}\n")
    conversations = []
    failed = []
    for call, timeline in call_timelines(calls, settings, on_error=lambda c, why: failed.append((c, why))):
        utterances = tuple(i for i in timeline.items if isinstance(i, Utterance))
        conversations.append(
            Conversation(
                call.id,
                " + ".join(map(str, call.files)),
                utterances,
                timeline=timeline.items,
                audio_s=timeline.audio_s,
                sides=call.spec.sides,
            )
        )
    for call, why in failed:
        stderr.write(f"rapport-assist: error: {call.id}: {why} (left out of the evaluation)\n")
    if not conversations:
        raise BadInput(f"no call in {args.input} could be read", "see the errors above")
    if args.labels is not None:
        conversations = apply_labels(conversations, read_labels(args.labels))
    return conversations


def _eval_spoken(args: argparse.Namespace, set_file: Path, ruleset: RuleSet, stdout: IO[str], stderr: IO[str]) -> int:
    """``eval`` on a spoken set: both routes side by side (spoken_eval.py). The recordings are
    recognized unmasked (made-up calls; the transcript route is unmasked too)."""
    import dataclasses
    import json

    from ..annotate import Annotator
    from ..spoken_eval import evaluate_spoken, format_spoken, read_spoken_set, recognize_set, spoken_to_json

    if args.labels is not None:
        raise UsageError("--labels does not apply to a spoken set", "its labels are in spoken.jsonl")
    dialogues = read_spoken_set(set_file)
    settings = dataclasses.replace(_qa_settings(args, Path("."), 1), mask_list=None)
    failed = []
    recognized = recognize_set(dialogues, settings, _discover_options(args), lambda c, why: failed.append((c, why)))
    for call, why in failed:
        stderr.write(f"rapport-assist: error: {call.id}: {why}\n")
    report = evaluate_spoken(dialogues, recognized, ruleset, Annotator(), args.rule, source=str(args.input))
    text = (
        json.dumps(spoken_to_json(report, args.show), ensure_ascii=False, indent=2) + "\n"
        if args.format == "json"
        else format_spoken(report, args.show)
    )
    _write_out(stdout, text, "the report")  # a full disk is an OutputError (exit 7), as for any eval
    return ExitStatus.OK


def _eval_command(args: argparse.Namespace, con: Console) -> int:
    import json

    from ..annotate import Annotator
    from ..evaluate import evaluate, format_text, load_conversations, report_to_json, select_rules
    from ..rules import load_rules
    from ..spoken_eval import spoken_set_file

    stdout = con.stdout
    _check_show(args.show)
    ruleset = load_rules(_rule_paths(args))
    select_rules(ruleset, args.rule)  # an unknown --rule before any work
    set_file = spoken_set_file(args.input)
    if set_file is not None:
        return _eval_spoken(args, set_file, ruleset, stdout, con.stderr)
    if args.input.is_dir() and _has_recordings(args.input):
        conversations = _audio_conversations(args, con.stderr)
    else:
        conversations = load_conversations(
            args.input,
            args.labels,
            args.speaker_map,
            _channel_order(args.channels),
            warn=lambda message: _warn(con.stderr, message),
        )
    report = evaluate(conversations, ruleset, Annotator(), args.rule, source=str(args.input))
    text = (
        json.dumps(report_to_json(report, args.show), ensure_ascii=False, indent=2) + "\n"
        if args.format == "json"
        else format_text(report, args.show)
    )
    _write_out(stdout, text, "the report")
    return ExitStatus.OK
