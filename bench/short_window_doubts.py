"""Which short-window doubts change the words: each kind kept as the short window heard it vs
decoded again in 30 s at once (``Recognizer.keeping``, issue 21).

Usage:
    .venv/bin/python bench/short_window_doubts.py [--audio-dir ../shared/data/audio] [--no-demo]
        [--spoken /work/wt/spoken_dev [--only-spoken]]

Every side of ``bench/wer_real_calls.py`` (the real recordings with a reference, both sides of the
demo call, optionally a spoken set) is endpointed as replay does and each segment recognized twice:
with every doubt kind kept (the short window's text; the recognizer's ``kept_doubt`` names the kind)
and, when a doubt was kept, as replay does (decoded again in 30 s). Prints per doubt kind how many
segments had it, how many of those the 30 s decoding changed (normalized words), and the pooled
WER of the text a live call puts out first when that kind (or a set of kinds) goes out first; the
live path then decodes it again in 30 s and revises it, so the final text is replay's unless the
redo was skipped on a busy PC. A kept decoding the guards drop is decoded again at once (as live does).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wer_real_calls import REPO, normalize, sides, spoken_sides  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio-dir", type=Path, default=REPO.parent / "shared" / "data" / "audio")
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--spoken", type=Path, metavar="DIR")
    ap.add_argument("--only-spoken", action="store_true")
    ap.add_argument("--show", action="store_true", help="print each doubtful segment's two texts")
    args = ap.parse_args(argv)
    if not args.audio_dir.is_dir():
        args.audio_dir = Path("/work/shared/data/audio")

    import jiwer

    from rapport_assist.endpoint import EndpointerOptions
    from rapport_assist.recognizer import DOUBT_KINDS, Recognizer, RecognizerOptions
    from rapport_assist.sources import endpoint_channel
    from rapport_assist.wer import normalize as normalize_spoken

    base = Recognizer(RecognizerOptions())
    base.warm_up()
    keep_all = base.keeping(DOUBT_KINDS)
    data = [] if args.only_spoken else list(sides(args.audio_dir, not args.no_demo))
    if args.spoken is not None:
        data += list(spoken_sides(args.spoken))
    print(f"load average at start: {open('/proc/loadavg').read().split()[0]}", flush=True)
    # per side: (group, norm, reference, [(kind, first text or None, replay text or None)])
    found: list[tuple[str, object, str, list[tuple[str | None, str | None, str | None]]]] = []
    counts: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    t0 = time.perf_counter()
    for label, group, speaker, samples, ref in data:
        norm = normalize_spoken if group.startswith("spoken") else normalize
        segs = []
        for seg in endpoint_channel(speaker, samples, EndpointerOptions()):
            first = keep_all.recognize(seg)
            kind = keep_all.kept_doubt
            again = base.recognize(seg) if kind is not None else first
            a = first.text if first is not None else None
            b = again.text if again is not None else None
            if kind is not None:
                counts[kind] += 1
                if first is None:
                    dropped[kind] += 1
                elif norm(a or "") != norm(b or ""):
                    changed[kind] += 1
                if args.show:
                    print(f"  {label} {seg.start_s:7.2f} {kind:<11} short: {a!r}\n{'':>32}30 s: {b!r}")
            segs.append((kind, a, b))
        found.append((group, norm, ref, segs))
    print(f"recognized in {time.perf_counter() - t0:.0f} s")
    print(f"{'doubt kind':<12} {'segments':>8} {'30 s changed words':>18} {'kept one dropped':>16}")
    for kind in DOUBT_KINDS:
        print(f"{kind:<12} {counts[kind]:>8} {changed[kind]:>18} {dropped[kind]:>16}")
    total = sum(len(s) for *_, s in found)
    print(f"segments in all: {total}")

    def wer(keep: frozenset[str], groups: tuple[str, ...]) -> str:
        errors = words = 0
        for group, norm, ref, segs in found:
            if not any(
                group == g or (g == "real" and group in ("hvb", "other")) or group.startswith(g) for g in groups
            ):
                continue
            texts = [a if (kind in keep and a is not None) else b for kind, a, b in segs]
            hyp = norm(" ".join(t for t in texts if t)) or "<nothing>"
            ref_n = norm(ref)
            out = jiwer.process_words(ref_n, hyp)
            errors += out.substitutions + out.deletions + out.insertions
            words += len(ref_n.split())
        return f"{errors / words:6.1%}" if words else "     -"

    sets = [
        ("none (replay)", frozenset()),
        ("word (today)", frozenset({"word"})),
        *[(f"word+{k}", frozenset({"word", k})) for k in DOUBT_KINDS if k not in ("word", "no_text")],
        ("all but no_text", frozenset(DOUBT_KINDS) - {"no_text"}),
    ]
    columns = [("hvb", ("hvb",)), ("real", ("real",)), ("demo", ("demo",)), ("spoken", ("spoken",))]
    columns = [(n, g) for n, g in columns if any(wer(frozenset(), g) != "     -" for _ in [0])]
    print("pooled WER of the first text when these kinds go out first:")
    print(f"{'kept kinds':<20} " + " ".join(f"{n:>7}" for n, _ in columns))
    for name, keep in sets:
        print(f"{name:<20} " + " ".join(f"{wer(keep, g):>7}" for _, g in columns))
    print(f"load average at end: {open('/proc/loadavg').read().split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
