"""Dev tool: run the rule engine on dialogue JSONL files and score or summarize the nudges.

Usage:
    .venv/bin/python scripts/eval_scripted.py DIALOGUES.jsonl [--rules PATH ...] [--show N] [--quiet]

* Labelled files (``labels`` per dialogue, as in shared/data/dialogues/scripted_dev.jsonl):
  per headline rule, conversation-level precision/recall (a dialogue is positive when its
  label list is non-empty; predicted positive when the rule fired anywhere) and turn-level
  precision/recall (the nudge's turn == a labelled turn), then every miss and false alarm
  with its text, and any fire on a listed hard negative.
* Unlabelled files (e.g. the Twitter threads, no times): nudges per conversation per rule
  and the first ``--show`` fires of each rule, to judge noise by eye. Missing times are
  estimated from word counts at ``--wps`` words per second; links and @handles are dropped
  (nobody says them on a call).

The turn a nudge is "at" is ``evidence[0].utterance_index``: the turn it is about (for
``uncommitted-promise``, the promise itself, although the nudge is only decided after the
agent's next utterance). Finally it measures rule-evaluation speed alone (spaCy excluded).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from rapport_assist.annotate import AnnotatedUtterance, Annotator, count_words
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
from rapport_assist.types import Nudge, Speaker, Utterance

HEADLINE = ("angry-no-apology", "you-not-we", "uncommitted-promise", "missed-reflection")


URL_OR_HANDLE = re.compile(r"https?://\S+|@\w+|&amp;")


def spoken(text: str) -> str:
    """Text as it could be said: links and @handles (tweets) dropped, whitespace tidied."""
    return " ".join(URL_OR_HANDLE.sub(" ", text).split())


def utterances(dialogue: dict, wps: float, gap_s: float) -> list[Utterance]:
    """The dialogue's turns as utterances; times estimated from word counts when absent."""
    out: list[Utterance] = []
    t = 0.0
    for i, turn in enumerate(dialogue["turns"]):
        text = spoken(turn["text"]) or "…"
        if "start" in turn and "end" in turn:
            start, end, estimated = float(turn["start"]), float(turn["end"]), False
        else:
            start = t + gap_s
            end = start + max(0.6, count_words(text) / wps)
            estimated = True
        out.append(Utterance(i, Speaker.parse(turn["speaker"]), text, start, end, timing_estimated=estimated))
        t = end
    return out


def run_call(engine: RuleEngine, annotated: list[AnnotatedUtterance]) -> list[Nudge]:
    engine.start_call()
    nudges: list[Nudge] = []
    for au in annotated:
        nudges.extend(engine.on_utterance(au))
    if annotated:
        nudges.extend(engine.finish(max(au.utterance.end_s for au in annotated)))
    return nudges


def focus(nudge: Nudge) -> int:
    return nudge.evidence[0].utterance_index if nudge.evidence else nudge.utterance_index


def pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def score(dialogues: list[dict], fired: dict[str, list[Nudge]], show: bool) -> None:
    print(f"{'rule':22} {'conv P':>7} {'conv R':>7} {'(tp/fp/fn)':>12}   {'turn P':>7} {'turn R':>7} "
          f"{'(tp/fp/fn)':>12}  hard-neg fires")
    details: list[str] = []
    for rule in HEADLINE:
        c = Counter()
        t = Counter()
        hard = 0
        for d in dialogues:
            gold = set(d["labels"].get(rule, []))
            nudges = [n for n in fired[d["id"]] if n.rule == rule]
            got = {focus(n) for n in nudges}
            turns = d["turns"]
            c["tp" if gold and got else "fp" if got else "fn" if gold else "tn"] += 1
            t["tp"] += len(gold & got)
            t["fp"] += len(got - gold)
            t["fn"] += len(gold - got)
            for i in sorted(gold - got):
                details.append(f"  MISS  {rule} {d['id']}@{i}: {turns[i]['text']}")
            for n in nudges:
                i = focus(n)
                if i not in gold:
                    details.append(f"  FALSE {rule} {d['id']}@{i} (fired at {n.utterance_index}): "
                                   f"{turns[i]['text']}\n        -> {n.message}")
            hard += len(got & set(d.get("hard_negatives", {}).get(rule, [])))
        cp, cr = pr(c["tp"], c["fp"], c["fn"])
        tp_, tr = pr(t["tp"], t["fp"], t["fn"])
        print(f"{rule:22} {cp:7.2f} {cr:7.2f} {c['tp']:>4}/{c['fp']}/{c['fn']:<4}   {tp_:7.2f} {tr:7.2f} "
              f"{t['tp']:>4}/{t['fp']}/{t['fn']:<4}  {hard}")
    if show and details:
        print("\nmisses and false alarms (turn level):")
        print("\n".join(details))


