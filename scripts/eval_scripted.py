"""Kept for old habits: the evaluation is now ``rapport-assist eval`` (src/rapport_assist/evaluate.py).

Usage:
    .venv/bin/python scripts/eval_scripted.py DIALOGUES.jsonl [--rules PATH ...] [--show N] [--quiet]

Every option is passed on to ``rapport-assist eval`` (see ``rapport-assist eval --help``);
``--quiet`` means ``--show 0`` (the tables only).
"""

from __future__ import annotations

import sys

from rapport_assist.cli import main

if __name__ == "__main__":
    args = ["--show" if a == "--quiet" else a for a in sys.argv[1:]]
    if "--quiet" in sys.argv[1:]:
        args.insert(args.index("--show") + 1, "0")
    sys.exit(main(["eval", *args]))
