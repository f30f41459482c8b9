"""Rules as data: YAML rule packs, their loader and the rule engine (inline examples run from
``rapport_assist.rule_examples``, above the pipeline).

Public API (used by the pipeline and the CLI):

* ``default_rules_dir()`` - the default packs (bundled ``rules/``; ``$RAPPORT_ASSIST_RULES`` overrides);
* ``rule_paths(team, only)`` - what a command loads: the default packs (or ``only``), then a team's files;
* ``load_rules(paths)`` - files and folders -> ``RuleSet``, or ``RuleError`` listing every problem;
* ``RuleEngine(ruleset)`` - ``start_call()``, ``on_utterance(au)``, ``finish(t_s)``;
* ``RuleLibrary(paths)`` - ``reload()`` keeps the last good rule set when new files are broken;
* ``ruleset.warnings`` - lint warnings (``lint.py``), apart from load errors;
* ``spec.RuleFileSpec`` - the pydantic models of a rule file; ``schema.rule_schema()`` - their JSON Schema;
* ``explain.RuleExplainer`` - traces.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .engine import RuleEngine
from .library import ReloadResult, RuleLibrary
from .loader import load_rules
from .model import Rule, RuleSet
from .source import RuleProblem

RULES_ENV = "RAPPORT_ASSIST_RULES"


def default_rules_dir() -> Path:
    """The folder of default rule packs: ``$RAPPORT_ASSIST_RULES`` if set, else the bundled ``rules/``."""
    override = os.environ.get(RULES_ENV)
    if override:
        return Path(override)
    from ..bundled import RULES_DIR

    return RULES_DIR


def rule_paths(team: Sequence[Path] = (), only: Sequence[Path] = ()) -> list[Path]:
    """The rule files and folders a command loads, in order: the default packs, or ``only``
    instead of them, then ``team``'s files on top (their ``overrides`` change the rules loaded
    with them, their rules are added). The loader reads a file named twice once."""
    return [*(only or [default_rules_dir()]), *team]


__all__ = [
    "ReloadResult",
    "Rule",
    "RuleEngine",
    "RuleLibrary",
    "RuleProblem",
    "RuleSet",
    "default_rules_dir",
    "load_rules",
    "rule_paths",
]
