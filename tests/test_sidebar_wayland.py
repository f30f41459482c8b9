"""The sidebar in a Wayland session: a real compositor (Weston, headless, with XWayland), the
panel in a child process. Natively a Wayland window can neither place itself nor stay on top,
so the panel runs on XWayland when the session has it, and on Wayland when it has not."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from rapport_assist.gui.app import platform_args  # noqa: E402
from x11_support import need_xlib  # noqa: E402

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"


@dataclass(frozen=True)
class Weston:
    socket: str  # WAYLAND_DISPLAY
    display: str  # its XWayland's DISPLAY
    runtime: Path  # XDG_RUNTIME_DIR, where the socket is

    def env(self, **changes: str) -> dict[str, str]:
        """A desktop session's environment: Wayland and XWayland, no platform chosen for Qt."""
        env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
        env.update(XDG_RUNTIME_DIR=str(self.runtime), WAYLAND_DISPLAY=self.socket, DISPLAY=self.display)
        env.update(PYTHONPATH=f"{SRC}{os.pathsep}{TESTS}", **changes)
        return env


@pytest.fixture
def weston(tmp_path):
    """Weston on a headless output (1280x800) with XWayland, gone after the test."""
    if shutil.which("weston") is None or shutil.which("Xwayland") is None:
        pytest.skip("weston or Xwayland is not installed (make setup installs weston and xwayland)")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    log = tmp_path / "weston.log"
    socket = f"wl-{os.getpid()}"
    server = subprocess.Popen(
        ["weston", "--backend=headless-backend.so", f"--socket={socket}", "--xwayland", f"--log={log}"]
        + ["--width=1280", "--height=800", "--idle-time=0"],
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        display = None
        deadline = time.monotonic() + 20
        while display is None and time.monotonic() < deadline and server.poll() is None:
            found = re.search(r"xserver listening on display (:\d+)", log.read_text() if log.exists() else "")
            display = found.group(1) if found and (runtime / socket).exists() else None
            time.sleep(0.05)
        if display is None:
            pytest.fail(f"weston did not start: {log.read_text() if log.exists() else 'no log'}")
        wm_ready(display, deadline)
        yield Weston(socket, display, runtime)
    finally:
        server.terminate()
        server.wait(10)


WM_CHECK = """
import sys, time
import Xlib.display
connection = Xlib.display.Display(sys.argv[1])
root, check = connection.screen().root, connection.intern_atom("_NET_SUPPORTING_WM_CHECK")
while root.get_full_property(check, 0) is None:
    time.sleep(0.05)
"""


def wm_ready(display: str, deadline: float) -> None:
    """Start Weston's XWayland (it starts at the first X client) and wait for its window manager,
    as a desktop session has both before the agent opens anything: a window mapped before the
    manager runs is placed by the shell when the manager adopts it, not where it asked. In a
    child: python-xlib keeps extension event numbers per process, and XWayland's differ from
    those of an Xvfb an earlier test in this worker opened."""
    need_xlib()
    try:
        subprocess.run(
            [sys.executable, "-c", WM_CHECK, display], check=True, timeout=max(1.0, deadline - time.monotonic())
        )
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
        pytest.fail(f"Weston's X window manager did not start: {exc}")


def test_the_platform_follows_the_session():
    assert platform_args({}) == ([], "")
    assert platform_args({"DISPLAY": ":0"}) == ([], "")  # Xorg
    args, note = platform_args({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"})
    assert args == ["-platform", "xcb;wayland"] and "runs on XWayland" in note and "QT_QPA_PLATFORM=wayland" in note
    args, note = platform_args({"WAYLAND_DISPLAY": "wayland-0"})
    assert args == [] and "move it beside the softphone yourself" in note
    # the agent's (or the desktop's) own choice wins, and is not commented on
    assert platform_args({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}) == ([], "")


PANEL = """
import json, os, sys, time
from pathlib import Path
from rapport_assist.gui.app import application, platform_args
app = application(platform_args(os.environ)[0])
from sidebar_support import build
window = build(Path({ini!r}))
window.show()
def settle(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
settle(2)
out = {{"platform": app.platformName(), "visible": window.isVisible()}}
if app.platformName() == "xcb":
    import Xlib.display
    display = Xlib.display.Display()
    root = display.screen().root
    x11 = display.create_resource_object("window", int(window.winId()))
    out.update(screen=root.get_geometry().width, qt=window.geometry().getRect(), hints=x11.get_wm_normal_hints().flags)
print(json.dumps(out), flush=True)
window.close()
"""


def panel(weston: Weston, tmp_path: Path, **env: str) -> dict:
    code = PANEL.format(ini=str(tmp_path / "s.ini"))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=weston.env(**env), timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_on_xwayland_the_panel_asks_for_its_dock_at_the_screen_edge(weston, tmp_path):
    """On XWayland the panel is an X11 window and asks for its place as on Xorg (a Wayland window
    cannot ask at all). Whether the desktop honours it is the desktop's: GNOME's and KDE's do;
    Weston's own X window manager sometimes places a new window itself, so the place asked for
    is what is checked, not where Weston put it."""
    need_xlib()
    shown = panel(weston, tmp_path)
    assert shown["platform"] == "xcb" and shown["visible"], shown
    us_position = 1  # ICCCM WM_NORMAL_HINTS: the position is the user's choice, to be kept
    assert shown["hints"] & us_position, shown
    x, y, width, height = shown["qt"]
    assert shown["screen"] == 1280 and (x + width, y, height) == (1280, 0, 800), shown  # the first-run dock


def test_with_no_x_server_to_reach_it_still_opens_on_wayland(weston, tmp_path):
    shown = panel(weston, tmp_path, DISPLAY=":4077")  # the session's XWayland is gone
    assert shown == {"platform": "wayland", "visible": True}


@pytest.mark.model
def test_the_sidebar_says_where_it_runs_in_a_wayland_session(weston, tmp_path):
    exe = Path(sys.executable).with_name("rapport-assist")
    done = subprocess.run(
        [str(exe), "sidebar", "--exit-when-ready", "--settings", str(tmp_path / "s.ini")],
        capture_output=True,
        text=True,
        env=weston.env(RAPPORT_ASSIST_DATA=str(tmp_path)),
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["platform"] == "xcb"
    assert "rapport-assist: Wayland session: the panel runs on XWayland" in done.stderr
