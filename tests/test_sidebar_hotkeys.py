"""System-wide hotkeys for the newest card (opt-in): the combos and their lock variants, the reasons
they are unavailable, the window acting on a hotkey without taking the focus (a fake backend,
offscreen), the settings, ``--hotkeys``, and one real run: the sidebar under Xvfb grabbing the
keys with python-xlib, a combo typed with XTEST while a stand-in CRM holds the keyboard."""

from __future__ import annotations

import io
import os
import queue
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtWidgets import QApplication, QLineEdit  # noqa: E402

from rapport_assist import hotkeys  # noqa: E402
from rapport_assist.gui.settings_dialog import SettingsDialog  # noqa: E402
from rapport_assist.gui.window import SidebarWindow  # noqa: E402
from rapport_assist.hotkeys import (  # noqa: E402
    DEFAULT_COMBOS,
    Combo,
    Hotkeys,
    HotkeysUnavailable,
    lock_variants,
    parse_bindings,
    parse_combo,
    platform_backend,
)
from sidebar_support import build, nudge  # noqa: E402
from x11_support import let_go, need_xlib, press, reply, sidebar_child, step, wait_until  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


# -- combos --------------------------------------------------------------------------------------
def test_combos_parse_in_any_spelling_and_print_one_way():
    assert parse_combo("ctrl + alt + j") == Combo(("ctrl", "alt"), "J")
    assert str(parse_combo("Alt+Control+h")) == "Ctrl+Alt+H"
    assert str(parse_combo("win+shift+F5")) == "Shift+Super+F5"
    assert [str(parse_combo(t)) for t in DEFAULT_COMBOS.values()] == list(DEFAULT_COMBOS.values())


@pytest.mark.parametrize(
    "text, says",
    [
        ("J", "needs Ctrl, Alt or Super"),  # would take the letter from all typing
        ("Shift+J", "needs Ctrl, Alt or Super"),
        ("Ctrl+Alt+", "not a key combination"),
        ("Ctrl+Hyper+J", "'Hyper'"),
        ("Ctrl+Ctrl+J", "twice"),
        ("Ctrl+Alt+Enter", "'Enter'"),
        ("ctrl+alt+f3", "text console"),  # Linux switches to VT 3: the desktop, the call, the CRM gone
        ("Ctrl+Alt+Super+F1", "text console"),
        ("", "not a key combination"),
    ],
)
def test_a_combo_that_cannot_be_a_hotkey_says_why(text: str, says: str):
    with pytest.raises(ValueError, match=says):
        parse_combo(text)


def test_two_actions_cannot_share_a_combo_and_a_missing_one_is_its_default():
    assert parse_bindings({})["dismiss"] == parse_combo(DEFAULT_COMBOS["dismiss"])
    with pytest.raises(ValueError, match="Ctrl\\+Alt\\+H is given to both snooze and helpful"):
        parse_bindings({"snooze": "ctrl+alt+h"})
    with pytest.raises(ValueError, match="^wrong: "):
        parse_bindings({"wrong": "W"})


def test_an_x_grab_is_made_for_every_capslock_and_numlock_state():
    ctrl_alt, lock, numlock = 0x4 | 0x8, 0x2, 0x10
    assert lock_variants(ctrl_alt, [lock, numlock]) == [0xC, 0xE, 0x1C, 0x1E]
    assert lock_variants(ctrl_alt, [lock, 0]) == [0xC, 0xE]  # no NumLock on this keyboard
    assert lock_variants(0x4 | lock, [lock, numlock]) == [0x6, 0x16]  # a lock in the combo itself


# -- where there are none ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "environ, platform, says",
    [
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", "Wayland session"),
        ({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, "linux", "Wayland session"),
        ({}, "linux", "no X display"),
        ({"DISPLAY": ":0"}, "darwin", "macOS"),
    ],
)
def test_no_hotkeys_where_no_application_may_grab_keys_and_the_reason_says_so(environ, platform, says):
    with pytest.raises(HotkeysUnavailable, match=says):
        platform_backend(environ, platform)
    keys = Hotkeys(lambda _a: None, make_backend=lambda: platform_backend(environ, platform))
    level, message = keys.apply(True, {})
    assert level == "error" and says in message and keys.backend is None


class FakeBackend:
    """A platform backend that grabs nothing: the test presses a hotkey from a worker thread."""

    def __init__(self, refuse: dict[str, str] | None = None, fail: Exception | None = None) -> None:
        self.refuse = refuse or {}
        self.fail = fail
        self.on_action = None
        self.bindings: dict[str, Combo] = {}
        self.stops = 0

    def start(self, bindings, on_action, on_lost, on_refused=None):
        if self.fail is not None:
            raise self.fail
        self.bindings, self.on_action, self.on_lost, self.on_refused = dict(bindings), on_action, on_lost, on_refused
        return dict(self.refuse)

    def stop(self) -> None:
        self.stops += 1

    def press(self, action: str) -> None:
        thread = threading.Thread(target=self.on_action, args=(action,))
        thread.start()
        thread.join()


