"""Live-call latency, CPU and memory, through the real capture path.

A private PulseAudio server gets two null sinks; a stereo call (default: the bundled demo call)
is played into them in real time (agent left, customer right) and ``LiveCall`` captures their
monitors through sounddevice, exactly as a softphone's output would be captured.

Reports, per event, the delay from the end of an utterance's last word (call clock, which the
capture aligns with the wall clock at its first block) to the event reaching ``on_event``:
utterances and the nudges they trigger, p50/p95/max, and where the time goes (hangover and
capture, waiting for the recognizer, recognition, annotation and rules). Also the process's
CPU share while idle (nothing playing) and while both sides talk, and its memory (RSS).

    .venv/bin/python bench/live_latency.py                 # one pass of the demo call (~2 min)
    .venv/bin/python bench/live_latency.py --minutes 30    # soak: the call looped for 30 min;
                                                           # latency and RSS per 5-minute window
    .venv/bin/python bench/live_latency.py --busy          # one core kept busy by a CPU-bound process

Live captions. **Caption lag** is what a user sees: for each word of the final text, the time
from the word's end (call clock) to the first moment that word is on screen — the first caption
(``Partial``, its stable text or its pending words) of that utterance showing it, matched to the
final words in order without case and punctuation, or else the utterance itself (``caption_lag``);
p50/p95 over all words, so an utterance without captions counts with its final's delay. Digits
are masked in captions, so a number counts from its final. "speech -> first caption" is the time
from an utterance's start (its first word's start, which Whisper puts at the segment's start,
400 ms of onset padding included) to its first caption; "voiced speech -> first caption" the
same from the first word's end less its length (at most 0.3 s), about when the voice began.
"caption age" is the time from the end of the audio a caption pass heard to the caption
arriving. With ``--minutes`` each window also gives the nudges' p95 and the caption lag, to see
whether lag grows. The audio clock can run ahead of the call clock when a capture's first block
comes late (0-0.5 s between runs on a busy host), which makes every delay from a word's end read
short; ``clock_lead_s`` bounds it from the passes, and the "+lead" lines (and the windows) add
it back: compare runs on those. Early finals: how many utterances used the
recognition started when the hangover began, and how many early passes were thrown away because
speech resumed. Early nudges (``rules.early``): when each arrived relative to the end of the
utterance that triggered it (negative: the card could show while it was still being said), how
many the final text confirmed or withdrew, and for every final nudge of an early rule when its card
came (the early nudge's time when it had one).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the PulseAudio test server

from pulse_server import PulseServer  # noqa: E402

from rapport_assist.audio import DecodedAudio  # noqa: E402
from rapport_assist.capture import DeviceChoice  # noqa: E402
from rapport_assist.endpoint import EndpointerOptions  # noqa: E402
from rapport_assist.live import LiveCall, LiveSettings  # noqa: E402
from rapport_assist.recognizer import RecognizerOptions, normalize_text  # noqa: E402
from rapport_assist.rules import default_rules_dir, load_rules  # noqa: E402
from rapport_assist.rules.early import fires_early  # noqa: E402
from rapport_assist.types import Nudge, Partial, Status, TurnRevision, Utterance, Withdrawn  # noqa: E402

DEMO = ROOT / "src" / "rapport_assist" / "data" / "demo_call.flac"
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def vm_hwm_mb() -> float:
    """This process's peak resident memory so far (the model's load included)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def describe(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<34} (none)"
    return (
        f"{name:<34} n={len(values):<4} p50 {pct(values, 50):.2f} s  p95 {pct(values, 95):.2f} s  "
        f"max {max(values):.2f} s"
    )


_DECODE = """
import sys
from pathlib import Path

import numpy as np

from rapport_assist.audio import decode_channels

calls = [decode_channels(Path(p)) for p in sys.argv[2:]]
gap = np.zeros(3 * 16000, np.float32)  # several calls: joined with 3 s of silence between them
sides = [calls[0].channels[i] if len(calls) == 1 else np.concatenate([part for c in calls for part in (c.channels[i], gap)]) for i in (0, 1)]
np.save(sys.argv[1], np.stack(sides))
"""


