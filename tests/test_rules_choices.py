"""A choice (``a|b``) whose words hold a contraction is written out into one phrase per choice.

Before, a compiled choice kept only the first word of each choice once split as spaCy splits it
("haven't" -> "have"), so "haven't|hasn't heard back" matched neither "haven't heard back" nor
"hasn't heard back". These tests run the real loader, annotator and engine."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.errors import RuleError
from rapport_assist.rules import RuleEngine, load_rules
from rapport_assist.rules.features import expand_choices
from rapport_assist.types import Speaker, Utterance

PACK = textwrap.dedent("""\
    version: 1
    lexicons:
      no-answer: ["haven't|hasn't|didn't hear back", second|third time]
      order: ["you'll|you'd need to"]
    rules:
      - id: no-answer
        title: No answer
        severity: low
        why: test
        when: {speaker: customer, says: no-answer}
        cooldown_s: 0
        message: "{quote}"
      - id: order
        title: An order
        severity: low
        why: test
        when: {speaker: agent, says: order}
        cooldown_s: 0
        message: "{rewrite}"
        message_if_no_rewrite: "{quote}"
        rewrites:
          - {from: "you'll|you'd need to", to: "let's"}
    """)


@pytest.mark.parametrize(
    "text, forms",
    [
        ("haven't|didn't hear back", ["haven't hear back", "didn't hear back"]),
        # "can't" and "cannot" split alike ("can not"): one phrase, as first written
        ("can't|cannot believe", ["can't believe"]),
        ("if you can't|couldn't", ["if you can't", "if you couldn't"]),
        # one-word choices stay a choice; only the slot with a contraction is written out
        ("you'll|would still|also need to", ["you'll still|also need to", "would still|also need to"]),
        ("second|third time", ["second|third time"]),
        ("within <num>|two days", ["within <num>|two days"]),
    ],
)
def test_choices_with_a_contraction_are_written_out(text: str, forms: list[str]) -> None:
    assert expand_choices(text) == forms


def fired(tmp_path: Path, annotator: Annotator, who: str, text: str, pack: str = PACK) -> list[str]:
    path = tmp_path / "pack.yaml"
    path.write_text(pack, encoding="utf-8")
    engine = RuleEngine(load_rules([path]))
    engine.start_call()
    utt = Utterance(0, Speaker(who), text, 0.0, 2.0, timing_estimated=True)
    out = list(engine.on_utterance(annotator.annotate(utt))) + list(engine.finish(3.0))
    return [n.rule for n in out]


@pytest.mark.parametrize(
    "text, fires",
    [
        ("I haven't heard back from anyone.", True),
        ("She hasn't heard back either", True),
        ("We didn't hear back at all.", True),
        ("This is the third time I call.", True),
        # the first word of a choice alone is not the phrase (it used to be all that was left)
        ("I have heard back, thanks.", False),
        ("Did you hear back?", False),
    ],
)
def test_a_lexicon_choice_with_contractions_matches_each_form(
    tmp_path: Path, annotator: Annotator, text: str, fires: bool
) -> None:
    assert (fired(tmp_path, annotator, "customer", text) == ["no-answer"]) is fires


def test_a_rewrite_from_a_written_out_choice_offers_each_form(tmp_path: Path, annotator: Annotator) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK, encoding="utf-8")
    ruleset = load_rules([path])
    assert [rw.phrase.text for rw in ruleset.rule("order").rewrites] == ["you'll need to", "you'd need to"]
    assert fired(tmp_path, annotator, "agent", "You'd need to restart the router.") == ["order"]


def test_a_team_removes_a_choice_as_the_pack_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK, encoding="utf-8")
    override = tmp_path / "team.yaml"
    override.write_text(
        "version: 1\noverrides:\n  - {lexicon: no-answer, remove: [\"haven't|hasn't|didn't hear back\"]}\n",
        encoding="utf-8",
    )
    phrases = [p.text for p in load_rules([path, override]).lexicons["no-answer"].phrases]
    assert phrases == ["second|third time"]


def test_a_choice_that_stands_for_too_many_phrases_is_an_error_at_its_line(tmp_path: Path) -> None:
    slot = "|".join(f"{w}n't" for w in ("can", "won", "don", "didn", "isn", "aren"))
    path = tmp_path / "pack.yaml"
    path.write_text(PACK.replace("second|third time", f'"{slot} {slot} go"'), encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules([path])
    assert "pack.yaml:3" in info.value.message and "stands for 36 phrases" in info.value.message


@pytest.mark.parametrize(
    "text",
    [
        "Y'all need to restart it.",
        "So y'all need to restart it.",
        "Ya'll need to restart it.",
        "Y’ALL NEED to restart it.",
    ],
)
def test_yall_is_split_the_same_wherever_it_stands(annotator: Annotator, text: str) -> None:
    """spaCy keeps "Y'all" whole at a sentence start and splits it elsewhere; the annotator
    always splits it, "y'" read as "you", so a rule phrase with "y'all" matches it everywhere."""
    doc = annotator.annotate(Utterance(0, Speaker.AGENT, text, 0.0, 2.0, timing_estimated=True)).doc
    you = next(t for t in doc if t.text.lower().startswith("y"))
    assert (you.norm_, you.nbor().norm_) == ("you", "all")
    assert doc.text == text  # the words as said are kept


@pytest.mark.parametrize("text", ["What did y'all do to my phone?", "Y'all, what did you all do to my phone?"])
def test_a_yall_phrase_matches_however_it_is_typed(tmp_path: Path, annotator: Annotator, text: str) -> None:
    pack = PACK.replace("second|third time", "what did y'all do")
    assert fired(tmp_path, annotator, "customer", text, pack) == ["no-answer"]


@pytest.mark.parametrize(
    "text, forms",
    [
        # a grouped choice is written out, one phrase per choice, words and all
        ("(I was|we were) promised", ["I was promised", "we were promised"]),
        ("(money back|a refund) now", ["money back now", "a refund now"]),
        # an empty choice leaves the group out
        ("(really|) fed up", ["really fed up", "fed up"]),
        # groups and one-word choices together; one-word choices stay a choice
        ("second|third (time|go round)", ["second|third time", "second|third go round"]),
    ],
)
def test_grouped_choices_are_written_out(text: str, forms: list[str]) -> None:
    assert expand_choices(text) == forms


GROUPS = PACK.replace(
    "second|third time", "\"(it is|it's) broken\", \"(really|) fed up\", \"(I was|we were) promised\""
)


@pytest.mark.parametrize(
    "text, fires",
    [
        ("It's broken again.", True),
        ("It is broken again.", True),
        ("We were promised a call.", True),
        ("I was promised a call.", True),
        ("I'm fed up.", True),
        ("I'm really fed up.", True),
        # without groups "it's|it is broken" read as "it's is broken" or "it is broken", and
        # "I was|we were promised" as "I|was were|promised ..." slots: these mixes are not the phrases
        ("I were promised a call.", False),
        ("It was broken.", False),
    ],
)
def test_a_grouped_choice_matches_each_phrase_it_stands_for(
    tmp_path: Path, annotator: Annotator, text: str, fires: bool
) -> None:
    assert (fired(tmp_path, annotator, "customer", text, GROUPS) == ["no-answer"]) is fires


@pytest.mark.parametrize(
    "phrase, message",
    [
        ("(it is broken", "a parenthesis is not closed"),
        ("it is) broken", "a ')' closes no '('"),
        ("(really) sorry", "has no '|' between choices"),
        ("(|) sorry", "must hold words separated by '|'"),
    ],
)
def test_a_broken_group_is_an_error_at_its_line(tmp_path: Path, phrase: str, message: str) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK.replace("second|third time", f'"{phrase}"'), encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules([path])
    assert "pack.yaml:3" in info.value.message and message in info.value.message


@pytest.mark.parametrize("text", ["You'd need to restart the router.", "You would need to restart the router."])
def test_a_phrase_with_d_matches_would_said_in_full(tmp_path: Path, annotator: Annotator, text: str) -> None:
    """ "'d" is read as "would" (spaCy's lemma of it), as "'ll" is "will": the pack's "you'd need
    to" also matches "you would need to" said in full."""
    assert fired(tmp_path, annotator, "agent", text) == ["order"]
