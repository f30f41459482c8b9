"""The sidebar on a real X11 desk: a child process's window on Xvfb, bare and under Openbox (a
window manager that, like most desktops' managers, gives new and clicked windows the keyboard
unless they ask not to have it), the agent's CRM in another window, real pointer and keys
through XTEST. Offscreen Qt cannot show this: the focus there moves only when asked."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from x11_support import click, let_go, press, reply, sidebar_child, step  # noqa: E402

LIVE_BESIDE_CRM = """
import json, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from sidebar_support import build, nudge
from x11_support import focused_crm, settled_centre, wait_until

crm = focused_crm()
window = build(Path({ini!r}))
window.move(700, 40)
window.show()  # while the CRM has the keyboard: the sidebar must not take it, WM or not
assert window.start_live()
"""


CLICK_CHILD = (
    LIVE_BESIDE_CRM
    + """
window.backend.runner.push(nudge("older", 10.0, 900), nudge("newest", 11.0, 901))
assert wait_until(lambda: len(window.model.shown) == 2 and window.isVisible(), 5)
newest = window.model.shown[0].id
button = window.cards.widgets[newest].close_button
point = settled_centre(button)
after_show = crm.isActiveWindow() and crm.hasFocus()
print(json.dumps({{"crm": int(crm.winId()), "x": point.x(), "y": point.y(), "after_show": after_show}}), flush=True)
done = wait_until(lambda: newest not in window.cards.widgets and crm.text() == "x", 10)
print(json.dumps({{
    "done": done,
    "shown": [c.nudge.rule for c in window.model.shown],
    "crm_text": crm.text(),
    "crm_active": crm.isActiveWindow() and crm.hasFocus(),
    "sidebar_active": window.isActiveWindow(),
}}), flush=True)
sys.stdin.readline()  # the test checks the X input focus, then lets go
window.close()
"""
)


@pytest.mark.parametrize("desk", ["bare X", "openbox"])
def test_a_click_on_a_card_during_a_call_leaves_the_keyboard_in_the_crm(desk, request, tmp_path):
    """The agent clicks a card's dismiss button mid-call, then types on: the card goes and every
    key still lands in the CRM; showing the panel took nothing either."""
    xvfb = request.getfixturevalue("openbox" if desk == "openbox" else "xvfb")
    with sidebar_child(xvfb, CLICK_CHILD, tmp_path) as (child, display):
        ready = reply(child)
        assert ready.get("after_show"), ready  # shown beside the CRM: the CRM kept the keyboard
        click(display, ready["x"], ready["y"])
        press(display, "x")
        result = reply(child)
        assert result.get("done"), result
        assert result["shown"] == ["older"]  # the click dismissed the newest card
        assert result["crm_text"] == "x" and result["crm_active"] and not result["sidebar_active"]
        assert display.get_input_focus().focus.id == ready["crm"]  # the X input focus never moved
        let_go(child)


ON_TOP_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from PySide6.QtWidgets import QApplication, QLineEdit
app = QApplication([])
from sidebar_support import build, nudge
from x11_support import wait_until

window = build(Path({ini!r}))
window.move(700, 40)
window.show()
assert window.start_live()
crm = QLineEdit()
crm.setWindowTitle("CRM")
crm.setGeometry(0, 0, 1280, 800)  # the CRM across the whole screen, opened after the panel
crm.show()
crm.activateWindow()
crm.setFocus()
assert wait_until(lambda: crm.isActiveWindow() and crm.hasFocus(), 5), "the CRM did not get the keyboard"
print(json.dumps({{"sidebar": int(window.winId()), "crm": int(crm.winId())}}), flush=True)
sys.stdin.readline()  # the test clicks the CRM, which the window manager raises
window.backend.runner.push(nudge("newest", 11.0, 901))
assert wait_until(lambda: len(window.model.shown) == 1, 5)
print(json.dumps({{"crm_active": crm.isActiveWindow() and crm.hasFocus()}}), flush=True)
sys.stdin.readline()
window.close()
"""


def test_the_panel_stays_above_a_full_screen_crm_the_agent_clicks(openbox, tmp_path):
    """Under a window manager the CRM the agent clicks is raised: a panel that went under it would
    show its nudges to no one. The panel asks to stay on top, and Openbox keeps it there."""
    with sidebar_child(openbox, ON_TOP_CHILD, tmp_path) as (child, display):
        ids = reply(child)
        assert ids, "the child did not start"
        click(display, 200, 400)  # on the CRM, well away from the panel
        stacking = display.intern_atom("_NET_CLIENT_LIST_STACKING")
        root = display.screen().root

        def order() -> list[int]:
            prop = root.get_full_property(stacking, 0)
            return list(prop.value) if prop is not None else []

        def panel_above() -> bool:  # the list runs bottom to top
            now = order()
            return ids["crm"] in now and ids["sidebar"] in now and now.index(ids["sidebar"]) > now.index(ids["crm"])

        deadline = time.monotonic() + 1.0  # the manager raises the clicked CRM meanwhile
        while time.monotonic() < deadline:
            assert panel_above(), order()
            time.sleep(0.05)
        assert step(child) == {"crm_active": True}  # a nudge then: shown above, the CRM keeps the keyboard
        assert panel_above(), order()
        let_go(child)


