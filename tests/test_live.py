"""Live calls: masking, settings, device parsing, clock ticks, the leak filter, silence through the
live stream path, and the real thing: a PulseAudio server with null sinks captured through
sounddevice, compared with replay of the same audio, then a device unplugged mid-call."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.assist import components_of
from rapport_assist.audio import decode_channels
from rapport_assist.capture import ArrayCapture, AudioDevice, DeviceChoice, parse_pactl_sources
from rapport_assist.live import LiveCall, LiveSettings, is_leak
from rapport_assist.privacy import mask_digits, mask_event
from rapport_assist.settings import SavedChoices, load_choices, save_choices, settings_path
from rapport_assist.types import CallSummary, Nudge, SpeechActivity, Speaker, Status, Tick, Utterance, Word

from live_support import play_agent_line, settled
from pulse_server import PulseServer

DEMO = Path(__file__).resolve().parents[1] / "src" / "rapport_assist" / "data" / "demo_call.flac"


# ------------------------------------------------------------------ masking


@pytest.mark.parametrize(
    "text, masked",
    [
        ("my card is 4111 1111 1111 1234", "my card is #### #### #### 1234"),
        ("4111-1111-1111-1234.", "####-####-####-1234."),
        ("number is 4,111,111,111,111, 7,234.", "number is #,###,###,###,###, 7,234."),
        ("account 12345678 please", "account ######## please"),  # the last 4 shown only when 5+ are hidden
        ("at 5 pm for $200 in 2026, order 12345", "at 5 pm for $200 in 2026, order 12345"),
    ],
)
def test_mask_digits(text: str, masked: str) -> None:
    assert mask_digits(text) == masked


def test_mask_event_masks_words_across_word_boundaries() -> None:
    words = tuple(Word(w, i, i + 0.5, 0.9) for i, w in enumerate("card 4111 1111 1111 1234".split()))
    utt = Utterance(0, Speaker.CUSTOMER, "card 4111 1111 1111 1234", 0.0, 5.0, words=words)
    masked = mask_event(utt)
    assert masked.text == "card #### #### #### 1234"
    assert [w.text for w in masked.words] == ["card", "####", "####", "####", "1234"]
    assert mask_event(Status("info", "x", "4111 1111 1111 1234", 0.0)).message == "4111 1111 1111 1234"


def test_replay_jsonl_masks_digits_by_default(tmp_path: Path) -> None:
    from rapport_assist.cli import main
    import io

    transcript = tmp_path / "t.jsonl"
    transcript.write_text(
        json.dumps({"speaker": "customer", "text": "my card is 4111 1111 1111 1234", "start": 0, "end": 3}) + "\n"
    )
    out = io.StringIO()
    assert main(["replay", str(transcript), "--format", "jsonl"], out, io.StringIO()) == 0
    assert "#### #### #### 1234" in out.getvalue() and "4111" not in out.getvalue()


# ------------------------------------------------------------------ settings and devices


def test_settings_round_trip_in_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert load_choices() == SavedChoices()
    path = save_choices(SavedChoices(agent_device="pa:USB Mic", customer_device="pulse:sink.monitor"))
    assert path == settings_path() == tmp_path / "cfg" / "rapport-assist" / "settings.json"
    assert load_choices().customer_device == "pulse:sink.monitor"
    path.write_text("{not json")
    broken = load_choices()
    assert broken.agent_device is None and broken.problem and "settings.json" in broken.problem


def test_device_choice_parse() -> None:
    assert DeviceChoice.parse("pulse:x.monitor") == DeviceChoice("pulse:x.monitor", None)
    assert DeviceChoice.parse("pa:Scarlett 2i2#1") == DeviceChoice("pa:Scarlett 2i2", 1)
    assert str(DeviceChoice("pa:Scarlett 2i2", 1)) == "pa:Scarlett 2i2#1"


def test_parse_pactl_sources_finds_monitors() -> None:
    text = (
        "Source #0\n\tState: IDLE\n\tName: alsa_output.pci.analog-stereo.monitor\n"
        "\tDescription: Monitor of Built-in Audio\n\tSample Specification: s16le 2ch 48000Hz\n"
        "\tMonitor of Sink: alsa_output.pci.analog-stereo\n\tProperties:\n\t\tdevice.class = \"monitor\"\n"
        "Source #1\n\tName: alsa_input.usb-headset.mono\n\tDescription: Headset Microphone\n"
        "\tSample Specification: s16le 1ch 16000Hz\n\tMonitor of Sink: n/a\n"
    )
    monitor, mic = parse_pactl_sources(text, default="alsa_input.usb-headset.mono")
    assert (monitor.id, monitor.kind, monitor.channels) == ("pulse:alsa_output.pci.analog-stereo.monitor", "monitor", 2)
    assert (mic.kind, mic.channels, mic.default_rate_hz, mic.is_default) == ("input", 1, 16000.0, True)


def test_live_without_audio_server_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rapport_assist.cli import main
    import io

    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/none")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr("rapport_assist.capture.list_devices", lambda: [])
    err = io.StringIO()
    assert main(["live", "--seconds", "1"], io.StringIO(), err) == 9
    assert "no audio input" in err.getvalue() and "rapport-assist demo" in err.getvalue()


def test_live_out_over_a_rule_file_is_refused_before_devices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """README: an output that is an input (`live --out` a rule file) is refused before anything
    is opened, exit 2 — also on a PC with no audio input (not exit 9), and the device choices
    are not saved."""
    from rapport_assist.cli import main
    import io

    rules = tmp_path / "team.yaml"
    rules.write_text("version: 1\noverrides:\n  - {rule: hedging, enabled: false}\n", encoding="utf-8")
    listed: list[bool] = []
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr("rapport_assist.capture.list_devices", lambda: listed.append(True) or [])
    err = io.StringIO()
    assert main(["live", "--rules", str(rules), "--out", str(rules), "--seconds", "1"], io.StringIO(), err) == 2
    assert "would destroy the input" in err.getvalue() and listed == []
    assert not (tmp_path / "config").exists()
    assert rules.read_text(encoding="utf-8").startswith("version: 1")


# ------------------------------------------------------------------ clock and leaks


def test_tick_fails_an_expectation_at_its_deadline() -> None:
    """warm-opening-missing waits 20 s for a warm opening; on the live clock it fires at the
    deadline while nobody speaks, not at the next turn."""
    from rapport_assist.annotate import Annotator
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules

    engine = RuleEngine(load_rules([default_rules_dir()]))
    first = Utterance(0, Speaker.AGENT, "Order support, go ahead.", 0.0, 2.0)
    pipeline = CallPipeline(Annotator(), engine)
    events = list(pipeline.run([first, Tick(10.0), Tick(22.5)]))
    ticked = [(e.rule, e.t_s) for e in events if isinstance(e, Nudge)]
    assert ticked == [("dead-air", 10.0), ("warm-opening-missing", 22.0)]  # dead air too: 8 s of silence
    quiet = [e.rule for e in CallPipeline(Annotator(), engine).run([first, Tick(21.0)]) if isinstance(e, Nudge)]
    assert "warm-opening-missing" not in quiet  # 21.0 is before the deadline: not on the clock yet


def test_next_turn_marked_open_before_the_last_one_lands_is_not_dead_air() -> None:
    """Live order: the customer's second segment opens (13.3) before the words of the first
    (5.1-13.0) are recognized. The channel stays busy: no dead air at 21 s or later."""
    from rapport_assist.annotate import Annotator
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
    from rapport_assist.types import DeadAir, SpeechActivity

    engine = RuleEngine(load_rules([default_rules_dir()]))
    items = [
        SpeechActivity(Speaker.CUSTOMER, 5.1, True),
        SpeechActivity(Speaker.CUSTOMER, 13.3, True),
        Utterance(0, Speaker.CUSTOMER, "My internet keeps dropping every night.", 5.2, 13.0),
        Tick(18.0),
        Tick(22.0),
        Tick(30.0),
    ]
    events = list(CallPipeline(Annotator(), engine).run(items))
    assert not [e for e in events if isinstance(e, DeadAir)]
    items[-1:] = [Utterance(1, Speaker.CUSTOMER, "It comes back after a few minutes.", 13.4, 19.0), Tick(30.0)]
    dead = [e for e in CallPipeline(Annotator(), engine).run(items) if isinstance(e, DeadAir)]
    assert [(d.since_s, d.t_s) for d in dead] == [(19.0, 27.0)]  # once the second segment landed


def test_leak_filter() -> None:
    customer = Utterance(0, Speaker.CUSTOMER, "This is the third time I'm calling and it's ridiculous.", 10.0, 14.0)
    leak = Utterance(1, Speaker.AGENT, "third time I'm calling and it's ridiculous", 11.0, 13.9)
    reply = Utterance(1, Speaker.AGENT, "I'm so sorry, let me fix that for you.", 11.0, 13.9)
    later = Utterance(1, Speaker.AGENT, "third time I'm calling and it's ridiculous", 30.0, 33.0)
    assert is_leak(leak, [customer], 0.6)
    assert not is_leak(reply, [customer], 0.6)
    assert not is_leak(later, [customer], 0.6)  # same words, not at the same time: the agent said them


# ------------------------------------------------------------------ the live stream path


def _fake_device(channels: int) -> AudioDevice:
    return AudioDevice("fake:array", "array", "array", "portaudio", "input", channels, 16000.0)


def _array_call(stereo: np.ndarray, recognizer, wait_s: float) -> tuple[LiveCall, list]:
    """A live call on a fake two-channel device (agent left, customer right) fed ``stereo`` as
    fast as it goes; returns the stopped call and its events."""
    captures: list[ArrayCapture] = []

    def opener(device, channels, on_block):
        captures.append(ArrayCapture(stereo, on_block, speed=0))
        return captures[-1]

    events: list = []
    call = LiveCall(
        LiveSettings(
            agent=DeviceChoice("fake:array", 0), customer=DeviceChoice("fake:array", 1), device_timeout_s=30.0
        ),
        opener=opener,
        devices=[_fake_device(2)],
        recognizer=recognizer,
    )
    call.start(events.append)
    assert captures[0].done.wait(wait_s)
    call.stop()
    return call, events


@pytest.mark.slow
def test_silence_and_line_noise_give_nothing(recognizer) -> None:
    """60 s of silence, then 60 s of line noise (hiss and mains hum), fed through the live
    stream code path faster than real time: no utterance, no nudge, no dead air."""
    rng = np.random.default_rng(1)
    n = 60 * 16000
    t = np.arange(n) / 16000
    noise = (rng.normal(0, 0.01, n) + 0.02 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    audio = np.concatenate([np.zeros(n, np.float32), noise])
    stereo = np.stack([audio, np.roll(audio, 4000)], axis=1)
    call, events = _array_call(stereo, recognizer, 60)
    kinds = [type(e).__name__ for e in events]
    assert "Utterance" not in kinds and "Nudge" not in kinds and "DeadAir" not in kinds, kinds
    assert isinstance(events[-1], CallSummary) and events[-1].utterances == 0
    assert call.stats["blocks"] == -(-len(stereo) // 512)  # every block went through the live path


@pytest.mark.model
def test_customer_leaking_into_the_microphone_is_dropped(recognizer, speak) -> None:
    """No headset: the customer's words reach the agent's microphone 8 dB down and a little
    late. Only the customer's utterances come out; the agent's own words still do."""
    customer = speak("I have been waiting for my refund for three weeks now.")
    agent = speak("Let me check that for you right away.")
    pause = np.zeros(8000, np.float32)
    right = np.concatenate([pause, customer, pause, np.zeros(len(agent), np.float32), pause])
    left = np.concatenate([pause, np.zeros(len(customer), np.float32), pause, agent, pause])
    leak = np.roll(right, 160) * 10 ** (-8 / 20)  # 10 ms later, 8 dB quieter
    stereo = np.stack([left + leak, right], axis=1).astype(np.float32)
    call, events = _array_call(stereo, recognizer, 30)
    said = [(e.speaker.value, e.text) for e in events if isinstance(e, Utterance)]
    assert [s for s, _ in said] == ["customer", "agent"], said
    assert "refund" in said[0][1] and "check" in said[1][1]
    assert call.stats["leaks_dropped"] == 1


# ------------------------------------------------------------------ real PulseAudio + sounddevice


def _replay_events(path: Path, recognizer) -> list:
    from rapport_assist.annotate import Annotator
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
    from rapport_assist.sources import ReplayInput, open_replay

    source = open_replay(ReplayInput(path=path), lambda: recognizer)
    pipeline = CallPipeline(Annotator(), RuleEngine(load_rules([default_rules_dir()])))
    return list(pipeline.run(source.items(), audio_s=source.audio_s))


def _loudness(audio: np.ndarray) -> np.ndarray:
    """RMS per 100 ms."""
    n = len(audio) // 1600 * 1600
    return np.sqrt(np.mean(audio[:n].reshape(-1, 1600) ** 2, axis=1))


def _follows(played: np.ndarray, got: np.ndarray, block: int = 20, max_slip: int = 20) -> bool:
    """Whether ``got`` holds ``played``'s loudness, 2 s at a time: each block of speech matches
    the recording within a slip of up to 2 s. The same audio gives ~0.99 per block; a playback
    underrun on a busy machine inserts silence into the sink, shifting what follows (one long
    correlation over the whole call fell to 0.61 under a load of 5 on 2 cores)."""
    best: list[float] = []
    for i in range(0, len(played) - block, block):
        said = played[i : i + block]
        if said.std() < 1e-4:
            continue
        best.append(
            max(
                (
                    float(np.corrcoef(said, got[i + lag : i + lag + block])[0, 1])
                    for lag in range(max_slip + 1)
                    if i + lag + block <= len(got) and got[i + lag : i + lag + block].std() > 0
                ),
                default=0.0,
            )
        )
    return len(best) > 5 and float(np.median(best)) > 0.8 and float(np.mean(np.array(best) > 0.5)) > 0.8


def _words(events) -> list[str]:
    from rapport_assist.recognizer import normalize_text

    return [f"{e.speaker.value}: {normalize_text(e.text)}" for e in events if isinstance(e, Utterance)]


def _similar(a: list[str], b: list[str]) -> float:
    import difflib

    return difflib.SequenceMatcher(None, " | ".join(a), " | ".join(b), autojunk=False).ratio()


@pytest.mark.slow
def test_live_capture_through_pulseaudio_matches_replay(
    pulse: PulseServer, recognizer, tmp_path: Path, write_audio
) -> None:
    """Part of the demo call played into two null sinks, captured from their monitors through
    sounddevice: the same utterances and nudges as replaying the file; the saved stereo WAV
    replays to what the agent saw; then the customer's source is unloaded mid-call."""
    from rapport_assist.capture import list_devices

    devices = list_devices()
    ids = {d.id for d in devices}
    assert {"pulse:agent_line.monitor", "pulse:customer_line.monitor"} <= ids, ids
    # The demo call's first 52 s (a pause there): a missed reflection, 'you need to', anger
    # without an apology, a talk-over.
    cut = 52 * 16000
    full = decode_channels(DEMO).channels
    excerpt = write_audio(tmp_path / "excerpt.wav", np.stack([full[0][:cut], full[1][:cut]]), 16000)
    audio = decode_channels(excerpt)
    events: list = []
    call = LiveCall(
        LiveSettings(
            agent=DeviceChoice("pulse:agent_line.monitor"),
            customer=DeviceChoice("pulse:customer_line.monitor"),
            record_to=tmp_path / "calls",
            record_audio=True,
            redo_max_pass_s=60.0,  # every 30 s redo runs, even on a loaded machine: the words replay gives
        ),
        recognizer=recognizer,
    )
    call.start(events.append)
    time.sleep(1.0)  # the streams connect
    pulse.play({"agent_line": audio.channels[0], "customer_line": audio.channels[1]})
    pulse.wait_played(timeout_s=audio.duration_s + 30)
    heard = settled(events)  # the last utterance: hangover + recognition (slow on a busy machine)
    assert call.log_path is not None  # the event log is on disk as the call goes (a crash keeps it)
    assert call.log_path.read_text().count('"type": "utterance"') == heard

    def customer_status(code: str) -> bool:
        return any(isinstance(e, Status) and e.code == code and "customer" in e.message for e in events)

    pulse.unload("customer_line")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not customer_status("device_gone"):
        time.sleep(0.2)

    pulse.pactl("load-module", "module-null-sink", "sink_name=customer_line", "rate=16000", "channels=1")
    deadline = time.monotonic() + 10  # plugged back in: capture resumes
    while time.monotonic() < deadline and not customer_status("capture_resumed"):
        time.sleep(0.2)
    call.stop()

    # (at a load of 9 on 2 cores a side's stream may also stall and come back before this)
    assert customer_status("device_gone") and customer_status("capture_resumed"), [
        e for e in events if isinstance(e, Status)
    ]
    assert isinstance(events[-1], CallSummary) and events[-1].utterances == heard  # nothing lost after the unplug

    # The call record: the event log has every event; the WAV holds the fixture's audio (from
    # the moment playback started; a loaded machine may slip a millisecond in playback) ...
    assert call.log_path is not None and call.wav_path is not None
    logged = [json.loads(line) for line in call.log_path.read_text().splitlines()]
    assert [e["type"] for e in logged].count("utterance") == heard and logged[-1]["type"] == "call_end"
    saved = decode_channels(call.wav_path).channels
    offsets = []
    for played, got in zip(audio.channels, saved):
        offset = int(np.argmax(np.abs(got) > 1e-3)) - int(np.argmax(np.abs(played) > 1e-3))
        assert _follows(_loudness(played), _loudness(got[offset:]))
        offsets.append(offset)
    # the two sides start together: the two paplay players start within a few blocks of each
    # other (65 ms seen when the call's caption passes share the CPU with them; 240 and 750 ms at
    # a load of 9 on 2 cores, as the two players start), not seconds apart
    assert abs(offsets[0] - offsets[1]) < 16000 * 1.0

    # ... so replaying the WAV is replaying the same audio at the same place in the VAD's frames:
    # the same utterances and the same nudges as the agent saw live.
    from rapport_assist.turn_pass import apply_revisions

    live_words = _words(apply_revisions(events))  # (a 30 s redo after an utterance went out: its revision)
    recorded = _replay_events(call.wav_path, recognizer)
    assert _words(recorded) == live_words
    # After the audio, live dead air fires on the clock (replay has no clock after its last item).
    from rapport_assist.types import DeadAir

    played_until = max(offsets) / 16000 + audio.duration_s
    late = {e.t_s for e in events if isinstance(e, DeadAir) and e.t_s > played_until}
    # (an early nudge on a caption is confirmed by the final text's nudge, which is what replay gives;
    # one the final text does not support is withdrawn: the final nudges are the comparable ones)
    live_rules = sorted(e.rule for e in events if isinstance(e, Nudge) and not e.early and e.t_s not in late)
    assert sorted(e.rule for e in recorded if isinstance(e, Nudge)) == live_rules

    # Against the original file, which starts at another phase of the 32 ms VAD frames: tiny.en
    # and the 300 ms hangover are that sensitive (a sentence pause may split a turn, an onset
    # "Thank" may be clipped to "And"), so the words must agree closely and most nudges match.
    replay = _replay_events(excerpt, recognizer)
    replay_words = _words(replay)
    assert _similar(live_words, replay_words) >= 0.85, (live_words, replay_words)
    replay_rules = sorted(e.rule for e in replay if isinstance(e, Nudge))
    assert len(set(live_rules) & set(replay_rules)) >= len(set(replay_rules)) - 2, (live_rules, replay_rules)


