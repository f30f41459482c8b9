"""The layers of ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml) pass, and no
module imports itself back through others (function-local imports included: grimp reads every
import statement, wherever it is)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_import_contracts_are_kept():
    """Layers (exhaustive: a new module must be placed in one), the cli's own layers, and Qt only in ``gui``."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache", "--no-logo"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "3 kept, 0 broken" in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize(
    "module, line, broken",
    [
        ("types.py", "import PySide6.QtCore", "Only the gui package imports Qt"),
        ("pipeline.py", "from .gui import app", "Layers"),
        ("rules/engine.py", "from ..pipeline import CallPipeline", "Layers"),
        ("cli/live.py", "from .qa import _qa_command", "cli: entry > command groups"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, line: str, broken: str):
    """The contracts can fail: a copy of the package with one forbidden import added is refused."""
    shutil.copytree(
        SRC / "rapport_assist", tmp_path / "rapport_assist", ignore=shutil.ignore_patterns("__pycache__", "data")
    )
    target = tmp_path / "rapport_assist" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache", "--no-logo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0, done.stdout[-2000:]
    broken_lines = done.stdout.split("Broken contracts")[-1]
    assert broken in broken_lines and "BROKEN" in done.stdout


def test_the_qt_contract_names_every_module_but_gui():
    """A new module cannot slip past "only gui imports Qt" by not being listed."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    qt = next(c for c in config["contracts"] if c["id"] == "qt-in-gui-only")
    package = SRC / "rapport_assist"
    top = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    top |= {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    assert {m.removeprefix("rapport_assist.") for m in qt["source_modules"]} == top - {"gui"}


def import_cycles(graph: "grimp.ImportGraph", package: str) -> list[list[str]]:
    """Strongly connected groups of more than one module of ``package`` (Tarjan, iterative)."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph.find_modules_directly_imported_by(root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if not nxt.startswith(package):
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.find_modules_directly_imported_by(nxt))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.append(m)
                    if m == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_no_import_cycles():
    sys.path.insert(0, str(SRC))
    try:
        graph = grimp.build_graph("rapport_assist", cache_dir=None)
    finally:
        sys.path.remove(str(SRC))
    assert import_cycles(graph, "rapport_assist") == []


def test_the_cycle_finder_sees_a_cycle():
    """The check above can fail: a two-module cycle and a three-module one are found."""
    graph = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.a"), ("p.c", "p.d"), ("p.d", "p.e"), ("p.e", "p.c"), ("p.f", "p.a")]:
        graph.add_import(importer=a, imported=b)
    assert sorted(import_cycles(graph, "p")) == [["p.a", "p.b"], ["p.c", "p.d", "p.e"]]
