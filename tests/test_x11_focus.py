"""x11_focus: the keyboard noted before the panel's dialog and given back after it, on a real
Xvfb with plain X windows (python-xlib; the sidebar's own path is in test_sidebar_desk.py)."""

from __future__ import annotations

import pytest

from rapport_assist import x11_focus
from x11_support import need_xlib, wait_until_plain


def window(display, x: int = 10):
    from Xlib import X

    from Xlib import Xutil

    made = display.screen().root.create_window(x, 10, 100, 40, 0, display.screen().root_depth, X.InputOutput)
    made.set_wm_hints(flags=Xutil.InputHint, input=1)  # takes the keyboard (as an application's window)
    made.set_wm_name(f"window at {x}")
    made.map()
    display.sync()
    return made


def focus_on(display, target) -> None:
    """Give ``target`` the keyboard once it shows (a window manager maps it a moment later)."""
    from Xlib import X

    assert wait_until_plain(lambda: target.get_attributes().map_state == X.IsViewable, 5)
    target.set_input_focus(X.RevertToParent, X.CurrentTime)
    display.sync()


@pytest.mark.parametrize(
    "environ",
    [{}, {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, {"DISPLAY": ":4077"}],
    ids=["no display", "wayland session", "no such display"],
)
def test_nothing_is_noted_where_there_is_no_x_display_to_ask(environ):
    assert x11_focus.note(environ) is None


def test_the_keyboard_goes_back_when_nothing_has_it_and_not_when_the_agent_went_elsewhere(xvfb):
    need_xlib()
    from Xlib.display import Display

    display = Display(xvfb.name)
    try:
        crm, dialog, other = window(display), window(display, 200), window(display, 400)
        focus_on(display, crm)
        holder = x11_focus.note({"DISPLAY": xvfb.name})
        assert holder == x11_focus.Holder(xvfb.name, crm.id)
        focus_on(display, dialog)  # the panel's dialog takes it
        dialog.unmap()  # and closes: the keyboard falls back to the root window
        display.sync()
        assert x11_focus.give_back(holder, {dialog.id})
        assert display.get_input_focus().focus.id == crm.id
        focus_on(display, other)  # meanwhile the agent went to another application
        assert not x11_focus.give_back(holder, {dialog.id})
        assert display.get_input_focus().focus.id == other.id
        crm.destroy()  # the CRM closed: nothing to give back to
        dialog.map()
        focus_on(display, dialog)
        assert not x11_focus.give_back(holder, {dialog.id})
        assert display.get_input_focus().focus.id == dialog.id
    finally:
        display.close()


def test_under_a_window_manager_the_manager_is_asked(openbox):
    """With Openbox (EWMH) the noted window is the manager's active one, and it is asked for
    through the manager, which gives it the keyboard back from the panel's window."""
    need_xlib()
    from Xlib.display import Display

    display = Display(openbox.name)
    try:
        active = display.intern_atom("_NET_ACTIVE_WINDOW")
        root = display.screen().root

        def active_now() -> int:
            value = root.get_full_property(active, 0)
            return int(value.value[0]) if value is not None and len(value.value) else 0

        def activate(target) -> None:  # as a taskbar asks the manager
            from Xlib import X
            from Xlib.protocol import event

            message = event.ClientMessage(window=target, client_type=active, data=(32, [2, X.CurrentTime, 0, 0, 0]))

            def asked() -> bool:  # again until it holds: a window it is still taking on is not activated
                root.send_event(message, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
                display.sync()
                return wait_until_plain(lambda: active_now() == target.id, 0.25)

            assert wait_until_plain(asked, 10)

        crm, panel = window(display), window(display, 200)
        activate(crm)
        holder = x11_focus.note({"DISPLAY": openbox.name})
        assert holder is not None and holder.window == crm.id
        activate(panel)
        assert x11_focus.give_back(holder, {panel.id})
        assert wait_until_plain(lambda: active_now() == crm.id and display.get_input_focus().focus.id == crm.id, 5)
    finally:
        display.close()
