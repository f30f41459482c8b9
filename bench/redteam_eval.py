"""What the red-team scripts (``bench/anger_redteam.py``, ``bench/reflection_redteam.py``) share:
one ``rapport-assist eval --format json`` run over a labelled file, and a P/R cell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cli() -> str:
    """The checkout's ``rapport-assist``, else the one next to this Python."""
    local = REPO / ".venv" / "bin" / "rapport-assist"
    return str(local if local.exists() else Path(sys.executable).parent / "rapport-assist")


def run_eval(path: Path, rule: str, rules: list[str]) -> dict:
    """``eval``'s JSON report of ``rule`` on ``path`` (``rules``: extra ``--rules`` paths)."""
    cmd = [cli(), "eval", str(path), "--rule", rule, "--format", "json", "--show", "all"]
    for r in rules:
        cmd += ["--rules", r]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def pr(tp: int, fp: int, fn: int) -> str:
    p = f"{tp / (tp + fp):.2f}" if tp + fp else "  - "
    r = f"{tp / (tp + fn):.2f}" if tp + fn else "  - "
    return f"P {p} R {r} ({tp}/{fp}/{fn})"
