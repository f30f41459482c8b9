"""Loading rule files: every problem reported at once with file:line:col, and nothing but
RuleError ever escapes, whatever the input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapport_assist.errors import RuleError
from rapport_assist.rules import RuleProblem, load_rules
from rapport_assist.rules.schema import rule_schema
from rapport_assist.rules.spec import RuleFileSpec

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
    path = write(
        tmp_path,
        textwrap.dedent("""\
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
        """),
    )
    found = problems(path)
    assert all(p.path == str(path) for p in found)
    assert "did you mean 'title'" in at(found, 6, 5, "unknown key in a rule 'titel'").hint
    at(found, 5, 5, "missing required key 'title'")
    assert "high, low, medium, nudge, tip, urgent" in at(found, 7, 15, "unknown severity 'extreme'").hint
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


def test_unknown_rule_suggests_a_rule_that_has_errors_of_its_own(tmp_path: Path) -> None:
    """README, Team overrides: an unknown rule is an error with the closest names, also when the
    same file breaks the rule meant (a param it lacks), which leaves that rule out."""
    pack = write(tmp_path, MINIMAL)
    team = write(
        tmp_path,
        "version: 1\noverrides:\n  - {rule: said-thank, enabled: false}\n  - {rule: said-thanks, params: {x: 1}}\n",
        "team.yaml",
    )
    found = problems([pack, team])
    assert "did you mean 'said-thanks'" in at(found, 3, 12, "unknown rule id 'said-thank'").hint
    at(found, 4, 34, "has no params")


def test_an_override_that_changes_nothing_is_an_error(tmp_path: Path) -> None:
    """As a lexicon override without 'add' or 'remove' is: the team lead forgot what to change."""
    for entry in ("{rule: said-thanks}", "{rule: said-thanks, params: {}}"):
        found = problems(write(tmp_path, MINIMAL + f"overrides:\n  - {entry}\n"))
        hit = at(found, 12, 5, "this override of 'said-thanks' changes nothing")
        assert "enabled: false" in hit.hint and "rules list --rule said-thanks" in hit.hint


def test_one_file_setting_a_rule_twice_is_an_error(tmp_path: Path) -> None:
    """Two entries of one file that set the same thing would silently keep the last: say so at the
    second. Two files may: the later one layers on the earlier (a site file, then a team's)."""
    pack = MINIMAL.replace("    severity: low\n", "    severity: low\n    params: {n: 2}\n")
    twice = (
        "overrides:\n"
        "  - {rule: said-thanks, enabled: false}\n"
        "  - {rule: said-thanks, enabled: true, priority: 60}\n"
        "  - {rule: said-thanks, params: {n: 3}}\n"
        "  - {rule: said-thanks, params: {n: 4}}\n"
    )
    found = problems(write(tmp_path, pack + twice))
    assert [(p.line, p.col) for p in found if "twice" in p.message] == [(14, 25), (16, 34)], found
    at(found, 14, 25, "'said-thanks': enabled is set twice in this file (first at line 13)")
    at(found, 16, 34, "'said-thanks': param n is set twice in this file (first at line 15)")
    base = write(tmp_path, MINIMAL)
    site = write(tmp_path, "version: 1\noverrides:\n  - {rule: said-thanks, enabled: false}\n", "site.yaml")
    team = write(tmp_path, "version: 1\noverrides:\n  - {rule: said-thanks, enabled: true}\n", "team.yaml")
    assert [r.id for r in load_rules([base, site, team]).rules] == ["said-thanks"]


@pytest.mark.parametrize("text", ["", "# the team's changes, to come\n", "version: 1\n", "version: 1\nrules: []\n"])
def test_a_file_that_loads_nothing_is_a_warning(tmp_path: Path, text: str) -> None:
    """A team file saved empty used to load as 'ok' with the defaults alone, as if it applied."""
    pack = write(tmp_path, MINIMAL)
    team = write(tmp_path, text, "team.yaml")
    ruleset = load_rules([pack, team])
    assert [r.id for r in ruleset.rules] == ["said-thanks"]
    (warning,) = [w for w in ruleset.warnings if w.path == str(team)]
    assert (warning.line, warning.col) == (1, 1) and "this rule file is empty" in warning.message
    assert "'overrides:'" in warning.hint
    assert not [w for w in load_rules([pack]).warnings if "empty" in w.message]


def test_a_bad_number_is_quoted_as_written(tmp_path: Path) -> None:
    """'-1', not '-1.0' (the model had made it a float): the team lead looks for what they wrote."""
    text = MINIMAL.replace(
        "when: {speaker: agent, says: thanks}",
        "when: {speaker: customer}\n    expect: {speaker: agent, says: thanks, within: {seconds: -1}}",
    )
    found = problems(write(tmp_path, text))
    hit = at(found, 11, 62, "expect.within.seconds must be a number >= 0, not -1")
    assert hit.message.endswith("not -1"), hit


def test_a_yml_file_in_a_folder_is_not_left_out_without_a_word(tmp_path: Path) -> None:
    """A folder loads its *.yaml files; a team's 'team.yml' beside them was skipped in silence (its
    overrides not applied), and a folder of only .yml files said 'no *.yaml rule files'."""
    folder = tmp_path / "team-rules"
    folder.mkdir()
    write(folder, "version: 1\noverrides:\n  - {rule: said-thanks, enabled: false}\n", "team.yml")
    found = problems([folder])
    hit = at(found, 1, 1, "folder has no *.yaml rule files (team.yml: a folder loads *.yaml files only)")
    assert hit.hint == "rename it team.yaml"
    write(folder, MINIMAL, "pack.yaml")
    ruleset = load_rules([folder])
    assert [r.id for r in ruleset.rules] == ["said-thanks"]  # team.yml still not loaded: a warning says so
    (warning,) = [w for w in ruleset.warnings if w.path.endswith("team.yml")]
    assert "not loaded: a folder loads its *.yaml files only" in warning.message
    assert warning.hint == "rename it team.yaml"


def test_a_yaml_entry_of_a_folder_that_is_no_file_is_not_left_out_without_a_word(tmp_path: Path) -> None:
    """A team's rules folder whose team.yaml is a link to a share that is not mounted (or a folder
    named *.yaml, or a pipe): it loaded the other packs and left the team's rules out in silence."""
    import os

    folder = tmp_path / "team-rules"
    folder.mkdir()
    write(folder, MINIMAL, "pack.yaml")
    (folder / "team.yaml").symlink_to(tmp_path / "share" / "team.yaml")
    (folder / "old.yaml").mkdir()
    os.mkfifo(folder / "pipe.yaml")
    found = problems([folder])
    link = at(found, 1, 1, f"cannot load team.yaml: a link to {tmp_path / 'share' / 'team.yaml'}, which does not exist")
    assert link.path == str(folder / "team.yaml") and "mount or restore" in link.hint
    assert at(found, 1, 1, "cannot load old.yaml: a folder, not a rule file").path == str(folder / "old.yaml")
    assert at(found, 1, 1, "cannot load pipe.yaml: not a file that can be read").path == str(folder / "pipe.yaml")
    assert len(found) == 3
    (folder / "team.yaml").unlink()
    (folder / "old.yaml").rmdir()
    (folder / "pipe.yaml").unlink()
    assert [r.id for r in load_rules([folder]).rules] == ["said-thanks"]


def test_tone_calm_says_what_to_write_instead(tmp_path: Path) -> None:
    """rules/README's table offered 'tone: calm|tense|angry', and 'calm' was 'unknown tone'."""
    from rapport_assist.rules import default_rules_dir

    calm = MINIMAL.replace("when: {speaker: agent, says: thanks}", "when: {speaker: customer, tone: calm}")
    found = problems([default_rules_dir(), write(tmp_path, calm.replace("thanks: [", "my-thanks: ["))])
    hit = at(found, 10, 37, "unknown tone 'calm': every utterance is at least calm")
    assert hit.hint.startswith("for a customer who is not upset write 'not: {tone: tense}'; else use 'angry'"), hit
    instead = calm.replace("tone: calm}", "not: {tone: tense}}").replace("thanks: [", "my-thanks: [")
    ruleset = load_rules([default_rules_dir(), write(tmp_path, instead, "instead.yaml")])
    assert "said-thanks" in {r.id for r in ruleset.rules}


_CALLS = {
    "jsonl": b'{"speaker": "agent", "text": "Hi."}\n{"speaker": "customer", "text": "Hello."}\n',
    "vtt": b"WEBVTT\n\n00:00.000 --> 00:01.000\n<v Agent>Hi.\n",
    "flac": b"fLaC\x00\x00\x00\x22\xff\xfe",
}


@pytest.mark.parametrize("name", ["call.jsonl", "call.vtt", "call.flac"])
def test_a_call_given_as_a_rule_file_is_named_so(tmp_path: Path, name: str) -> None:
    """'--rules call.jsonl' (or 'rules check call.jsonl') was a YAML syntax error about 'a second
    top-level part' on line 2, and a recording 'not UTF-8 text'."""
    call = tmp_path / name
    call.write_bytes(_CALLS[name.rsplit(".", 1)[1]])
    found = problems([write(tmp_path, MINIMAL), call])
    assert [(p.path, p.line, p.col) for p in found] == [(str(call), 1, 1)], found
    assert found[0].message == "this is a call (a transcript or a recording), not a rule file"
    assert "'rules explain --rule ID CALL'" in found[0].hint
    rules_json = write(tmp_path, '{"version": 1, "overrides": [{"rule": "said-thanks", "enabled": false}]}', "t.json")
    assert load_rules([write(tmp_path, MINIMAL), rules_json]).rules == ()  # a rule file written as JSON still loads


def test_an_override_may_not_set_what_the_rule_itself_may_not(tmp_path: Path) -> None:
    """A praise rule written with 'severity', or a record rule with 'message', is refused; the
    same set by an override loaded and did nothing ('rules list' even showed no severity)."""
    from rapport_assist.rules import default_rules_dir

    team = write(
        tmp_path,
        "version: 1\noverrides:\n  - {rule: praise-warm-opening, severity: urgent, priority: 60}\n"
        "  - {rule: promise-list, message: Log it.}\n",
        "team.yaml",
    )
    found = problems([default_rules_dir(), team])
    assert len(found) == 2, found
    hit = at(found, 3, 43, "'praise-warm-opening' is a 'praise' rule: it writes a line of the call's summary")
    assert "'severity' has no use" in hit.message and hit.hint == "remove 'severity' from this override"
    at(found, 4, 35, "'promise-list' is a 'record' rule: it writes a list item, so 'message' has no use")


def test_adding_a_phrase_the_lexicon_has_is_a_warning(tmp_path: Path) -> None:
    """It changed nothing, in silence: the team lead believed they had added a word."""
    pack = write(tmp_path, MINIMAL)
    team = write(tmp_path, "version: 1\noverrides:\n  - {lexicon: thanks, add: [Thanks, cheers]}\n", "team.yaml")
    ruleset = load_rules([pack, team])
    assert [p.text for p in ruleset.lexicons["thanks"].phrases] == ["thank you", "thanks", "cheers"]
    (warning,) = [w for w in ruleset.warnings if w.path == str(team)]
    assert (warning.line, warning.col) == (3, 29)
    assert warning.message == f"lexicon 'thanks' already has the phrase 'thanks' ({pack}:3): adding it changes nothing"
    assert warning.hint == "take it out of 'add'"


def test_a_phrase_two_files_remove_names_the_first_removal(tmp_path: Path) -> None:
    """The second removal was 'has no phrase 'thanks' to remove (fix: did you mean ...)', as if
    the word was never in the lexicon: a site file had removed it already."""
    pack = write(tmp_path, MINIMAL)
    site = write(tmp_path, "version: 1\noverrides:\n  - {lexicon: thanks, remove: [thanks]}\n", "site.yaml")
    team = write(tmp_path, "version: 1\noverrides:\n  - {lexicon: thanks, remove: [Thanks]}\n", "team.yaml")
    found = problems([pack, site, team])
    hit = at(found, 3, 32, f"lexicon 'thanks' has no phrase 'Thanks' to remove: the override at {site}:3 removed it")
    assert hit.hint == "keep this removal in one of the two files only"
    found = problems(
        [pack, write(tmp_path, "version: 1\noverrides:\n  - {lexicon: thanks, remove: [thank]}\n", "t.yaml")]
    )
    assert "removed it already" not in found[0].message and "did you mean" in found[0].hint


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
    (problem,) = problems(path)  # where the list opens, not the end of the file
    assert problem.path == str(path) and (problem.line, problem.col) == (3, 12)
    assert "YAML syntax error: a '[' list opened here is never closed" in problem.message and "']'" in problem.hint


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("rules:\n  - id: x\n    title: T\n      severity: low\n", 4, "indented deeper than the keys above"),
        ("rules:\n  - id: x\n    title: T\n   severity: low\n", 4, "indented differently from the lines above"),
        ("lexicons:\n  a: [x]\n  - b\n", 3, "indented differently from the lines above"),
        ("rules:\n  - id: x\n    title T\n    severity: low\n", 3, "no 'key: value'"),
        ("rules:\n\t- id: x\n", 2, "a tab"),
        ("rules:\n  - id: \"x\n    title: T\n", 2, "quote opened here is never closed"),
    ],
)
def test_bad_indentation_is_explained_in_plain_words(tmp_path: Path, text: str, line: int, words: str) -> None:
    (problem,) = problems(write(tmp_path, text))
    assert problem.line == line and words in problem.message and problem.hint, str(problem)
    for raw in ("mapping values are not allowed", "<block end>", "simple key", "scalar", "cannot start any token"):
        assert raw not in str(problem)


