"""The rule language beyond lexicons: regexes, token patterns, subjects, sequences, events,
records, params and overrides, lint, reload, schema and explain — each run through the real
pipeline (spaCy, conversation signals, engine) on small inline packs."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.cli import main
from rapport_assist.errors import RuleError
from rapport_assist.pipeline import CallPipeline
from rapport_assist.rules import RuleEngine, RuleLibrary, RuleSet, default_rules_dir, load_rules
from rapport_assist.types import Nudge, RecordItem, Speaker, Utterance

HEAD = textwrap.dedent("""\
    version: 1
    lexicons:
      obligation: [need, have, must, should, got]
      thanks: [thank you, thanks]
      hold: [please hold, one moment]
      name-intro: [my name is, this is]
      time-frame: {entities: [DATE, TIME], phrases: [today, tomorrow]}
      actions: [call, send, email]
      step: [click, open, press, go to, type]
      check-in: [does that make sense, are you with me]
    rules:
    """)


def rule(body: str, rid: str = "r", extra: str = "") -> str:
    """A rule with the required keys around ``body`` (indented YAML of when/expect/...)."""
    text = textwrap.dedent(f"""\
        - id: {rid}
          title: T
          severity: low
          why: W.
          message: "M {{quote}}"
        """) + textwrap.indent(textwrap.dedent(body).rstrip("\n") + "\n" + textwrap.dedent(extra), "  ")
    return textwrap.indent(text, "  ")


def load(tmp_path: Path, rules: str, extra_files: dict[str, str] | None = None) -> RuleSet:
    path = tmp_path / "pack.yaml"
    path.write_text(HEAD + rules, encoding="utf-8")
    paths = [path]
    for name, text in (extra_files or {}).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    return load_rules(paths)


def run(ruleset: RuleSet, annotator: Annotator, turns: list[tuple[str, str, float]]) -> list:
    """(speaker, text, start_s) turns, each 2 s long, through the call pipeline; returns nudges and records."""
    utts = [Utterance(i, Speaker(who), text, start, start + 2.0) for i, (who, text, start) in enumerate(turns)]
    events = CallPipeline(annotator, RuleEngine(ruleset)).run(utts)
    return [e for e in events if isinstance(e, (Nudge, RecordItem))]


# ---------------------------------------------------------------- finders


def test_regex_finds_words_and_quotes_them(tmp_path: Path, annotator: Annotator) -> None:
    rs = load(tmp_path, rule("when: {speaker: agent, says: {regex: 'not my (department|job)'}}"))
    out = run(
        rs,
        annotator,
        [("agent", "Sorry, that's NOT my department.", 0.0), ("agent", "That's my department, happy to help.", 3.0)],
    )
    assert [n.utterance_index for n in out] == [0]
    assert out[0].evidence[0].matched == ("NOT my department",)


def test_bad_regexes_are_refused_with_location(tmp_path: Path) -> None:
    text = (
        rule("when: {says: {regex: '(a)\\1'}}")
        + rule("when: {says: {regex: 'x*'}}", "r2")
        + rule("when: {says: {regex: '((a|b){90}){90}'}}", "r3")
    )
    with pytest.raises(RuleError) as exc:
        load(tmp_path, text)
    found = {(p.line, p.message.split(":")[0]) for p in exc.value.errors}  # type: ignore[attr-defined]
    lines = sorted(line for line, _ in found)
    assert len(lines) == 3
    messages = " ".join(p.message + p.hint for p in exc.value.errors)  # type: ignore[attr-defined]
    assert "backreferences" in messages and "empty text" in messages and "repeat" in messages


def test_pathological_regex_runs_in_linear_time(tmp_path: Path, annotator: Annotator) -> None:
    # (a+)+$ backtracks exponentially in Python's re; RE2 answers at once, so this returns
    rs = load(tmp_path, rule("when: {says: {regex: '(a+)+$'}}"))
    out = run(rs, annotator, [("agent", "a" * 3000 + "b", 0.0), ("agent", "ha aaaa", 3.0)])
    assert [n.utterance_index for n in out] == [1]


def test_token_patterns_use_the_parse(tmp_path: Path, annotator: Annotator) -> None:
    rs = load(
        tmp_path,
        rule("""\
        when:
          speaker: customer
          says:
            tokens:
              - [{LOWER: you}, {LEMMA: be}, {LOWER: {IN: [a, an]}, OP: "?"}, {LOWER: {IN: [idiot, moron, joke]}}]
        """),
    )
    out = run(
        rs,
        annotator,
        [
            ("customer", "Honestly you are an idiot.", 0.0),
            ("customer", "You're a joke, all of you.", 3.0),
            ("customer", "You are a star, thank you.", 6.0),
        ],
    )
    assert [n.utterance_index for n in out] == [0, 1]


def test_bad_token_pattern_points_at_the_key(tmp_path: Path) -> None:
    text = rule("""\
        when:
          says:
            tokens: [[{LOWER: you}, {LOWRE: idiot}]]
        """)
    with pytest.raises(RuleError) as exc:
        load(tmp_path, text)
    (problem,) = exc.value.errors  # type: ignore[attr-defined]
    assert "LOWRE" in problem.message
    line = (HEAD + text).splitlines()[problem.line - 1]
    assert line[problem.col - 1 :].startswith("LOWRE")
    # in plain words, with the key meant: not pydantic's "0 -> LOWRE: Extra inputs are not permitted"
    assert problem.message == "token pattern: unknown key 'LOWRE'" and problem.hint.startswith("did you mean 'LOWER'")


def test_a_bad_key_inside_a_token_value_is_told_without_spacys_model_names(tmp_path: Path) -> None:
    text = rule("""\
        when:
          says:
            tokens: [[{LOWER: {INN: [you, ya]}}, {LENGTH: {">==": 3}}]]
        """)
    with pytest.raises(RuleError) as exc:
        load(tmp_path, text)
    (problem,) = exc.value.errors  # type: ignore[attr-defined]
    assert problem.message == "token pattern: unknown key 'INN'" and problem.hint == "did you mean 'IN'?", problem
    assert "TokenPattern" not in str(problem)
    line = (HEAD + text).splitlines()[problem.line - 1]
    assert line[problem.col - 1 :].startswith("INN")


def test_subject_of_obligation(tmp_path: Path, annotator: Annotator) -> None:
    rs = load(
        tmp_path, rule("when: {speaker: agent, says: {subject: {is: [you], verb: obligation}, skip_if: [question]}}")
    )
    out = run(
        rs,
        annotator,
        [
            ("agent", "You need to restart the router.", 0.0),  # fires
            ("agent", "Thank you for waiting, I need to check.", 3.0),  # "you" is not a subject
            ("agent", "Do you need a new router?", 6.0),  # a question
            ("agent", "You should have called us first.", 9.0),  # fires (aux 'should')
            ("agent", "We need to restart it together.", 12.0),
        ],
    )
    assert [n.utterance_index for n in out] == [0, 3]


# ---------------------------------------------------------------- sequences and exceptions


def test_earlier_counts_steps_and_unless_cancels(tmp_path: Path, annotator: Annotator) -> None:
    rs = load(
        tmp_path,
        rule("""\
        when:
          speaker: agent
          says: step
          earlier: {speaker: agent, says: step, within: {turns: 4}, count: 2}
        unless: {says: check-in}
        cooldown_s: 0
        """),
    )
    steps = [
        ("agent", "Open the settings.", 0.0),
        ("agent", "Click on network.", 3.0),
        ("agent", "Press reset.", 6.0),
        ("agent", "Type the password, does that make sense?", 9.0),
    ]
    out = run(rs, annotator, steps)
    assert [n.utterance_index for n in out] == [2]  # third step; the fourth checks in


def test_unless_in_an_expect_window(tmp_path: Path, annotator: Annotator) -> None:
    rs = load(
        tmp_path,
        rule("""\
        when: {speaker: agent, says: hold}
        expect: {speaker: agent, says: thanks, within: {turns: 1}}
        unless: {speaker: customer, says: thanks}
        """),
    )
    assert [
        n.utterance_index
        for n in run(rs, annotator, [("agent", "Please hold.", 0.0), ("agent", "Okay, I found it.", 30.0)])
    ] == [1]
    assert (
        run(
            rs,
            annotator,
            [
                ("agent", "Please hold.", 0.0),
                ("customer", "Thanks, no rush.", 3.0),
                ("agent", "Okay, I found it.", 30.0),
            ],
        )
        == []
    )


def test_uses_name(tmp_path: Path, annotator: Annotator) -> None:
    rs = load(
        tmp_path,
        rule("""\
        when: {speaker: customer, says: name-intro}
        expect: {speaker: agent, uses_name: true, within: {turns: 2}}
        """),
    )
    said = [("customer", "Hi, my name is Dana Whitfield.", 0.0)]
    assert run(rs, annotator, said + [("agent", "Thanks Dana, how can I help?", 3.0)]) == []
    out = run(rs, annotator, said + [("agent", "How can I help?", 3.0), ("agent", "Let me look.", 6.0)])
    assert [n.utterance_index for n in out] == [2]


def test_dead_air_and_talk_over_event_rules(tmp_path: Path, annotator: Annotator) -> None:
    rules = rule("when: {event: {kind: dead_air, min_s: 6, hold_announced: false}}", "quiet-line") + rule(
        "when: {event: {kind: talk_over, by: agent, min_s: 1}}", "interrupt"
    )
    rs = load(tmp_path, rules)
    out = run(
        rs,
        annotator,
        [
            ("customer", "My bill is wrong again this month and I", 0.0),
            ("agent", "Let me stop you there, what's the account number?", 0.5),  # over the customer 1.5 s
            ("customer", "It's four four two.", 3.0),
            ("agent", "Okay, got it.", 12.0),  # 7 s silence, no hold
            ("agent", "Please hold.", 15.0),
            ("agent", "Thanks for waiting.", 25.0),  # 8 s, hold announced: quiet
        ],
    )
    assert [(n.rule, n.utterance_index) for n in out] == [("interrupt", 1), ("quiet-line", 2)]
    assert "silence" in out[1].evidence[0].note


def test_record_rule_lists_promises_with_their_time(tmp_path: Path, annotator: Annotator) -> None:
    text = textwrap.indent(
        textwrap.dedent("""\
        - id: promise-list
          title: Promise list
          why: Log every promise.
          when: {speaker: agent, says: {future_action: actions}}
          record: {list: promises, time: time-frame}
        """),
        "  ",
    )
    rs = load(tmp_path, text)
    out = run(
        rs,
        annotator,
        [
            ("agent", "I'll call you back tomorrow at ten.", 0.0),
            ("agent", "Someone will email you the form.", 3.0),
            ("customer", "I will send it later.", 6.0),
            ("agent", "Tomorrow. I'll call you back tomorrow at ten.", 9.0),
        ],
    )
    assert all(isinstance(r, RecordItem) for r in out)
    assert [(r.utterance_index, r.committed) for r in out] == [(0, True), (1, False), (3, True)]
    assert "tomorrow" in (out[0].time or "") and out[0].to_json()["type"] == "record"
    # one time said twice, in other case, is listed once, as first said
    assert (out[2].time or "").casefold().count("tomorrow") == 1 and out[2].time.startswith("Tomorrow")


def test_max_per_call_priority_and_experimental_status(tmp_path: Path, annotator: Annotator) -> None:
    rs = load(
        tmp_path,
        rule(
            "when: {speaker: agent, says: thanks}",
            extra="""\
        max_per_call: 2
        priority: 90
        status: experimental
        tags: [politeness]
        """,
        ),
    )
    out = run(rs, annotator, [("agent", "Thanks.", t) for t in (0.0, 3.0, 6.0)])
    assert len(out) == 2
    data = out[0].to_json()
    assert data["priority"] == 90 and data["experimental"] is True and data["tags"] == ["politeness"]


# ---------------------------------------------------------------- params and team overrides


def test_params_and_team_overrides(tmp_path: Path, annotator: Annotator) -> None:
    base = rule("""\
        params: {long_words: 8}
        when: {speaker: customer, min_length: {words: $long_words}}
        """)
    long_turn = [("customer", "one two three four five six seven eight nine ten", 0.0)]
    assert len(run(load(tmp_path, base), annotator, long_turn)) == 1
    team = "version: 1\noverrides:\n  - {rule: r, params: {long_words: 20}}\n  - {lexicon: thanks, add: [cheers], remove: [thanks]}\n"
    rs = load(tmp_path, base, {"team.yaml": team})
    assert run(rs, annotator, long_turn) == []
    assert {p.text for p in rs.lexicons["thanks"].phrases} == {"thank you", "cheers"}


def test_override_mistakes_are_located(tmp_path: Path) -> None:
    base = rule("params: {long_words: 8}\nwhen: {min_length: {words: $long_word}}")
    team = "version: 1\noverrides:\n  - {rule: r, params: {long_wrds: 20}}\n  - {lexicon: thanks, remove: [thanx]}\n"
    with pytest.raises(RuleError) as exc:
        load(tmp_path, base, {"team.yaml": team})
    text = "\n".join(map(str, exc.value.errors))  # type: ignore[attr-defined]
    assert "pack.yaml" in text and "$long_word" in text and "did you mean '$long_words'" in text
    assert "team.yaml:3" in text and "long_wrds" in text and "team.yaml:4" in text and "thanx" in text


# ---------------------------------------------------------------- lint, reload, schema, explain


def test_lint_warnings_are_kept_apart_from_errors(tmp_path: Path) -> None:
    rs = load(tmp_path, rule("when: {all: [{speaker: agent}, {speaker: customer}], says: thanks}"))
    warnings = "\n".join(map(str, rs.warnings))
    assert "can never fire" in warnings and "0 'fires' and 0 'quiet' examples" in warnings
    assert "lexicon 'actions' is never used" in warnings
    vetoed = HEAD.replace(
        "  thanks: [thank you, thanks]\n",
        "  thanks: {phrases: [thanks a lot, thanks, thank you], except: [thanks a, thank you so]}\n",
    )
    (tmp_path / "vetoed.yaml").write_text(vetoed + rule("when: {says: thanks}"), encoding="utf-8")
    lexicon_warnings = [str(w) for w in load_rules([tmp_path / "vetoed.yaml"]).warnings if "can never match" in str(w)]
    assert len(lexicon_warnings) == 1 and "'thanks a lot'" in lexicon_warnings[0]  # "thanks" alone can still match
    out, err = io.StringIO(), io.StringIO()
    assert main(["rules", "check", "--only-rules", str(tmp_path / "pack.yaml")], out, err) == 0
    assert "warning:" in out.getvalue()
    assert main(["rules", "check", "--strict", "--only-rules", str(tmp_path / "pack.yaml")], io.StringIO(), err) == 5


def test_reload_keeps_the_last_good_rules(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(HEAD + rule("when: {says: thanks}"), encoding="utf-8")
    library = RuleLibrary([path])
    good = library.ruleset
    path.write_text(HEAD + rule("when: {says: thankz}"), encoding="utf-8")
    assert library.changed()
    result = library.reload()
    assert not result.ok and result.ruleset is good and library.ruleset is good
    assert result.errors[0].line > 1 and "thankz" in result.errors[0].message
    path.write_text(HEAD + rule("when: {says: hold}"), encoding="utf-8")
    result = library.reload()
    assert result.ok and library.ruleset is not good
    kept = library.ruleset
    path.write_text("", encoding="utf-8")  # caught half-saved (or emptied): agents would lose every nudge
    result = library.reload()
    assert not result.ok and library.ruleset is kept and "load no rules" in result.message
    assert str(path) in result.message and "empty" in result.message
    assert not library.changed()  # not tried again until the file changes
    path.write_text(HEAD + rule("when: {says: thanks}"), encoding="utf-8")  # the save completes
    result = library.reload()
    assert result.ok and library.ruleset is not kept and len(library.ruleset.rules) == 1


def test_shipped_schema_is_current_and_accepts_the_default_packs() -> None:
    import jsonschema
    import yaml

    from rapport_assist.rules.schema import SCHEMA_FILE, rule_schema

    schema = rule_schema()
    shipped = json.loads((default_rules_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert shipped == schema, "regenerate: rapport-assist rules schema > rules/rapport-rules.schema.json"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for pack in sorted(default_rules_dir().glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(pack.read_text(encoding="utf-8"))))
        assert not errors, f"{pack.name}: {errors[0].message} at {list(errors[0].absolute_path)}"
    bad = {
        "version": 1,
        "rules": [
            {"id": "x", "title": "t", "severity": "critical", "why": "w", "message": "m", "when": {"speaker": "agent"}}
        ],
    }
    assert list(validator.iter_errors(bad))


def test_explain_traces_a_rule(tmp_path: Path) -> None:
    transcript = tmp_path / "call.jsonl"
    transcript.write_text(
        "\n".join(
            json.dumps(t)
            for t in [
                {
                    "speaker": "customer",
                    "text": "This is ridiculous, third time I'm calling.",
                    "start": 0.0,
                    "end": 3.0,
                },
                {"speaker": "agent", "text": "What is the account number?", "start": 3.5, "end": 5.0},
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert main(["rules", "explain", "--rule", "angry-no-apology", str(transcript)], out, io.StringIO()) == 0
    text = out.getvalue()
    assert "opens a wait" in text and "✗ says apology" in text and "FIRES" in text
    assert "angry-no-apology fired 1 time: #1" in text
    err = io.StringIO()
    assert main(["rules", "explain", "--rule", "no-such", str(transcript)], io.StringIO(), err) == 2
    assert "nearest of the" in err.getvalue()  # the ids most like it


def test_explain_of_an_experimental_rule_says_agents_do_not_see_it(tmp_path: Path) -> None:
    """The trace said FIRES and nothing else, for a rule a team file had made experimental: the
    team lead asking why the agent saw no card got no answer."""
    call = tmp_path / "call.jsonl"
    call.write_text(
        json.dumps(
            {"speaker": "agent", "text": "I think maybe it should probably work, I guess.", "start": 0, "end": 3}
        )
        + "\n",
        encoding="utf-8",
    )
    team = tmp_path / "team.yaml"
    team.write_text("version: 1\noverrides:\n  - {rule: hedging, status: experimental}\n", encoding="utf-8")
    out = io.StringIO()
    assert main(["rules", "explain", "--rule", "hedging", "--rules", str(team), str(call)], out, io.StringIO()) == 0
    head = out.getvalue().splitlines()[0]
    assert head.endswith("(experimental: its nudges are logged and in reports, not shown to agents)"), head
    assert "FIRES" in out.getvalue()
    out = io.StringIO()
    assert main(["rules", "explain", "--rule", "hedging", str(call)], out, io.StringIO()) == 0
    assert "experimental" not in out.getvalue().splitlines()[0]


def test_explain_of_a_missing_transcript_prints_no_trace_before_the_error(tmp_path: Path) -> None:
    """The error alone, exit 3 (README: input file missing), as 'replay' gives it: no trace header
    on stdout for a call that was never read."""
    for missing in (tmp_path / "nope.jsonl", tmp_path / "call.txt"):
        out, err = io.StringIO(), io.StringIO()
        assert main(["rules", "explain", "--rule", "dead-air", str(missing)], out, err) == 3
        assert out.getvalue() == "" and f"no such file: {missing}" in err.getvalue()


# ---------------------------------------------------------------- what annotation runs


def test_entity_recognizer_runs_only_for_rules_that_read_entities(tmp_path: Path, annotator: Annotator) -> None:
    """A lexicon with ``entities`` (here DATE in time-frame) makes the pipeline run spaCy's entity
    recognizer, so "March 3rd" counts; rules that read no entities skip it (a third of spaCy's time)."""
    with_entities = load(tmp_path, rule("when: {speaker: agent, says: time-frame}"))
    assert with_entities.needs_entities
    turns = [("agent", "The refund goes out on March 3rd.", 0.0)]
    out = run(with_entities, annotator, turns)
    assert [n.evidence[0].matched for n in out] == [("March 3rd",)]

    words_only = HEAD.replace("{entities: [DATE, TIME], phrases: [today, tomorrow]}", "[today, tomorrow]")
    path = tmp_path / "words.yaml"
    path.write_text(words_only + rule("when: {speaker: agent, says: time-frame}"), encoding="utf-8")
    no_entities = load_rules([path])
    assert not no_entities.needs_entities
    assert run(no_entities, annotator, turns) == []
    assert annotator.skipping(no_entities.needs_entities) == ("ner",)
    au = annotator.annotate(Utterance(0, Speaker.AGENT, "The refund goes out on March 3rd.", 0.0, 2.0), ("ner",))
    assert au.doc.ents == () and au.doc[0].pos_  # tagged and parsed, no entities


def test_token_patterns_on_entity_attributes_need_the_recognizer(tmp_path: Path) -> None:
    plain = HEAD.replace("{entities: [DATE, TIME], phrases: [today, tomorrow]}", "[today, tomorrow]")
    path = tmp_path / "p.yaml"
    path.write_text(plain + rule("when: {says: {tokens: [[{ENT_TYPE: PERSON}]]}}"), encoding="utf-8")
    assert load_rules([path]).needs_entities
    path.write_text(plain + rule("when: {says: {tokens: [[{POS: PROPN}]]}}"), encoding="utf-8")
    assert not load_rules([path]).needs_entities


def test_default_packs_run_without_the_entity_recognizer() -> None:
    assert not load_rules([default_rules_dir()]).needs_entities


def test_lint_warns_of_a_choice_written_as_if_it_held_phrases(tmp_path: Path) -> None:
    # "one star|1 star" is "one (star|1) star": a choice is one word; the lint names the slip
    slipped = HEAD.replace(
        "  thanks: [thank you, thanks]\n", "  thanks: [thank you, thanks, one star|1 star, a one|1 star]\n"
    )
    (tmp_path / "slip.yaml").write_text(slipped + rule("when: {says: thanks}"), encoding="utf-8")
    warnings = [str(w) for w in load_rules([tmp_path / "slip.yaml"]).warnings if "a choice is one word" in str(w)]
    assert len(warnings) == 1 and "'one star|1 star'" in warnings[0] and "'star|1'" in warnings[0]


def test_the_default_packs_have_no_lint_warnings() -> None:
    assert [str(w) for w in load_rules([default_rules_dir()]).warnings] == []
