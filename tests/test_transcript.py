"""Transcript source: parsing, estimated times, and errors that name the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rapport_assist.errors import BadInput, InputNotFound
from rapport_assist.transcript import WORDS_PER_S, read_transcript
from rapport_assist.types import Event, Speaker


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_times_and_speakers(tmp_path: Path) -> None:
    p = write_lines(
        tmp_path / "t.jsonl",
        [
            json.dumps({"speaker": "agent", "text": "Hello, how can I help?", "start": 0.5, "end": 2.0}),
            "",
            json.dumps({"speaker": "Customer", "text": "  My  bill is wrong. ", "start": 2.4, "end": 4.0}),
        ],
    )
    utts = list(read_transcript(p))
    assert [(u.index, u.speaker, u.text) for u in utts] == [
        (0, Speaker.AGENT, "Hello, how can I help?"),
        (1, Speaker.CUSTOMER, "My bill is wrong."),
    ]
    assert (utts[1].start_s, utts[1].end_s) == (2.4, 4.0)
    assert not any(u.timing_estimated for u in utts)


def test_missing_times_are_estimated_from_word_count(tmp_path: Path) -> None:
    words = " ".join(["word"] * 26)
    p = write_lines(
        tmp_path / "t.jsonl",
        [
            json.dumps({"speaker": "agent", "text": words}),
            json.dumps({"speaker": "customer", "text": words}),
            json.dumps({"speaker": "agent", "text": "ok", "start": 30.0}),
        ],
    )
    a, b, c = read_transcript(p)
    assert a.start_s == 0.0 and a.end_s == pytest.approx(26 / WORDS_PER_S)
    assert b.start_s > a.end_s and b.duration_s == pytest.approx(10.0)
    assert c.start_s == 30.0 and c.end_s > 30.0
    assert a.timing_estimated and b.timing_estimated and c.timing_estimated


def test_an_author_is_read_when_given(tmp_path: Path) -> None:
    p = write_lines(
        tmp_path / "t.jsonl",
        [
            json.dumps({"speaker": "customer", "text": "Hi.", "author": " ana_k "}),
            json.dumps({"speaker": "customer", "text": "Hello.", "author": 12345}),
            json.dumps({"speaker": "customer", "text": "Hey.", "handle": "115712", "tweet_id": "7"}),
            json.dumps({"speaker": "customer", "text": "Yo.", "handle": "x", "author": "ana_k"}),
            json.dumps({"speaker": "agent", "text": "Hi both."}),
        ],
    )
    # a tweet's "handle" (the Twitter datasets' name) is its author unless "author" is given
    assert [u.author for u in read_transcript(p)] == ["ana_k", "12345", "115712", "ana_k", None]
    assert "author" not in next(iter(read_transcript(p))).to_json(), "a handle is not written to the event log"


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"speaker": "bob", "text": "hi"}), "unknown speaker 'bob'"),
        (json.dumps({"text": "hi"}), "missing 'speaker'"),
        (json.dumps({"speaker": "agent", "text": 5}), "'text' must be a string"),
        (json.dumps({"speaker": "agent", "text": "hi", "start": -1}), "'start' must be a number"),
        (json.dumps({"speaker": "agent", "text": "hi", "start": 5, "end": 2}), "is before 'start'"),
        (json.dumps(["agent", "hi"]), "expected a JSON object"),
        (json.dumps({"speaker": "agent", "text": "hi", "author": ["a"]}), "'author' must be a string"),
    ],
)
def test_bad_line_is_named_after_good_lines_are_kept(tmp_path: Path, line: str, fragment: str) -> None:
    p = write_lines(tmp_path / "t.jsonl", [json.dumps({"speaker": "agent", "text": "Hello."}), line])
    got = []
    with pytest.raises(BadInput) as info:
        for utt in read_transcript(p):
            got.append(utt)
    assert [u.text for u in got] == ["Hello."]
    assert f"{p}:2:" in info.value.message and fragment in info.value.message


def test_empty_missing_and_binary_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(BadInput, match="no utterances"):
        list(read_transcript(empty))
    with pytest.raises(InputNotFound, match="no such file"):
        list(read_transcript(tmp_path / "nope.jsonl"))
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(BadInput):
        list(read_transcript(binary))


def _good(n: int) -> list[bytes]:
    return [json.dumps({"speaker": "agent", "text": f"line {i} " + "word " * 20}).encode() for i in range(n)]


def test_invalid_utf8_is_reported_on_its_own_line(tmp_path: Path) -> None:
    """Far past the first read buffer: the line named is the one with the bad byte."""
    p = tmp_path / "t.jsonl"
    p.write_bytes(b"\n".join(_good(300) + [b'{"speaker": "agent", "text": "caf\xe9"}'] + _good(2)) + b"\n")
    got = []
    with pytest.raises(BadInput) as info:
        got.extend(read_transcript(p))
    assert info.value.message.startswith(f"{p}:301: not UTF-8")
    assert len(got) == 300  # the good lines before it were kept


def test_a_huge_line_is_a_bad_input_naming_it(tmp_path: Path) -> None:
    from rapport_assist.cli import main

    p = tmp_path / "t.jsonl"
    huge = json.dumps({"speaker": "customer", "text": "word " * 2_000_000}).encode()  # 10 MB
    p.write_bytes(b"\n".join(_good(3) + [huge]) + b"\n")
    got = []
    with pytest.raises(BadInput) as info:
        got.extend(read_transcript(p))
    assert info.value.message.startswith(f"{p}:4: line is longer than") and len(got) == 3
    long_text = tmp_path / "long.jsonl"  # under the line limit, but no utterance is that long
    long_text.write_bytes(b"\n".join(_good(2) + [json.dumps({"speaker": "agent", "text": "w " * 600_000}).encode()]))
    with pytest.raises(BadInput) as info:
        list(read_transcript(long_text))
    assert info.value.message.startswith(f"{long_text}:3: 'text' is 1,199,999 characters")
    for path, line in ((p, 4), (long_text, 3)):
        import io

        err = io.StringIO()
        assert main(["replay", str(path)], io.StringIO(), err) == 4
        assert f"{path}:{line}:" in err.getvalue() and "internal error" not in err.getvalue()


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(_good(2)) + b"\r\n")  # as Windows tools write it
    utts = list(read_transcript(p))
    assert [u.text.split()[:2] for u in utts] == [["line", "0"], ["line", "1"]]


@pytest.mark.parametrize(
    "line, said",
    [
        ('{"speaker": "agent", "text": "hi", "start": ' + "9" * 400 + "}", "'start' must be a number of seconds"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_valid_json_no_transcript_holds_is_bad_input_after_the_lines_before(tmp_path: Path, line, said) -> None:
    """A time with more digits than a float holds, or nesting deeper than the JSON reader goes, is
    the line's error (it was an internal error: OverflowError, RecursionError)."""
    path = write_lines(tmp_path / "t.jsonl", ['{"speaker": "agent", "text": "Hello."}', line])
    got = []
    with pytest.raises(BadInput, match=rf"t\.jsonl:2: .*{said}") as exc:
        for utterance in read_transcript(path):
            got.append(utterance.text)
    assert got == ["Hello."] and len(exc.value.message) < 200


