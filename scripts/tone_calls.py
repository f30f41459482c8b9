"""The tone estimate on replayed calls: which utterances came out tense or angry, and why.

Usage:
    rapport-assist replay CALL.wav --format jsonl > call.jsonl      (or: rapport-assist demo --format jsonl)
    PYTHONPATH=src .venv/bin/python scripts/tone_calls.py call.jsonl [...] [--rescore]

Reads the JSONL events of ``replay``/``demo`` and prints, per call, how many utterances of each
side were calm, tense and angry, and every one that was not calm (its text and evidence).
``--rescore`` runs the recorded utterances (text, word times, voice level) through this
checkout's conversation signals again instead of reading the recorded tone, so a change to the
tone estimate can be compared on the same recognition without recognizing again.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def _utterances(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            if obj.get("type") == "utterance":
                out.append(obj)
    return out


def _rescore(records: list[dict]) -> list[tuple[dict, str, float, tuple[str, ...]]]:
    from rapport_assist.annotate import Annotator
    from rapport_assist.rules import default_rules_dir, load_rules
    from rapport_assist.signals import SignalTracker
    from rapport_assist.types import Speaker, Utterance, VoiceMeasure, Word

    global _TRACKER, _ANNOTATOR
    if _TRACKER is None:
        _TRACKER = SignalTracker(load_rules([default_rules_dir()]))
        _ANNOTATOR = Annotator()
    _TRACKER.start_call()
    out = []
    for r in records:
        voice = r.get("voice")
        utt = Utterance(
            r["index"],
            Speaker.parse(r["speaker"]),
            r["text"],
            r["start"],
            r["end"],
            words=tuple(Word(w["w"], w["start"], w["end"], w.get("p", 1.0)) for w in r.get("words", [])),
            voice=VoiceMeasure(voice["loudness_dbfs"], voice["voiced_s"]) if voice else None,
        )
        au, _ = _TRACKER.on_utterance(_ANNOTATOR.annotate(utt))
        tone = au.utterance.signals.tone
        out.append((r, tone.label, tone.score, tone.evidence))
    return out


_TRACKER = None
_ANNOTATOR = None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("events", type=Path, nargs="+")
    ap.add_argument("--rescore", action="store_true")
    args = ap.parse_args(argv)
    totals: Counter = Counter()
    for path in args.events:
        records = _utterances(path)
        if args.rescore:
            rows = _rescore(records)
        else:
            rows = [
                (
                    r,
                    r["signals"]["tone"]["label"],
                    r["signals"]["tone"]["score"],
                    tuple(r["signals"]["tone"]["evidence"]),
                )
                for r in records
            ]
        counts = Counter((r["speaker"], label) for r, label, _, _ in rows)
        totals.update(counts)
        summary = ", ".join(
            f"{side} " + "/".join(str(counts[side, lab]) for lab in ("calm", "tense", "angry"))
            for side in ("agent", "customer")
            if any(counts[side, lab] for lab in ("calm", "tense", "angry"))
        )
        print(f"{path.name}: {len(rows)} utterances; calm/tense/angry: {summary}")
        for r, label, score, evidence in rows:
            if label != "calm":
                print(
                    f"  {r['start']:6.1f}s {r['speaker']:8} {label:5} {score:.2f}  {'; '.join(evidence)}  | {r['text'][:70]}"
                )
    print(
        "all: "
        + ", ".join(
            f"{side} " + "/".join(str(totals[side, lab]) for lab in ("calm", "tense", "angry"))
            for side in ("agent", "customer")
        )
        + " (calm/tense/angry)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
