"""One sidebar per user and settings: a second start hands its request to the open panel (a real
local socket between real processes) instead of opening a second panel."""

from __future__ import annotations

import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtCore import QDir, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from rapport_assist.gui import single  # noqa: E402
from sidebar_support import build  # noqa: E402
from test_sidebar_cli import _Lines  # noqa: E402
from test_sidebar_desk import LIVE_BESIDE_CRM  # noqa: E402


def test_the_name_is_the_users_and_the_settings(tmp_path):
    assert single.server_name(None) == single.server_name(None)
    assert single.server_name(tmp_path / "a.ini") != single.server_name(tmp_path / "b.ini")
    assert single.server_name(tmp_path / "a.ini") != single.server_name(None)
    assert single.server_name(tmp_path / "a.ini").startswith("rapport-assist-")


def test_the_default_settings_are_keyed_by_their_folder(tmp_path, monkeypatch):
    # two desktops' config folders (a second $XDG_CONFIG_HOME) are two sets of settings: two panels
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "one"))
    first = single.server_name(None)
    assert first == single.server_name(tmp_path / "one" / "rapport-assist" / "settings.json")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "two"))
    assert single.server_name(None) != first


def test_a_user_with_no_name_still_gets_a_socket(monkeypatch):
    # a uid with no passwd entry and no $USER (a container's user): getpass.getuser() raises
    def nameless() -> str:
        raise KeyError("getpwuid(): uid not found: 4321")

    monkeypatch.setattr(getpass, "getuser", nameless)
    assert Path(single.server_name(None)).name.startswith("rapport-assist-")


