"""Replay speed on a real stereo call, side by side with plain faster-whisper.

Usage:
    .venv/bin/python bench/replay_speed.py [STEREO_FILE ...] [--repeat N] [--threads N]

For each file (default: the bundled demo call, plus the real 10 s call in ../shared when present)
it times, in the same process with the same loaded model:
  * our replay: decode → streaming Silero endpointer → tiny.en per utterance → spaCy → rules;
  * plain faster-whisper: ``model.transcribe(channel, vad_filter=True, word_timestamps=True)``
    on each channel (decode included, as our replay does).
It prints × real time (audio seconds / wall seconds) for both and their ratio, median of N runs.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_CALL = REPO.parent / "shared" / "data" / "audio" / "speechmatics_call_stereo_L-agent_R-customer.wav"


def machine() -> str:
    import os

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    from rapport_assist.annotate import Annotator
    from rapport_assist.audio import decode_channels
    from rapport_assist.cli import DEMO_CALL
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.recognizer import Recognizer, RecognizerOptions
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
    from rapport_assist.sources import ReplayInput, open_replay
    from rapport_assist.types import CallSummary

    files = args.files or [DEMO_CALL] + ([SHARED_CALL] if SHARED_CALL.exists() else [])
    recognizer = Recognizer(RecognizerOptions(cpu_threads=args.threads, keep_freed_memory=True))  # as replay
    recognizer.warm_up()
    model = recognizer.model  # the same WhisperModel, for the plain baseline
    pipeline = CallPipeline(Annotator(), RuleEngine(load_rules([default_rules_dir()])))

    print(f"machine: {machine()}")
    print(f"model: tiny.en int8, {args.threads} threads; median of {args.repeat} runs\n")
    print(f"{'file':<48} {'audio s':>8} {'ours ×RT':>9} {'plain ×RT':>10} {'ours/plain':>11} {'utts':>5}")
    for path in files:
        ours, plain = [], []
        n_utts = 0
        audio_s = decode_channels(path).duration_s
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            source = open_replay(ReplayInput(path=path), lambda: recognizer)
            for ev in pipeline.run(source.items(), audio_s=source.audio_s):
                if isinstance(ev, CallSummary):
                    n_utts = ev.utterances
            ours.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            for channel in decode_channels(path).channels[:2]:
                segments, _ = model.transcribe(
                    channel,
                    language="en",
                    beam_size=1,
                    vad_filter=True,
                    word_timestamps=True,
                    condition_on_previous_text=False,
                )
                for _seg in segments:
                    pass
            plain.append(time.perf_counter() - t0)
        o, p = statistics.median(ours), statistics.median(plain)
        print(f"{path.name[:48]:<48} {audio_s:8.1f} {audio_s / o:9.1f} {audio_s / p:10.1f} {p / o:11.2f} {n_utts:5d}")
    print(
        "\n×RT = seconds of call per second of processing (higher is faster); ours/plain > 1 means our replay is faster."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
