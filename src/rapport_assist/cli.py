"""Command line: ``rapport-assist replay|demo|sidebar|live|devices|rules|eval|qa``.

``main(argv, stdout, stderr) -> int`` is testable in process. Known errors print one line with
a fix and exit with their ``errors.ExitStatus``; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import sys
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping, NoReturn, Sequence

from . import __version__
from .bundled import DATA_DIR, DEMO_AUDIO as DEMO_CALL  # noqa: F401  (DATA_DIR: tests and bench import it from here)
from .errors import BadInput, ExitStatus, InputNotFound, OutputClosed, OutputError, RapportError, RuleError, UsageError
from .fileio import PartialFile, refuse_overwrite
from .output import EventSink, JsonlSink, TextSink
from .types import Speaker, Status
from .wording import plural

if TYPE_CHECKING:  # pragma: no cover
    from .annotate import Annotator
    from .evaluate import Conversation
    from .qa.cache import CachedTimeline
    from .qa.inputs import CallInput
    from .qa.outcome import CallOutcome
    from .qa.progress import CallProgress
    from .qa.runner import QaSettings, Task
    from .recognizer import Recognizer, RecognizerOptions
    from .rules import RuleEngine
    from .rules.model import RuleSet
    from .rules.source import Loc
    from .sources import ReplayInput


SWITCHED_OFF_HINT = (
    "a rule file given switches it off ('enabled: false', or an override saying so): "
    "run without that file, or take the line out, to see it work"
)


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so main() owns the exit code."""

    _given: Sequence[str] = ()

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # (argparse's own signature)
        self._given = list(args) if args is not None else sys.argv[1:]
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        if "required: --rule" in message:
            rule = self._rule_as_word()
            if rule is not None:  # 'rules explain dead-air call.jsonl': the rule's id as a word of its own
                rest = " ".join(shlex.quote(a) for a in self._given if a != rule)
                raise UsageError("the rule to trace is given with --rule", f"'{self.prog} --rule {rule} {rest}'")
        raise UsageError(message, f"see '{self.prog} --help'")

    def _rule_as_word(self) -> str | None:
        """A word given that reads as a rule's id (not a file, nor an option's value), when
        another word is left for the input; else None."""
        words: list[str] = []
        for k, arg in enumerate(self._given):
            after_option = k > 0 and self._given[k - 1].startswith("--") and "=" not in self._given[k - 1]
            takes_value = after_option and self._given[k - 1] not in ("--debug", "--no-mask", "--no-batch")
            if not arg.startswith("-") and not takes_value:
                words.append(arg)
        ids = [w for w in words if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", w) and not Path(w).exists()]
        return ids[0] if ids and len(words) >= 2 else None


@dataclass(frozen=True)
class Console:
    """Where a command writes, and the environment it reads (a test passes its own)."""

    stdout: IO[str]
    stderr: IO[str]
    environ: Mapping[str, str]


Command = Callable[[argparse.Namespace, Console], int]
"""What ``set_defaults(func=...)`` gives every command; main() calls ``args.func(args, console)``."""


# ------------------------------------------------------------------ option blocks
# Every option that more than one command takes is declared once, in one of these blocks, and a
# command lists the blocks it takes as argparse parents, in the order its --help shows them
# (parents come before a parser's own arguments, so a command's own options are a block too).


def _block(*parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """An option block for ``parents=[...]`` (no -h of its own)."""
    return argparse.ArgumentParser(add_help=False, parents=list(parents))


def _rules_parent() -> argparse.ArgumentParser:
    """--rules / --only-rules, the same for every command that runs rules (see rule_paths)."""
    parent = _block()
    g = parent.add_argument_group("rules")
    g.add_argument(
        "--rules",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="a team's rule file or folder, loaded on top of the default packs: its overrides change "
        "default rules and lexicons, its rules are added (repeatable)",
    )
    g.add_argument(
        "--only-rules",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="load these rule files or folders instead of the default packs (repeatable)",
    )
    return parent


RULES = _rules_parent()


def _whole_number(low: int, high: int | None, problem: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (None: no upper bound), else
    ``problem`` (checked here, once for every command that takes the option)."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if n < low or (high is not None and n > high):
            raise argparse.ArgumentTypeError(problem)
        return n

    return parse


_thread_count = _whole_number(1, None, "must be at least 1")  # --threads


def _call_seconds(text: str) -> float:
    """An argparse type for ``live --seconds``: a length of call, more than 0 s."""
    try:
        s = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not 0 < s < float("inf"):
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return s


_beam_size = _whole_number(1, 10, "must be from 1 (greedy) to 10")  # --beam


# CTranslate2's compute types: a typo is a usage error (exit 2), not a model that failed to load (exit 6)
COMPUTE_TYPES = (
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
    "default",
    "auto",
)


def _models_parent(threads_default: int | None, threads_help: str) -> argparse.ArgumentParser:
    """--model / --compute-type / --threads, for the commands that may run the recognizer."""
    parent = _block()
    g = parent.add_argument_group("models")
    g.add_argument("--model", metavar="DIR", help="CTranslate2 Whisper model folder (default: tiny.en, embedded)")
    g.add_argument(
        "--compute-type",
        default="int8",
        choices=COMPUTE_TYPES,
        metavar="TYPE",
        help="CTranslate2 compute type (default: int8; a CPU also takes int8_float32, int16, float32)",
    )
    g.add_argument("--threads", type=_thread_count, default=threads_default, metavar="N", help=threads_help)
    g.add_argument(
        "--turn-pass",
        choices=("on", "off"),
        help="decode each closed turn again in one window and revise its short pieces "
        "(default: on for replay and demo, off for live calls, the sidebar, qa and eval; BENCHMARKS.md)",
    )
    return parent


def _turn_pass(args: argparse.Namespace) -> bool | None:
    """RecognizerOptions' ``turn_pass`` as --turn-pass says (None: not given, its default)."""
    choice = getattr(args, "turn_pass", None)
    return None if choice is None else choice == "on"


REPLAY_TURN_PASS = True  # replay and demo: the turn pass took word errors off, changed no nudge (BENCHMARKS.md)


def _with_turn_pass(
    args: argparse.Namespace, options: RecognizerOptions, default: bool | None = None
) -> RecognizerOptions:
    """``options`` with ``turn_pass`` as --turn-pass says, else ``default`` (None: the options' own)."""
    choice = _turn_pass(args)
    if choice is None:
        choice = default
    return options if choice is None else replace(options, turn_pass=choice)


MODELS = _models_parent(2, "recognizer CPU threads (default: 2)")  # one call: replay, demo, sidebar, live
BATCH_MODELS = _models_parent(
    None, "recognizer threads per worker (default: the cores shared out over the workers: 1 with one worker per core)"
)  # qa, eval, rules diff/explain


def _corpus_parent() -> argparse.ArgumentParser:
    """How recordings are found and recognized (qa, rules diff, rules explain, eval on audio)."""
    parent = _block()
    g = parent.add_argument_group("recordings")
    g.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="transcript cache (default: $RAPPORT_ASSIST_CACHE, else $XDG_CACHE_HOME/rapport-assist)",
    )
    g.add_argument(
        "--channels",
        default="agent,customer",
        metavar="L,R",
        help="who is on the left and right channel of stereo files, and of Amazon Transcribe, Azure or Google "
        ".json transcripts (ch_0, ch_1; Google's channels 1, 2) (default: agent,customer)",
    )
    g.add_argument(
        "--pair-pattern",
        metavar="REGEX",
        help="how mono files name their call and side (groups 'call' and 'side'; default: "
        "NAME_agent / NAME_customer, also -, . or space, and caller/client)",
    )
    g.add_argument(
        "--no-batch",
        action="store_true",
        help="recognize one utterance at a time, as live capture does (slower; default: packed batches)",
    )
    g.add_argument(
        "--beam",
        type=_beam_size,
        metavar="N",
        help="beam size of the packed batches (default: 5; 1 decodes greedily: about 1.5x less "
        "recognition CPU, more word errors; BENCHMARKS.md)",
    )
    return parent


CORPUS = _corpus_parent()


def _speaker_map(text: str) -> Any:
    """An argparse type for ``--speaker-map``: its errors say how to write it (a UsageError)."""
    from .transcript import parse_speaker_map

    return parse_speaker_map(text)


TRANSCRIPTS = _block()  # replay, sidebar, qa, eval, rules explain, rules diff
TRANSCRIPTS.add_argument(
    "--speaker-map",
    type=_speaker_map,
    default=(),
    metavar="NAME=SIDE,...",
    help="read these people's turns as agent or customer in .txt, .vtt and .srt transcripts that name "
    "people instead of sides, e.g. 'Julie=agent,Mr Jones=customer'; in an Amazon Transcribe job's .json, "
    "its speakers or channels: 'spk_0=agent,spk_1=customer' (channels default to ch_0=agent,ch_1=customer); "
    "in an Azure AI Speech result, 'speaker1=agent,speaker2=customer'; "
    "a name with a comma in double quotes: '\"Smith, Julie\"=agent'",
)

MASK = _block()
MASK.add_argument(
    "--no-mask",
    action="store_true",
    help="show card numbers, SSNs, phone numbers, e-mails... unmasked (default: masked; README 'Privacy')",
)

DEBUG = _block()
DEBUG.add_argument("--debug", action="store_true", help="show tracebacks")  # main() looks for it in argv


def _events_parent(terminal_only: str = "") -> argparse.ArgumentParser:
    """--format / --out of the commands that print a call's events. ``terminal_only``: when they
    apply (the sidebar prints events only without a display)."""
    when = f" {terminal_only}" if terminal_only else ""
    parent = _block()
    parent.add_argument(
        "--format", choices=("text", "jsonl"), default="text", help=f"what to print (default: text){when}"
    )
    parent.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help=f"also write every event to FILE as JSONL, as it happens (replay, demo: into FILE.partial, "
        f"renamed to FILE when the call ends; live: added to the end of FILE; never over an input){when}",
    )
    return parent


EVENTS = _events_parent()  # replay, demo, live
REPORT_FORMAT = _block()  # eval, rules diff
REPORT_FORMAT.add_argument("--format", choices=("text", "json"), default="text", help="what to print (default: text)")

RULE_FILES = _block()  # rules check, rules test
RULE_FILES.add_argument(
    "paths",
    nargs="*",
    type=Path,
    metavar="PATH",
    help="team rule files or folders, on top of the default packs (same as --rules)",
)


def _show_count(text: str) -> int | None:
    """``--show`` of eval and rules diff: a count, or "all" (None)."""
    if text.strip().lower() == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'all', got {text!r}") from None


def _check_show(show: int | None) -> None:
    """``--show`` of eval and rules diff: a count can not be negative (checked before any work)."""
    if show is not None and show < 0:
        raise UsageError("--show must be 0 or more", "")


def _rule_paths(args: argparse.Namespace, *extra: Path) -> list[Path]:
    """The rule files a command loads: the default packs (or --only-rules), then --rules and ``extra``."""
    from .rules import rule_paths

    return rule_paths([*args.rules, *extra], only=args.only_rules)


def _masking(args: argparse.Namespace) -> bool:
    """Mask personal data: yes unless --no-mask or the saved setting says no."""
    from .privacy import saved_masking

    return not getattr(args, "no_mask", False) and saved_masking()


# ------------------------------------------------------------------ the commands


def _command(
    sub: argparse._SubParsersAction,
    name: str,
    func: Command,
    blocks: Sequence[argparse.ArgumentParser],
    help: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Add command ``name`` made of ``blocks`` (in --help order), run by ``func``."""
    # a command's --help opens with what it does: its own description, else its one-line help
    description = description or help[:1].upper() + help[1:] + "."
    p = sub.add_parser(name, parents=list(blocks), help=help, description=description)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rapport-assist", description="Local-first agent-assist: transcribe calls, nudge agents.")
    parser.add_argument("--version", action="version", version=f"rapport-assist {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    own = _block()
    own.add_argument(
        "input",
        nargs="?",
        type=Path,
        help="recording (wav, flac, mp3, ogg, m4a…) or transcript (.jsonl; .txt with Agent:/Customer: lines; "
        "Amazon Transcribe, Call Analytics, Contact Lens, Azure AI Speech or Google CCAI Insights / Speech-to-Text "
        ".json; .vtt or .srt captions)",
    )
    own.add_argument("--agent", type=Path, metavar="FILE", help="mono recording of the agent")
    own.add_argument("--customer", type=Path, metavar="FILE", help="mono recording of the customer")
    own.add_argument("--speaker", choices=("agent", "customer"), help="whose voice a mono INPUT holds")
    own.add_argument(
        "--channels",
        default="agent,customer",
        metavar="L,R",
        help="who is on the left and right channel, also ch_0 and ch_1 of an Amazon Transcribe or Azure .json, "
        "channels 1 and 2 of a Google one (default: agent,customer)",
    )
    _command(
        sub,
        "replay",
        _replay_command,
        [RULES, MODELS, own, TRANSCRIPTS, EVENTS, MASK, DEBUG],
        help="replay a recorded call or transcript through the pipeline",
        description="Replay a stereo recording (left=agent, right=customer), two mono recordings, "
        "one side with --speaker, or a transcript (.jsonl, .txt, Amazon Transcribe, Call Analytics, Contact Lens, "
        "Azure AI Speech or Google CCAI Insights / Speech-to-Text .json, .vtt, .srt).",
    )

    _command(
        sub,
        "demo",
        _demo_command,
        [RULES, MODELS, EVENTS, MASK, DEBUG],
        help="replay the bundled demo call in the terminal",
        description="Replay the bundled demo call (a 96-second support call, recorded in stereo) "
        "through the recognizer and the rules, printing its utterances and nudges as "
        "they come: what the assistant does, without a microphone or a display.",
    )

    own = _block()
    own.add_argument(
        "--qa",
        type=Path,
        metavar="FILE",
        help="review this recording or transcript (.jsonl, .txt, .json, .vtt, .srt) in QA mode "
        "(without a display: replay it in the terminal)",
    )
    own.add_argument("--demo", action="store_true", help="review the bundled demo call right away")
    own.add_argument("--speed", choices=("1", "2", "4", "max"), help="QA replay speed (default: the last one used)")
    own.add_argument("--style", choices=("light", "dark"), help="colour style (default: the saved one, else light)")
    own.add_argument("--settings", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    own.add_argument(
        "--feedback",
        type=Path,
        metavar="FILE",
        help="feedback log (default: feedback.jsonl in $RAPPORT_ASSIST_DATA or ~/.local/share/rapport-assist)",
    )
    own.add_argument("--exit-when-ready", action="store_true", help=argparse.SUPPRESS)  # bench/sidebar_startup.py
    events = _events_parent(
        "— only without a display, where the call (--qa FILE, else the demo call) replays in the terminal"
    )
    _command(
        sub,
        "sidebar",
        _sidebar,
        [RULES, MODELS, own, TRANSCRIPTS, events, MASK, DEBUG],
        help="open the sidebar (live calls; QA review of recordings and transcripts)",
        description="Open the agent-assist sidebar. With no microphone it offers the bundled demo "
        "call for review. With no display it replays the --qa FILE in the terminal (as 'replay FILE'), "
        "or the demo call when no file is named. Ctrl-C in its terminal closes it (exit 130).",
    )

    own = _block()
    own.add_argument("--json", action="store_true", help="print one JSON object per device")
    _command(
        sub,
        "devices",
        _devices_command,
        [own, DEBUG],
        help="list the audio inputs and monitors a live call can capture",
    )

    own = _block()
    own.add_argument(
        "--agent",
        metavar="DEVICE",
        help="agent microphone id from 'rapport-assist devices' "
        "(DEVICE#N picks channel N; default: saved, else the default input)",
    )
    own.add_argument(
        "--customer",
        metavar="DEVICE",
        help="customer side: e.g. pulse:<sink>.monitor, or DEVICE#N (default: saved, else none)",
    )
    own.add_argument("--no-customer", action="store_true", help="capture only the agent")
    own.add_argument("--record", type=Path, metavar="DIR", help="save the call's event log (JSONL) in DIR")
    own.add_argument(
        "--record-audio",
        action="store_true",
        help="with --record: also save the call audio as a stereo WAV (agent left, customer right)",
    )
    own.add_argument("--seconds", type=_call_seconds, metavar="S", help="end the call after S seconds")
    own.add_argument("--no-save", action="store_true", help="do not save these choices as the new defaults")
    _command(
        sub,
        "live",
        _live_command,
        [RULES, MODELS, own, EVENTS, MASK, DEBUG],
        help="run a live call from the terminal: microphone + customer audio",
        description="Capture the agent's microphone and the customer's side (a monitor of the "
        "softphone's output, a second device, or one channel of a device) and print "
        "utterances and nudges as they happen. Ctrl-C ends the call. Device choices "
        "are saved and used next time.",
    )

    rules = sub.add_parser("rules", help="check, test, list, explain and diff rule files; print their JSON Schema")
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION", parser_class=_Parser)
    _add_rules_actions(actions)
    _add_rules_list(actions)
    _add_eval_parser(sub)
    _add_qa_parser(sub)
    return parser


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
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="rule file or folder only the OLD side loads (repeatable)",
    )
    own.add_argument(
        "--new",
        type=Path,
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
        "take seconds. Example: 'rules diff --new team.yaml calls/'.",
    )


# ------------------------------------------------------------------ rules list (one block: its parser and command)


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
    from .rules.listing import format_text, list_rules, select, to_json

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


def _add_qa_parser(sub: argparse._SubParsersAction) -> None:
    own = _block()
    own.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="recordings, transcripts, folders, globs or @LIST files"
    )
    own.add_argument("--out", type=Path, required=True, metavar="DIR", help="where reports and the summary go")
    own.add_argument("--workers", type=int, metavar="N", help="worker processes (default: one per core)")
    own.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run on a Dask cluster: tcp://HOST:8786, or local[:N] for N worker processes here",
    )
    own.add_argument("--force", action="store_true", help="redo finished calls (the transcript cache still applies)")
    own.add_argument("--no-report", action="store_true", help="no per-call HTML (events.jsonl and the summary only)")
    own.add_argument(
        "--no-pack-calls",
        action="store_true",
        help="recognize each call on its own (default: short calls share recognition windows, which is "
        "faster; a call's words then depend a little on the calls beside it)",
    )
    mask = _block(MASK)
    mask.add_argument(
        "--cache-unmasked",
        action="store_true",
        help="keep recognized text unmasked in the transcript cache, so a changed masking list needs no "
        "new recognition (outputs are still masked)",
    )
    _command(
        sub,
        "qa",
        _qa_command,
        [RULES, BATCH_MODELS, own, CORPUS, TRANSCRIPTS, mask, DEBUG],
        help="replay many recorded calls: one HTML report per call and a summary",
        description="Replay recorded calls (stereo, or agent/customer pairs) and transcripts through "
        "the rules: per call events.jsonl and report.html in OUT/calls/ID/, and "
        "OUT/summary.html and summary.csv. Finished calls are skipped when run again; "
        "transcripts are cached, so new rules over old calls take seconds.",
    )


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
    own.add_argument("--rule", action="append", metavar="ID", help="only this rule (repeatable)")
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
    from .qa.inputs import AUDIO_SUFFIXES

    return any(p.suffix.lower() in AUDIO_SUFFIXES for p in folder.rglob("*") if p.is_file())


def _audio_conversations(args: argparse.Namespace, stderr: IO[str]) -> list[Conversation]:
    """The calls of a folder with recordings as conversations (their recognized timelines), labelled by call id."""
    from .evaluate import Conversation, apply_labels, read_labels
    from .qa.corpus import call_timelines
    from .qa.inputs import discover
    from .types import Utterance

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


def _write_out(stdout: IO[str], text: str, what: str) -> None:
    """Write a command's whole output (``what``: "the report") to stdout: a closed pipe ends the
    command quietly (OutputClosed), any other failed write is an OutputError."""
    try:
        stdout.write(text)
        stdout.flush()
    except BrokenPipeError:
        raise OutputClosed("stdout was closed", "") from None
    except OSError as exc:
        raise OutputError(f"cannot write {what}: {exc.strerror or exc}", "") from None


def _eval_spoken(args: argparse.Namespace, set_file: Path, ruleset: RuleSet, stdout: IO[str], stderr: IO[str]) -> int:
    """``eval`` on a spoken set: both routes side by side (spoken_eval.py). The recordings are
    recognized unmasked (made-up calls; the transcript route is unmasked too)."""
    import dataclasses
    import json

    from .annotate import Annotator
    from .spoken_eval import evaluate_spoken, format_spoken, read_spoken_set, recognize_set, spoken_to_json

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

    from .annotate import Annotator
    from .evaluate import evaluate, format_text, load_conversations, report_to_json, select_rules
    from .rules import load_rules
    from .spoken_eval import spoken_set_file

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


def _warn(stderr: IO[str], message: str) -> None:
    stderr.write(f"rapport-assist: warning: {message}\n")


def _channel_order(text: str) -> tuple[Speaker, Speaker]:
    parts = [p.strip() for p in text.split(",")]
    try:
        order = [Speaker.parse(p) for p in parts]
    except ValueError as exc:
        raise UsageError(f"--channels: {exc}", "write --channels agent,customer or --channels customer,agent") from None
    if len(order) != 2 or order[0] is order[1]:
        raise UsageError(
            f"--channels must name both sides once, got {text!r}",
            "write --channels agent,customer or --channels customer,agent",
        )
    left, right = order
    return left, right


def _load_engine(args: argparse.Namespace) -> RuleEngine:
    from .rules import RuleEngine, load_rules

    return RuleEngine(load_rules(_rule_paths(args)))


def _recognizer_factory(args: argparse.Namespace) -> Callable[[], Recognizer]:
    """Builds the recognizer only when audio needs it (transcripts never load the model)."""

    def factory() -> Recognizer:
        from .recognizer import Recognizer, RecognizerOptions

        model = getattr(args, "model", None)
        return Recognizer(
            _with_turn_pass(
                args,
                RecognizerOptions(
                    model_dir=Path(model) if model else None,
                    compute_type=getattr(args, "compute_type", "int8"),
                    cpu_threads=getattr(args, "threads", 2),
                    keep_freed_memory=True,
                ),
                REPLAY_TURN_PASS,
            )
        )  # a batch run: 9x fewer page faults

    return factory


def _replay_command(args: argparse.Namespace, con: Console) -> int:
    from .sources import ReplayInput

    spec = ReplayInput(
        path=args.input,
        agent_path=args.agent,
        customer_path=args.customer,
        speaker=Speaker.parse(args.speaker) if args.speaker else None,
        channel_order=_channel_order(args.channels),
        speaker_map=args.speaker_map,
    )
    return _replay(args, spec, con.stdout, con.stderr)


def _demo_command(args: argparse.Namespace, con: Console) -> int:
    from .sources import ReplayInput

    con.stderr.write(
        "rapport-assist: replaying the bundled demo call in the terminal "
        f"({DEMO_CALL.name}: agent on the left channel, customer on the right)\n"
    )
    con.stderr.flush()
    return _replay(args, ReplayInput(path=DEMO_CALL), con.stdout, con.stderr)


def _replay(args: argparse.Namespace, spec: ReplayInput, stdout: IO[str], stderr: IO[str]) -> int:
    from .annotate import Annotator
    from .pipeline import CallPipeline
    from .assist import event_time
    from .privacy import masker_for
    from .sources import open_replay

    out = getattr(args, "out", None)
    if out is not None:  # before anything is read or opened for writing
        inputs = [spec.path, spec.agent_path, spec.customer_path, *_rule_files(_rule_paths(args))]
        refuse_overwrite(out, inputs)
        refuse_overwrite(out.with_name(out.name + ".partial"), inputs, "--out's partial file")
    engine = _load_engine(args)  # rule errors before any work
    source = open_replay(spec, _recognizer_factory(args))
    pipeline = CallPipeline(Annotator(), engine, masker=masker_for(_masking(args)))
    sinks: list[EventSink] = [JsonlSink(stdout, "stdout") if args.format == "jsonl" else TextSink(stdout, "stdout")]
    partial = None
    if out is not None:
        try:
            partial = PartialFile(out)
        except OSError as exc:
            raise OutputError(
                f"cannot create {out}: {exc.strerror}", "check the folder exists and is writable"
            ) from None
        sinks.append(JsonlSink(partial.handle, str(partial.partial)))
    # on a terminal, while the events go elsewhere: how far the call has got
    progress = _replay_progress(source.audio_s, stdout, stderr)
    try:
        for event in pipeline.run(source.items(), audio_s=source.audio_s):
            for sink in list(sinks):
                try:
                    sink.write(event)
                except OutputClosed:  # the reader of stdout stopped (| head): --out still gets every event
                    if sink is not sinks[0] or len(sinks) == 1:
                        raise
                    sinks.remove(sink)
            t_s = event_time(event)
            if t_s is not None:
                progress.update(t_s)
        if partial is not None:
            try:
                partial.commit()
            except OSError as exc:
                raise OutputError(
                    f"cannot finish {out}: {exc.strerror or exc}", f"the events are in {partial.partial}"
                ) from None
            partial = None
    finally:
        progress.finish()
        if partial is not None:  # interrupted or failed: keep what was written, and say where
            partial.close()
            if not partial.direct:
                stderr.write(f"rapport-assist: the events so far are in {partial.partial} ({out} was left as it was)\n")
    return ExitStatus.OK


def _rule_files(paths: Sequence[Path] | None) -> list[Path]:
    """The rule files of ``--rules`` (folders: their YAML files), which an output must not replace."""
    files: list[Path] = []
    for p in paths or ():
        files.extend(sorted(p.rglob("*.y*ml")) if p.is_dir() else [p])
    return files


def _replay_progress(audio_s: float | None, stdout: IO[str], stderr: IO[str]) -> CallProgress:
    """A progress line on stderr when it is a terminal and the events do not go to one (there,
    they show the progress themselves); silent for transcripts (they take a moment)."""
    from .qa.progress import CallProgress

    try:
        events_on_terminal = stdout.isatty()
    except (AttributeError, ValueError, OSError):
        events_on_terminal = False
    progress = CallProgress("replay", audio_s, stderr)
    if events_on_terminal or audio_s is None:
        progress.tty = False
    return progress


def _devices_command(args: argparse.Namespace, con: Console) -> int:
    import json

    from .capture import list_devices

    stdout = con.stdout
    devices = list_devices()
    if args.json:
        for dev in devices:
            stdout.write(json.dumps(dev.to_json()) + "\n")
        return ExitStatus.OK
    if not devices:
        stdout.write("no audio inputs found (no devices, or no audio server running)\n")
        return ExitStatus.OK
    for kind, title in (
        ("input", "inputs"),
        ("monitor", "monitors (what an output device plays: the customer's side)"),
    ):
        shown = [d for d in devices if d.kind == kind]
        if not shown:
            continue
        stdout.write(f"{title}:\n")
        for d in shown:
            mark = "*" if d.is_default else " "
            rate = f", {d.default_rate_hz:g} Hz" if d.default_rate_hz else ""
            desc = f"  ({d.description})" if d.description != d.name else ""
            stdout.write(f" {mark} {d.id}{desc}  [{d.host_api}, {d.channels} ch{rate}]\n")
    stdout.write("use: rapport-assist live --agent ID --customer ID   (ID#N picks channel N of a device)\n")
    return ExitStatus.OK


def _live_command(args: argparse.Namespace, con: Console) -> int:
    import threading
    from dataclasses import replace

    from .capture import DeviceChoice, check_sides, find_device, list_devices
    from .errors import DeviceError
    from .live import LiveCall, LiveEvent, LiveSettings
    from .recognizer import RecognizerOptions
    from .settings import load_choices, save_choices

    stdout, stderr = con.stdout, con.stderr
    saved = load_choices()
    if saved.problem:
        stderr.write(f"rapport-assist: warning: {saved.problem}\n")
    try:
        agent = DeviceChoice.parse(args.agent or saved.agent_device or "default")
        customer_text = None if args.no_customer else (args.customer or saved.customer_device)
        customer = DeviceChoice.parse(customer_text) if customer_text else None
    except ValueError as exc:
        raise UsageError(str(exc), "see 'rapport-assist devices'") from None
    check_sides(agent, customer)  # a setting error, whatever devices there are
    if args.out is not None:  # an output over an input: refused before devices are listed or choices saved
        refuse_overwrite(args.out, _rule_files(_rule_paths(args)))
    devices = list_devices()
    if not devices:
        raise DeviceError(
            "no audio input to capture from (no devices, or no audio server running)",
            "plug in a headset or start PulseAudio/PipeWire; to see the assistant without audio, "
            "run 'rapport-assist demo'",
        )
    for choice in (agent, customer):
        if choice is not None:
            find_device(choice, devices)  # an unknown device is a usage problem: say so before starting
    record = args.record or (Path(saved.record_dir) if saved.record_dir else None)
    settings = LiveSettings(
        agent=agent,
        customer=customer,
        recognizer=_with_turn_pass(
            args,
            RecognizerOptions(
                model_dir=Path(args.model) if args.model else None,
                compute_type=args.compute_type,
                cpu_threads=args.threads,
            ),
        ),
        rule_paths=tuple(_rule_paths(args)),
        record_to=record,
        record_audio=args.record_audio or (saved.record_audio and args.record is None and record is not None),
        mask_digits=not args.no_mask and saved.mask_digits,  # personal data masked by the pipeline
    )
    if not args.no_save:
        try:
            save_choices(
                replace(
                    saved,
                    agent_device=str(agent),
                    customer_device=str(customer) if customer else None,
                    record_dir=str(record) if record else None,
                    record_audio=settings.record_audio,
                    model=args.model or saved.model,
                )
            )
        except RapportError as exc:
            stderr.write(f"rapport-assist: warning: {exc.one_line()}\n")
    sinks: list[EventSink] = [JsonlSink(stdout, "stdout") if args.format == "jsonl" else TextSink(stdout, "stdout")]
    out_handle = None
    if args.out is not None:
        try:
            out_handle = args.out.open("a", encoding="utf-8")
        except OSError as exc:
            raise OutputError(
                f"cannot create {args.out}: {exc.strerror}", "check the folder exists and is writable"
            ) from None
        sinks.append(JsonlSink(out_handle, str(args.out)))
    ended = threading.Event()
    failures: list[RapportError] = []

    def on_event(event: LiveEvent) -> None:
        from .types import CallSummary, SpeechActivity

        if isinstance(event, SpeechActivity):  # speech-started marks are for the sidebar
            return
        for sink in sinks:
            try:
                sink.write(event)
            except RapportError as exc:
                failures.append(exc)
                ended.set()
        if isinstance(event, CallSummary):
            ended.set()

    call = LiveCall(settings)
    side = f"{agent}" + (f" + customer {customer}" if customer else " (agent only)")
    stderr.write(f"rapport-assist: live call: agent {side}; Ctrl-C ends the call\n")
    stderr.flush()
    call.start(on_event)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, lambda *_: ended.set())
    except ValueError:  # not the main thread (tests): Ctrl-C/--seconds only
        previous = None
    try:
        ended.wait(args.seconds if args.seconds is not None else None)
    except KeyboardInterrupt:
        pass
    finally:
        call.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if out_handle is not None:
            _close_quietly(out_handle)
    if call.log_path is not None:
        stderr.write(
            f"rapport-assist: call record: {call.log_path}" + (f" and {call.wav_path}" if call.wav_path else "") + "\n"
        )
    if failures:
        raise failures[0]
    return ExitStatus.OK


def _close_quietly(handle: IO[str]) -> None:
    """Close an output file; a failed final flush was already reported by the sink that hit it."""
    try:
        handle.close()
    except OSError:
        pass


def _discover_options(args: argparse.Namespace) -> dict[str, Any]:
    from .qa.inputs import SIDE_PATTERN

    return {
        "side_pattern": args.pair_pattern or SIDE_PATTERN,
        "channel_order": _channel_order(args.channels),
        "speaker_map": getattr(args, "speaker_map", ()),
    }


def default_workers() -> int:
    """One worker process per core, one recognizer thread each (measured: bench/qa_throughput.py)."""
    import os

    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _qa_settings(args: argparse.Namespace, out_dir: Path, workers: int) -> QaSettings:
    from .privacy import default_mask_list
    from .qa.runner import QaSettings
    from .userdirs import cache_dir

    threads = args.threads
    if threads is None:
        threads = max(1, default_workers() // max(1, workers))
    rules = _rule_paths(args)
    return QaSettings(
        out_dir=out_dir.absolute(),
        cache_dir=(args.cache or cache_dir()).absolute(),
        rule_paths=tuple(p.resolve() for p in rules),
        model_dir=Path(args.model) if args.model else None,
        compute_type=args.compute_type,
        threads=threads,
        batch=not args.no_batch,
        report=not getattr(args, "no_report", False),
        pack_calls=not getattr(args, "no_pack_calls", False),
        mask_list=default_mask_list() if _masking(args) else None,
        cache_unmasked=getattr(args, "cache_unmasked", False),
        turn_pass=_turn_pass(args),
        batch_beam_size=getattr(args, "beam", None),
    )


def _check_qa_out(out: Path, inputs: Sequence[Path]) -> None:
    """UsageError (exit 2) when qa's outputs would go into an input folder (the next run would read
    them as calls) or among the inputs; checked before anything is written."""
    from .fileio import inside, same_file

    for path in inputs:
        if path.is_file() and same_file(path, out):
            raise UsageError(f"--out {out} is the input {path}", "give --out a folder of its own")
        if path.is_dir() and inside(out, path):
            raise UsageError(
                f"--out {out} is inside the input folder {path}; its reports would be read as calls",
                f"put --out outside {path}, e.g. --out {path.absolute().parent / (path.absolute().name + '-qa')}",
            )
        if path.exists() and inside(path, out):
            raise UsageError(
                f"--out {out} holds the input {path}; the reports would be written among the inputs",
                "give --out a folder of its own",
            )


def _qa_command(args: argparse.Namespace, con: Console) -> int:
    from .qa.inputs import discover, is_pattern
    from .qa.progress import Progress
    from .qa.runner import run_batch
    from .rules import load_rules

    stderr = con.stderr
    load_rules(_rule_paths(args))  # rule errors before any work
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1", "")
    if args.workers is not None and args.cluster:
        raise UsageError("--workers is for local runs; a cluster has its own workers", "drop --workers or --cluster")
    if args.cluster:
        from .qa.runner import local_cluster_size

        local_cluster_size(args.cluster)  # a bad address before any work
    _check_qa_out(args.out, [Path(i) for i in args.inputs if not is_pattern(i)])
    settings = _qa_settings(args, args.out, 1)
    # qa's own outputs are never inputs; what globs and @lists found is checked as the files are
    calls, warnings = discover(
        args.inputs,
        **_discover_options(args),
        exclude=(args.out / "calls", settings.cache_dir),
        missing_ok=True,  # a path that does not exist is an error row; the rest of the batch runs
    )
    _check_qa_out(args.out, [f for c in calls for f in c.files])
    for w in warnings:
        stderr.write(f"rapport-assist: warning: {w}\n")
    workers = args.workers or min(default_workers(), len(calls))
    settings = _qa_settings(args, args.out, 1 if args.cluster else workers)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {args.out}: {exc.strerror}", "check the path and permissions") from None
    progress = Progress(len(calls), stderr)
    where = (
        f"Dask cluster {args.cluster}"
        if args.cluster
        else f"{plural(workers, 'worker')} × {plural(settings.threads, 'thread')}"
    )

    def on_plan(todo: list[Task], known: list[CallOutcome]) -> None:
        progress.skip(sum(1 for o in known if o.status == "skipped"))
        for o in known:
            if o.status == "error":
                progress.update(None, failed=True)
        stderr.write(f"rapport-assist: qa: {plural(len(calls), 'call')}, {len(todo)} to do, on {where}\n")
        progress.start()

    seen: list[CallOutcome] = []

    def on_outcome(o: CallOutcome) -> None:
        seen.append(o)
        progress.update(o.audio_s, failed=o.status == "error")

    try:
        outcomes = run_batch(
            calls,
            settings,
            workers=workers,
            cluster=args.cluster,
            force=args.force,
            on_outcome=on_outcome,
            on_plan=on_plan,
        )
    except KeyboardInterrupt:
        progress.finish()
        stderr.write(
            f"rapport-assist: interrupted after {progress.done} of {len(calls)} calls; finished calls are "
            "complete, run the same command again to do the rest\n"
        )
        return ExitStatus.INTERRUPTED
    except OutputError:  # the summary could not be written: still say why calls failed
        progress.finish()
        for o in seen:
            if o.status == "error":
                stderr.write(f"rapport-assist: error: {o.call_id}: {o.error}\n")
        raise
    progress.finish()
    failed = [o for o in outcomes if o.status == "error"]
    for o in failed:
        stderr.write(f"rapport-assist: error: {o.call_id}: {o.error}\n")
    from .qa.summary import warning_label

    warned = [o for o in outcomes if o.stats is not None and o.stats.warnings]
    for o in warned:
        assert o.stats is not None
        stderr.write(f"rapport-assist: warning: {o.call_id}: {', '.join(map(warning_label, o.stats.warnings))}\n")
    from .qa.runner import EARLIER_VERSION, finished_earlier

    # calls in the summary from earlier runs, whose outputs an earlier version wrote: their
    # warnings (or lack of them) and figures are its, so say how to refresh them
    stale = [
        o.call_id
        for o in finished_earlier(args.out, {c.id for c in calls})[1]
        if o.stats is not None and EARLIER_VERSION in o.stats.warnings
    ]
    if stale:
        named = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        stderr.write(
            f"rapport-assist: warning: {plural(len(stale), 'call')} in the summary "
            f"{'was' if len(stale) == 1 else 'were'} made by an earlier version ({named}): "
            f"warnings may be missing and figures out of date; run qa over "
            f"{'it' if len(stale) == 1 else 'them'} again with --out {args.out} to refresh "
            f"{'it' if len(stale) == 1 else 'them'} (summary.html gives the command for each)\n"
        )
    with_warnings = (
        f", {len(warned)} with warnings (listen to them first: the summary lists them at the top)" if warned else ""
    )
    stderr.write(
        f"rapport-assist: qa: {plural(len(outcomes) - len(failed), 'call')} done "
        f"({progress.skipped} skipped as finished){with_warnings}, "
        f"{len(failed)} failed; summary: {args.out / 'summary.html'}\n"
    )
    return ExitStatus.SOME_CALLS_FAILED if failed else ExitStatus.OK


def _diff_command(args: argparse.Namespace, con: Console) -> int:
    import json

    from .qa.diff import diff_rules, diff_to_json, format_diff
    from .qa.inputs import discover

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
    return ExitStatus.SOME_CALLS_FAILED if report.errors else ExitStatus.OK


def _diff_sides(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """OLD = defaults (unless --only) + --rules + --old; NEW = the same with --new."""
    from .rules import rule_paths

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

    from .rules.schema import rule_schema

    con.stdout.write(json.dumps(rule_schema(), indent=2) + "\n")
    return ExitStatus.OK


def _rules_check(args: argparse.Namespace, con: Console) -> int:
    from .rules import load_rules

    paths = _rule_paths(args, *args.paths)
    ruleset = load_rules(paths)
    for warning in ruleset.warnings:
        con.stdout.write(f"{warning}\n")
    off = f" ({len(ruleset.disabled)} switched off)" if ruleset.disabled else ""
    n = len(ruleset.warnings)
    warned = f"{n} lint warning{'s' if n != 1 else ''}"
    loaded = f"{len(ruleset.rules)} rules{off} loaded from {_describe_paths(args, paths)}"
    if args.strict and ruleset.warnings:
        raise RuleError(f"{warned} with --strict ({loaded})", "fix the warnings above")
    # check reads the files; the fires/quiet examples are run by 'rules test' (spaCy: slower)
    examples = sum(len(r.examples) for r in ruleset.rules)
    untested = f" ({examples} examples not run: 'rapport-assist rules test' runs them)" if examples else ""
    con.stdout.write(f"ok: {loaded}, {warned}{untested}\n")
    return ExitStatus.OK


def _rules_test(args: argparse.Namespace, con: Console) -> int:
    from .annotate import Annotator
    from .rule_examples import run_examples
    from .rules import load_rules, rule_paths

    paths = _rule_paths(args, *args.paths)
    ruleset = load_rules(paths)
    if args.rule:
        known = {r.id for r in ruleset.rules}
        for rule_id in args.rule:
            if rule_id not in known:
                from .rules.source import closest_hint

                if any(r.id == rule_id for r in ruleset.disabled):
                    raise UsageError(f"no enabled rule {rule_id!r} (it is switched off)", SWITCHED_OFF_HINT)
                raise UsageError(f"no enabled rule {rule_id!r}", closest_hint(rule_id, known, "rule id"))
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
            from .rule_examples import explain_example

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
    from .rule_examples import run_examples
    from .rules import load_rules

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
    from .rules import default_rules_dir

    if paths[0] != default_rules_dir():
        return shown
    here = os.path.relpath(paths[0])
    team = ", ".join(map(str, paths[1:]))
    return f"the default packs ({paths[0] if here.startswith('..') else here})" + (f" + {team}" if team else "")


def _explain_timeline(args: argparse.Namespace, stderr: IO[str]) -> CachedTimeline:
    """The input's timeline as ``qa`` has it (the transcript cache, batch recognition, qa's
    utterance numbers), with progress on a terminal while a recording is recognized."""
    from .qa.inputs import discover
    from .qa.progress import CallProgress
    from .qa.runner import call_timeline

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
    from .annotate import Annotator
    from .pipeline import CallPipeline
    from .privacy import masker_for
    from .rules import RuleEngine, load_rules
    from .rules.explain import RuleExplainer
    from .sources import TRANSCRIPT_READ_AHEAD, ReplayInput, Timeline, heard_sides, open_replay

    stdout = con.stdout
    ruleset = load_rules(_rule_paths(args))
    ids = [r.id for r in ruleset.rules]
    if args.rule not in ids:
        from .rules.source import closest_hint

        if any(r.id == args.rule for r in ruleset.disabled):
            raise UsageError(f"no enabled rule {args.rule!r} (it is switched off)", SWITCHED_OFF_HINT)
        raise UsageError(f"no enabled rule {args.rule!r}", closest_hint(args.rule, ids, "rule id"))
    engine = RuleEngine(ruleset)
    explainer = RuleExplainer(engine, args.rule)
    rule = explainer.rule
    spec = ReplayInput(path=args.input, speaker_map=args.speaker_map, channel_order=_channel_order(args.channels))
    spec.check()  # --speaker-map on a recording, before any work
    if spec.is_transcript:
        source = open_replay(spec, _recognizer_factory(args))
        items, audio_s = source.items(), source.audio_s
    else:
        timeline = _explain_timeline(args, con.stderr)
        items = Timeline(iter(timeline.items), TRANSCRIPT_READ_AHEAD, heard_sides(timeline.items, spec.sides))
        audio_s = timeline.audio_s
    stdout.write(f"rule {rule.id} ({rule.source}): {rule.title}\n")
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


def _sidebar(args: argparse.Namespace, con: Console) -> int:
    """Open the sidebar; with no display (or no Qt) say so and replay the call of --qa, else the demo
    call, in the terminal."""
    from .sources import ReplayInput

    if args.qa is not None and not args.qa.exists():
        raise InputNotFound(f"{args.qa} does not exist", "check the path of the recording or transcript")
    if args.feedback is not None:  # the feedback log is appended to: never an input
        refuse_overwrite(args.feedback, [args.qa, *_rule_files(_rule_paths(args))], "--feedback")
    if args.out is not None:  # written when the call replays in the terminal: never an input either
        refuse_overwrite(args.out, [args.qa, *_rule_files(_rule_paths(args))])
    stdout, stderr, environ = con.stdout, con.stderr, con.environ
    display = bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY") or environ.get("QT_QPA_PLATFORM"))
    reason = "" if display else "no display found ($DISPLAY and $WAYLAND_DISPLAY are not set)"
    if display:
        try:
            from .gui.app import SidebarOptions, parse_speed, run_sidebar
        except ImportError as exc:
            reason = f"the sidebar cannot load Qt ({exc}); run 'make setup'"
    if reason:
        # the call the window would have opened: the one named by --qa (as 'replay FILE' reads it), else the demo
        what = f"{args.qa}" if args.qa is not None else f"the bundled demo call ({DEMO_CALL.name})"
        stderr.write(
            f"rapport-assist: {reason}, so the sidebar cannot open — replaying {what} in the terminal instead\n"
        )
        stderr.flush()
        spec = (
            ReplayInput(path=args.qa, speaker_map=args.speaker_map)
            if args.qa is not None
            else ReplayInput(path=DEMO_CALL)
        )
        return _replay(args, spec, stdout, stderr)
    options = SidebarOptions(
        rules=_rule_paths(args),
        qa=args.qa,
        demo=args.demo,
        speed=parse_speed(args.speed) if args.speed else None,
        style=args.style,
        model_dir=Path(args.model) if args.model else None,
        compute_type=args.compute_type,
        threads=args.threads,
        turn_pass=bool(_turn_pass(args)),
        exit_when_ready=args.exit_when_ready,
        settings_path=args.settings,
        feedback_path=args.feedback,
        mask=_masking(args),
        speaker_map=args.speaker_map,
    )
    return run_sidebar(options, stdout, stderr)


def main(
    argv: Sequence[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    environ = os.environ if environ is None else environ
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        func: Command | None = getattr(args, "func", None)
        if func is None:  # no command (or 'rules' with no action)
            build_parser().print_help(stdout)
            return ExitStatus.USAGE
        return func(args, Console(stdout, stderr, environ))
    except (OutputClosed, BrokenPipeError):  # the reader stopped (| head): end quietly, as head expects
        _drop_stdout(stdout)
        return ExitStatus.OK
    except RapportError as exc:
        if debug:
            traceback.print_exc(file=stderr)
        stderr.write(f"rapport-assist: error: {exc.one_line()}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        stderr.write("rapport-assist: interrupted; everything printed so far is complete\n")
        return ExitStatus.INTERRUPTED
    except Exception as exc:  # a bug: one line, traceback with --debug
        if debug:
            traceback.print_exc(file=stderr)
        stderr.write(
            f"rapport-assist: internal error: {exc.__class__.__name__}: {exc} — rerun with --debug and report it\n"
        )
        return ExitStatus.INTERNAL_ERROR


def _drop_stdout(stdout: IO[str]) -> None:
    """After the reader of stdout went away: send what is still buffered, and any later write,
    to /dev/null, so Python's final flush does not fail again at exit."""
    try:
        fd = stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's StringIO)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def entry_point() -> None:
    code = main()
    try:
        sys.stdout.flush()  # what is still buffered, now, while a closed pipe can still end quietly
    except BrokenPipeError:
        _drop_stdout(sys.stdout)
    if code == ExitStatus.INTERRUPTED:
        # the interrupt is handled and what was done is saved: another Ctrl-C while Python shuts
        # down (joining recognizer threads can take a moment) would only turn this exit into a crash
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":  # python -m rapport_assist.cli
    entry_point()
