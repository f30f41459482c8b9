"""How much the headline rules lean on punctuation and case: the dialogue sets scored as given,
with "?" removed, and flattened (all punctuation removed and lowercased, as many call-recorder
exports and some recognizers write).

    .venv/bin/python bench/strip_punct.py                        # the table (scripted + Twitter)
    .venv/bin/python bench/strip_punct.py --json > out.json      # the same as JSON
    .venv/bin/python bench/strip_punct.py --write DIR            # also write each variant's files
    .venv/bin/python bench/strip_punct.py --variant flat IN.jsonl OUT.jsonl   # one file, one variant

Variants (``VARIANTS``):

* ``given``: the text as it is;
* ``noq``: every "?" removed (Whisper tiny.en sometimes drops a question's mark);
* ``flat``: every punctuation character removed and the text lowercased, keeping an apostrophe
  inside a word ("don't", "y'all", "the customer's") and a point, colon or comma between digits
  ("4.50", "3:30", "1,200"); symbols and emoji stay (they are not punctuation).

Sets: ``shared/data/dialogues/scripted_dev.jsonl`` (``rapport-assist eval``: turn and
conversation level) and the labelled Twitter threads (``scripts/twitter_dev.py``: halves A and
B of the dev labels, and each ``bench/data/twitter_fresh*_labels.jsonl``; conversation level, as
that script reports). A thread's links, @handles and HTML entities are dropped before the
variant is made, as ``rapport-assist eval`` drops them from the text it is given (flattening
first would turn "@handle" into a word). ``--write DIR`` writes ``scripted-VARIANT.jsonl`` and
``twitter-VARIANT/twitter_customer_care_dev.jsonl`` (+ the dev labels), so the same figures come
from the tools themselves:

    rapport-assist eval DIR/scripted-flat.jsonl
    .venv/bin/python scripts/twitter_dev.py --data DIR/twitter-flat [--labels bench/data/twitter_fresh_labels.jsonl]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
HEADLINE = ("angry-no-apology", "you-not-we", "uncommitted-promise", "missed-reflection")
FRESH = ("twitter_fresh", "twitter_fresh2", "twitter_fresh3", "twitter_fresh4")

_DIGIT_MARK = re.compile(r"(?<=\d)([.:,])(?=\d)")
_WORD_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")
_SPACES = re.compile(r"\s+")


def no_question_marks(text: str) -> str:
    return text.replace("?", "").replace("？", "")


def flat(text: str) -> str:
    """All punctuation removed, lowercased; apostrophes inside words and marks between digits kept."""
    text = text.replace("’", "'").replace("‘", "'")
    text = _DIGIT_MARK.sub(lambda m: {".": "\x01", ":": "\x02", ",": "\x03"}[m.group(1)], text)
    text = _WORD_APOSTROPHE.sub("\x04", text)
    text = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    text = text.replace("\x01", ".").replace("\x02", ":").replace("\x03", ",").replace("\x04", "'")
    return _SPACES.sub(" ", text).strip().lower()


VARIANTS: dict[str, Callable[[str], str]] = {"given": lambda t: t, "noq": no_question_marks, "flat": flat}


def variant_rows(rows: list[dict], variant: str, written: bool = False) -> list[dict]:
    from rapport_assist.evaluate import spoken_text  # the text eval reads: no links, handles, entities

    make = VARIANTS[variant]
    out = []
    for r in rows:
        turns = []
        for t in r["turns"]:
            text = spoken_text(t["text"]) if written else t["text"]
            turns.append({**t, "text": make(text) if text else text})
        out.append({**r, "turns": turns})
    return out


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def scores(rows: list[dict], rules: list[Path], annotator) -> dict[str, dict]:
    """Per headline moment: conversation and turn level [P, R, tp, fp, fn]; under "#fired",
    per conversation id the headline nudges as "rule@utterance" (to list what moved)."""
    from rapport_assist.evaluate import read_dialogues, run_conversations, score_results, select_rules
    from rapport_assist.rules import load_rules

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "set.jsonl"
        write_jsonl(path, rows)
        ruleset = load_rules(rules)
        select_rules(ruleset, HEADLINE)
        results, timing = run_conversations(read_dialogues(path), ruleset, annotator)
        report = score_results(results, ruleset, HEADLINE, str(path), timing)
    out: dict[str, dict] = {}
    for r in report.rules:
        out[r.rule] = {}
        for level, c in (("conv", r.conversation_level), ("turn", r.turn_level)):
            if c is not None:
                out[r.rule][level] = [c.precision, c.recall, c.tp, c.fp, c.fn]
    out["#fired"] = {
        res.conversation.id: sorted(f"{n.rule}@{n.utterance_index}" for n in res.nudges if n.rule in HEADLINE)
        for res in results
    }
    return out


def moved(before: dict, after: dict) -> list[str]:
    """The conversations whose headline nudges differ between two --json outputs (or variants)."""
    lines = []
    for variant in after:
        for name, figs in after[variant].items():
            old = before.get(variant, {}).get(name, {}).get("#fired", {})
            for cid, fired in figs.get("#fired", {}).items():
                if old.get(cid, []) != fired:
                    gone = sorted(set(old.get(cid, [])) - set(fired))
                    new = sorted(set(fired) - set(old.get(cid, [])))
                    lines.append(f"{variant:<6} {name:<10} {cid}: -{gone} +{new}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dialogues")
    p.add_argument("--rules", type=Path, action="append", help="rule file or folder (default: rules/)")
    p.add_argument("--variants", default="given,noq,flat", help="comma-separated (default: given,noq,flat)")
    p.add_argument("--write", type=Path, metavar="DIR", help="also write each variant's dialogue files here")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--variant", choices=VARIANTS, help="only write IN as this variant to OUT")
    p.add_argument("files", nargs="*", type=Path, help="with --variant: IN.jsonl OUT.jsonl")
    p.add_argument("--table", type=Path, metavar="JSON", help="print the table of an earlier --json output")
    p.add_argument(
        "--before",
        type=Path,
        metavar="JSON",
        help="with --table: also print these figures, and the conversations that moved",
    )
    args = p.parse_args(argv)
    if args.table:
        after = json.loads(args.table.read_text(encoding="utf-8"))
        before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else None
        print_table(after, before)
        if before:
            print("\nconversations whose headline nudges moved (rule@utterance):")
            print("\n".join(moved(before, after)) or "  none")
        return 0
    if args.variant:
        if len(args.files) != 2:
            p.error("--variant takes IN.jsonl OUT.jsonl")
        write_jsonl(args.files[1], variant_rows(read_jsonl(args.files[0]), args.variant))
        return 0
    if not (args.data / "scripted_dev.jsonl").is_file():
        print(f"no dialogues in {args.data}: pass --data DIR", file=sys.stderr)
        return 3

    import twitter_dev
    from rapport_assist.annotate import Annotator
    from rapport_assist.rules import default_rules_dir

    rules = args.rules or [default_rules_dir()]
    annotator = Annotator()
    scripted = read_jsonl(args.data / "scripted_dev.jsonl")
    sets: dict[str, tuple[list[dict], bool]] = {"scripted": (scripted, False)}
    dev = twitter_dev.joined(args.data)
    sets["tw-A"] = (dev[0::2], True)
    sets["tw-B"] = (dev[1::2], True)
    for name in FRESH:
        labels = ROOT / "bench" / "data" / f"{name}_labels.jsonl"
        if labels.is_file():
            sets[name.replace("twitter_", "tw-")] = (twitter_dev.joined(args.data, labels), True)
    figures: dict[str, dict[str, dict]] = {}
    for variant in args.variants.split(","):
        figures[variant] = {}
        for name, (rows, written) in sets.items():
            figures[variant][name] = scores(variant_rows(rows, variant, written), rules, annotator)
        if args.write:
            args.write.mkdir(parents=True, exist_ok=True)
            write_jsonl(args.write / f"scripted-{variant}.jsonl", variant_rows(scripted, variant))
            folder = args.write / f"twitter-{variant}"
            folder.mkdir(exist_ok=True)
            threads = read_jsonl(args.data / "twitter_customer_care_dev.jsonl")
            write_jsonl(folder / "twitter_customer_care_dev.jsonl", variant_rows(threads, variant, True))
            shutil.copy(args.data / "twitter_dev_labels.jsonl", folder)
    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    print_table(figures)
    return 0


def print_table(figures: dict, before: dict | None = None) -> None:
    """Per moment, a row per variant (and the ``before`` row above it, when given)."""

    def cell(v: list | None) -> str:
        if not v:
            return "-"
        f = lambda x: " -  " if x is None else f"{x:.2f}"  # noqa: E731
        return f"{f(v[0])}/{f(v[1])} {v[2]}/{v[3]}/{v[4]}"

    sets = list(next(iter(figures.values())))
    print("P/R tp/fp/fn per moment: scripted at turn level, the Twitter sets at conversation level")
    for m in HEADLINE:
        print(f"\n{m}")
        print(f"{'variant':<13}" + "".join(f"{n:>19}" for n in sets))
        for variant in figures:
            for label, figs in (
                (f"{variant} before", before),
                (variant if before is None else f"{variant} after", figures),
            ):
                if figs is None or variant not in figs:
                    continue
                row = [cell(figs[variant][n].get(m, {}).get("turn" if n == "scripted" else "conv")) for n in sets]
                print(f"{label:<13}" + "".join(f"{c:>19}" for c in row))


if __name__ == "__main__":
    sys.exit(main())
