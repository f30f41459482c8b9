"""The sidebar in the desktop's application menu and, if the agent wants, opened at login (Linux
desktops; no Qt).

Both are XDG desktop entries with the same text: ``$XDG_DATA_HOME/applications/rapport-assist.desktop``
(``~/.local/share/…``: the menu, by the Desktop Entry spec) and
``$XDG_CONFIG_HOME/autostart/rapport-assist.desktop`` (``~/.config/…``: started at login, by the
Desktop Application Autostart spec). The entry names this install's own ``rapport-assist`` by
its absolute path, so it runs without the venv on ``PATH``; ``status`` says when that program is
gone (the checkout moved) and the entry must be written again.

Written by hand: an entry is a dozen ``key=value`` lines, and no maintained library writes them
(pyxdg reads and validates, but writes values as given). The one subtle part is the ``Exec``
quoting (the spec's "The Exec key"), in ``exec_line``; the tests check every entry with
``desktop-file-validate``, the spec's reference checker.
"""

from __future__ import annotations

import errno
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .bundled import UI_DIR
from .errors import OutputError, UsageError
from .fileio import write_atomic

FILE_NAME = "rapport-assist.desktop"
# the X11 window class Qt gives the panel (its application name), so a dock groups the window
# under this entry (tests/test_launcher.py reads it from a real window)
WM_CLASS = "Rapport Assist"
# characters that make an Exec argument need double quotes, and those escaped inside them
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = set('"`$\\')
_STRING_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class Places:
    """Where the two entries go."""

    menu: Path
    login: Path


