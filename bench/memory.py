"""Peak memory of a replay on long recordings: does it follow the call's length or not?

Usage:
    .venv/bin/python bench/memory.py [--lengths 10m,1h,2h] [--stages decode,whole,replay,qa]
                                     [--replay-lengths 10m,1h] [--threads N] [--keep DIR]

It writes long stereo recordings (8 kHz FLAC, like the bundled demo call, which it loops with
1 s of silence between loops) to a temporary folder (or ``--keep DIR``), then measures each
stage in a fresh child process and reports the child's peak RSS (``ru_maxrss`` from ``wait4``):

* ``decode``: the recording decoded, resampled and endpointed as replay does it (``CallAudio``
  + ``CallSegments``: the probe pass, then 0.5 s blocks), no recognition;
* ``whole``: the same segments the way replay made them before streaming: the whole file
  decoded into one float32 array per channel (``decode_channels``), then endpointed, every
  segment kept (for comparison);
* ``replay``: ``rapport-assist replay FILE --format jsonl`` (recognition, spaCy, rules), the
  events written to a file. CPU heavy (a loop of the demo call is dense speech): by default
  only for ``--replay-lengths`` (10m,1h);
* ``qa``: ``rapport-assist qa FILE --workers 1`` (batch recognition in chunks, events, report,
  summary) into a temporary folder; also only for ``--replay-lengths``.

Lengths take ``s``, ``m`` or ``h``. The generated files are not kept unless ``--keep`` is given.
Timings depend on the machine's load (printed); memory does not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GAP_S = 1.0


def parse_length(text: str) -> float:
    text = text.strip().lower()
    unit = {"s": 1, "m": 60, "h": 3600}.get(text[-1:])
    return float(text[:-1]) * unit if unit else float(text)


def label(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def write_looped_call(path: Path, seconds: float) -> Path:
    """``seconds`` of the demo call looped (its own 8 kHz int16 stereo samples, 1 s of silence
    between loops), encoded as FLAC a loop at a time."""
    import av
    import numpy as np

    from rapport_assist.cli import DEMO_CALL

    with av.open(str(DEMO_CALL)) as source:
        stream = source.streams.audio[0]
        rate = stream.codec_context.sample_rate
        frames = [f.to_ndarray() for f in source.decode(stream)]
    demo = np.concatenate(frames, axis=1)  # packed s16: shape (1, samples * channels)
    layout_channels = 2
    demo = demo.reshape(-1, layout_channels)
    loop = np.concatenate([demo, np.zeros((int(GAP_S * rate), layout_channels), dtype=demo.dtype)])
    total = int(seconds * rate)
    with av.open(str(path), mode="w") as out:
        enc = out.add_stream("flac", rate=rate, layout="stereo")
        written = 0
        while written < total:
            piece = loop[: total - written]
            for at in range(0, len(piece), 4096):
                chunk = np.ascontiguousarray(piece[at : at + 4096]).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
                frame.sample_rate = rate
                for packet in enc.encode(frame):
                    out.mux(packet)
            written += len(piece)
        for packet in enc.encode(None):
            out.mux(packet)
    return path


def child_stage(stage: str, path: Path) -> dict:
    """Run one stage in this (fresh) process; what it found, as JSON for the parent."""
    from rapport_assist.endpoint import EndpointerOptions, load_vad

    load_vad()
    started = time.perf_counter()
    if stage == "decode":
        from rapport_assist.sources import CallAudio, CallSegments, ReplayInput

        audio = CallAudio(ReplayInput(path=path))
        segments = CallSegments(audio, EndpointerOptions())
        n = sum(1 for _, is_end, _, _ in segments if is_end)
        return {
            "segments": n,
            "audio_s": audio.duration_s,
            "held_s": round(segments.peak_held_s, 1),
            "wall_s": time.perf_counter() - started,
        }
    if stage == "whole":
        from rapport_assist.audio import decode_channels
        from rapport_assist.sources import endpoint_channel
        from rapport_assist.types import Speaker

        decoded = decode_channels(path)
        kept = []
        for speaker, samples in zip((Speaker.AGENT, Speaker.CUSTOMER), decoded.channels):
            kept.extend(endpoint_channel(speaker, samples, EndpointerOptions()))
        return {"segments": len(kept), "audio_s": decoded.duration_s, "wall_s": time.perf_counter() - started}
    raise SystemExit(f"unknown stage {stage}")


def run_child(cmd: list[str], stdout_path: Path) -> tuple[int, float, float]:
    """Run ``cmd``; its exit code, peak RSS (MB) and wall seconds."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    started = time.perf_counter()
    with stdout_path.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    return proc.returncode, usage.ru_maxrss / 1024, wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="10m,1h,2h")
    ap.add_argument("--stages", default="decode,whole,replay")
    ap.add_argument("--replay-lengths", default="10m,1h", help="lengths the full replay runs on")
    ap.add_argument("--threads", type=int, default=1, help="recognizer threads for replay (default 1)")
    ap.add_argument("--keep", type=Path, help="write the recordings here and keep them")
    ap.add_argument("--child", nargs=2, metavar=("STAGE", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(child_stage(args.child[0], Path(args.child[1]))))
        return 0

    lengths = [parse_length(x) for x in args.lengths.split(",") if x.strip()]
    replay_lengths = {parse_length(x) for x in args.replay_lengths.split(",") if x.strip()}
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="rapport-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for seconds in lengths:
            path = folder / f"looped_demo_{int(seconds)}s.flac"
            if not path.exists():
                write_looped_call(path, seconds)
            size_mb = path.stat().st_size / 1e6
            for stage in stages:
                if stage in ("replay", "qa") and seconds not in replay_lengths:
                    continue
                before = loadavg()
                result_path = folder / f"{path.stem}.{stage}.out"
                qa_out = folder / f"{path.stem}.qa"
                if stage == "replay":
                    cmd = [
                        sys.executable,
                        "-m",
                        "rapport_assist.cli",
                        "replay",
                        str(path),
                        "--format",
                        "jsonl",
                        "--threads",
                        str(args.threads),
                    ]
                elif stage == "qa":
                    shutil.rmtree(qa_out, ignore_errors=True)
                    cmd = [
                        sys.executable,
                        "-m",
                        "rapport_assist.cli",
                        "qa",
                        str(path),
                        "--out",
                        str(qa_out / "out"),
                        "--cache",
                        str(qa_out / "cache"),
                        "--workers",
                        "1",
                        "--threads",
                        str(args.threads),
                    ]
                else:
                    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", stage, str(path)]
                code, rss_mb, wall = run_child(cmd, result_path)
                lines = result_path.read_text().splitlines()
                if stage == "replay":
                    end = json.loads(lines[-1]) if lines else {}
                    detail = f"{end.get('utterances', '?')} utterances, {end.get('nudges', '?')} nudges"
                elif stage == "qa":
                    done = [json.loads(f.read_text()) for f in qa_out.glob("out/calls/*/call.json")]
                    stats = done[0].get("stats", {}) if done else {}
                    detail = f"{stats.get('utterances', '?')} utterances, {stats.get('nudges', '?')} nudges"
                    shutil.rmtree(qa_out, ignore_errors=True)
                else:
                    found = json.loads(lines[-1]) if lines else {}
                    detail = f"{found.get('segments', '?')} segments"
                    if "held_s" in found:
                        detail += f", at most {found['held_s']} s of audio held"
                if not args.keep:
                    result_path.unlink(missing_ok=True)
                row = {
                    "length": label(seconds),
                    "stage": stage,
                    "exit": code,
                    "rss_mb": round(rss_mb),
                    "wall_s": round(wall, 1),
                    "x_real_time": round(seconds / wall, 1),
                    "load": f"{before} / {loadavg()}",
                    "file_mb": round(size_mb, 1),
                    "detail": detail,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        if not args.keep:
            for f in folder.glob("looped_demo_*"):
                f.unlink()
            folder.rmdir()

    print()
    print("| stage | recording | peak RSS | wall | × real time | load avg (before / after) | |")
    print("|---|---|---:|---:|---:|---|---|")
    for r in rows:
        print(
            f"| {r['stage']} | {r['length']} ({r['file_mb']} MB FLAC) | {r['rss_mb']} MB | {r['wall_s']} s | "
            f"{r['x_real_time']} | {r['load']} | {r['detail']}{'' if r['exit'] == 0 else ' (exit ' + str(r['exit']) + ')'} |"
        )
    for stage in stages:
        mine = [r for r in rows if r["stage"] == stage and r["exit"] == 0]
        if len(mine) >= 2:
            print(
                f"{stage}: peak RSS {mine[-1]['length']} / {mine[0]['length']} = "
                f"{mine[-1]['rss_mb'] / mine[0]['rss_mb']:.2f}x"
            )
    return 1 if any(r["exit"] != 0 for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
