"""The default rule packs: they load, hold the four headline rules, and every inline example passes.

This is the `rules test` gate that CI runs; it uses real spaCy (loaded once per process).
"""

from __future__ import annotations

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.rule_examples import ExampleResult, run_examples
from rapport_assist.rules import RuleSet, default_rules_dir, load_rules

HEADLINE = ("angry-no-apology", "you-not-we", "uncommitted-promise", "missed-reflection")


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_rules([default_rules_dir()])


@pytest.fixture(scope="module")
def results(ruleset: RuleSet) -> list[ExampleResult]:
    return run_examples(ruleset, Annotator())


def test_default_packs_hold_the_headline_rules(ruleset: RuleSet) -> None:
    ids = [r.id for r in ruleset.rules]
    assert set(HEADLINE) <= set(ids)
    for rule_id in HEADLINE:
        rule = ruleset.rule(rule_id)
        assert rule.title and rule.why and rule.message and rule.severity in ("low", "medium", "high")
        kinds = [e.kind for e in rule.examples]
        assert kinds.count("fires") >= 2 and kinds.count("quiet") >= 2, rule_id
        assert rule.source.endswith(f":{rule.loc.line}") and "headline.yaml" in rule.source


def test_every_default_example_passes(results: list[ExampleResult]) -> None:
    failed = [r.describe() for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    assert {r.rule for r in results} >= set(HEADLINE)


def test_default_rules_dir_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert (default_rules_dir() / "headline.yaml").is_file()
    monkeypatch.setenv("RAPPORT_ASSIST_RULES", str(tmp_path))
    assert default_rules_dir() == tmp_path
