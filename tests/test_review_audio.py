"""QA review sound: the WSOLA stretch on its own, then the sidebar's review played through a real
PulseAudio null sink (what arrives at the sink's monitor is recorded and checked against the
recording at the review clock's position, after seeks and at 2×), and a review without any
output device, which goes on silently and says so."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.capture import wait_portaudio_idle
from rapport_assist.review_audio import Stretch

RATE = 16000
LOW_HZ, HIGH_HZ = 500.0, 1250.0


def _tone(hz: float, seconds: float, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.4 * np.sin(2 * np.pi * hz * t + phase)).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * RATE / len(x))


def _band(x: np.ndarray, hz: float) -> float:
    """Share of the signal's energy within ±60 Hz of ``hz``."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(spectrum[np.abs(freqs - hz) < 60].sum() / max(spectrum.sum(), 1e-12))


def test_stretch_at_one_x_gives_the_samples_back() -> None:
    audio = np.random.default_rng(1).standard_normal(RATE * 2).astype(np.float32) * 0.1
    s = Stretch(audio)
    out = s.render(RATE, 1.0)[:, 0]
    half = s.win // 2  # the first half frame fades in
    assert np.max(np.abs(out[half:] - audio[half:RATE])) < 1e-5
    assert s.heard_s() == pytest.approx(1.0)


@pytest.mark.parametrize("speed", [2.0, 4.0])
def test_stretch_keeps_the_pitch_and_runs_at_speed(speed: float) -> None:
    audio = np.concatenate([_tone(LOW_HZ, 3.0), _tone(HIGH_HZ, 5.0)])
    s = Stretch(audio)
    out = np.concatenate([s.render(512, speed) for _ in range(30)])[:, 0]  # 0.96 s of output
    assert s.heard_s() == pytest.approx(0.96 * speed, abs=0.03)
    head = out[800 : int(2.5 / speed * RATE)]
    assert _peak_hz(head) == pytest.approx(LOW_HZ, abs=15)  # not 1000 or 2000 Hz: the pitch is kept
    assert _band(head, LOW_HZ) > 0.9
    s.jump(4.0)
    tail = np.concatenate([s.render(512, speed) for _ in range(10)])[800:, 0]
    assert _peak_hz(tail) == pytest.approx(HIGH_HZ, abs=15)
    assert np.sqrt(np.mean(tail**2)) == pytest.approx(0.4 / np.sqrt(2), rel=0.15)  # no loss in level


def test_a_device_at_48_khz_gets_the_same_sound() -> None:
    """For an output that does not take 16 kHz the recording is resampled; pitch and pace stay."""
    from rapport_assist.review_audio import _resample

    audio = _resample(_tone(LOW_HZ, 2.0)[:, None], RATE, 48000)
    assert audio.shape == (96000, 1)
    s = Stretch(audio, 48000)
    out = s.render(48000, 2.0)[:, 0]
    assert s.heard_s() == pytest.approx(2.0, abs=0.03)
    spectrum = np.abs(np.fft.rfft(out[2000:40000] * np.hanning(38000)))
    assert np.argmax(spectrum) * 48000 / 38000 == pytest.approx(LOW_HZ, abs=15)


# -- the sidebar ------------------------------------------------------------------------------

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtCore import QSettings  # noqa: E402

from rapport_assist.assist import AssistModel, FeedbackLog  # noqa: E402
from rapport_assist.gui.app import SidebarOptions, attach_rules  # noqa: E402
from rapport_assist.gui.controller import Prefs  # noqa: E402
from rapport_assist.gui.window import SidebarWindow  # noqa: E402
from rapport_assist.rules import default_rules_dir  # noqa: E402
from sidebar_support import LoadedBackend  # noqa: E402