def test_utf16_as_windows_writes_it_is_named(tmp_path: Path) -> None:
    """Windows PowerShell's '>' and Notepad's 'Unicode' save UTF-16: that was 'not UTF-8 text (byte 1)'
    (with its byte order mark) or, without it, the NUL bytes read as text and a puzzling error after."""
    turns = "Agent: Thanks for calling.\r\nCustomer: Hi.\r\n"
    cues = "WEBVTT\r\n\r\n00:00.000 --> 00:01.000\r\n<v Agent>Hello.\r\n"
    line = '{"speaker": "agent", "text": "Hello."}\r\n'
    analytics = json.dumps({"Transcript": [{"ParticipantRole": "AGENT", "Content": "Hi.", "BeginOffsetMillis": 0}]})
    for name, text in (("t.txt", turns), ("t.vtt", cues), ("t.jsonl", line), ("t.json", analytics)):
        for encoding in ("utf-16", "utf-16-le", "utf-16-be"):  # with its byte order mark, and without
            path = tmp_path / name
            path.write_bytes(text.encode(encoding))
            with pytest.raises(BadInput) as exc:
                list(read_transcript(path))
            assert "UTF-16" in exc.value.message, (name, encoding, exc.value.message)
            assert exc.value.message.startswith(f"{path}"), exc.value.message
            assert "save the file as UTF-8" in exc.value.hint


def test_an_empty_json_file_says_it_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "call.json"
    path.write_bytes(b"\xef\xbb\xbf \r\n")
    with pytest.raises(BadInput) as exc:
        list(read_transcript(path))
    assert exc.value.message == f"{path} is empty"


