"""The X11 backend: a passive key grab (XGrabKey) on the root window for each combo, through
python-xlib (LGPL-2.1+), imported only when an X11 desktop asks for hotkeys.

A grab matches the modifier state exactly, so each combo is grabbed once per CapsLock / NumLock
variant. The X server refuses a grab another client already holds (BadAccess): that combo is
reported as taken and the others still work. The grabbing client gets the key events and the
window with the keyboard focus does not, but the focus stays where it was: the sidebar is never
raised or activated. When the keyboard mapping changes (MappingNotify: another layout, a new
modifier map, or only another keyboard typing) each combo follows its letter: a grab on the right
key is kept, one on a key that moved is made anew before the old one is let go. A combo the new
layout cannot type, or another client took meanwhile, is off until a later change lets it be
grabbed again; ``on_refused`` says each change of that set, and when none is left the grabs end
as if lost. One background thread
owns the X connection (python-xlib is not thread-safe without its ``threaded`` module); it opens
it, grabs, then waits on the socket and on a pipe that ``stop`` writes to, and ungrabs before it
closes the connection.
"""

from __future__ import annotations

import os
import select
import threading
import traceback
from typing import Any, Callable, Mapping, NamedTuple

import Xlib.display
import Xlib.error
from Xlib import XK, X

from .combos import HELD, Combo, GrabThread, lock_variants

START_TIMEOUT_S = 5.0


def _keysym(key: str) -> int:
    return int(XK.string_to_keysym(key.lower() if len(key) == 1 else key))


def modifier_masks(display: Any) -> tuple[dict[str, int], list[int]]:
    """(modifier name -> X mask, the lock masks to add variants for) from the server's modifier
    map: Alt and Super are whichever Mod1…Mod5 hold Alt_L / Super_L (usually Mod1, Mod4), NumLock
    whichever holds Num_Lock (usually Mod2)."""
    mapping = [set(codes) - {0} for codes in display.get_modifier_mapping()]

    def holder(names: tuple[str, ...], default: int) -> int:
        codes = {display.keysym_to_keycode(XK.string_to_keysym(n)) for n in names} - {0}
        for index in range(3, 8):  # Mod1…Mod5 (0: Shift, 1: Lock, 2: Control)
            if index < len(mapping) and codes & mapping[index]:
                return 1 << index
        return default

    masks = {
        "ctrl": X.ControlMask,
        "shift": X.ShiftMask,
        "alt": holder(("Alt_L", "Alt_R", "Meta_L"), X.Mod1Mask),
        "super": holder(("Super_L", "Super_R"), X.Mod4Mask),
    }
    return masks, [X.LockMask, holder(("Num_Lock",), 0)]


class _Lost(Exception):
    """The grabs ended, for the reason in words (the message)."""


class _Run:
    """One start's thread and its wake-up pipe. ``stop`` cancels it; a thread that outlives the
    join (an X display still connecting) closes the pipe itself when it ends, so its descriptors
    are never closed under it (their numbers reused for other files), and it grabs nothing."""

    def __init__(self) -> None:
        self.read, self.write = os.pipe()
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._done = self._abandoned = False

    def close(self) -> None:
        for fd in (self.read, self.write):
            os.close(fd)

    def thread_ended(self) -> None:  # the thread, last thing
        with self._lock:
            self._done = True
            if self._abandoned:
                self.close()

    def let_go(self) -> None:  # stop, after the join
        with self._lock:
            if self._done:
                self.close()
            else:
                self._abandoned = True


class _Callbacks(NamedTuple):
    """What the grab thread tells its owner: a combo pressed, the grabs' end, the refused changed."""

    on_action: Callable[[str], None]
    on_lost: Callable[[str], None]
    on_refused: Callable[[dict[str, str]], None] | None


