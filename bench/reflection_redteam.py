"""missed-reflection on the blind red-team set (``bench/data/reflection_redteam.jsonl``), per half,
per family and per style.

Usage:
    .venv/bin/python bench/reflection_redteam.py [--rules PATH] [--show [--show-half A]]

Runs ``rapport-assist eval --format json --rule missed-reflection`` once on the whole file (so the
figures are eval's, conversation level) and splits its misses and false alarms by the file's
``half``, ``family`` and ``style`` fields. Per half: P/R on all threads and on the clear ones
(borderline left out). Per family: positive families show hits/positives, negative families false
fires/threads (the ``second`` family has both). ``--show`` lists the misses and false fires with the
customer's words (``--show-half A``: only half A's, to tune on A without reading B's).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import redteam_eval
from redteam_eval import pr, run_eval, show_errors

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench" / "data" / "reflection_redteam.jsonl"
RULE = "missed-reflection"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=DATA)
    ap.add_argument("--rules", action="append", default=[], help="passed to eval --rules")
    ap.add_argument("--show", action="store_true", help="list misses and false fires")
    ap.add_argument("--show-half", choices=["A", "B"], help="list only this half's")
    args = ap.parse_args(argv)

    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = run_eval(args.file, RULE, args.rules)
    by_id = {r["id"]: r for r in rows}
    rule = next(r for r in report["rules"] if r["rule"] == RULE)
    nmiss: dict[str, int] = {}
    for m in rule["misses"]:
        nmiss[m["conversation"]] = nmiss.get(m["conversation"], 0) + 1
    # conversation level as eval counts it: a positive thread is missed only if every labelled turn is
    missed = {c for c, n in nmiss.items() if n >= len(by_id[c]["labels"][RULE])}
    turn_missed = set(nmiss)
    false = {f["conversation"] for f in rule["false_alarms"]}

    def counts(sel: list[dict], clear: bool) -> tuple[int, int, int]:
        return redteam_eval.counts(sel, RULE, missed, false, clear)

    print(f"{args.file.name}: {len(rows)} threads, rules {' '.join(args.rules) or 'default'} (conversation level)")
    for half in ("A", "B", "all"):
        sel = [r for r in rows if half == "all" or r["half"] == half]
        print(f"  half {half:3}  all: {pr(*counts(sel, False)):26} clear: {pr(*counts(sel, True))}")
    for style in ("written", "spoken"):
        cells = []
        for half in ("A", "B"):
            sel = [r for r in rows if r["style"] == style and r["half"] == half]
            cells.append(f"{half}: {pr(*counts(sel, False)):26}")
        print(f"  {style:8} {'  '.join(cells)}")

    def cell(sel: list[dict]) -> str:
        pos = [r for r in sel if r["labels"][RULE]]
        neg = [r for r in sel if not r["labels"][RULE]]
        c = []
        if pos:
            c.append(f"hit {sum(r['id'] not in missed for r in pos):2}/{len(pos):2}")
        if neg:
            c.append(f"false {sum(r['id'] in false for r in neg):2}/{len(neg):2}")
        return " ".join(c)

    redteam_eval.print_families(rows, cell)
    if args.show:
        show_errors(by_id, [("MISS ", turn_missed), ("FALSE", false)], args.show_half, "agent", tag="style")
    return 0


if __name__ == "__main__":
    sys.exit(main())
