"""`rapport-assist eval`: scoring rules on labelled dialogues, transcript folders with labels,
unlabelled data, bad input, and the command in process. Fixtures are written here; spaCy is
used (the rules run exactly as on a call), the speech model is not."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rapport_assist.cli import main
from rapport_assist.errors import BadInput
from rapport_assist.evaluate import (
    Counts,
    borderline_in_notes,
    evaluate,
    format_text,
    load_conversations,
    match_turns,
    report_to_json,
    run_conversations,
    spoken_text,
)
from rapport_assist.rules import load_rules
from rapport_assist.types import Evidence, Nudge, Speaker

# A small rule pack of our own, so these tests measure the evaluation, not the tuning of the
# default packs: a 'when' rule that fires on the turn itself, and an 'expect' rule that decides
# at the agent's next turn but points at the promise (as uncommitted-promise does).
RULES = """\
version: 1
lexicons:
  directive: [you need to, you have to, you should]
  callback: [call you back]
  when-said: [tomorrow, today]
rules:
  - id: you-not-we
    title: Say it as a team
    severity: medium
    why: Orders sound like blame.
    when: {speaker: agent, says: directive}
    cooldown_s: 0
    message: "Try 'let's' instead of '{quote}'"
  - id: promise-no-time
    title: Put a time on it
    severity: medium
    why: A promise with a time can be kept.
    when: {speaker: agent, says: callback}
    expect:
      speaker: agent
      says: when-said
      within: {turns: 1}
      if_call_ends: fire
    points_at: trigger
    cooldown_s: 0
    message: "Add a when to '{quote}'"
