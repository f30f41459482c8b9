"""The parser's parts: argparse that raises ``UsageError``, the option blocks that more than one
command takes (argparse parents), the argument types that check their values, and ``_command``,
which adds a command made of blocks."""

from __future__ import annotations

import argparse
import difflib
import re
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

from ..errors import UsageError
from .common import Command


def _closest_choice(message: str) -> str | None:
    """For argparse's "invalid choice: 'chek' (choose from 'check', 'test', ...)": the choice the
    word given was most likely meant to be (a misspelt command or action), else None."""
    given = re.search(r"invalid choice: '([^']*)'", message)
    listed = re.search(r"\(choose from (.*)\)$", message)
    if given is None or listed is None:
        return None
    choices = re.findall(r"'([^']*)'", listed.group(1)) or [c.strip() for c in listed.group(1).split(",")]
    close = difflib.get_close_matches(given.group(1).lower(), choices, n=1, cutoff=0.6)
    return close[0] if close else None


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
        typo = _closest_choice(message)
        see = f"see '{self.prog} --help'"
        raise UsageError(message, f"did you mean {typo!r}? ({see})" if typo else see)

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


# Every option that more than one command takes is declared once, in one of these blocks, and a
# command lists the blocks it takes as argparse parents, in the order its --help shows them
# (parents come before a parser's own arguments, so a command's own options are a block too).


def _block(*parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """An option block for ``parents=[...]`` (no -h of its own)."""
    return argparse.ArgumentParser(add_help=False, parents=list(parents))


def rule_path(text: str) -> Path:
    """A rule file or folder named on the command line; an empty one (an unset shell variable,
    '--rules "$TEAM"') is refused: as Path('') it was the current folder, every *.yaml in it loaded."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path (an unset variable?): name a rule file or folder")
    return Path(text)


def _rules_parent() -> argparse.ArgumentParser:
    """--rules / --only-rules, the same for every command that runs rules (see rule_paths)."""
    parent = _block()
    g = parent.add_argument_group("rules")
    g.add_argument(
        "--rules",
        type=rule_path,
        action="append",
        default=[],
        metavar="PATH",
        help="a team's rule file or folder, loaded on top of the default packs: its overrides change "
        "default rules and lexicons, its rules are added (repeatable)",
    )
    g.add_argument(
        "--only-rules",
        type=rule_path,
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
    from ..transcript import parse_speaker_map

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
    type=rule_path,
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
