"""``rapport-assist sidebar`` from the command line: no display, bad input, a real start, Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rapport_assist.cli import main


def test_sidebar_with_a_missing_review_file_says_so(tmp_path: Path):
    err = io.StringIO()
    code = main(["sidebar", "--qa", str(tmp_path / "nope.jsonl")], io.StringIO(), err, environ={"DISPLAY": ":9"})
    assert code == 3 and "nope.jsonl does not exist" in err.getvalue()


@pytest.mark.slow
@pytest.mark.model
def test_sidebar_without_a_display_replays_the_demo_call_in_the_terminal():
    out, err = io.StringIO(), io.StringIO()
    code = main(["sidebar"], out, err, environ={})
    assert code == 0
    assert "no display found" in err.getvalue() and "demo_call.flac" in err.getvalue()
    text = out.getvalue()
    assert "CUSTOMER" in text and "you-not-we" in text and "angry-no-apology" in text


@pytest.mark.model
def test_sidebar_starts_warms_the_model_and_offers_the_demo_call_without_a_microphone(tmp_path: Path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RAPPORT_ASSIST_DATA=str(tmp_path))
    exe = Path(sys.executable).with_name("rapport-assist")
    done = subprocess.run(
        [str(exe), "sidebar", "--exit-when-ready", "--settings", str(tmp_path / "s.ini")],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["recognizer"].startswith("ready (tiny.en")
    assert report["mode"] == "qa" and report["review"] == "demo_call.flac"  # no live capture in this build
    assert report["rules"].endswith("rules loaded") or "lint warnings" in report["rules"]
    assert 0 < report["window_shown_s"] and report["window_shown_s"] <= report["ready_s"]
    assert (tmp_path / "s.ini").exists()  # settings were saved


class _Lines:
    """Reads a process's stream in a thread: ``wait_for(text)`` waits for a line holding it."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._wanted = ""
        self._found = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)
            if self._wanted and self._wanted in line:
                self._found.set()

    def wait_for(self, text: str, timeout_s: float) -> bool:
        self._wanted = text
        if any(text in line for line in self.lines):
            return True
        return self._found.wait(timeout_s)

    def text(self) -> str:
        self._thread.join(timeout=5)
        return "".join(self.lines)


@pytest.mark.model
def test_ctrl_c_closes_the_sidebar_like_its_own_close(tmp_path: Path):
    """Ctrl-C in the terminal that started the sidebar, during a review (the call timer ticking):
    the sidebar closes within seconds, one line says so, no traceback, exit 130 (the window's
    close stopping a call: test_sidebar_gui)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RAPPORT_ASSIST_DATA=str(tmp_path))
    exe = Path(sys.executable).with_name("rapport-assist")
    settings = tmp_path / "s.ini"
    proc = subprocess.Popen(
        [str(exe), "sidebar", "--demo", "--speed", "1", "--settings", str(settings)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # the offscreen platform says this when the window is shown (Ctrl-C is handled by then);
        # then a moment for the rules to load and the demo call to play (the call timer ticks)
        stderr = _Lines(proc.stderr)
        stderr.wait_for("propagateSizeHints", 60.0)
        time.sleep(4.0)
        assert proc.poll() is None, "the sidebar ended on its own"
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        try:
            code: int | None = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # before the fix: a traceback, and the window stayed open
            code = None
        took_s = time.monotonic() - sent
        err = stderr.text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    ours = [line for line in err.splitlines() if line.startswith("rapport-assist:")]
    assert ours[:1] == ["rapport-assist: interrupted, closing the sidebar"], err[-2000:]
    assert took_s < 10.0, f"{took_s:.1f} s from Ctrl-C to exit"