"""

C, A = "customer", "agent"


def dialogue(did: str, turns: list[tuple[str, str]], labels: dict | None = None, **extra) -> dict:
    d: dict = {"id": did, "turns": [{"speaker": s, "text": t} for s, t in turns], **extra}
    if labels is not None:
        d["labels"] = labels
    return d


# you-not-we: 3 labelled turns (two hit, one missed), 2 turns fire without a label.
LABELLED = [
    dialogue(
        "hit", [(C, "My internet keeps dropping."), (A, "Okay, you need to restart the router.")], {"you-not-we": [1]}
    ),
    dialogue(
        "hit-and-miss",
        [
            (C, "The app crashed."),
            (A, "You should reinstall it."),
            (C, "Still broken."),
            (A, "Let's try clearing the cache together."),
        ],
        {"you-not-we": [1, 3]},
    ),
    dialogue(
        "false-alarms",
        [
            (C, "I lost my receipt."),
            (A, "You have to bring the receipt to the store."),
            (C, "But I lost it."),
            (A, "Then you need to call the bank for a statement."),
        ],
        {"you-not-we": []},
        hard_negatives={"you-not-we": [3]},
    ),
    dialogue("miss", [(C, "My card was declined."), (A, "I'll fix that for you right now.")], {"you-not-we": [1]}),
    dialogue("quiet", [(C, "Hello."), (A, "Hi, how can I help?")], {"you-not-we": []}),
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "test.yaml"
    path.write_text(RULES, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ruleset(rules_file: Path):
    return load_rules([rules_file])


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_true_positive_false_alarm_miss_and_their_precision_recall(tmp_path, annotator, ruleset) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", LABELLED)
    report = evaluate(load_conversations(path), ruleset, annotator, source=str(path))
    r = {x.rule: x for x in report.rules}["you-not-we"]

    # conversations: hit, hit-and-miss = tp; false-alarms = fp; miss = fn; quiet = tn
    assert r.conversation_level == Counts(tp=2, fp=1, fn=1, tn=1)
    assert r.conversation_level.precision == pytest.approx(2 / 3)
    assert r.conversation_level.recall == pytest.approx(2 / 3)
    # turns: hit@1, hit-and-miss@1 = tp; false-alarms@1,@3 = fp; hit-and-miss@3, miss@1 = fn
    t = r.turn_level
    assert (t.tp, t.fp, t.fn) == (2, 2, 2)
    assert (t.precision, t.recall, t.f1) == (0.5, 0.5, 0.5)
    assert [(m.conversation, m.turn) for m in r.misses] == [("hit-and-miss", 3), ("miss", 1)]
    assert "Let's try clearing the cache" in r.misses[0].text
    assert [(f.conversation, f.turn, f.hard_negative) for f in r.false_alarms] == [
        ("false-alarms", 1, False),
        ("false-alarms", 3, True),
    ]
    assert "you have to" in r.false_alarms[0].message.lower()
    assert r.false_alarms[0].evidence[0].matched  # the words it rests on
    assert r.hard_negative_fires == 1
    assert r.nudges == 4 and r.nudges_per_conversation == pytest.approx(4 / 5)

    # the rule without labels in this data: nudges only
    p = {x.rule: x for x in report.rules}["promise-no-time"]
    assert not p.labelled and p.conversation_level is None and p.nudges == 0

    text = format_text(report, show=10)
    table = text.split("\n\n")[1]
    assert "you-not-we" in table and "0.67" in table and "2/1/1" in table and "2/2/2" in table
    assert "MISS  hit-and-miss @3" in text and "FALSE false-alarms @3" in text
    assert "[on a hard negative]" in text
    assert format_text(report, show=1).count("MISS ") == 1


def test_exact_f1_when_precision_and_recall_differ() -> None:
    c = Counts(tp=3, fp=1, fn=2)
    assert c.precision == 0.75 and c.recall == 0.6
    assert c.f1 == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))
    assert Counts(0, 0, 3).precision is None and Counts(0, 0, 3).f1 == 0.0
    assert Counts(0, 0, 0).f1 is None


def _nudge(fired_at: int, about: int) -> Nudge:
    ev = Evidence(about, Speaker.AGENT, "...", 0.0, 1.0)
    return Nudge("r", "medium", "t", "m", float(fired_at), fired_at, (ev,))


def test_turn_matching_prefers_exact_then_tolerates_the_agents_next_turn() -> None:
    speakers = [Speaker.CUSTOMER, Speaker.AGENT, Speaker.CUSTOMER, Speaker.AGENT, Speaker.AGENT, Speaker.CUSTOMER]
    # decided at the agent's next turn (3) but about the promise (1): exact on its evidence
    assert match_turns([1], [_nudge(3, 1)], speakers) == ([(1, 0, True)], [], [])
    # a label on the customer turn (2): the nudge at the agent's next turn (3) matches, tolerated
    assert match_turns([2], [_nudge(3, 3)], speakers) == ([(2, 0, False)], [], [])
    # one-to-one, exact first: the nudge at 3 takes label 3, not label 1 through the tolerance
    assert match_turns([1, 3], [_nudge(3, 3)], speakers) == ([(3, 0, True)], [1], [])
    # two turns later is not "next": a miss and a false alarm
    assert match_turns([1], [_nudge(4, 4)], speakers) == ([], [1], [0])
    # a repeat nudge about a matched turn is a false alarm
    assert match_turns([1], [_nudge(1, 1), _nudge(1, 1)], speakers) == ([(1, 0, True)], [], [1])


def test_expect_rule_is_matched_at_the_promise_not_where_it_fired(tmp_path, annotator, ruleset) -> None:
    d = dialogue(
        "promise",
        [(C, "Nobody called me."), (A, "Someone will call you back."), (C, "Okay."), (A, "Anything else?")],
        {"promise-no-time": [1]},
    )
    path = write_jsonl(tmp_path / "p.jsonl", [d])
    report = evaluate(load_conversations(path), ruleset, annotator, rule_ids=["promise-no-time"])
    (r,) = report.rules
    assert r.turn_level == Counts(1, 0, 0)
    assert r.tolerated == 0


def test_unlabelled_dialogues_report_nudges_per_conversation(tmp_path, annotator, ruleset) -> None:
    # written threads: no times, links and @handles (dropped: nobody says them)
    rows = [
        dialogue(
            "t1",
            [
                (C, "@Brand my router is dead https://t.co/xyz"),
                (A, "@someone Sorry! You need to restart it &amp; wait https://help.example/x"),
            ],
        ),
        dialogue("t2", [(C, "hi"), (A, "We'll call you back.")]),
        dialogue("t3", [(C, "thanks"), (A, "Anytime!")]),
    ]
    path = write_jsonl(tmp_path / "tw.jsonl", rows)
    convs = load_conversations(path)
    assert convs[0].utterances[1].text == "Sorry! You need to restart it & wait"
    assert convs[0].utterances[1].timing_estimated
    report = evaluate(convs, ruleset, annotator, source="tw")
    assert report.labelled_conversations == 0
    by = {r.rule: r for r in report.rules}
    assert not by["you-not-we"].labelled
    assert by["you-not-we"].nudges == 1 and by["you-not-we"].nudges_per_conversation == pytest.approx(1 / 3)
    assert by["promise-no-time"].nudges == 1 and by["promise-no-time"].conversations_with_nudges == 1
    assert [f.conversation for f in by["you-not-we"].unlabelled_fires] == ["t1"]
    text = format_text(report)
    assert "nudges per conversation" in text and "0.333" in text and "FIRE  t1 @1" in text
    data = report_to_json(report)
    assert data["rules"][0]["conversation_level"] is None
    assert data["rules"][0]["nudges_per_conversation"] == pytest.approx(1 / 3)


def test_spoken_text() -> None:
    assert spoken_text("@Acme hi &amp; bye https://x.co/a  see www.acme.com") == "hi & bye see"
    assert spoken_text("mail me at me@example.com") == "mail me at me@example.com"
    assert spoken_text("We\u2019ll send it \u201csoon\u201d") == "We'll send it \"soon\""


@pytest.mark.parametrize(
    "text, spoken",
    [
        # a sentence's end glued to the next word gets its space back (spaCy read "late.where" as one word)
        ("came late.where is it??I\u2019m cross.refund it", "came late. where is it?? I'm cross. refund it"),
        ("It broke!Again!!Fix it", "It broke! Again!! Fix it"),
        ("hold on...what now", "hold on... what now"),
        # not in a site, a file, an address, an abbreviation or a version number
        ("see acme.com or shop.co.uk", "see acme.com or shop.co.uk"),
        ("the invoice.pdf is blank", "the invoice.pdf is blank"),
        ("write to jane.doe@example.org", "write to jane.doe@example.org"),
        ("the U.S. office, e.g. Boston", "the U.S. office, e.g. Boston"),
        ("version 2.1.Then it froze", "version 2.1.Then it froze"),
    ],
)
def test_spoken_text_unglues_sentence_ends(text: str, spoken: str) -> None:
    assert spoken_text(text) == spoken


def _transcripts(folder: Path) -> Path:
    folder.mkdir()
    write_jsonl(
        folder / "call1.jsonl",
        [
            {"speaker": C, "text": "The router is dead again.", "start": 0, "end": 2},
            {"speaker": A, "text": "You need to restart the router.", "start": 2.5, "end": 4.5},
        ],
    )
    write_jsonl(
        folder / "call2.jsonl",
        [{"speaker": C, "text": "Hi there."}, {"speaker": A, "text": "You should check the cable."}],
    )
    write_jsonl(folder / "call3.jsonl", [{"speaker": C, "text": "Hello."}, {"speaker": A, "text": "Hi!"}])
    return folder


def test_folder_of_transcripts_with_json_labels(tmp_path, annotator, ruleset) -> None:
    folder = _transcripts(tmp_path / "calls")
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps({"call1": {"you-not-we": [1]}, "call2.jsonl": {"labels": {"you-not-we": []}}}, indent=2)
    )
    convs = load_conversations(folder, labels)
    assert [c.id for c in convs] == ["call1", "call2", "call3"]
    assert convs[2].labels is None
    report = evaluate(convs, ruleset, annotator, rule_ids=["you-not-we"])
    (r,) = report.rules
    assert r.labelled_conversations == 2 and r.conversations == 3
    assert r.conversation_level == Counts(tp=1, fp=1, fn=0, tn=0)
    assert r.turn_level == Counts(1, 1, 0)
    assert [(f.conversation, f.turn) for f in r.false_alarms] == [("call2", 1)]


def test_folder_with_jsonl_labels_through_the_cli(tmp_path, rules_file) -> None:
    folder = _transcripts(tmp_path / "calls")
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [{"id": "call1", "labels": {"you-not-we": [1]}}, {"id": "call3", "labels": {"you-not-we": [1]}}],
    )
    code, out, err = run(
        "eval",
        str(folder),
        "--labels",
        str(labels),
        "--only-rules",
        str(rules_file),
        "--rule",
        "you-not-we",
        "--format",
        "json",
    )
    assert code == 0, err
    data = json.loads(out)
    (r,) = data["rules"]
    assert r["conversation_level"] == {
        "tp": 1,
        "fp": 0,
        "fn": 1,
        "tn": 0,
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
    }
    assert r["misses"] == [
        {"conversation": "call3", "turn": 1, "speaker": "agent", "text": "Hi!", "borderline": False, "context": []}
    ]
    assert [f["conversation"] for f in r["unlabelled_fires"]] == ["call2"]


def test_labels_for_a_missing_transcript_or_turn_are_errors(tmp_path, rules_file) -> None:
    folder = _transcripts(tmp_path / "calls")
    labels = tmp_path / "labels.json"
    labels.write_text('{\n  "call1": {"you-not-we": [1]},\n  "cal2": {"you-not-we": []}\n}\n')
    code, out, err = run("eval", str(folder), "--labels", str(labels), "--only-rules", str(rules_file))
    assert code == 4 and out == ""
    assert f"{labels}:3: no conversation named 'cal2'" in err and "did you mean 'call2'" in err
    labels.write_text('{"call1": {"you-not-we": [7]}}')
    code, _, err = run("eval", str(folder), "--labels", str(labels), "--only-rules", str(rules_file))
    assert code == 4 and "names turn 7" in err and "has 2 turns" in err


def test_a_labels_record_of_borderline_alone_is_bad_input(tmp_path, rules_file) -> None:
    """A labels .json record with 'borderline' and no 'labels' was taken for a record, then had
    no labels: an AssertionError (internal error, exit 1). Now it says what is missing, as a
    .jsonl labels line does."""
    folder = _transcripts(tmp_path / "calls")
    labels = tmp_path / "labels.json"
    labels.write_text('{\n  "call1": {"you-not-we": [1]},\n  "call2": {"borderline": ["you-not-we"]}\n}\n')
    code, out, err = run("eval", str(folder), "--labels", str(labels), "--only-rules", str(rules_file))
    assert code == 4 and out == "" and "internal error" not in err, err
    assert f"{labels}:3: 'call2' has 'borderline' but no 'labels'" in err and 'add "labels"' in err


def test_malformed_lines_name_file_and_line(tmp_path, rules_file) -> None:
    good = json.dumps(LABELLED[0])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(f"{good}\n\n{{\"id\": \"x\", \"turns\": [\n")
    code, out, err = run("eval", str(bad), "--only-rules", str(rules_file))
    assert code == 4 and out == ""
    assert f"{bad}:3: not valid JSON" in err and "\n" not in err.rstrip("\n")

    bad.write_text(good + "\n" + json.dumps(dialogue("y", [(C, "hi"), ("robot", "beep")])) + "\n")
    code, _, err = run("eval", str(bad), "--only-rules", str(rules_file))
    assert code == 4 and f"{bad}:2: turn 1: unknown speaker 'robot'" in err

    bad.write_text(json.dumps({**LABELLED[0], "labels": {"you-not-we": "1"}}) + "\n")
    code, _, err = run("eval", str(bad), "--only-rules", str(rules_file))
    assert code == 4 and f"{bad}:1:" in err and "list of turn numbers" in err

    bad.write_text(json.dumps({"speaker": "agent", "text": "hello"}) + "\n")
    code, _, err = run("eval", str(bad), "--only-rules", str(rules_file))
    assert code == 4 and "looks like a transcript" in err

    code, _, err = run("eval", str(tmp_path / "nope.jsonl"))
    assert code == 3


def test_cli_text_report_and_options(tmp_path, rules_file) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", LABELLED)
    code, out, err = run("eval", str(path), "--only-rules", str(rules_file), "--show", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}: 5 conversations (5 labelled)")
    header = next(i for i, line in enumerate(lines) if line.startswith("rule "))
    row = lines[header + 1].split()
    assert row[:6] == ["you-not-we", "5", "0.67", "0.67", "0.67", "2/1/1"]
    assert row[6:10] == ["0.50", "0.50", "0.50", "2/2/2"]
    assert out.count("MISS ") == 1 and "1 more miss" in out

    code, out, _ = run("eval", str(path), "--only-rules", str(rules_file), "--show", "0")
    assert code == 0 and "MISS" not in out and "FALSE" not in out

    code, _, err = run("eval", str(path), "--only-rules", str(rules_file), "--rule", "you-not-wee")
    assert code == 2 and "did you mean 'you-not-we'" in err


def test_labels_of_a_rule_switched_off_or_that_gives_no_nudges_say_why_they_are_not_scored(
    tmp_path, rules_file
) -> None:
    """A label naming a loaded rule is not "no loaded rule" (that reads as a typo): a rule the team
    file switched off, or a praise or record rule (no nudges to score), is named with the reason;
    asking for such a rule with --rule is refused, not scored as if it never fired."""
    extra = RULES.replace("rules:\n", "rules:\n" + _PRAISE)
    rules = tmp_path / "rules.yaml"
    rules.write_text(extra + "overrides:\n  - {rule: promise-no-time, enabled: false}\n", encoding="utf-8")
    labels = {"you-not-we": [1], "promise-no-time": [1], "praised-thanks": [1], "you-not-wee": [1]}
    path = write_jsonl(tmp_path / "d.jsonl", [dialogue("d", [(C, "Hi."), (A, "Thanks, you need to wait.")], labels)])
    code, out, err = run("eval", str(path), "--only-rules", str(rules))
    assert code == 0, err
    warned = " ".join(out.splitlines())  # the warnings wrap at 100 columns
    assert "no loaded rule, not scored: you-not-wee (1 turn; did you mean 'you-not-we'?)" in warned, out
    assert "labelled moment promise-no-time (1 turn) not scored: switched off in the rule files" in warned, out
    assert "labelled moment praised-thanks (1 turn) not scored: a praise rule, which gives no nudges" in warned, out
    code, out, err = run("eval", str(path), "--only-rules", str(rules), "--format", "json")
    report = json.loads(out)
    assert report["labels_without_rule"] == {"praised-thanks": 1, "promise-no-time": 1, "you-not-wee": 1}
    assert set(report["labels_unscored_why"]) == {"praised-thanks", "promise-no-time"}
    code, out, err = run("eval", str(path), "--only-rules", str(rules), "--rule", "praised-thanks")
    assert code == 2 and out == "" and "--rule praised-thanks: a praise rule, which gives no nudges" in err
    assert "rules explain --rule praised-thanks" in err


def test_a_turn_both_labelled_and_a_hard_negative_is_bad_input(tmp_path, rules_file) -> None:
    """It was scored both ways (a hit and a hard-negative false alarm at once), without a word."""
    row = dialogue("d", [(C, "Hi."), (A, "You need to wait.")], {"you-not-we": [1]}, hard_negatives={"you-not-we": [1]})
    path = write_jsonl(tmp_path / "d.jsonl", [row])
    code, out, err = run("eval", str(path), "--only-rules", str(rules_file))
    assert code == 4 and out == "", err
    assert f"{path}:1: turn 1 is labelled for 'you-not-we' and listed in its 'hard_negatives' too" in err


_PRAISE = """\
  - id: praised-thanks
    title: Thanked them
    praise: true
    why: Thanks build rapport.
    when: {speaker: agent, says: {regex: thanks}}
    message: You thanked them.
