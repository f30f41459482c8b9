"""The keyboard given back after the panel's own dialog, on X11 (python-xlib; no Qt).

During a live call the panel never takes the keyboard, but *Settings…* is a dialog the agent
types into. When it closes, the window manager hands the focus to the panel (the dialog's
parent), which refuses it, and the keyboard is left with no window: the agent's next words in the
CRM go nowhere until they click it. So the window that had the keyboard is noted before the
dialog opens (``note``) and asked for again after it closes (``give_back``), unless the agent
has meanwhile gone to another application. With a window manager that follows EWMH the request
is its ``_NET_ACTIVE_WINDOW`` message (marked as a pager's, as a user's own choice), which it
may refuse; with none, the X input focus is set directly. Anywhere else (Wayland, Windows,
macOS, no python-xlib, an X server gone) ``note`` returns None and nothing is done.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Collection, Mapping

_PAGER = 2  # EWMH source indication: a pager or taskbar, acting for the user


@dataclass(frozen=True)
class Holder:
    """The window that had the keyboard, on ``display`` (the ``DISPLAY`` name)."""

    display: str
    window: int


def _connect(display_name: str) -> Any | None:
    try:
        import Xlib.display

        return Xlib.display.Display(display_name)
    except Exception:  # no python-xlib, no server, refused: no focus to note or give back
        return None


def _active(display: Any) -> tuple[bool, int]:
    """(a window manager that follows EWMH runs, the window with the keyboard: its client window
    with one, else the X input focus; 0 for none)."""
    root = display.screen().root
    supported = root.get_full_property(display.intern_atom("_NET_SUPPORTED"), 0)
    ewmh = supported is not None and display.intern_atom("_NET_ACTIVE_WINDOW") in supported.value
    if ewmh:
        active = root.get_full_property(display.intern_atom("_NET_ACTIVE_WINDOW"), 0)
        return True, int(active.value[0]) if active is not None and len(active.value) else 0
    focus = display.get_input_focus().focus
    window = int(getattr(focus, "id", focus) or 0)
    return False, 0 if window in (1, root.id) else window  # 1: PointerRoot


def _exists(display: Any, window: int) -> bool:
    try:
        display.create_resource_object("window", window).get_geometry()
        return True
    except Exception:  # BadWindow, BadDrawable: closed meanwhile
        return False


def note(environ: Mapping[str, str] | None = None) -> Holder | None:
    """The window that has the keyboard now, or None (not X11, none has it)."""
    env = os.environ if environ is None else environ
    name = env.get("DISPLAY", "")
    if not name or env.get("WAYLAND_DISPLAY"):
        return None
    display = _connect(name)
    if display is None:
        return None
    try:
        window = _active(display)[1]
        return Holder(name, window) if window else None
    except Exception:  # the server went away mid-way
        return None
    finally:
        display.close()


def give_back(holder: Holder, own: Collection[int]) -> bool:
    """Ask for the keyboard for ``holder`` again, if it still exists and the keyboard is now with
    no window or with one of ``own`` (this application's windows, the panel and its closed
    dialog). Whether it was asked for."""
    display = _connect(holder.display)
    if display is None:
        return False
    try:
        from Xlib import X
        from Xlib.protocol import event

        ewmh, now = _active(display)
        if now == holder.window or (now and now not in own and _exists(display, now)):
            return False  # it is back already, or the agent went to another application
        if not _exists(display, holder.window):
            return False
        root = display.screen().root
        if ewmh:
            message = event.ClientMessage(
                window=display.create_resource_object("window", holder.window),
                client_type=display.intern_atom("_NET_ACTIVE_WINDOW"),
                data=(32, [_PAGER, X.CurrentTime, 0, 0, 0]),
            )
            root.send_event(message, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
        else:
            display.create_resource_object("window", holder.window).set_input_focus(X.RevertToParent, X.CurrentTime)
        display.sync()
        return True
    except Exception:  # the server went away, the window closed between the checks: left as is
        return False
    finally:
        display.close()
