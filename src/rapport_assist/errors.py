"""Known errors: each carries one line for the user, a hint on how to fix it, and an exit code.

Exit codes (documented in README.md):
  0  success (including "no speech found")
  1  unexpected internal error (a bug: rerun with --debug and report it)
  2  usage error (bad command-line arguments)
  3  input file missing or unreadable
  4  input file corrupt, unsupported or malformed (bad audio, bad JSONL line)
  5  rule file error (YAML or rule validation)
  6  model missing or broken
  7  output could not be written (disk full, permission denied)
  8  'rules test': at least one rule example failed
  9  no audio device or audio server to capture a live call from
 10  'qa', 'rules diff', 'eval': some calls could not be processed (each is listed with the reason
     in summary.csv/summary.html or the report); every other call is complete
130  interrupted (Ctrl-C); everything printed so far is complete

A closed pipe on the output (``rapport-assist rules explain ... | head``: the reader stopped) is
not an error: the command stops quietly with exit 0, as ``head`` expects (``replay --out FILE``
still completes FILE).
"""

from __future__ import annotations


class RapportError(Exception):
    """Base class of errors that are reported as one line with a fix, not a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message}" + (f" — {self.hint}" if self.hint else "")


class UsageError(RapportError):
    exit_code = 2


class InputNotFound(RapportError):
    exit_code = 3


class BadInput(RapportError):
    exit_code = 4


class RuleError(RapportError):
    exit_code = 5


class ModelError(RapportError):
    exit_code = 6


class OutputError(RapportError):
    exit_code = 7


class OutputClosed(OutputError):
    """The reader of an output went away (a closed pipe): the command ends quietly, exit 0."""


class DeviceError(RapportError):
    exit_code = 9
SOME_CALLS_FAILED = 10
