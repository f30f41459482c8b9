"""Praise rules (``praise: true``): loaded like nudges, checked at file:line, run by ``rules test``
and ``rules explain``, and turned into praise events, never nudges."""

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
from rapport_assist.rule_examples import run_examples
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
from rapport_assist.types import Nudge, Praise, Speaker, Utterance

PACK = textwrap.dedent("""\
    version: 1
    lexicons:
      apology: [sorry, apologize]
      upset: [ridiculous, unacceptable]
    rules:
      - id: sorry-in-time
        title: Apologized in time
        praise: true
        why: An apology right away turns the call.
        when: {speaker: customer, says: upset}
        expect:
          speaker: agent
          says: apology
          within: {turns: 1}
        message: You owned it right away.
        examples:
          fires:
            - - customer: "This is ridiculous."
              - agent: "I'm sorry, let's fix it."
          quiet:
            - - customer: "This is ridiculous."
              - agent: "What's the account number?"
      - id: said-sorry
        title: Said sorry
        praise: true
        max_per_call: 2
        why: Saying sorry is kind.
        when: {speaker: agent, says: apology}
        message: "You said '{quote}'."
    """)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "praise.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run(ruleset, annotator: Annotator, turns: list[tuple[str, str]]) -> list:
    utterances, t = [], 0.0
    for i, (who, text) in enumerate(turns):
        utterances.append(Utterance(i, Speaker.parse(who), text, t, t + 2.0))
        t += 2.5
    return list(CallPipeline(annotator, RuleEngine(ruleset), masker=None).run(utterances))


def test_a_praise_rule_loads_with_its_defaults(tmp_path: Path) -> None:
    rs = load_rules([write(tmp_path, PACK)])
    rule = rs.rule("sorry-in-time")
    assert rule.praise and rule.severity == "low" and rule.max_per_call == 1 and rule.quote == "reply"
    assert rs.rule("said-sorry").max_per_call == 2 and rs.rule("said-sorry").quote == "trigger"


def test_a_met_expectation_is_praise_and_a_failed_one_says_nothing(tmp_path: Path, annotator: Annotator) -> None:
    rs = load_rules([write(tmp_path, PACK)])
    out = run(
        rs,
        annotator,
        [
            ("customer", "This is ridiculous."),
            ("agent", "I'm so sorry. Let's fix it."),
            ("agent", "Sorry again."),
            ("agent", "Sorry, one more time."),
        ],
    )
    praise = [e for e in out if isinstance(e, Praise)]
    assert not any(isinstance(e, Nudge) for e in out)  # praise rules never nudge
    met = [p for p in praise if p.rule == "sorry-in-time"]
    assert len(met) == 1 and met[0].utterance_index == 1
    assert met[0].quoted is not None and met[0].quoted.speaker is Speaker.AGENT  # the agent's words
    assert met[0].said == "I'm so sorry" and met[0].to_json()["type"] == "praise"
    said = [p for p in praise if p.rule == "said-sorry"]
    assert [p.utterance_index for p in said] == [1, 2]  # max_per_call: 2
    assert said[0].message == "You said 'sorry'."
    failed = run(rs, annotator, [("customer", "This is ridiculous."), ("agent", "What's the account number?")])
    assert not [e for e in failed if isinstance(e, (Praise, Nudge))]


@pytest.mark.parametrize(
    "extra, line, fragment",
    [
        ("    rewrites: [{from: a, to: b}]\n", 16, "'rewrites' has no use"),
        ("    severity: high\n", 16, "'severity' has no use"),
        ("    record: {list: promises}\n", 16, "'record' has no use"),
        ("    points_at: trigger\n", 16, "'points_at' has no use"),
    ],
)
def test_fields_a_praise_rule_cannot_use_are_errors_at_their_line(
    tmp_path: Path, extra: str, line: int, fragment: str
) -> None:
    text = PACK.replace("    message: You owned it right away.\n", "    message: You owned it right away.\n" + extra)
    with pytest.raises(RuleError) as info:
        load_rules([write(tmp_path, text)])
    found = [p for p in info.value.errors if fragment in p.message]  # type: ignore[attr-defined]
    assert found, info.value.message
    assert found[0].line == line and found[0].path.endswith("praise.yaml")
    assert f"praise.yaml:{line}:" in info.value.message


def test_a_praise_rule_needs_a_message_and_praise_must_be_true_or_false(tmp_path: Path) -> None:
    no_message = PACK.replace("    message: You owned it right away.\n", "")
    with pytest.raises(RuleError) as info:
        load_rules([write(tmp_path, no_message)])
    assert "message" in info.value.message and "praise.yaml:6:" in info.value.message
    bad = PACK.replace("    praise: true\n    why: An apology", "    praise: yes please\n    why: An apology")
    with pytest.raises(RuleError) as info:
        load_rules([write(tmp_path, bad)])
    assert "praise must be true or false" in info.value.message and "praise.yaml:8:" in info.value.message


def test_if_call_ends_fire_has_no_use_in_a_praise_rule(tmp_path: Path) -> None:
    text = PACK.replace("      within: {turns: 1}\n", "      within: {turns: 1}\n      if_call_ends: fire\n")
    with pytest.raises(RuleError) as info:
        load_rules([write(tmp_path, text)])
    assert "'if_call_ends: fire' has no use" in info.value.message and "praise.yaml:15:" in info.value.message


def test_rules_test_runs_praise_examples_and_catches_a_wrong_one(tmp_path: Path, annotator: Annotator) -> None:
    rs = load_rules([write(tmp_path, PACK)])
    results = run_examples(rs, annotator, only=["sorry-in-time"])
    assert [(r.kind, r.passed) for r in results] == [("fires", True), ("quiet", True)]
    wrong = PACK.replace('- agent: "I\'m sorry, let\'s fix it."', '- agent: "Let\'s fix it."')
    results = run_examples(load_rules([write(tmp_path, wrong)]), annotator, only=["sorry-in-time"])
    assert [(r.kind, r.passed) for r in results] == [("fires", False), ("quiet", True)]


def test_the_default_praise_pack_passes_its_examples(annotator: Annotator) -> None:
    rs = load_rules([default_rules_dir()])
    praise = [r.id for r in rs.rules if r.praise]
    assert {
        "praise-apology-in-time",
        "praise-reflection",
        "praise-used-name",
        "praise-promise-with-time",
        "praise-warm-opening",
        "praise-warm-closing",
    } <= set(praise)
    results = run_examples(rs, annotator, only=praise)
    failed = [r.describe() for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    assert sum(r.kind == "fires" for r in results) >= 2 * len(praise)


def test_explain_says_praise(tmp_path: Path) -> None:
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
                {"speaker": "agent", "text": "I'm so sorry about that, let's fix it now.", "start": 3.5, "end": 6.0},
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert main(["rules", "explain", "--rule", "praise-apology-in-time", str(transcript)], out, io.StringIO()) == 0
    assert "opens a wait" in out.getvalue() and "PRAISE" in out.getvalue()
