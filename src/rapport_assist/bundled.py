"""The data that ships with the package, found in one place: the default rule packs, the
sidebar's styles and icons, and the demo call.

Where they are:

* an installed wheel: inside the package, ``rapport_assist/_bundled/rules``,
  ``rapport_assist/_bundled/ui`` and ``rapport_assist/data`` (pyproject.toml maps the repo's
  top-level ``rules/`` and ``ui/`` folders onto ``rapport_assist._bundled.*``);
* a source checkout (``PYTHONPATH=src``, or the editable install ``make setup`` makes): the
  package is ``<repo>/src/rapport_assist`` and ``rules/`` and ``ui/`` are the repo's own, at the top.

The package is found with ``importlib.resources``; the data must be files on disk (pip unpacks
wheels), since the rule loader and Qt read paths.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = Path(str(files(__package__ or "rapport_assist"))).resolve()


def _top_level(name: str) -> Path:
    """``rules`` or ``ui``: inside the package when installed from a wheel, else the checkout's."""
    inside = PACKAGE / "_bundled" / name
    if inside.is_dir():
        return inside
    return PACKAGE.parents[1] / name  # <repo>/src/rapport_assist -> <repo>/NAME


RULES_DIR = _top_level("rules")
"""The default rule packs (``$RAPPORT_ASSIST_RULES`` overrides them: rules.default_rules_dir)."""
UI_DIR = _top_level("ui")
"""Styles (``styles/``) and icons (``icons/``) of the sidebar (``$RAPPORT_ASSIST_UI`` overrides them)."""
DATA_DIR = PACKAGE / "data"
DEMO_AUDIO = DATA_DIR / "demo_call.flac"
"""The demo call: a stereo recording, agent on the left channel, customer on the right."""
DEMO_TRANSCRIPT = DATA_DIR / "demo_call.jsonl"
