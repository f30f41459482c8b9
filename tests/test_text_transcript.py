"""Plain-text transcripts ("Agent: …" lines), as QA teams and call platforms export them: read into
the same utterances as a JSONL transcript, replayed and batch-processed like one."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from rapport_assist.cli import main
from rapport_assist.errors import BadInput
from rapport_assist.transcript import read_transcript
from rapport_assist.types import Speaker

CALL = """\
Agent: Thank you for calling, this is Julie. How can I help you?
Caller: Hi Julie, my internet keeps dropping every night. It comes back after a few
  minutes and then it stops again, and it has been like this all week.
I'm working from home so it's a real problem for me.

Rep: Thank you. You need to restart the router.
Customer: Okay.
"""


def write(tmp_path: Path, text: str, name: str = "call.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_sides_synonyms_and_wrapped_lines(tmp_path: Path) -> None:
    utts = list(read_transcript(write(tmp_path, CALL)))
    assert [u.speaker for u in utts] == [Speaker.AGENT, Speaker.CUSTOMER, Speaker.AGENT, Speaker.CUSTOMER]
    assert [u.index for u in utts] == [0, 1, 2, 3]
    assert utts[1].text == (
        "Hi Julie, my internet keeps dropping every night. It comes back after a few minutes and then "
        "it stops again, and it has been like this all week. I'm working from home so it's a real problem for me."
    )
    assert all(u.timing_estimated for u in utts)
    assert all(a.end_s <= b.start_s for a, b in zip(utts, utts[1:]))  # estimated turns never overlap


def test_times_before_or_after_the_side_are_turn_starts(tmp_path: Path) -> None:
    text = (
        "[00:00:02] Agent: Thanks for calling, how can I help?\n"
        "Customer (0:05): I was charged twice for one order and nobody has fixed it in three weeks of calls.\n"
        "0:07 - Agent: I'm so sorry.\n"
    )
    utts = list(read_transcript(write(tmp_path, text)))
    assert [u.start_s for u in utts] == [2.0, 5.0, 7.0]
    assert utts[0].end_s <= 5.0 and utts[1].end_s == 7.0  # the long turn stops where the next starts
    assert utts[2].end_s > 7.0


def test_a_name_instead_of_a_side_names_its_line_after_the_good_turns(tmp_path: Path) -> None:
    path = write(tmp_path, "Agent: Hello, this is Julie.\nCustomer: Hi.\nJulie: How can I help?\nCustomer: Well.\n")
    got = []
    with pytest.raises(BadInput) as err:
        for u in read_transcript(path):
            got.append(u.text)
    assert got == ["Hello, this is Julie.", "Hi."]  # kept before the error
    assert f"{path}:3" in str(err.value) and "'Julie' is not a side" in str(err.value)
    assert "Agent:" in err.value.hint


def test_words_before_any_side_and_an_empty_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"call\.txt:2: no side before the words"):
        list(read_transcript(write(tmp_path, "\nhello there\nAgent: hi\n")))
    with pytest.raises(BadInput, match="has no turns"):
        list(read_transcript(write(tmp_path, "\n\n", "empty.txt")))
    with pytest.raises(BadInput, match=r"call\.txt:1: the turn has no words"):
        list(read_transcript(write(tmp_path, "Agent:\nCustomer: hi\n")))


def test_replay_of_a_text_transcript_nudges_as_the_jsonl_one_does(tmp_path: Path) -> None:
    txt = write(tmp_path, CALL)
    jsonl = tmp_path / "call.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"speaker": u.speaker.value, "text": u.text}) + "\n" for u in read_transcript(txt))
    )

    def nudges(path: Path) -> list[tuple[str, int]]:
        out, err = io.StringIO(), io.StringIO()
        assert main(["replay", str(path), "--format", "jsonl"], stdout=out, stderr=err) == 0, err.getvalue()
        events = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
        return [(e["rule"], e["utterance_index"]) for e in events if e["type"] == "nudge"]

    got = nudges(txt)
    # the reply to the long complaint restates nothing and gives an order
    assert ("you-not-we", 2) in got and ("missed-reflection", 2) in got
    assert got == nudges(jsonl)


def test_qa_takes_text_transcripts_and_skips_notes(tmp_path: Path) -> None:
    from rapport_assist.qa.inputs import discover

    call = write(tmp_path, CALL, "call7.txt")
    notes = write(tmp_path, "Calls of week 47, recorded on the new softphone.\n", "README.txt")
    calls, warnings = discover([tmp_path])
    assert [c.id for c in calls] == ["call7"] and calls[0].spec.path == call
    assert any(str(notes) in w and "skipped" in w for w in warnings)


def test_a_jsonl_transcript_takes_the_same_side_words(tmp_path: Path) -> None:
    path = tmp_path / "call.jsonl"
    path.write_text('{"speaker": "Caller", "text": "Hi."}\n{"speaker": "rep", "text": "Hello."}\n')
    assert [u.speaker for u in read_transcript(path)] == [Speaker.CUSTOMER, Speaker.AGENT]
    path.write_text('{"speaker": "Julie", "text": "Hi."}\n')
    with pytest.raises(BadInput, match=r"call\.jsonl:1: unknown speaker 'Julie'"):
        list(read_transcript(path))


def test_eval_scores_a_folder_of_text_transcripts(tmp_path: Path) -> None:
    write(tmp_path, CALL, "call7.txt")
    write(tmp_path, "Notes on the week's calls.\n", "README.txt")
    labels = tmp_path.parent / f"{tmp_path.name}-labels.json"
    labels.write_text(json.dumps({"call7": {"you-not-we": [2]}}))
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["eval", str(tmp_path), "--labels", str(labels), "--rule", "you-not-we", "--format", "json"],
        stdout=out,
        stderr=err,
    )
    assert code == 0, err.getvalue()
    (rule,) = json.loads(out.getvalue())["rules"]
    assert rule["conversation_level"]["tp"] == 1 and rule["conversation_level"]["fp"] == 0


def test_a_name_with_its_side_is_that_side(tmp_path: Path) -> None:
    text = (
        "Julie (Agent): Thank you for calling.\n"
        "Mark Wilson (Customer) [0:04]: Hi, my internet keeps dropping.\n"
        "Agent Julie: Let's restart the router.\n"
        "Customer Service Rep: Anything else?\n"
    )
    utts = list(read_transcript(write(tmp_path, text)))
    assert [u.speaker for u in utts] == [Speaker.AGENT, Speaker.CUSTOMER, Speaker.AGENT, Speaker.AGENT]
    assert utts[1].start_s == 4.0 and utts[1].text == "Hi, my internet keeps dropping."
    with pytest.raises(BadInput, match="'Agent Customer' is not a side"):  # both sides: which one?
        list(read_transcript(write(tmp_path, "Agent Customer: hi\n", "both.txt")))


@pytest.mark.parametrize(
    "label", ["Customer Care", "Customer Support", "Member Services", "Client Services", "Customer Success Team"]
)
def test_a_department_named_after_its_customers_is_the_agent(tmp_path: Path, label: str) -> None:
    """'Customer Service' is the agent; so are the other desks named after whom they serve:
    'Customer Care' and 'Member Services' were read as the customer (their side word), silently."""
    utts = list(read_transcript(write(tmp_path, f"{label}: Thank you for calling.\nCaller: My bill is wrong.\n")))
    assert [u.speaker for u in utts] == [Speaker.AGENT, Speaker.CUSTOMER]


def test_a_name_in_any_alphabet_is_told_to_the_speaker_map(tmp_path: Path) -> None:
    """'José García:' is a name where the side belongs, as 'Jose Garcia:' is: the error (and qa's
    skip note) says so and names --speaker-map; it said 'no side before the words'."""
    from rapport_assist.transcript import not_a_transcript, parse_speaker_map

    path = write(tmp_path, "José García: Gracias por llamar.\nZoë: My bill is wrong.\n")
    with pytest.raises(BadInput, match="'José García' is not a side") as exc:
        list(read_transcript(path))
    assert "--speaker-map" in exc.value.hint
    assert "--speaker-map 'José García=agent'" in str(not_a_transcript(path))
    people = parse_speaker_map("José García=agent,Zoë=customer")
    assert [u.speaker for u in read_transcript(path, people)] == [Speaker.AGENT, Speaker.CUSTOMER]


def test_a_label_with_a_number_or_an_initial_stops_rather_than_running_on(tmp_path: Path) -> None:
    """'Speaker 2:', 'Dr. Smith:', 'J. Smith:' were no label the reader knew (a digit, a dot), so the
    line went on the turn before: the customer's words read as the agent's, silently."""
    from rapport_assist.transcript import parse_speaker_map

    for label in ("Speaker 2", "Dr. Smith", "J. Smith", "Mrs. O'Brien"):
        path = write(tmp_path, f"Agent: Thanks for calling.\n{label}: This is the third time I am calling.\n")
        with pytest.raises(BadInput, match=re.escape(f"call.txt:2: {label!r} is not a side")) as exc:
            list(read_transcript(path))
        assert "--speaker-map" in exc.value.hint
        people = parse_speaker_map(f"{label}=customer")
        assert [u.speaker for u in read_transcript(path, people)] == [Speaker.AGENT, Speaker.CUSTOMER], label
    # a side word with a number is that side
    path = write(tmp_path, "Agent 1: Thanks for calling.\nCaller 2: Hi.\n[00:00:09] Agent 1: Go on.\n")
    utts = list(read_transcript(path))
    assert [(u.speaker, u.text) for u in utts] == [
        (Speaker.AGENT, "Thanks for calling."),
        (Speaker.CUSTOMER, "Hi."),
        (Speaker.AGENT, "Go on."),
    ]
    assert utts[2].start_s == 9.0
    # captions: a cue led by such a label is not carried on as the speaker before's
    srt = write(
        tmp_path,
        "00:00:01,000 --> 00:00:02,000\nAgent: Thanks for calling.\n\n"
        "00:00:02,500 --> 00:00:04,000\nSpeaker 2: This is the third time.\n",
        "call.srt",
    )
    with pytest.raises(BadInput, match=r"call\.srt:5: 'Speaker 2' is not a side"):
        list(read_transcript(srt))


def test_a_name_with_combining_marks_is_a_label(tmp_path: Path) -> None:
    """'José' written with a combining accent (NFD, as macOS tools may save it) or a name in an
    alphabet of vowel signs ('राजेश') was no label: the line ran on as the words of the turn before,
    even with the name in --speaker-map."""
    import unicodedata

    from rapport_assist.transcript import parse_speaker_map

    for name in (unicodedata.normalize("NFD", "José"), "राजेश", "Mr O’Brien"):  # and a typographic apostrophe
        path = write(tmp_path, f"Agent: Thanks for calling.\n{name}: This is the third time I am calling.\n")
        with pytest.raises(BadInput, match=r"call\.txt:2: .* is not a side"):
            list(read_transcript(path))
        composed = unicodedata.normalize("NFC", name)
        people = parse_speaker_map(f"{composed}=customer")
        utts = list(read_transcript(path, people))
        assert [(u.speaker, u.text) for u in utts] == [
            (Speaker.AGENT, "Thanks for calling."),
            (Speaker.CUSTOMER, "This is the third time I am calling."),
        ], name
        # the map written decomposed reads the composed file too
        path.write_text(f"{composed}: Hi.\nCustomer: Hello.\n", encoding="utf-8")
        people = parse_speaker_map(f"{unicodedata.normalize('NFD', name)}=agent")
        assert [u.speaker for u in read_transcript(path, people)] == [Speaker.AGENT, Speaker.CUSTOMER], name


def test_a_wrapped_line_led_by_a_step_or_a_note_goes_on_with_the_turn(tmp_path: Path) -> None:
    """A turn wrapped so that a line starts 'Step 2:', 'Option B:' or 'Note:' (a list in the agent's
    words, an aside) stopped as a name where the side belongs, unless the line was indented. Such
    words lead no speaker's turn: after a turn has started they are its words. A name or a role the
    reader does not know still stops (a supervisor, the agent by her name: whose side is not known),
    and so does such a word on the first line, or after a time (a timed line starts a turn)."""
    text = (
        "Agent: Let's get you back online. Here is what to do:\n"
        "Step 1: unplug the router.\n"
        "step 2: wait ten seconds, then plug it in.\n"
        "Option B: hold the reset button.\n"
        "Customer: Okay, I will try that.\n"
        "Agent: Thanks for waiting.\n"
        "Note: the refund takes five days.\n"
        "PS: keep the receipt.\n"
    )
    utts = list(read_transcript(write(tmp_path, text)))
    assert [(u.speaker, u.text) for u in utts] == [
        (
            Speaker.AGENT,
            "Let's get you back online. Here is what to do: Step 1: unplug the router. "
            "step 2: wait ten seconds, then plug it in. Option B: hold the reset button.",
        ),
        (Speaker.CUSTOMER, "Okay, I will try that."),
        (Speaker.AGENT, "Thanks for waiting. Note: the refund takes five days. PS: keep the receipt."),
    ]
    for lines, line in (
        ("Step 1: unplug the router.\nAgent: Thanks.\n", 1),  # no turn to go on with
        ("Agent: Thanks for calling.\n[00:00:05] Note: transferred to billing.\n", 2),
        ("Agent: Thanks for calling.\nCustomer: Hi.\nSupervisor: I can take it from here.\n", 3),
        ("Agent: Thanks for calling.\nStep Smith: Hi.\n", 2),  # a word before a name
    ):
        with pytest.raises(BadInput, match=rf"call\.txt:{line}: '.*' is not a side"):
            list(read_transcript(write(tmp_path, lines)))
    # a speaker map that names one of those words as a person wins
    from rapport_assist.transcript import parse_speaker_map

    path = write(tmp_path, "Agent: Thanks for calling.\nNote: Hi, it is Note speaking.\n")
    assert [u.speaker for u in read_transcript(path, parse_speaker_map("Note=customer"))] == [
        Speaker.AGENT,
        Speaker.CUSTOMER,
    ]


def test_times_that_go_back_stop_rather_than_replaying_out_of_order(tmp_path: Path) -> None:
    """A .txt turn or a caption cue that starts before the one above it (two channels' captions
    put one after the other, a line pasted in the wrong place) was replayed as listed, the call's
    time going back: the customer's anger came after the agent's next turn, and no nudge fired."""
    txt = write(
        tmp_path,
        "[00:00:02] Agent: Thanks for calling.\n[00:00:10] Agent: Can I have your account number?\n"
        "[00:00:05] Customer: This is the third time, I am furious.\n",
    )
    got = []
    with pytest.raises(BadInput, match=r"call\.txt:3: the turn starts at 0:05, before the one at line 2 \(0:10\)"):
        got.extend(read_transcript(txt))
    assert [u.start_s for u in got] == [2.0, 10.0]
    srt = write(
        tmp_path,
        "1\n00:00:01,000 --> 00:00:03,000\nAgent: Thanks for calling.\n\n"
        "2\n00:00:09,000 --> 00:00:11,000\nAgent: Can I have your account number?\n\n"
        "3\n00:00:04,000 --> 00:00:08,000\nCustomer: This is the third time, I am furious.\n",
        "call.srt",
    )
    with pytest.raises(BadInput, match=r"call\.srt:10: the cue starts at 0:04, before the one at line 6 \(0:09\)"):
        list(read_transcript(srt))
    # cues that start together (two speakers at once), and a turn with no time, are in order
    together = write(
        tmp_path,
        "WEBVTT\n\n00:01.000 --> 00:03.000\n<v Agent>Hello.\n\n00:01.000 --> 00:02.000\n<v Customer>Hi.\n",
        "call.vtt",
    )
    assert len(list(read_transcript(together))) == 2
    untimed = write(tmp_path, "[00:00:10] Agent: Hello.\nCustomer: Hi.\n[00:00:12] Agent: Go on.\n")
    assert len(list(read_transcript(untimed))) == 3


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b"Rep: caf\xe9 ok", "not UTF-8 text (byte 9 of the line)"),
        (b"Agent: one \x00 two", "NUL bytes"),
        (b"\xff\xfeA\x00g\x00", "UTF-16 text"),
    ],
)
def test_the_turn_before_a_line_of_bad_bytes_is_replayed(tmp_path: Path, bad: bytes, message: str) -> None:
    """Each turn waits for the next line (a wrapped line goes on with it), so a line that could not
    be decoded lost the turn above it: its error came out of the line reader while the turn was
    held. Now the turns before the bad line are all replayed, then the error names its line."""
    path = tmp_path / "call.txt"
    path.write_bytes(
        b"Agent: Thank you for calling, how can I help?\r\nCaller: My bill is wrong again.\r\n" + bad + b"\r\n"
    )
    out, err = io.StringIO(), io.StringIO()
    code = main(["replay", str(path), "--format", "jsonl"], stdout=out, stderr=err)
    said = [e["text"] for e in map(json.loads, out.getvalue().splitlines()) if e["type"] == "utterance"]
    assert code == 4 and said == ["Thank you for calling, how can I help?", "My bill is wrong again."], err.getvalue()
    assert f"{path}:3: {message}" in err.getvalue()