def decode_calls(paths: list[Path]) -> DecodedAudio:
    """One stereo call, or several joined with 3 s of silence between them; decoded in a child
    process, so PyAV (FFmpeg) is not loaded in this one, as it is not in a live call
    (``rapport_assist.deferred``) and its memory is the live call's own."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "call.npy"
        subprocess.run([sys.executable, "-c", _DECODE, str(out), *map(str, paths)], check=True)
        sides = np.load(out)
    return DecodedAudio(
        path=paths[0],
        channels=(sides[0], sides[1]),
        source_rate_hz=16000,
        source_channels=2,
        duration_s=sides.shape[1] / 16000,
    )


def trace_report(call, utterances: dict) -> None:
    """Where each utterance's time went, pass by pass (``LiveCall.passes``): how long its text
    waited for the recognizer and behind what, how long the pass took, whether it was redone in
    30 s; and every pass's duration by kind."""
    passes = call.passes
    by_kind: dict[str, list[float]] = {}
    for p in passes:
        kind = getattr(p, "doubt", None)  # (not in PassTrace before 2026-12-04 evening)
        doubt = "" if p.redone or kind is None else f" (doubt {kind}, not redone)"  # (kept; a caption: no text)
        by_kind.setdefault(p.kind + (f" (redone in 30 s: {kind})" if p.redone else doubt), []).append(
            p.end_s - p.start_s
        )
    print("recognizer passes (wall time each):")
    for kind, values in sorted(by_kind.items()):
        print("  " + describe(kind, values))
    waits, blockers, durs, redone = [], {}, [], 0
    rows = []
    for x in call.timings:
        u = utterances.get(x.index, (None, None))[1]
        mine = [
            p
            for p in passes
            if p.kind in ("final", "early") and p.speaker is x.speaker and abs(p.start_s - x.recognizer_start_s) < 1e-3
        ]
        if not mine or u is None:
            continue
        p = mine[0]
        doubt = getattr(p, "doubt", None)
        wait = p.start_s - p.taken_s
        waits.append(wait)
        durs.append(p.end_s - p.start_s)
        redone += p.redone
        behind = sorted(
            {q.kind for q in passes if q is not p and q.start_s < p.start_s - 1e-3 and q.end_s > p.taken_s + 1e-3}
        )
        for kind in behind:
            blockers[kind] = blockers.get(kind, 0) + 1
        rows.append(
            f"  {x.speaker.value[:4]} {u.end_s:6.1f} s  {p.kind:<5} closed +{x.segment_closed_s - x.speech_end_s:.2f}  "
            f"taken +{p.taken_s - x.speech_end_s:.2f}  waited {wait:.2f} ({'+'.join(behind) or '-'})  "
            f"pass {p.end_s - p.start_s:.2f}{f' REDONE ({doubt})' if p.redone else f' kept {doubt}' if doubt else ''}  delivered +{x.delivered_s - x.speech_end_s:.2f}"
        )
    print("per utterance (times after its last word):")
    print("\n".join(rows))
    print(
        f"  text pass waited for the recognizer p50 {pct(waits, 50):.3f} s p95 {pct(waits, 95):.3f} s "
        f"(behind: {blockers or 'nothing'}); pass p50 {pct(durs, 50):.3f} s p95 {pct(durs, 95):.3f} s; "
        f"redone in 30 s {redone} of {len(durs)}"
    )


def redo_report(args, events: list, st: dict) -> None:
    """The 30 s redos done after an utterance went out (``LiveSettings.redo_later``): how many,
    how many changed the text; on the demo call the WER of the first and the revised text
    against its script, and the nudges the rules give on each (a text replay of the transcript)."""
    from rapport_assist.turn_pass import apply_revisions
    from rapport_assist.wer import WordErrors, measure

    redos = [e for _, e in events if isinstance(e, TurnRevision) and e.redo]
    print(
        f"redo later: {st['redo_later']} utterances went out with a doubtful word and were decoded again in "
        f"30 s; {st['redo_skipped']} skipped as too slow, {st['redo_revised']} changed ({len(redos)} revision events, "
        f"{sum(e.turn >= 0 for e in redos)} applied to the open turn); agent finals held for the leak filter "
        f"{st['leak_held']}"
    )
    if args.audio != [DEMO] or args.minutes:
        return
    from rapport_assist.transcript import read_transcript
    from rapport_assist.types import Speaker

    script = list(read_transcript(DEMO.with_suffix(".jsonl")))
    first = [e for _, e in events if isinstance(e, Utterance)]
    final = apply_revisions(e for _, e in events if isinstance(e, (Utterance, TurnRevision)))
    for name, utts in (("first text", first), ("after revisions", final)):
        total = WordErrors()
        parts = []
        for side in (Speaker.AGENT, Speaker.CUSTOMER):
            ref = " ".join(u.text for u in script if u.speaker is side)
            hyp = " ".join(u.text for u in sorted(utts, key=lambda u: u.start_s) if u.speaker is side)
            m = measure(ref, hyp)
            total = total + m
            parts.append(f"{side.value} {m.wer:.1%}")
        print(f"  demo WER, {name}: {', '.join(parts)}, both {total.wer:.1%}")
    if any(u.text != f.text for u, f in zip(first, final)):
        a, b = nudges_of(first), nudges_of(final)
        print(
            f"  nudges on the first text {len(a)}, on the revised text {len(b)}; only on the first "
            f"{sorted(a - b) or 'none'}, only on the revised {sorted(b - a) or 'none'}"
        )


