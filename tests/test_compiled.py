"""The rule engine compiled by mypyc (``rapport_assist._compiled``): used only when built from
the sources as they are, and giving the same results as the plain modules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rapport_assist import _compiled

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, pure: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RAPPORT_ASSIST_PURE"}
    if pure:
        env["RAPPORT_ASSIST_PURE"] = "1"
    env["PYTHONPATH"] = str(REPO / "src")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def test_an_edit_to_a_watched_source_changes_the_digest(tmp_path: Path) -> None:
    copy = tmp_path / "rapport_assist"
    shutil.copytree(_compiled.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so", "data"))
    before = _compiled.digest(copy)
    assert before == _compiled.digest(_compiled.PACKAGE)
    engine = copy / "rules" / "engine.py"
    engine.write_text(engine.read_text() + "\n# an edit\n")
    after = _compiled.digest(copy)
    assert after != before
    cli = copy / "cli" / "__init__.py"
    cli.write_text(cli.read_text() + "\n# not watched\n")  # not compiled, not watched
    assert _compiled.digest(copy) == after


def test_stale_or_missing_compiled_modules_are_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path if not isinstance(f, _compiled._Finder)])
    monkeypatch.setattr(_compiled, "folder", lambda: tmp_path)
    monkeypatch.delenv("RAPPORT_ASSIST_PURE", raising=False)
    assert not _compiled.install()  # no manifest
    files = {name: name.replace(".", "/") + ".so" for name in _compiled.MODULES}
    for rel in files.values():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    manifest = {"digest": "0" * 64, "python": sys.implementation.cache_tag, "files": files}
    (tmp_path / _compiled.MANIFEST).write_text(json.dumps(manifest))
    assert not _compiled.install()  # built from other sources
    assert not any(isinstance(f, _compiled._Finder) for f in sys.meta_path)
    manifest["digest"] = _compiled.digest()
    (tmp_path / _compiled.MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setenv("RAPPORT_ASSIST_PURE", "1")
    assert not _compiled.install()  # turned off
    monkeypatch.delenv("RAPPORT_ASSIST_PURE")
    assert _compiled.install()  # matching: its finder goes first
    assert isinstance(sys.meta_path[0], _compiled._Finder)
    spec = sys.meta_path[0].find_spec("rapport_assist.rules.engine")
    assert spec is not None and spec.origin == str(tmp_path / files["rapport_assist.rules.engine"])
    assert sys.meta_path[0].find_spec("rapport_assist.cli") is None


@pytest.mark.slow  # two whole-pack 'rules test' runs (16 s on 2 cores); skipped anyway until the build is fresh
def test_the_compiled_engine_gives_the_plain_engines_results() -> None:
    if not _compiled.fresh():
        pytest.skip("no compiled rule engine built from these sources (scripts/setup.sh builds it)")
    probe = "import rapport_assist.rules, rapport_assist._compiled as c; print(c.active())"
    assert _cli("-c", probe, pure=False).stdout.strip() == "True"
    assert _cli("-c", probe, pure=True).stdout.strip() == "False"
    # every rule's examples (fires / quiet) through both engines: the same report, all passing
    compiled = _cli("-m", "rapport_assist.cli", "rules", "test", pure=False)
    plain = _cli("-m", "rapport_assist.cli", "rules", "test", pure=True)
    assert compiled.returncode == plain.returncode == 0, compiled.stdout[-2000:] + compiled.stderr[-2000:]
    assert compiled.stdout == plain.stdout
    assert " 0 failed" in compiled.stdout
