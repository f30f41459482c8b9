"""Score the headline rules on the labelled real Twitter threads, split in two halves.

    .venv/bin/python scripts/twitter_dev.py                 # both halves, with and without borderline
    .venv/bin/python scripts/twitter_dev.py --write DIR     # also write all/A/B .jsonl for `rapport-assist eval`
    .venv/bin/python scripts/twitter_dev.py --labels bench/data/twitter_fresh_labels.jsonl   # another labels file

``--labels FILE`` scores a labels file of the same shape (for example the held-out
``bench/data/twitter_fresh_labels.jsonl``) against the same threads instead of the dev labels.
``--threads FILE`` takes the threads from another file of the same shape (for example the twcs
threads rebuilt by ``scripts/twcs_dialogues.py``, labelled in ``bench/data/twcs1_labels.jsonl``);
it needs ``--labels``.

    .venv/bin/python scripts/twitter_dev.py --threads /tmp/twcs/t1.jsonl --labels bench/data/twcs1_labels.jsonl

The threads (``twitter_customer_care_dev.jsonl``) and their labels (``twitter_dev_labels.jsonl``,
``LABELING.md``) live in the team's shared data folder, not in this repo (real tweets); the
default path is ``../shared/data/dialogues`` next to the checkout, or ``--data DIR``.

Halves: the labelled threads in file order, even positions in half A, odd in half B. Tune on
one half, report the other, then swap, so the figures show generalization, not memory.

"Clear" leaves out, per moment, the conversations whose notes mark that moment borderline
(``<moment> @N, borderline: …`` or ``<moment> not fired, borderline: …``): the moment's labels are
dropped from that conversation, so it is not scored for that moment (other moments still are).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ("angry-no-apology", "you-not-we", "uncommitted-promise", "missed-reflection")


def borderline_moments(notes: str, moments: list[str]) -> list[str]:
    """The moments a label line's notes call borderline: a header "<moment> @N, borderline:" or
    "<moment> not fired, borderline:" (``rapport_assist.evaluate.borderline_in_notes``)."""
    from rapport_assist.evaluate import borderline_in_notes

    return borderline_in_notes(notes, moments)


def joined(data: Path, labels: Path | None = None, threads_file: Path | None = None) -> list[dict]:
    """Label lines joined with their thread's turns, in the labels' order, with ``borderline``.
    ``labels`` defaults to the dev labels in ``data``; ``threads_file`` to the dev threads there."""
    threads = {}
    threads_file = threads_file or data / "twitter_customer_care_dev.jsonl"
    with open(threads_file, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            threads[row["id"]] = row
    out = []
    with open(labels or data / "twitter_dev_labels.jsonl", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            lab = json.loads(line)
            if lab["id"] not in threads:
                raise SystemExit(f"{labels}: thread {lab['id']} is not in {threads_file}")
            # the tweet's author rides along: several users may reply on the customer side, and
            # each one's tweets are that user's own turns (turns.TurnTracker)
            turns = [
                {"speaker": t["speaker"], "text": t["text"], **({"author": t["handle"]} if t.get("handle") else {})}
                for t in threads[lab["id"]]["turns"]
            ]
            out.append(
                {
                    "id": lab["id"],
                    "turns": turns,
                    "labels": lab["labels"],
                    "notes": lab.get("notes", ""),
                    "borderline": borderline_moments(lab.get("notes", ""), list(lab["labels"])),
                }
            )
    return out


def clear(rows: list[dict]) -> list[dict]:
    """Rows with each borderline moment's labels removed (that moment is not scored there)."""
    return [{**r, "labels": {m: t for m, t in r["labels"].items() if m not in r["borderline"]}} for r in rows]


def halves(rows: list[dict]) -> dict[str, list[dict]]:
    return {"A": rows[0::2], "B": rows[1::2]}


def score(rows: list[dict], rules: list[Path], annotator) -> dict[str, tuple]:
    """Conversation-level (P, R, tp, fp, fn) per headline moment."""
    from rapport_assist.evaluate import evaluate, read_dialogues
    from rapport_assist.rules import load_rules
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        tmp = Path(f.name)
    try:
        report = evaluate(read_dialogues(tmp), load_rules(rules), annotator, HEADLINE)
    finally:
        tmp.unlink()
    out = {}
    for r in report.rules:
        c = r.conversation_level
        if c is not None:
            out[r.rule] = (c.precision, c.recall, c.tp, c.fp, c.fn)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dialogues")
    p.add_argument("--rules", type=Path, action="append", help="rule file or folder (default: rules/)")
    p.add_argument("--write", type=Path, metavar="DIR", help="write all/A/B (and *-clear) .jsonl files here")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--labels", type=Path, metavar="FILE", help="labels file to score (default: the dev labels in --data)"
    )
    p.add_argument(
        "--threads",
        type=Path,
        metavar="FILE",
        help="threads JSONL to score (default: twitter_customer_care_dev.jsonl in --data); needs --labels",
    )
    args = p.parse_args(argv)
    if args.threads is not None:
        if not args.threads.is_file():
            print(f"no threads file {args.threads}", file=sys.stderr)
            return 3
        if args.labels is None:
            print("--threads needs --labels FILE (the dev labels are for the dev threads)", file=sys.stderr)
            return 3
    elif not (args.data / "twitter_customer_care_dev.jsonl").is_file():
        print(f"no Twitter threads in {args.data}: pass --data DIR", file=sys.stderr)
        return 3
    labels = args.labels or args.data / "twitter_dev_labels.jsonl"
    if not labels.is_file():
        print(f"no labels file {labels}: pass --data DIR or --labels FILE", file=sys.stderr)
        return 3
    rows = joined(args.data, labels, args.threads)
    sets = {"all": rows, **halves(rows)}
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        for name, part in sets.items():
            for suffix, data in (("", part), ("-clear", clear(part))):
                with open(args.write / f"{name}{suffix}.jsonl", "w", encoding="utf-8") as f:
                    for r in data:
                        f.write(json.dumps(r, ensure_ascii=False) + "\n")
    from rapport_assist.annotate import Annotator
    from rapport_assist.rules import default_rules_dir

    rules = args.rules or [default_rules_dir()]
    annotator = Annotator()
    figures = {
        f"{name}{suffix}": score(clear(part) if suffix else part, rules, annotator)
        for name in ("A", "B", "all")
        for suffix in ("", "-clear")
        for part in [sets[name]]
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0

    def cell(v: tuple | None) -> str:
        if not v:
            return "        -        "
        pr, rc, tp, fp, fn = v
        f = lambda x: "  - " if x is None else f"{x:.2f}"  # noqa: E731
        return f"{f(pr)}/{f(rc)} {tp:>2}/{fp:>2}/{fn:>2}"

    cols = list(figures)
    print("conversation level, P/R tp/fp/fn; -clear: borderline calls of that moment left out")
    print(f"{'moment':<21}" + "".join(f"{c:>19}" for c in cols))
    for m in HEADLINE:
        print(f"{m:<21}" + "".join(f"{cell(figures[c].get(m)):>19}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
