"""Nudge volume per rule: how many nudges each rule gives per call, on each set and route.

Usage:
    .venv/bin/python bench/nudge_volume.py SET [SET ...] [--cache DIR] [--rules PATH] [--json OUT]

A SET is
  * a dialogue ``.jsonl`` file (one call a line): the text route, as ``rapport-assist eval FILE``;
  * a spoken set (a folder with ``spoken.jsonl``, made by ``scripts/make_spoken_dev.py``): the
    transcript route and the audio route, as ``rapport-assist eval FOLDER --cache DIR`` (the
    audio recognized through the transcript cache ``--cache``, as ``qa`` does it); several
    spoken sets may share one cache;
  * ``demo``: the bundled demo call, its transcript replayed (text route) and its recording
    replayed as ``rapport-assist demo`` does it (audio route).

Every enabled rule is counted, experimental ones too (they are logged and in reports). For each
rule and column it prints ``nudges per call (calls with one)``, then, per rule, the share of
calls with a fire over all the sets' calls: a rule that fires in more than one calm call in ten
is worth reading fire by fire (``rapport-assist eval SET --rule ID --show all``).

``--rules PATH`` (repeatable) loads a team file on top of the default packs for every run, so an
override can be priced before it is written into the packs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "rapport_assist.cli"]


@dataclass
class Column:
    name: str
    calls: int
    nudges: dict[str, int] = field(default_factory=dict)
    calls_with: dict[str, int] = field(default_factory=dict)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _run(args: list[str]) -> str:
    done = subprocess.run(CLI + args, capture_output=True, text=True, env=_env())
    if done.returncode != 0:
        raise SystemExit(f"rapport-assist {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def _column(name: str, report: dict) -> Column:
    col = Column(name, int(report["conversations"]))
    for r in report["rules"]:
        col.nudges[r["rule"]] = int(r["nudges"])
        col.calls_with[r["rule"]] = int(r["conversations_with_nudges"])
    return col


def eval_columns(path: Path, label: str, cache: Path | None, rules: list[str]) -> list[Column]:
    args = ["eval", str(path), "--format", "json", "--show", "0", *rules]
    if cache is not None:
        args += ["--cache", str(cache)]
    out = json.loads(_run(args))
    if "transcript" in out:  # a spoken set: both routes
        return [_column(f"{label} text", out["transcript"]), _column(f"{label} audio", out["audio"])]
    return [_column(f"{label} text", out)]


def demo_columns(rules: list[str]) -> list[Column]:
    with tempfile.TemporaryDirectory() as tmp:  # a transcript is read from a folder of transcripts
        shutil.copy(REPO / "src" / "rapport_assist" / "data" / "demo_call.jsonl", tmp)
        text = eval_columns(Path(tmp), "demo", None, rules)[0]
    audio = Column("demo audio", 1)
    for line in _run(["demo", "--format", "jsonl", *rules]).splitlines():
        event = json.loads(line)
        if event.get("type") == "nudge":
            audio.nudges[event["rule"]] = audio.nudges.get(event["rule"], 0) + 1
            audio.calls_with[event["rule"]] = 1
    return [text, audio]


def table(columns: list[Column]) -> str:
    rules: list[str] = []
    for col in columns:
        rules += [r for r in col.nudges if r not in rules]
    head = ["rule"] + [f"{c.name} ({c.calls})" for c in columns] + ["calls with, all"]
    rows = [head, ["---"] + ["---:"] * (len(head) - 1)]
    total_calls = sum(c.calls for c in columns)
    for rule in rules:
        cells = [rule]
        hit = 0
        for col in columns:
            n, k = col.nudges.get(rule, 0), col.calls_with.get(rule, 0)
            hit += k
            cells.append("0" if n == 0 else f"{n / col.calls:.2f} ({k})")
        share = hit / total_calls if total_calls else 0.0
        cells.append(f"{share:.0%}" + (" *" if share > 0.1 else ""))
        rows.append(cells)
    totals = ["all rules"] + [f"{sum(c.nudges.values()) / c.calls:.2f}" for c in columns] + [""]
    rows.append(totals)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="+", help="dialogue .jsonl files, spoken set folders, or 'demo'")
    ap.add_argument("--cache", type=Path, help="transcript cache for the spoken sets' audio route")
    ap.add_argument("--rules", action="append", default=[], metavar="PATH", help="team file on top of the defaults")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the counts as JSON")
    args = ap.parse_args(argv)
    rules = [a for p in args.rules for a in ("--rules", p)]
    columns: list[Column] = []
    for s in args.sets:
        if s == "demo":
            columns += demo_columns(rules)
            continue
        path = Path(s)
        if not path.exists():
            ap.error(f"{s}: no such file or folder")
        label = path.name if path.is_dir() else path.stem
        columns += eval_columns(path, label, args.cache if path.is_dir() else None, rules)
    print("nudges per call (calls with one); * = fires in more than 1 call in 10 over all columns")
    print(table(columns))
    if args.json:
        args.json.write_text(
            json.dumps([c.__dict__ for c in columns], indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
