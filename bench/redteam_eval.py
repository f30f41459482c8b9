"""What the red-team scripts (``bench/anger_redteam.py``, ``bench/reflection_redteam.py``) share:
one ``rapport-assist eval --format json`` run over a labelled file, and a P/R cell."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
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


def show_errors(
    by_id: dict[str, dict], groups: list[tuple[str, set[str]]], half: str | None, speaker: str, tag: str = ""
) -> None:
    """Print each listed conversation (a miss, a false fire…) with ``speaker``'s words, by family;
    ``half``: only that half's (to tune on A without reading B)."""
    for kind, ids in groups:
        for cid in sorted(ids, key=lambda c: (by_id[c]["family"], c)):
            r = by_id[cid]
            if half and r["half"] != half:
                continue
            said = " / ".join(t["text"] for t in r["turns"] if t["speaker"] == speaker)
            extra = f" {r[tag][0]}" if tag else ""
            print(f"  {kind} {r['half']} {cid:22}{extra} {said[:150]}")


def counts(sel: list[dict], rule: str, missed: set[str], false: set[str], clear: bool) -> tuple[int, int, int]:
    """tp/fp/fn over ``sel`` at conversation level (``clear``: borderline calls left out)."""
    tp = fp = fn = 0
    for r in sel:
        if clear and "borderline" in r["notes"]:
            continue
        pos = bool(r["labels"][rule])
        if pos and r["id"] in missed:
            fn += 1
        elif pos:
            tp += 1
        if r["id"] in false:
            fp += 1
    return tp, fp, fn


def print_families(rows: list[dict], cell: Callable[[list[dict]], str]) -> None:
    """One line per family (in file order): ``cell`` of its half-A rows, then of its half-B rows."""
    print("  family        A                      B")
    for fam in dict.fromkeys(r["family"] for r in rows):
        a, b = (cell([r for r in rows if r["family"] == fam and r["half"] == h]) for h in ("A", "B"))
        print(f"  {fam:13} {a:22} {b}")