def test_unknown_names_suggest_the_closest_not_the_first_alphabetically(tmp_path: Path) -> None:
    words = ", ".join(f"aa{i:02d}" for i in range(20))
    text = MINIMAL.replace("[thank you, thanks]", f"[{words}, thank you, thanks, cheers]")
    found = problems(write(tmp_path, text + "overrides:\n  - {lexicon: thanks, remove: [thank yo, chers]}\n"))
    assert "did you mean 'thank you'" in at(found, 12, 32, "has no phrase 'thank yo' to remove").hint
    assert "did you mean 'cheers'" in at(found, 12, 42, "has no phrase 'chers'").hint
    far = problems(write(tmp_path, text + "overrides:\n  - {lexicon: thanks, remove: [merci]}\n"))[0]
    assert far.hint.startswith("nearest of the 23: ") and far.hint.count(",") == 4  # five, not a list of 12


def test_a_param_the_rule_lacks_is_one_error_at_its_place(tmp_path: Path) -> None:
    found = problems(write(tmp_path, MINIMAL + "overrides:\n  - {rule: said-thanks, params: {wait_s: 50}}\n"))
    (only,) = found  # not also "unknown rule id" for the rule it names (twice)
    assert (only.line, only.col) == (12, 34) and "rule 'said-thanks' has no params, so 'wait_s'" in only.message
    with_params = MINIMAL.replace("    when:", "    params: {long_words: 5}\n    when:").replace(
        "says: thanks}", "says: thanks, min_length: {words: $long_words}}"
    )
    (only,) = problems(write(tmp_path, with_params + "overrides:\n  - {rule: said-thanks, params: {long_word: 50}}\n"))
    assert "rule 'said-thanks' has no param 'long_word'" in only.message and "did you mean 'long_words'" in only.hint


