"""The Windows backend: ``RegisterHotKey`` through ctypes (user32), no extra package.

Written to the Win32 documentation but never run: the project's tests and CI run on Linux only.
A hotkey registered with no window is posted as WM_HOTKEY to the message queue of the thread
that registered it, so one background thread registers every combo, pumps its own queue with
GetMessageW, and unregisters them when ``stop`` posts it WM_QUIT. RegisterHotKey fails with
ERROR_HOTKEY_ALREADY_REGISTERED when another application holds the combo: that one is reported
as taken. MOD_NOREPEAT: holding the keys acts once. Note that Windows treats Ctrl+Alt as AltGr:
a Ctrl+Alt combo that types a character on the agent's layout (€ is AltGr+E on many) would stop
typing it everywhere, which is why the defaults avoid those letters.
"""

from __future__ import annotations

import ctypes
import traceback
from typing import Any, Callable, Mapping

from .combos import HELD, Combo, GrabThread

MOD_ALT, MOD_CONTROL, MOD_SHIFT, MOD_WIN, MOD_NOREPEAT = 0x0001, 0x0002, 0x0004, 0x0008, 0x4000
MODIFIER_FLAGS = {"ctrl": MOD_CONTROL, "alt": MOD_ALT, "shift": MOD_SHIFT, "super": MOD_WIN}
WM_HOTKEY, WM_QUIT, WM_USER = 0x0312, 0x0012, 0x0400
PM_NOREMOVE = 0x0000
ERROR_HOTKEY_ALREADY_REGISTERED = 1409
START_TIMEOUT_S = 5.0


def _windll() -> Any:
    """ctypes.WinDLL, which exists on Windows only (looked up so the module imports, and is type
    checked, anywhere)."""
    return vars(ctypes)["WinDLL"]


def virtual_key(key: str) -> int:
    """The virtual-key code of a ``hotkeys.KEYS`` key: letters and digits are their ASCII
    capitals ('A' = 0x41, '0' = 0x30); F1…F12 are 0x70…0x7B."""
    if len(key) == 1:
        return ord(key.upper())
    return 0x70 + int(key[1:]) - 1


def flags(combo: Combo) -> int:
    value = MOD_NOREPEAT
    for name in combo.modifiers:
        value |= MODIFIER_FLAGS[name]
    return value


class WindowsBackend(GrabThread):
    def __init__(self) -> None:
        super().__init__()
        self._thread_id = 0

    def start(
        self,
        bindings: Mapping[str, Combo],
        on_action: Callable[[str], None],
        on_lost: Callable[[str], None],
        on_refused: Callable[[dict[str, str]], None] | None = None,
    ) -> dict[str, str]:
        # RegisterHotKey binds virtual keys, which a layout change leaves alone: ``on_refused``
        # never has anything to say here
        self.stop()
        return self._start_thread(
            self._run,
            (dict(bindings), on_action, on_lost),
            "hotkeys-windows",
            START_TIMEOUT_S,
            "the hotkey thread did not start",
        )

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._thread_id:
            user32: Any = _windll()("user32", use_last_error=True)
            user32.PostThreadMessageW(self._thread_id, WM_QUIT, 0, 0)
        thread.join(START_TIMEOUT_S)
        self._thread_id = 0

    def _run(
        self, bindings: dict[str, Combo], on_action: Callable[[str], None], on_lost: Callable[[str], None]
    ) -> None:
        try:
            from ctypes import wintypes

            user32: Any = _windll()("user32", use_last_error=True)
            kernel32: Any = _windll()("kernel32", use_last_error=True)
            user32.RegisterHotKey.argtypes = [wintypes.HWND, ctypes.c_int, wintypes.UINT, wintypes.UINT]
            user32.RegisterHotKey.restype = wintypes.BOOL
            user32.UnregisterHotKey.argtypes = [wintypes.HWND, ctypes.c_int]
            user32.UnregisterHotKey.restype = wintypes.BOOL
            user32.GetMessageW.argtypes = [ctypes.POINTER(wintypes.MSG), wintypes.HWND, wintypes.UINT, wintypes.UINT]
            user32.GetMessageW.restype = wintypes.BOOL
            user32.PeekMessageW.argtypes = [
                ctypes.POINTER(wintypes.MSG),
                wintypes.HWND,
                wintypes.UINT,
                wintypes.UINT,
                wintypes.UINT,
            ]
            user32.PeekMessageW.restype = wintypes.BOOL
            user32.PostThreadMessageW.argtypes = [wintypes.DWORD, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM]
            msg = wintypes.MSG()
            # a thread has a message queue only once it asks for a message: make it before stop()
            # can post WM_QUIT to it
            user32.PeekMessageW(ctypes.byref(msg), None, WM_USER, WM_USER, PM_NOREMOVE)
            self._thread_id = int(kernel32.GetCurrentThreadId())
        except Exception as exc:  # not Windows, or a user32 without these calls
            self._error = f"RegisterHotKey cannot be used here ({type(exc).__name__}: {exc})"
            self._ready.set()
            return
        ids: dict[int, str] = {}
        try:
            for number, (action, combo) in enumerate(bindings.items(), start=1):
                if user32.RegisterHotKey(None, number, flags(combo), virtual_key(combo.key)):
                    ids[number] = action
                    continue
                code = vars(ctypes)["get_last_error"]()
                if code == ERROR_HOTKEY_ALREADY_REGISTERED:
                    self._refused[action] = HELD
                else:
                    self._refused[action] = f"refused (Windows error {code})"
            self._ready.set()
            while True:
                got = user32.GetMessageW(ctypes.byref(msg), None, 0, 0)
                if got == 0:  # WM_QUIT from stop()
                    return
                if got == -1:
                    on_lost(f"the hotkey message loop failed (Windows error {vars(ctypes)['get_last_error']()})")
                    return
                if msg.message == WM_HOTKEY and int(msg.wParam) in ids:
                    try:
                        on_action(ids[int(msg.wParam)])
                    except Exception:
                        traceback.print_exc()
        finally:
            for number in ids:
                user32.UnregisterHotKey(None, number)
            self._ready.set()
