"""README's "Layout" table names every module of the package, and names none that is gone.

A top-level module is named as ``name.py``; a module of a package (``cli/``, ``gui/``, ``qa/``,
``rules/``) by its name in that package's row. ``__init__`` and ``__main__`` are left out.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "rapport_assist"


def _layout() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Layout\n")
    return text[start : text.index("\n## ", start + 1)]


def _rows(layout: str) -> list[str]:
    return [line for line in layout.splitlines() if line.startswith("| `")]


def test_every_module_is_in_the_layout_table() -> None:
    layout = _layout()
    rows = _rows(layout)
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.name in ("__init__.py", "__main__.py") or "templates" in rel.parts:
            continue
        if len(rel.parts) == 1:
            if not re.search(rf"[`/]{re.escape(rel.name)}`", layout):
                missing.append(str(rel))
            continue
        package = rel.parts[0]
        own = [r for r in rows if r.startswith(f"| `{package}/`")]
        if not any(re.search(rf"`{re.escape(rel.stem)}(\.py)?`", r) for r in own):
            missing.append(str(rel))
    assert not missing, f"modules not named in README's Layout table: {missing}"


def test_the_layout_table_names_no_module_that_is_gone() -> None:
    gone = []
    for row in _rows(_layout()):
        first = row.split("|")[1]
        package = re.match(r" `(\w+)/`", first)
        for name in re.findall(r"`(\w+)\.py`", row):
            candidates = [PACKAGE / f"{name}.py", ROOT / f"{name}.py"]
            if package:
                candidates.append(PACKAGE / package.group(1) / f"{name}.py")
            candidates += [PACKAGE / sub / f"{name}.py" for sub in ("gui", "cli", "qa", "rules")]
            candidates += [ROOT / sub / f"{name}.py" for sub in ("scripts", "bench", "tests")]
            if not any(c.exists() for c in candidates):
                gone.append(name)
    assert not gone, f"README's Layout table names modules that do not exist: {gone}"