FIRST_RUN_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication([])
from sidebar_support import build

from PySide6.QtCore import QSocketNotifier
window = build(Path({ini!r}))  # no saved place: docked on the right, full height
window.show()
print(json.dumps({{"sidebar": int(window.winId())}}), flush=True)
done = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
done.activated.connect(app.quit)  # Qt's events run, as in the app, until the test lets go
app.exec()
window.close()
"""


@pytest.mark.parametrize("desk", ["bare X", "openbox"])
def test_on_first_run_the_whole_panel_with_its_title_bar_is_on_the_screen(desk, request, tmp_path):
    """The first run docks the panel on the right, full height. Under a window manager its frame
    (title bar, borders) must fit too: docked before the manager framed it, the title bar sat
    above the screen, where no mouse can grab it. Read from the X server, not from Qt."""
    xvfb = request.getfixturevalue("openbox" if desk == "openbox" else "xvfb")
    with sidebar_child(xvfb, FIRST_RUN_CHILD, tmp_path) as (child, display):
        window = display.create_resource_object("window", reply(child)["sidebar"])
        root = display.screen().root
        extents = display.intern_atom("_NET_FRAME_EXTENTS")
        screen = (display.screen().width_in_pixels, display.screen().height_in_pixels)

        def frame() -> tuple[int, int, int, int]:  # left, top, right, bottom on the screen
            inner = window.get_geometry()
            at = window.translate_coords(root, 0, 0)
            left, right, top, bottom = (window.get_full_property(extents, 0) or _NoFrame()).value
            x, y = -at.x, -at.y  # translate_coords gives root's origin in the window
            return x - left, y - top, x + inner.width + right, y + inner.height + bottom

        def docked() -> bool:
            left, top, right, bottom = frame()
            return right == screen[0] and top == 0 and bottom == screen[1]

        deadline = time.monotonic() + 10  # the manager frames it, then the panel docks again
        while not docked() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert docked(), (frame(), screen)
        let_go(child)


class _NoFrame:
    value = (0, 0, 0, 0)  # bare X: no window manager, no frame


STOP_CHILD = (
    LIVE_BESIDE_CRM
    + """
window.backend.runner.push(nudge("newest", 11.0, 901))
assert wait_until(lambda: len(window.model.shown) == 1, 5)
button = window.call_button
point = settled_centre(button)
print(json.dumps({{"crm": int(crm.winId()), "x": point.x(), "y": point.y()}}), flush=True)
ended = wait_until(lambda: not window.controller.running and crm.text() == "x", 10)
wait_until(lambda: False, 0.5)  # the panel now takes focus again: time for a manager to give it
print(json.dumps({{
    "ended": ended,
    "crm_text": crm.text(),
    "crm_active": crm.isActiveWindow() and crm.hasFocus(),
    "sidebar_active": window.isActiveWindow(),
    "accepts_focus": window.accepts_focus(),
}}), flush=True)
sys.stdin.readline()
window.close()
"""
)


@pytest.mark.parametrize("desk", ["bare X", "openbox"])
def test_stopping_the_call_with_a_click_leaves_the_keyboard_in_the_crm(desk, request, tmp_path):
    """The agent clicks Stop at the call's end and goes on typing the notes in the CRM: the panel,
    which takes the keyboard again once the call is over (for the review), must not take it then."""
    xvfb = request.getfixturevalue("openbox" if desk == "openbox" else "xvfb")
    with sidebar_child(xvfb, STOP_CHILD, tmp_path) as (child, display):
        ready = reply(child)
        assert ready, "the child did not start"
        click(display, ready["x"], ready["y"])
        press(display, "x")
        result = reply(child)
        assert result.get("ended"), result
        assert result["accepts_focus"]  # the review may have the keyboard when the agent asks
        assert result["crm_text"] == "x" and result["crm_active"] and not result["sidebar_active"], result
        assert display.get_input_focus().focus.id == ready["crm"]
        let_go(child)


CRM_CHILD = """
import json, sys, time
sys.path.insert(0, {tests!r})
from PySide6.QtCore import QSocketNotifier
from PySide6.QtWidgets import QApplication
app = QApplication([])
from x11_support import focused_crm

crm = focused_crm()  # the agent's CRM, in a process of its own
print(json.dumps({{"crm": int(crm.winId())}}), flush=True)
asked = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)

def answer():  # a line: the text the test has typed, waited for (its keys may still be queued)
    line = sys.stdin.readline()
    if not line:
        app.quit()
        return
    deadline = time.monotonic() + 10
    while crm.text() != line.rstrip("\\n") and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    print(json.dumps({{"text": crm.text(), "active": crm.isActiveWindow() and crm.hasFocus()}}), flush=True)