def test_combos_another_application_holds_are_named_and_the_others_still_work():
    fake = FakeBackend(refuse={"helpful": hotkeys.HELD, "wrong": hotkeys.HELD})
    pressed: list[str] = []
    keys = Hotkeys(pressed.append, make_backend=lambda: fake)
    level, message = keys.apply(True, {})
    assert level == "warning"
    assert message == (
        "Ctrl+Alt+J dismiss · Ctrl+Alt+P snooze — "
        "not Ctrl+Alt+H (helpful), Ctrl+Alt+W (wrong): held by another application"
    )
    fake.press("helpful")  # not grabbed: never acted on
    fake.press("dismiss")
    assert pressed == ["dismiss"]
    old_lost = fake.on_lost
    keys.apply(True, {})
    assert keys.lost(keys.generation - 1, "an earlier grab's end") == keys.state and keys.backend is fake
    assert keys.state[0] == "warning"
    old_lost("ignored: the window is not told")  # no on_lost given: nothing to call
    fake.refuse = {a: hotkeys.HELD for a in hotkeys.ACTIONS}
    level, message = keys.apply(True, {})
    assert level == "error" and message.startswith("not available: Ctrl+Alt+J (dismiss), Ctrl+Alt+P")
    assert keys.backend is None and fake.stops >= 2  # released at once


def test_a_backend_that_breaks_leaves_a_reason_not_a_crash():
    keys = Hotkeys(lambda _a: None, make_backend=lambda: FakeBackend(fail=OSError("socket closed")))
    assert keys.apply(True, {}) == ("error", "not available: OSError: socket closed")
    assert keys.apply(True, {"dismiss": "Q"})[0] == "error"  # a bad combo: said, nothing grabbed
    assert keys.apply(False, {}) == hotkeys.OFF


# -- the window ----------------------------------------------------------------------------------
def test_hotkeys_are_off_unless_turned_on(qtbot, tmp_path):
    window = build(tmp_path / "sidebar.ini")
    qtbot.addWidget(window)
    window.hotkeys.make_backend = lambda: pytest.fail("nothing is grabbed while they are off")
    window.show()
    assert window.apply_hotkeys() == hotkeys.OFF
    assert window.status_panel.hotkeys_text.isHidden()  # no status line while off
    assert window.prefs.hotkey_combos() == DEFAULT_COMBOS


def menu_lines(window: SidebarWindow) -> list[str]:
    window.menu.aboutToShow.emit()  # what opening the menu does, without a popup to close
    return [a.text().strip() for a in window.menu.actions() if not a.isSeparator()]


def test_the_shortcuts_menu_lists_the_hotkeys_working_now(qtbot, tmp_path):
    window = build(tmp_path / "sidebar.ini", hotkeys_on=True)
    qtbot.addWidget(window)
    fake = FakeBackend(refuse={"wrong": hotkeys.HELD})
    window.hotkeys.make_backend = lambda: fake
    assert window.apply_hotkeys()[0] == "warning"
    lines = menu_lines(window)
    at = lines.index("System-wide, from any application:")
    assert lines[at + 1 :] == [
        "Ctrl+Alt+J  dismiss the newest card",
        "Ctrl+Alt+P  snooze the newest card's rule",
        "Ctrl+Alt+H  mark the newest card helpful",
    ]  # the one held elsewhere is not listed
    assert lines.index("Shortcuts") < at and menu_lines(window).count("System-wide, from any application:") == 1
    window.prefs.set("hotkeys/on", False)
    window.apply_hotkeys()
    assert not [line for line in menu_lines(window) if "System-wide" in line or "Ctrl+Alt+J" in line]


def test_a_keyboard_change_that_takes_one_combo_away_is_said_and_undone_when_it_comes_back(qtbot, tmp_path):
    """The backend's thread says, after a keyboard change, that W has no key now: the Hotkeys
    line and the Shortcuts menu name only the combos that work, and Ctrl+Alt+W does nothing; back
    on a layout with W, it works and is listed again."""
    window = build(tmp_path / "sidebar.ini", hotkeys_on=True)
    qtbot.addWidget(window)
    fake = FakeBackend()
    window.hotkeys.make_backend = lambda: fake
    assert window.apply_hotkeys()[0] == "ok"
    marked: list[str] = []
    window.hotkeys.on_action = marked.append  # what reaches the window, straight

    def from_thread(refused: dict[str, str]) -> None:
        thread = threading.Thread(target=fake.on_refused, args=(refused,))
        thread.start()
        thread.join()

    from_thread({"wrong": "this keyboard layout has no W key"})
    line = window.status_panel.hotkeys_text
    qtbot.waitUntil(lambda: window.hotkeys.state[0] == "warning")
    assert line.text().endswith("— not Ctrl+Alt+W (wrong): this keyboard layout has no W key"), line.text()
    assert "Ctrl+Alt+W  mark the newest card wrong" not in menu_lines(window)
    fake.press("wrong")
    fake.press("dismiss")
    assert marked == ["dismiss"]
    from_thread({})
    qtbot.waitUntil(lambda: window.hotkeys.state[0] == "ok")
    assert "not" not in line.text() and "Ctrl+Alt+W  mark the newest card wrong" in menu_lines(window)
    fake.press("wrong")
    assert marked == ["dismiss", "wrong"]
    stale = window.hotkeys.generation
    window.apply_hotkeys()  # a new start: a word from the last one's thread changes nothing
    window.hotkeys.refused(stale, {"wrong": "this keyboard layout has no W key"})
    assert window.hotkeys.state[0] == "ok" and "wrong" in window.hotkeys.active


