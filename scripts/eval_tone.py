"""How well the tone estimate finds angry customers, on labelled and real dialogues.

Usage:
    .venv/bin/python scripts/eval_tone.py DIALOGUES.jsonl [--examples N]

For labelled dialogues (``../shared/data/dialogues/scripted_dev.jsonl``): a dialogue has an
angry customer when it is labelled ``angry-no-apology`` (the customer turn before the label),
has a hard negative of it whose note calls the customer angry (angry, but answered with an
apology; keyword traps such as "not angry" are not), or is labelled ``abusive-customer``. Prints precision and recall per dialogue and per customer turn.

For unlabelled dialogues (the Twitter set): prints the share of customer turns marked angry and
tense, and N angry and N tense turns picked at random (seed 0) to read by hand.

Transcripts have no audio, so this measures the text cues (plus pace where times are real).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path


_HARD_NEG = re.compile(r"HARD NEG angry-no-apology @(\d+): ([^|]*)")
_ANGRY = re.compile(r"\bangry\b|frustration|escalates")
_NOT_ANGRY = re.compile(r"not angry|calm|negated|praise|keyword|positive|no anger|stressed")


def angry_turns(d: dict) -> set[int]:
    """Customer turns the labels call angry: the turn before each angry-no-apology label, the
    customer turn of an 'abusive-customer' label, and for each hard negative of angry-no-apology
    the turn before it when its note calls the customer angry (not the keyword traps)."""
    turns = {i - 1 for i in d["labels"].get("angry-no-apology", [])}
    turns |= set(d.get("other_labels", {}).get("abusive-customer", []))
    for at, note in _HARD_NEG.findall(d.get("notes", "")):
        if _ANGRY.search(note) and not _NOT_ANGRY.search(note):
            turns.add(int(at) - 1)
    return turns


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dialogues", type=Path)
    ap.add_argument("--examples", type=int, default=6)
    args = ap.parse_args(argv)

    from rapport_assist.annotate import Annotator
    from rapport_assist.evaluate import read_dialogues
    from rapport_assist.rules import default_rules_dir, load_rules
    from rapport_assist.signals import SignalTracker

    dialogues = [json.loads(line) for line in args.dialogues.read_text(encoding="utf-8").splitlines() if line.strip()]
    utterances = {c.id: c.utterances for c in read_dialogues(args.dialogues)}  # as `rapport-assist eval` reads them
    tracker = SignalTracker(load_rules([default_rules_dir()]))
    annotator = Annotator()
    tones: dict[str, list[tuple[int, str, str, tuple[str, ...]]]] = {}
    for d in dialogues:
        tracker.start_call()
        rows = []
        for au in annotator.annotate_many(utterances[str(d["id"])]):
            au, _ = tracker.on_utterance(au)
            u = au.utterance
            if u.speaker.value == "customer" and u.signals is not None:
                rows.append((u.index, u.signals.tone.label, u.text, u.signals.tone.evidence))
        tones[d["id"]] = rows

    if all("labels" in d for d in dialogues):
        tp = fp = fn = ttp = tfp = tfn = 0
        for d in dialogues:
            gold_turns = angry_turns(d)
            said = {i for i, label, _, _ in tones[d["id"]] if label == "angry"}
            gold, got = bool(gold_turns), bool(said)
            tp += gold and got
            fp += got and not gold
            fn += gold and not got
            customer_turns = {i for i, *_ in tones[d["id"]]}
            gold_turns &= customer_turns
            ttp += len(said & gold_turns)
            tfp += len(said - gold_turns)
            tfn += len(gold_turns - said)
            for i, _label, text, ev in tones[d["id"]]:
                if (i in said) != (i in gold_turns):
                    kind = "false alarm" if i in said else "missed"
                    print(f"  {kind:<11} {d['id']}@{i}: {text[:90]!r} {list(ev)}")

        def pr(a: int, b: int, c: int) -> str:
            p = a / (a + b) if a + b else 1.0
            r = a / (a + c) if a + c else 1.0
            return f"precision {p:.2f}, recall {r:.2f} ({a} tp / {b} fp / {c} fn)"

        print(f"dialogues with an angry customer: {pr(tp, fp, fn)}")
        print(f"angry customer turns:             {pr(ttp, tfp, tfn)}")
    else:
        turns = [(did, *row) for did, rows in tones.items() for row in rows]
        n = len(turns)
        for label in ("angry", "tense"):
            picked = [t for t in turns if t[2] == label]
            print(f"{label}: {len(picked)} of {n} customer turns ({len(picked) / n:.1%})")
        rng = random.Random(0)
        for label in ("angry", "tense"):
            picked = [t for t in turns if t[2] == label]
            print(f"\n{label}, {min(args.examples, len(picked))} at random:")
            for did, i, _, text, ev in rng.sample(picked, min(args.examples, len(picked))):
                print(f"  {did}@{i}: {text[:140]!r}\n      {list(ev)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