@pytest.fixture
def review_window(qtbot, recognizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("RAPPORT_ASSIST_DATA", str(tmp_path / "data"))

    def make() -> SidebarWindow:
        prefs = Prefs(QSettings(str(tmp_path / "sidebar.ini"), QSettings.Format.IniFormat))
        options = SidebarOptions(rules=[default_rules_dir()], warm_up=False)
        backend = LoadedBackend(options, recognizer)
        window = SidebarWindow(AssistModel(prefs.budget(), FeedbackLog(tmp_path / "feedback.jsonl")), prefs, backend)
        attach_rules(window, backend, options.rules)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def tones(write_audio, tmp_path: Path) -> Path:
    """A two-side recording: 0–10 s a low tone, 10–14 s silence, 14–24 s a high tone (on both sides,
    a quarter period apart: the same samples on both channels would be one signal saved twice,
    which a replay refuses to split into two sides)."""

    def side(phase: float) -> np.ndarray:
        gap = np.zeros(4 * RATE, np.float32)
        return np.concatenate([_tone(LOW_HZ, 10.0, phase), gap, _tone(HIGH_HZ, 10.0, phase)])

    return write_audio(tmp_path / "tones.wav", np.stack([side(0.0), side(np.pi / 2)]), RATE)


class MonitorRecorder:
    """Records a PulseAudio sink's monitor with parec while open; ``take()`` gives what arrived."""

    def __init__(self, pulse, sink: str) -> None:
        self._proc = subprocess.Popen(
            [
                "parec",
                f"--device={sink}.monitor",
                f"--rate={RATE}",
                "--channels=1",
                "--format=float32le",
                "--latency-msec=20",
            ],
            env=pulse._env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        while True:
            chunk = self._proc.stdout.read1(4096)
            if not chunk:
                return
            with self._lock:
                self._data += chunk

    def started(self) -> bool:
        """True once parec delivers (it takes a moment to connect on a busy machine)."""
        with self._lock:
            return len(self._data) > 0

    def take(self) -> np.ndarray:
        """Everything recorded since the last ``take()``."""
        with self._lock:
            data, self._data = bytes(self._data), bytearray()
        return np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4")

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._thread.join(5)


def _settled(recorder: MonitorRecorder, qtbot, seconds: float, skip_s: float = 0.7) -> np.ndarray:
    """What reached the monitor over the next ``seconds``, without its first ``skip_s`` (the
    output's latency and the jump)."""
    recorder.take()
    qtbot.wait(int(seconds * 1000))
    return recorder.take()[int(skip_s * RATE) :]


@pytest.mark.slow
@pytest.mark.model
def test_review_sound_reaches_a_pulseaudio_sink_and_follows_seeks(qtbot, review_window, tones: Path) -> None:
    from pulse_server import PulseServer

    why = PulseServer.unavailable()
    if why:
        pytest.skip(why)
    with PulseServer(["review_out"]) as pulse:
        recorder = MonitorRecorder(pulse, "review_out")
        qtbot.waitUntil(recorder.started, timeout=10000)
        try:
            window = review_window()
            window.open_qa(tones, paused=True, speed=1.0)
            runner = window.controller.runner
            qtbot.waitUntil(lambda: runner.playback.finished, timeout=120000)
            qtbot.waitUntil(lambda: window.player.state != "opening", timeout=20000)
            assert window.player.state == "ready", window.player.message
            qtbot.waitUntil(lambda: "playing through" in window.status_panel.sound_text.text(), timeout=5000)
            assert window.status_panel.sound_text.isVisible()
            assert not window.status_panel.texts["microphone"].isVisible()
            assert not window.call_button.isVisible()

            silent = _settled(recorder, qtbot, 1.0, skip_s=0.2)  # paused: nothing plays
            assert len(silent) > 0 and np.sqrt(np.mean(silent**2)) < 0.01

            window.seek(2.0)
            window.play_pause()
            low = _settled(recorder, qtbot, 2.0)
            assert len(low) > RATE, "no audio reached the sink's monitor"
            assert np.sqrt(np.mean(low**2)) > 0.1
            assert _peak_hz(low) == pytest.approx(LOW_HZ, abs=15) and _band(low, LOW_HZ) > 0.8

            window.seek(15.0)  # into the high tone
            high = _settled(recorder, qtbot, 2.0)
            assert _peak_hz(high) == pytest.approx(HIGH_HZ, abs=15) and _band(high, LOW_HZ) < 0.05

            window.seek(10.5)  # back, into the silence
            quiet = _settled(recorder, qtbot, 1.8)
            assert np.sqrt(np.mean(quiet[: RATE // 2] ** 2)) < 0.01

            window.set_speed(2.0)
            window.seek(16.0)
            fast = _settled(recorder, qtbot, 1.5)
            assert _peak_hz(fast) == pytest.approx(HIGH_HZ, abs=15)  # 2× with the pitch kept
            assert 16.0 + 1.4 < runner.call_time_s() < 16.0 + 2 * 1.5 + 0.6

            window.play_pause()  # pause: the sink goes quiet
            paused = _settled(recorder, qtbot, 1.0, skip_s=0.4)
            assert np.sqrt(np.mean(paused**2)) < 0.01
        finally:
            recorder.close()
            window.close()
            assert wait_portaudio_idle(10.0), "the review's sound output did not close"


@pytest.mark.slow
@pytest.mark.model
def test_review_without_an_output_device_goes_on_silently_and_says_so(
    qtbot, review_window, tones: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sounddevice as sd

    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/pulse/native")
    sd._terminate()  # PortAudio re-reads its devices: with no sound server there are none
    sd._initialize()
    try:
        window = review_window()
        window.open_qa(tones, speed=1.0)
        qtbot.waitUntil(lambda: window.player.state != "opening", timeout=20000)
        assert window.player.state == "silent"
        qtbot.waitUntil(lambda: "goes on silently" in window.status_panel.sound_text.text(), timeout=5000)
        assert "no audio output device found" in window.status_panel.sound_text.text()  # not an error's text
        assert window.status_panel.sound_text.isVisible()
        qtbot.waitUntil(lambda: window.controller.call_time_s() > 1.0, timeout=120000)  # the review goes on
        assert window.controller.mode == "qa"
        window.close()
    finally:
        monkeypatch.undo()
        wait_portaudio_idle(10.0)
        sd._terminate()  # leave PortAudio's device list as the other tests expect it
        sd._initialize()