def test_stream_resampler_keeps_pitch_and_length() -> None:
    from rapport_assist.capture import StreamResampler

    rate = 48000
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    resampler = StreamResampler(rate)
    out = np.concatenate([resampler.push(tone[i : i + 1536]) for i in range(0, rate, 1536)])
    assert abs(len(out) - 16000) <= 64
    spectrum = np.abs(np.fft.rfft(out[:8000]))
    assert abs(np.argmax(spectrum) * 16000 / 8000 - 440) <= 2


class _SlowRecognizer:
    """A stand-in for unit-testing the queue logic: every segment takes ``delay_s`` and becomes
    the text "segment N", N counting distinct segment starts (an early pass and the final of
    one segment say the same; the real model is tested through PulseAudio below)."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self.starts: list[float] = []
        self.seen: list[tuple[float, float]] = []

    def warm_up(self) -> None:
        pass

    def recognize(self, segment):
        from rapport_assist.types import Recognition

        time.sleep(self.delay_s)
        self.calls += 1
        self.seen.append((segment.start_s, segment.end_s))
        if segment.start_s not in self.starts:
            self.starts.append(segment.start_s)
        return Recognition(f"segment {self.starts.index(segment.start_s) + 1}", (), 0.9, 0.0, -0.2)


def test_recognizer_behind_is_reported_and_nothing_is_lost(speak) -> None:
    """Speech at 48 kHz (a device that will not take 16 kHz) fed fast to a recognizer that takes
    1 s a segment: rate_fallback, then recognizer_behind, every segment still transcribed in
    order, then recognizer_caught_up."""
    from rapport_assist.capture import StreamResampler  # noqa: F401  (the path under test)

    speech = speak("Hello, this is a test of the live call.")
    gap = np.zeros(16000, np.float32)
    mono16 = np.concatenate([gap, speech] * 5 + [gap])
    mono48 = np.interp(np.arange(len(mono16) * 3) / 3, np.arange(len(mono16)), mono16).astype(np.float32)
    captures: list[ArrayCapture] = []

    def opener(device, channels, on_block):
        captures.append(ArrayCapture(mono48[:, None], on_block, speed=0, block_frames=1536, rate_hz=48000))
        return captures[-1]

    events: list = []
    slow = _SlowRecognizer(1.0)
    call = LiveCall(
        LiveSettings(agent=DeviceChoice("fake:array"), customer=None, behind_s=1.0, device_timeout_s=30),
        opener=opener,
        devices=[_fake_device(1)],
        recognizer=slow,
    )
    call.start(events.append)
    assert captures[0].done.wait(30)
    time.sleep(0.5)
    call.stop()
    codes = [e.code for e in events if isinstance(e, Status)]
    assert "rate_fallback" in codes and "recognizer_behind" in codes, codes
    assert (
        codes.index("recognizer_behind") < codes.index("recognizer_caught_up")
        if "recognizer_caught_up" in codes
        else True
    )
    texts = [e.text for e in events if isinstance(e, Utterance)]
    assert texts == [f"segment {i}" for i in range(1, 6)]
    assert isinstance(events[-1], CallSummary) and events[-1].utterances == 5
    # only the agent was captured: the call is one-sided (no dead air or customer reply waited for),
    # and the sidebar's customer row says so from the start
    assert events[-1].one_side is Speaker.AGENT
    missing = [e for e in events if isinstance(e, Status) and e.code == "side_not_captured"]
    assert len(missing) == 1 and missing[0].speakers == (Speaker.CUSTOMER,)
    assert components_of(missing[0]) == ["customer"] and "only the agent is heard" in missing[0].message
    # the sidebar also learns when the agent starts speaking, before the words are recognized
    started = [e for e in events if isinstance(e, SpeechActivity) and e.speaking]
    assert len(started) == 5 and all(e.speaker is Speaker.AGENT for e in started)
    first_words = next(e for e in events if isinstance(e, Utterance))
    assert events.index(started[0]) < events.index(first_words)


class _GatedRecognizer(_SlowRecognizer):
    """Each segment waits until the test opens the gate (a recognizer far behind)."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def recognize(self, segment):
        self.waiting.set()
        self.gate.wait(60)
        return super().recognize(segment)


