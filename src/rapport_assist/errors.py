"""Known errors: each carries one line for the user, a hint on how to fix it, and an exit code.

Exit codes: ``ExitStatus`` (the table in README.md, "Exit codes").

A closed pipe on the output (``rapport-assist rules explain ... | head``: the reader stopped) is
not an error: the command stops quietly with exit 0, as ``head`` expects (``replay --out FILE``
still completes FILE).
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What ``rapport-assist`` exits with."""

    OK = 0  # success (including "no speech found", and a reader of stdout that stopped)
    INTERNAL_ERROR = 1  # a bug: rerun with --debug and report it
    USAGE = 2  # bad command-line arguments, or an output that would overwrite an input
    INPUT_NOT_FOUND = 3  # input file missing or unreadable
    BAD_INPUT = 4  # input corrupt, unsupported or malformed (bad audio, bad JSONL line)
    RULE_ERROR = 5  # rule file error (YAML or rule validation); 'rules check --strict': lint warnings
    MODEL_ERROR = 6  # speech model missing or broken
    OUTPUT_ERROR = 7  # output could not be written (disk full, permission denied)
    EXAMPLES_FAILED = 8  # 'rules test': at least one rule example failed
    NO_DEVICE = 9  # no audio device or audio server to capture a live call from
    SOME_CALLS_FAILED = 10  # 'qa', 'rules diff', 'eval': some calls failed (each listed); the others are complete
    INTERRUPTED = 130  # Ctrl-C; everything printed so far is complete


class RapportError(Exception):
    """Base class of errors that are reported as one line with a fix, not a traceback."""

    exit_code: ExitStatus = ExitStatus.INTERNAL_ERROR

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message}" + (f" — {self.hint}" if self.hint else "")


class UsageError(RapportError):
    exit_code = ExitStatus.USAGE


class InputNotFound(RapportError):
    exit_code = ExitStatus.INPUT_NOT_FOUND


class BadInput(RapportError):
    exit_code = ExitStatus.BAD_INPUT


class RuleError(RapportError):
    exit_code = ExitStatus.RULE_ERROR


class ModelError(RapportError):
    exit_code = ExitStatus.MODEL_ERROR


class OutputError(RapportError):
    exit_code = ExitStatus.OUTPUT_ERROR


class OutputClosed(OutputError):
    """The reader of an output went away (a closed pipe): the command ends quietly, exit 0."""


class DeviceError(RapportError):
    exit_code = ExitStatus.NO_DEVICE
