#!/usr/bin/env python3
"""Speak the labelled dialogues as telephone calls: the spoken development set.

Reads a dialogue file (default ``../shared/data/dialogues/scripted_dev.jsonl``: one dialogue a
line, ``turns`` [{speaker, text}], ``labels``, ``other_labels``, ``hard_negatives``, ``notes``)
and writes into ``--out`` (default ``build/spoken_dev/``, git-ignored):

- ``audio/ID.flac``  one stereo call per dialogue, 8 kHz 16-bit: left = agent, right = customer
- ``spoken.jsonl``   the dialogues again, one a line, each turn with its ``start``/``end`` in that
                     audio (seconds, first to last sample of its speech), the labels unchanged
                     (turn indices, so they stay attached to the turns and thus to their times),
                     and ``audio`` (the file, relative to the folder), ``voiced_angry`` (customer
                     turns said louder and faster), ``backchannels`` (what the listener said
                     inside a turn, with times; not turns) and ``voices``.

``rapport-assist eval OUT`` scores the set: the transcript route (the turns as text, with these
times) and the audio route (the recordings through tiny.en) side by side, WER per side.

How a call sounds (each dialogue seeded by its id, so the same input gives the same bytes):

- one voice per side, drawn per dialogue from a pool of flite and espeak-ng voices (``VOICES``),
  its speed (and espeak-ng's pitch) varied a little;
- sentences of one turn are separated by 0.4-1.5 s pauses, so the endpointer cuts a long
  complaint into several utterances, as on real calls;
- the listener says a backchannel ("okay", "mm-hmm", ...) in some of those pauses, and now and
  then the next speaker starts 0.2-0.5 s before the other has finished (overlap);
- the customer turns the labels call angry (``eval_tone.angry_turns``: the turn before an
  angry-no-apology label, or a hard negative whose note says the customer is angry) are said
  faster (espeak-ng: also higher) and 8 dB louder;
- telephone channel: band 100-3400 Hz at 8 kHz (``make_demo_call.to_telephone``), a different
  level per side, faint band-limited line noise, and G.711 mu-law companding (8-bit).

    .venv/bin/python scripts/make_spoken_dev.py [DIALOGUES.jsonl] [--out DIR] [--only ID ...]
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
import wave
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_tone import angry_turns
from make_demo_call import (
    RATE,
    SetupError,
    espeak_version,
    find_espeak,
    split_sentences,
    synth,
    to_telephone,
    trim,
    write_flac,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIALOGUES = next(
    (
        p
        for p in (
            ROOT.parent / "shared" / "data" / "dialogues" / "scripted_dev.jsonl",
            ROOT.parents[1] / "shared" / "data" / "dialogues" / "scripted_dev.jsonl",
        )
        if p.is_file()
    ),
    ROOT.parent / "shared" / "data" / "dialogues" / "scripted_dev.jsonl",
)
DEFAULT_OUT = ROOT / "build" / "spoken_dev"
SET_FILE = "spoken.jsonl"  # what 'rapport-assist eval DIR' looks for

# Voices per side, drawn per dialogue: (engine, name, pitch). Flite's voices (Debian 'flite') are
# the clearer ones at 8 kHz for tiny.en (12-22% WER on six dialogues' customer turns, espeak-ng's
# variants 34-55%); one espeak-ng variant per side, drawn for about one call in seven
# (``ESPEAK_SHARE``), keeps a harder voice in the mix. Every name
# exists in flite 2.2 (flite -lv) and espeak-ng 1.51 (espeak-ng --voices=variant).
VOICES = {
    "agent": (("flite", "slt", 0), ("flite", "kal16", 0), ("flite", "rms", 0), ("espeak", "en-us+f3", 50)),
    "customer": (("flite", "awb", 0), ("flite", "rms", 0), ("flite", "slt", 0), ("espeak", "en-us+m3", 45)),
}
ESPEAK_SHARE = 0.15
# speed: espeak-ng words per minute; flite: its duration stretch (1 = the voice's own pace, 0.9 faster)
SPEED = {
    ("espeak", "agent"): (140, 160),
    ("espeak", "customer"): (145, 165),
    ("flite", "agent"): (0.95, 1.1),
    ("flite", "customer"): (0.9, 1.05),
}
ANGRY = {"speed": 1.3, "pitch": 12, "gain_db": 8.0}  # said faster, higher, louder
SENTENCE_PAUSE_S = (0.4, 1.5)
TURN_GAP_S = (0.3, 0.9)
OVERLAP = {"p": 0.12, "s": (0.2, 0.5), "min_previous_s": 2.0}
BACKCHANNEL = {"p": 0.4, "min_pause_s": 0.7, "per_turn": 2, "texts": ("Okay.", "Mm-hmm.", "Right.", "I see.", "Yeah.")}
# peak of each side's calm speech (so the sides differ in level), and line noise (RMS, dBFS)
PEAK = {"agent": (0.25, 0.45), "customer": (0.15, 0.3)}
NOISE_DBFS = (-60.0, -52.0)
MU = 255.0


@dataclass(frozen=True)
class Voice:
    engine: str  # "espeak" | "flite"
    name: str
    pitch: int  # espeak-ng 0-99 (flite: unused)
    speed: float  # espeak-ng words per minute; flite duration stretch (smaller = faster)

    def to_json(self) -> dict:
        return {"engine": self.engine, "voice": self.name, "pitch": self.pitch, "speed": self.speed}

    def angry(self) -> Voice:
        """Said faster and (espeak-ng) higher."""
        if self.engine == "flite":
            return replace(self, speed=round(self.speed / ANGRY["speed"], 3))
        return replace(self, pitch=min(99, self.pitch + ANGRY["pitch"]), speed=round(self.speed * ANGRY["speed"]))


def find_flite() -> str:
    exe = shutil.which("flite")
    if exe is None:
        raise SetupError("flite is not installed: run 'make setup' (or 'sudo apt-get install -y flite') and try again")
    return exe


def flite_synth(exe: str, text: str, voice: str, stretch: float) -> tuple[np.ndarray, int]:
    """Speak ``text`` with flite; mono float64 samples in [-1, 1] and the sample rate."""
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "say.wav"
        subprocess.run(
            [exe, "-voice", voice, "--setf", f"duration_stretch={stretch}", "-t", text, "-o", str(wav_path)],
            check=True,
            capture_output=True,
        )
        with wave.open(str(wav_path), "rb") as w:
            rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.astype(np.float64) / 32768.0, rate


def dialogue_rng(dialogue_id: str, seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{seed}:{dialogue_id}".encode()))


def mu_law(x: np.ndarray) -> np.ndarray:
    """G.711-style mu-law: compress, quantize to 8 bits (255 levels), expand."""
    x = np.clip(x, -1.0, 1.0)
    code = np.round(np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU) * 127.0)
    return np.sign(code) * np.expm1(np.abs(code) / 127.0 * np.log1p(MU)) / MU


def _say(exe: dict[str, str], text: str, voice: Voice) -> tuple[np.ndarray, int]:
    if voice.engine == "flite":
        raw, rate = flite_synth(exe["flite"], text, voice.name, voice.speed)
    else:
        raw, rate = synth(exe["espeak"], text, voice.name, int(voice.speed), voice.pitch)
    # cut at -34 dB from the peak: espeak-ng leaves a faint tail of 0.1-0.3 s that would
    # otherwise count as the turn's speech
    return trim(raw, rate, threshold=0.02), rate


def _speak_turn(
    exe: dict[str, str], text: str, voice: Voice, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One turn at 8 kHz in the telephone band, and its inner pauses as (start, end) samples."""
    parts: list[np.ndarray] = []
    pauses: list[tuple[int, int]] = []
    rate = RATE
    at = 0
    for sentence in split_sentences(text) or [text]:
        audio, rate = _say(exe, sentence, voice)
        if parts:
            gap = int(round(rng.uniform(*SENTENCE_PAUSE_S) * rate))
            parts.append(np.zeros(gap))
            pauses.append((at, at + gap))
            at += gap
        parts.append(audio)
        at += audio.size
    scale = RATE / rate
    pauses = [(int(round(a * scale)), int(round(b * scale))) for a, b in pauses]
    return to_telephone(np.concatenate(parts), rate), pauses


