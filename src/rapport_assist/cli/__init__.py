"""Command line: ``rapport-assist replay|demo|sidebar|live|devices|rules|eval|qa|launcher``.

``main(argv, stdout, stderr) -> int`` is testable in process. Known errors print one line with
a fix and exit with their ``errors.ExitStatus``; tracebacks only with ``--debug``.

One module per command group, each with its ``_add_*_parser`` and the commands it runs:
``replay`` (replay, demo), ``sidebar``, ``live`` (devices, live), ``rules`` (check, test,
list, explain, schema, diff), ``evaluate`` (eval), ``qa``, ``launcher`` (install, remove,
status); below them ``parser`` (argparse raising
UsageError, the option blocks several commands take, argument types) and ``common`` (the
``Console``, and how the shared options are read); above them ``entry`` (``build_parser``,
``main``, ``entry_point``). Heavy modules (the recognizer, spaCy, Qt) are imported inside the
commands that need them, so ``import rapport_assist.cli`` stays quick.
"""

from __future__ import annotations

from ..bundled import DATA_DIR, DEMO_AUDIO as DEMO_CALL  # tests and bench import them from here
from .entry import build_parser, entry_point, main

__all__ = ["DATA_DIR", "DEMO_CALL", "build_parser", "entry_point", "main"]