def test_stopping_without_waiting_returns_while_the_backlog_is_still_recognized(speak, tmp_path: Path) -> None:
    """The sidebar stops a call without waiting: the recognizer still works off what was heard in
    the background, nothing is lost, the CallSummary comes last and the record is closed."""
    speech = speak("Hello, this is a test of the live call.")
    gap = np.zeros(16000, np.float32)
    mono = np.concatenate([gap, speech] * 3 + [gap])
    captures: list[ArrayCapture] = []

    def opener(device, channels, on_block):
        captures.append(ArrayCapture(mono[:, None], on_block, speed=0))
        return captures[-1]

    events: list = []
    gated = _GatedRecognizer()
    call = LiveCall(
        LiveSettings(agent=DeviceChoice("fake:array"), customer=None, device_timeout_s=30, record_to=tmp_path),
        opener=opener,
        devices=[_fake_device(1)],
        recognizer=gated,
    )
    call.start(events.append)
    assert captures[0].done.wait(30) and gated.waiting.wait(30)
    call.stop(wait=False)  # returns although no segment could be recognized yet
    assert not any(isinstance(e, (Utterance, CallSummary)) for e in events)
    assert not call.join(0.2)  # still working
    gated.gate.set()
    assert call.join(30)
    assert [e.text for e in events if isinstance(e, Utterance)] == ["segment 1", "segment 2", "segment 3"]
    assert isinstance(events[-1], CallSummary) and events[-1].utterances == 3
    assert call.log_path is not None
    logged = [json.loads(line) for line in call.log_path.read_text().splitlines()]
    assert logged[-1]["type"] == "call_end", logged[-1]


