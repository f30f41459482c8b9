"""The silent-channel threshold (``audio.SILENT_PEAK``, -50 dBFS peak) against real telephone sides.

Usage:
    .venv/bin/python bench/silent_channel.py [--audio-dir ../shared/data/audio] [--pad-ms 500]

A recording's channel whose loudest sample stays under ``SILENT_PEAK`` is taken for a side nobody
was on (``sources``: the call is one-sided, and the measures between the sides are left out).
Two errors are possible: a side with a voice called silent (its nudges would be lost), and a
side nobody spoke on called live (the call is scored as two-sided, as before the check). This
reads every one-sided recording with reference segments in the audio folder's ``MANIFEST.json``
(the Harper Valley 8 kHz bank-call sides), decoded to 16 kHz as replay
decodes them, and prints per side:

- the channel's peak (dBFS): a voice is on it, so it must be above the threshold;
- the peak and RMS of its idle stretches: every sample farther than ``--pad-ms`` from any
  reference segment, i.e. the same line while that party says nothing (breath, handling noise,
  the line's hiss, echo of the other side);
- the share of its idle 1-second windows that peak under the threshold: how often a stretch of
  that line alone would pass for a dead side.

The development audio is not shipped with the repo; this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from rapport_assist.audio import SILENT_PEAK, STREAM_RATE_HZ, decode_channels


def dbfs(value: float) -> float:
    return 20.0 * math.log10(max(value, 1e-10))


def idle_mask(n_samples: int, segments: list[dict], pad_ms: int) -> np.ndarray:
    """True where no reference segment (widened by ``pad_ms`` each way) covers the sample."""
    idle = np.ones(n_samples, dtype=bool)
    for seg in segments:
        start = max(0, (int(seg["start_ms"]) - pad_ms) * STREAM_RATE_HZ // 1000)
        end = min(n_samples, (int(seg["end_ms"]) + pad_ms) * STREAM_RATE_HZ // 1000)
        idle[start:end] = False
    return idle


def idle_windows(samples: np.ndarray, idle: np.ndarray) -> list[float]:
    """Peaks of the whole 1-second windows that lie entirely in idle stretches."""
    peaks = []
    for start in range(0, len(samples) - STREAM_RATE_HZ + 1, STREAM_RATE_HZ):
        end = start + STREAM_RATE_HZ
        if idle[start:end].all():
            peaks.append(float(np.abs(samples[start:end]).max()))
    return peaks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio-dir", type=Path, default=Path("../shared/data/audio"))
    ap.add_argument("--pad-ms", type=int, default=500, help="margin around each reference segment")
    args = ap.parse_args(argv)
    manifest = args.audio_dir / "MANIFEST.json"
    if not manifest.is_file():
        print(f"no {manifest}: pass --audio-dir with the development audio folder", file=sys.stderr)
        return 2
    entries = [
        e
        for e in json.loads(manifest.read_text())
        if e.get("speaker_role") in ("agent", "customer")
        and isinstance(e.get("reference"), dict)
        and e["reference"].get("segments")
    ]
    threshold = dbfs(SILENT_PEAK)
    print(f"threshold: a channel peaking under {threshold:.0f} dBFS is silent")
    print(
        f"{'side':44s} {'rate':>5s} {'peak':>6s} {'idle peak':>9s} {'idle rms':>8s} {'idle s':>6s} {'silent 1 s':>10s}"
    )
    voice_peaks: list[float] = []
    windows_all: list[float] = []
    for entry in entries:
        decoded = decode_channels(args.audio_dir / entry["file"])
        samples = decoded.channels[0]
        idle = idle_mask(len(samples), entry["reference"]["segments"], args.pad_ms)
        quiet = samples[idle]
        windows = idle_windows(samples, idle)
        windows_all += windows
        peak = float(np.abs(samples).max())
        voice_peaks.append(peak)
        idle_peak = f"{dbfs(float(np.abs(quiet).max())):9.1f}" if quiet.size else f"{'-':>9s}"
        idle_rms = f"{10 * math.log10(float(np.mean(np.square(quiet))) + 1e-20):8.1f}" if quiet.size else f"{'-':>8s}"
        silent = sum(p < SILENT_PEAK for p in windows)
        print(
            f"{entry['file']:44s} {decoded.source_rate_hz // 1000:4d}k {dbfs(peak):6.1f} {idle_peak} {idle_rms}"
            f" {quiet.size / STREAM_RATE_HZ:6.1f} {silent:4d} of {len(windows):3d}"
        )
    if not entries:
        print("no one-sided recording with reference segments in the manifest", file=sys.stderr)
        return 2
    quietest = dbfs(min(voice_peaks))
    silent_windows = sum(p < SILENT_PEAK for p in windows_all)
    print(
        f"quietest side with a voice peaks at {quietest:.1f} dBFS: {quietest - threshold:.0f} dB above the threshold; "
        f"idle 1 s windows under the threshold: {silent_windows} of {len(windows_all)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
