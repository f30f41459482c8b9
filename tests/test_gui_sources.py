"""PySide6's import hook reads the source of every module imported after Qt (to see whether it
"uses PySide"); ``rapport_assist.gui`` keeps it from holding those lines in ``linecache`` for the
life of the process (~15 MB in the sidebar) while the hook gives the same answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROBE = """
import json, linecache, sys
sys.path.insert(0, {folder!r})
{first}
import uses_qt, plain_module, wave  # imported after Qt: the hook checks each
feature = sys.modules["shibokensupport.feature"]
names = ("uses_qt", "plain_module", "wave")
print(json.dumps(dict(
    answers=[feature.pyside_feature_dict.get(name) for name in names],
    cached=sorted(f for f in linecache.cache if any(f.endswith("/" + n + ".py") for n in names)),
    files=len(linecache.cache),
)))
"""


def _run(code: str, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_modules_imported_after_qt_get_the_hooks_same_answer_without_their_source_kept(tmp_path: Path):
    (tmp_path / "uses_qt.py").write_text("# a view\nfrom PySide6 import QtCore  # noqa\nX = 1\n")
    (tmp_path / "plain_module.py").write_text("Y = [n * n for n in range(10)]\n")
    stock = _run(PROBE.format(folder=str(tmp_path), first="import PySide6"))
    ours = _run(PROBE.format(folder=str(tmp_path), first="import rapport_assist.gui"))
    assert stock["answers"] == [0, -1, -1]  # 0: uses PySide; -1: ignored by Qt's feature switches
    assert ours["answers"] == stock["answers"]
    assert len(stock["cached"]) == 3  # what the stock hook keeps
    assert ours["cached"] == []


@pytest.mark.model
def test_the_ready_sidebar_holds_no_module_sources(tmp_path: Path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RAPPORT_ASSIST_DATA=str(tmp_path))
    found = _run(
        f"""
        import io, json, linecache, sys
        from rapport_assist.cli import main
        out = io.StringIO()
        code = main(["sidebar", "--exit-when-ready", "--settings", {str(tmp_path / "s.ini")!r}], out, sys.stderr)
        files = [f for f in linecache.cache if f.endswith(".py")]  # (not the rules' compiled conditions)
        print(json.dumps(dict(code=code, files=len(files), modules=len(sys.modules))))
        """,
        env=env,
    )
    assert found["code"] == 0 and found["modules"] > 500  # spaCy, faster-whisper and Qt all imported
    assert found["files"] < 10  # the stock hook leaves ~300 files' lines (6.5 MB of text)
