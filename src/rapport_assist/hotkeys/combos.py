"""Key combinations for the system-wide hotkeys: the actions, the default combos, parsing, the
lock-modifier variants an X grab needs, and the grab thread both backends start the same way.
Shared by the backends (no Qt, no platform code)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

ACTIONS = ("dismiss", "snooze", "helpful", "wrong")
ACTION_WORDS = {
    "dismiss": "dismiss the newest card",
    "snooze": "snooze the newest card's rule",
    "helpful": "mark the newest card helpful",
    "wrong": "mark the newest card wrong",
}
# Ctrl+Alt+letter, letters chosen to stay clear of what desktops and keyboards already use:
# not T (a terminal on Ubuntu, Kubuntu, Xfce), L (lock the screen), D (Xfce: show the desktop),
# F (Xfce: file manager), K (KDE: next keyboard layout), A (KDE: the window asking for attention),
# nor Esc / Delete / Backspace / arrows (xkill, log out, kill X, workspaces). On Windows Ctrl+Alt
# is AltGr, which types a character with E, Q, M (German, French, Spanish…: €, @, µ) and A, C, E,
# L, N, O, S, X, Z (Polish: ą, ć, ę…): those are left out too. H and W are the sidebar's own Alt+H
# and Alt+W with Ctrl added; J sits beside H for dismiss (Esc and D are taken); P for "pause" the
# rule. CRMs and softphones bind Ctrl+Shift and Alt combos far more often than Ctrl+Alt+letter;
# any combo can be changed in Settings.
DEFAULT_COMBOS = {"dismiss": "Ctrl+Alt+J", "snooze": "Ctrl+Alt+P", "helpful": "Ctrl+Alt+H", "wrong": "Ctrl+Alt+W"}

MODIFIERS = ("ctrl", "alt", "shift", "super")  # in the order a combo is written
_MODIFIER_NAMES = {
    "ctrl": "ctrl",
    "control": "ctrl",
    "ctl": "ctrl",
    "alt": "alt",
    "shift": "shift",
    "super": "super",
    "meta": "super",
    "win": "super",
    "windows": "super",
    "cmd": "super",
}
KEYS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + tuple(f"F{n}" for n in range(1, 13))


HELD = "held by another application"  # a backend's reason for a combo the desktop refused


class HotkeysUnavailable(Exception):
    """No system-wide hotkeys here; the message says why, in words for the settings and status."""


@dataclass(frozen=True)
class Combo:
    """One key with its modifiers, e.g. Ctrl+Alt+H: ``modifiers`` in ``MODIFIERS`` order, ``key`` in ``KEYS``."""

    modifiers: tuple[str, ...]
    key: str

    def __str__(self) -> str:
        return "+".join([m.capitalize() for m in self.modifiers] + [self.key])


def parse_combo(text: str) -> Combo:
    """ "Ctrl+Alt+H" (any case, spaces allowed) -> Combo; ValueError says what is wrong.

    At least Ctrl, Alt or Super: a plain letter, or Shift and a letter, would be taken from every
    text field on the desktop. Not Ctrl+Alt with an F key: on Linux that switches to a text
    console, grabbed or not (the grab would succeed and the status line say it works)."""
    parts = [p.strip() for p in text.replace(" ", "").split("+")]
    if not text.strip() or any(not p for p in parts):
        raise ValueError(f"'{text}' is not a key combination: write it like Ctrl+Alt+H")
    *mods, key = parts
    found: set[str] = set()
    for mod in mods:
        name = _MODIFIER_NAMES.get(mod.lower())
        if name is None:
            raise ValueError(f"'{mod}' in '{text}' is not a modifier (Ctrl, Alt, Shift, Super)")
        if name in found:
            raise ValueError(f"'{text}' names {name.capitalize()} twice")
        found.add(name)
    key = key.upper()
    if key not in KEYS:
        raise ValueError(f"'{parts[-1]}' in '{text}' is not a key hotkeys can use (a letter, a digit, F1…F12)")
    if not found & {"ctrl", "alt", "super"}:
        raise ValueError(f"'{text}' needs Ctrl, Alt or Super: without them it would take a key from all typing")
    if {"ctrl", "alt"} <= found and key.startswith("F"):
        # the X server acts on these itself (xkb's srvr_ctrl(fkey2vt)), whatever holds a grab
        raise ValueError(f"'{text}': Ctrl+Alt+F1…F12 switch Linux to a text console; pick another key")
    return Combo(tuple(m for m in MODIFIERS if m in found), key)


def parse_bindings(texts: Mapping[str, str]) -> dict[str, Combo]:
    """action -> Combo for every action in ``ACTIONS`` (a missing one: its default); ValueError
    for a combination that does not parse, or one given to two actions."""
    combos: dict[str, Combo] = {}
    for action in ACTIONS:
        text = str(texts.get(action) or DEFAULT_COMBOS[action])
        try:
            combos[action] = parse_combo(text)
        except ValueError as exc:
            raise ValueError(f"{action}: {exc}") from None
    seen: dict[Combo, str] = {}
    for action, combo in combos.items():
        if combo in seen:
            raise ValueError(f"{combo} is given to both {seen[combo]} and {action}")
        seen[combo] = action
    return combos


def lock_variants(mask: int, locks: Iterable[int]) -> list[int]:
    """``mask`` with every combination of the lock modifiers (CapsLock, NumLock…) added: an X key
    grab matches the modifier state exactly, so a combo is grabbed once for each, or it stops
    working while NumLock is on. Masks already in ``mask`` or zero are left out; no duplicates."""
    variants = [mask]
    for lock in locks:
        if lock and not lock & mask:
            variants += [v | lock for v in variants if not v & lock]
    return sorted(set(variants))


class GrabThread:
    """A backend's grabs live on one background thread of its own (X11: the connection; Windows:
    the message queue). ``_start_thread`` starts it and waits until it says ``_ready``: by then it
    has grabbed (``_refused``: action -> why a combo was not) or failed (``_error``). The backend's
    ``stop`` ends the thread and releases the grabs."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error = ""
        self._refused: dict[str, str] = {}

    def stop(self) -> None:
        raise NotImplementedError

    def _start_thread(
        self, run: Callable[..., None], args: tuple[Any, ...], name: str, timeout_s: float, silent: str
    ) -> dict[str, str]:
        """Run ``run(*args)`` on a thread called ``name``; what it refused, or HotkeysUnavailable
        (``silent`` when it has not said ready within ``timeout_s``)."""
        self._ready.clear()
        self._error = ""
        self._refused = {}
        self._thread = threading.Thread(target=run, args=args, name=name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise HotkeysUnavailable(silent)
        if self._error:
            self.stop()
            raise HotkeysUnavailable(self._error)
        return dict(self._refused)
