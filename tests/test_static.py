"""Static checks in the test run: ruff (pyflakes' unused and undefined names, bugbear's likely
bugs; config in pyproject.toml) over the package, tests, benchmarks and scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "check", "--no-cache", "--output-format", "concise", "src", "tests", "bench", "scripts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_code_is_formatted_as_ruff_format_writes_it():
    """One layout for every file (``ruff format``, config in pyproject.toml): run it before committing."""
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "format", "--check", "--no-cache", "src", "tests", "bench", "scripts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, "run '.venv/bin/ruff format src tests bench scripts':\n" + done.stdout[-3000:]


def test_the_format_check_can_fail(tmp_path: Path):
    """The check above can fail: a badly laid out module is reported."""
    ruff = Path(sys.executable).with_name("ruff")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "bad.py").write_text("x = {  'a':1,\n 'b' : 2 }\n", encoding="utf-8")
    done = subprocess.run(
        [str(ruff), "format", "--check", "--no-cache", "bad.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "bad.py" in done.stdout


def test_ruff_would_see_an_unused_import(tmp_path: Path):
    """The check above can fail: the same config flags a module with an unused import."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n", encoding="utf-8")
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "F401" in done.stdout


def test_mypy_finds_nothing():
    """The type checker over the whole package, no module excused (config: pyproject.toml)."""
    mypy = Path(sys.executable).with_name("mypy")
    done = subprocess.run(
        [str(mypy), "--no-incremental", "--cache-dir", "/dev/null"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
