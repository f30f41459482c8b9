"""Two rule sets on the same machine at the same time: rules alone and the text tones, with
timed passes alternated between them so both see the same load (a busy host makes separate runs
incomparable).

Usage:
    .venv/bin/python bench/rules_ab.py BASE_RULES_DIR NEW_RULES_DIR [DIALOGUES.jsonl ...] [--repeat N]

BASE/NEW: rule folders (e.g. the default packs of the commit before, from ``git show``, and
``rules/``). Dialogues as ``bench/rules_speed.py`` (default: the two dev sets in ``../shared``).
Prints, per rule set, the median µs per utterance of the rules alone (``RuleEngine``, spaCy and
signals done beforehand, as ``rules_speed.py`` times it) and of the ``angry`` and ``tense`` tone
text conditions (which the signals stage works out for every utterance), and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rules_speed import DEFAULT_FILES, timed_pass, tone_conditions, tone_pass, write_transcripts  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    from rapport_assist.annotate import Annotator
    from rapport_assist.rules import RuleEngine, load_rules
    from rapport_assist.signals import SignalTracker
    from rapport_assist.transcript import read_transcript

    annotator = Annotator()
    with tempfile.TemporaryDirectory() as tmp:
        calls = [
            list(read_transcript(t))
            for f in (args.files or DEFAULT_FILES)
            for t in write_transcripts(f, Path(tmp)).transcripts
        ]
    annotated = [list(annotator.annotate_many(c)) for c in calls]
    n = sum(len(c) for c in annotated)
    sets = {}
    for name, folder in (("base", args.base), ("new", args.new)):
        ruleset = load_rules([folder])
        engine = RuleEngine(ruleset)
        tracker = SignalTracker(ruleset, compiler=engine.compiler)
        ready = []
        for call in annotated:
            tracker.start_call()
            for au in call:
                au.features = None  # each rule set reads the Doc with its own extractor
            ready.append([tracker.on_utterance(au)[0] for au in call])
        left = {id(au): (au.features, dict(au.features.cache)) for call in ready for au in call}
        tones = tone_conditions(engine, ruleset)
        sets[name] = (engine, ready, left, tones)
    times: dict[str, dict[str, list[float]]] = {k: {"rules": [], "tones": []} for k in sets}
    for _ in range(args.repeat):
        for name, (engine, ready, left, tones) in sets.items():
            timed_pass(engine, ready, left)  # warm
            times[name]["rules"].append(timed_pass(engine, ready, left) / n * 1e6)
            times[name]["tones"].append(tone_pass(ready, left, tones) / n * 1e6)
    med = {k: {m: statistics.median(v) for m, v in d.items()} for k, d in times.items()}
    for name in sets:
        print(
            f"{name:5} rules alone {med[name]['rules']:7.1f} µs/utt ({1e6 / med[name]['rules']:8,.0f} utt/s)   "
            f"tone text {med[name]['tones']:6.1f} µs/utt   ({n} utterances, median of {args.repeat})"
        )
    print(
        f"new/base time: rules alone {med['new']['rules'] / med['base']['rules']:.2f}x, "
        f"tone text {med['new']['tones'] / med['base']['tones']:.2f}x "
        f"(+{med['new']['tones'] - med['base']['tones']:.1f} µs/utt)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
