"""Dump the tone estimate's inputs per customer utterance of a spoken set, against its labels.

Usage:
    PYTHONPATH=src .venv/bin/python scripts/tone_features.py SPOKEN_DIR --cache DIR [--tsv OUT] [--only-errors]

SPOKEN_DIR is a folder made by ``scripts/make_spoken_dev.py`` (``spoken.jsonl`` + ``audio/``);
its recordings are read through the transcript cache as ``rapport-assist eval --cache DIR`` does
(recognized once, then read back). For every recognized customer utterance: the dialogue, the
turn it lies on (``@N``: turn number of spoken.jsonl), whether that turn was voiced angry, the
voice and pace against the speaker's baseline, the text cue, the tone score and label. The
summary at the end scores turns as ``rapport-assist eval`` does (a turn is found when any of its
utterances is estimated 'angry').
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spoken", type=Path)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--tsv", type=Path, help="write every row here (tab-separated)")
    ap.add_argument("--only-errors", action="store_true", help="print only the turns scored wrong")
    args = ap.parse_args(argv)

    from rapport_assist.annotate import Annotator
    from rapport_assist.evaluate import run_conversations
    from rapport_assist.qa.inputs import SIDE_PATTERN
    from rapport_assist.qa.runner import QaSettings
    from rapport_assist.rules import default_rules_dir, load_rules
    from rapport_assist.spoken_eval import read_spoken_set, recognize_set, spoken_set_file, turn_at
    from rapport_assist.types import Speaker

    dialogues = read_spoken_set(spoken_set_file(args.spoken))
    rules_dir = default_rules_dir()
    settings = QaSettings(
        out_dir=Path(".").absolute(), cache_dir=args.cache.absolute(), rule_paths=(rules_dir.resolve(),), mask_list=None
    )
    recognized = recognize_set(
        dialogues, settings, {"side_pattern": SIDE_PATTERN, "channel_order": (Speaker.AGENT, Speaker.CUSTOMER)}
    )
    ruleset = load_rules([rules_dir])
    results, _ = run_conversations([recognized[d.conversation.id] for d in dialogues], ruleset, Annotator())

    header = [
        "call",
        "turn",
        "gold",
        "utt",
        "words",
        "loud_db",
        "rise_db",
        "rate_sps",
        "rate_rise",
        "turn_rise_db",
        "turn_rate_rise",
        "score",
        "label",
        "evidence",
        "text",
    ]
    rows = []
    tp = fp = fn = tn = 0
    for d, res in zip(dialogues, results):
        turns = d.conversation.utterances
        found: dict[int, bool] = {}
        for u in res.utterances:
            if u.speaker is not Speaker.CUSTOMER or u.signals is None:
                continue
            t = turn_at(u.start_s, u.end_s, u.speaker, turns)
            t = -1 if t is None else t
            s = u.signals
            angry = s.tone.label == "angry"
            if t >= 0:
                found[t] = found.get(t, False) or angry
            rows.append(
                [
                    d.conversation.id,
                    t,
                    int(t in d.voiced_angry),
                    u.index,
                    _fmt(s.get("words")),
                    _fmt(s.get("loudness_dbfs")),
                    _fmt(s.get("loudness_rise_db")),
                    _fmt(s.get("rate_sps")),
                    _fmt(s.get("rate_rise")),
                    _fmt(s.values.get("turn_loudness_rise_db")),
                    _fmt(s.values.get("turn_rate_rise")),
                    f"{s.tone.score:.2f}",
                    s.tone.label,
                    "; ".join(s.tone.evidence),
                    u.text[:70],
                ]
            )
        customer = {i for i, u in enumerate(turns) if u.speaker is Speaker.CUSTOMER}
        for i in customer:
            got, gold = found.get(i, False), i in d.voiced_angry
            tp += got and gold
            fp += got and not gold
            fn += gold and not got
            tn += not got and not gold
        if args.only_errors:
            wrong = {i for i in customer if found.get(i, False) != (i in d.voiced_angry)}
            rows = [r for r in rows if r[0] != d.conversation.id or r[1] in wrong]
    out = sys.stdout
    out.write("\t".join(header) + "\n")
    for r in rows:
        out.write("\t".join(map(str, r)) + "\n")
    if args.tsv:
        args.tsv.write_text("\n".join("\t".join(map(str, r)) for r in [header, *rows]) + "\n", encoding="utf-8")
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    out.write(f"\nturns: P {p:.2f} R {r:.2f}  tp/fp/fn/tn {tp}/{fp}/{fn}/{tn}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
