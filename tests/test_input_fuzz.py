"""Generated bad input against every reader, through the commands people run: each ends in events
or in one line that says what is wrong (exit 3, 4, 5 or 10, as README's "Exit codes" table says),
never an internal error, and what was read before the bad spot is kept.

Small good inputs of each kind are mutated: cut at every byte, a byte changed, special bytes put in
(NUL, bytes that are not UTF-8, a BOM, CR, CRLF), a stretch deleted, each JSON field set to a value
of the wrong type (null, a number for a text, a list for an object, nesting, huge numbers, NaN,
negative times) or left out. Transcripts go through ``replay`` (in process, the rules a tiny file so a
run takes milliseconds), labelled dialogues through ``eval``, a team rule file through ``rules check``,
a folder of good and bad calls through ``qa``; recordings (cut, headers that lie) are decoded in a
process of their own, since a decoder that crashes takes its process with it. Hypothesis runs
derandomized with a bounded number of examples, so each run tries the same inputs: the whole file
takes about ten seconds. The defects it found have focused tests of their own (named in each commit)."""

from __future__ import annotations

import copy
import io
import json
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_transcript_cloud import AZURE_STEREO, CCAI, FAST_STEREO, SPEECH, UPLOAD, field_paths
from test_transcript_formats import CALL_ANALYTICS, CONTACT_LENS, JOB_CHANNELS

from rapport_assist.cli import main
from rapport_assist.errors import RapportError
from rapport_assist.transcript import read_transcript