"""


def test_cli_default_rules_count_you_need_to_restart_the_router(tmp_path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [LABELLED[0]])
    code, out, err = run("eval", str(path), "--rule", "you-not-we", "--format", "json")
    assert code == 0, err
    (r,) = json.loads(out)["rules"]
    assert r["turn_level"]["tp"] == 1 and r["turn_level"]["fp"] == 0 and r["turn_level"]["fn"] == 0


def test_a_missed_reply_shows_what_the_rule_read_before_it(tmp_path) -> None:
    """angry-no-apology starts on the customer's words but is labelled at the agent's reply: a
    miss lists the customer's turn before it, with the tone the signals gave it and its length,
    so a team lead sees why the rule stayed quiet. A miss on a turn the rule starts on (the
    agent's own words for you-not-we) has no such context."""
    rows = [
        dialogue(
            "calm-words",
            [
                (C, "I asked for the refund in March."),
                (C, "It is June and the money is still not back on my card."),
                (A, "Refunds can take a while to post."),
            ],
            {"angry-no-apology": [2], "you-not-we": [2]},
        )
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    code, out, err = run("eval", str(path), "--rule", "angry-no-apology", "--rule", "you-not-we", "--show", "all")
    assert code == 0, err
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  MISS  calm-words @2") and "Refunds" in line)
    assert lines[at + 1].split()[:2] == ["@0", "customer"] and "[tone calm 0.00; 7 words]" in lines[at + 1]
    assert lines[at + 2].split()[:2] == ["@1", "customer"] and "13 words]" in lines[at + 2]
    you = next(i for i, line in enumerate(lines) if line.startswith("you-not-we: 1 miss"))
    assert lines[you + 1].startswith("  MISS  calm-words @2") and not lines[you + 2].startswith("        @")

    code, out, err = run("eval", str(path), "--rule", "angry-no-apology", "--format", "json", "--show", "all")
    (miss,) = json.loads(out)["rules"][0]["misses"]
    assert [c["turn"] for c in miss["context"]] == [0, 1] and miss["context"][1]["note"].startswith("tone ")


def test_nudges_are_those_of_a_replayed_transcript(tmp_path, annotator, ruleset, rules_file) -> None:
    """The evaluation batches spaCy across conversations but must see what replay shows."""
    folder = _transcripts(tmp_path / "calls")
    write_jsonl(
        folder / "call4.jsonl",
        [
            {"speaker": C, "text": "Nobody called me back."},
            {"speaker": A, "text": "You have to wait. Someone will call you back."},
            {"speaker": C, "text": "Fine."},
        ],
    )
    results, timing = run_conversations(load_conversations(folder), ruleset, annotator, batch=3)
    assert timing.utterances == 9
    for res in results:
        code, out, err = run("replay", res.conversation.where, "--only-rules", str(rules_file), "--format", "jsonl")
        assert code == 0, err
        replayed = [
            (e["rule"], e["utterance_index"], e["evidence"][0]["utterance_index"], e["message"])
            for e in map(json.loads, out.splitlines())
            if e["type"] == "nudge"
        ]
        assert replayed == [(n.rule, n.utterance_index, n.evidence[0].utterance_index, n.message) for n in res.nudges]
    assert [n.rule for n in results[-1].nudges] == ["you-not-we", "promise-no-time"]


def test_borderline_calls_are_read_from_notes_headers_only() -> None:
    notes = (
        "angry-no-apology @1: long rant, no apology. missed-reflection @7: no restatement. "
        "missed-reflection @9, borderline: answers a diagnostic question. "
        "you-not-we not fired, borderline: 'you will need' reads as a limit. "
        "uncommitted-promise not fired @5: the customer must act first."
    )
    assert borderline_in_notes(notes) == ["missed-reflection", "you-not-we"]
    assert borderline_in_notes(notes, ["you-not-we", "angry-no-apology"]) == ["you-not-we"]
    # "borderline" elsewhere in the text is not a header's
    assert borderline_in_notes("angry-no-apology @1: not borderline at all, just rude.") == []


def test_scores_with_and_without_the_conversations_marked_borderline(tmp_path, annotator, ruleset) -> None:
    rows = [
        *LABELLED,
        # a false alarm on a hard call, marked in the notes: left out of the clear figures
        dialogue(
            "hard-fp",
            [(C, "Is it broken?"), (A, "You should restart it first.")],
            {"you-not-we": []},
            notes="you-not-we not fired, borderline: a suggestion, not an order.",
        ),
        # a miss on a hard call, marked in the field (which wins over the notes)
        dialogue(
            "hard-fn",
            [(C, "Help."), (A, "Let's see what happened.")],
            {"you-not-we": [1]},
            borderline=["you-not-we"],
            notes="you-not-we @1: clear.",
        ),
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    report = evaluate(load_conversations(path), ruleset, annotator, source=str(path))
    r = {x.rule: x for x in report.rules}["you-not-we"]
    assert r.conversation_level == Counts(tp=2, fp=2, fn=2, tn=1)
    assert r.borderline_conversations == 2
    assert r.clear_conversation_level == Counts(tp=2, fp=1, fn=1, tn=1)
    assert (r.clear_turn_level.tp, r.clear_turn_level.fp, r.clear_turn_level.fn) == (2, 2, 2)
    assert [m.conversation for m in r.misses if m.borderline] == ["hard-fn"]
    assert [f.conversation for f in r.false_alarms if f.borderline] == ["hard-fp"]

    text = format_text(report, show=None)
    assert "without the conversations whose call on the rule the labels mark borderline" in text
    clear_row = next(
        line
        for line in text.splitlines()[
            text.splitlines().index("without the conversations whose call on the rule the labels mark borderline:") :
        ]
        if line.startswith("you-not-we")
    )
    assert clear_row.split() == [
        "you-not-we",
        "5",
        "0.67",
        "0.67",
        "0.67",
        "2/1/1",
        "0.50",
        "0.50",
        "0.50",
        "2/2/2",
        "2",
    ]
    assert text.count("MISS ") == 3 and text.count("[borderline]") == 2
    js = report_to_json(report, show=None)
    (jr,) = [x for x in js["rules"] if x["rule"] == "you-not-we"]
    assert jr["clear"]["conversation_level"]["fp"] == 1 and jr["borderline_conversations"] == 2
    assert len(jr["misses"]) == 3 and js["show"] == "all"


def test_borderline_field_must_list_rule_ids(tmp_path, rules_file) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [dialogue("x", [(A, "Hi.")], {"you-not-we": []}, borderline="you-not-we")])
    code, _, err = run("eval", str(path), "--only-rules", str(rules_file))
    assert code == 4 and "'borderline' must be a list of rule ids" in err


def test_cli_show_all_lists_every_miss_and_false_alarm(tmp_path, rules_file) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", LABELLED)
    code, out, err = run("eval", str(path), "--only-rules", str(rules_file), "--show", "all")
    assert code == 0, err
    assert out.count("MISS ") == 2 and out.count("FALSE ") == 2 and "more miss" not in out
    code, _, err = run("eval", str(path), "--only-rules", str(rules_file), "--show", "some")
    assert code == 2 and "expected a number or 'all'" in err


def test_two_transcripts_of_one_name_are_two_conversations_a_label_tells_apart(tmp_path, annotator) -> None:
    """A folder may hold a call's transcript twice (Amazon Transcribe writes call.json beside its
    call.vtt/call.srt subtitles): each is a conversation of its own name, as qa names them (call_txt,
    call_vtt), and a label naming only 'call' says which to pick; it went to one of them silently."""
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "call.txt").write_text("Agent: Hello there.\nCustomer: My bill is wrong again.\n", encoding="utf-8")
    (folder / "call.vtt").write_text("WEBVTT\n\n00:01.000 --> 00:02.000\n<v Agent>Hello.\n", encoding="utf-8")
    (folder / "other.jsonl").write_text('{"speaker": "agent", "text": "Hi."}\n', encoding="utf-8")
    assert [c.id for c in load_conversations(folder)] == ["call_txt", "call_vtt", "other"]
    (folder / "call.TXT").write_text("Agent: Hello.\n", encoding="utf-8")  # the same name once more: still its own
    assert [c.id for c in load_conversations(folder)] == ["call_txt", "call_txt-2", "call_vtt", "other"]
    (folder / "call.TXT").unlink()
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"call": {"you-not-we": [1]}}))
    with pytest.raises(BadInput, match=r"'call' names 2 transcripts \(call\.txt, call\.vtt\)"):
        load_conversations(folder, labels)
    for name in ("call.txt", "call_txt"):
        labels.write_text(json.dumps({name: {"you-not-we": [1]}}))
        convs = load_conversations(folder, labels)
        assert [c.id for c in convs if c.labels is not None] == ["call_txt"]


