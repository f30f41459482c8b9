"""Real X11 for the sidebar's desk tests: an Xvfb display (the ``xvfb`` fixture in conftest),
optionally with a real window manager (``openbox``), a child sidebar on it, and XTEST input from a
display connection of the test's own. No Qt at import: the conftest loads this for every test."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

HERE = Path(__file__).resolve().parent
# how long a test waits for a child's next report: far longer than any child's own waits (10 s at
# most), so reached only by a stuck child, which then fails its test instead of hanging the run
REPLY_TIMEOUT_S = 60.0


class Xvfb:
    def __init__(self, name: str, server: subprocess.Popen) -> None:
        self.name, self.server = name, server


def need_xlib() -> None:
    try:
        import Xlib.display  # noqa: F401
    except ImportError as exc:  # python-xlib, or its six, missing
        pytest.skip(f"python-xlib cannot be imported ({exc}): run 'make setup'")


def wait_until(ready: Callable[[], object], timeout_s: float) -> bool:
    """qtbot.waitUntil for a child with no pytest: Qt's events (if Qt runs) are served while it
    polls."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            return False
        if QApplication.instance() is not None:
            QApplication.processEvents()
        time.sleep(0.01)
    return True


def wait_until_plain(ready: Callable[[], object], timeout_s: float) -> bool:
    """Poll ``ready`` until it holds or ``timeout_s`` passes (no Qt)."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def focused_crm():
    """In a child: a stand-in for the agent's CRM (a text field titled CRM at (40, 60)) shown
    with the keyboard."""
    from PySide6.QtWidgets import QLineEdit

    crm = QLineEdit()
    crm.setWindowTitle("CRM")
    crm.setGeometry(40, 60, 420, 40)
    crm.show()
    crm.activateWindow()
    crm.setFocus()
    assert wait_until(lambda: crm.isActiveWindow() and crm.hasFocus(), 5), "the CRM did not get the keyboard"
    return crm


def settled_centre(widget, timeout_s: float = 10):
    """In a child: the screen point at the centre of ``widget`` once it holds still (a window
    manager may still be framing and placing its window)."""
    place: list = []

    def settled() -> bool:
        place.append(widget.mapToGlobal(widget.rect().center()))
        return widget.isVisible() and len(place) > 20 and place[-1] == place[-20]

    assert wait_until(settled, timeout_s), "the sidebar did not settle on the screen"
    return place[-1]


def press(display, *names: str) -> None:
    """Press the keys ``names`` together through XTEST, then let them go in reverse order."""
    from Xlib import XK, X
    from Xlib.ext import xtest

    codes = [display.keysym_to_keycode(XK.string_to_keysym(n)) for n in names]
    for keycode in codes:
        xtest.fake_input(display, X.KeyPress, keycode)
    for keycode in reversed(codes):
        xtest.fake_input(display, X.KeyRelease, keycode)
    display.sync()


def click(display, x: int, y: int) -> None:
    """Move the pointer to (x, y) on the screen and click the left button, through XTEST."""
    from Xlib import X
    from Xlib.ext import xtest

    xtest.fake_input(display, X.MotionNotify, x=x, y=y)
    display.sync()
    xtest.fake_input(display, X.ButtonPress, 1)
    xtest.fake_input(display, X.ButtonRelease, 1)
    display.sync()


@contextlib.contextmanager
def sidebar_child(xvfb: Xvfb, template: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, object]]:
    """A child sidebar on the test's Xvfb (xcb, an X11 session) from the code ``template``
    (``{tests}``: this folder, ``{ini}``: a settings file), and a display connection of the
    test's own: (child, display); both ended after."""
    need_xlib()
    import Xlib.display

    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(DISPLAY=xvfb.name, QT_QPA_PLATFORM="xcb", XDG_SESSION_TYPE="x11")
    code = template.format(tests=str(HERE), ini=str(tmp_path / "sidebar.ini"))
    child = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    replies: queue.Queue[str] = queue.Queue()

    def pump() -> None:  # the child's lines, read off the pipe as they come; "" at its end
        assert child.stdout is not None
        for line in child.stdout:
            replies.put(line)
        replies.put("")

    threading.Thread(target=pump, name="child-stdout", daemon=True).start()
    child.replies = replies  # type: ignore[attr-defined]
    display = Xlib.display.Display(xvfb.name)
    try:
        assert child.stdout is not None and child.stdin is not None
        yield child, display
    finally:
        display.close()
        if child.poll() is None:
            child.kill()
            child.wait()


def reply(child: subprocess.Popen) -> dict:
    """The child's next report (a JSON line; {} once it has ended); the test fails if the child
    says nothing for REPLY_TIMEOUT_S."""
    replies: queue.Queue[str] = child.replies  # type: ignore[attr-defined]
    try:
        line = replies.get(timeout=REPLY_TIMEOUT_S)
    except queue.Empty:
        pytest.fail(f"the child said nothing in {REPLY_TIMEOUT_S:.0f} s")
    if not line:
        replies.put("")  # ended: so it stays for a later read
    return json.loads(line or "{}")


def let_go(child: subprocess.Popen) -> None:
    """Tell the child its test is done (a line on its stdin); it must close and end cleanly."""
    assert child.stdin is not None
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.wait(20) == 0


def step(child: subprocess.Popen) -> dict:
    """Tell the child to go on (a line on its stdin); what it reports next."""
    assert child.stdin is not None
    child.stdin.write("\n")
    child.stdin.flush()
    return reply(child)