def nudges_of(utterances: list) -> set[tuple[str, int]]:
    """(rule, utterance index) of the nudges the default rules give on ``utterances`` read as a transcript."""
    from rapport_assist.annotate import Annotator
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.privacy import masker_for
    from rapport_assist.rules import RuleEngine

    if not hasattr(nudges_of, "annotator"):
        nudges_of.annotator = Annotator()
    pipeline = CallPipeline(nudges_of.annotator, RuleEngine(load_rules([default_rules_dir()])), masker=masker_for(True))
    items = [replace_timing(u) for u in sorted(utterances, key=lambda u: u.end_s)]
    return {(e.rule, e.utterance_index) for e in pipeline.run(items) if isinstance(e, Nudge)}


def replace_timing(u):
    from dataclasses import replace

    return replace(u, timing=None)


@dataclass
class CaptionLag:
    """Caption lag as a user sees it (``caption_lag``)."""

    words: list[float] = field(default_factory=list)  # per word of the final text: its end -> first on screen
    by_caption: int = 0  # of those, shown by a caption before their utterance's final event
    first_caption: list[float] = field(default_factory=list)  # per captioned utterance: its start -> first caption
    first_caption_voiced: list[float] = field(default_factory=list)  # the same from its first word's end less
    # the word's length (a word's start is unreliable: Whisper puts the first word at the segment's start,
    # onset padding included); ~ when the voice began
    captioned_long: int = 0  # utterances of 2 s or more with a caption before their final
    long: int = 0


def _shown_words(p: Partial) -> list[str]:
    return [w for w in normalize_text(f"{p.text} {p.pending}").split() if w]


def caption_lag(utterances: dict, partials: list, window: tuple[float, float] | None = None) -> CaptionLag:
    """For each word of each final utterance (``utterances``: index -> (arrival, Utterance)), the
    time from the word's end (call clock) to the first moment it is on screen: the arrival of the
    first caption (``partials``: (arrival, Partial)) of the same utterance that shows it (its
    stable text or its pending words, matched to the final words in order, without case and
    punctuation), else the arrival of the utterance itself. A caption belongs to an utterance when
    it is the same speaker's, its audio starts at or before the utterance's first word and after
    that speaker's previous utterance ended, heard past the first word's start, and came before
    the final. ``window``: only utterances ending in [a, b)."""
    out = CaptionLag()
    by_speaker: dict = {}
    for t, u in sorted(utterances.values(), key=lambda x: x[1].start_s):
        by_speaker.setdefault(u.speaker, []).append((t, u))
    for items in by_speaker.values():
        previous_end = -1e9
        for t_final, u in items:
            mine = [
                (t, p)
                for t, p in partials
                if p.speaker is u.speaker
                and previous_end - 1e-6 <= p.start_s <= u.start_s + 0.05
                and p.t_s > u.start_s
                and t <= t_final
            ]
            previous_end = max(previous_end, u.end_s)
            if window is not None and not window[0] <= u.end_s < window[1]:
                continue
            if u.end_s - u.start_s >= 2.0:
                out.long += 1
                out.captioned_long += bool(mine)
            words = [w for w in u.words if normalize_text(w.text)]
            if mine:
                out.first_caption.append(mine[0][0] - u.start_s)
                if words:
                    w0 = words[0]
                    out.first_caption_voiced.append(mine[0][0] - (w0.end_s - min(w0.end_s - w0.start_s, 0.3)))
            final_words = [normalize_text(w.text) for w in words]
            shown_at = [t_final] * len(words)
            for t, p in mine:  # in arrival order
                matcher = difflib.SequenceMatcher(None, final_words, _shown_words(p), autojunk=False)
                for block in matcher.get_matching_blocks():
                    for i in range(block.a, block.a + block.size):
                        shown_at[i] = min(shown_at[i], t)
            for w, t in zip(words, shown_at):
                out.words.append(t - w.end_s)
                out.by_caption += t < t_final
    return out


