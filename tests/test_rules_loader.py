"""Loading rule files: every problem reported at once with file:line:col, and nothing but
RuleError ever escapes, whatever the input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapport_assist.errors import RuleError
from rapport_assist.rules import RuleProblem, load_rules

MINIMAL = textwrap.dedent("""\
    version: 1
    lexicons:
      thanks: [thank you, thanks]
    rules:
      - id: said-thanks
        title: Thanks
        severity: low
        why: Gratitude builds rapport.
        message: Nice.
        when: {speaker: agent, says: thanks}
    """)


def write(tmp_path: Path, text: str, name: str = "pack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path | list[Path]) -> list[RuleProblem]:
    with pytest.raises(RuleError) as info:
        load_rules(path if isinstance(path, list) else [path])
    errors = info.value.errors  # type: ignore[attr-defined]
    for p in errors:
        assert str(p) in info.value.message
    return errors


def at(found: list[RuleProblem], line: int, col: int, fragment: str) -> RuleProblem:
    hits = [p for p in found if (p.line, p.col) == (line, col) and fragment in p.message]
    assert hits, f"no problem at {line}:{col} mentioning {fragment!r}; got:\n" + "\n".join(map(str, found))
    return hits[0]


def test_minimal_pack_loads(tmp_path: Path) -> None:
    ruleset = load_rules([write(tmp_path, MINIMAL)])
    assert [r.id for r in ruleset.rules] == ["said-thanks"]
    assert ruleset.rule("said-thanks").source == f"{tmp_path / 'pack.yaml'}:5"


def test_folded_message_blocks_lose_their_final_newline(tmp_path: Path) -> None:
    folded = MINIMAL.replace("message: Nice.", "message: >\n      Nice.")
    rule = load_rules([write(tmp_path, folded)]).rule("said-thanks")
    assert rule.message == rule.message.strip() and rule.message


def test_every_problem_reported_with_location(tmp_path: Path) -> None:
    path = write(tmp_path, textwrap.dedent("""\
        version: 1
        lexicons:
          thanks: [thank you]
        rules:
          - id: one
            titel: Typo
            severity: extreme
            why: Because.
            message: Hi {name}.
            cooldown_s: soon
            when: {speaker: agent, says: thank}
          - id: two
            title: Missing why
            severity: low
            message: Hi.
            when:
              speaker: robot
        overrides:
          - rule: too
            enabled: false
        """))
    found = problems(path)
    assert all(p.path == str(path) for p in found)
    assert "did you mean 'title'" in at(found, 6, 5, "unknown key in a rule 'titel'").hint
    at(found, 5, 5, "missing required key 'title'")
    assert "high, low, medium" in at(found, 7, 15, "unknown severity 'extreme'").hint
    at(found, 9, 14, "placeholder")
    at(found, 10, 17, "cooldown_s must be a number")
    assert "did you mean 'thanks'" in at(found, 11, 34, "unknown lexicon 'thank'").hint
    at(found, 12, 5, "missing required key 'why'")
    at(found, 17, 16, "unknown speaker 'robot'")
    at(found, 19, 11, "unknown rule id 'too'")
    assert len(found) == 9


def test_override_of_unknown_rule_suggests_the_known_one(tmp_path: Path) -> None:
    found = problems(write(tmp_path, MINIMAL + "overrides:\n  - {rule: said-thank, enabled: false}\n"))
    assert "did you mean 'said-thanks'" in at(found, 12, 12, "unknown rule id 'said-thank'").hint


def test_override_disables_a_rule(tmp_path: Path) -> None:
    ruleset = load_rules([write(tmp_path, MINIMAL + "overrides:\n  - {rule: said-thanks, enabled: false}\n")])
    assert ruleset.rules == () and [r.id for r in ruleset.disabled] == ["said-thanks"]


def test_duplicate_keys_and_ids(tmp_path: Path) -> None:
    first = write(tmp_path, MINIMAL, "a.yaml")
    second = write(tmp_path, MINIMAL.replace("title: Thanks", "title: Thanks\n    title: Again"), "b.yaml")
    found = problems([first, second])
    at(found, 7, 5, "duplicate key 'title' (first at line 6)")
    at(found, 3, 3, "lexicon 'thanks' is defined twice")
    at(found, 5, 9, "rule id 'said-thanks' is used twice")
    assert {p.path for p in found} == {str(second)}


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - id: x\n    title: [unclosed\n")
    (problem,) = problems(path)
    assert problem.path == str(path) and problem.line == 4 and "YAML syntax error" in problem.message


def test_aliases_tags_and_other_shapes_are_refused(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "lexicons:\n  a: &x [one]\n  b: *x\nrules: !!python/object:os.system {}\n"))
    assert any("aliases" in p.message for p in found)
    found = problems(write(tmp_path, "- just\n- a list\n", "list.yaml"))
    at(found, 1, 1, "a rule file must be a mapping")


def test_examples_and_expect_are_validated(tmp_path: Path) -> None:
    text = MINIMAL + (
        "    examples:\n"
        "      fires:\n"
        "        - turns: [{agent: \"Thanks!\"}]\n"
        "          at: 3\n"
        "      quiet:\n"
        "        - [{agent: \"Hi\", customer: \"Hello\"}]\n"
        "  - id: three\n"
        "    title: T\n"
        "    severity: low\n"
        "    why: W\n"
        "    message: M\n"
        "    when: {speaker: customer, says: thanks}\n"
        "    expect: {speaker: agent, within: {minutes: 2}}\n"
    )
    found = problems(write(tmp_path, text))
    at(found, 13, 11, "'at: 3' is past the last turn")
    at(found, 16, 12, "exactly one speaker")
    at(found, 23, 13, "expect says whose turn to wait for but not what they should say")
    assert "seconds, turns" in at(found, 23, 39, "unknown key in expect.within 'minutes'").hint


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    found = problems([tmp_path / "nope.yaml", tmp_path])
    assert sorted(p.message for p in found) == ["folder has no *.yaml rule files", "no such rule file or folder"]


def test_yes_no_are_words_in_phrases(tmp_path: Path) -> None:
    ruleset = load_rules([write(tmp_path, MINIMAL.replace("[thank you, thanks]", "[no, yes, 100]"))])
    assert [p.text for p in ruleset.lexicons["thanks"].phrases] == ["no", "yes", "100"]


# ---------------------------------------------------------------- fuzzing: only RuleError, never a hang

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                     st.sampled_from(["agent", "customer", "angry", "x", "{quote}", "{", "thanks", "1"]),
                     st.text(max_size=8))
_keys = st.sampled_from(["version", "lexicons", "rules", "tones", "overrides", "fillers", "id", "title",
                         "severity", "why", "message", "when", "expect", "speaker", "says", "within", "turns",
                         "seconds", "any", "all", "not", "tone", "lexicon", "skip_if", "examples", "fires",
                         "quiet", "phrases", "except", "entities", "text", "rule", "episode", "ends_when",
                         "rewrites", "from", "to", "min_length", "reflects", "future_action", "ignore", "at",
                         "regex", "tokens", "subject", "earlier", "event", "kind", "unless", "params", "record",
                         "uses_name", "count", "priority", "status", "tags", "max_per_call", "lexicon", "add"])
_trees = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(_keys, inner, max_size=5)),
                      max_leaves=25)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_trees)
def test_random_structures_only_raise_rule_error(tmp_path: Path, tree: object) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    try:
        load_rules([path])
    except RuleError as exc:
        assert exc.errors  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("ab:- \n\t[]{}&*!|>'\"#%@`,?1")), max_size=80))
def test_random_text_only_raises_rule_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_rules([path])
    except RuleError as exc:
        assert exc.errors  # type: ignore[attr-defined]


def test_deep_nesting_and_binary_are_rule_errors(tmp_path: Path) -> None:
    deep = write(tmp_path, "[" * 5000 + "]" * 5000, "deep.yaml")
    assert problems(deep)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00rules")
    assert "not UTF-8" in problems(binary)[0].message


def test_byte_order_mark_is_accepted_and_bad_bytes_are_located(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert [r.id for r in load_rules([path]).rules] == ["said-thanks"]
    lines = MINIMAL.encode().split(b"\n")
    lines[8] = lines[8].replace(b"Nice.", b"Nic\xe9.")  # Latin-1, line 9
    path.write_bytes(b"\n".join(lines))
    found = problems(path)
    assert len(found) == 1 and (found[0].line, found[0].col) == (9, lines[8].index(b"\xe9") + 1)
    assert "not UTF-8" in found[0].message