def test_lines_ended_by_a_carriage_return_alone_are_lines(tmp_path: Path) -> None:
    """A CR alone ends a line in WebVTT (and as old Mac tools write text): a .txt of such lines was
    one turn, the whole call read as the first speaker's; captions and JSONL did not read."""
    from test_transcript_formats import SRT, VTT

    txt = "Agent: Thanks for calling.\nCustomer: This is the third time.\nAgent: Go on.\n"
    for name, text in (
        ("t.txt", txt),
        ("t.srt", SRT),
        ("t.vtt", VTT),
        ("t.jsonl", '{"speaker": "agent", "text": "Hi."}\n' * 3),
    ):
        lf = tmp_path / f"lf{name}"
        lf.write_bytes(text.encode())
        cr = tmp_path / f"cr{name}"
        cr.write_bytes(text.replace("\n", "\r").encode())
        want = [(u.speaker, u.text, u.start_s, u.end_s) for u in read_transcript(lf)]
        assert [(u.speaker, u.text, u.start_s, u.end_s) for u in read_transcript(cr)] == want, name
        assert len(want) >= 3, name
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"Agent: Hi.\rCustomer: Hello.\rJulie: Go on.\r")
    with pytest.raises(BadInput, match=r"bad\.txt:3: 'Julie' is not a side"):
        list(read_transcript(bad))


def test_an_event_log_is_named_as_one_not_as_a_line_missing_its_speaker(tmp_path: Path) -> None:
    """``replay X --out log.jsonl`` (and ``live --record``) write event logs; given back as a
    transcript, one used to stop at its first praise or nudge with "missing 'speaker'"."""
    import io

    from rapport_assist.cli import DATA_DIR, main

    log = tmp_path / "log.jsonl"
    assert main(["replay", str(DATA_DIR / "demo_call.jsonl"), "--out", str(log)], io.StringIO(), io.StringIO()) == 0
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", str(log)], out, err) == 4
    assert "log.jsonl is an event log that rapport-assist wrote" in err.getvalue(), err.getvalue()
    assert "replay the recording it came from" in err.getvalue() and "missing" not in err.getvalue()
    assert out.getvalue() == ""
    with pytest.raises(BadInput, match="event log"):
        list(read_transcript(log))


def _one_of_each_event() -> list[Event]:
    """One event of each class the event log holds (``types.Event``)."""
    from rapport_assist import types as t

    agent, customer = Speaker.AGENT, Speaker.CUSTOMER
    utt = t.Utterance(0, agent, "Hello.", 0.0, 1.0)
    return [
        utt,
        t.Turn(0, agent, (0,), "Hello.", 1, 0.0, 1.0, True, 1.0),
        t.Nudge("r", "low", "Title", "Message", 1.0, 0),
        t.RecordItem("promises", "r", 1.0, 0, agent, "call you back", None),
        t.Praise("r", "Title", "Message", 1.0, 0),
        t.CallCoaching((), None, (), "Thanks.", 2.0),
        t.Status("info", "ready", "Ready.", 0.0),
        t.CallSummary(2.0, 1, 0),
        t.DeadAir(9.0, 1.0, 8.0, False, agent),
        t.TalkOver(1.0, customer, agent, 0.5, 0.5, 1),
        t.ToneChange(1.0, customer, "calm", t.ToneEstimate("angry", 0.9), 1),
        t.Partial(customer, 1.0, 1.5, "I"),
        t.Withdrawn("r", 1, 1.0, 2.0, agent),
        t.TurnRevision(agent, (utt,), ("Helo.",), 1.0),
    ]


def test_every_event_writes_a_type_the_reader_takes_for_an_event_log(tmp_path: Path) -> None:
    """The reader's list of event types is the events' own ``EVENT_TYPE`` (it was a second copy of
    the strings the ``to_json`` methods wrote, free to drift from them): a log that starts with any
    event is named as one, not read as a transcript missing its 'speaker'."""
    from typing import get_args

    from rapport_assist import transcript, types

    events = _one_of_each_event()
    assert {type(e) for e in events} == set(get_args(types.Event)), "a new event class: add one here"
    assert transcript.EVENT_TYPES is types.EVENT_TYPES
    utterance = json.dumps(events[0].to_json())
    for event in events:
        written = event.to_json()
        assert written["type"] == type(event).EVENT_TYPE, type(event).__name__
        assert written["type"] in types.EVENT_TYPES
        log = write_lines(tmp_path / f"{type(event).__name__}.jsonl", [utterance, json.dumps(written)])
        if written["type"] == "utterance":  # a transcript may be written as utterance events
            assert [u.text for u in read_transcript(log)] == ["Hello.", "Hello."]
            continue
        with pytest.raises(BadInput, match="is an event log that rapport-assist wrote"):
            list(read_transcript(log))
        assert transcript.not_a_transcript(log) == f"{transcript.EVENT_LOG}: its recording is the call"


def test_a_line_cut_inside_a_string_says_where_in_plain_words(tmp_path: Path) -> None:
    """json's 'Unterminated string starting at' came out as '... starting at at column 30'."""
    path = tmp_path / "cut.jsonl"
    path.write_text('{"speaker": "agent", "text": "Thank you for\n')
    with pytest.raises(BadInput) as caught:
        list(read_transcript(path))
    assert "cut.jsonl:1: not valid JSON (Unterminated string starting at column 30)" in caught.value.message
    assert "at at" not in caught.value.one_line()