def lost_report(utterances: dict, repeats: int) -> None:
    """The demo call's script against what live heard, by content (times drift when the player
    itself falls behind on a loaded PC): per side, the script said ``repeats`` times is lined up
    with the final utterances' words in order; a script utterance of which under a third of the
    words were heard is lost. Per pass of the call, the share of its script words heard."""
    from rapport_assist.transcript import read_transcript

    script = list(read_transcript(DEMO.with_suffix(".jsonl")))
    heard = sorted((u for _, u in utterances.values()), key=lambda u: u.start_s)
    hits: dict[tuple[int, int], list[int]] = {}
    for side in {s.speaker for s in script}:
        ref, owner = [], []
        for k in range(repeats):
            for i, line in enumerate(script):
                if line.speaker is side:
                    words = normalize_text(line.text).split()
                    ref += words
                    owner += [(k, i)] * len(words)
        hyp = [w for u in heard if u.speaker is side for w in normalize_text(u.text).split()]
        matched = lcs_matched(ref, hyp)
        for o, hit in zip(owner, matched):
            hits.setdefault(o, [0, 0])
            hits[o][0] += hit
            hits[o][1] += 1
    lost = sorted(o for o, (hit, n) in hits.items() if hit < n / 3)
    print(
        f"script utterances lost (under a third of their words heard): {len(lost)} of {len(script) * repeats}"
        + (f": {[(k, script[i].text[:30]) for k, i in lost][:8]}" if lost else "")
    )
    if repeats > 1:
        shares = []
        for k in range(repeats):
            hit = sum(v[0] for o, v in hits.items() if o[0] == k)
            total = sum(v[1] for o, v in hits.items() if o[0] == k)
            shares.append(f"{hit / total:.0%}")
        print(f"  script words heard, per pass of the call: {', '.join(shares)}")


def lcs_matched(ref: list[str], hyp: list[str]) -> list[int]:
    """1 for each word of ``ref`` in a longest common subsequence with ``hyp`` (a monotonic
    alignment: difflib's longest-block-first matching pairs the wrong copies of a repeated text)."""
    n, m = len(ref), len(hyp)
    table = np.zeros((n + 1, m + 1), np.int32)
    hyp_arr = np.array(hyp, dtype=object)
    for i in range(1, n + 1):
        same = hyp_arr == ref[i - 1]
        row, prev = table[i], table[i - 1]
        for j in range(1, m + 1):
            row[j] = prev[j - 1] + 1 if same[j - 1] else max(prev[j], row[j - 1])
    matched, i, j = [0] * n, n, m
    while i and j:
        if ref[i - 1] == hyp[j - 1] and table[i, j] == table[i - 1, j - 1] + 1:
            matched[i - 1] = 1
            i, j = i - 1, j - 1
        elif table[i - 1, j] >= table[i, j - 1]:
            i -= 1
        else:
            j -= 1
    return matched