class X11Backend(GrabThread):
    """Global hotkeys on an X11 display (an Xorg session; not Wayland, where XWayland's grabs
    only see keys typed into X11 windows)."""

    def __init__(self, display_name: str | None = None) -> None:
        super().__init__()
        self.display_name = display_name
        self._run_state: _Run | None = None

    def start(
        self,
        bindings: Mapping[str, Combo],
        on_action: Callable[[str], None],
        on_lost: Callable[[str], None],
        on_refused: Callable[[dict[str, str]], None] | None = None,
    ) -> dict[str, str]:
        self.stop()
        self._run_state = run = _Run()
        return self._start_thread(
            self._run,
            (dict(bindings), _Callbacks(on_action, on_lost, on_refused), run),
            "hotkeys-x11",
            START_TIMEOUT_S,
            f"the X display {self.display_name} did not answer",
        )

    def stop(self) -> None:
        thread, run = self._thread, self._run_state
        self._thread = self._run_state = None
        if run is not None:
            run.cancel.set()
            try:
                os.write(run.write, b"x")
            except OSError:
                pass
        if thread is not None:
            thread.join(START_TIMEOUT_S)
        if run is not None:
            run.let_go()

    # -- the thread ---------------------------------------------------------------------------
    def _run(self, bindings: dict[str, Combo], calls: _Callbacks, run: _Run) -> None:
        try:
            self._connected(bindings, calls, run)
        finally:
            run.thread_ended()

    def _connected(self, bindings: dict[str, Combo], calls: _Callbacks, run: _Run) -> None:
        try:
            display = Xlib.display.Display(self.display_name)
        except (Xlib.error.DisplayError, OSError, Xlib.error.XError) as exc:
            self._error = f"cannot connect to the X display {self.display_name}: {exc}"
            self._ready.set()
            return
        grabs: dict[tuple[int, int], list[int]] = {}  # (keycode, mask) -> its lock variants
        try:
            if run.cancel.is_set():  # connected after stop (start gave up waiting): grab nothing
                return
            root = display.screen().root

            def regrab() -> tuple[dict[tuple[int, int], str], int]:
                before = dict(self._refused)
                table, locks = self._grab(display, root, bindings, grabs)
                if table and self._refused != before and calls.on_refused is not None:
                    try:  # some work, not the same ones: said
                        calls.on_refused(dict(self._refused))
                    except Exception:  # the receiver's bug: said, and the hotkeys keep working
                        traceback.print_exc()
                if not table:  # not one combo is left to work: said as the grabs' end
                    keyless = [bindings[a].key for a, why in self._refused.items() if why != HELD]
                    held = [str(bindings[a]) for a, why in self._refused.items() if why == HELD]
                    whys = [f"this keyboard layout has no {', '.join(keyless)} key"] if keyless else []
                    whys += [f"{', '.join(held)}: {HELD}"] if held else []
                    raise _Lost(f"after a keyboard change no combination could be grabbed again ({'; '.join(whys)})")
                return table, locks

            table, locks = self._grab(display, root, bindings, grabs)
            self._ready.set()
            self._loop(display, table, locks, calls.on_action, run.read, regrab)
        except _Lost as exc:
            calls.on_lost(str(exc))
        except Exception as exc:  # a lost connection…: no hotkeys any more, said, never a crash
            if not self._ready.is_set():
                self._error = f"the X display refused the key grabs ({type(exc).__name__}: {exc})"
                self._ready.set()
            else:
                calls.on_lost(f"the X display {self.display_name} went away ({type(exc).__name__})")
        finally:
            try:
                self._ungrab(display, grabs)
                display.close()
            except Exception:  # the connection is already gone
                pass

    @staticmethod
    def _ungrab(display: Any, grabs: dict[tuple[int, int], list[int]]) -> None:
        for (keycode, _mask), variants in grabs.items():
            for variant in variants:
                display.screen().root.ungrab_key(keycode, variant)
        grabs.clear()

    def _grab(
        self, display: Any, root: Any, bindings: dict[str, Combo], grabs: dict[tuple[int, int], list[int]]
    ) -> tuple[dict[tuple[int, int], str], int]:
        """Grab each combo on the key that types its letter now; ``grabs`` (what this client
        holds: (keycode, mask) -> lock variants) is brought up to date. A grab already held is
        kept as it is, and new grabs are made before stale ones are let go: the X server sends
        MappingNotify each time the typing device changes (a second keyboard, a USB headset's
        buttons, XTEST), nearly always with the same keymap, and a release-then-grab would leave
        a gap in which the agent's hotkey reaches the focused application instead."""
        masks, locks = modifier_masks(display)
        held = {(keycode, variant) for (keycode, _mask), variants in grabs.items() for variant in variants}
        wanted: dict[tuple[int, int], list[int]] = {}
        table: dict[tuple[int, int], str] = {}
        refused: dict[str, str] = {}
        for action, combo in bindings.items():
            keycode = display.keysym_to_keycode(_keysym(combo.key))
            if not keycode:
                refused[action] = f"this keyboard layout has no {combo.key} key"
                continue
            mask = 0
            for name in combo.modifiers:
                mask |= masks[name]
            variants = lock_variants(mask, locks)
            new = [variant for variant in variants if (keycode, variant) not in held]
            if new:
                catch = Xlib.error.CatchError(Xlib.error.BadAccess, Xlib.error.BadValue)
                for variant in new:
                    root.grab_key(keycode, variant, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catch)
                display.sync()  # the errors of the requests above arrive before sync's reply
                if catch.get_error() is not None:
                    for variant in new:  # releases only this client's grabs, never the other's
                        root.ungrab_key(keycode, variant)
                    display.sync()
                    refused[action] = HELD
                    continue
            wanted[(keycode, mask)] = variants
            table[(keycode, mask)] = action
        kept = {(keycode, variant) for (keycode, _mask), variants in wanted.items() for variant in variants}
        stale = held - kept
        for keycode, variant in sorted(stale):
            root.ungrab_key(keycode, variant)
        if stale:
            display.sync()
        grabs.clear()
        grabs.update(wanted)
        # replaced whole, never emptied and refilled: ``start`` copies it from its own thread
        # once this one says ready, which may be while a MappingNotify is being followed
        self._refused = refused
        lock_bits = 0
        for lock in locks:
            lock_bits |= lock
        return table, lock_bits

    @staticmethod
    def _loop(
        display: Any,
        table: dict[tuple[int, int], str],
        lock_bits: int,
        on_action: Callable[[str], None],
        wake: int,
        regrab: Callable[[], tuple[dict[tuple[int, int], str], int]],
    ) -> None:
        released: tuple[int, int] | None = None  # (keycode, time) of the last key release
        fd = display.fileno()
        while True:
            while display.pending_events():
                event = display.next_event()
                if event.type == X.MappingNotify and event.request in (X.MappingKeyboard, X.MappingModifier):
                    # another keyboard layout or modifier map: the combos' keys may sit on other
                    # keycodes now (QWERTY W is AZERTY Z): the grabs follow them
                    display.refresh_keyboard_mapping(event)
                    table, lock_bits = regrab()
                elif event.type == X.KeyRelease:
                    released = (event.detail, event.time)
                elif event.type == X.KeyPress:
                    # auto-repeat sends release + press with one timestamp: one action per press
                    if released == (event.detail, event.time):
                        continue
                    action = table.get((event.detail, event.state & 0xFF & ~lock_bits))
                    if action is not None:
                        try:
                            on_action(action)
                        except Exception:  # the receiver's bug: said, and the hotkeys keep working
                            traceback.print_exc()
            readable, _, _ = select.select([fd, wake], [], [])
            if wake in readable:
                return
