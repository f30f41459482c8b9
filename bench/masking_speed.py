"""What the masking stage costs per utterance (privacy.Masker.mask_utterance: text and words).

    PYTHONPATH=src python bench/masking_speed.py [--repeat N]

Two sets: the demo call's utterances (ordinary speech, nothing to mask), and utterances that
hold a card number, an SSN, a phone number, an e-mail or spoken digits. Prints microseconds per
utterance (best of 5 rounds), as wall time and as this process's CPU time (less disturbed by
other processes on a shared machine). Note the load average with the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rapport_assist.privacy import masker_for
from rapport_assist.types import Speaker, Utterance, Word

DEMO = Path(__file__).resolve().parent.parent / "src" / "rapport_assist" / "data" / "demo_call.jsonl"
SECRETS = [
    "I'd like to pay by card. The number is 4929 3810 4672 8154.",
    "Again that is four nine two nine, three eight one oh, four six seven two, eight one five four.",
    "My social security number is 536-27-4819 and you can call me at (555) 867-5309.",
    "My email is john.smith@gmail.com, that's john dot smith at gmail dot com.",
    "My date of birth is March 5th, 1984, and the account number is 12345678.",
]


def utterance(i: int, text: str) -> Utterance:
    words = tuple(Word(w, i + k * 0.3, i + k * 0.3 + 0.25, 0.9) for k, w in enumerate(text.split()))
    return Utterance(i, Speaker.CUSTOMER, text, float(i), float(i) + 3.0, words=words)


def per_utterance_us(utterances: list[Utterance], repeat: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per utterance, best of 5 rounds."""
    masker = masker_for(True)
    wall = cpu = float("inf")
    for _ in range(5):
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            for u in utterances:
                masker.mask_utterance(u)
        n = repeat * len(utterances)
        wall = min(wall, (time.perf_counter() - started) / n)
        cpu = min(cpu, (time.process_time() - started_cpu) / n)
    return wall * 1e6, cpu * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    demo = [utterance(i, json.loads(line)["text"]) for i, line in enumerate(DEMO.read_text().splitlines())]
    secret = [utterance(i, t) for i, t in enumerate(SECRETS)]
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    for name, utts in (
        (f"ordinary speech (demo call, {len(demo)} utterances)", demo),
        (f"with personal data ({len(secret)} utterances)", secret),
    ):
        wall, cpu = per_utterance_us(utts, args.repeat)
        print(f"{name}: {wall:.1f} us/utt wall, {cpu:.1f} us/utt CPU")
    print(f"load average {load}")


if __name__ == "__main__":
    main()
