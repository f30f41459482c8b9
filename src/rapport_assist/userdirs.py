"""The user's folders, from platformdirs: config (settings.json, masking.yaml), cache (the QA
transcript cache, the sidebar's icons in its style's colours) and data (the sidebar's feedback
log and recorded calls).

| folder | Linux (as before) | Windows | macOS |
|---|---|---|---|
| config | ``$XDG_CONFIG_HOME/rapport-assist`` (``~/.config/…``) | ``%APPDATA%\\rapport-assist`` | ``~/Library/Application Support/rapport-assist`` |
| cache | ``$XDG_CACHE_HOME/rapport-assist`` (``~/.cache/…``) | ``%LOCALAPPDATA%\\rapport-assist\\Cache`` | ``~/Library/Caches/rapport-assist`` |
| data | ``$XDG_DATA_HOME/rapport-assist`` (``~/.local/share/…``) | ``%LOCALAPPDATA%\\rapport-assist`` | ``~/Library/Application Support/rapport-assist`` |

``$RAPPORT_ASSIST_CACHE`` and ``$RAPPORT_ASSIST_DATA`` name the cache and data folders instead.
The environment is read at each call, so a changed variable applies at once.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "rapport-assist"
CACHE_ENV = "RAPPORT_ASSIST_CACHE"
DATA_ENV = "RAPPORT_ASSIST_DATA"


def config_dir() -> Path:
    """Settings and the team's masking list (roaming on Windows: ``%APPDATA%``, as before)."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False, roaming=True))


def cache_dir() -> Path:
    """``$RAPPORT_ASSIST_CACHE``, else the user's cache folder."""
    return _override(CACHE_ENV) or Path(platformdirs.user_cache_dir(APP, appauthor=False))


def data_dir() -> Path:
    """``$RAPPORT_ASSIST_DATA``, else the user's data folder."""
    return _override(DATA_ENV) or Path(platformdirs.user_data_dir(APP, appauthor=False))


def _override(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
