"""Shared fixtures: real speech from espeak-ng, an audio file writer, the model (once per session),
a private PulseAudio server, and a real X display (Xvfb, optionally with a window manager)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from pathlib import Path
from collections.abc import Callable

import av
import numpy as np
import pytest

from rapport_assist.audio import decode_channels
from x11_support import Xvfb, need_xlib, wait_until_plain

# Sidebar tests (pytest-qt) drive the real window on Qt's offscreen platform unless a display
# platform was chosen (e.g. QT_QPA_PLATFORM=xcb under xvfb-run).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_LAYOUTS = {1: "mono", 2: "stereo", 4: "quad"}


@pytest.fixture(scope="session")
def speak(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], np.ndarray]:
    """``speak(text)`` -> espeak-ng (en-us) speech as 16 kHz float32, cached per text."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is not installed; it is a required test dependency: run 'make setup'")
    folder = tmp_path_factory.mktemp("espeak")
    cache: dict[str, np.ndarray] = {}

    def _speak(text: str) -> np.ndarray:
        if text not in cache:
            path = folder / f"{len(cache)}.wav"
            subprocess.run([espeak, "-v", "en-us", "-w", str(path), text], check=True, capture_output=True)
            cache[text] = decode_channels(path).channels[0]
        return cache[text]

    return _speak


def _write_audio(
    path: Path, channels: np.ndarray, rate_hz: int, codec: str = "pcm_s16le", options: dict[str, str] | None = None
) -> Path:
    """Encode ``channels`` (shape (n_channels, n_samples), float in [-1, 1]) with PyAV; ``options``:
    the encoder's (FFmpeg's own Vorbis encoder needs ``{"strict": "experimental"}``)."""
    data = np.ascontiguousarray(np.atleast_2d(channels), dtype=np.float32)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=rate_hz, layout=_LAYOUTS[data.shape[0]], options=options or {})
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=stream.layout.name)
        frame.sample_rate = rate_hz
        encoder_format = stream.codec_context.codec.audio_formats[0].name
        converter = av.AudioResampler(format=encoder_format, layout=stream.layout.name, rate=rate_hz)
        for converted in converter.resample(frame) + converter.resample(None):
            out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="session")
def write_audio() -> Callable[..., Path]:
    """``write_audio(path, channels, rate_hz, codec='pcm_s16le', options=None)`` encodes a test recording."""
    return _write_audio


@pytest.fixture(scope="session")
def recognizer():
    """The default tiny.en recognizer, loaded and warmed up once per test session."""
    from rapport_assist.recognizer import Recognizer, RecognizerOptions

    rec = Recognizer(RecognizerOptions())
    rec.warm_up()
    return rec


@pytest.fixture
def pulse():
    """A private PulseAudio server with two null sinks (agent_line, customer_line); skipped with
    the reason when PulseAudio cannot run here (``make setup`` installs it)."""
    from pulse_server import PulseServer

    why = PulseServer.unavailable()
    if why:
        pytest.skip(why)
    try:
        server = PulseServer(["agent_line", "customer_line"]).__enter__()
    except RuntimeError as exc:
        pytest.skip(f"pulseaudio cannot start here: {exc}")
    yield server
    server.__exit__(None, None, None)


@pytest.fixture
def xvfb():
    """A fresh Xvfb display (``.name``: ':N', ``.server``: its process), gone after the test."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (make setup installs xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen(
        # -noreset: a test's next client must not meet the reset that follows the last one leaving
        ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-noreset", "-screen", "0", "1280x800x24"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 20)
        number = os.read(read, 16).decode().strip() if ready else ""
        if not number:
            pytest.skip("Xvfb did not start")
        yield Xvfb(f":{number}", server)
    finally:
        os.close(read)
        server.terminate()
        server.wait(10)


@pytest.fixture
def openbox(xvfb):
    """Openbox, a real window manager, on the test's Xvfb: it focuses new windows unless they
    ask not to be, as most desktops' managers do (bare Xvfb moves the focus only on request)."""
    if shutil.which("openbox") is None:
        pytest.skip("openbox is not installed (make setup installs it)")
    need_xlib()
    import Xlib.display
    from Xlib import X

    manager = subprocess.Popen(
        ["openbox", "--sm-disable"],
        env={**os.environ, "DISPLAY": xvfb.name},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    display = Xlib.display.Display(xvfb.name)
    try:
        # ready once it shows a window: one mapped while it still starts up is never shown (its
        # _NET_SUPPORTING_WM_CHECK comes earlier), so a probe window is mapped until one shows
        root = display.screen().root

        def shows_a_window() -> bool:
            probe = root.create_window(0, 0, 8, 8, 0, display.screen().root_depth, X.InputOutput)
            probe.map()
            display.sync()
            shown = wait_until_plain(lambda: probe.get_attributes().map_state == X.IsViewable, 0.3)
            probe.destroy()
            display.sync()
            return shown

        assert wait_until_plain(shows_a_window, 20), "openbox did not start"
        yield xvfb
    finally:
        display.close()
        manager.terminate()
        manager.wait(10)


@pytest.fixture(scope="session")
def annotator():
    """The real spaCy annotator, once per session (tests that read parses and rule matches)."""
    from rapport_assist.annotate import Annotator

    return Annotator()


@pytest.fixture(scope="session")
def rules():
    """The default rule packs as shipped (``rules/``), loaded once per session."""
    from rapport_assist.rules import default_rules_dir, load_rules

    return load_rules([default_rules_dir()])
