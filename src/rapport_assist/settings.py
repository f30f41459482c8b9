"""The user's saved choices (devices, model, recording), a small JSON file in their config dir.

    <config folder>/settings.json   (userdirs.config_dir: $XDG_CONFIG_HOME/rapport-assist on Linux,
                                     default ~/.config/rapport-assist; %APPDATA%\\rapport-assist on Windows)

``load_choices()`` never fails: a missing file gives the defaults, a broken one gives the
defaults and a ``problem`` saying what was wrong (the caller shows it). ``save_choices`` writes
atomically (temp file + rename), so a crash never leaves half a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import OutputError
from .fileio import write_atomic
from .userdirs import config_dir
from .wording import plural

SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class SavedChoices:
    """What the user picked last time; None means "not chosen" (use the default)."""

    agent_device: str | None = None  # a DeviceChoice as text: "pulse:alsa_input.usb...", "pa:USB Mic#0"
    customer_device: str | None = None
    model: str | None = None
    record_dir: str | None = None
    record_audio: bool = False
    mask_digits: bool = True  # mask personal data in every command (privacy.py); false: as --no-mask
    problem: str | None = field(default=None, compare=False)  # why the file was not used, if it was not

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "problem"}


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def load_choices(path: Path | None = None) -> SavedChoices:
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return SavedChoices()
    except (OSError, ValueError) as exc:
        return SavedChoices(problem=f"ignored {path}: {exc}")
    if not isinstance(data, dict):
        return SavedChoices(problem=f"ignored {path}: not a JSON object")
    kwargs: dict[str, Any] = {}
    unknown = []
    for f in fields(SavedChoices):
        if f.name == "problem" or f.name not in data:
            continue
        value = data[f.name]
        want_bool = f.name in ("record_audio", "mask_digits")
        if (want_bool and not isinstance(value, bool)) or (
            not want_bool and value is not None and not isinstance(value, str)
        ):
            unknown.append(f.name)
            continue
        kwargs[f.name] = value
    choices = SavedChoices(**kwargs)
    if unknown:
        choices = replace(
            choices, problem=f"{path}: ignored {plural(len(unknown), 'bad value')} for {', '.join(unknown)}"
        )
    return choices


def save_choices(choices: SavedChoices, path: Path | None = None) -> Path:
    path = path or settings_path()
    try:
        write_atomic(path, json.dumps(choices.to_json(), indent=2) + "\n")
    except OSError as exc:
        raise OutputError(
            f"cannot save settings to {path}: {exc.strerror or exc}",
            "check the folder is writable (or set XDG_CONFIG_HOME)",
        ) from None
    return path