def test_the_socket_is_in_the_users_private_runtime_folder(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    assert Path(single.server_name(None)).parent == run
    run.chmod(0o777)  # not private: the temporary folder, as without one
    assert "/" not in single.server_name(None)
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert "/" not in single.server_name(None)


SQUAT = """
import socket, sys
other = socket.socket(socket.AF_UNIX)
other.bind(sys.argv[1])
other.listen()
print("listening", flush=True)
while True:
    asked = other.accept()[0]
    asked.recv(1000)
    asked.sendall(b"shown\\n")
    asked.close()
"""


def test_a_socket_another_user_put_in_the_temporary_folder_is_not_asked(tmp_path, monkeypatch):
    # the name is predictable from the user name: another user's socket there got the request
    # (the calls' paths) and its answer ended this start, so the sidebar never opened
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    squat = Path(QDir.tempPath()) / Path(single.server_name(tmp_path / "s.ini")).name
    other = subprocess.Popen([sys.executable, "-c", SQUAT, str(squat)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "listening"
        assert single.hand_over(single.server_name(tmp_path / "s.ini"), {"qa": "/calls/a.wav"}) is None
    finally:
        other.kill()
        other.wait()
        squat.unlink(missing_ok=True)


SECOND_START = """
import json, sys
from PySide6.QtCore import QCoreApplication
from rapport_assist.gui import single
app = QCoreApplication([])
print(json.dumps(single.hand_over(sys.argv[1], {"qa": "/calls/a.wav"})))
"""


def test_ctrl_c_ends_a_start_waiting_for_a_busy_panel(tmp_path):
    # the panel takes the connection but does not answer (still loading): the start waiting for
    # it ends at Ctrl-C, not after the whole wait for the answer
    path = tmp_path / "busy"
    busy = socket.socket(socket.AF_UNIX)
    busy.bind(str(path))
    busy.listen()
    try:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        waiting = subprocess.Popen(
            [sys.executable, "-c", SECOND_START + "\nprint('done')", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        busy.settimeout(30)
        taken = busy.accept()[0]  # connected: now it waits for the answer
        time.sleep(0.5)
        waiting.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, err = waiting.communicate(timeout=60)
        taken.close()
        assert time.monotonic() - started < 3 and "KeyboardInterrupt" in err, err
    finally:
        busy.close()


def test_a_request_reaches_the_open_panel_and_its_answer_comes_back(qtbot, tmp_path):
    name = single.server_name(tmp_path / "s.ini")
    assert single.hand_over(name, {}) is None  # nothing open: this start opens the panel
    asked = []
    listener = single.Listener(name, lambda request: asked.append(request) or "shown")
    assert listener.listen()
    # the second start, another process, blocks on its socket; this one answers from its event loop
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    second = subprocess.Popen([sys.executable, "-c", SECOND_START, name], stdout=subprocess.PIPE, text=True, env=env)
    qtbot.waitUntil(lambda: second.poll() is not None, timeout=30000)
    assert json.loads(second.stdout.read()) == "shown" and asked == [{"qa": "/calls/a.wav"}]
    listener.server.close()


def test_a_socket_left_by_a_crashed_panel_is_taken_over(qtbot, tmp_path):
    name = single.server_name(tmp_path / "s.ini")
    path = Path(QDir.tempPath()) / name  # where QLocalServer puts a name without a folder
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))  # bound and closed, never unlinked: as a killed process leaves it
    dead.close()
    try:
        assert path.exists() and single.hand_over(name, {}) is None
        listener = single.Listener(name, lambda request: "shown")
        assert listener.listen()
        listener.server.close()
    finally:
        path.unlink(missing_ok=True)


def test_a_live_panel_still_loading_keeps_its_socket(qtbot, tmp_path, monkeypatch):
    # the first panel listens, then loads spaCy and the rules before its event loop runs: a
    # second start then connects but has no answer yet. It must not take the socket over (a
    # second panel, and the first one orphaned), nor may a start that lost the race to listen
    name = single.server_name(tmp_path / "s.ini")
    asked = []
    first = single.Listener(name, lambda request: asked.append(request) or "shown")
    assert first.listen()
    monkeypatch.setattr(single, "REPLY_MS", 300)
    assert single.hand_over(name, {}) == single.NO_ANSWER  # a panel, though a busy one
    second = single.Listener(name, lambda request: "a second panel")
    assert not second.listen() and second.taken
    assert first.server.isListening() and not second.server.isListening()
    # the first panel's socket still reaches it once its event loop runs
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    third = subprocess.Popen([sys.executable, "-c", SECOND_START, name], stdout=subprocess.PIPE, text=True, env=env)
    qtbot.waitUntil(lambda: third.poll() is not None, timeout=30000)
    assert json.loads(third.stdout.read()) == "shown" and {"qa": "/calls/a.wav"} in asked
    first.server.close()


def test_a_panel_that_is_closing_stops_listening(qtbot, tmp_path, monkeypatch):
    # after its event loop ends the panel may take seconds more (the last call's recognition):
    # a start meanwhile found it listening, waited for an answer that never came and opened
    # nothing; now it opens a panel of its own at once
    name = single.server_name(tmp_path / "s.ini")
    listener = single.Listener(name, lambda request: "shown", QApplication.instance())
    assert listener.listen()
    QTimer.singleShot(0, QApplication.quit)
    QApplication.exec()
    monkeypatch.setattr(single, "REPLY_MS", 300)
    assert single.hand_over(name, {}) is None
    assert not listener.server.isListening()


LISTEN = """
import sys, time
from PySide6.QtCore import QCoreApplication
from rapport_assist.gui import single
app = QCoreApplication([])
listener = single.Listener(sys.argv[1], lambda request: "shown")
print(listener.listen(), flush=True)
end = time.monotonic() + 4
while time.monotonic() < end:  # a panel, up while the others start
    app.processEvents()
    time.sleep(0.01)
"""


def test_of_four_starts_at_once_one_listens(tmp_path):
    # a double click on the menu entry: each start finds no panel, then listens
    name = single.server_name(tmp_path / "s.ini")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    starts = [
        subprocess.Popen([sys.executable, "-c", LISTEN, name], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(4)
    ]
    said = [start.communicate(timeout=60)[0].strip() for start in starts]
    assert sorted(said) == ["False", "False", "False", "True"]


def test_the_panel_shows_itself_and_reviews_the_call_unless_a_live_call_is_on(qtbot, tmp_path, monkeypatch):
    window = build(tmp_path / "s.ini")
    qtbot.addWidget(window)
    opened = []
    monkeypatch.setattr(window, "open_qa", lambda path, **kw: opened.append(Path(path)))
    window.showMinimized()
    assert window.take_request({}) == "shown"
    assert window.isVisible() and not window.isMinimized()
    assert window.take_request({"qa": str(tmp_path / "call.wav")}) == "shown, reviewing call.wav"
    assert opened == [tmp_path / "call.wav"]
    assert window.start_live()
    answer = window.take_request({"qa": str(tmp_path / "other.wav")})
    assert answer == "shown; a live call is on, so other.wav was not opened (open it with Ctrl+O after the call)"
    assert opened == [tmp_path / "call.wav"]  # the live call goes on
    window.stop_call()


def _start(settings: Path, *argv: str, env: dict) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("rapport-assist")
    return subprocess.run(
        [str(exe), "sidebar", "--settings", str(settings), *argv], capture_output=True, text=True, env=env, timeout=180
    )


@pytest.mark.model
def test_a_second_start_hands_over_to_the_open_sidebar_and_ends(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RAPPORT_ASSIST_DATA=str(tmp_path))
    exe = Path(sys.executable).with_name("rapport-assist")
    settings = tmp_path / "s.ini"
    call = tmp_path / "call.jsonl"
    call.write_text(
        json.dumps({"speaker": "customer", "text": "My order never came."})
        + "\n"
        + json.dumps({"speaker": "agent", "text": "Let me check that for you."})
        + "\n"
    )
    first = subprocess.Popen(
        [str(exe), "sidebar", "--settings", str(settings)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        err = _Lines(first.stderr)
        assert err.wait_for("propagateSizeHints", 60.0), "the first sidebar did not show"  # offscreen: shown
        again = _start(settings, env=env)
        assert again.returncode == 0 and again.stdout == "", again.stderr[-2000:]
        assert again.stderr.splitlines() == ["rapport-assist: the sidebar is already open: shown"]
        review = _start(settings, "--qa", str(call), env=env)
        assert review.returncode == 0, review.stderr[-2000:]
        assert review.stderr.splitlines() == [
            "rapport-assist: the sidebar is already open: shown, reviewing call.jsonl"
        ]
        assert err.wait_for("a second start asked for the sidebar: shown, reviewing call.jsonl", 30.0)
        # the options the open panel does not take are named, not silently dropped
        fast = _start(settings, "--qa", str(call), "--speed", "2", "--no-mask", env=env)
        assert fast.returncode == 0, fast.stderr[-2000:]
        assert fast.stderr.splitlines() == [
            "rapport-assist: the sidebar is already open: shown, reviewing call.jsonl; not applied there: "
            "--speed, --no-mask (close it, then start it again with them)"
        ]
        # other settings are another panel: it opens (and here reports and closes) on its own
        other = _start(tmp_path / "other.ini", "--exit-when-ready", env=env)
        assert other.returncode == 0 and json.loads(other.stdout.strip().splitlines()[-1])["mode"], other.stderr
        assert first.poll() is None  # the first panel is still open
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=90) == 130
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


HANDED_OVER_MID_CALL = (
    LIVE_BESIDE_CRM
    + """
window.showMinimized()
assert wait_until(lambda: window.isMinimized(), 5)
crm.activateWindow()
assert wait_until(lambda: crm.isActiveWindow() and crm.hasFocus(), 5)
answers = [window.take_request({{}}), window.take_request({{"qa": "/calls/a.wav"}})]
shown = wait_until(lambda: window.isVisible() and not window.isMinimized(), 10)  # slower under load
wait_until(lambda: False, 1.5)  # then the window manager's turn to raise, perhaps focus
report = {{"answers": answers, "shown": shown}}
report.update(crm=crm.isActiveWindow() and crm.hasFocus(), panel=window.isActiveWindow())
window.stop_call()
window.take_request({{}})  # no call now: the panel may take the keyboard (the check can fail)
report["after_call"] = wait_until(lambda: window.isActiveWindow(), 5)
print(json.dumps(report), flush=True)
sys.stdin.readline()
window.close()
"""
)


def test_a_second_start_mid_call_shows_the_panel_but_the_crm_keeps_the_keyboard(openbox, tmp_path):
    """Under Openbox, which gives mapped windows the keyboard: the menu entry clicked during a live
    call brings the minimized panel back, and the agent's typing still goes to the CRM."""
    from x11_support import let_go, reply, sidebar_child

    with sidebar_child(openbox, HANDED_OVER_MID_CALL, tmp_path) as (child, _display):
        report = reply(child)
        assert report["answers"][0] == "shown" and "a live call is on" in report["answers"][1], report
        assert report["shown"] and report["crm"] and not report["panel"], report
        assert report["after_call"], report
        let_go(child)


def test_the_options_a_second_start_leaves_behind_are_every_flag_given_but_the_call():
    from rapport_assist.cli import build_parser
    from rapport_assist.cli.sidebar import _not_handed_over

    parser = build_parser()
    assert _not_handed_over(parser.parse_args(["sidebar", "--qa", "a.wav", "--settings", "s.ini", "--debug"])) == []
    argv = ["sidebar", "--demo", "--rules", "team.yaml", "--style", "dark", "--no-mask", "--hotkeys", "on"]
    assert _not_handed_over(parser.parse_args(argv)) == ["--rules", "--style", "--hotkeys", "--no-mask"]
    assert single.already_open("shown", ["--rules"]) == (
        "the sidebar is already open: shown; not applied there: --rules (close it, then start it again with them)"
    )


def test_a_call_asked_for_while_the_rules_load_opens_once_they_have(qtbot, tmp_path, monkeypatch):
    """A second start that names a call while the panel is still loading its rules (a review
    cannot start without them) gets its answer at once, and the call opens when the rules are in.
    It used to raise inside the listener, so the second start waited 30 s for an answer."""
    from rapport_assist.gui.app import SecondStarts

    window = build(tmp_path / "s.ini")
    qtbot.addWidget(window)
    opened = []
    monkeypatch.setattr(window, "open_qa", lambda path, **kw: opened.append(Path(path)))
    windows: list = []
    starts = SecondStarts(windows)
    assert starts.take({"qa": str(tmp_path / "early.wav")}) == "still opening"
    windows.append(window)
    window.showMinimized()
    assert window.rules is None  # (the panel shows before its rules load: run_sidebar)
    answer = starts.take({"qa": str(tmp_path / "call.wav")})
    assert answer == "shown; call.wav opens when the rules have loaded"
    assert window.isVisible() and not window.isMinimized() and opened == []
    assert starts.take({}) == "shown"  # only "show yourself": nothing to keep
    window.rules = object()  # attach_rules has run
    starts.open_waiting()
    assert opened == [tmp_path / "call.wav"]
    starts.open_waiting()  # once
    assert opened == [tmp_path / "call.wav"]
    assert starts.take({"demo": True}) == "shown, reviewing the demo call"
