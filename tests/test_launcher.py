"""launcher: the sidebar in the application menu and opened at login (XDG desktop entries), checked
with the spec's own validator (desktop-file-validate), run as the desktop would run them, and
switched from Settings."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rapport_assist import __version__, launcher
from rapport_assist.cli import main
from rapport_assist.errors import ExitStatus, UsageError

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A user's XDG folders of its own (platformdirs reads them at each call)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["launcher", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def sidebar(qtbot, folder: Path):
    from sidebar_support import build

    window = build(folder / "sidebar.ini")
    qtbot.addWidget(window)
    return window


def validate(path: Path) -> None:
    """The Desktop Entry spec's reference checker accepts the file, with no warning."""
    exe = shutil.which("desktop-file-validate")
    assert exe, "desktop-file-validate is missing: make setup installs desktop-file-utils"
    done = subprocess.run([exe, str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_the_menu_entry_is_valid_and_runs_this_install(home):
    code, out, _ = run("install")
    assert code == 0
    menu = home / "data" / "applications" / "rapport-assist.desktop"
    assert f"application menu: {menu}" in out and "log in" not in out
    assert not (home / "config" / "autostart").exists()  # at login only when asked
    validate(menu)
    argv = launcher.read_exec(menu.read_text())
    assert argv == launcher.program() and argv[-1] == "sidebar"
    # what the desktop runs is this install's program: asked for its version instead of the window
    done = subprocess.run([*argv[:-1], "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"rapport-assist {__version__}"
    text = menu.read_text()
    icon = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("Icon="))
    assert Path(icon).is_file() and "<svg" in Path(icon).read_text()
    assert "StartupNotify=false" in text  # no busy cursor waiting for a window that never takes focus


def test_at_login_writes_the_autostart_entry_and_remove_takes_each_away(home):
    login = home / "config" / "autostart" / "rapport-assist.desktop"
    menu = home / "data" / "applications" / "rapport-assist.desktop"
    code, out, _ = run("install", "--at-login")
    assert code == 0 and f"opens each time you log in: {login}" in out and "Both run" in out
    validate(login)
    assert login.read_text() == menu.read_text()
    _, out, _ = run("status")
    assert out.splitlines() == [
        f"application menu: yes ({menu}, runs this install)",
        f"at login: yes ({login}, runs this install)",
    ]
    code, out, _ = run("remove", "--at-login")
    assert code == 0 and out == f"removed {login}\n" and menu.exists() and not login.exists()
    _, out, _ = run("remove", "--at-login")
    assert out == "nothing to remove: it does not open at login\n"
    _, out, _ = run("remove")
    assert out == f"removed {menu}\n" and not menu.exists()
    _, out, _ = run("status")
    assert "application menu: no" in out and "at login: no" in out


def test_status_finds_an_entry_left_by_a_moved_checkout_and_install_rewrites_both(home):
    gone = home / "old checkout" / ".venv" / "bin" / "rapport-assist"
    stale = launcher.entry_text([str(gone), "sidebar"])
    for folder in (home / "data" / "applications", home / "config" / "autostart"):
        folder.mkdir(parents=True)
        (folder / "rapport-assist.desktop").write_text(stale)
    _, out, _ = run("status")
    lines = out.splitlines()
    assert len(lines) == 2 and all(f"runs {gone}, which no longer exists" in line for line in lines)
    assert all("rapport-assist launcher install" in line for line in lines)
    code, out, _ = run("install")  # no --at-login: the login entry there is renewed all the same
    assert code == 0 and "Both run" in out
    _, out, _ = run("status")
    assert out.count("runs this install") == 2


@pytest.mark.parametrize("off", ["Hidden=true", "X-GNOME-Autostart-enabled=false", "X-MATE-Autostart-enabled=false"])
def test_a_login_entry_the_desktop_switched_off_stays_off(qtbot, home, off):
    # Xfce's, GNOME's and MATE's startup settings switch an entry off by writing a key into it,
    # the file kept: it does not open at login, and a plain install must not switch it on again
    from rapport_assist.gui.settings_dialog import SettingsDialog

    run("install", "--at-login")
    login = home / "config" / "autostart" / "rapport-assist.desktop"
    login.write_text(login.read_text() + off + "\n")
    assert not launcher.opens_at_login()
    _, out, _ = run("status")
    assert f"at login: no ({login} is switched off in the desktop's settings" in out
    code, out, _ = run("install")
    assert code == 0 and "log in" not in out and off in login.read_text()
    dialog = SettingsDialog(sidebar(qtbot, home).prefs, None, "", None)
    qtbot.addWidget(dialog)
    assert not dialog.at_login.isChecked()
    dialog.at_login.setChecked(True)  # switched on again from the panel: a fresh entry
    dialog.accept()
    assert launcher.opens_at_login() and off not in login.read_text()


@pytest.mark.parametrize(
    "argv",
    [
        ["/home/agent/Rapport Assist/.venv/bin/rapport-assist", "sidebar"],
        ["/opt/100%/ra", "--qa", "it's \"quoted\".wav"],
        ["/srv/$HOME/`tick`/back\\slash/ra", "sidebar"],
        ["/home/tab\there/new\nline/ra", "sidebar"],  # raw, a newline ended the Exec line
    ],
    ids=["space", "percent and quotes", "dollar backtick backslash", "tab and newline"],
)
def test_exec_quoting_of_awkward_paths_passes_the_validator_and_reads_back(tmp_path, argv):
    entry = tmp_path / "rapport-assist.desktop"
    entry.write_text(launcher.entry_text(argv))
    validate(entry)
    assert launcher.read_exec(entry.read_text()) == argv


def test_a_folder_it_cannot_write_is_named_with_a_fix_and_nothing_is_half_written(home, monkeypatch):
    blocker = home / "not a folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    code, out, err = run("install")
    assert code == ExitStatus.OUTPUT_ERROR and out == ""
    assert err.startswith(f"rapport-assist: error: cannot write {blocker}/applications/rapport-assist.desktop: ")
    assert err.rstrip().endswith("— check the folder's permissions")
    assert blocker.read_text() == ""


def test_other_platforms_are_told_what_to_do_instead(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(UsageError, match="Linux desktops") as told:
        launcher.places()
    assert "shell:startup" in told.value.hint


def test_settings_turn_opening_at_login_on_and_off(qtbot, home):
    from rapport_assist.gui.settings_dialog import SettingsDialog

    login = home / "config" / "autostart" / "rapport-assist.desktop"
    window = sidebar(qtbot, home)
    dialog = SettingsDialog(window.prefs, None, "", window)
    qtbot.addWidget(dialog)
    assert not dialog.at_login.isHidden() and not dialog.at_login.isChecked()
    assert dialog.at_login.accessibleName() == "Open the sidebar when I log in"
    dialog.at_login.setChecked(True)
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    validate(login)
    assert launcher.find(login).ours
    again = SettingsDialog(window.prefs, None, "", window)
    qtbot.addWidget(again)
    assert again.at_login.isChecked()
    again.at_login.setChecked(False)
    again.accept()
    assert not login.exists()


def test_settings_keep_the_dialog_open_and_say_why_when_the_entry_cannot_be_written(qtbot, home, monkeypatch):
    from rapport_assist.gui.settings_dialog import SettingsDialog

    blocker = home / "config-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    window = sidebar(qtbot, home)
    dialog = SettingsDialog(window.prefs, None, "", window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.at_login.setChecked(True)
    dialog.accept()
    assert dialog.isVisible() and dialog.result() != dialog.DialogCode.Accepted
    assert dialog.at_login_error.isVisible()
    assert dialog.at_login_error.text().startswith(f"Open at login: cannot write {blocker}/autostart/")
    assert dialog.at_login_error.text().endswith("check the folder's permissions")


def test_settings_offer_no_login_box_where_there_is_no_xdg_autostart(qtbot, tmp_path, monkeypatch):
    from rapport_assist.gui.settings_dialog import SettingsDialog

    window = sidebar(qtbot, tmp_path)
    monkeypatch.setattr(sys, "platform", "win32")
    dialog = SettingsDialog(window.prefs, None, "", window)
    qtbot.addWidget(dialog)
    assert dialog.at_login_shown is None and dialog.at_login.parent() is None  # never put in the form


CHILD = """
import sys
from PySide6.QtWidgets import QWidget
from rapport_assist.gui.app import application
import Xlib.display

app = application()
w = QWidget()
w.show()
app.processEvents()
display = Xlib.display.Display()
win = display.create_resource_object("window", int(w.winId()))
prop = win.get_full_property(display.intern_atom("_GTK_APPLICATION_ID"), 0)
print(win.get_wm_class()[1])
print(prop.value.decode() if prop else "")
"""


def test_the_real_window_belongs_to_the_menu_entry(xvfb):
    """A dock matches a window to its entry by X11 window class (StartupWMClass) or application
    id: both, read from a real window on X, are the ones the entry names."""
    from x11_support import need_xlib

    need_xlib()
    env = {**os.environ, "DISPLAY": xvfb.name, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    wm_class, app_id = done.stdout.splitlines()
    assert wm_class == launcher.WM_CLASS
    assert f"{app_id}.desktop" == launcher.FILE_NAME
    assert f"StartupWMClass={wm_class}\n" in launcher.entry_text(launcher.program())
