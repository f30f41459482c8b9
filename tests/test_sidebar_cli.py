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
from team_rules_fixture import TEAM_RULES


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


CALL_TXT = """Mr Jones: My internet keeps dropping and nobody has fixed it, this is ridiculous.
Julie: You need to restart the router.
Mr Jones: I already did that three times.
Julie: I will send a technician tomorrow.
"""


def test_sidebar_qa_without_a_display_replays_that_file_in_the_terminal_as_replay_does(tmp_path: Path):
    """A user who names a file to review gets that file, not the demo call: the same events as
    'replay FILE' with the same rules and options, after one line saying why."""
    call = tmp_path / "call.txt"
    call.write_text(CALL_TXT, encoding="utf-8")
    team = tmp_path / "team.yaml"
    team.write_text(TEAM_RULES, encoding="utf-8")
    options = ["--rules", str(team), "--speaker-map", "Julie=agent,Mr Jones=customer", "--format", "jsonl"]
    out, err = io.StringIO(), io.StringIO()
    code = main(["sidebar", "--qa", str(call), *options], out, err, environ={})
    assert code == 0, err.getvalue()
    assert err.getvalue().splitlines() == [
        "rapport-assist: no display found ($DISPLAY and $WAYLAND_DISPLAY are not set), so the sidebar cannot open "
        f"— replaying {call} in the terminal instead"
    ]
    replayed, replay_err = io.StringIO(), io.StringIO()
    assert main(["replay", str(call), *options], replayed, replay_err, environ={}) == 0, replay_err.getvalue()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    for event in events:
        event.pop("processing", None)  # call_end: the seconds this run took
    assert events == [
        {k: v for k, v in json.loads(line).items() if k != "processing"} for line in replayed.getvalue().splitlines()
    ]
    rules = [event.get("rule") for event in events]
    assert "router-tip" in rules and "you-not-we" in rules  # the team rule and the default packs
    assert "Julie" not in out.getvalue() and "restart the router" in out.getvalue()


def test_sidebar_alone_without_a_display_still_replays_the_demo_call(monkeypatch: pytest.MonkeyPatch):
    from rapport_assist.cli import sidebar

    replayed = []
    monkeypatch.setattr(sidebar, "_replay", lambda args, spec, stdout, stderr: replayed.append(spec) or 0)
    err = io.StringIO()
    assert main(["sidebar"], io.StringIO(), err, environ={}) == 0
    assert [spec.path for spec in replayed] == [sidebar.DEMO_CALL]
    assert err.getvalue().splitlines() == [
        "rapport-assist: no display found ($DISPLAY and $WAYLAND_DISPLAY are not set), so the sidebar cannot open "
        f"— replaying the bundled demo call ({sidebar.DEMO_CALL.name}) in the terminal instead"
    ]


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
        try:
            # a wide bound: closing waits for the call's last recognition, which a loaded machine
            # (make test runs two workers) can stretch well past the few seconds it takes idle
            code: int | None = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:  # before the fix: a traceback, and the window stayed open
            code = None
        err = stderr.text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    ours = [line for line in err.splitlines() if line.startswith("rapport-assist:")]
    assert ours[:1] == ["rapport-assist: interrupted, closing the sidebar"], err[-2000:]