def render_dialogue(d: dict, exe: dict[str, str], seed: int = 0) -> tuple[np.ndarray, dict]:
    """The stereo call ((n, 2) int16 at 8 kHz) and its spoken.jsonl record (without ``audio``)."""
    did = str(d["id"])
    rng = dialogue_rng(did, seed)
    voices = {}
    for side in ("agent", "customer"):
        pool = VOICES[side]
        weights = np.array([ESPEAK_SHARE if v[0] == "espeak" else 1.0 for v in pool])
        weights[[v[0] != "espeak" for v in pool]] *= (1 - weights[[v[0] == "espeak" for v in pool]].sum()) / weights[
            [v[0] != "espeak" for v in pool]
        ].sum()
        engine, name, pitch = pool[int(rng.choice(len(pool), p=weights))]
        lo, hi = SPEED[engine, side]
        speed = int(rng.integers(lo, hi + 1)) if engine == "espeak" else round(float(rng.uniform(lo, hi)), 3)
        voices[side] = Voice(engine, name, int(pitch + rng.integers(-5, 6)) if engine == "espeak" else 0, speed)
    angry = sorted(i for i in angry_turns(d) if 0 <= i < len(d["turns"]) and d["turns"][i]["speaker"] == "customer")
    angry_voice = voices["customer"].angry()
    gain_angry = 10 ** (ANGRY["gain_db"] / 20)

    placed: list[tuple[str, int, np.ndarray, bool]] = []  # (side, start sample, audio, said angry)
    turns: list[dict] = []
    backchannels: list[dict] = []
    prev_end = 0
    prev_speaker = None
    prev_len = 0
    for i, turn in enumerate(d["turns"]):
        side = turn["speaker"]
        voice = angry_voice if i in angry else voices[side]
        audio, pauses = _speak_turn(exe, turn["text"], voice, rng)
        if i in angry:
            audio = audio * gain_angry
        if prev_speaker is None:
            start = int(round(rng.uniform(0.3, 0.8) * RATE))
        elif prev_speaker != side and prev_len > OVERLAP["min_previous_s"] * RATE and rng.random() < OVERLAP["p"]:
            start = prev_end - int(round(rng.uniform(*OVERLAP["s"]) * RATE))
        else:
            start = prev_end + int(round(rng.uniform(*TURN_GAP_S) * RATE))
        placed.append((side, start, audio, i in angry))
        turns.append(
            {
                "speaker": side,
                "text": turn["text"],
                "start": round(start / RATE, 3),
                "end": round((start + audio.size) / RATE, 3),
            }
        )
        # the listener's backchannels, inside this turn's longer pauses
        listener = "customer" if side == "agent" else "agent"
        said = 0
        for a, b in pauses:
            if (
                said >= BACKCHANNEL["per_turn"]
                or b - a < BACKCHANNEL["min_pause_s"] * RATE
                or rng.random() >= BACKCHANNEL["p"]
            ):
                continue
            text = BACKCHANNEL["texts"][int(rng.integers(len(BACKCHANNEL["texts"])))]
            raw, rate = _say(exe, text, voices[listener])
            bc = to_telephone(raw, rate)
            if bc.size + int(0.2 * RATE) > b - a:
                continue
            at = start + a + (b - a - bc.size) // 2
            placed.append((listener, at, bc, False))
            backchannels.append(
                {
                    "speaker": listener,
                    "text": text,
                    "during": i,
                    "start": round(at / RATE, 3),
                    "end": round((at + bc.size) / RATE, 3),
                }
            )
            said += 1
        prev_end, prev_speaker, prev_len = start + audio.size, side, audio.size

    total = max(s + a.size for _, s, a, _ in placed) + int(0.6 * RATE)
    channels = {"agent": np.zeros(total), "customer": np.zeros(total)}
    for side, start, audio, _ in placed:
        channels[side][start : start + audio.size] += audio
    levels = {}
    for side, ch in channels.items():
        # scaled by its calm speech, so an angry turn stays louder than the calm ones
        calm_peak = max((float(np.abs(a).max()) for s, _, a, loud in placed if s == side and not loud), default=0.0)
        target = rng.uniform(*PEAK[side])
        noise = to_telephone(rng.standard_normal(total), RATE)
        noise *= 10 ** (rng.uniform(*NOISE_DBFS) / 20) / max(float(np.sqrt(np.mean(noise**2))), 1e-12)
        channels[side] = mu_law(ch * (target / calm_peak if calm_peak > 0 else 1.0) + noise)
        levels[side] = round(20 * np.log10(target), 1)
    stereo = np.stack([channels["agent"], channels["customer"]], axis=1)
    pcm = np.clip(np.round(stereo * 32767), -32768, 32767).astype(np.int16)

    record = {k: v for k, v in d.items() if k != "turns"}
    record.update(
        turns=turns,
        voiced_angry=angry,
        backchannels=backchannels,
        voices={
            "agent": voices["agent"].to_json(),
            "customer": voices["customer"].to_json(),
            "customer_angry": angry_voice.to_json() if angry else None,
        },
        levels_dbfs_peak=levels,
        duration_s=round(total / RATE, 3),
    )
    return pcm, record