def summarize(dialogues: list[dict], fired: dict[str, list[Nudge]], show: int) -> None:
    n = len(dialogues)
    counts = Counter(nudge.rule for nudges in fired.values() for nudge in nudges)
    calls_with = Counter(rule for nudges in fired.values() for rule in {nudge.rule for nudge in nudges})
    agent_turns = sum(1 for d in dialogues for t in d["turns"] if t["speaker"] == "agent")
    print(f"{n} conversations, {agent_turns} agent turns")
    print(f"{'rule':22} {'nudges':>7} {'per conv':>9} {'convs with':>11}")
    for rule in HEADLINE:
        print(f"{rule:22} {counts[rule]:7d} {counts[rule] / n:9.3f} {calls_with[rule]:11d}")
    if show:
        by_rule: dict[str, list[str]] = defaultdict(list)
        for cid, nudges in fired.items():
            for nudge in nudges:
                if len(by_rule[nudge.rule]) < show:
                    said = "\n".join(f"    @{e.utterance_index} [{e.speaker.value}] {e.text[:240]!r}"
                                     for e in sorted(nudge.evidence, key=lambda e: e.utterance_index))
                    by_rule[nudge.rule].append(
                        f"  {cid} (about turn {focus(nudge)}):\n{said}\n"
                        f"     matched {[m for e in nudge.evidence for m in e.matched]} -> {nudge.message}")
        for rule in HEADLINE:
            print(f"\n{rule}: first fires")
            print("\n".join(by_rule[rule]) or "  (none)")


def speed(engine: RuleEngine, calls: list[list[AnnotatedUtterance]], rounds: int = 7) -> float:
    """Utterances per second through ``on_utterance``/``finish`` alone (annotation excluded);
    the best of ``rounds`` passes, so other load on the machine disturbs it less."""
    n = sum(len(c) for c in calls)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for annotated in calls:
            run_call(engine, annotated)
        best = min(best, time.perf_counter() - started)
    return n / best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dialogues", type=Path)
    ap.add_argument("--rules", type=Path, action="append", help="rule file or folder (default: rules/)")
    ap.add_argument("--show", type=int, default=5, help="fires to show per rule for unlabelled files")
    ap.add_argument("--quiet", action="store_true", help="scores only, no miss/false-alarm listing")
    ap.add_argument("--wps", type=float, default=2.6, help="words per second when a file has no times")
    ap.add_argument("--gap-s", type=float, default=1.0, help="gap between turns when a file has no times")
    args = ap.parse_args(argv)

    dialogues = [json.loads(line) for line in args.dialogues.read_text(encoding="utf-8").splitlines() if line.strip()]
    from rapport_assist.signals import SignalTracker

    ruleset = load_rules(args.rules or [default_rules_dir()])
    engine = RuleEngine(ruleset)
    tracker = SignalTracker(ruleset)
    annotator = Annotator()

    def with_signals(annotated: list[AnnotatedUtterance]) -> list[AnnotatedUtterance]:
        tracker.start_call()
        return [tracker.on_utterance(au)[0] for au in annotated]

    calls = [with_signals(list(annotator.annotate_many(utterances(d, args.wps, args.gap_s)))) for d in dialogues]
    fired = {d["id"]: run_call(engine, annotated) for d, annotated in zip(dialogues, calls)}
    if all("labels" in d for d in dialogues):
        score(dialogues, fired, not args.quiet)
    else:
        summarize(dialogues, fired, 0 if args.quiet else args.show)
    n_utts = sum(len(c) for c in calls)
    print(f"\nrule evaluation speed: {speed(engine, calls):,.0f} utterances/s "
          f"({n_utts} utterances, {len(engine.ruleset.rules)} rules, spaCy excluded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