def test_severity_takes_the_sidebars_words_too(tmp_path: Path) -> None:
    for word, meant in (("urgent", "high"), ("NUDGE", "medium"), ("tip", "low"), ("high", "high")):
        ruleset = load_rules([write(tmp_path, MINIMAL.replace("severity: low", f"severity: {word}"))])
        assert ruleset.rule("said-thanks").severity == meant
    override = MINIMAL + "overrides:\n  - {rule: said-thanks, severity: urgent}\n"
    assert load_rules([write(tmp_path, override)]).rule("said-thanks").severity == "high"
    (bad,) = problems(write(tmp_path, MINIMAL.replace("severity: low", "severity: critical")))
    assert "unknown severity 'critical'" in bad.message and "urgent" in bad.hint and "high" in bad.hint


def test_overrides_change_title_and_message(tmp_path: Path) -> None:
    team = write(
        tmp_path, "overrides:\n  - {rule: said-thanks, title: Say thanks, message: 'Well put: {quote}'}\n", "team.yaml"
    )
    rule = load_rules([write(tmp_path, MINIMAL), team]).rule("said-thanks")
    assert (rule.title, rule.message, rule.message_if_no_rewrite) == (
        "Say thanks",
        "Well put: {quote}",
        "Well put: {quote}",
    )
    team.write_text("overrides:\n  - {rule: said-thanks, message: 'Try {rewrite}', message_if_no_rewrite: x}\n")
    found = problems([write(tmp_path, MINIMAL), team])
    at(found, 2, 34, "message uses {rewrite} but rule 'said-thanks' has no 'rewrites'")
    at(found, 2, 74, "has no 'rewrites', so it always shows 'message'")


