"""The rule engine's hot modules compiled with mypyc, used when they match the sources.

Why: issue 20 asks for 20,000 utterances a second through the rules alone. Three rounds of
Python-level work left a flat profile (no function above a few percent, ``BENCHMARKS.md``),
and the interpreter's own work per bytecode is most of what is left; the same sources compiled
by mypyc (in the pinned ``mypy``) count about 30% fewer instructions per utterance.

How: ``scripts/setup.sh`` runs ``python -m rapport_assist._compiled build`` (best effort: it
needs a C compiler and Python's headers). That copies the package's sources to a temporary
folder, compiles ``MODULES`` there and puts the extension modules in the venv
(``<venv>/rapport_compiled/``) with a digest of the sources they were built from. ``install``
(run when the package is imported) puts a finder before the normal ones that loads the compiled
``MODULES`` only when that digest is the digest of the sources now: all of them or none (compiled
modules call each other directly, so one stale module would run old code). An edited source,
a fresh clone or a machine without a compiler runs the plain Python modules, which behave the
same (``tests/test_compiled.py``; ``bench/rules_snapshot.py`` gives the same outputs either way).
``RAPPORT_ASSIST_PURE=1`` in the environment turns the compiled modules off.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence

MODULES = (
    "rapport_assist.turns",
    "rapport_assist.rules.scan",
    "rapport_assist.rules.tokens",
    "rapport_assist.rules.features",
    "rapport_assist.rules.conditions",
    "rapport_assist.rules.engine",
)
# sources whose classes and functions the compiled modules were checked against: an edit to any
# of them is a reason to build again (until then the plain modules run)
_WATCHED = ("types.py", "annotate.py", "turns.py", "safe_regex.py", "rules")
PACKAGE = Path(__file__).resolve().parent
MANIFEST = "manifest.json"


def folder() -> Path:
    """Where the compiled modules live: in the venv the package runs from."""
    return Path(sys.prefix) / "rapport_compiled"


def digest(package: Path = PACKAGE) -> str:
    """A digest of the sources the compiled modules depend on (``_WATCHED``, under ``package``)."""
    h = hashlib.sha256()
    files: list[Path] = []
    for name in _WATCHED:
        path = package / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for path in files:
        h.update(path.relative_to(package).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``MODULES`` (and mypyc's shared library beside them) in the compiled folder."""

    def __init__(self, where: Path, files: dict[str, str]) -> None:
        self.where = where
        self.files = files  # module name -> extension file, relative to ``where``

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        rel = self.files.get(fullname)
        if rel is None:
            return None
        location = str(self.where / rel)
        loader = importlib.machinery.ExtensionFileLoader(fullname, location)
        return importlib.util.spec_from_file_location(fullname, location, loader=loader)


def _fresh_manifest() -> dict | None:
    """The compiled folder's manifest when its modules were built from these sources, for this
    Python, and are all there; else None."""
    where = folder()
    try:
        manifest = json.loads((where / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    files = manifest.get("files", {})
    if (
        manifest.get("python") != sys.implementation.cache_tag
        or set(MODULES) - set(files)
        or manifest.get("digest") != digest()
        or not all((where / rel).is_file() for rel in files.values())
    ):
        return None
    return manifest


def install() -> bool:
    """Load the compiled modules from now on if they were built from these sources; whether so."""
    if os.environ.get("RAPPORT_ASSIST_PURE") or any(isinstance(f, _Finder) for f in sys.meta_path):
        return False
    manifest = _fresh_manifest()
    if manifest is None:
        return False
    sys.meta_path.insert(0, _Finder(folder(), manifest["files"]))
    return True


def active() -> bool:
    """Whether the compiled engine is the one running (``bench/rules_speed.py`` reports it)."""
    engine = sys.modules.get("rapport_assist.rules.engine")
    return engine is not None and not str(getattr(engine, "__file__", "")).endswith(".py")


def build(quiet: bool = True) -> bool:
    """Compile ``MODULES`` from a copy of the sources into ``folder()``; False (the plain modules
    stay in use) when mypyc or the C compiler fails."""
    import shutil
    import subprocess
    import tempfile

    where = folder()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        copy = root / "rapport_assist"
        shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so", "data"))
        sources = [str(Path(*m.split("."))) + ".py" for m in MODULES]
        done = subprocess.run(
            [sys.executable, "-m", "mypyc", "--ignore-missing-imports", *sources],
            cwd=root,
            capture_output=quiet,
            env={**os.environ, "MYPYC_OPT_LEVEL": "3"},
        )
        if done.returncode != 0:
            if quiet:
                sys.stderr.write(
                    done.stdout.decode(errors="replace")[-3000:] + done.stderr.decode(errors="replace")[-3000:]
                )
            return False
        files: dict[str, str] = {}
        for so in root.rglob("*" + importlib.machinery.EXTENSION_SUFFIXES[0]):
            rel = so.relative_to(root)
            if rel.parts[0] == "build":
                continue
            name = ".".join(rel.with_name(rel.name.split(".")[0]).parts)
            files[name] = rel.as_posix()
        if set(MODULES) - set(files):
            return False
        if where.exists():
            shutil.rmtree(where)
        where.mkdir(parents=True)
        for file in files.values():
            (where / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / file, where / file)
        manifest = {"digest": digest(copy), "python": sys.implementation.cache_tag, "files": files}
        (where / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return True


def fresh() -> bool:
    """Whether the compiled modules in the venv were built from these sources."""
    return _fresh_manifest() is not None


def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/setup.sh``: build (``--if-stale``: only when the sources changed), or ``status``."""
    import argparse

    ap = argparse.ArgumentParser(description="compile the rule engine's hot modules with mypyc")
    ap.add_argument("command", choices=["build", "status"])
    ap.add_argument("--if-stale", action="store_true", help="build only when the sources changed since")
    args = ap.parse_args(argv)
    if args.command == "status":
        print("compiled rule engine: " + ("up to date" if fresh() else "missing or stale (the plain modules run)"))
        return 0
    if args.if_stale and fresh():
        return 0
    print("setup: compiling the rule engine with mypyc (a few minutes; the plain modules work meanwhile)")
    ok = build()
    print("setup: compiled" if ok else "setup: compiling failed; the plain Python modules run (same results, slower)")
    return 0
