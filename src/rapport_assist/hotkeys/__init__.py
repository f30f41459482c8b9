"""System-wide hotkeys for the sidebar's newest card (opt-in): dismiss, snooze its rule, helpful, wrong.

During a live call the sidebar never takes the keyboard, so its own shortcuts (Alt+H, Esc…) cannot
reach it; these combos are grabbed from the whole desktop instead and act on the newest card
without moving the focus. A global grab takes the combos away from every other application, so
they are off unless the agent turns them on (Settings, or ``sidebar --hotkeys on``).

No Qt here (import-linter's contract): one backend per platform, loaded only when asked for —
``x11.py`` (python-xlib: XGrabKey on the root window), ``windows.py`` (ctypes: RegisterHotKey).
A backend calls ``on_action`` from its own thread; the caller moves it to its GUI thread. Anything
else (a Wayland session, macOS, no display, python-xlib missing, a combo another application
holds) is a reason in words, never an exception out of ``Hotkeys.apply``.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from typing import Callable, Iterable, Mapping, Protocol

from .combos import (
    ACTION_WORDS,
    ACTIONS,
    DEFAULT_COMBOS,
    HELD,
    KEYS,
    Combo,
    HotkeysUnavailable,
    lock_variants,
    parse_bindings,
    parse_combo,
)

__all__ = [
    "ACTION_WORDS",
    "ACTIONS",
    "DEFAULT_COMBOS",
    "HELD",
    "KEYS",
    "Backend",
    "Combo",
    "Hotkeys",
    "HotkeysUnavailable",
    "OFF",
    "UNAVAILABLE",
    "lock_variants",
    "parse_bindings",
    "parse_combo",
    "platform_backend",
    "probe",
]


class Backend(Protocol):
    """One platform's global key grabs."""

    def start(
        self,
        bindings: Mapping[str, Combo],
        on_action: Callable[[str], None],
        on_lost: Callable[[str], None],
        on_refused: Callable[[dict[str, str]], None] | None = None,
    ) -> dict[str, str]:
        """Grab every combo; ``on_action(action)`` is called (from any thread) when one is pressed,
        ``on_lost(reason)`` once if the grabs end on their own (the X server went away…),
        ``on_refused(refused)`` when the combos that cannot work change while some still do (a
        keyboard layout without a combo's letter, or back to one with it). Returns action -> why
        its combo could not be grabbed, without the combo (``HELD``…); raises
        HotkeysUnavailable when none can be (no display…)."""
        ...

    def stop(self) -> None:
        """Release every grab (safe to call twice, or after a failed start)."""
        ...