asked.activated.connect(answer)
app.exec()
"""

SETTINGS_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from sidebar_support import build
from x11_support import wait_until

window = build(Path({ini!r}))
window.show()
assert window.start_live()
wait_until(lambda: False, 0.5)
seen = {{}}

def close_it():  # the agent looked at Settings, then closed it
    dialog = QApplication.activeModalWidget()
    seen["dialog_had_keyboard"] = dialog is not None and dialog.isActiveWindow()
    dialog.reject()

QTimer.singleShot(1000, close_it)
window.open_settings()
wait_until(lambda: False, 0.5)
print(json.dumps(seen), flush=True)
sys.stdin.readline()
window.close()
"""


@pytest.mark.parametrize("desk", ["bare X", "openbox"])
def test_after_settings_mid_call_the_keyboard_goes_back_to_the_crm(desk, request, tmp_path):
    """Settings… mid-call takes the keyboard (the agent types into it); once it closes, the
    keyboard is the CRM's again. Before, it was left with no window (the manager offered it to the
    panel, which refuses it mid-call): the agent's next words went nowhere."""
    xvfb = request.getfixturevalue("openbox" if desk == "openbox" else "xvfb")
    with sidebar_child(xvfb, CRM_CHILD, tmp_path) as (crm, display):
        crm_id = reply(crm)["crm"]
        with sidebar_child(xvfb, SETTINGS_CHILD, tmp_path) as (child, _):
            seen = reply(child)
            assert seen.get("dialog_had_keyboard"), seen
            assert display.get_input_focus().focus.id == crm_id
            press(display, "x")
            crm.stdin.write("x\n")
            crm.stdin.flush()
            assert reply(crm) == {"text": "x", "active": True}
            let_go(child)
        crm.stdin.close()
        assert crm.wait(20) == 0


SILENT_CHILD = """
import sys, time
sys.stdin.readline()
time.sleep(600)  # told to go on, it never answers
"""


def test_a_child_that_never_answers_fails_its_test_and_does_not_hang_the_run(xvfb, tmp_path, monkeypatch):
    """A stuck child (a deadlock, a wait with no end) must fail its test: the suite has no
    per-test timeout, and a read with none would hang the whole run (and a CI job) instead."""
    import threading

    import x11_support

    monkeypatch.setattr(x11_support, "REPLY_TIMEOUT_S", 1.0)
    outcome: list[BaseException] = []

    def go_on(child) -> None:
        try:
            step(child)
        except BaseException as exc:  # pytest.fail raises a BaseException
            outcome.append(exc)

    with sidebar_child(xvfb, SILENT_CHILD, tmp_path) as (child, _display):
        thread = threading.Thread(target=go_on, args=(child,), daemon=True)
        thread.start()
        thread.join(10)
        assert not thread.is_alive(), "step() still waits for the child"
    assert outcome and "said nothing" in str(outcome[0]), outcome


MENU_CHILD = (
    LIVE_BESIDE_CRM
    + """
button = window.menu_button
point = settled_centre(button)
said = []

def say_opened():  # runs in the menu's own event loop, which holds the code below while it is open
    if window.menu.isVisible() and not said:
        said.append(True)
        print(json.dumps({{"opened": True}}), flush=True)
    elif said == [True] and not window.menu.isVisible():
        said.append(False)
        print(json.dumps({{"opened": False}}), flush=True)

watch = QTimer()
watch.timeout.connect(say_opened)
watch.start(50)
print(json.dumps({{"crm": int(crm.winId()), "x": point.x(), "y": point.y()}}), flush=True)
closed = wait_until(lambda: not window.menu.isVisible() and crm.text() == "x", 10)
print(json.dumps({{
    "closed": closed,
    "menu_visible": window.menu.isVisible(),
    "crm_text": crm.text(),
    "crm_active": crm.isActiveWindow() and crm.hasFocus(),
}}), flush=True)
sys.stdin.readline()
window.close()
"""
)


@pytest.mark.parametrize("desk", ["bare X", "openbox"])
def test_the_menu_opened_and_closed_mid_call_leaves_the_keyboard_in_the_crm(desk, request, tmp_path):
    """The agent opens the panel's menu mid-call, changes their mind (Esc) and types on: the
    menu had the keys while open, the CRM has them again after."""
    xvfb = request.getfixturevalue("openbox" if desk == "openbox" else "xvfb")
    with sidebar_child(xvfb, MENU_CHILD, tmp_path) as (child, display):
        ready = reply(child)
        click(display, ready["x"], ready["y"])
        assert reply(child) == {"opened": True}
        press(display, "Escape")
        assert reply(child) == {"opened": False}  # the menu has let go of the keys
        press(display, "x")
        result = reply(child)
        assert result == {"closed": True, "menu_visible": False, "crm_text": "x", "crm_active": True}, result
        assert display.get_input_focus().focus.id == ready["crm"]
        let_go(child)
