"""The ``rapport-assist`` command: ``build_parser`` (every command group, in --help order),
``main(argv, stdout, stderr) -> int`` (testable in process: known errors print one line with a
fix and exit with their ``errors.ExitStatus``; tracebacks only with ``--debug``) and
``entry_point``, the console script.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from typing import IO, Mapping, Sequence

from .. import __version__
from ..errors import ExitStatus, OutputClosed, RapportError
from .common import Command, Console
from .evaluate import _add_eval_parser
from .launcher import _add_launcher_parser
from .live import _add_live_parsers
from .parser import _Parser
from .qa import _add_qa_parser
from .replay import _add_replay_parsers
from .rules import _add_rules_parser
from .sidebar import _add_sidebar_parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rapport-assist", description="Local-first agent-assist: transcribe calls, nudge agents.")
    parser.add_argument("--version", action="version", version=f"rapport-assist {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_replay_parsers(sub)
    _add_sidebar_parser(sub)
    _add_live_parsers(sub)
    _add_rules_parser(sub)
    _add_eval_parser(sub)
    _add_qa_parser(sub)
    _add_launcher_parser(sub)
    return parser


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
        parser = build_parser()
        args = parser.parse_args(argv)
        func: Command | None = getattr(args, "func", None)
        if func is None:  # no command, or a group ('rules', 'launcher') with no action: its own help
            _group(parser, getattr(args, "command", None)).print_help(stdout)
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


def _group(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser:
    """The parser of the command ``name`` (the top level when None or unknown)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    return parser


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
