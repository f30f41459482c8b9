"""Pauses between one side's speech segments on real recordings: what the turn gap must span.

    .venv/bin/python bench/turn_gaps.py [--data ../shared/data/audio]

Runs only the endpointer (Silero VAD, the live/replay settings) over each channel of every
recording in the folder and prints the silences between consecutive segments of one channel,
then the share of them at or under each candidate gap. On a one-sided recording a silence is
either a pause inside a turn (the endpointer cut there) or the other side's turn; the turn gap
(``turns.DEFAULT_GAP_S``) should sit above the first and below most of the second.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rapport_assist.audio import decode_channels
from rapport_assist.endpoint import Endpointer, load_vad
from rapport_assist.types import Speaker

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "audio")
    args = ap.parse_args()
    vad = load_vad()
    gaps: list[float] = []
    files = sorted(p for p in args.data.iterdir() if p.suffix in (".wav", ".flac"))
    for path in files:
        decoded = decode_channels(path)
        for ch, samples in enumerate(decoded.channels[:2]):
            ep = Endpointer(Speaker.AGENT, vad=vad)
            segs = []
            for i in range(0, len(samples), 16_000):
                segs += ep.push(samples[i : i + 16_000])
            segs += ep.finish()
            mine = [b.start_s - a.end_s for a, b in zip(segs, segs[1:])]
            gaps += mine
            print(f"{path.name} ch{ch}: {len(segs)} segments, silences " + " ".join(f"{g:.1f}" for g in mine))
    g = np.array(gaps)
    print(f"{len(g)} silences between one channel's segments")
    for limit in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
        print(f"  <= {limit:.1f} s: {np.mean(g <= limit):.0%}")


if __name__ == "__main__":
    main()