def clock_lead_s(call) -> float:
    """How far the capture's audio clock is ahead of the call clock, at least: a side's clock is set
    from the call time its first block arrives, so a first block that came late (a busy PC) puts
    every audio time — word ends among them — later than it was, and every delay measured from one
    shorter (seen: 0.0-0.5 s between runs). The early and caption passes' audio is handed over as
    its last block arrives; one taken before its audio ended (``taken_s`` < ``segment_end_s``) shows
    the lead. 0 when none was."""
    gaps = [p.taken_s - p.segment_end_s for p in call.passes if p.kind in ("early", "caption")]
    return max(0.0, -min(gaps)) if gaps else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--audio",
        type=Path,
        nargs="+",
        default=[DEMO],
        help="stereo call(s): agent left, customer right; several are played one after the other, "
        "3 s apart (e.g. calls of the spoken dev set, scripts/make_spoken_dev.py)",
    )
    ap.add_argument("--minutes", type=float, default=0.0, help="loop the call this long (soak); default one pass")
    ap.add_argument("--idle-s", type=float, default=10.0, help="seconds of measured idle before playing")
    ap.add_argument("--threads", type=int, default=2, help="recognizer threads")
    ap.add_argument(
        "--onset-pad-ms",
        type=int,
        default=EndpointerOptions().onset_pad_ms,
        help="audio kept before the VAD onset (150 before recognition in context)",
    )
    ap.add_argument(
        "--context-s", type=float, default=0.0, help="decode each utterance after this much of its channel's audio"
    )
    ap.add_argument(
        "--encoder-window-s",
        type=float,
        default=RecognizerOptions().encoder_window_s,
        help="shortest encoder window (recognizer.encoder_frames; 30: Whisper's full window, as before 2026-12-04)",
    )
    ap.add_argument(
        "--no-trim-memory",
        action="store_true",
        help="without malloc_trim after each recognition (recognizer.trim_memory; as before 2026-12-04)",
    )
    ap.add_argument(
        "--turn-pass", action="store_true", help="hear the open turn again when the recognizer has room (turn_pass.py)"
    )
    ap.add_argument(
        "--min-word-prob",
        type=float,
        default=RecognizerOptions().short_window_min_word_prob,
        help="short_window_min_word_prob: a word below it has a short-window decoding done again in 30 s "
        "(0: only loops, token caps and no-speech scores are)",
    )
    ap.add_argument(
        "--no-redo-later",
        action="store_true",
        help="decode a final with a doubtful word again in 30 s before it goes out (as before 2026-12-04 "
        "13:00), not after it (LiveSettings.redo_later)",
    )
    ap.add_argument("--busy", action="store_true", help="keep one core busy with a CPU-bound process meanwhile")
    ap.add_argument("--no-early", action="store_true", help="without early finals and hangover cuts (to compare)")
    ap.add_argument("--no-captions", action="store_true", help="without caption passes (to compare)")
    ap.add_argument(
        "--no-agreement",
        action="store_true",
        help="a final that rewrote the caption words an early nudge fired on goes out as it is, without a second "
        "cut decoded (LiveSettings.caption_agreement; as before 2026-12-05)",
    )
    ap.add_argument(
        "--force-extras",
        action="store_true",
        help="caption passes and early finals whatever the load (to see what they cost on a busy machine)",
    )
    ap.add_argument(
        "--speech-pad-ms",
        type=int,
        default=EndpointerOptions().speech_pad_ms,
        help="audio kept after the speech (early finals start this far into the hangover)",
    )
    ap.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="with batch QA's malloc setting (recognizer.keep_freed_memory), to compare",
    )
    ap.add_argument("--passes-json", type=Path, help="write every recognizer pass and utterance here")
    ap.add_argument(
        "--smaps", action="store_true", help="RSS by mapping before, at the highest and after (/proc/self/smaps)"
    )
    args = ap.parse_args()

    why = PulseServer.unavailable()
    if why:
        print(f"cannot run: {why}")
        return 2
    audio = decode_calls(args.audio)
    repeats = max(1, int(round(args.minutes * 60 / audio.duration_s))) if args.minutes else 1
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
        f"audio {' + '.join(p.name for p in args.audio)} {audio.duration_s:.1f} s x {repeats}; onset padding {args.onset_pad_ms} ms, "
        f"context {args.context_s:g} s, encoder window {args.encoder_window_s:g} s"
    )

    busy = None
    if args.busy:  # a CPU-bound process, as a softphone or browser would be on an agent's PC
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        print(f"busy process {busy.pid} started (one core)")
    try:
        return run(args, audio, repeats)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()


