"""Transcript source: parsing, estimated times, and errors that name the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rapport_assist.errors import BadInput, InputNotFound
from rapport_assist.transcript import WORDS_PER_S, read_transcript
from rapport_assist.types import Speaker


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_times_and_speakers(tmp_path: Path) -> None:
    p = write_lines(tmp_path / "t.jsonl", [
        json.dumps({"speaker": "agent", "text": "Hello, how can I help?", "start": 0.5, "end": 2.0}),
        "",
        json.dumps({"speaker": "Customer", "text": "  My  bill is wrong. ", "start": 2.4, "end": 4.0}),
    ])
    utts = list(read_transcript(p))
    assert [(u.index, u.speaker, u.text) for u in utts] == [
        (0, Speaker.AGENT, "Hello, how can I help?"),
        (1, Speaker.CUSTOMER, "My bill is wrong."),
    ]
    assert (utts[1].start_s, utts[1].end_s) == (2.4, 4.0)
    assert not any(u.timing_estimated for u in utts)


def test_missing_times_are_estimated_from_word_count(tmp_path: Path) -> None:
    words = " ".join(["word"] * 26)
    p = write_lines(tmp_path / "t.jsonl", [
        json.dumps({"speaker": "agent", "text": words}),
        json.dumps({"speaker": "customer", "text": words}),
        json.dumps({"speaker": "agent", "text": "ok", "start": 30.0}),
    ])
    a, b, c = read_transcript(p)
    assert a.start_s == 0.0 and a.end_s == pytest.approx(26 / WORDS_PER_S)
    assert b.start_s > a.end_s and b.duration_s == pytest.approx(10.0)
    assert c.start_s == 30.0 and c.end_s > 30.0
    assert a.timing_estimated and b.timing_estimated and c.timing_estimated


@pytest.mark.parametrize("line, fragment", [
    ("{not json", "not valid JSON"),
    (json.dumps({"speaker": "bob", "text": "hi"}), "unknown speaker 'bob'"),
    (json.dumps({"text": "hi"}), "missing 'speaker'"),
    (json.dumps({"speaker": "agent", "text": 5}), "'text' must be a string"),
    (json.dumps({"speaker": "agent", "text": "hi", "start": -1}), "'start' must be a number"),
    (json.dumps({"speaker": "agent", "text": "hi", "start": 5, "end": 2}), "is before 'start'"),
    (json.dumps(["agent", "hi"]), "expected a JSON object"),
])
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