def platform_backend(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Backend:
    """This desktop's backend (not started), or HotkeysUnavailable with the reason."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        from .windows import WindowsBackend

        return WindowsBackend()
    if platform == "darwin":
        raise HotkeysUnavailable("not built for macOS (it needs an event tap and the Accessibility permission)")
    session = environ.get("XDG_SESSION_TYPE", "").lower()
    if session == "wayland" or (environ.get("WAYLAND_DISPLAY") and session != "x11"):
        raise HotkeysUnavailable(
            "a Wayland session lets no application grab keys for the whole desktop "
            "(log in to an X11 / Xorg session to use them)"
        )
    display = environ.get("DISPLAY", "")
    if not display:
        raise HotkeysUnavailable("no X display ($DISPLAY is not set)")
    try:
        from .x11 import X11Backend
    except ImportError as exc:
        raise HotkeysUnavailable(f"python-xlib cannot be loaded ({exc}); run 'make setup'") from None
    return X11Backend(display)


def describe(bindings: Mapping[str, Combo], actions: Iterable[str] | None = None) -> str:
    """'Ctrl+Alt+J dismiss · Ctrl+Alt+P snooze · …' for the status line."""
    return " · ".join(f"{bindings[a]} {a}" for a in (actions if actions is not None else bindings))


OFF = ("off", "off")  # Hotkeys.state while they are not turned on
UNAVAILABLE = "not available: "  # an "error" state's message when no combo could be grabbed here


class Hotkeys:
    """The sidebar's hotkeys: turned on and off with the settings, their state in words.

    ``state`` is (level, message) as the status panel shows it: "off"; "ok" with the combos;
    "warning" when some combos are held by other applications (the others work); "error" when
    none can work here, with the reason."""

    def __init__(
        self,
        on_action: Callable[[str], None],
        make_backend: Callable[[], Backend] = platform_backend,
        on_lost: Callable[[int, str], None] | None = None,
        on_refused: Callable[[int, dict[str, str]], None] | None = None,
    ) -> None:
        self.on_action = on_action
        self.make_backend = make_backend
        # (generation, reason) from the backend's thread when its grabs end on their own, and
        # (generation, refused) when the combos that work change: the caller hands them to its
        # own thread and calls ``lost`` / ``refused`` there
        self.on_lost = on_lost
        self.on_refused = on_refused
        self.generation = 0
        self.backend: Backend | None = None
        self.bindings: dict[str, Combo] = {}
        self.active: dict[str, Combo] = {}  # the combos grabbed and working
        self.state: tuple[str, str] = OFF

    @property
    def enabled(self) -> bool:
        return self.state != OFF

    def apply(self, enabled: bool, combos: Mapping[str, str]) -> tuple[str, str]:
        """Grab ``combos`` (action -> text) if ``enabled``, release the old grabs first; the new state."""
        self.stop()
        if not enabled:
            return self.state
        try:
            self.bindings = parse_bindings(combos)
        except ValueError as exc:
            self.state = ("error", f"not on: {exc}")
            return self.state
        try:
            backend = self.make_backend()
            self.backend = backend
            self.generation += 1
            refused = backend.start(
                self.bindings,
                self._pressed,
                partial(self._backend_lost, self.generation),
                partial(self._backend_refused, self.generation),
            )
        except HotkeysUnavailable as exc:
            self.stop()
            self.state = ("error", f"{UNAVAILABLE}{exc}")
            return self.state
        except Exception as exc:  # a backend's own failure must not take the sidebar down
            self.stop()
            self.state = ("error", f"{UNAVAILABLE}{type(exc).__name__}: {exc}")
            return self.state
        if not self._settle(refused):
            self.stop()
            self.state = ("error", f"{UNAVAILABLE}{self._refusals(refused)}")
        return self.state

    def _settle(self, refused: Mapping[str, str]) -> bool:
        """``active`` and ``state`` from what the backend refused; False if nothing works."""
        self.active = {a: c for a, c in self.bindings.items() if a not in refused}
        if not self.active:
            return False
        if refused:
            self.state = ("warning", f"{describe(self.active)} — not {self._refusals(refused)}")
        else:
            self.state = ("ok", describe(self.active))
        return True

    def _refusals(self, refused: Mapping[str, str]) -> str:
        """'Ctrl+Alt+J (dismiss), Ctrl+Alt+H (helpful): held by another application', one group per reason."""
        groups: dict[str, list[str]] = {}
        for action in ACTIONS:
            if action in refused:
                groups.setdefault(refused[action], []).append(f"{self.bindings[action]} ({action})")
        return "; ".join(f"{', '.join(combos)}: {reason}" for reason, combos in groups.items())

    def _backend_lost(self, generation: int, reason: str) -> None:  # the backend's thread
        if self.on_lost is not None:
            self.on_lost(generation, reason)

    def _backend_refused(self, generation: int, refused: dict[str, str]) -> None:  # the backend's thread
        if self.on_refused is not None:
            self.on_refused(generation, refused)

    def refused(self, generation: int, refused: Mapping[str, str]) -> tuple[str, str]:
        """After a keyboard change the combos of apply number ``generation`` that cannot work are
        ``refused`` (some still work): the state says which, and a combo that works again (the
        layout switched back) acts again. The state."""
        if generation == self.generation and self.backend is not None and not self._settle(refused):
            self.stop()  # the backend says lost instead; never left on with nothing working
            self.state = ("error", f"stopped: {self._refusals(refused)}")
        return self.state

    def lost(self, generation: int, reason: str) -> tuple[str, str]:
        """The grabs of apply number ``generation`` ended on their own: said, released (a later
        apply's are left alone). The state."""
        if generation == self.generation and self.backend is not None:
            self.stop()
            self.state = ("error", f"stopped: {reason}")
        return self.state

    def _pressed(self, action: str) -> None:
        if action in self.active:
            self.on_action(action)

    def stop(self) -> None:
        backend, self.backend = self.backend, None
        self.active = {}
        self.state = OFF
        if backend is not None:
            backend.stop()


def probe(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str:
    """'' when this desktop has a backend, else why not (the settings dialog says it before any grab)."""
    try:
        platform_backend(environ, platform)
    except HotkeysUnavailable as exc:
        return str(exc)
    return ""
