"""Word error rate on real telephone speech: our replay/live recognition vs plain faster-whisper.

Usage:
    .venv/bin/python bench/wer_real_calls.py [--audio-dir ../shared/data/audio]
        [--config NAME:key=value,key=value ...] [--no-demo] [--plain-runs N]
        [--spoken build/spoken_dev [--only-spoken]]

Reads MANIFEST.json in the audio folder (the development data, not shipped with the repo) and
replays every one-sided recording with a reference (``speaker_role`` agent or customer: the
Harper Valley Bank 8 kHz sides and the Speechmatics 16 kHz sides) through our pipeline (the
endpointer, then ``Recognizer.recognize`` one segment at a time, as replay and live do), plus
both sides of the bundled demo call (reference: its script, ``demo_call.jsonl``). The same
channels go through plain ``model.transcribe(vad_filter=True)`` with the same model. Prints the
normalized WER of each side and the pooled WER (errors / reference words) over the Harper
Valley 8 kHz sides and over all real sides.

``--spoken DIR`` adds both sides of every call of a spoken set (``scripts/make_spoken_dev.py``;
reference: the turn texts and backchannels of that side, normalized with ``rapport_assist.wer``,
which writes numbers and hesitations one way), pooled per side and over the set;
``--only-spoken`` leaves out the real recordings and the demo call.

Each ``--config`` is a set of options over the defaults: ``key`` is a field of
``EndpointerOptions`` or ``RecognizerOptions`` (e.g. ``onset_pad_ms=150``, ``context_s=4``), or
``batch=1`` for qa's packed recognition (``Recognizer.recognize_batch``); ``turn_pass=1`` adds the
second pass over each turn (``turn_pass.py``; a side's hypothesis is then each utterance's final
text, and the turns decoded again, revisions kept and CPU/wall per turn pass are printed). Without ``--config``:
``before`` (150 ms onset padding, the endpointer's old default) and ``default``. For the
one-call-per-segment configurations the recognition time of each segment is measured
(``recognize`` wall time, and the process CPU time across the model's threads): p50 / p95.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "src" / "rapport_assist" / "data" / "demo_call.flac"
DEMO_SCRIPT = REPO / "src" / "rapport_assist" / "data" / "demo_call.jsonl"
DEFAULT_CONFIGS = ("before:onset_pad_ms=150", "default:")


def normalize(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(text.split())


def parse_config(spec: str):
    """'name:key=value,...' -> (name, endpointer options, recognizer options, batch)."""
    from rapport_assist.endpoint import EndpointerOptions
    from rapport_assist.recognizer import RecognizerOptions

    name, _, body = spec.partition(":")
    changes: dict[type, dict[str, object]] = {EndpointerOptions: {}, RecognizerOptions: {}}
    batch = False
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        if key == "batch":
            batch = value not in ("0", "false", "")
            continue
        owners = [cls for cls in changes if key in {f.name for f in dataclasses.fields(cls)}]
        if not owners:
            raise SystemExit(f"--config {spec}: {key} is not an EndpointerOptions or RecognizerOptions field")
        for cls in owners:  # context_s is both: how much the endpointer keeps and the recognizer uses
            default = getattr(cls(), key)
            changes[cls][key] = (
                (value.lower() in ("1", "true", "yes")) if isinstance(default, bool) else type(default)(value)
            )
    return name, EndpointerOptions(**changes[EndpointerOptions]), RecognizerOptions(**changes[RecognizerOptions]), batch


class TimedRecognizer:
    """``recognize`` with its wall and CPU time recorded (the replay walk calls only that)."""

    def __init__(self, recognizer) -> None:
        self.recognizer = recognizer
        self.wall_s: list[float] = []
        self.cpu_s: list[float] = []

    def recognize(self, segment):
        wall, cpu = time.perf_counter(), time.process_time()
        rec = self.recognizer.recognize(segment)
        self.wall_s.append(time.perf_counter() - wall)
        self.cpu_s.append(time.process_time() - cpu)
        return rec


def sides(audio_dir: Path, with_demo: bool):
    """(label, group, speaker, 16 kHz samples, reference text) for every side with a reference."""
    from rapport_assist.audio import decode_channels
    from rapport_assist.types import Speaker

    for entry in json.loads((audio_dir / "MANIFEST.json").read_text()):
        role = entry.get("speaker_role")
        reference = entry.get("reference")
        ref = reference.get("text") if isinstance(reference, dict) else reference
        if role not in ("agent", "customer") or not isinstance(ref, str) or not ref:
            continue
        group = "hvb" if entry["file"].startswith("hvb_") else "other"
        yield (
            Path(entry["file"]).stem,
            group,
            Speaker.parse(role),
            decode_channels(audio_dir / entry["file"]).channels[0],
            ref,
        )
    if with_demo:
        script = [json.loads(line) for line in DEMO_SCRIPT.read_text().splitlines() if line.strip()]
        channels = decode_channels(DEMO).channels
        for k, speaker in enumerate((Speaker.AGENT, Speaker.CUSTOMER)):
            ref = " ".join(line["text"] for line in script if line["speaker"] == speaker.value)
            yield (f"demo_call ({speaker.value})", "demo", speaker, channels[k], ref)


def spoken_sides(folder: Path):
    """(label, group, speaker, 16 kHz samples, reference text) for both sides of each spoken call."""
    from rapport_assist.audio import decode_channels
    from rapport_assist.types import Speaker

    for line in (folder / "spoken.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        channels = decode_channels(folder / d["audio"]).channels
        for k, speaker in enumerate((Speaker.AGENT, Speaker.CUSTOMER)):
            said = sorted(
                (u for u in (*d["turns"], *d.get("backchannels", [])) if u["speaker"] == speaker.value),
                key=lambda u: u["start"],
            )
            yield (
                f"{d['id']} ({speaker.value})",
                f"spoken-{speaker.value}",
                speaker,
                channels[k],
                " ".join(u["text"] for u in said),
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--audio-dir",
        type=Path,
        default=next(
            (
                d
                for d in (REPO.parent / "shared" / "data" / "audio", REPO.parents[1] / "shared" / "data" / "audio")
                if d.is_dir()
            ),
            REPO.parent / "shared" / "data" / "audio",
        ),
        help="default: ../shared/data/audio",
    )
    ap.add_argument("--config", action="append", help="NAME:key=value,... (repeatable)")
    ap.add_argument("--no-demo", action="store_true", help="leave out the bundled demo call")
    ap.add_argument(
        "--plain-runs",
        type=int,
        default=1,
        help="run plain faster-whisper this many times (its temperature fallback samples, so runs differ)",
    )
    ap.add_argument("--spoken", type=Path, metavar="DIR", help="also a spoken set (folder with spoken.jsonl)")
    ap.add_argument("--only-spoken", action="store_true", help="only the spoken set")
    args = ap.parse_args(argv)
    if args.spoken is not None and not (args.spoken / "spoken.jsonl").is_file():
        print(
            f"no {args.spoken / 'spoken.jsonl'}: make it with scripts/make_spoken_dev.py --out {args.spoken}",
            file=sys.stderr,
        )
        return 3
    if args.only_spoken and args.spoken is None:
        print("--only-spoken needs --spoken DIR", file=sys.stderr)
        return 2
    if not args.only_spoken and not (args.audio_dir / "MANIFEST.json").is_file():
        print(
            f"no {args.audio_dir / 'MANIFEST.json'}: point --audio-dir at a folder with MANIFEST.json", file=sys.stderr
        )
        return 3

    import jiwer

    from rapport_assist.recognizer import Recognizer, RecognizerOptions
    from rapport_assist.sources import endpoint_channel, recognize_segments
    from rapport_assist.turn_pass import TurnPass, apply_revisions

    configs = [parse_config(spec) for spec in (args.config or DEFAULT_CONFIGS)]
    base = Recognizer(RecognizerOptions())
    base.warm_up()
    from rapport_assist.wer import normalize as normalize_spoken

    data = [] if args.only_spoken else list(sides(args.audio_dir, not args.no_demo))
    if args.spoken is not None:
        data += list(spoken_sides(args.spoken))
    groups = ("hvb", "real", "spoken-agent", "spoken-customer", "spoken")
    plains = ["plain"] if args.plain_runs == 1 else [f"plain{k + 1}" for k in range(args.plain_runs)]
    names = [name for name, *_ in configs] + plains
    totals = {(n, g): [0, 0] for n in names for g in groups}
    timers = {}
    turn_stats: dict[str, list] = {}  # name -> [turns decoded again, revisions kept, CPU s each, wall s each]
    print(f"load average at start: {open('/proc/loadavg').read().split()[0]}")
    print(f"{'side':<36} {'who':<9} {'words':>5} " + " ".join(f"{n:>9}" for n in names))
    for label, group, speaker, samples, ref in data:
        norm = normalize_spoken if group.startswith("spoken") else normalize
        ref_n = norm(ref)
        n_ref = len(ref_n.split())
        hyps = {}
        for name, ep_opts, rec_opts, batch in configs:
            recognizer = base.with_options(rec_opts)
            segments = endpoint_channel(speaker, samples, ep_opts)
            turns = TurnPass(recognizer) if rec_opts.turn_pass else None
            if batch:
                recs = recognizer.recognize_batch(segments)
                items = recognize_segments(segments, recognizer, recs, turn_pass=turns)
            else:
                timer = timers.setdefault(name, TimedRecognizer(recognizer))
                timer.recognizer = recognizer
                items = recognize_segments(segments, timer, turn_pass=turns)
            # each utterance's final text: a turn's second pass replaces its first
            hyps[name] = " ".join(u.text for u in apply_revisions(items))
            if turns is not None:
                stats = turn_stats.setdefault(name, [0, 0, [], []])
                stats[0] += turns.judged
                stats[1] += turns.accepted
                stats[2] += turns.cpu_s
                stats[3] += turns.wall_s
        for name in plains:
            found, _ = base.model.transcribe(samples, language="en", beam_size=1, vad_filter=True)
            hyps[name] = " ".join(s.text for s in found)
        line = f"{label:<36} {speaker.value:<9} {n_ref:>5}"
        for name in names:
            out = jiwer.process_words(ref_n, norm(hyps[name]) or "<nothing>")
            errors = out.substitutions + out.deletions + out.insertions
            for g in groups:
                if (
                    group == g
                    or (g == "real" and group in ("hvb", "other"))
                    or (g == "spoken" and group.startswith("spoken"))
                ):
                    totals[name, g][0] += errors
                    totals[name, g][1] += n_ref
            line += f" {errors / n_ref:>9.1%}"
        print(line, flush=True)
    for g, title in (
        ("hvb", "pooled, Harper Valley 8 kHz"),
        ("real", "pooled, all real sides"),
        ("spoken-agent", "pooled, spoken set, agent"),
        ("spoken-customer", "pooled, spoken set, customer"),
        ("spoken", "pooled, spoken set"),
    ):
        if not totals[names[0], g][1]:
            continue
        print(
            f"{title:<36} {'':<9} {totals[names[0], g][1]:>5} "
            + " ".join(f"{totals[n, g][0] / totals[n, g][1]:>9.1%}" for n in names)
        )
    for name, timer in timers.items():
        wall, cpu = np.array(timer.wall_s), np.array(timer.cpu_s)
        print(
            f"recognize, {name}: {len(wall)} segments, wall p50 {np.median(wall):.2f} s p95 {np.percentile(wall, 95):.2f} s, "
            f"CPU p50 {np.median(cpu):.2f} s p95 {np.percentile(cpu, 95):.2f} s"
        )
    for name, (judged, accepted, cpu_s, wall_s) in turn_stats.items():
        if judged:
            print(
                f"turn pass, {name}: {judged} turns decoded again, {accepted} revisions kept; per turn "
                f"wall p50 {np.median(wall_s):.2f} s p95 {np.percentile(wall_s, 95):.2f} s, "
                f"CPU p50 {np.median(cpu_s):.2f} s p95 {np.percentile(cpu_s, 95):.2f} s"
            )
    print(f"load average at end: {open('/proc/loadavg').read().split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