def test_a_file_named_twice_loads_once(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert [r.id for r in load_rules([tmp_path, path, tmp_path / "." / "pack.yaml"]).rules] == ["said-thanks"]


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


def test_an_example_of_the_wrong_shape_hides_none_of_the_rules_other_problems(tmp_path: Path) -> None:
    """One example of the wrong shape made the whole 'examples' block unreadable: the rule's other
    examples went unchecked, and their mistakes showed only once that one was fixed. Now each
    example of a good shape is checked on its own; the bad one says only what is wrong with it."""
    text = MINIMAL.replace("Nice.", "Nice {nme}.") + (
        "    examples:\n"
        "      fires:\n"
        '        - turns: "Thanks!"\n'  # line 13: the shape error
        '        - turns: [{agent: "Thanks!"}]\n'
        "          at: 3\n"  # line 15
        '        - [{agent: "Thanks a lot.", seconds: $slow}]\n'  # line 16
        "      quiet:\n"
        '        - [{agent: "Hi", customer: "Hello"}]\n'  # line 18
        '        - [{agnet: "Hello there."}]\n'  # line 19: a second shape error
        '        - [{agent: "Good morning."}]\n'
        "    severty: high\n"  # line 21
    )
    found = problems(write(tmp_path, text))
    at(found, 9, 14, "unknown placeholder in message '{nme}'")
    at(found, 13, 18, "fires.turns must be a list, not 'Thanks!'")
    at(found, 14, 11, "'at: 3' is past the last turn (there are 1)")
    at(found, 16, 46, "unknown param '$slow'")
    at(found, 18, 12, "an example turn needs exactly one speaker")
    assert "'agent'" in at(found, 19, 13, "unknown key in an example turn 'agnet'").hint
    assert "'severity'" in at(found, 21, 5, "unknown key in a rule 'severty'").hint
    assert len(found) == 7, "\n".join(map(str, found))  # one each: nothing follows from the bad examples
    import io

    from rapport_assist.cli import main

    for command in ("check", "test"):  # what a team lead runs: every problem, each at its file:line
        err = io.StringIO()
        assert main(["rules", command, str(tmp_path / "pack.yaml")], io.StringIO(), err) == 5
        assert "7 problems in rule files" in err.getvalue(), err.getvalue()
        for line in (9, 13, 14, 16, 18, 19, 21):
            assert f"pack.yaml:{line}:" in err.getvalue(), (command, line)
    # the same file, the bad examples fixed: the rest is still reported, the same
    fixed = text.replace('turns: "Thanks!"', 'turns: [{agent: "Thanks!"}]').replace("agnet", "agent")
    assert [str(p) for p in problems(write(tmp_path, fixed))] == [str(p) for p in found if p.line not in (13, 19)]


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    found = problems([tmp_path / "nope.yaml", tmp_path])
    assert sorted(p.message for p in found) == ["folder has no *.yaml rule files", "no such rule file or folder"]


def test_yes_no_are_words_in_phrases(tmp_path: Path) -> None:
    ruleset = load_rules([write(tmp_path, MINIMAL.replace("[thank you, thanks]", "[no, yes, 100]"))])
    assert [p.text for p in ruleset.lexicons["thanks"].phrases] == ["no", "yes", "100"]


# ---------------------------------------------------------------- fuzzing: only RuleError, never a hang

_SCHEMA = jsonschema.Draft202012Validator(rule_schema())

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True),
    st.sampled_from(["agent", "customer", "angry", "x", "{quote}", "{", "thanks", "1"]),
    st.text(max_size=8),
)
_keys = st.sampled_from(
    [
        "version",
        "lexicons",
        "rules",
        "tones",
        "overrides",
        "fillers",
        "id",
        "title",
        "severity",
        "why",
        "message",
        "when",
        "expect",
        "speaker",
        "says",
        "within",
        "turns",
        "seconds",
        "any",
        "all",
        "not",
        "tone",
        "lexicon",
        "skip_if",
        "examples",
        "fires",
        "quiet",
        "phrases",
        "except",
        "entities",
        "text",
        "rule",
        "episode",
        "ends_when",
        "rewrites",
        "from",
        "to",
        "min_length",
        "reflects",
        "future_action",
        "ignore",
        "at",
        "regex",
        "tokens",
        "subject",
        "earlier",
        "event",
        "kind",
        "unless",
        "params",
        "record",
        "uses_name",
        "count",
        "priority",
        "status",
        "tags",
        "max_per_call",
        "lexicon",
        "add",
    ]
)
_trees = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_trees)
def test_random_structures_only_raise_rule_error(tmp_path: Path, tree: object) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    _refused_unless_a_rule_file(path, tree)