def _render_one(job: tuple[dict, dict[str, str], int, Path]) -> dict:
    d, exe, seed, out = job
    pcm, record = render_dialogue(d, exe, seed)
    name = f"audio/{d['id']}.flac"
    write_flac(out / name, pcm)
    return {"id": record["id"], "audio": name, **{k: v for k, v in record.items() if k != "id"}}


def generate(dialogues: list[dict], out: Path, seed: int = 0, jobs: int = 1) -> list[dict]:
    """Write ``out/audio/ID.flac`` and ``out/spoken.jsonl``; the records written. ``jobs``
    processes render dialogues side by side (each is seeded by its id: the output is the same)."""
    exe = {"espeak": find_espeak(), "flite": find_flite()}
    (out / "audio").mkdir(parents=True, exist_ok=True)
    work = [(d, exe, seed, out) for d in dialogues]
    if jobs > 1 and len(work) > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(jobs) as pool:
            records = pool.map(_render_one, work, chunksize=1)
    else:
        records = [_render_one(job) for job in work]
    version = espeak_version(exe["espeak"])
    flite_out = subprocess.run([exe["flite"], "--version"], capture_output=True, text=True).stdout
    flite_version = next((ln.strip() for ln in flite_out.splitlines() if "version" in ln), "flite")
    with (out / SET_FILE).open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps({**r, "espeak": version, "flite": flite_version}, ensure_ascii=False) + "\n")
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "dialogues",
        nargs="?",
        type=Path,
        default=DEFAULT_DIALOGUES,
        help=f"labelled dialogue file (default: {DEFAULT_DIALOGUES})",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    p.add_argument("--only", nargs="+", metavar="ID", help="only these dialogues")
    p.add_argument(
        "--jobs",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="dialogues rendered at once (default: one per core)",
    )
    p.add_argument("--seed", type=int, default=0, help="another seed gives other voices, pauses and levels")
    args = p.parse_args(argv)
    if not args.dialogues.is_file():
        print(f"make_spoken_dev: no such file: {args.dialogues} (pass the labelled dialogue .jsonl)", file=sys.stderr)
        return 3
    dialogues = [json.loads(line) for line in args.dialogues.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.only:
        dialogues = [d for d in dialogues if str(d["id"]) in set(args.only)]
    started = time.perf_counter()
    try:
        records = generate(dialogues, args.out, args.seed, args.jobs)
    except SetupError as exc:
        print(f"make_spoken_dev: {exc}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - started
    size = sum((args.out / r["audio"]).stat().st_size for r in records)
    audio_s = sum(r["duration_s"] for r in records)
    print(
        f"wrote {args.out}/{SET_FILE} and {len(records)} calls in {args.out}/audio ({audio_s / 60:.1f} min of "
        f"audio, {size / 1e6:.1f} MB) in {wall:.1f} s wall with "
        f"{args.jobs} job{'s' if args.jobs != 1 else ''}, load average {open('/proc/loadavg').read().split()[0]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
