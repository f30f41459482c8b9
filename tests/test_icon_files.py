"""The style sheet's icon files: the same files in the user's cache at every start, and nothing
left in the temporary folder (each start used to leave a folder there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

SRC = Path(__file__).resolve().parents[1] / "src"

START = """
import json, re
from rapport_assist.gui.resources import Theme
from PySide6.QtGui import QGuiApplication
app = QGuiApplication([])
# the files the style sheets name (its comments' url(icon:NAME) examples are not files)
print(json.dumps(sorted({p for s in ("light", "dark") for p in re.findall(r"url\\((/[^)]+)\\)", Theme(s).style_sheet())})))
"""


def start(cache: Path, tmp: Path) -> list[str]:
    """The style sheets of a new process: the icon files they name."""
    env = dict(os.environ, RAPPORT_ASSIST_CACHE=str(cache), TMPDIR=str(tmp), PYTHONPATH=str(SRC))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    done = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_every_start_reuses_the_cached_icon_files_and_leaves_no_temporary_folder(tmp_path):
    cache, tmp = tmp_path / "cache", tmp_path / "tmp"
    tmp.mkdir()
    first, second = start(cache, tmp), start(cache, tmp)
    assert first and first == second
    assert all(Path(f).parent == cache / "icons" and "<svg" in Path(f).read_text() for f in first)
    assert not any("currentColor" in Path(f).read_text() for f in first)  # drawn in the style's colours
    assert list(tmp.iterdir()) == []


def test_a_cache_it_cannot_write_falls_back_to_a_temporary_folder_gone_at_exit(tmp_path):
    blocker, tmp = tmp_path / "cache-is-a-file", tmp_path / "tmp"
    blocker.write_text("")
    tmp.mkdir()
    files = start(blocker, tmp)
    assert files and all(Path(f).parent.parent == tmp for f in files)  # drawn there while it ran
    assert list(tmp.iterdir()) == []  # and deleted when it ended