def test_a_hotkey_acts_on_the_newest_card_of_a_live_call_and_the_crm_keeps_the_keyboard(qtbot, tmp_path):
    crm = QLineEdit()  # the agent's CRM, typing
    qtbot.addWidget(crm)
    crm.show()
    window = build(tmp_path / "sidebar.ini", hotkeys_on=True)
    qtbot.addWidget(window)
    fake = FakeBackend()
    window.hotkeys.make_backend = lambda: fake
    assert window.apply_hotkeys()[0] == "ok"
    assert window.status_panel.hotkeys_text.text() == hotkeys.describe(fake.bindings)
    assert not window.status_panel.hotkeys_text.isHidden()
    window.show()
    qtbot.waitExposed(window)  # (offscreen activates a window it shows: the CRM is activated after)
    crm.activateWindow()
    crm.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is crm)
    assert window.start_live() and not window.accepts_focus()
    window.backend.runner.push(*(nudge(rule, 10.0 + i, 900 + i) for i, rule in enumerate(("a", "b", "c"))))
    qtbot.waitUntil(lambda: len(window.model.shown) == 3)
    model = window.model
    newest = model.shown[0]

    fake.press("helpful")
    qtbot.waitUntil(lambda: newest.verdict == "helpful")
    assert window.cards.widgets[newest.id].helpful_button.isChecked()
    fake.press("dismiss")
    qtbot.waitUntil(lambda: newest not in model.shown)
    second = model.shown[0]
    fake.press("wrong")  # a wrong card also leaves the panel
    qtbot.waitUntil(lambda: second.verdict == "wrong" and second not in model.shown)
    last = model.shown[0]
    fake.press("snooze")
    qtbot.waitUntil(lambda: not model.shown)
    assert last.nudge.rule in model.snoozed
    assert QApplication.focusWidget() is crm and not window.isActiveWindow()
    window.close()
    assert window.hotkeys.backend is None and fake.stops >= 1  # released with the window


def test_the_settings_turn_them_on_with_edited_combos_and_refuse_a_bad_one(qtbot, tmp_path):
    window = build(tmp_path / "sidebar.ini")
    qtbot.addWidget(window)
    dialog = SettingsDialog(window.prefs, None, "", window)
    qtbot.addWidget(dialog)
    assert not dialog.hotkeys_on.isChecked()
    assert [e.text() for e in dialog.hotkey_edits.values()] == list(DEFAULT_COMBOS.values())
    assert all(e.accessibleName() and e.accessibleDescription() for e in dialog.hotkey_edits.values())
    dialog.hotkeys_on.setChecked(True)
    dialog.hotkey_edits["snooze"].setText("K")
    dialog.accept()
    assert dialog.result() != SettingsDialog.DialogCode.Accepted
    assert "snooze" in dialog.hotkeys_error.text() and "needs Ctrl, Alt or Super" in dialog.hotkeys_error.text()
    dialog.hotkey_edits["snooze"].setText("ctrl+alt+k")
    dialog.accept()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    dialog.save()
    assert window.prefs.bool("hotkeys/on", False) and window.prefs.hotkey_combos()["snooze"] == "Ctrl+Alt+K"

    fake = FakeBackend()
    window.hotkeys.make_backend = lambda: fake
    assert window.apply_hotkeys()[0] == "ok" and str(fake.bindings["snooze"]) == "Ctrl+Alt+K"
    why = "a Wayland session lets no application grab keys for the whole desktop"
    told = SettingsDialog(window.prefs, None, "", window, hotkeys_note=why)
    qtbot.addWidget(told)
    assert told.hotkeys_note.text() == f"Not available here: {why}"