def test_no_devices_then_a_device_that_stops_then_comes_back() -> None:
    """No device at the start (no_devices), one appears (capture starts), it stops delivering
    audio (mic_lost), it is reopened (capture_resumed); the call never stops."""
    available: list[AudioDevice] = []
    opened: list[ArrayCapture] = []

    def opener(device, channels, on_block):
        opened.append(ArrayCapture(np.zeros((16000, 1), np.float32), on_block, speed=1.0))
        return opened[-1]

    events: list = []
    call = LiveCall(
        LiveSettings(agent=DeviceChoice("fake:array"), customer=None, retry_s=0.3, device_timeout_s=0.5),
        opener=opener,
        devices=lambda: list(available),
        recognizer=_SlowRecognizer(0.0),
    )
    call.start(events.append)

    def codes() -> list[str]:
        return [e.code for e in events if isinstance(e, Status)]

    def wait_for(code: str, count: int = 1) -> None:
        deadline = time.monotonic() + 15
        while codes().count(code) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert codes().count(code) >= count, codes()

    wait_for("no_devices")
    available.append(_fake_device(1))
    wait_for("capture_resumed")  # 1 s of audio, then the fake device goes quiet...
    wait_for("mic_lost")
    assert "agent" in [e for e in events if isinstance(e, Status) and e.code == "mic_lost"][0].message
    wait_for("capture_resumed", 2)  # ...and is reopened
    call.stop()
    rows = {e.code: components_of(e) for e in events if isinstance(e, Status)}  # what the sidebar's rows show
    assert rows["no_devices"] == rows["mic_lost"] == rows["capture_resumed"] == ["microphone"], rows
    assert len(opened) >= 2 and isinstance(events[-1], CallSummary)