def test_one_transcript_that_is_not_jsonl_is_one_conversation(tmp_path, rules_file) -> None:
    """'eval call.vtt' (or .txt, .srt, an Amazon .json) scores that call, as a folder holding only
    it would; it was read as a dialogue file and said 'not valid JSON' of a valid transcript."""
    path = tmp_path / "call.vtt"
    path.write_text("WEBVTT\n\n00:01.000 --> 00:02.000\n<v Agent>You should restart it.\n", encoding="utf-8")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"call": {"you-not-we": [0]}}))
    convs = load_conversations(path, labels)
    assert [(c.id, len(c.utterances), c.labels is not None) for c in convs] == [("call", 1, True)]
    code, out, err = run("eval", str(path), "--only-rules", str(rules_file), "--rule", "you-not-we")
    assert code == 0, err
    # an Amazon .json is one call; dialogues written as JSON lines in a .json file are still dialogues
    amazon = tmp_path / "job.json"
    amazon.write_text(json.dumps({"Transcript": [{"ParticipantRole": "AGENT", "Content": "You should restart it."}]}))
    assert [(c.id, len(c.utterances)) for c in load_conversations(amazon)] == [("job", 1)]
    lines = tmp_path / "dev.json"
    dialogue = {"id": "d1", "turns": [{"speaker": "agent", "text": "Hi."}, {"speaker": "customer", "text": "Yo."}]}
    lines.write_text(json.dumps(dialogue) + "\n" + json.dumps({**dialogue, "id": "d2"}) + "\n")
    assert [c.id for c in load_conversations(lines)] == ["d1", "d2"]
