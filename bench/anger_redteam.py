"""angry-no-apology on the red-team set (``bench/data/anger_redteam.jsonl``), per half and per cue
family.

Usage:
    .venv/bin/python bench/anger_redteam.py [--rules PATH] [--detect] [--show]

Runs ``rapport-assist eval --format json`` once on the whole file (so the figures are exactly
eval's, conversation level) and splits its misses and false alarms by the file's ``half`` and
``family`` fields. Per half: P/R on all threads and on the clear ones (borderline left out). Per
family: angry families show hits/positives (the reply had no apology) and fires after an
apologising reply (``apol-fire``); negative families show false fires/threads.

``--detect`` scores anger detection alone: every judged agent reply becomes the same
non-apology ("Please send us a DM with the details.") and every angry thread is a positive, so
each angry family has all its 14-15 threads as positives instead of the ~9 whose reply had no
apology. ``--show`` lists the misses and false fires with the customer's words (``--show-half A``: only
half A's, to tune on A without reading B's).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import redteam_eval
from redteam_eval import pr, run_eval, show_errors

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench" / "data" / "anger_redteam.jsonl"
RULE = "angry-no-apology"
NEUTRAL_REPLY = "Please send us a DM with the details."


def detect_view(rows: list[dict]) -> list[dict]:
    """Each thread with its judged (last) agent reply made a plain non-apology and every angry
    thread labelled at its first agent turn after the angry customer turn (the original label
    when it has one)."""
    out = []
    for r in rows:
        r = json.loads(json.dumps(r))
        last = len(r["turns"]) - 1
        r["turns"][last]["text"] = NEUTRAL_REPLY
        if r["angry"] and not r["labels"][RULE]:
            r["labels"][RULE] = [last]
            # an apology-borderline call is not a hard anger call once the apology is gone
            if "borderline" in r["notes"] and "not fired, borderline" in r["notes"]:
                r["notes"] = r["notes"].replace("not fired, borderline", "apology call was hard")
        out.append(r)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=DATA)
    ap.add_argument("--rules", action="append", default=[], help="passed to eval --rules")
    ap.add_argument("--detect", action="store_true", help="score anger detection alone (replies neutralised)")
    ap.add_argument("--show", action="store_true", help="list misses and false fires")
    ap.add_argument("--show-half", choices=["A", "B"], help="list only this half's (tune on A without reading B)")
    args = ap.parse_args(argv)

    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.detect:
        rows = detect_view(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "redteam.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        report = run_eval(path, RULE, args.rules)
    rule = next(r for r in report["rules"] if r["rule"] == RULE)
    missed = {m["conversation"] for m in rule["misses"]}
    false = {f["conversation"] for f in rule["false_alarms"]}
    by_id = {r["id"]: r for r in rows}

    def counts(sel: list[dict], clear: bool) -> tuple[int, int, int]:
        return redteam_eval.counts(sel, RULE, missed, false, clear)

    view = "detection (replies neutralised)" if args.detect else "as labelled"
    print(f"{args.file.name}: {len(rows)} threads, {view}, rules {' '.join(args.rules) or 'default'}")
    for half in ("A", "B", "all"):
        sel = [r for r in rows if half == "all" or r["half"] == half]
        print(f"  half {half:3}  all: {pr(*counts(sel, False))}   clear: {pr(*counts(sel, True))}")

    def cell(sel: list[dict]) -> str:
        if sel[0]["angry"]:
            pos = [r for r in sel if r["labels"][RULE]]
            hit = sum(r["id"] not in missed for r in pos)
            apol = [r for r in sel if not r["labels"][RULE]]
            af = sum(r["id"] in false for r in apol)
            return f"hit {hit:2}/{len(pos):2} apol-fire {af}/{len(apol)}"
        ff = sum(r["id"] in false for r in sel)
        return f"false {ff:2}/{len(sel):2}          "

    redteam_eval.print_families(rows, cell)
    if args.show:
        show_errors(by_id, [("MISS ", missed), ("FALSE", false)], args.show_half, "customer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
