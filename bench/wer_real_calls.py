"""Word error rate on real 8 kHz telephone speech: our replay vs plain faster-whisper.

Usage:
    .venv/bin/python bench/wer_real_calls.py [--audio-dir ../shared/data/audio]

Reads MANIFEST.json in the audio folder (the development data, not shipped with the repo), replays
every one-sided call (``speaker_role`` agent or customer) with ``--speaker`` through our pipeline,
transcribes the same file with plain ``model.transcribe(vad_filter=True)``, and prints the
normalized WER of each against the human reference, plus the pooled WER (errors / reference words).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def normalize(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio-dir", type=Path, default=REPO.parent / "shared" / "data" / "audio")
    args = ap.parse_args(argv)
    manifest_path = args.audio_dir / "MANIFEST.json"
    if not manifest_path.is_file():
        print(f"no {manifest_path}: point --audio-dir at a folder with MANIFEST.json", file=sys.stderr)
        return 3

    import jiwer

    from rapport_assist.audio import decode_channels
    from rapport_assist.recognizer import Recognizer, RecognizerOptions
    from rapport_assist.sources import ReplayInput, open_replay
    from rapport_assist.types import Speaker

    recognizer = Recognizer(RecognizerOptions())
    recognizer.warm_up()
    rows = []
    totals = {"ours": [0, 0], "plain": [0, 0]}  # [errors, reference words]
    print(f"{'file':<36} {'side':<9} {'ref words':>9} {'ours WER':>9} {'plain WER':>10}")
    for entry in json.loads(manifest_path.read_text()):
        role = entry.get("speaker_role")
        reference = entry.get("reference")
        ref = reference.get("text") if isinstance(reference, dict) else None
        if role not in ("agent", "customer") or not ref or entry["file"].startswith("speechmatics"):
            continue
        path = args.audio_dir / entry["file"]
        source = open_replay(ReplayInput(path=path, speaker=Speaker.parse(role)), lambda: recognizer)
        ours = " ".join(u.text for u in source.utterances())
        segments, _ = recognizer.model.transcribe(decode_channels(path).channels[0], language="en",
                                                  beam_size=1, vad_filter=True)
        plain = " ".join(s.text for s in segments)
        ref_n = normalize(ref)
        n_ref = len(ref_n.split())
        line = f"{entry['file']:<36} {role:<9} {n_ref:>9}"
        for name, hyp in (("ours", ours), ("plain", plain)):
            out = jiwer.process_words(ref_n, normalize(hyp))
            errors = out.substitutions + out.deletions + out.insertions
            totals[name][0] += errors
            totals[name][1] += n_ref
            line += f" {errors / n_ref:>9.1%}" if name == "ours" else f" {errors / n_ref:>10.1%}"
        rows.append(line)
        print(line, flush=True)
    o, p = totals["ours"], totals["plain"]
    print(f"{'pooled':<36} {'':<9} {o[1]:>9} {o[0] / o[1]:>9.1%} {p[0] / p[1]:>10.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