def test_an_unavailable_desktop_is_said_on_the_status_line(qtbot, tmp_path):
    window = build(tmp_path / "sidebar.ini", hotkeys_on=True)
    qtbot.addWidget(window)
    window.hotkeys.make_backend = lambda: platform_backend({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    level, message = window.apply_hotkeys()
    assert level == "error" and "Wayland session" in message
    assert window.status_panel.hotkeys_text.text() == message
    assert window.status_panel.hotkeys_dot.accessibleName() == "Hotkeys: not working"


def test_hotkeys_on_the_command_line_override_the_setting_for_the_session(monkeypatch):
    from rapport_assist.cli import main
    from rapport_assist.gui import app

    seen = []
    monkeypatch.setattr(app, "run_sidebar", lambda options, out, err: seen.append(options.hotkeys) or 0)
    for flag, value in ((["--hotkeys", "on"], True), (["--hotkeys", "off"], False), ([], None)):
        assert main(["sidebar", *flag], io.StringIO(), io.StringIO(), environ={"DISPLAY": ":9"}) == 0
        assert seen[-1] is value


# -- for real: X11 under Xvfb ------------------------------------------------------------------------
CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QLineEdit
app = QApplication([])
import test_sidebar_hotkeys as t

crm = QLineEdit()
crm.setWindowTitle("CRM")
crm.show()
crm.activateWindow()
crm.setFocus()
assert t.wait_until(lambda: crm.isActiveWindow() and crm.hasFocus(), 5), "the CRM did not get the keyboard"
window = t.build(Path({ini!r}), hotkeys_on=True)
window.cards.animate = False
seen = []

class Watch(QObject):
    def eventFilter(self, obj, event):
        if event.type() in (QEvent.Type.WindowActivate, QEvent.Type.FocusIn):
            seen.append(event.type().name)
        return False

watch = Watch()
window.installEventFilter(watch)
app.focusWindowChanged.connect(lambda w: seen.append("focus window") if w is window.windowHandle() else None)
window.show()
assert window.start_live()
window.backend.runner.push(t.nudge("older", 10.0, 900), t.nudge("newest", 11.0, 901))
assert t.wait_until(lambda: len(window.model.shown) == 2 and window.isVisible(), 5)
newest = window.model.shown[0].id
print(json.dumps({{"ready": window.hotkeys.state, "crm": int(crm.winId())}}), flush=True)
done = t.wait_until(lambda: newest not in window.cards.widgets and crm.text() == "x", 10)
print(json.dumps({{
    "done": done,
    "shown": [c.nudge.rule for c in window.model.shown],
    "crm_text": crm.text(),
    "crm_active": crm.isActiveWindow() and crm.hasFocus(),
    "sidebar_active": window.isActiveWindow(),
    "sidebar_saw": seen,
}}), flush=True)
sys.stdin.readline()  # the test checks the X input focus, then lets go
window.close()
"""


def on_display(xvfb):
    """A ``make_backend`` for the X11 backend on the test's Xvfb."""
    return lambda: platform_backend({"DISPLAY": xvfb.name}, "linux")


@pytest.fixture
def grab_passes(monkeypatch) -> list[dict[tuple[int, int], str]]:
    """Each pass of the X11 backend's grab thread, as the combos it grabbed (recorded once its
    grabs are made: at start, then after each keyboard change)."""
    from rapport_assist.hotkeys import x11

    tables: list[dict[tuple[int, int], str]] = []
    grab = x11.X11Backend._grab

    def recorded(backend, *args):
        table, locks = grab(backend, *args)
        tables.append(dict(table))
        return table, locks

    monkeypatch.setattr(x11.X11Backend, "_grab", recorded)
    return tables


@pytest.mark.parametrize("desk", ["bare X", "openbox"])
def test_a_real_x11_hotkey_dismisses_the_newest_card_while_the_crm_keeps_the_keyboard(desk, request, tmp_path):
    xvfb = request.getfixturevalue("openbox" if desk == "openbox" else "xvfb")
    with sidebar_child(xvfb, CHILD, tmp_path) as (child, display):
        ready = reply(child)
        assert ready.get("ready", [None])[0] == "ok", ready
        press(display, "Num_Lock")  # NumLock on: the grab's lock variants must still match
        press(display, "Control_L", "Alt_L", "j")  # dismiss (the default Ctrl+Alt+J)
        press(display, "x")  # the agent types on: into the CRM, not the sidebar
        result = reply(child)
        assert result.get("done"), result
        assert result["shown"] == ["older"]  # the newest card went, the older one stays
        assert result["crm_text"] == "x"  # the CRM got the next key and never the hotkey's J
        assert result["crm_active"] and not result["sidebar_active"] and result["sidebar_saw"] == []
        assert display.get_input_focus().focus.id == ready["crm"]  # the X input focus never moved
        let_go(child)


def test_the_status_line_says_when_the_x_display_goes_away(xvfb, qtbot, tmp_path):
    """Real grabs (python-xlib, this process's Qt offscreen), then the X server ends: no crash,
    the Hotkeys line says they stopped and why."""
    need_xlib()
    window = build(tmp_path / "sidebar.ini", hotkeys_on=True)
    qtbot.addWidget(window)
    window.hotkeys.make_backend = on_display(xvfb)
    assert window.apply_hotkeys()[0] == "ok"
    xvfb.server.terminate()
    xvfb.server.wait(10)
    qtbot.waitUntil(lambda: window.hotkeys.state[0] == "error")
    assert (
        window.status_panel.hotkeys_text.text()
        == f"stopped: the X display {xvfb.name} went away (ConnectionClosedError)"
    )
    assert window.hotkeys.backend is None


def test_after_a_keyboard_remap_each_combo_follows_its_letter(xvfb, grab_passes):
    """The W and Z keys swap letters (as AZERTY has them): Ctrl+Alt+W is grabbed again on the key
    that types w now, and the key that typed it before acts no more."""
    need_xlib()
    from Xlib import XK, X
    from Xlib.display import Display
    from Xlib.ext import xtest

    pressed: queue.Queue[str] = queue.Queue()
    keys = Hotkeys(pressed.put, make_backend=on_display(xvfb))
    assert keys.apply(True, {})[0] == "ok"
    display = Display(xvfb.name)
    try:
        ctrl, alt, j, w, z = (
            display.keysym_to_keycode(XK.string_to_keysym(k)) for k in ("Control_L", "Alt_L", "j", "w", "z")
        )
        rows = display.get_keyboard_mapping(w, 1)[0], display.get_keyboard_mapping(z, 1)[0]
        display.change_keyboard_mapping(w, [rows[1]])
        display.change_keyboard_mapping(z, [rows[0]])
        display.sync()

        def combo(keycode: int) -> None:
            for code in (ctrl, alt, keycode):
                xtest.fake_input(display, X.KeyPress, code)
            for code in (keycode, alt, ctrl):
                xtest.fake_input(display, X.KeyRelease, code)
            display.sync()

        # the hotkeys' thread has grabbed again; then one press (pressing until one acts left
        # more presses on their way when the thread was slow, and a late "wrong" looked like the
        # old key's)
        assert wait_until(lambda: any(k == z and a == "wrong" for t in grab_passes for (k, _m), a in t.items()), 5)
        combo(z)  # the key that types w now
        assert pressed.get(timeout=5) == "wrong"
        combo(w)  # types z now: nothing
        combo(j)
        assert pressed.get(timeout=5) == "dismiss"
        assert not grab_refused(xvfb.name, "Ctrl+Alt+Z")  # the old W key's grab was let go: others have it
    finally:
        display.close()
        keys.stop()


def grab_refused(display_name: str, combo: str) -> bool:
    """Whether another X client is refused ``combo`` (BadAccess): someone still holds its grab."""
    import Xlib.display
    import Xlib.error
    from Xlib import X

    from rapport_assist.hotkeys.x11 import _keysym, modifier_masks

    other = Xlib.display.Display(display_name)
    try:
        parsed = parse_combo(combo)
        masks, _locks = modifier_masks(other)
        mask = 0
        for name in parsed.modifiers:
            mask |= masks[name]
        keycode = other.keysym_to_keycode(_keysym(parsed.key))
        root = other.screen().root
        catch = Xlib.error.CatchError(Xlib.error.BadAccess)
        root.grab_key(keycode, mask, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catch)
        other.sync()
        refused = catch.get_error() is not None
        root.ungrab_key(keycode, mask)
        other.sync()
        return refused
    finally:
        other.close()


def hotkey_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hotkeys-x11" and t.is_alive()]


def test_real_grabs_are_released_when_turned_off_and_when_the_window_closes(xvfb, qtbot, tmp_path):
    """Another application may have the combos back at once: after Settings turn the hotkeys off,
    and after the window closes (the agent's other applications must not lose them until logout)."""
    need_xlib()
    window = build(tmp_path / "sidebar.ini", hotkeys_on=True)
    qtbot.addWidget(window)
    window.hotkeys.make_backend = on_display(xvfb)
    assert window.apply_hotkeys()[0] == "ok"
    assert grab_refused(xvfb.name, "Ctrl+Alt+J") and len(hotkey_threads()) == 1
    window.prefs.set("hotkeys/on", False)
    assert window.apply_hotkeys() == hotkeys.OFF
    assert not grab_refused(xvfb.name, "Ctrl+Alt+J") and not hotkey_threads()
    window.prefs.set("hotkeys/on", True)
    window.prefs.set("hotkeys/dismiss", "ctrl + alt + k")  # a changed combo: the old one is let go
    assert window.apply_hotkeys()[0] == "ok"
    assert grab_refused(xvfb.name, "Ctrl+Alt+K") and not grab_refused(xvfb.name, "Ctrl+Alt+J")
    window.close()
    assert not grab_refused(xvfb.name, "Ctrl+Alt+K") and not grab_refused(xvfb.name, "Ctrl+Alt+W")
    assert not hotkey_threads()


REVIEW_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication([])
import test_sidebar_hotkeys as t

window = t.build(Path({ini!r}), hotkeys_on=True)
window.prefs.set("hotkeys/wrong", "Alt+W")  # the panel's own shortcut for the same action
window.apply_hotkeys()
window.cards.animate = False
window.show()
window.controller.start(window.backend.runner, "review.json", "qa")  # a review: the panel takes focus
window.backend.runner.push(*(t.nudge(rule, 10.0 + i, 900 + i) for i, rule in enumerate(("a", "b", "c"))))
assert t.wait_until(lambda: len(window.model.shown) == 3 and window.isVisible(), 5)
window.activateWindow()
assert t.wait_until(window.isActiveWindow, 5), "the panel did not get the keyboard"
cards = list(window.model.shown)  # newest first
window.cards.widgets[cards[0].id].helpful_button.setFocus()
assert t.wait_until(lambda: window.cards.card_in_focus() is not None, 5), "no card in focus"


def report():
    return {{"shown": [c.nudge.rule for c in window.model.shown], "verdicts": [c.verdict for c in cards]}}


print(json.dumps({{"ready": window.hotkeys.state, "mode": window.controller.mode}}), flush=True)
sys.stdin.readline()  # Alt+W typed
t.wait_until(lambda: len(window.model.shown) < 3, 5)  # the first action, however slow
t.wait_until(lambda: False, 0.5)  # a second one would have arrived by now
print(json.dumps(report()), flush=True)
sys.stdin.readline()  # Ctrl+Alt+J typed
t.wait_until(lambda: len(window.model.shown) < 2, 5)
t.wait_until(lambda: False, 0.5)
print(json.dumps(report()), flush=True)
window.close()
"""


@pytest.mark.parametrize("desk", ["bare X", "openbox"])
def test_in_a_review_with_the_panel_focused_a_hotkey_acts_once(desk, request, tmp_path):
    """A review (the panel takes the keyboard): a hotkey that is also the panel's own shortcut
    (Alt+W, wrong) marks one card wrong, not two (a wrong card leaves, so a second action would
    take the next card), and Ctrl+Alt+J then dismisses one card, not two."""
    xvfb = request.getfixturevalue("openbox" if desk == "openbox" else "xvfb")
    with sidebar_child(xvfb, REVIEW_CHILD, tmp_path) as (child, display):
        ready = reply(child)
        assert ready.get("ready", [None])[0] == "ok" and ready["mode"] == "qa", ready
        press(display, "Alt_L", "w")
        assert step(child) == {"shown": ["b", "a"], "verdicts": ["wrong", None, None]}
        press(display, "Control_L", "Alt_L", "j")
        assert step(child) == {"shown": ["a"], "verdicts": ["wrong", None, None]}
        assert child.wait(20) == 0


def test_settings_ok_keeps_hotkeys_on_the_command_line_for_this_session_only(qtbot, tmp_path, monkeypatch):
    """``sidebar --hotkeys on`` is for one session: OK in Settings (to change the style, say)
    neither saves it as the setting (the next start would grab the keys again, unasked) nor turns
    it off; ticking the box there is what saves it."""
    window = build(tmp_path / "sidebar.ini")
    qtbot.addWidget(window)
    fake = FakeBackend()
    window.hotkeys.make_backend = lambda: fake
    window._hotkeys_override = True  # as build_window passes --hotkeys on
    assert window.apply_hotkeys()[0] == "ok"
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: 1)  # OK, nothing changed
    window.open_settings()
    assert not window.prefs.bool("hotkeys/on", False)  # the saved setting is still off
    assert window.hotkeys.state[0] == "ok"  # and this session keeps them

    boxes: list[SettingsDialog] = []

    def untick(self):
        boxes.append(self)
        self.hotkeys_on.setChecked(False)
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", untick)  # the agent turns them off there: saved
    window.open_settings()
    assert boxes and not window.prefs.bool("hotkeys/on", True) and window.hotkeys.state == hotkeys.OFF


def test_the_settings_note_says_why_they_are_not_available_once_and_only_when_they_are_not(
    qtbot, tmp_path, monkeypatch
):
    window = build(tmp_path / "sidebar.ini", hotkeys_on=True)
    qtbot.addWidget(window)
    wayland = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    window.hotkeys.make_backend = lambda: platform_backend(wayland, "linux")
    monkeypatch.setattr(os, "environ", dict(wayland))  # what the dialog's own probe sees
    assert window.apply_hotkeys()[0] == "error"
    shown: list[SettingsDialog] = []
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: shown.append(self) and 0)
    window.open_settings()
    note = shown[-1].hotkeys_note
    assert not note.isHidden() and note.text().startswith("Not available here: a Wayland session")
    assert "not available" not in note.text()[len("Not available here") :]

    # a combo saved by hand that does not parse: the desktop has them; the field says the problem
    monkeypatch.setattr(os, "environ", {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"})
    window.hotkeys.make_backend = lambda: FakeBackend()
    window.prefs.set("hotkeys/dismiss", "Q")
    assert window.apply_hotkeys()[0] == "error"
    window.open_settings()
    assert shown[-1].hotkeys_note.isHidden(), shown[-1].hotkeys_note.text()
    error = shown[-1].hotkeys_error
    assert not error.isHidden() and error.text().startswith("Hotkeys: dismiss: 'Q' needs Ctrl, Alt or Super")


@pytest.mark.parametrize(
    "action, combo, says",
    [
        ("dismiss", "alt+w", "Alt+W is the panel's own shortcut for wrong"),
        ("wrong", "Alt+Z", "Alt+Z is the panel's own shortcut for snooze"),
        ("snooze", "Ctrl+D", "Ctrl+D is the panel's own shortcut for the dark style"),
        ("helpful", "Ctrl+2", "Ctrl+2 is the panel's own shortcut for review speed 2×"),
    ],
)
def test_a_hotkey_cannot_take_one_of_the_panels_own_shortcuts_for_something_else(qtbot, tmp_path, action, combo, says):
    """The grab wins over the panel's shortcut when the panel has the keyboard (a review): Alt+W
    given to dismiss would dismiss where the panel's help says Alt+W marks the card wrong."""
    window = build(tmp_path / "sidebar.ini")
    qtbot.addWidget(window)
    dialog = SettingsDialog(window.prefs, None, "", window)
    qtbot.addWidget(dialog)
    dialog.hotkey_edits[action].setText(combo)
    dialog.accept()
    assert dialog.result() != SettingsDialog.DialogCode.Accepted
    assert says in dialog.hotkeys_error.text()
    dialog.hotkey_edits[action].setText({"helpful": "Alt+H"}.get(action, DEFAULT_COMBOS[action]))
    dialog.accept()  # the panel's own shortcut for the same action is fine (it acts once: above)
    assert dialog.result() == SettingsDialog.DialogCode.Accepted


def test_the_panel_shortcuts_a_hotkey_may_not_take_are_the_panels_own(qtbot, tmp_path):
    from PySide6.QtGui import QKeySequence, QShortcut

    from rapport_assist.gui.settings_dialog import PANEL_SHORTCUTS

    window = build(tmp_path / "sidebar.ini")
    qtbot.addWidget(window)
    bound = {s.key().toString(QKeySequence.SequenceFormat.PortableText) for s in window.findChildren(QShortcut)}
    assert set(PANEL_SHORTCUTS) <= bound
    assert all(str(parse_combo(k)) == k for k in PANEL_SHORTCUTS)  # written as a hotkey is


def test_a_display_that_answers_too_late_gets_no_grabs_left_behind(xvfb, monkeypatch):
    """The X display answers after the start gave up ("did not answer"): the late thread must not
    grab the combos for good (nobody would release them; other applications would lose them)."""
    need_xlib()
    import Xlib.display

    from rapport_assist.hotkeys import x11

    slow = Xlib.display.Display

    def late(*args, **kwargs):
        time.sleep(0.6)
        return slow(*args, **kwargs)

    monkeypatch.setattr(x11, "START_TIMEOUT_S", 0.2)
    monkeypatch.setattr(Xlib.display, "Display", late)
    keys = Hotkeys(lambda _a: None, make_backend=on_display(xvfb))
    level, message = keys.apply(True, {})
    assert level == "error" and "did not answer" in message
    spare = [os.pipe() for _ in range(4)]  # the process opens files meanwhile (a closed fd's number is reused)
    try:
        monkeypatch.setattr(Xlib.display, "Display", slow)
        deadline = time.monotonic() + 5
        while hotkey_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not grab_refused(xvfb.name, "Ctrl+Alt+J")
        assert not hotkey_threads()
    finally:
        for pair in spare:
            for fd in pair:
                os.close(fd)


def test_another_keyboard_typing_keeps_every_grab_with_no_gap(xvfb, monkeypatch, grab_passes):
    """The X server sends MappingNotify whenever another device starts typing (here XTEST's first
    key; at a desk a second keyboard, a headset's buttons), nearly always with the same keymap.
    The grabs must stay as they are: let go and grabbed again, a hotkey pressed in that gap goes
    to the CRM instead (CI once lost a Ctrl+Alt+J pressed right after NumLock this way)."""
    need_xlib()
    from Xlib.display import Display
    from Xlib.xobject.drawable import Window

    released: list[tuple[int, int]] = []
    ungrab_key = Window.ungrab_key

    def ungrab(window, key, modifiers, onerror=None):
        released.append((key, modifiers))
        ungrab_key(window, key, modifiers, onerror)

    monkeypatch.setattr(Window, "ungrab_key", ungrab)
    pressed: queue.Queue[str] = queue.Queue()
    keys = Hotkeys(pressed.put, make_backend=on_display(xvfb))
    assert keys.apply(True, {})[0] == "ok"
    display = Display(xvfb.name)
    try:
        press(display, "Num_Lock")  # XTEST types: MappingNotify (keyboard, then modifiers)
        assert wait_until(lambda: len(grab_passes) >= 2, 5), grab_passes  # the thread has followed the notice
        time.sleep(0.3)  # and the second one, if any
        assert [len(t) for t in grab_passes] == [4] * len(grab_passes) and released == []
        press(display, "Control_L", "Alt_L", "j")
        assert pressed.get(timeout=5) == "dismiss"
    finally:
        display.close()
        keys.stop()
    assert len(released) == 4 * 4  # stop lets go of each combo's four lock variants


def test_a_combo_another_application_holds_is_left_whole_at_start_and_after_a_keyboard_change(xvfb, grab_passes):
    """Another application holds Ctrl+Alt+J with no lock on. The sidebar's grabs of the lock
    variants (CapsLock, NumLock) succeed, but the combo is refused: they must be let go, or that
    application loses Ctrl+Alt+J whenever CapsLock or NumLock is on. The same when a keyboard
    change has the thread try the combo again."""
    need_xlib()
    import Xlib.error
    from Xlib import XK, X
    from Xlib.display import Display

    from rapport_assist.hotkeys import x11

    other = Display(xvfb.name)
    root = other.screen().root
    j = other.keysym_to_keycode(XK.string_to_keysym("j"))
    masks, locks = x11.modifier_masks(other)
    ctrl_alt = masks["ctrl"] | masks["alt"]
    root.grab_key(j, ctrl_alt, True, X.GrabModeAsync, X.GrabModeAsync)
    other.sync()

    def taken_from_other() -> list[int]:  # the lock variants the other application cannot grab
        taken = []
        for variant in lock_variants(ctrl_alt, locks)[1:]:
            catch = Xlib.error.CatchError(Xlib.error.BadAccess)
            root.grab_key(j, variant, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catch)
            other.sync()
            if catch.get_error() is not None:
                taken.append(variant)
            else:
                root.ungrab_key(j, variant)
                other.sync()
        return taken

    keys = Hotkeys(lambda _a: None, make_backend=on_display(xvfb))
    try:
        level, message = keys.apply(True, {})
        assert level == "warning" and message.endswith("not Ctrl+Alt+J (dismiss): held by another application")
        assert taken_from_other() == []
        q = other.keysym_to_keycode(XK.string_to_keysym("q"))
        other.change_keyboard_mapping(q, [other.get_keyboard_mapping(q, 1)[0]])  # the same keys: a regrab
        other.sync()
        assert wait_until(lambda: len(grab_passes) >= 2, 5), "the thread did not grab again"
        assert taken_from_other() == []
    finally:
        keys.stop()
        other.close()


def test_the_refused_combos_a_start_reads_are_never_half_rebuilt(xvfb, monkeypatch):
    """``start`` copies the grab thread's refused combos from its own thread once the thread says
    ready, and the thread may be grabbing again by then (a MappingNotify right after the first
    grab). A copy taken mid-way must still name Ctrl+Alt+J, which another application holds: a
    set emptied to be rebuilt would let the Hotkeys line say it works (and nothing would correct
    it: the rebuilt set is the same as before, so ``on_refused`` says nothing)."""
    need_xlib()
    from Xlib import XK, X
    from Xlib.display import Display

    other = Display(xvfb.name)  # another application holds Ctrl+Alt+J
    j = other.keysym_to_keycode(XK.string_to_keysym("j"))
    other.screen().root.grab_key(j, X.ControlMask | X.Mod1Mask, True, X.GrabModeAsync, X.GrabModeAsync)
    other.sync()
    backends: list = []
    seen: list[dict[str, str]] = []  # what a start would copy, at each round trip of a regrab
    sync = Display.sync

    def watched(display):
        backend = backends[-1] if backends else None
        if threading.current_thread().name == "hotkeys-x11" and backend is not None and backend._ready.is_set():
            seen.append(dict(backend._refused))
        return sync(display)

    monkeypatch.setattr(Display, "sync", watched)
    keys = Hotkeys(
        lambda _a: None,
        make_backend=lambda: backends.append(on_display(xvfb)()) or backends[-1],
    )
    try:
        assert keys.apply(True, {})[0] == "warning"
        q = other.keysym_to_keycode(XK.string_to_keysym("q"))
        other.change_keyboard_mapping(q, [other.get_keyboard_mapping(q, 1)[0]])  # the same keys: a regrab
        other.sync()
        assert wait_until(lambda: seen, 5), "the thread did not grab again"
        assert seen == [{"dismiss": hotkeys.HELD}] * len(seen)
    finally:
        keys.stop()
        other.close()


def test_a_real_remap_that_takes_w_away_names_it_and_w_works_again_when_it_is_back(xvfb):
    """A layout with no W (the W key types a Cyrillic letter): the X backend says so, the other
    combos go on working; W back where it was, Ctrl+Alt+W is grabbed again and acts."""
    need_xlib()
    from Xlib import XK
    from Xlib.display import Display

    pressed: queue.Queue[str] = queue.Queue()
    said: queue.Queue[tuple[int, dict[str, str]]] = queue.Queue()
    keys = Hotkeys(
        pressed.put,
        make_backend=on_display(xvfb),
        on_refused=lambda generation, refused: said.put((generation, refused)),
    )
    assert keys.apply(True, {})[0] == "ok"
    display = Display(xvfb.name)
    try:
        w = display.keysym_to_keycode(XK.string_to_keysym("w"))
        row = display.get_keyboard_mapping(w, 1)[0]
        display.change_keyboard_mapping(w, [[XK.string_to_keysym("Cyrillic_tse")] * 2])
        display.sync()
        generation, refused = said.get(timeout=5)
        assert refused == {"wrong": "this keyboard layout has no W key"}
        level, message = keys.refused(generation, refused)
        assert level == "warning" and message.endswith("— not Ctrl+Alt+W (wrong): this keyboard layout has no W key")
        press(display, "Control_L", "Alt_L", "j")
        assert pressed.get(timeout=5) == "dismiss"  # the others still work
        display.change_keyboard_mapping(w, [row])
        display.sync()
        generation, refused = said.get(timeout=5)
        assert refused == {} and keys.refused(generation, refused)[0] == "ok"
        press(display, "Control_L", "Alt_L", "w")
        assert pressed.get(timeout=5) == "wrong"
        assert said.empty()  # nothing else changed: nothing more said
    finally:
        display.close()
        keys.stop()


def test_a_keyboard_remap_that_leaves_no_combo_is_said_not_left_on(xvfb):
    """A layout with none of the combos' letters (``setxkbmap ru`` alone): after the remap no
    combo can be grabbed again, so the Hotkeys line must not go on saying they work."""
    need_xlib()
    from Xlib import XK
    from Xlib.display import Display

    lost: queue.Queue[tuple[int, str]] = queue.Queue()
    keys = Hotkeys(
        lambda _a: None,
        make_backend=on_display(xvfb),
        on_lost=lambda generation, reason: lost.put((generation, reason)),
    )
    assert keys.apply(True, {})[0] == "ok"
    display = Display(xvfb.name)
    try:
        cyrillic = {"j": "Cyrillic_o", "p": "Cyrillic_ze", "h": "Cyrillic_er", "w": "Cyrillic_tse"}
        for letter, other in cyrillic.items():
            keycode = display.keysym_to_keycode(XK.string_to_keysym(letter))
            display.change_keyboard_mapping(keycode, [[XK.string_to_keysym(other)] * 2])
        display.sync()
        generation, reason = lost.get(timeout=5)
        level, message = keys.lost(generation, reason)
        assert level == "error" and message.startswith("stopped: after a keyboard change"), message
        assert message.endswith("(this keyboard layout has no J, P, H, W key)"), message
        assert keys.backend is None
    finally:
        display.close()
        keys.stop()


AWAY_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication([])
import test_sidebar_hotkeys as t

window = t.build(Path({ini!r}), hotkeys_on=True)
window.cards.animate = False
window.show()
window.controller.start(window.backend.runner, "review.json", "qa")
window.backend.runner.push(*(t.nudge(rule, 10.0 + i, 900 + i) for i, rule in enumerate(("a", "b", "c"))))
assert t.wait_until(lambda: len(window.model.shown) == 3 and window.isVisible(), 5)
window.activateWindow()
assert t.wait_until(window.isActiveWindow, 5), "the panel did not get the keyboard"
oldest = window.model.shown[-1]
window.cards.widgets[oldest.id].helpful_button.setFocus()  # the agent tabbed to the oldest card
assert t.wait_until(lambda: window.cards.card_in_focus() is not None, 5), "no card in focus"
print(json.dumps({{"ready": window.hotkeys.state}}), flush=True)
sys.stdin.readline()  # another application has the keyboard now
away = t.wait_until(lambda: not window.isActiveWindow(), 5)
print(json.dumps({{"away": away}}), flush=True)
sys.stdin.readline()  # Ctrl+Alt+J typed
t.wait_until(lambda: len(window.model.shown) < 3, 5)
print(json.dumps({{"shown": [c.nudge.rule for c in window.model.shown]}}), flush=True)
window.close()
"""


@pytest.mark.parametrize("desk", ["bare X", "openbox"])
def test_after_the_agent_left_the_panel_a_hotkey_takes_the_newest_card_not_the_one_last_focused(
    desk, request, tmp_path
):
    """A review: the agent tabbed to the oldest card, then went on in another application;
    Ctrl+Alt+J dismisses the newest card (as Settings and the README say), not that one."""
    xvfb = request.getfixturevalue("openbox" if desk == "openbox" else "xvfb")
    with sidebar_child(xvfb, AWAY_CHILD, tmp_path) as (child, display):
        from Xlib import X

        ready = reply(child)
        assert ready.get("ready", [None])[0] == "ok", ready
        screen = display.screen()
        other = screen.root.create_window(0, 0, 200, 100, 0, screen.root_depth)  # the CRM, another client
        other.map()
        display.sync()
        other.set_input_focus(X.RevertToParent, X.CurrentTime)
        display.sync()
        assert step(child) == {"away": True}
        press(display, "Control_L", "Alt_L", "j")
        assert step(child) == {"shown": ["b", "a"]}
        assert child.wait(20) == 0