def _refused_unless_a_rule_file(path: Path, tree: object) -> None:
    """Garbage is refused with located problems; what loads is a rule file by the models and the schema."""
    try:
        load_rules([path])
    except RuleError as exc:
        errors = exc.errors  # type: ignore[attr-defined]
        assert errors and all(p.line >= 1 and p.col >= 1 and p.message and p.hint for p in errors), errors
        return
    data = {} if tree is None else tree  # an empty file is an empty pack
    RuleFileSpec.model_validate(data)  # raises ValidationError: the loader let through what is not a rule file
    assert not list(_SCHEMA.iter_errors(data))
    assert (
        isinstance(data, dict)
        and not data.get("rules")
        or all(isinstance(r, dict) and {"id", "title", "why", "when"} <= set(r) for r in data["rules"])
    )


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("ab:- \n\t[]{}&*!|>'\"#%@`,?1")), max_size=80))
def test_random_text_only_raises_rule_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError:
        with pytest.raises(RuleError):  # what YAML cannot read is refused too
            load_rules([path])
        return
    _refused_unless_a_rule_file(path, tree)


def test_garbage_is_refused(tmp_path: Path) -> None:
    """The property above is not vacuous: each of these is refused, none loads."""
    for text in (
        "- a list\n",
        "just text\n",
        "42\n",
        "rules: {id: x}\n",
        "rules: [{id: x}]\n",
        "lexicons: [a, b]\n",
        "version: 2\n",
        "{version: 1, rulez: []}\n",
        "tones: {calm: {}}\n",
    ):
        path = write(tmp_path, text)
        with pytest.raises(RuleError):
            load_rules([path])