TINY_RULES = textwrap.dedent("""\
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

TURNS = [
    ("agent", "Thanks for calling, how can I help?", 1.0, 3.5),
    ("customer", "This is ridiculous, my bill is wrong again.", 4.0, 9.0),
    ("agent", "What is your account number?", 11.5, 14.0),
]
TEXTS = [t for _, t, _, _ in TURNS]


def _clock(s: float, comma: bool = False) -> str:
    text = f"00:00:{int(s):02d}.{round(s % 1 * 1000):03d}"
    return text.replace(".", ",") if comma else text


# each kind of transcript, its turns' words written as they are read
GOOD: dict[str, bytes] = {
    "call.jsonl": "".join(
        json.dumps({"speaker": s, "text": t, "start": a, "end": b}) + "\n" for s, t, a, b in TURNS
    ).encode(),
    "call.txt": "".join(f"[{_clock(a)[:8]}] {s.title()}: {t}\n" for s, t, a, _ in TURNS).encode(),
    "call.vtt": (
        "WEBVTT\n\n" + "".join(f"{_clock(a)} --> {_clock(b)}\n<v {s.title()}>{t}\n\n" for s, t, a, b in TURNS)
    ).encode(),
    "call.srt": "".join(
        f"{k + 1}\n{_clock(a, True)} --> {_clock(b, True)}\n{s.title()}: {t}\n\n"
        for k, (s, t, a, b) in enumerate(TURNS)
    ).encode(),
    **{
        f"{name}.json": json.dumps(doc).encode()
        for name, doc in (
            ("analytics", CALL_ANALYTICS),
            ("contact-lens", CONTACT_LENS),
            ("transcribe-job", JOB_CHANNELS),
            ("azure-batch", AZURE_STEREO),
            ("azure-fast", FAST_STEREO),
            ("ccai", CCAI),
            ("ccai-upload", UPLOAD),
            ("speech-to-text", SPEECH),
        )
    },
}
LINE_FORMATS = ("call.jsonl", "call.txt", "call.vtt", "call.srt")

ODD_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    -0.5,
    10**30,
    1e308,
    float("nan"),
    float("inf"),
    -float("inf"),
    "",
    "x",
    "NaN",
    "-5s",
    "PT-1S",
    [],
    [1],
    {},
    {"a": None},
    [[[[[[]]]]]],
    "Agent",
    "\u0000",
    "a" * 300,
]
SPECIAL_BYTES = [
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"-->",
    b'"',
    b"{",
    b"]",
]


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "tiny.yaml"
    path.write_text(TINY_RULES, encoding="utf-8")
    return path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def assert_known_outcome(code: int, err: str, codes: tuple[int, ...]) -> None:
    """Exit with one of ``codes``; every line on stderr one of the command's own (or qa's progress
    bar), never a traceback."""
    assert code in codes, (code, err)
    assert "internal error" not in err and "Traceback" not in err, err
    assert all(line.startswith(("rapport-assist: ", "[")) for line in err.splitlines() if line.strip()), err


def said(out: str) -> list[str]:
    return [e["text"] for e in map(json.loads, out.splitlines()) if e["type"] == "utterance"]


def _set(doc: Any, at: list[Any], value: Any, delete: bool) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for key in at[:-1]:
        node = node[key]
    if delete:
        del node[at[-1]]
    else:
        node[at[-1]] = value
    return doc


@st.composite
def mutated_transcripts(draw: st.DrawFn) -> tuple[str, bytes]:
    """(file name, bytes): one good transcript with one mutation."""
    name = draw(st.sampled_from(sorted(GOOD)))
    data = GOOD[name]
    kind = draw(st.sampled_from(["cut", "byte", "insert", "delete", "crlf", "cr", "bom", "field", "field"]))
    at = draw(st.integers(0, len(data)))
    if kind == "cut":
        return name, data[:at]
    if kind == "byte":
        return name, data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if kind == "insert":
        return name, data[:at] + draw(st.sampled_from(SPECIAL_BYTES)) + data[at:]
    if kind == "delete":
        return name, data[:at] + data[at + draw(st.integers(1, 40)) :]
    if kind == "crlf":
        return name, data.replace(b"\n", b"\r\n")
    if kind == "cr":
        return name, data.replace(b"\n", b"\r")
    if kind == "bom":
        return name, b"\xef\xbb\xbf" + data
    # a JSON field set to a value of the wrong type, or left out
    if name.endswith(".jsonl"):
        docs = [json.loads(line) for line in data.decode().splitlines()]
    elif name.endswith(".json"):
        docs = [json.loads(data)]
    else:
        return name, data.replace(b"Agent", draw(st.sampled_from([b"Julie", b"", b"Agent:", b"\x85"])), 1)
    line = draw(st.integers(0, len(docs) - 1))
    path = draw(st.sampled_from(list(field_paths(docs[line], []))))
    docs[line] = _set(docs[line], path, draw(st.sampled_from(ODD_VALUES)), draw(st.booleans()))
    if name.endswith(".jsonl"):
        return name, "".join(json.dumps(d) + "\n" for d in docs).encode()
    return name, json.dumps(docs[0]).encode()


_FUZZ = settings(
    derandomize=True,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(_FUZZ, max_examples=200)
@given(case=mutated_transcripts())
def test_a_mutated_transcript_replays_or_says_what_is_wrong(tmp_path: Path, rules_file: Path, case) -> None:
    name, data = case
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run("replay", str(path), "--format", "jsonl", "--only-rules", str(rules_file))
    assert_known_outcome(code, err, (0, 4))
    if code == 4:
        assert err.count("rapport-assist: error:") == 1 and str(path) in err, err


def _whole_turn_ends(data: bytes, jsonl: bool) -> list[int]:
    """The byte offset where each turn of a good transcript of ``LINE_FORMATS`` is whole: where its
    words end (a JSONL line: where its object closes)."""
    ends, at = [], 0
    for text in TEXTS:
        at = data.index(text.encode(), at) + len(text.encode())
        if jsonl:
            at = data.index(b"}", at) + 1
        ends.append(at)
    return ends


@pytest.mark.parametrize("name", LINE_FORMATS)
def test_a_transcript_cut_at_any_byte_keeps_the_turns_before_the_cut(tmp_path: Path, name: str) -> None:
    """Cut at every byte (a copy that stopped, a recorder that died): each turn whose words were
    whole before the cut is read as it was, whatever the bytes after it do."""
    data = GOOD[name]
    ends = _whole_turn_ends(data, name.endswith(".jsonl"))
    path = tmp_path / name
    for k in range(len(data) + 1):
        path.write_bytes(data[:k])
        got: list[str] = []
        try:
            for utterance in read_transcript(path):
                got.append(utterance.text)
        except RapportError:
            pass
        whole = sum(end <= k for end in ends)
        assert len(got) >= whole, (k, got)
        # the last whole turn may take the next line's cut label as its words (a line without a side goes on with it)
        assert got[: max(0, whole - 1)] == TEXTS[: max(0, whole - 1)], (k, got)
        assert all(got[i].startswith(TEXTS[i]) for i in range(whole)), (k, got)


BAD_LINES: dict[str, list[bytes]] = {
    "call.jsonl": [
        b"{",
        b"\xff\xfe",
        b"caf\xe9",
        b"\x00",
        b"null",
        b"[1]",
        b'{"speaker": "robot", "text": "x"}',
        b'{"speaker": "agent", "text": 5}',
        b'{"speaker": "agent", "text": "x", "start": -1}',
        b'{"speaker": "agent", "text": "x", "start": 20, "end": 19}',
        b'{"speaker": "agent", "text": "x", "start": NaN}',
        b'{"speaker": "agent", "text": "x", "end": 1e999}',
        b'{"speaker": "agent", "text": "x", "author": []}',
    ],
    "call.txt": [
        b"Julie: hello",
        b"Speaker 2: hi",
        b"caf\xe9: hi",
        b"Agent: one \x00 two",
        b"\xff\xfe",
        b"[00:00:00] Agent: back",
    ],
    "call.srt": [
        b"9\n00:00:20,000 --> 00:00:19,000\nAgent: backwards",
        b"9\nnot a time\nAgent: x",
        b"9\n00:00:20,000 --> 00:00:21,000\nJulie: who?",
        b"9\n00:00:20,000 --> 00:00:21,000\nAgent: caf\xe9",
    ],
}


@_FUZZ
@given(data=st.data())
def test_the_turns_before_a_bad_line_are_replayed(tmp_path: Path, rules_file: Path, data: st.DataObject) -> None:
    """A bad line after k good turns: those k are replayed, then the error names the bad line."""
    name = data.draw(st.sampled_from(sorted(BAD_LINES)))
    bad = data.draw(st.sampled_from(BAD_LINES[name]))
    k = data.draw(st.integers(1, len(TURNS)))  # the first line stands alone (a format's own first-line rules)
    newline = data.draw(st.sampled_from([b"\n", b"\r\n"]))
    blocks = GOOD[name].strip().split(b"\n\n" if name == "call.srt" else b"\n")
    sep = b"\n\n" if name == "call.srt" else b"\n"
    before = sep.join(blocks[:k]) + sep
    text = before + sep.join([bad, *blocks[k:]]) + b"\n"
    path = tmp_path / name
    path.write_bytes(text.replace(b"\n", newline))
    code, out, err = run("replay", str(path), "--format", "jsonl", "--only-rules", str(rules_file))
    assert_known_outcome(code, err, (4,))
    assert said(out) == TEXTS[:k], err
    bad_line = before.count(b"\n") + 1
    if name == "call.srt" and bad.startswith(b"9\n"):  # a cue's error names its time line or its text
        assert any(f"{path}:{bad_line + n}:" in err for n in (0, 1, 2)), err
    else:
        assert f"{path}:{bad_line}:" in err, err


# ---------------------------------------------------------------------------- eval: labels of odd shapes

DIALOGUES = [
    {
        "id": "router",
        "turns": [{"speaker": s, "text": t, "start": a, "end": b} for s, t, a, b in TURNS],
        "labels": {"said-thanks": [0]},
        "hard_negatives": {"said-thanks": [2]},
        "borderline": ["said-thanks"],
    },
    {
        "id": "refund",
        "turns": [{"speaker": "agent", "text": "Hello."}, {"speaker": "customer", "text": "Thanks."}],
        "labels": {"said-thanks": []},
        "other_labels": {"you-not-we": [1]},
        "notes": "said-thanks not fired, borderline: a thanks from the customer",
    },
]
LABEL_FIELDS = ["labels", "other_labels", "hard_negatives", "borderline", "notes", "id", "turns"]
LABEL_VALUES: list[Any] = [
    *ODD_VALUES,
    [-1],
    [1.0],
    [True],
    [[1]],
    ["1"],
    {"said-thanks": 3},
    {"said-thanks": [99]},
    {"said-thanks": [0, 0]},
    {"": []},
]


@_FUZZ
@given(data=st.data())
def test_eval_of_dialogues_with_odd_labels_scores_or_says_what_is_wrong(
    tmp_path: Path, rules_file: Path, data: st.DataObject
) -> None:
    line = data.draw(st.integers(0, len(DIALOGUES) - 1))
    field = data.draw(st.sampled_from(LABEL_FIELDS))
    rows = copy.deepcopy(DIALOGUES)
    if data.draw(st.booleans()):
        rows[line].pop(field, None)
    else:
        rows[line][field] = data.draw(st.sampled_from(LABEL_VALUES))
    path = tmp_path / "dialogues.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run("eval", str(path), "--only-rules", str(rules_file), "--format", "json")
    assert_known_outcome(code, err, (0, 4))
    if code == 4:
        assert f"{path}:{line + 1}" in err, err


@_FUZZ
@given(data=st.data())
def test_eval_with_a_labels_file_of_odd_shapes_scores_or_says_what_is_wrong(
    tmp_path: Path, rules_file: Path, data: st.DataObject
) -> None:
    folder = tmp_path / "calls"
    folder.mkdir(exist_ok=True)
    (folder / "call1.jsonl").write_bytes(GOOD["call.jsonl"])
    value = data.draw(st.sampled_from(LABEL_VALUES))
    shape = data.draw(st.sampled_from(["whole", "record", "labels", "field", "jsonl", "jsonl-id"]))
    field = data.draw(st.sampled_from(LABEL_FIELDS[:5]))
    if shape.startswith("jsonl"):
        labels = tmp_path / "labels.jsonl"
        row = {"id": value, "labels": {}} if shape == "jsonl-id" else {"id": "call1", field: value}
        labels.write_text(json.dumps(row) + "\n")
    else:
        labels = tmp_path / "labels.json"
        doc = {
            "whole": value,
            "record": {"call1": value},
            "labels": {"call1": {"labels": value}},
            "field": {"call1": {field: value}},
        }[shape]
        labels.write_text(json.dumps(doc, indent=1))
    code, _, err = run("eval", str(folder), "--labels", str(labels), "--only-rules", str(rules_file))
    assert_known_outcome(code, err, (0, 4))


# ---------------------------------------------------------------------------- rules check


@settings(derandomize=True, max_examples=120, deadline=None)
@given(data=st.data())
def test_rules_check_of_a_mutated_team_file_says_where(data: st.DataObject) -> None:
    import tempfile

    good = TINY_RULES.encode() + b"overrides:\n  - {rule: you-not-we, enabled: false}\n"
    at = data.draw(st.integers(0, len(good)))
    kind = data.draw(st.sampled_from(["cut", "byte", "insert", "crlf"]))
    if kind == "cut":
        text = good[:at]
    elif kind == "byte":
        text = good[:at] + bytes([data.draw(st.integers(0, 255))]) + good[at + 1 :]
    elif kind == "insert":
        extra = data.draw(st.sampled_from([*SPECIAL_BYTES, b"\t", b"&a ", b"*a", b"!!python/object ", b": ", b"- "]))
        text = good[:at] + extra + good[at:]
    else:
        text = good.replace(b"\n", b"\r\n")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "team.yaml"
        path.write_bytes(text)
        out, err = io.StringIO(), io.StringIO()
        code = main(["rules", "check", "--only-rules", str(path)], stdout=out, stderr=err)
    assert code in (0, 5), err.getvalue()
    assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()
    if code == 5:
        assert f"{path}:" in err.getvalue()


# ---------------------------------------------------------------------------- recordings

_AUDIO_FUZZ = r"""
import random, struct, sys, wave
from pathlib import Path
import numpy as np
from rapport_assist.audio import decode_channels, probe_audio, stream_blocks
from rapport_assist.errors import RapportError

