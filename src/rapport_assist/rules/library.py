"""A rule set that can be reloaded while a call runs, keeping the last good one on failure.

The sidebar (and ``rapport-assist live``) holds a ``RuleLibrary``: when a team lead saves a
rule file, ``reload()`` loads it again; if the new files are broken, the agent keeps the last
rule set that loaded, and the result says what is wrong (``file:line:col``) so it can be shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import RuleError
from ..wording import plural
from .loader import load_rules
from .model import RuleSet
from .source import RuleProblem


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    ruleset: RuleSet  # the rule set now in use (the previous one when the reload failed)
    errors: tuple[RuleProblem, ...] = ()
    warnings: tuple[RuleProblem, ...] = ()
    message: str = ""


@dataclass
class RuleLibrary:
    """Rule files, loaded; ``reload()`` swaps in a new rule set only when it loads cleanly."""

    paths: Sequence[Path]
    ruleset: RuleSet = field(init=False)
    _stamp: tuple[tuple[str, float, int], ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        self.paths = [Path(p) for p in self.paths]
        self.ruleset = load_rules(self.paths)  # the first load must succeed: there is nothing to keep
        self._stamp = self._files_stamp()

    def _files_stamp(self) -> tuple[tuple[str, float, int], ...]:
        files: list[Path] = []
        for path in self.paths:
            files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
        out = []
        for f in files:
            try:
                st = f.stat()
                out.append((str(f), st.st_mtime, st.st_size))
            except OSError:
                out.append((str(f), -1.0, -1))
        return tuple(out)

    def changed(self) -> bool:
        """Whether any rule file was added, removed or saved since the last (re)load."""
        return self._files_stamp() != self._stamp

    def reload(self) -> ReloadResult:
        """Load the files again; on errors keep the current rule set and report why."""
        stamp = self._files_stamp()
        try:
            ruleset = load_rules(self.paths)
        except RuleError as exc:
            self._stamp = stamp  # do not retry the same broken files on every check
            errors = tuple(getattr(exc, "errors", ()))
            return ReloadResult(
                False,
                self.ruleset,
                errors,
                (),
                f"rule files not reloaded, still using the last good rules: {exc.one_line()}",
            )
        if not ruleset.rules and self.ruleset.rules:
            # every rule gone at once: a file caught half-saved (editors empty it, then write it)
            # or emptied by mistake; agents would go without a nudge for the rest of the call
            self._stamp = stamp  # (a save that completes changes the stamp: loaded then)
            problems = tuple(w for w in ruleset.warnings if "empty" in w.message) or ruleset.warnings
            return ReloadResult(
                False,
                self.ruleset,
                problems,
                (),
                "rule files not reloaded, still using the last good rules: they now load no rules"
                + (f" ({problems[0]})" if problems else "")
                + "; to switch every rule off, say so in an override ('enabled: false')",
            )
        self.ruleset = ruleset
        self._stamp = stamp
        return ReloadResult(
            True,
            ruleset,
            (),
            ruleset.warnings,
            f"reloaded {plural(len(ruleset.rules), 'rule')}"
            + (f" ({plural(len(ruleset.warnings), 'warning')})" if ruleset.warnings else ""),
        )
