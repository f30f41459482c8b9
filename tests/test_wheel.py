"""The built wheel carries the default rules, the styles, icons and the demo call (bundled.py), and
runs from a folder outside the repo; the editable install (what `make setup` makes) finds the
checkout's folders.

The wheel is built from a copy of the sources (the build writes build/ and *.egg-info next to
them) with pip, which fetches the build backend pyproject.toml names from PyPI unless this venv
has it; it is installed without dependencies into a fresh venv that sees this venv's packages
(the lock's) through a .pth file, so nothing else is downloaded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from rapport_assist.bundled import DEMO_TRANSCRIPT
from rapport_assist.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "src", "rules", "ui")


def test_package_list_names_every_package_under_src():
    """pyproject.toml lists the packages (find cannot add the mapped _bundled ones): none forgotten."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    src = ROOT / "src"
    found = {".".join(p.parent.relative_to(src).parts) for p in src.rglob("__init__.py")} | {"rapport_assist.data"}
    listed = set(config["packages"])
    assert {p for p in listed if "._bundled." not in p} == found
    for package, folder in config["package-dir"].items():
        if package:
            assert package in listed and (ROOT / folder).is_dir()


def _copy_sources(dest: Path) -> Path:
    dest.mkdir()
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def _pip(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]


def _has_backend() -> bool:
    """setuptools new enough for pyproject.toml's license field, and wheel: build without isolation."""
    try:
        import setuptools
        import wheel  # noqa: F401
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH (it would put the checkout's src/ first) and no data overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "RAPPORT_ASSIST_RULES", "RAPPORT_ASSIST_UI", "PIP_REQUIRE_VIRTUALENV")
    }
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _fresh_venv(path: Path) -> Path:
    """A venv without pip (this one's pip installs into it) that sees this venv's packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "lock_deps.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    return python


def _install(python: Path, *what: str, cwd: Path) -> None:
    no_isolation = ["--no-build-isolation"] if _has_backend() else []
    _pip("--python", str(python), "install", "--no-deps", "--force-reinstall", *no_isolation, *what, cwd=cwd)


def _run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True, env=_clean_env(), timeout=300)


SMALL_CALL = 8  # lines of the demo transcript: three nudges (missed-reflection, you-not-we, angry-no-apology)
WHERE = (
    "import rapport_assist, rapport_assist.bundled as b; from rapport_assist.gui.resources import Theme; "
    "t = Theme('dark'); print(rapport_assist.__file__, b.RULES_DIR, b.UI_DIR, b.DEMO_AUDIO.is_file(), "
    "t.missing, bool(t.style_sheet()), t.icon_file('mic') != '', sep='\\n')"
)


@pytest.mark.slow
def test_built_wheel_runs_outside_the_repo(tmp_path, capsys):
    tree = _copy_sources(tmp_path / "tree")
    no_isolation = ["--no-build-isolation"] if _has_backend() else []
    _pip("wheel", "--no-deps", *no_isolation, "-w", str(tmp_path / "dist"), str(tree), cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("rapport_assist-*.whl")
    python = _fresh_venv(tmp_path / "venv")
    _install(python, str(wheel), cwd=tmp_path)
    shutil.rmtree(tree)  # nothing may come from the sources now

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(python, "-c", WHERE, cwd=elsewhere)
    assert where.returncode == 0, where.stderr
    module, rules, ui, demo, missing, qss, icon = where.stdout.split()
    package = Path(module).parent
    assert package.is_relative_to(tmp_path / "venv")
    assert Path(rules) == package / "_bundled" / "rules" and Path(ui) == package / "_bundled" / "ui"
    assert (demo, missing, qss, icon) == ("True", "False", "True", "True")

    app = tmp_path / "venv" / "bin" / "rapport-assist"
    check = _run(app, "rules", "check", cwd=elsewhere)
    assert check.returncode == 0, check.stderr
    assert f"from the default packs ({rules})" in check.stdout

    call = elsewhere / "call.jsonl"
    call.write_text(
        "\n".join(DEMO_TRANSCRIPT.read_text(encoding="utf-8").splitlines()[:SMALL_CALL]) + "\n", encoding="utf-8"
    )
    replay = _run(app, "replay", "call.jsonl", cwd=elsewhere)
    assert replay.returncode == 0, replay.stderr
    assert "3 nudges (angry-no-apology ×1, missed-reflection ×1, you-not-we ×1)" in replay.stdout
    assert main(["replay", str(call)]) == 0  # the same call from the checkout prints the same
    assert replay.stdout == capsys.readouterr().out

    tested = _run(app, "rules", "test", cwd=elsewhere)  # every rule's examples, from the installed packs
    assert tested.returncode == 0 and " 0 failed" in tested.stdout, tested.stdout[-2000:] + tested.stderr

    # the bundled demo call through the real model, as a new user's first command
    demo = _run(app, "demo", "--format", "jsonl", cwd=elsewhere)
    assert demo.returncode == 0, demo.stderr[-2000:]
    fired = {
        json.loads(line)["rule"]
        for line in demo.stdout.splitlines()
        if line.startswith("{") and json.loads(line).get("type") == "nudge"
    }
    assert {"angry-no-apology", "you-not-we", "missed-reflection", "uncommitted-promise"} <= fired

    # the QA report's templates, style sheet and script ship in the wheel (qa/templates)
    qa = _run(app, "qa", "call.jsonl", "--out", "qa", "--cache", "qa-cache", "--workers", "1", cwd=elsewhere)
    assert qa.returncode == 0, qa.stderr
    report = (elsewhere / "qa" / "calls" / "call" / "report.html").read_text(encoding="utf-8")
    assert "<h1>Call call</h1>" in report and "missed-reflection" in report
    assert "--agent:#2f6fb3" in report and "data-timeline-bars" in report  # report.css and report.js inlined
    assert ".grid td" in (elsewhere / "qa" / "summary.html").read_text(encoding="utf-8")  # summary.css


@pytest.mark.slow
def test_editable_install_finds_the_checkouts_folders(tmp_path):
    tree = _copy_sources(tmp_path / "tree")
    python = _fresh_venv(tmp_path / "venv")
    _install(python, "-e", str(tree), cwd=tmp_path)
    where = _run(python, "-c", WHERE, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    module, rules, ui, demo, missing, qss, icon = where.stdout.split()
    assert Path(module) == tree / "src" / "rapport_assist" / "__init__.py"
    assert (Path(rules), Path(ui)) == (tree / "rules", tree / "ui")
    assert (demo, missing, qss, icon) == ("True", "False", "True", "True")
