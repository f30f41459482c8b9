"""Where one live recognition's time goes: mel features, encoder, decoder, word alignment, rest.

Usage:
    .venv/bin/python bench/recognition_profile.py [--audio-dir ../shared/data/audio]
        [--config NAME:key=value,...] [--min-s 1 --max-s 4] [--repeat 1]

Endpoints the Harper Valley 8 kHz sides (``../shared/data/audio``, when there) and both sides of
the bundled demo call as replay does, keeps the segments between ``--min-s`` and ``--max-s``
long (1-4 s: most utterances of a call), and recognizes each one with ``Recognizer.recognize``
(tiny.en int8, 2 threads unless a config says otherwise) while timing the model's parts: the
feature extractor, CTranslate2's ``encode``, ``generate`` (every decoding, fallbacks included)
and ``align`` (the word-timestamp pass), and what is left (faster-whisper's Python, our guards).
Wall and process CPU time per stage (CPU is the sum over the model's threads, and is less
inflated than wall time when other processes share the machine). Each ``--config`` (as in
``bench/wer_real_calls.py``: fields of ``RecognizerOptions``) is run on the same segments in
turn, ``--repeat`` times; the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wer_real_calls import REPO, parse_config, sides  # noqa: E402

STAGES = ("features", "encode", "generate", "align")


class Clock:
    """Wall and CPU seconds per stage, for the segment being recognized."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def timed(self, stage: str, fn):
        def wrapper(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[stage] += time.perf_counter() - wall
                self.cpu[stage] += time.process_time() - cpu
                self.calls[stage] += 1

        return wrapper


class TimedWhisper:
    """CTranslate2's Whisper with encode, generate and align timed (everything else passed on)."""

    def __init__(self, inner, clock: Clock) -> None:
        self._inner = inner
        self.encode = clock.timed("encode", inner.encode)
        self.generate = clock.timed("generate", inner.generate)
        self.align = clock.timed("align", inner.align)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class TimedFeatures:
    def __init__(self, inner, clock: Clock) -> None:
        self._inner = inner
        self._call = clock.timed("features", inner.__call__)

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio-dir", type=Path, default=REPO.parent / "shared" / "data" / "audio")
    ap.add_argument("--config", action="append", help="NAME:key=value,... (repeatable; default: default:)")
    ap.add_argument("--min-s", type=float, default=1.0)
    ap.add_argument("--max-s", type=float, default=4.0)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)

    from rapport_assist.recognizer import Recognizer, RecognizerOptions
    from rapport_assist.sources import endpoint_channel

    configs = [parse_config(spec) for spec in (args.config or ["default:"])]
    have_real = (args.audio_dir / "MANIFEST.json").is_file()
    segments = []
    if have_real:
        data = [d for d in sides(args.audio_dir, True) if d[1] in ("hvb", "demo")]
    else:
        data = []
        from wer_real_calls import DEMO
        from rapport_assist.audio import decode_channels
        from rapport_assist.types import Speaker

        channels = decode_channels(DEMO).channels
        data = [("demo", "demo", s, channels[k], "") for k, s in enumerate((Speaker.AGENT, Speaker.CUSTOMER))]
    for _label, _group, speaker, samples, _ref in data:
        segments += [
            s for s in endpoint_channel(speaker, samples, configs[0][1]) if args.min_s <= s.duration_s <= args.max_s
        ]
    durations = np.array([s.duration_s for s in segments])
    print(
        f"{len(segments)} segments of {args.min_s:g}-{args.max_s:g} s (mean {durations.mean():.2f} s) "
        f"from {len(data)} sides; load average at start: {open('/proc/loadavg').read().split()[0]}"
    )
    base = Recognizer(RecognizerOptions())
    clock = Clock()
    model = base.model
    model.model = TimedWhisper(model.model, clock)
    model.feature_extractor = TimedFeatures(model.feature_extractor, clock)
    base.warm_up()
    print(
        f"{'config':<16} {'stage':<9} {'wall p50':>9} {'wall mean':>10} {'CPU mean':>9} {'share CPU':>9} {'calls/seg':>9}"
    )
    for name, _ep, rec_opts, _batch in configs:
        recognizer = base.with_options(rec_opts) if rec_opts.cpu_threads == 2 else Recognizer(rec_opts)
        if recognizer is not base and recognizer.model is not model:
            recognizer.model.model = TimedWhisper(recognizer.model.model, clock)
            recognizer.model.feature_extractor = TimedFeatures(recognizer.model.feature_extractor, clock)
            recognizer.warm_up()
        rows: dict[str, list[tuple[float, float]]] = defaultdict(list)
        calls: dict[str, int] = defaultdict(int)
        for _ in range(args.repeat):
            for segment in segments:
                clock.wall.clear()
                clock.cpu.clear()
                clock.calls.clear()
                wall, cpu = time.perf_counter(), time.process_time()
                recognizer.recognize(segment)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                for stage in STAGES:
                    rows[stage].append((clock.wall[stage], clock.cpu[stage]))
                    calls[stage] += clock.calls[stage]
                rows["rest"].append(
                    (wall - sum(clock.wall[s] for s in STAGES), cpu - sum(clock.cpu[s] for s in STAGES))
                )
                rows["total"].append((wall, cpu))
        total_cpu = float(np.mean([c for _, c in rows["total"]]))
        n = len(rows["total"])
        for stage in (*STAGES, "rest", "total"):
            w = np.array([x for x, _ in rows[stage]])
            c = np.array([y for _, y in rows[stage]])
            print(
                f"{name:<16} {stage:<9} {np.median(w):>8.3f}s {w.mean():>9.3f}s {c.mean():>8.3f}s "
                f"{c.mean() / total_cpu:>9.0%} {calls[stage] / n if stage in STAGES else 1:>9.2f}"
            )
    print(f"load average at end: {open('/proc/loadavg').read().split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