def test_a_device_lost_before_its_first_block_starts_afresh_when_reopened() -> None:
    """A stream that connects but delivers nothing (a slow start on a busy PC) is lost before its
    first block; the reopened one is captured from a fresh endpointer (the old one was finished)."""

    class Connected:  # opened, but no block ever comes
        rate_hz, channels, done = 16000, 1, None

        def close(self) -> None:
            pass

    opened: list = []

    def opener(device, channels, on_block):
        opened.append(ArrayCapture(np.zeros((16000, 1), np.float32), on_block, speed=1.0) if opened else Connected())
        return opened[-1]

    events: list = []
    call = LiveCall(
        LiveSettings(agent=DeviceChoice("fake:array"), customer=None, retry_s=0.3, device_timeout_s=0.5),
        opener=opener,
        devices=[_fake_device(1)],
        recognizer=_SlowRecognizer(0.0),
    )
    call.start(events.append)
    deadline = time.monotonic() + 15
    while not (len(opened) >= 2 and opened[1].done.is_set()) and time.monotonic() < deadline:
        time.sleep(0.05)
    blocks = call.stats["blocks"]
    import threading

    stopper = threading.Thread(target=call.stop, daemon=True)  # a dead audio thread would hang stop()
    stopper.start()
    stopper.join(15)
    assert not stopper.is_alive(), "the call did not stop (its audio thread died)"
    codes = [e.code for e in events if isinstance(e, Status)]
    assert "mic_lost" in codes and "capture_resumed" in codes, codes
    assert blocks >= 16000 // 512
    assert isinstance(events[-1], CallSummary)


