"""Batch QA throughput in × real time, side by side with plain faster-whisper on the same channels.

Usage:
    .venv/bin/python bench/qa_throughput.py [--copies-demo 4] [--copies-real 6] [--skip-cluster]

Builds a corpus of stereo calls in a temp folder: the bundled demo call and the real stereo call
in ../shared (when present), each copied several times with a different tiny gain so every copy
has its own bytes (no copy hits the transcript cache of another). Then, each with an empty cache
and output folder, end to end (process start, model load, decode, endpointing, recognition,
spaCy, rules, reports, summary):

  * plain faster-whisper: ``WhisperModel(tiny.en, int8, 2 threads).transcribe(channel,
    vad_filter=True, word_timestamps=True)`` on each channel of each call, one process; and the
    same with the malloc setting our recognizer makes (``recognizer.keep_freed_memory``), so the
    comparison is not only about memory;
  * ``rapport-assist qa`` with 1 worker × 2 threads, and with 2 workers × 1 thread;
  * ``rapport-assist qa --cluster local:2`` (a Dask cluster of 2 worker processes on this machine);
  * ``rapport-assist qa --force`` again over the filled cache (rules only: what a rule change costs).

× real time = seconds of calls (stereo length; both channels are recognized) / wall seconds.
CPU seconds (user + system, every process and thread of the run) are printed too: on a machine
shared with other work they move much less than wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_CALL = REPO.parent / "shared" / "data" / "audio" / "speechmatics_call_stereo_L-agent_R-customer.wav"
sys.path.insert(0, str(REPO / "bench"))
from replay_speed import machine  # noqa: E402


def build_corpus(folder: Path, copies_demo: int, copies_real: int) -> float:
    import av
    import numpy as np

    from rapport_assist.audio import decode_channels
    from rapport_assist.cli import DEMO_CALL

    total = 0.0
    sources = [(DEMO_CALL, copies_demo)] + ([(SHARED_CALL, copies_real)] if SHARED_CALL.exists() else [])
    for src, copies in sources:
        audio = decode_channels(src)
        data = np.stack(audio.channels[:2])
        for k in range(copies):
            path = folder / f"{src.stem[:24]}-{k:02d}.wav"
            scaled = np.clip(data * (1.0 - 0.002 * k), -1, 1).astype(np.float32)
            with av.open(str(path), "w") as out:
                stream = out.add_stream("pcm_s16le", rate=16000, layout="stereo")
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(scaled), format="fltp", layout="stereo")
                frame.sample_rate = 16000
                for packet in stream.encode(frame):
                    out.mux(packet)
                for packet in stream.encode(None):
                    out.mux(packet)
            total += audio.duration_s
    return total


def plain(corpus: Path, keep_freed_memory: bool = False) -> tuple[float, float]:
    """Plain faster-whisper over the corpus in a fresh process (so its allocator is its own);
    ``keep_freed_memory``: with the malloc setting our recognizer makes (``keep_freed_memory``)."""
    cmd = [sys.executable, __file__, "--plain-run", str(corpus)] + (
        ["--keep-freed-memory"] if keep_freed_memory else []
    )
    t0, c0 = time.perf_counter(), _children_cpu()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0, _children_cpu() - c0


def plain_run(corpus: Path, keep_freed_memory: bool) -> None:
    from faster_whisper import WhisperModel

    from rapport_assist.audio import decode_channels
    from rapport_assist.models import resolve_whisper_model_dir

    if keep_freed_memory:
        from rapport_assist.recognizer import keep_freed_memory as keep

        keep()
    model = WhisperModel(
        str(resolve_whisper_model_dir()), device="cpu", compute_type="int8", cpu_threads=2, local_files_only=True
    )
    for path in sorted(corpus.glob("*.wav")):
        for channel in decode_channels(path).channels[:2]:
            segments, _ = model.transcribe(
                channel,
                language="en",
                beam_size=1,
                vad_filter=True,
                word_timestamps=True,
                condition_on_previous_text=False,
            )
            list(segments)


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def qa(corpus: Path, work: Path, name: str, *args: str) -> tuple[float, float]:
    out, cache = work / f"out-{name}", work / "cache-shared" if "--force" in args else work / f"cache-{name}"
    cmd = [
        str(REPO / ".venv" / "bin" / "rapport-assist"),
        "qa",
        str(corpus),
        "--out",
        str(out),
        "--cache",
        str(cache),
        *args,
    ]
    t0, c0 = time.perf_counter(), _children_cpu()
    run = subprocess.run(cmd, capture_output=True, text=True)
    elapsed, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if run.returncode != 0:
        sys.exit(f"{name} failed ({run.returncode}):\n{run.stderr}")
    return elapsed, cpu


def recognition_only(repeat: int) -> None:
    """The demo call's recognition alone, one process, the same loaded model: packed batches vs plain
    faster-whisper vs one decode per utterance (replay's way). CPU seconds, best of ``repeat``."""
    from rapport_assist.audio import decode_channels
    from rapport_assist.cli import DEMO_CALL
    from rapport_assist.endpoint import EndpointerOptions
    from rapport_assist.recognizer import Recognizer, RecognizerOptions
    from rapport_assist.sources import endpoint_channel
    from rapport_assist.types import Speaker

    audio = decode_channels(DEMO_CALL)
    for threads in (1, 2):
        rec = Recognizer(RecognizerOptions(cpu_threads=threads, keep_freed_memory=True))  # as qa workers
        rec.warm_up()
        segments = [
            s
            for sp, ch in zip((Speaker.AGENT, Speaker.CUSTOMER), audio.channels)
            for s in endpoint_channel(sp, ch, EndpointerOptions())
        ]

        def plain_channels() -> None:
            for ch in audio.channels:
                found, _ = rec.model.transcribe(
                    ch,
                    language="en",
                    beam_size=1,
                    vad_filter=True,
                    word_timestamps=True,
                    condition_on_previous_text=False,
                )
                list(found)

        greedy = rec.with_options(dataclasses.replace(rec.options, batch_beam_size=1))
        runs = {
            "packed (qa)": lambda: rec.recognize_batch(segments),
            "packed, greedy (qa before the beam)": lambda: greedy.recognize_batch(segments),
            "plain faster-whisper": plain_channels,
            "one decode per utterance (replay)": lambda: rec.recognize_many(segments),
        }
        for name, fn in runs.items():
            best_wall = best_cpu = float("inf")
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                best_wall = min(best_wall, time.perf_counter() - t0)
                best_cpu = min(best_cpu, time.process_time() - c0)
            print(
                f"{threads} thread(s)  {name:<36} wall {best_wall:5.2f} s ({audio.duration_s / best_wall:5.1f}× RT)  "
                f"CPU {best_cpu:5.2f} s ({audio.duration_s / best_cpu:5.1f} audio s per CPU s)"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies-demo", type=int, default=4)
    ap.add_argument("--copies-real", type=int, default=6)
    ap.add_argument("--skip-cluster", action="store_true")
    ap.add_argument(
        "--recognition-only",
        action="store_true",
        help="only compare recognition on the demo call (packed, plain, per utterance)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure with --recognition-only (best kept)")
    ap.add_argument("--plain-run", type=Path, help=argparse.SUPPRESS)  # one plain run, in a child process
    ap.add_argument("--keep-freed-memory", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain_run:
        plain_run(args.plain_run, args.keep_freed_memory)
        return 0
    if args.recognition_only:
        print(f"machine: {machine()}; load average at start: {os.getloadavg()[0]:.2f}")
        recognition_only(args.repeat)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
        return 0
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        corpus.mkdir()
        audio_s = build_corpus(corpus, args.copies_demo, args.copies_real)
        n = len(list(corpus.glob("*.wav")))
        print(f"machine: {machine()}; load average at start: {os.getloadavg()[0]:.2f}")
        print(f"corpus: {n} stereo calls, {audio_s:.0f} s of calls ({2 * audio_s:.0f} s of channels)\n")
        rows = [
            ("plain faster-whisper, 1 process × 2 threads", plain(corpus)),
            ("plain, with our malloc setting (keep_freed_memory)", plain(corpus, keep_freed_memory=True)),
        ]
        rows.append(("qa, 1 worker × 2 threads", qa(corpus, work, "1x2", "--workers", "1", "--threads", "2")))
        rows.append(("qa, 2 workers × 1 thread (default)", qa(corpus, work, "2x1", "--workers", "2", "--threads", "1")))
        if not args.skip_cluster:
            rows.append(
                (
                    "qa --cluster local:2 (Dask, 2 worker processes)",
                    qa(corpus, work, "dask", "--cluster", "local:2", "--threads", "1"),
                )
            )
        (work / "cache-shared").symlink_to(work / "cache-2x1")
        rows.append(("qa --force over the cache (rules only)", qa(corpus, work, "rerun", "--force", "--workers", "1")))
        base = rows[0][1][0]
        print(f"{'run':<52} {'wall s':>7} {'× real time':>12} {'vs plain':>9} {'CPU s':>7} {'audio s / CPU s':>16}")
        for name, (secs, cpu) in rows:
            print(f"{name:<52} {secs:7.1f} {audio_s / secs:12.1f} {base / secs:8.2f}× {cpu:7.1f} {audio_s / cpu:16.1f}")
        print(
            "\naudio s / CPU s: calls processed per second of CPU (all processes and threads); on an idle machine "
            "with N cores a run that keeps them all busy reaches about N times that in × real time"
        )
        print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
