"""The sidebar: a PySide6 view over ``rapport_assist.assist.AssistModel``.

This package is the only one that imports Qt. ``app.run_sidebar`` opens the window; the model,
the attention budget and QA playback live outside (``assist.py``, ``playback.py``) and are
tested without a display.
"""

from __future__ import annotations

import linecache
import sys
from types import ModuleType
from typing import Callable

import PySide6  # noqa: F401  (loads shiboken's import hook, patched below before any other Qt import)


def forget_module_sources() -> bool:
    """Keep PySide6's import hook from caching the source of every module imported after it.

    To decide whether a new module "uses PySide" (for its opt-in ``__feature__`` switches, which
    nothing here uses), shiboken reads the module's whole source with ``inspect.getsource``,
    which keeps every line in ``linecache`` for good: in the ready sidebar 300 files, 6.5 MB of
    text as line strings, ~15 MB of Python objects held for the life of the process (600 files,
    21 MB when everything is imported on one thread; BENCHMARKS.md, "Sidebar start-up and
    memory"). The check still runs and
    answers the same; the lines it read are dropped right after, so they are freed while the
    next import reuses their memory (dropping them all at "ready" instead frees them into
    fragmented arenas that RSS keeps). ``linecache`` rereads a file when a traceback needs it.
    True when the hook was found and wrapped (once; a PySide6 without it is left alone)."""
    feature = sys.modules.get("shibokensupport.feature")
    check: Callable[[ModuleType], bool] | None = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or check is None or getattr(check, "_forgets_sources", False):
        return False

    def uses_pyside(module: ModuleType) -> bool:
        before = set(linecache.cache)  # (a copy made under the GIL)
        try:
            return check(module)
        finally:
            for name in set(linecache.cache) - before:
                linecache.cache.pop(name, None)

    uses_pyside._forgets_sources = True  # type: ignore[attr-defined]
    feature._mod_uses_pyside = uses_pyside  # type: ignore[attr-defined]
    return True


forget_module_sources()
