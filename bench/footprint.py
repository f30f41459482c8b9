"""Where a live call's memory goes: resident memory after each loading stage, and the peaks.

    .venv/bin/python bench/footprint.py

Loads what a live call loads, one stage at a time, in one process (glibc limited to one malloc
arena, as ``LiveCall`` does), and prints per stage: VmRSS after it and its change, the part of
it that is anonymous memory (the rest: pages of shared libraries and files), and the stage's
own peak (VmHWM, reset before each stage through ``/proc/self/clear_refs``). Then the
transient peaks of recognition: the demo call's segments recognized as live capture does
(short encoder window, doubtful ones again in 30 s), one forced 30 s decoding, and 30 short
decodings of distinct encoder window lengths (oneDNN's primitive cache,
``recognizer.ONEDNN_CACHE_PRIMITIVES``). ``tracemalloc`` would not see any of it: it is
nearly all native memory (CTranslate2, onnxruntime, spaCy's Cython, shared libraries).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "rapport_assist" / "data" / "demo_call.flac"


def status() -> dict[str, float]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon"):
            values[key] = int(rest.split()[0]) / 1024
    return values


class Stages:
    def __init__(self) -> None:
        self.last = status()
        print(f"{'stage':<44} {'RSS after':>9} {'change':>7} {'anon':>6} {'peak':>6} {'time':>6}")
        print(
            f"{'python, numpy':<44} {self.last['VmRSS']:>6.0f} MB {'':>7} {self.last['RssAnon']:>6.0f} {'':>6} {'':>6}"
        )
        self._reset()

    def _reset(self) -> None:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        self.started = time.perf_counter()

    def done(self, name: str) -> None:
        now = status()
        took = time.perf_counter() - self.started
        print(
            f"{name:<44} {now['VmRSS']:>6.0f} MB {now['VmRSS'] - self.last['VmRSS']:>+7.1f} "
            f"{now['RssAnon']:>6.0f} {now['VmHWM']:>6.0f} {took:>5.2f}s",
            flush=True,
        )
        self.last = now
        self._reset()


def main() -> int:
    import numpy as np

    stages = Stages()
    from rapport_assist.recognizer import (  # noqa: E402
        Recognizer,
        RecognizerOptions,
        encoder_frames,
        one_malloc_arena,
        release_free_memory,
    )

    one_malloc_arena()
    import faster_whisper  # noqa: F401

    stages.done("import faster-whisper (CTranslate2, onnxruntime; PyAV deferred)")
    recognizer = Recognizer(RecognizerOptions())
    stages.done("tiny.en loaded (int8)")
    recognizer.warm_up()
    stages.done("warm-up (then malloc_trim)")
    from rapport_assist.endpoint import load_vad

    load_vad()
    stages.done("Silero VAD session")
    import spacy  # noqa: F401

    stages.done("import spaCy")
    from rapport_assist.models import load_spacy

    nlp = load_spacy()
    stages.done(f"spaCy pipeline ({', '.join(nlp.pipe_names)})")
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules

    RuleEngine(load_rules([default_rules_dir()]))
    stages.done("default rules")

    from rapport_assist.audio import decode_channels
    from rapport_assist.endpoint import EndpointerOptions
    from rapport_assist.sources import endpoint_channel
    from rapport_assist.types import Speaker

    channels = decode_channels(DEMO).channels
    segments = [
        s
        for k, speaker in enumerate((Speaker.AGENT, Speaker.CUSTOMER))
        for s in endpoint_channel(speaker, channels[k], EndpointerOptions())
    ]
    del channels
    release_free_memory()
    stages.done(f"(bench only: demo call decoded, PyAV loaded; {len(segments)} segments)")
    texts = [r.text for r in recognizer.recognize_many(segments) if r is not None]
    for text in texts:
        nlp(text, disable=["ner"] if "ner" in nlp.pipe_names else [])
    stages.done(f"recognize + annotate them ({recognizer.short_window_retries} redone in 30 s)")
    recognizer._decode_in(segments[0].audio, None, None, None)
    release_free_memory()
    stages.done("one 30 s decoding (then malloc_trim)")
    rng = np.random.default_rng(0)
    for i in range(30):
        audio = rng.normal(0.0, 0.05, int(16000 * (9.5 + 0.2 * i))).astype(np.float32)
        recognizer._decode_in(audio, None, encoder_frames(len(audio) / 16000, recognizer.options), 4)
        release_free_memory()
    stages.done("30 encoder window lengths (10-16 s)")
    print(
        f"load average at the end {open('/proc/loadavg').read().split()[0]} (times only; memory does not depend on it)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