def run(args, audio, repeats: int) -> int:
    received: list[tuple[float, object]] = []  # (call time on arrival, event)
    rss: list[tuple[float, float]] = []
    lock = threading.Lock()
    with PulseServer(["agent_line", "customer_line"]) as pulse:
        call = LiveCall(
            LiveSettings(
                agent=DeviceChoice("pulse:agent_line.monitor"),
                customer=DeviceChoice("pulse:customer_line.monitor"),
                recognizer=RecognizerOptions(
                    cpu_threads=args.threads,
                    context_s=args.context_s,
                    keep_freed_memory=args.keep_freed_memory,
                    encoder_window_s=args.encoder_window_s,
                    trim_memory=not args.no_trim_memory,
                    turn_pass=args.turn_pass,
                    short_window_min_word_prob=args.min_word_prob,
                ),
                endpointer=EndpointerOptions(
                    onset_pad_ms=args.onset_pad_ms, speech_pad_ms=args.speech_pad_ms, context_s=args.context_s
                ),
                early_final=not args.no_early,
                close_on_other_side=not args.no_early,
                captions=not args.no_captions,
                caption_agreement=not args.no_agreement,
                redo_later=not args.no_redo_later,
                **(
                    dict(caption_max_pass_s=60.0, caption_max_load=1.0, early_max_pass_s=60.0)
                    if args.force_extras
                    else {}
                ),
            )
        )

        def on_event(event) -> None:
            with lock:
                received.append((call.call_time(), event))

        t_start = time.monotonic()
        call.start(on_event)
        while not any(isinstance(e, Status) and e.code == "model_ready" for _, e in received):
            time.sleep(0.1)
        ready_s = time.monotonic() - t_start
        time.sleep(2.0)  # let start-up work settle
        hwm_ready = vm_hwm_mb()
        if args.smaps:
            import smaps

            at_ready = smaps.by_mapping()
            smaps.report("before the call", at_ready)
            highest = (0.0, at_ready)
        c0, w0 = cpu_seconds(), time.monotonic()
        time.sleep(args.idle_s)
        idle_cpu = (cpu_seconds() - c0) / (time.monotonic() - w0)
        rss.append((call.call_time(), rss_mb()))
        c1, w1 = cpu_seconds(), time.monotonic()
        pulse.play_looped({"agent_line": audio.channels[0], "customer_line": audio.channels[1]}, repeats)
        play_start = call.call_time()
        total_s = audio.duration_s * repeats
        next_sample = time.monotonic()
        while time.monotonic() - w1 < total_s + 0.5:
            time.sleep(1.0)
            if args.smaps and rss_mb() > highest[0]:
                highest = (rss_mb(), smaps.by_mapping())
            if time.monotonic() >= next_sample:
                rss.append((call.call_time(), rss_mb()))
                next_sample += 10.0
        talk_cpu = (cpu_seconds() - c1) / (time.monotonic() - w1)
        time.sleep(2.5)  # the last utterance
        pulse.stop_playing()
        call.stop()
        rss.append((call.call_time(), rss_mb()))
        if args.smaps:
            smaps.report("at the highest RSS sampled (each second)", highest[1], at_ready)
            smaps.report("after the call", smaps.by_mapping(), at_ready)

    with lock:
        events = list(received)
    utterances = {e.index: (t, e) for t, e in events if isinstance(e, Utterance)}
    utt_lat = [t - e.end_s for t, e in utterances.values()]
    nudge_lat, nudge_at = [], []  # (nudge_at: (the utterance's end, latency), for the soak's windows)
    for t, e in events:
        if isinstance(e, Nudge) and e.evidence and e.utterance_index in utterances and e.rule != "dead-air":
            if abs(e.t_s - utterances[e.utterance_index][1].end_s) < 1e-6:  # fired at that utterance's end
                nudge_lat.append(t - e.t_s)
                nudge_at.append((e.t_s, t - e.t_s))
    timer_lat = [t - e.t_s for t, e in events if isinstance(e, Nudge) and e.rule == "dead-air"]
    statuses = [e for _, e in events if isinstance(e, Status) and e.level != "info"]

    print(f"model loaded and warmed up {ready_s:.1f} s after start()")
    lead = clock_lead_s(call)
    print(
        f"audio clock ahead of the call clock by {lead:.2f} s at least (a capture's first block came late; "
        "'+lead' lines add it back)"
    )
    print(describe("end of utterance -> utterance", utt_lat))
    print(describe("  +lead", [x + lead for x in utt_lat]))
    print(describe("end of utterance -> its nudge", nudge_lat))
    print(describe("  +lead", [x + lead for x in nudge_lat]))
    print(describe("dead-air timer -> nudge", timer_lat))
    # early nudges (rules.early): when the card could appear, relative to the end of the utterance
    # that triggered it (negative: while it was still being said); confirmed or withdrawn
    early = {e.early_id: (t, e) for t, e in events if isinstance(e, Nudge) and e.early}
    withdrawn = {e.early_id: e for _, e in events if isinstance(e, Withdrawn)}
    confirmed = {e.confirms: (t, e) for t, e in events if isinstance(e, Nudge) and e.confirms is not None}
    early_rel, eligible_rel = [], []
    for early_id, (t, _) in early.items():
        settled = confirmed.get(early_id)
        index = (
            settled[1].utterance_index
            if settled
            else (withdrawn[early_id].utterance_index if early_id in withdrawn else -1)
        )
        if index in utterances:
            early_rel.append(t - utterances[index][1].end_s)
    early_rules = {r.id for r in load_rules([default_rules_dir()]).rules if fires_early(r)}  # the rules live runs
    for t, e in events:  # every final nudge of an early rule: the early card's time when it had one
        if isinstance(e, Nudge) and not e.early and e.rule in early_rules and e.utterance_index in utterances:
            t_card = early[e.confirms][0] if e.confirms in early else t
            eligible_rel.append(t_card - utterances[e.utterance_index][1].end_s)
    ahead = [confirmed[i][0] - t for i, (t, _) in early.items() if i in confirmed]
    print(describe("early nudge vs end of its utterance", early_rel))
    print(describe("early nudge ahead of its final nudge", ahead))
    print(describe("early-rule nudge (card) vs utterance end", eligible_rel))
    n_early = len(early)
    print(
        f"early nudges {n_early}: confirmed {len(confirmed)}, withdrawn {len(withdrawn)} "
        f"({len(withdrawn) / n_early if n_early else float('nan'):.0%}); final nudges of early rules "
        f"{len(eligible_rel)} ({sum(e.confirms is not None for _, e in events if isinstance(e, Nudge))} came early)"
    )
    for _, e in events:  # an early rule's nudge that did not come early: what its captions said
        if (
            isinstance(e, Nudge)
            and not e.early
            and e.rule in early_rules
            and e.confirms is None
            and e.utterance_index in utterances
        ):
            u = utterances[e.utterance_index][1]
            said = [
                f"{p.t_s - u.start_s:.1f} s: {p.text!r} + {p.pending!r}"
                for _, p in events
                if isinstance(p, Partial) and p.speaker is u.speaker and u.start_s - 2.0 < p.start_s <= u.start_s + 0.05
            ]
            print(f"  not early: {e.rule} at {u.text!r}; captions: {'; '.join(said) or 'none'}")
    for early_id, w in withdrawn.items():
        said = utterances[w.utterance_index][1].text if w.utterance_index in utterances else "(call ended)"
        print(f"  withdrawn {w.rule} (early at {early[early_id][1].evidence[0].text!r}); final: {said!r}")
    tim = call.timings
    if tim:
        print("where the time goes (medians over utterances):")
        parts = {
            "last word -> segment closed (hangover, padding, capture)": [
                x.segment_closed_s - x.speech_end_s for x in tim
            ],
            "segment closed -> recognizer starts (queue)": [x.recognizer_start_s - x.segment_closed_s for x in tim],
            "recognition (faster-whisper, guards)": [x.recognizer_end_s - x.recognizer_start_s for x in tim],
            "last word -> text ready (early finals: before the close)": [
                x.recognizer_end_s - x.speech_end_s for x in tim
            ],
            "recognized -> delivered (annotate, signals, rules)": [x.delivered_s - x.recognizer_end_s for x in tim],
        }
        for name, values in parts.items():
            print(f"  {name:<58} p50 {pct(values, 50):.3f} s  p95 {pct(values, 95):.3f} s")
    trace_report(call, utterances)
    if args.passes_json:  # every pass and every utterance's timing, for a closer look
        import dataclasses

        args.passes_json.write_text(
            json.dumps(
                {
                    "passes": [{**dataclasses.asdict(p), "speaker": p.speaker.value} for p in call.passes],
                    "utterances": [
                        {
                            "index": e.index,
                            "speaker": e.speaker.value,
                            "start_s": e.start_s,
                            "end_s": e.end_s,
                            "text": e.text,
                            "arrived_s": t,
                            "words": [[w.text, w.start_s, w.end_s] for w in e.words],
                        }
                        for t, e in utterances.values()
                    ],
                    "partials": [{**e.to_json(), "arrived_s": t} for t, e in events if isinstance(e, Partial)],
                    "nudges": [{**e.to_json(), "arrived_s": t} for t, e in events if isinstance(e, (Nudge, Withdrawn))],
                    "revisions": [
                        {"arrived_s": t, "texts": [u.text for u in e.utterances], "before": list(e.before)}
                        for t, e in events
                        if isinstance(e, TurnRevision)
                    ],
                    "play_start_s": play_start,
                    "agreements": [
                        {
                            "speaker": a[0].value,
                            "start_s": a[1],
                            "committed": a[2],
                            "first": a[3],
                            "second": a[4],
                            "kept": a[5],
                        }
                        for a in getattr(call, "agreements", [])
                    ],
                    "audio": [str(p) for p in args.audio],
                },
                indent=1,
            )
        )
    partials = [(t, e) for t, e in events if isinstance(e, Partial)]
    lag = caption_lag(utterances, partials)
    print(describe("caption lag (word end -> on screen)", lag.words))
    print(describe("  +lead", [x + lead for x in lag.words]))
    print(
        f"  words shown by a caption before their final: {lag.by_caption} of {len(lag.words)}; "
        f"the rest came with their utterance"
    )
    print(describe("speech -> first caption", lag.first_caption))
    print(describe("voiced speech -> first caption", lag.first_caption_voiced))
    print(describe("caption age (audio heard -> shown)", [t - p.t_s for t, p in partials]))
    print(
        f"captions: {len(partials)} partial events; utterances of 2 s or more with a caption before their "
        f"final: {lag.captioned_long}/{lag.long}"
    )
    st = call.stats
    print(
        f"early finals used {st['early_used']} of {st['segments']} segments, discarded {st['early_discarded']} "
        f"(speech resumed), skipped {st['early_skipped']} (busy); hangovers cut by the other side {st['hangovers_cut']}; caption passes "
        f"{st['caption_passes']}, skipped {st['caption_skipped']}; final recognition real-time factor "
        f"{call.rtf if call.rtf is not None else float('nan'):.2f}"
    )
    if args.turn_pass:
        revisions = [e for _, e in events if isinstance(e, TurnRevision)]
        print(
            f"turn pass: {st.get('turn_passes', 0)} passes over an open turn, {st.get('turn_revisions', 0)} revisions "
            f"kept ({len(revisions)} applied before their turn closed), {st.get('turn_skipped', 0)} skipped (busy)"
        )
    redo_report(args, events, st)
    if "agreement_checked" in st:  # (LiveSettings.caption_agreement; not in builds before 2026-12-05)
        print(
            f"caption agreement: {st['agreement_checked']} finals contradicted the words two caption passes agreed "
            f"on under an early nudge and were decoded again as another cut; {st['agreement_kept']} of those kept"
        )
    offers = getattr(call._feed, "captions", None)
    if hasattr(offers, "most_offered_bytes"):  # (live_shared.LatestPerSide; a build before it queued every offer)
        early = call._feed.early
        print(
            f"offers to the recognizer: captions {offers.replaced} replaced before taken, early finals "
            f"{early.replaced}; audio offered and not yet taken at most {offers.most_offered_bytes / 2**20:.1f} MB "
            f"(captions) / {early.most_offered_bytes / 2**20:.1f} MB (early), held at most "
            f"{offers.most_held_bytes / 2**20:.1f} / {early.most_held_bytes / 2**20:.1f} MB (one per side); closed "
            f"segments and redos waiting at most {st.get('most_waiting_kb', 0) / 1024:.1f} MB"
        )
    print(f"CPU share of one core: idle {idle_cpu:.1%}, both sides talking {talk_cpu:.1%} (of {os.cpu_count()} cores)")
    print(
        f"RSS: {rss[0][1]:.0f} MB before playing, {rss[-1][1]:.0f} MB at the end, max {max(r for _, r in rss):.0f} MB"
    )
    if repeats > 1:
        window = 300.0 if total_s >= 900 else 120.0
        print(
            f"per {window / 60:g}-minute window (+lead: latency of utterances and nudges, RSS at the window's end, "
            "caption lag):"
        )
        t = play_start
        while t < play_start + total_s:
            lat = [lt - e.end_s + lead for lt, e in utterances.values() if t <= e.end_s < t + window]
            mem = [r for rt, r in rss if rt < t + window]
            ages = [pt - p.t_s for pt, p in partials if t <= p.t_s < t + window]
            words = [x + lead for x in caption_lag(utterances, partials, (t, t + window)).words]
            nudges = [n + lead for n_t, n in nudge_at if t <= n_t < t + window]
            print(
                f"  {(t - play_start) / 60:5.1f}-{(t - play_start + window) / 60:5.1f} min  "
                f"n={len(lat):<4} p50 {pct(lat, 50):.2f} s  p95 {pct(lat, 95):.2f} s  RSS {mem[-1]:.0f} MB  "
                f"nudges {len(nudges)} p95 {pct(nudges, 95):.2f} s  caption lag p50 {pct(words, 50):.2f} "
                f"p95 {pct(words, 95):.2f} s ({len(ages)} captions)"
            )
            t += window
    if args.audio == [DEMO]:
        lost_report(utterances, repeats)
    print(
        f"utterances {len(utterances)}, nudges {sum(isinstance(e, Nudge) for _, e in events)}, "
        f"leaks dropped {call.stats['leaks_dropped']}, guard-dropped segments {call.stats['guard_dropped']}"
    )
    for s in statuses:
        print(f"status: {s.level} {s.code}: {s.message}")
    print(
        f"peak RSS (VmHWM): {hwm_ready:.0f} MB by the end of start-up (model loaded), {vm_hwm_mb():.0f} MB by the end"
    )
    print(f"load average at the end {os.getloadavg()[0]:.2f} (other work on the machine inflates these figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
