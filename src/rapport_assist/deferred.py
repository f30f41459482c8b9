"""Third-party modules that libraries import when loaded but a call never uses, imported on first use.

faster-whisper imports PyAV (FFmpeg) for its ``decode_audio``, which the recognizer never calls
(it is given arrays), and spaCy imports its command line (typer, rich, weasel, httpx and the
rest, about 360 modules) for ``spacy.info``. In a live call neither is used (live capture needs
PyAV only to resample a device that cannot give 16 kHz), yet they held 16 MB of Python objects
and, with a warm page cache, 20-30 MB of FFmpeg's library pages (BENCHMARKS.md, "Memory").

``defer_unused_imports`` puts a stand-in module (``DeferredModule``) in ``sys.modules`` for each,
before the libraries are imported (``rapport_assist/__init__.py``): the library binds the
stand-in, and the real module is imported the first time anyone reads one of its attributes
(decoding an audio file, ``spacy.info``); from then on ``import`` gives the real module and the
stand-in passes every attribute on to it. A module already imported is left as it is.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()


class DeferredModule(types.ModuleType):
    """Stands in for module ``name`` until one of its attributes is read; ``standins``: attributes
    that must not import it (what an importer takes with ``from name import x``). ``package``:
    the real module is a package (a submodule import then imports it)."""

    def __init__(self, name: str, package: bool, standins: dict[str, object]) -> None:
        super().__init__(name, f"stand-in for {name}, imported on first use (rapport_assist.deferred)")
        self.__dict__.update(standins)
        self.__dict__["_deferred_package"] = package

    def __getattr__(self, attr: str) -> Any:  # only for attributes this object lacks
        if attr.startswith("__") and not (attr == "__path__" and self.__dict__["_deferred_package"]):
            # the import system asks for __path__ (from-imports), __file__ and the like: a plain
            # module's stand-in has none, so the module is not imported for that
            raise AttributeError(attr)
        return getattr(self.load(), attr)

    def load(self) -> types.ModuleType:
        """The real module, imported now if it was not yet."""
        with _lock:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
        return importlib.import_module(self.__name__)


def defer(name: str, package: bool, **standins: object) -> bool:
    """Put a stand-in for ``name`` in ``sys.modules``; False when it is imported already."""
    with _lock:
        if name in sys.modules:
            return False
        sys.modules[name] = DeferredModule(name, package, standins)
        return True


def _spacy_info(*args: object, **kwargs: object) -> object:
    """``spacy.info``, which imports spaCy's command line when called."""
    real = sys.modules.get("spacy.cli.info")
    if isinstance(real, DeferredModule):
        real = real.load()
    elif real is None:
        real = importlib.import_module("spacy.cli.info")
    info: Callable[..., object] = real.info
    return info(*args, **kwargs)


DEFERRED = ("av", "spacy.cli.info")
"""The modules ``defer_unused_imports`` defers (tests check a live call's parts leave them out)."""


def defer_unused_imports() -> None:
    """Defer PyAV and spaCy's command line (see the module doc); once per process is enough."""
    defer("av", package=True)
    if "spacy" not in sys.modules:  # spaCy's __init__ takes ``info`` from it
        defer("spacy.cli.info", package=False, info=_spacy_info)
