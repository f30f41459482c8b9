"""What the commands share: the ``Console`` they write to, and how they read the options that
several of them take (rule files, masking, channels, the recognizer's turn pass, qa's settings)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..errors import OutputClosed, OutputError, UsageError
from ..types import Speaker

if TYPE_CHECKING:  # pragma: no cover
    from ..qa.runner import QaSettings
    from ..recognizer import RecognizerOptions


@dataclass(frozen=True)
class Console:
    """Where a command writes, and the environment it reads (a test passes its own)."""

    stdout: IO[str]
    stderr: IO[str]
    environ: Mapping[str, str]


Command = Callable[[argparse.Namespace, Console], int]
"""What ``set_defaults(func=...)`` gives every command; main() calls ``args.func(args, console)``."""


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


def _check_show(show: int | None) -> None:
    """``--show`` of eval and rules diff: a count can not be negative (checked before any work)."""
    if show is not None and show < 0:
        raise UsageError("--show must be 0 or more", "")


def _rule_paths(args: argparse.Namespace, *extra: Path) -> list[Path]:
    """The rule files a command loads: the default packs (or --only-rules), then --rules and ``extra``."""
    from ..rules import rule_paths

    return rule_paths([*args.rules, *extra], only=args.only_rules)


def _masking(args: argparse.Namespace) -> bool:
    """Mask personal data: yes unless --no-mask or the saved setting says no."""
    from ..privacy import saved_masking

    return not getattr(args, "no_mask", False) and saved_masking()


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


def _rule_files(paths: Sequence[Path] | None) -> list[Path]:
    """The rule files of ``--rules`` (folders: their YAML files), which an output must not replace."""
    files: list[Path] = []
    for p in paths or ():
        files.extend(sorted(p.rglob("*.y*ml")) if p.is_dir() else [p])
    return files


def _discover_options(args: argparse.Namespace) -> dict[str, Any]:
    from ..qa.inputs import SIDE_PATTERN

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
    from ..privacy import default_mask_list
    from ..qa.runner import QaSettings
    from ..userdirs import cache_dir

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