def test_deep_nesting_and_binary_are_rule_errors(tmp_path: Path) -> None:
    deep = write(tmp_path, "[" * 5000 + "]" * 5000, "deep.yaml")
    assert problems(deep)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00rules")
    assert "not UTF-8" in problems(binary)[0].message


# ---------------------------------------------------------------- the documented team overrides load as documented

REPO = Path(__file__).resolve().parents[1]


def _team_override_examples() -> list[tuple[str, str]]:
    """Every YAML block of the "Team overrides" sections of README.md and rules/README.md."""
    import re

    found = []
    for doc in ("README.md", "rules/README.md"):
        text = (REPO / doc).read_text(encoding="utf-8")
        start = text.index("## Team overrides")
        end = text.find("\n## ", start + 1)
        section = text[start : end if end > 0 else None]
        found += [(doc, block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    assert len(found) >= 2
    return found


@pytest.mark.parametrize("doc, block", _team_override_examples(), ids=lambda v: v if v.endswith(".md") else "")
def test_the_documented_team_file_loads_on_the_defaults_and_changes_what_it_says(
    tmp_path: Path, doc: str, block: str
) -> None:
    from rapport_assist.annotate import Annotator
    from rapport_assist.rule_examples import run_examples
    from rapport_assist.rules import default_rules_dir, rule_paths
    from rapport_assist.rules.loader import SEVERITY_WORDS

    team = write(tmp_path, block, "team.yaml")
    defaults = load_rules([default_rules_dir()])
    layered = load_rules(rule_paths([team]))  # pasted as is: no error
    before = {r.id: r for r in defaults.rules + defaults.disabled}
    after = {r.id: r for r in layered.rules + layered.disabled}
    spec = yaml.safe_load(block)
    assert spec["overrides"]
    for override in spec["overrides"]:
        if "lexicon" in override:
            old = {p.text for p in defaults.lexicons[override["lexicon"]].phrases}
            new = {p.text for p in layered.lexicons[override["lexicon"]].phrases}
            for word in override.get("add", []):
                assert word not in old and word in new, word
            for word in override.get("remove", []):
                assert word in old and word not in new, word
            continue
        old, new = before[override["rule"]], after[override["rule"]]
        for key, value in override.items():
            if key == "rule":
                continue
            if key == "params":
                for name, number in value.items():
                    assert dict(old.params)[name] != number and dict(new.params)[name] == number
                assert (old.when, old.expect) != (new.when, new.expect)  # the threshold is in the conditions
            elif key == "severity":
                assert old.severity != SEVERITY_WORDS.get(value, value) == new.severity
            else:
                assert getattr(old, key) != value and getattr(new, key) == value, (override["rule"], key)
        enabled = {r.id for r in layered.rules}
        assert (override["rule"] in enabled) is override.get("enabled", True)
    # everything it does not name is as in the defaults
    named = {o["rule"] for o in spec["overrides"] if "rule" in o}
    for rule_id, rule in before.items():
        if rule_id not in named and not any(
            lex["lexicon"] in str(rule.when) for lex in spec["overrides"] if "lexicon" in lex
        ):
            assert after[rule_id] == rule, rule_id
    own = [r["id"] for r in spec.get("rules", [])]
    assert all(rule_id not in before and rule_id in {r.id for r in layered.rules} for rule_id in own)
    assert all(name not in defaults.lexicons and name in layered.lexicons for name in spec.get("lexicons", {}))
    if own:  # the team's own rules pass their examples on top of the defaults
        results = run_examples(layered, Annotator(), only=own)
        assert results and all(r.passed for r in results), [r.describe() for r in results if not r.passed]


def test_rules_test_on_the_readme_team_file_fails_the_one_example_it_says(tmp_path: Path) -> None:
    """README, Team overrides: `rules test team.yaml` on the example passes every example but
    no-confirmation's first `fires` one, and names the override at team.yaml:4 (exit 8)."""
    import io

    from rapport_assist.cli import main

    block = next(b for doc, b in _team_override_examples() if doc == "README.md")
    team = write(tmp_path, block, "team.yaml")
    out = io.StringIO()
    assert main(["rules", "test", str(team)], out, io.StringIO()) == 8
    fails = [x for x in out.getvalue().splitlines() if x.startswith("FAIL")]
    assert len(fails) == 1 and "no-confirmation fires[0]" in fails[0], fails
    assert f"the override at {team}:4 changes this rule" in fails[0], fails


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


# ---------------------------------------------------------------- pydantic's errors in the loader's words


@pytest.mark.parametrize(
    "when, col, message, hint",
    [
        ("{signals: {loudnes_rise_db: 6}}", 22, "unknown signal 'loudnes_rise_db'", "did you mean 'loudness_rise_db'"),
        ("{signals: {words: {min: lots}}}", 35, "must be a number, not 'lots'", "write a number"),
        ("{max_words: $nope}", 23, "unknown param '$nope'", "define the param first"),
        ("{says: Thanks}", 18, "says 'Thanks' is not a valid name", "lowercase"),
        ("{says: 3}", 18, "says must be text or a list or a mapping (key: value lines), not 3", "write text"),
        ("{all: []}", 17, "all list is empty", "add at least one"),
        (
            "{speaker: agent, says: {lexicon: thanks, skip_if: [sentence_says]}}",
            62,
            "'sentence_says' needs parameters",
            "- sentence_says: time-frame",
        ),
        ("{speaker: agent, says: {lexicon: thanks, skip_if: [all: []]}}", 67, "skip_if.all list is empty", "add"),
        (
            "{speaker: agent, says: {lexicon: thanks, skip_if: [before_says]}}",
            62,
            "'before_says' needs parameters",
            "- before_says: {...}",
        ),
        ("{earlier: {speaker: agent}}", 21, "earlier is missing required key 'within'", "within: {turns: 1"),
        ("{speaker: agent, says: thanks, bogus: 1}", 42, "unknown key in when 'bogus'", "use one of: all, any, "),
        # a word for 'says' that looks nothing like it: all 13 keys, not the 5 that look most alike
        ("{speaker: agent, mentions: thanks}", 28, "unknown key in when 'mentions'", ", says, "),
    ],
)
def test_shape_errors_are_told_in_plain_words(tmp_path: Path, when: str, col: int, message: str, hint: str) -> None:
    found = problems(write(tmp_path, MINIMAL.replace("when: {speaker: agent, says: thanks}", f"when: {when}")))
    assert hint in at(found, 10, col, message).hint


def test_file_level_shape_errors(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("version: 1", "version: 2")
        .replace("  thanks:", "  Thanks:")
        .replace("severity: low", "severity: low\n    priority: 101")
        .replace("    message: Nice.\n", "")
    )
    found = problems(write(tmp_path, text))
    assert "version: 1" in at(found, 1, 10, "unsupported rule file version 2").hint
    at(found, 3, 3, "lexicon name 'Thanks' is not a valid name")
    assert "shown first" in at(found, 8, 15, "priority must be 1..100, not 101").hint
    at(found, 5, 5, "a rule is missing required key 'message'")


def test_a_record_rule_needs_no_severity_or_message(tmp_path: Path) -> None:
    text = MINIMAL.replace("    severity: low\n", "").replace("message: Nice.", "record: {list: thanked}")
    rule = load_rules([write(tmp_path, text)]).rule("said-thanks")
    assert (rule.severity, rule.message, rule.record.list) == ("low", "Thanks", "thanked")  # type: ignore[union-attr]


def test_the_documented_conditions_load_on_the_defaults(tmp_path: Path) -> None:
    """Every `when:` example of rules/README.md (one per line, or a block that is one `when:`)
    loads as a rule on top of the default packs, with the one lexicon the text says to add."""
    import re

    from rapport_assist.rules import rule_paths

    text = (REPO / "rules" / "README.md").read_text(encoding="utf-8")
    assert "`lexicons: {obligation: [need, have, must, should]}`" in text
    whens: list[str] = []
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        if block.startswith("when:\n"):
            whens.append(block)
        else:
            whens += [line + "\n" for line in block.splitlines() if re.match(r"when: \{", line)]
    assert len(whens) >= 8
    lines = ["version: 1", "lexicons:", "  obligation: [need, have, must, should]", "rules:"]
    for n, when in enumerate(whens):
        lines += [f"  - id: documented-{n}", "    title: T", "    severity: low", "    why: W.", "    message: M."]
        lines += ["    " + line for line in when.splitlines()]
    ruleset = load_rules(rule_paths([write(tmp_path, "\n".join(lines) + "\n", "conditions.yaml")]))
    assert sum(r.id.startswith("documented-") for r in ruleset.rules) == len(whens)


def test_a_missing_default_packs_folder_names_the_variable_that_set_it(tmp_path: Path, monkeypatch) -> None:
    """README: the default packs are `rules/`, or `$RAPPORT_ASSIST_RULES`; a folder named there
    that does not exist says to check that variable, not "the path given to --rules"."""
    from rapport_assist.rules import rule_paths

    missing = tmp_path / "no-such-packs"
    monkeypatch.setenv("RAPPORT_ASSIST_RULES", str(missing))
    found = problems(rule_paths())
    assert "$RAPPORT_ASSIST_RULES" in at(found, 1, 1, "no such rule file or folder").hint
    monkeypatch.delenv("RAPPORT_ASSIST_RULES")
    found = problems([tmp_path / "team.yaml"])
    assert at(found, 1, 1, "no such rule file or folder").hint == (
        "check the path: a rule file, or a folder of *.yaml rule files"
    )


def test_a_missing_rule_file_names_the_closest_one_beside_it_whatever_option_named_it(tmp_path: Path) -> None:
    """A rule path comes from PATH, --rules, --only-rules, --old or --new: the fix names none of
    them (it said "the path given to --rules or --only-rules" for all), but a file close by."""
    write(tmp_path, MINIMAL, "team.yaml")
    found = problems([tmp_path / "team.yml"])
    assert at(found, 1, 1, "no such rule file or folder").hint == f"did you mean {str(tmp_path / 'team.yaml')!r}?"
    found = problems([tmp_path / "nowhere" / "team.yaml"])  # no folder to look in
    assert at(found, 1, 1, "no such rule file or folder").hint.startswith("check the path")