def places() -> Places:
    """The entries' paths for this user (the XDG folders are read now, from the environment)."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        raise UsageError(
            "the desktop launcher is made for Linux desktops (XDG menus and autostart)",
            "on Windows, put a shortcut to 'rapport-assist sidebar' in the Start menu or in shell:startup",
        )
    return Places(
        menu=platformdirs.user_data_path() / "applications" / FILE_NAME,
        login=platformdirs.user_config_path() / "autostart" / FILE_NAME,
    )


def program() -> list[str]:
    """The command that opens the sidebar from this install: the ``rapport-assist`` script beside
    this Python (a venv's ``bin/``), else this Python running the package. The venv's python is
    a symlink: it is kept as it is, since resolving it would leave the venv."""
    python = Path(sys.executable).absolute()
    script = python.with_name("rapport-assist")
    if script.is_file():
        return [str(script), "sidebar"]
    return [str(python), "-m", "rapport_assist.cli", "sidebar"]


def exec_arg(arg: str) -> str:
    """One argument as the Exec key's own quoting wants it (before the file's string escapes):
    double quotes around an argument with a reserved character, a backslash before ``"``,
    ``` ` ```, ``$`` and ``\\`` inside them, and ``%%`` for a literal ``%`` (``%`` starts a field
    code such as ``%f``)."""
    arg = arg.replace("%", "%%")
    if not arg or any(c in _RESERVED for c in arg):
        arg = '"' + "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in arg) + '"'
    return arg


def exec_line(argv: list[str]) -> str:
    """The Exec value as written in the file: the quoted arguments, then the file format's string
    escapes (a backslash is written twice)."""
    return string_value(" ".join(exec_arg(a) for a in argv))


def string_value(text: str) -> str:
    """``text`` as a string value in the file: a backslash written twice, and a newline, tab or
    carriage return as ``\\n``, ``\\t``, ``\\r`` (a value may hold no control character, and a
    raw newline would end the line)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def entry_text(argv: list[str], icon: Path | None = None) -> str:
    """The desktop entry that runs ``argv``."""
    icon = icon if icon is not None else UI_DIR / "icons" / "app.svg"
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",  # the newest that desktop-file-validate 0.26 (Debian 12-13) knows
        "Name=Rapport Assist",
        "GenericName=Agent-assist sidebar",
        "Comment=Live nudges beside the softphone; the call is transcribed on this PC",
        f"Exec={exec_line(argv)}",
        f"Icon={string_value(str(icon))}" if icon.is_file() else "",
        "Terminal=false",
        "Categories=Office;",
        "Keywords=call;agent;coaching;transcribe;sidebar;",
        # no startup notification: the panel never asks for the keyboard, and a desktop waiting
        # for one would show a busy cursor until it timed out
        "StartupNotify=false",
        f"StartupWMClass={WM_CLASS}",
    ]
    return "\n".join(line for line in lines if line) + "\n"


@dataclass(frozen=True)
class Entry:
    """One entry as found on disk."""

    path: Path
    exists: bool
    program: str | None  # the Exec's first argument, unquoted
    ours: bool  # it runs this install
    # switched off by the desktop's own startup settings, the file kept: Hidden=true (the specs'
    # way; Xfce, LXQt, KDE) or X-GNOME-/X-MATE-Autostart-enabled=false
    off: bool = False

    @property
    def stale(self) -> bool:
        """It names a program that is no longer there."""
        return self.exists and self.program is not None and not Path(self.program).exists()


def switched_off(text: str) -> bool:
    """Whether an entry's text says it is to be ignored: ``Hidden=true`` (\"as if it did not exist\",
    by both specs) or a desktop's own ``X-…-Autostart-enabled=false``."""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip().lower()
        if sep and key == "Hidden" and value == "true":
            return True
        if sep and key.startswith("X-") and key.endswith("-Autostart-enabled") and value == "false":
            return True
    return False


def read_exec(text: str) -> list[str] | None:
    """The Exec arguments of an entry's text (the reverse of ``exec_line``), or None."""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "Exec":
            return split_exec(value.strip())
    return None


def split_exec(value: str) -> list[str]:
    """An Exec value split into its arguments: the file format's string escapes undone (``\\s``,
    ``\\n``, ``\\t``, ``\\r``, ``\\\\``), then the quoting, then ``%%``. By hand: shlex's double
    quotes unescape only ``"`` and ``\\``, the spec's also ``$`` and ``` ` ```."""
    text = re.sub(r"\\(.)", lambda m: _STRING_ESCAPES.get(m.group(1), m.group(1)), value, flags=re.S)
    args: list[str] = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', text, flags=re.S):
        quoted, bare = m.group(1), m.group(2)
        arg = re.sub(r"\\(.)", r"\1", quoted, flags=re.S) if quoted is not None else bare
        args.append(arg.replace("%%", "%"))
    return args


def find(path: Path) -> Entry:
    """What is at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # a file where a folder should be: no entry
        return Entry(path, False, None, False)
    except (OSError, UnicodeDecodeError):
        return Entry(path, True, None, False)
    argv = read_exec(text)
    first = argv[0] if argv else None
    return Entry(path, True, first, argv == program(), switched_off(text))


def install(at_login: bool) -> list[Path]:
    """Write the menu entry, and the login entry too when ``at_login`` or when there is one already
    (it may name a moved install) that the desktop has not switched off; the paths written."""
    where = places()
    text = entry_text(program())
    written = []
    for path in [where.menu, *([where.login] if at_login or opens_at_login() else [])]:
        _write(path, text)
        written.append(path)
    return written


def remove(login_only: bool) -> list[Path]:
    """Delete the login entry, and the menu entry too unless ``login_only``; the paths deleted."""
    where = places()
    removed = []
    for path in [where.login, *([] if login_only else [where.menu])]:
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise OutputError(
                f"cannot delete {path}: {exc.strerror or exc}", "check the folder's permissions"
            ) from None
    return removed


def opens_at_login() -> bool:
    """Whether this user's login entry exists (whatever it runs), and the desktop's startup
    settings have not switched it off."""
    entry = find(places().login)
    return entry.exists and not entry.off


def set_open_at_login(on: bool) -> None:
    """Add or delete the login entry (the Settings checkbox)."""
    if on:
        _write(places().login, entry_text(program()))
    else:
        remove(login_only=True)


def _write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text)
    except OSError as exc:
        hint = "free some disk space and try again" if exc.errno == errno.ENOSPC else "check the folder's permissions"
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", hint) from None