folder = Path(sys.argv[1])
rate = 8000
t = np.arange(rate // 4) / rate
samples = (np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 300 * t)]).T * 9000).astype("<i2")
good = folder / "good.wav"
with wave.open(str(good), "wb") as out:
    out.setnchannels(2); out.setsampwidth(2); out.setframerate(rate); out.writeframes(samples.tobytes())
wav = good.read_bytes()

def header(tag=1, ch=2, hz=rate, bits=16, size=None, align=None, byte_rate=None):
    align = (ch * bits // 8) & 0xFFFF if align is None else align
    byte_rate = (hz * align) & 0xFFFFFFFF if byte_rate is None else byte_rate
    data = samples.tobytes()
    fmt = struct.pack("<HHIIHH", tag, ch, hz, byte_rate, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data) if size is None else size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body

cases = [("cut", wav[:k]) for k in list(range(0, 64)) + list(range(64, len(wav), 331))]
cases += [(f"header {kw}", header(**kw)) for kw in (
    dict(ch=0), dict(ch=3), dict(ch=8), dict(ch=9), dict(ch=0xFFFF), dict(hz=0), dict(hz=1), dict(hz=2**32 - 1),
    dict(bits=0), dict(bits=7), dict(bits=64), dict(tag=0), dict(tag=2), dict(tag=3), dict(tag=0xFFFE),
    dict(tag=0xFFFF), dict(size=0), dict(size=1), dict(size=10**9), dict(size=0xFFFFFFFF), dict(align=0),
    dict(byte_rate=0), dict(byte_rate=1),
)]
rng = random.Random(20261207)
for _ in range(60):
    d = bytearray(wav)
    k = rng.randrange(60)
    d[k : k + 4] = struct.pack("<I", rng.choice([0, 1, 3, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
    cases.append((f"word at {k}", bytes(d)))
for glitch in (float("nan"), float("inf")):  # a float recording with samples that are no numbers
    f32 = (samples / 32768).astype("<f4")
    f32[100:110] = glitch
    fmt = struct.pack("<HHIIHH", 3, 2, rate, rate * 8, 8, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", f32.nbytes) + f32.tobytes()
    cases.append((f"float {glitch}", b"RIFF" + struct.pack("<I", len(body)) + body))
info_tag = b"LIST" + struct.pack("<I", 16) + b"INFO" + b"INAM" + struct.pack("<I", 4) + b"caf\xe9"
cases.append(("latin-1 tag", wav[:36] + info_tag + wav[36:]))
failed = 0
for what, data in cases:
    path = folder / "fuzz.wav"
    path.write_bytes(data)
    try:
        info = probe_audio(path)
        blocks = list(stream_blocks(info, 4000))
        decoded = decode_channels(path)
        assert sum(b.shape[1] for b in blocks) == info.n_samples == decoded.channels[0].shape[0], what
        assert all(np.isfinite(c).all() for c in decoded.channels), what
    except RapportError as exc:
        assert "\n" not in exc.one_line() and exc.hint, (what, exc.one_line())
    except Exception as exc:
        failed += 1
        print(f"FAIL {what}: {exc.__class__.__name__}: {exc}")
print(len(cases), "cases", failed, "failed")
"""


def test_cut_and_lying_recordings_decode_or_say_what_is_wrong(tmp_path: Path) -> None:
    """Run in a process of its own: a decoder that crashes (a segmentation fault) fails this test only."""
    done = subprocess.run(
        [sys.executable, "-c", _AUDIO_FUZZ, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.strip().endswith("0 failed"), done.stdout[-3000:]


def _header_only_flac() -> bytes:
    """'fLaC' and its STREAMINFO block (8 kHz stereo, 16 bits, no length), marked the last: no audio frames."""
    streaminfo = struct.pack(">HH", 4096, 4096) + bytes(6) + struct.pack(">Q", 8000 << 44 | 1 << 41 | 15 << 36)
    return b"fLaC" + bytes([0x80, 0, 0, 34]) + streaminfo + bytes(16)


@pytest.mark.parametrize(
    "name, data",
    [
        ("empty.wav", b""),
        ("empty.flac", b""),
        (
            "header-only.wav",
            b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x40\x1f\x00\x00\x00\x7d\x00\x00"
            b"\x04\x00\x10\x00data\x00\x00\x00\x00",
        ),
        ("header-only.flac", _header_only_flac()),
        (
            "no-codec.wav",
            b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x00\x00\x02\x00\x40\x1f\x00\x00\x00\x7d\x00\x00"
            b"\x04\x00\x10\x00data\x00\x10\x00\x00" + bytes(4096),
        ),
        ("text.flac", b"not audio at all\n" * 10),
    ],
)
def test_replay_of_a_recording_that_holds_no_audio_says_so(
    tmp_path: Path, rules_file: Path, name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run("replay", str(path), "--speaker", "agent", "--only-rules", str(rules_file))
    assert_known_outcome(code, err, (4,))
    assert out == "" and str(path) in err


# ---------------------------------------------------------------------------- qa: the batch goes on


def test_qa_of_good_and_bad_calls_does_the_good_and_names_each_bad(tmp_path: Path, rules_file: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    for name in ("good.jsonl", "good-srt.srt", "good-cl.json"):
        src = {"good.jsonl": "call.jsonl", "good-srt.srt": "call.srt", "good-cl.json": "contact-lens.json"}[name]
        (calls / name).write_bytes(GOOD[src])
    bad = {
        "cut.jsonl": GOOD["call.jsonl"][:-30],
        "latin.txt": GOOD["call.txt"].replace(b"ridiculous", b"ridicul\xe9"),
        "nul.vtt": GOOD["call.vtt"].replace(b"account", b"acc\x00ount"),
        "cut.json": GOOD["analytics.json"][:100],
        "empty.wav": b"",
        "nocodec_agent.wav": (
            b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x00\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00"
            b"\x02\x00\x10\x00data\x00\x08\x00\x00" + bytes(2048)
        ),
    }
    for name, data in bad.items():
        (calls / name).write_bytes(data)
    out = tmp_path / "out"
    code, _, err = run("qa", str(calls), "--out", str(out), "--workers", "1", "--only-rules", str(rules_file))
    assert_known_outcome(code, err, (10,))
    errors = [line for line in err.splitlines() if line.startswith("rapport-assist: error:")]
    assert len(errors) == len(bad), err
    for name in bad:
        assert sum(re.search(rf"/{re.escape(name)}[: ]", line) is not None for line in errors) == 1, (name, err)
    assert sorted(p.name for p in (out / "calls").iterdir()) == ["good", "good-cl", "good-srt"]
