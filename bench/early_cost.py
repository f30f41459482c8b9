"""What early nudges cost the live pipeline: one ``EarlyNudges.on_partial`` per caption.

Every utterance of a transcript (default: the bundled demo call) is cut into growing captions,
three words more each time (stable words, and the next three as pending), as live captions grow
while someone speaks; each is read as the pipeline reads it (spaCy on the caption's text, the
early rules probed). Prints the time per caption (p50/p95/max) and how many fired early.

    .venv/bin/python bench/early_cost.py [TRANSCRIPT.jsonl]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from rapport_assist.annotate import Annotator
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
from rapport_assist.rules.early import EarlyNudges
from rapport_assist.types import Partial, Speaker, Utterance

DEMO = Path(__file__).resolve().parents[1] / "src" / "rapport_assist" / "data" / "demo_call.jsonl"


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEMO
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("text") and r.get("speaker")]
    if not rows:
        print(f"{path}: no utterances; expected a transcript, one {{speaker, text}} a line (as demo_call.jsonl)")
        return 2
    annotator = Annotator()
    rules = load_rules([default_rules_dir()])
    engine = RuleEngine(rules)
    early = EarlyNudges(engine, annotator, annotator.skipping(rules.needs_entities))
    annotator.nlp("warm up the pipeline")
    times: list[float] = []
    fired = 0
    for rounds in range(3):
        engine.start_call()
        early.start_call()
        for i, row in enumerate(rows):
            speaker = Speaker.parse(row["speaker"])
            words = row["text"].split()
            start = float(row.get("start", i * 5.0))
            for n in range(3, len(words), 3):
                partial = Partial(speaker, start, start + 0.3 * n, " ".join(words[:n]), " ".join(words[n : n + 3]))
                t0 = time.perf_counter()
                out = early.on_partial(partial)
                times.append(time.perf_counter() - t0)
                fired += len(out) if rounds == 0 else 0
            utt = Utterance(i, speaker, row["text"], start, float(row.get("end", start + 3.0)))
            engine.on_utterance(annotator.annotate(utt))
            early.on_utterance(utt, [])
    times.sort()
    q = lambda p: times[min(len(times) - 1, round(p / 100 * (len(times) - 1)))] * 1000  # noqa: E731
    print(
        f"{path.name}: {len(rows)} utterances, {len(times) // 3} captions a round, 3 rounds; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"on_partial per caption: p50 {q(50):.1f} ms  p95 {q(95):.1f} ms  max {times[-1] * 1000:.1f} ms; "
        f"early nudges fired (first round) {fired}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