# not marked slow: the one live call through a real PulseAudio server that 'make test' runs
# (the others, longer, run in 'make test-slow')
def test_live_command_on_pulseaudio(pulse: PulseServer, speak, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rapport-assist live` end to end: devices chosen on the command line, saved; the customer
    speaks into a null sink; the transcript prints; --seconds ends the call with its summary."""
    import io

    from rapport_assist.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    speech = speak("My card number is 4111 1111 1111 1234.")
    out, err = io.StringIO(), io.StringIO()
    timer = __import__("threading").Timer(3.0, pulse.play, [{"customer_line": speech}])
    timer.start()
    code = main(
        [
            "live",
            "--agent",
            "pulse:agent_line.monitor",
            "--customer",
            "pulse:customer_line.monitor",
            "--seconds",
            str(6.0 + len(speech) / 16000),
            "--record",
            str(tmp_path / "calls"),
        ],
        out,
        err,
    )
    timer.join()
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "CUSTOMER" in text and "call end" in text, text
    assert "#" in text and not re.search(r"\d(?:[ .,\-]?\d){5,}", text)  # masked by default
    saved = json.loads((tmp_path / "cfg" / "rapport-assist" / "settings.json").read_text())
    assert saved["customer_device"] == "pulse:customer_line.monitor"
    logs = list((tmp_path / "calls").glob("call-*.jsonl"))
    assert len(logs) == 1 and not re.search(r"\d(?:[ .,\-]?\d){5,}", logs[0].read_text())


# ------------------------------------------------------------------ captions and early finals


def _pass_words(text: str) -> tuple[Word, ...]:
    return tuple(Word(w, i * 0.3, i * 0.3 + 0.25, 0.9) for i, w in enumerate(text.split()))


def test_stable_prefix_is_what_two_passes_agree_on_and_only_grows() -> None:
    from rapport_assist.captions import CaptionTracker, agreed_prefix

    assert agreed_prefix(["Hello,", "how", "are"], ["hello", "how", "is"]) == 2  # case and punctuation aside
    assert agreed_prefix([], ["hello"]) == 0
    tracker = CaptionTracker()
    first = tracker.update(Speaker.AGENT, 1.0, 2.0, _pass_words("Thank you for call"))
    assert first is not None and (first.text, first.pending) == ("", "Thank you for call")  # nothing agreed yet
    second = tracker.update(Speaker.AGENT, 1.0, 2.8, _pass_words("Thank you for calling Acme"))
    assert (second.text, second.pending) == ("Thank you for", "calling Acme")
    assert (
        tracker.update(Speaker.AGENT, 1.0, 3.6, _pass_words("Thank you for calling Acme")).text
        == "Thank you for calling Acme"
    )
    # a later pass that rewrites committed words does not take them back
    fourth = tracker.update(Speaker.AGENT, 1.0, 4.4, _pass_words("Thank you, for calling Acne bank"))
    assert (fourth.text, fourth.pending) == ("Thank you for calling Acme", "bank")  # its new words still show
    fifth = tracker.update(Speaker.AGENT, 1.0, 5.2, _pass_words("Thank you, for calling Acne bank today"))
    assert (fifth.text, fifth.pending) == ("Thank you for calling Acme bank", "today")  # agreed after the rewrite
    assert tracker.update(Speaker.AGENT, 1.0, 5.2, _pass_words("Thank you, for calling Acne bank today")).text == (
        "Thank you for calling Acme bank today"
    )
    assert tracker.update(Speaker.AGENT, 1.0, 5.2, _pass_words("Thank you, for calling Acne bank today")) is None
    # committed words the passes then heard otherwise ("I'm out" was "about that"): the caption goes on after them
    from rapport_assist.captions import committed_end

    committed = "I'm so sorry I'm out".split()
    assert committed_end(committed, "I'm so sorry about that. Let's".split()) == 5
    # lined up at the earliest place: a word heard twice at a window's start, a common word said again later
    assert committed_end("night it comes".split(), "night night it comes back and then it stops".split()) == 4
    assert committed_end("a b c d e f".split(), "a b x y z w v".split()) is None  # 4 words at the end rewritten
    assert committed_end(["Hi", "Julie,"], "I do leave my internet".split()) == 2  # the first words, all rewritten
    # a pass that goes another way entirely cannot extend the caption
    assert tracker.update(Speaker.AGENT, 1.0, 6.0, _pass_words("Hank chew")) is None
    # the other side's caption is its own; a new utterance starts afresh
    other = tracker.update(Speaker.CUSTOMER, 2.0, 3.0, _pass_words("Hi"))
    assert (other.speaker, other.text, other.pending) == (Speaker.CUSTOMER, "", "Hi")
    tracker.finish(Speaker.AGENT)
    fresh = tracker.update(Speaker.AGENT, 6.0, 7.0, _pass_words("So"))
    assert (fresh.start_s, fresh.text, fresh.pending) == (6.0, "", "So")


def test_a_long_utterances_caption_passes_hear_its_tail_after_a_committed_word() -> None:
    """Past ``window_s`` of audio a pass may start at the end of a committed word (a sentence's
    end first); the committed words before it stand for that audio, and the tail's words extend
    the caption as a whole pass's would."""
    from rapport_assist.captions import CaptionTracker

    def words(text: str, start: float) -> tuple[Word, ...]:
        return tuple(Word(w, start + i * 0.5, start + i * 0.5 + 0.4, 0.9) for i, w in enumerate(text.split()))

    tracker = CaptionTracker()
    said = "I called twice. Nobody answered the phone at all"  # word i ends at 1.4 + 0.5 i
    tracker.update(Speaker.CUSTOMER, 1.0, 5.0, words(said, 1.0)[:7])
    tracker.update(Speaker.CUSTOMER, 1.0, 5.6, words(said, 1.0)[:8])  # 7 words agreed
    assert tracker.window_start(Speaker.CUSTOMER, 0.5, 8.0, 6.0, 2.0) is None  # another utterance
    # heard up to 8.0 s: a pass of at most 6 s may start at a committed word ending in 2.0-6.0 s;
    # "twice." ends a sentence (at 2.4 s)
    cut = tracker.window_start(Speaker.CUSTOMER, 1.0, 8.0, 6.0, 2.0)
    assert cut == pytest.approx(2.4)
    assert tracker.window_start(Speaker.CUSTOMER, 1.0, 9.0, 6.0, 2.0) == pytest.approx(3.4)  # no sentence end there
    tail = tuple(w for w in words(said, 1.0) if w.start_s >= cut)
    shown = tracker.update(Speaker.CUSTOMER, 1.0, 8.0, tail, from_s=cut)
    assert (shown.start_s, shown.text, shown.pending) == (1.0, "I called twice. Nobody answered the phone at", "all")
    again = tracker.update(Speaker.CUSTOMER, 1.0, 8.5, tail + (Word("today.", 6.0, 6.4, 0.9),), from_s=cut)
    assert (again.text, again.pending) == ("I called twice. Nobody answered the phone at all", "today.")


def test_captions_are_masked_strictly_in_the_pipeline() -> None:
    """A caption goes through the pipeline's masking stage: digits and number-word runs, even
    half said, never reach an event."""
    from rapport_assist.annotate import Annotator
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.privacy import masker_for
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
    from rapport_assist.types import Partial

    pipeline = CallPipeline(Annotator(), RuleEngine(load_rules([default_rules_dir()])), masker=masker_for(True))
    items = [
        Partial(Speaker.CUSTOMER, 0.0, 1.5, "my card is 4929 38", "four nine"),
        Partial(Speaker.CUSTOMER, 0.0, 2.5, "I have two questions", ""),
    ]
    partials = [e for e in pipeline.run(items) if isinstance(e, Partial)]
    assert [(p.text, p.pending) for p in partials] == [
        ("my card is #### ##", "#### ####"),
        ("I have two questions", ""),
    ]
    assert json.loads(json.dumps(partials[0].to_json()))["type"] == "partial"


def test_speech_resuming_in_the_hangover_drops_the_early_result(recognizer, speak) -> None:
    """A 350 ms pause inside a sentence (600 ms hangover): the early final started at it is thrown away when the
    speaker goes on; one utterance results, with the words from both sides of the pause."""
    first, second = speak("Hello there."), speak("How are you today?")
    loud = np.flatnonzero(np.abs(first) > 0.01)
    first = first[: loud[-1] + 1]  # espeak's own trailing silence would lengthen the pause
    loud = np.flatnonzero(np.abs(second) > 0.01)
    second = second[loud[0] :]
    pause = np.zeros(int(0.35 * 16000), np.float32)  # well inside the 600 ms hangover below, VAD lag or not
    gap = np.zeros(16000, np.float32)
    audio = np.concatenate([gap, first, pause, second, gap, gap])
    captures: list[ArrayCapture] = []

    def opener(device, channels, on_block):
        captures.append(ArrayCapture(audio[:, None], on_block, speed=1.0))
        return captures[-1]

    seen: list[tuple[float, float]] = []

    class Watching:
        def warm_up(self) -> None:
            pass

        def recognize(self, segment):
            seen.append((segment.start_s, segment.end_s))
            return recognizer.recognize(segment)

    events: list = []
    from rapport_assist.endpoint import EndpointerOptions

    call = LiveCall(
        LiveSettings(
            agent=DeviceChoice("fake:array"),
            customer=None,
            captions=False,
            endpointer=EndpointerOptions(hangover_ms=600),
            early_max_pass_s=60.0,
            early_after_busy_ms=96,
        ),  # even on a loaded machine
        opener=opener,
        devices=[_fake_device(1)],
        recognizer=Watching(),
    )
    call.start(events.append)
    assert captures[0].done.wait(30)
    time.sleep(1.0)
    call.stop()
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert len(utterances) == 1, [u.text for u in utterances]
    from rapport_assist.recognizer import normalize_text

    text = normalize_text(utterances[0].text)
    assert "hello there" in text and "how are you today" in text
    assert call.stats["early_discarded"] >= 1 and len(seen) >= 2, (call.stats, seen)  # the early pass ran, was dropped
    assert seen[0][0] == seen[-1][0] and seen[0][1] < seen[-1][1]  # same start, the early one ended at the pause


@pytest.mark.slow
def test_a_caption_arrives_before_its_utterance_through_pulseaudio(
    pulse: PulseServer, recognizer, speak, tmp_path: Path
) -> None:
    """A long sentence played into the agent's null sink: while it is still being said, a
    ``partial`` event with its first words (logged to the call's JSONL too), from a pass over
    the first half second or so of the voice (a pass that finds nothing yet is allowed), then
    more as the sentence goes on, at least ``caption_every_s`` of audio apart; then the final
    utterance with all its words. (Audio times: how soon on the wall clock is measured in
    bench/live_latency.py, not here.)"""
    from rapport_assist.recognizer import normalize_text
    from rapport_assist.types import Partial

    sentence = (
        "Thank you for calling, I can certainly help you with the billing question on your account, "
        "and I will stay with you until it is sorted out today."
    )
    events, call = play_agent_line(pulse, recognizer, speak(sentence), tmp_path)
    utterances = [i for i, e in enumerate(events) if isinstance(e, Utterance)]
    assert len(utterances) == 1, [e.text for e in events if isinstance(e, Utterance)]
    final = events[utterances[0]]
    assert normalize_text(final.text).startswith("thank you for calling")
    assert normalize_text(final.text).endswith("out today")  # the final text is whole, to its last words
    captions = [i for i, e in enumerate(events) if isinstance(e, Partial) and e.speaker is Speaker.AGENT]
    assert captions and captions[0] < utterances[0], [type(e).__name__ for e in events]
    first = events[captions[0]]
    shown = normalize_text(f"{first.text} {first.pending}")
    assert shown and normalize_text(final.text).startswith(shown.split()[0])
    assert first.start_s <= final.start_s and first.t_s < final.end_s
    assert all(events[i].start_s == first.start_s for i in captions)  # all captions of that utterance
    settings, pad_s = call.settings, call.settings.endpointer.onset_pad_ms / 1000
    voice_s = first.start_s + pad_s  # (1 s of silence before the sentence: the whole onset padding is in)
    assert first.t_s - voice_s <= settings.caption_first_s + settings.caption_every_s + settings.caption_offer_s
    heard = [events[i].t_s for i in captions]
    assert len(heard) >= 2 and all(b - a >= settings.caption_every_s - 1e-3 for a, b in zip(heard, heard[1:]))
    logged = [json.loads(line) for line in call.log_path.read_text().splitlines()]
    types = [e["type"] for e in logged]
    assert "partial" in types and types.index("partial") < types.index("utterance")


@pytest.mark.slow
def test_a_doubtful_final_goes_out_first_and_its_30_s_redo_after_through_pulseaudio(
    pulse: PulseServer, recognizer, speak, tmp_path: Path
) -> None:
    """With every word in doubt (``short_window_min_word_prob`` 0.99), the utterance goes out with
    its short-window text and is decoded again in 30 s only afterwards (``LiveSettings.redo_later``);
    a redo that hears other words comes as a ``revision`` event with ``redo`` (in the JSONL too),
    after the utterance it revises; nothing is lost."""
    from dataclasses import replace

    from rapport_assist.recognizer import normalize_text
    from rapport_assist.types import TurnRevision

    doubting = recognizer.with_options(replace(recognizer.options, short_window_min_word_prob=0.99))
    sentence = "My name is Siobhan Okonkwo and my account number is four seven two nine."
    # digits unmasked: the redo is a revision when its words differ, digits included ("472" and
    # "4729" differ; masked, "###" and "####" read the same to normalize_text)
    events, call = play_agent_line(
        pulse, doubting, speak(sentence), tmp_path, redo_max_pass_s=60.0, mask_digits=False
    )  # redo even if slow
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert len(utterances) == 1, [u.text for u in utterances]
    utt = utterances[0]
    assert normalize_text(utt.text).startswith("my name is")
    assert call.stats["redo_later"] == 1
    redos = [p for p in call.passes if p.kind == "redo"]
    assert len(redos) == 1 and redos[0].speaker is Speaker.AGENT
    assert utt.timing is not None and redos[0].start_s >= utt.timing.recognizer_end_s  # out first, redone after
    assert redos[0].segment_start_s <= utt.start_s and utt.end_s <= redos[0].segment_end_s
    revisions = [e for e in events if isinstance(e, TurnRevision)]
    assert len(revisions) == call.stats["redo_revised"] <= 1
    logged = [json.loads(line) for line in call.log_path.read_text().splitlines()]
    if revisions:  # the 30 s window heard other words
        (revision,) = revisions
        assert events.index(revision) > events.index(utt)
        assert revision.redo and revision.before == (utt.text,)
        assert [u.index for u in revision.utterances] == [utt.index]
        assert normalize_text(revision.utterances[0].text) != normalize_text(utt.text)
        assert [e.get("redo") for e in logged if e["type"] == "revision"] == [True]
    else:
        assert not any(e["type"] == "revision" for e in logged)


@pytest.mark.slow
def test_a_final_the_short_window_finds_unsure_goes_out_first_and_is_redone_after_through_pulseaudio(
    pulse: PulseServer, recognizer, speak, tmp_path: Path
) -> None:
    """A no-speech score over the bar in the short window (here every decoding's: the bar is 0)
    with a fair log probability is a doubt of a kind in ``LiveSettings.redo_later_doubts``: the
    utterance goes out with the short window's text (the pass that made it kept that doubt and
    was not decoded again), and the 30 s decoding comes after it; without that kind in
    ``redo_later_doubts`` the 30 s decoding comes first, in the same pass."""
    from dataclasses import replace

    from rapport_assist.recognizer import normalize_text

    unsure = recognizer.with_options(replace(recognizer.options, max_no_speech_prob=0.0))
    sentence = "I can see the payment on your account and I will send you a receipt today."
    speech = speak(sentence)
    events, call = play_agent_line(pulse, unsure, speech, tmp_path, redo_max_pass_s=60.0)  # even if slow
    (utt,) = [e for e in events if isinstance(e, Utterance)]
    assert "see the payment" in normalize_text(utt.text)  # (a loaded machine may clip the first word)
    assert utt.timing is not None
    (made,) = [p for p in call.passes if p.kind in ("final", "early") and p.end_s == utt.timing.recognizer_end_s]
    assert made.doubt == "no_speech" and not made.redone  # out with the short window's text
    redos = [p for p in call.passes if p.kind == "redo"]
    assert len(redos) == 1 and redos[0].start_s >= utt.timing.recognizer_end_s
    assert call.stats["redo_later"] == 1

    events, call = play_agent_line(
        pulse, unsure, speech, tmp_path, redo_later_doubts=frozenset({"word"}), redo_max_pass_s=60.0
    )
    (utt,) = [e for e in events if isinstance(e, Utterance)]
    assert utt.timing is not None
    (made,) = [p for p in call.passes if p.kind in ("final", "early") and p.end_s == utt.timing.recognizer_end_s]
    assert made.doubt == "no_speech" and made.redone  # decoded again in 30 s before it went out
    assert not [p for p in call.passes if p.kind == "redo"] and call.stats["redo_later"] == 0
