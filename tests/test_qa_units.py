"""Batch QA logic without the model: finding and pairing calls, the cache format, statistics,
the progress line, the summary and rules diff over transcripts."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qa_support import qa_unprivileged
from rapport_assist.cli import DATA_DIR, main
from rapport_assist.errors import InputNotFound, UsageError
from rapport_assist.qa.cache import CachedTimeline, TranscriptCache, call_key, item_from_json, item_to_json
from rapport_assist.qa.inputs import discover
from rapport_assist.qa.progress import Progress
from rapport_assist.qa.stats import call_stats
from rapport_assist.types import SpeechActivity, Speaker, Status, Utterance, VoiceMeasure, Word

TRANSCRIPT = DATA_DIR / "demo_call.jsonl"


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_discover_pairs_sides_and_names_calls(tmp_path: Path) -> None:
    _touch(tmp_path / "a" / "c1_agent.wav")
    _touch(tmp_path / "a" / "c1_customer.wav")
    _touch(tmp_path / "a" / "c2-caller.flac")  # a side without its pair
    _touch(tmp_path / "a" / "stereo.wav")
    _touch(tmp_path / "b" / "stereo.wav")  # same name in another folder
    _touch(tmp_path / "b" / "talk.jsonl")
    _touch(tmp_path / "b" / "notes.txt")  # ignored in folders
    calls, warnings = discover([tmp_path])
    kinds = {c.id: c.kind for c in calls}
    assert kinds == {"c1": "pair", "c2": "mono", "a__stereo": "stereo", "b__stereo": "stereo", "talk": "transcript"}
    pair = next(c for c in calls if c.id == "c1")
    assert pair.spec.agent_path.name == "c1_agent.wav" and pair.spec.customer_path.name == "c1_customer.wav"
    mono = next(c for c in calls if c.id == "c2")
    assert mono.spec.speaker is Speaker.CUSTOMER
    assert any("c2-caller.flac" in w and "agent" in w for w in warnings)


def test_discover_globs_lists_and_errors(tmp_path: Path) -> None:
    _touch(tmp_path / "x.wav")
    _touch(tmp_path / "y.wav")
    _touch(tmp_path / "y.jsonl")
    (tmp_path / "list.txt").write_text("x.wav\n# a comment\n\ny.jsonl\n")
    calls, _ = discover([f"@{tmp_path / 'list.txt'}"])
    assert [c.id for c in calls] == ["x", "y"]
    calls, _ = discover([str(tmp_path / "*.wav")])
    assert [c.id for c in calls] == ["x", "y"]
    calls, _ = discover([tmp_path])  # y.wav and y.jsonl: the extension tells them apart
    assert sorted(c.id for c in calls) == ["x", "y_jsonl", "y_wav"]
    with pytest.raises(InputNotFound):
        discover([tmp_path / "missing"])
    with pytest.raises(InputNotFound):
        discover([str(tmp_path / "*.mp3")])
    with pytest.raises(UsageError):
        discover([tmp_path], side_pattern="(?P<call>.+)")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        # PowerShell's 'dir -Name > list.txt' writes UTF-16: UnicodeDecodeError, an internal error
        ("x.wav\r\ny.jsonl\r\n".encode("utf-16"), "list.txt: UTF-16 text"),
        # a name in Latin-1: UnicodeDecodeError too
        (b"x.wav\ncaf\xe9.wav\n", "list.txt:2: not UTF-8 text"),
        # a NUL byte inside a path: ValueError (embedded null byte) from the file system call
        (b"x.wav\ny.js\x00onl\n", "list.txt:2: NUL bytes"),
    ],
)
def test_a_list_of_bytes_that_are_not_utf_8_text_says_which_line(tmp_path: Path, body: bytes, says: str) -> None:
    _touch(tmp_path / "x.wav")
    _touch(tmp_path / "y.jsonl")
    (tmp_path / "list.txt").write_bytes(body)
    code, err = _qa(f"@{tmp_path / 'list.txt'}", "--out", str(tmp_path / "out"))
    assert code == 4 and "internal error" not in err, err
    assert f"{tmp_path / says}" in err and err.count("\n") == 1, err


@pytest.mark.parametrize("duration", [3600 * 13, 1e7, 1.7e12, 1e300])
def test_a_call_of_absurd_length_draws_a_dozen_ticks(duration: float) -> None:
    """A transcript timed in epoch milliseconds (a start of 1.7e12 s) drew a tick an hour: 470 million
    of them, and at 1e300 s the next tick was the same float, so the QA report never finished (qa
    hung in render_report). The step now grows with the call, as it does below 12 hours."""
    from rapport_assist.qa.report import _ticks, timeline_svg

    step = _ticks(duration)
    assert duration / step <= 12 and duration + step > duration
    assert timeline_svg([], duration).count("<line ") <= 13


def test_cache_round_trip_is_exact(tmp_path: Path) -> None:
    items = (
        Status("warning", "audio_truncated", "cut short", 61.5),
        SpeechActivity(Speaker.AGENT, 0.123456789, True),
        Utterance(
            0,
            Speaker.AGENT,
            "Hello there.",
            0.123456789,
            1.987654321,
            confidence=0.912345678,
            words=(Word("Hello", 0.123456789, 0.5, 0.91), Word("there.", 0.6, 1.987654321, 0.7)),
            voice=VoiceMeasure(-23.456789, 1.23456),
        ),
        SpeechActivity(Speaker.CUSTOMER, 2.5, False),
    )
    for item in items:
        assert item_from_json(json.loads(json.dumps(item_to_json(item)))) == item
    cache = TranscriptCache(tmp_path)
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, CachedTimeline(items, 3.0))
    assert cache.get("ab" * 32) == CachedTimeline(items, 3.0)
    cache.path("ab" * 32).write_text("not json\n")  # a damaged entry is recomputed, not an error
    assert cache.get("ab" * 32) is None


def test_cache_key_follows_content_and_settings(tmp_path: Path) -> None:
    a = _touch(tmp_path / "one" / "call.wav", b"RIFF-1")
    b = _touch(tmp_path / "two" / "other.wav", b"RIFF-1")
    c = _touch(tmp_path / "three" / "call.wav", b"RIFF-2")
    call_a, call_b, call_c = (discover([p])[0][0] for p in (a, b, c))
    settings = {"model": "m", "batch": True}
    assert call_key(call_a, settings) == call_key(call_b, settings)  # same bytes, other name
    assert call_key(call_a, settings) != call_key(call_c, settings)
    assert call_key(call_a, settings) != call_key(call_a, {"model": "m", "batch": False})
    swapped = discover([a], channel_order=(Speaker.CUSTOMER, Speaker.AGENT))[0][0]
    assert call_key(swapped, settings) != call_key(call_a, settings)


def test_call_stats_from_events() -> None:
    events = [
        {"type": "utterance", "index": 0, "speaker": "agent", "text": "hi", "start": 0.0, "end": 3.0},
        {
            "type": "utterance",
            "index": 1,
            "speaker": "customer",
            "text": "bad",
            "start": 2.5,
            "end": 4.0,
            "signals": {"tone_state": {"label": "tense", "score": 0.5}},
        },
        {
            "type": "signal",
            "kind": "talk_over",
            "t": 3.0,
            "speaker": "customer",
            "over": "agent",
            "start": 2.5,
            "overlap_s": 0.5,
            "utterance_index": 1,
        },
        {
            "type": "signal",
            "kind": "dead_air",
            "t": 14.0,
            "since": 4.0,
            "silence_s": 10.0,
            "hold_announced": False,
            "last_speaker": "customer",
        },
        {
            "type": "signal",
            "kind": "tone",
            "t": 20.0,
            "speaker": "customer",
            "previous": "tense",
            "label": "angry",
            "score": 0.8,
            "evidence": [],
            "utterance_index": 2,
        },
        {"type": "nudge", "rule": "r1", "severity": "high", "t": 4.0, "utterance_index": 1, "evidence": []},
        {"type": "nudge", "rule": "r1", "severity": "low", "t": 5.0, "utterance_index": 1, "evidence": []},
        {
            "type": "nudge",
            "rule": "r2",
            "severity": "low",
            "t": 5.0,
            "utterance_index": 1,
            "evidence": [],
            "experimental": True,
        },
        {"type": "record", "list": "promises", "committed": False},
        {"type": "call_end", "duration": 30.0, "audio": 30.0},
    ]
    s = call_stats(events)
    assert (s.utterances, s.nudges, s.nudges_by_rule) == (2, 2, {"r1": 2})
    assert s.talk_ratio == pytest.approx(3.0 / 4.5)
    assert (s.dead_air, s.dead_air_s, s.talk_overs, s.agent_talk_overs) == (1, 10.0, 1, 0)
    assert (s.promises, s.promises_uncommitted, s.customer_peak_tone) == (1, 1, "angry")
    assert s.listen_score == 3 + 1 + 3 + 1 + 1  # high + low + angry + dead air + open promise
    assert s.duration_s == 30.0
    # the report: the customer cut in, so the agent's count is 0 and not flagged; talk-over has a
    # colour of its own (not the angry band's); two nudges at one moment are two triangles
    from rapport_assist.qa.report import TALK_OVER_COLOR, TONE_COLOR, stats_html, timeline_svg

    card = stats_html(s)
    assert "Talk-over by the agent / customer" in card and '<div class="v">0 / 1</div>' in card
    assert '<div class="card warn"><div class="v">0 / 1' not in card
    events.append(
        {
            "type": "nudge",
            "rule": "r3",
            "severity": "medium",
            "t": 5.0,
            "utterance_index": 1,
            "evidence": [],
            "message": "m",
        }
    )
    for e in events:
        e.setdefault("message", "m")
        if e["type"] == "record":
            e.update(t=20.0, text="I'll call you back")
    svg = timeline_svg(events, 30.0)
    assert f'fill="{TALK_OVER_COLOR}" fill-opacity=".35"><title>customer talked over the agent' in svg
    assert TALK_OVER_COLOR not in TONE_COLOR.values()
    tips = re.findall(r'<path class="nudge" data-target="[^"]+" d="M([\d.]+),', svg)
    assert len(tips) == 4 and len(set(tips)) == 4, tips  # r1 at 4 s, and three at 5 s side by side


def test_progress_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(3, out, every_s=3600, tty=False)
    p.skip()
    p.start()
    p.update(60.0)  # not printed: within every_s
    p.update(None, failed=True)  # the last call: always printed
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[") and "1/3 calls (1 skipped)" in lines[0]
    assert "3/3 calls (1 skipped, 1 failed)" in lines[-1] and "× real time" in lines[-1]


def test_qa_and_diff_on_transcripts(tmp_path: Path) -> None:
    """Transcripts need no model: the whole qa and rules diff path, fast."""
    corpus = tmp_path / "calls"
    corpus.mkdir()
    (corpus / "one.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    (corpus / "bad.jsonl").write_text('{"speaker": "agent", "text": "hi"}\nnot json\n')
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["qa", str(corpus), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--workers", "1"],
        out,
        err,
    )
    assert code == 10, err.getvalue()
    rows = {r["call"]: r for r in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    assert rows["bad"]["status"] == "error" and "bad.jsonl:2" in rows["bad"]["error"]
    assert rows["one"]["status"] == "done" and int(rows["one"]["nudges:you-not-we"]) == 1
    # the new rules switch you-not-we off and add a rule
    new = tmp_path / "new"
    new.mkdir()
    rules_dir = Path(__file__).resolve().parents[1] / "rules"
    for f in rules_dir.glob("*.yaml"):
        text = f.read_text()
        if f.name == "headline.yaml":
            text = text.replace("  - id: you-not-we\n", "  - id: you-not-we\n    enabled: false\n", 1)
        (new / f.name).write_text(text)
    (new / "extra.yaml").write_text(
        "version: 1\nrules:\n  - id: router-talk\n    title: Router\n    severity: low\n    why: test\n"
        "    when: {speaker: agent, says: {regex: 'router'}}\n    cooldown_s: 0\n    message: Router talk.\n"
    )
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "rules",
            "diff",
            "--only",
            "--old",
            str(rules_dir),
            "--new",
            str(new),
            str(corpus / "one.jsonl"),
            "--format",
            "json",
        ],
        out,
        err,
    )
    assert code == 0, err.getvalue()
    diff = json.loads(out.getvalue())
    assert [n["utterance_index"] for n in diff["rules"]["you-not-we"]["disappeared"]] == [4]
    assert diff["rules"]["you-not-we"]["appeared"] == []
    added = diff["rules"]["router-talk"]["appeared"]
    assert [(n["call"], n["utterance_index"]) for n in added] == [("one", 4)]
    assert added[0]["evidence"][0]["matched"] == ["router"]
    assert diff["rules"]["angry-no-apology"]["unchanged"] == 1 and not diff["rules"]["angry-no-apology"]["appeared"]
    out = io.StringIO()
    assert (
        main(
            ["rules", "diff", "--only", "--old", str(rules_dir), "--new", str(new), str(corpus / "one.jsonl")],
            out,
            io.StringIO(),
        )
        == 0
    )
    text = out.getvalue()
    assert "router-talk (new rule): +1 -0" in text
    assert "you-not-we: +0 -1 (0 unchanged)\n    enabled: true → false (switched off)" in text


def test_diff_layers_a_team_file_and_reports_settings_and_lexicons(tmp_path: Path) -> None:
    """'rules diff --new team.yaml': the defaults against the defaults + the team file."""
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\noverrides:\n"
        "  - {rule: you-not-we, status: experimental}\n"
        "  - {rule: dead-air, severity: urgent, message: 'Say what you are doing.'}\n"
        "  - {rule: jargon, enabled: false}\n"
        "  - {lexicon: jargon, add: [VLAN], remove: [cache]}\n"
    )
    out, err = io.StringIO(), io.StringIO()
    assert main(["rules", "diff", "--new", str(team), str(TRANSCRIPT)], out, err) == 0, err.getvalue()
    text = out.getvalue()
    # a status change leaves the nudge where it was, yet it is a change: agents no longer see it
    assert (
        "you-not-we: +0 -0 (1 unchanged)\n    status: stable → experimental (logged and in reports, no longer "
        "shown to agents)" in text
    )
    assert (
        "    severity: medium (nudge) → high (urgent)\n" in text
        and "message: " in text
        and '→ "Say what you are doing."' in text
    )
    assert "    enabled: true → false (switched off)" in text
    assert "  lexicon jargon: +VLAN -cache" in text
    no_change = next(line for line in text.splitlines() if line.startswith("  no change: "))
    assert "you-not-we" not in no_change and "angry-no-apology (1)" in no_change
    assert "4 rules with changed settings" not in text and "3 rules with changed settings" in text
    assert "(s)" not in text and "rules diff over 1 call:" in text

    out = io.StringIO()  # no calls: what the file changes, at once
    assert main(["rules", "diff", "--new", str(team), "--format", "json"], out, io.StringIO()) == 0
    data = json.loads(out.getvalue())
    assert data["calls"] == 0 and data["lexicons"] == {
        "jargon": {"added": ["VLAN"], "removed": ["cache"], "status": ""}
    }
    assert data["rules"]["you-not-we"]["settings"] == {"status": {"old": "stable", "new": "experimental"}}
    assert data["rules"]["dead-air"]["settings"]["severity"] == {"old": "medium", "new": "high"}
    # the same file on both sides changes nothing; --old names what the new file replaces
    out = io.StringIO()
    assert main(["rules", "diff", "--old", str(team), "--new", str(team)], out, io.StringIO()) == 0
    assert "changed" not in out.getvalue() and "status" not in out.getvalue()


def test_diff_usage_errors_name_the_new_form(tmp_path: Path) -> None:
    rules_dir = Path(__file__).resolve().parents[1] / "rules"
    err = io.StringIO()
    assert main(["rules", "diff", str(rules_dir), str(rules_dir), str(TRANSCRIPT)], io.StringIO(), err) == 2
    assert "is a rule file or folder, not a call" in err.getvalue() and "--new team.yaml" in err.getvalue()
    err = io.StringIO()
    assert main(["rules", "diff", str(TRANSCRIPT)], io.StringIO(), err) == 2
    assert "nothing to compare" in err.getvalue()
    err = io.StringIO()
    assert main(["rules", "diff", "--only", "--new", str(rules_dir), str(TRANSCRIPT)], io.StringIO(), err) == 2
    assert "the OLD side has no rule files" in err.getvalue()


def test_cluster_addresses_are_checked_before_any_work(tmp_path: Path) -> None:
    from rapport_assist.qa.runner import local_cluster_size

    assert local_cluster_size("local:3") == 3
    assert local_cluster_size("tcp://10.0.0.5:8786") is None and local_cluster_size("sched:8786") is None
    for bad in ("local:0", "local:two", "nowhere"):
        with pytest.raises(UsageError):
            local_cluster_size(bad)
    err = io.StringIO()
    assert (
        main(["qa", str(TRANSCRIPT), "--out", str(tmp_path / "out"), "--cluster", "local:x"], io.StringIO(), err) == 2
    )
    assert "--cluster local:2" in err.getvalue() and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_qa_command_on_a_local_dask_cluster_of_processes(tmp_path: Path) -> None:
    """``--cluster local:1`` through the command: a real worker process loads the rules and spaCy once
    and gives the events of a local run."""
    pytest.importorskip("distributed")
    corpus = tmp_path / "calls"
    corpus.mkdir()
    for name in ("one", "two"):
        (corpus / f"{name}.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    runs = {}
    for how in (["--workers", "1"], ["--cluster", "local:1"]):
        out = tmp_path / how[0].strip("-")
        err = io.StringIO()
        assert (
            main(["qa", str(corpus), "--out", str(out), "--cache", str(tmp_path / "cache"), *how], io.StringIO(), err)
            == 0
        ), err.getvalue()
        runs[how[0]] = out
    for name in ("one", "two"):
        local, cluster = ((runs[k] / "calls" / name / "events.jsonl").read_text().splitlines() for k in runs)
        strip = lambda lines: [{k: v for k, v in json.loads(x).items() if k != "processing"} for x in lines]  # noqa: E731
        assert strip(local) == strip(cluster)
        worker = json.loads((runs["--cluster"] / "calls" / name / "call.json").read_text())
        assert worker["status"] == "done"


def test_ctrl_c_on_a_local_dask_cluster_says_only_that_it_stopped(tmp_path: Path) -> None:
    """Ctrl-C in ``qa --cluster local:2``, as a terminal sends it (to the process group), while both
    workers are on a call: the command stops with its summary and its one 'interrupted' line. Each
    worker used to log 'Async instruction for <Task cancelled ...> ended with CancelledError' as the
    cluster closed under the calls it was running (``tests/test_qa.py`` stops recordings so; here
    many transcripts keep the workers busy without the model)."""
    pytest.importorskip("distributed")
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "calls"
    folder.mkdir()
    text = TRANSCRIPT.read_text(encoding="utf-8")
    for n in range(200):  # other bytes each (no cache hit), more than the workers finish before the Ctrl-C
        (folder / f"call{n:03d}.jsonl").write_text(text + json.dumps({"speaker": "agent", "text": f"Call {n}."}) + "\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rapport_assist", "qa", str(folder), "--out", str(out)]
    cmd += ["--cache", str(tmp_path / "cache"), "--cluster", "local:2", "--no-pack-calls"]
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)  # as tests/test_qa.py: a terminal's Ctrl-C
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, inherited)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("calls/*/call.json")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the command ended before the Ctrl-C"
        while proc.poll() is None and time.monotonic() < deadline:
            os.killpg(proc.pid, signal.SIGINT)  # the whole group, workers too, as a terminal does
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "CancelledError" not in err and "distributed." not in err and "Traceback" not in err, err
    assert err.rstrip().endswith("run the same command again to do the rest"), err
    assert [line for line in err.splitlines() if not line.startswith("[")] == [  # the progress line aside
        "rapport-assist: qa: 200 calls, 200 to do, on Dask cluster local:2",
        next(line for line in err.splitlines() if line.startswith("rapport-assist: interrupted after ")),
    ], err


def test_short_calls_are_grouped_evenly_biggest_first(tmp_path: Path) -> None:
    """Grouping reads each recording's length from its header: calls under PACK_CALLS_S share
    groups of even audio, as few as the limits allow; a long call, a transcript and an
    unreadable file go alone; the biggest groups come first."""
    import wave

    from rapport_assist.qa.runner import PACK_CALLS_S, QaSettings, group_tasks, plan

    lengths = {"a": 95, "b": 90, "c": 60, "d": 40, "e": 25, "f": 10, "g": 10, "long": 200}
    for name, seconds in lengths.items():
        with wave.open(str(tmp_path / f"{name}.wav"), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(bytes(4 * 8000 * seconds))
    _touch(tmp_path / "broken.wav", b"not audio")
    (tmp_path / "talk.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    calls, _ = discover([tmp_path])
    settings = QaSettings(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", rule_paths=())
    todo, _ = plan(calls, settings)
    groups = [[t.call.id for t in g] for g in group_tasks(todo, settings)]
    short = sum(s for n, s in lengths.items() if s < PACK_CALLS_S)
    packed = [g for g in groups if set(g) <= set(lengths) - {"long"}]
    assert sorted(c for g in packed for c in g) == sorted(set(lengths) - {"long"})
    assert len(packed) == -(-short // PACK_CALLS_S)  # as few as the length limit allows
    audio = [sum(lengths[c] for c in g) for g in packed]
    assert max(audio) - min(audio) <= 10  # even: no group waits on a lopsided one
    assert all(g == sorted(g) for g in packed)
    assert groups[0] == ["long"] and groups.index(packed[-1]) > groups.index(packed[0])
    assert ["broken"] in groups and ["talk"] in groups
    assert all(
        len(g) == 1
        for g in group_tasks(
            todo, QaSettings(out_dir=tmp_path / "o", cache_dir=tmp_path / "c", rule_paths=(), pack_calls=False)
        )
    )


def _qa(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(["qa", *argv, "--workers", "1"], io.StringIO(), err)
    return code, err.getvalue()


def _wav(path: Path, channels: int) -> Path:
    """A real (silent) PCM16 WAV header and data, so its channel count can be read."""
    import wave

    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * channels * 800)
    return path


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_qa_outputs_and_cache_follow_the_umask(tmp_path: Path, umask: int) -> None:
    import os

    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "one.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    old = os.umask(umask)
    try:
        code, err = _qa(str(tmp_path / "calls"), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"))
    finally:
        os.umask(old)
    assert code == 0, err
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert {p.name for p in files} == {"summary.csv", "summary.html", "events.jsonl", "report.html", "call.json"}
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


def test_a_stereo_file_named_like_one_side_is_a_whole_call(tmp_path: Path) -> None:
    _wav(tmp_path / "c3-customer.wav", 2)  # stereo, whatever its name says
    _wav(tmp_path / "c3-agent.wav", 1)
    _wav(tmp_path / "c4_agent.wav", 1)
    _wav(tmp_path / "c4_customer.wav", 1)
    calls, warnings = discover([tmp_path])
    kinds = {c.id: c.kind for c in calls}
    assert kinds == {"c3-customer": "stereo", "c3": "mono", "c4": "pair"}
    assert next(c for c in calls if c.id == "c3").spec.speaker is Speaker.AGENT
    assert any("c3-customer.wav" in w and "stereo" in w for w in warnings)


def _riff(fmt_tag: int, channels: int, tags: bytes = b"") -> bytes:
    """A WAV file of ``fmt_tag`` (0: a codec no one knows), its LIST/INFO ``tags`` before its data."""
    import struct

    def chunk(kind: bytes, body: bytes) -> bytes:
        return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")

    fmt = struct.pack("<HHIIHH", fmt_tag, channels, 8000, 16000 * channels, 2 * channels, 16)
    info = chunk(b"LIST", b"INFO" + chunk(b"INAM", tags)) if tags else b""
    body = b"WAVE" + chunk(b"fmt ", fmt) + info + chunk(b"data", b"\0\0" * channels * 800)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_a_side_of_an_unknown_codec_fails_its_call_not_the_batch(tmp_path: Path) -> None:
    """A file named for one side whose WAV header names no codec: finding the calls asked its
    channel count of a stream without a codec context (AttributeError: the whole qa run stopped
    as an internal error). Now the call fails, saying why, and the transcript beside it is done."""
    corpus = tmp_path / "calls"
    _touch(corpus / "c1_agent.wav", _riff(0, 1))
    _touch(corpus / "c2.jsonl", TRANSCRIPT.read_bytes())
    code, err = _qa(str(corpus), "--out", str(tmp_path / "out"))
    assert code == 10 and "internal error" not in err, err
    assert "c1_agent.wav" in err and "no decoder for" in err
    assert (tmp_path / "out" / "calls" / "c2").is_dir()


def test_a_stereo_file_tagged_in_latin_1_named_like_one_side_is_a_whole_call(tmp_path: Path) -> None:
    """A tag in a Windows code page (not UTF-8) made its channels unreadable when the calls were
    found, so a stereo call named like one side was taken for a mono side."""
    _touch(tmp_path / "c5_agent.wav", _riff(1, 2, "Appel café\0".encode("cp1252")))
    calls, _ = discover([tmp_path])
    assert [(c.id, c.kind) for c in calls] == [("c5_agent", "stereo")]


def test_qa_refuses_outputs_in_or_over_its_input_folders(tmp_path: Path) -> None:
    corpus = tmp_path / "calls"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "one.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    (corpus / "sub" / "two.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    before = {p: p.read_bytes() for p in corpus.rglob("*") if p.is_file()}
    link = tmp_path / "link"
    link.symlink_to(corpus / "sub", target_is_directory=True)
    for inputs, out in (
        ([corpus], corpus / "qa"),
        ([corpus], corpus),
        ([corpus / "sub"], corpus),
        ([corpus], link / "qa"),
        ([corpus / "one.jsonl"], corpus / "one.jsonl"),
        ([str(corpus / "*.jsonl")], corpus),
        ([str(corpus / "**" / "*.jsonl")], corpus / "sub"),
    ):
        code, err = _qa(*map(str, inputs), "--out", str(out), "--cache", str(tmp_path / "cache"))
        assert code == 2, (inputs, out, err)
        assert err.count("\n") == 1 and "--out" in err, err
    assert {p: p.read_bytes() for p in corpus.rglob("*") if p.is_file()} == before  # nothing written


def test_qa_never_reads_its_own_outputs_as_calls(tmp_path: Path) -> None:
    """A glob over a folder that holds the output folder: the second run sees the same calls."""
    corpus = tmp_path / "calls"
    corpus.mkdir()
    (corpus / "one.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    cache = corpus / "cache"  # the cache's transcripts are .jsonl too
    for _ in range(2):
        code, err = _qa(str(corpus / "**" / "*.jsonl"), "--out", str(corpus / "qa"), "--cache", str(cache))
        assert code == 0, err
        assert "qa: 1 call, " in err
    rows = list(csv.DictReader((corpus / "qa" / "summary.csv").open()))
    assert [r["call"] for r in rows] == ["one"]


def test_summary_of_a_subset_rerun_keeps_every_finished_call(tmp_path: Path) -> None:
    corpus = tmp_path / "calls"
    corpus.mkdir()
    for name in ("a", "b", "c"):
        (corpus / f"{name}.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert _qa(str(corpus), "--out", str(out), "--cache", str(cache))[0] == 0
    first = {r["call"]: r for r in csv.DictReader((out / "summary.csv").open())}
    code, err = _qa(str(corpus / "b.jsonl"), "--out", str(out), "--cache", str(cache), "--force")
    assert code == 0, err
    rows = {r["call"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert sorted(rows) == ["a", "b", "c"] and all(r["status"] == "done" for r in rows.values())
    assert rows["a"]["nudges"] == first["a"]["nudges"] and rows["a"]["files"] == first["a"]["files"]
    assert "3 of 3" in (out / "summary.html").read_text()


class _Page(HTMLParser):
    """A page's elements (tag and attributes) and its text, as a browser would parse them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


SCRIPT, IMG = "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'


def test_markup_in_a_call_is_shown_as_text_in_the_report_and_the_summary(tmp_path: Path) -> None:
    """Markup in an utterance, a rule's message, a promise and a file name is text on the page,
    never an element: the report and the summary are autoescaped (Jinja2 templates, Markup.format)."""
    corpus = tmp_path / "calls"
    corpus.mkdir()
    lines = [
        ("agent", f"Thank you for calling. {SCRIPT} {IMG}"),
        ("customer", f"This is ridiculous, nobody fixed my router! {IMG}"),
        ("agent", f"The router {SCRIPT} is fine."),
        ("agent", f"I will call you back tomorrow about {SCRIPT}"),
    ]
    (corpus / f"{IMG}.jsonl").write_text(
        "".join(
            json.dumps({"speaker": who, "text": text, "start": 4.0 * i, "end": 4.0 * i + 3}) + "\n"
            for i, (who, text) in enumerate(lines)
        )
    )
    (corpus / f"{IMG[:-1]}2.wav").write_bytes(b"XXXX not audio")  # fails: its file name is in the summary
    rules = tmp_path / "team.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - id: router-talk\n    title: Router\n    severity: low\n"
        f"    why: {json.dumps(IMG)}\n    when: {{speaker: agent, says: {{regex: 'router'}}}}\n"
        f"    cooldown_s: 0\n    message: {json.dumps('Router ' + SCRIPT + IMG)}\n"
    )
    out = tmp_path / "out"
    code = main(
        [
            "qa",
            str(corpus),
            "--rules",
            str(rules),
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "--workers",
            "1",
        ],
        io.StringIO(),
        io.StringIO(),
    )
    assert code == 10  # the .wav is not audio
    (report_path,) = (out / "calls").glob("*/report.html")
    report = _Page(report_path.read_text())
    summary = _Page((out / "summary.html").read_text())
    # no element came from the call: the report's two scripts are its data and its own code
    assert [a.get("id") for t, a in report.tags if t == "script"] == ["call-data", None]
    for page in (report, summary):
        assert not [t for t, _ in page.tags if t == "img"]
        assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]
    # ... and the markup is there as text: utterance, rule message, promise, file name
    text = "".join(report.text)
    assert f"Thank you for calling. {SCRIPT} {IMG}" in text
    assert f"router-talk · low — Router {SCRIPT}{IMG}" in text
    assert f"I will call you back tomorrow about {SCRIPT}" in text  # the transcript and the promise list
    assert text.count(f"about {SCRIPT}") >= 2
    assert f"{IMG}.jsonl" in text
    assert f"{IMG[:-1]}2.wav" in "".join(summary.text)


def test_diff_show_takes_all_as_eval_does(tmp_path: Path) -> None:
    """'rules diff --show all' lists every change of a rule, as 'eval --show all' does."""
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\nrules:\n  - id: agent-spoke\n    title: Spoke\n    severity: low\n    why: test\n"
        "    when: {speaker: agent, says: {regex: '\\w'}}\n    cooldown_s: 0\n    max_per_call: 100\n"
        "    message: Agent spoke.\n"
    )

    def diff(*show: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        assert main(["rules", "diff", "--new", str(team), str(TRANSCRIPT), *show], out, err) == 0, err.getvalue()
        return out.getvalue()

    every = diff("--show", "all")
    listed = [line for line in every.splitlines() if line.startswith("    + ")]
    assert len(listed) > 2 and "more (--show" not in every
    assert f"agent-spoke (new rule): +{len(listed)} -0" in every
    one = diff("--show", "1")
    assert len([line for line in one.splitlines() if line.startswith("    + ")]) == 1
    assert f"... {len(listed) - 1} more (--show N or all, or --format json)" in one
    assert diff() == diff("--show", "20") and (len(listed) > 20 or diff() == every)
    err = io.StringIO()
    assert main(["rules", "diff", "--new", str(team), "--show", "some"], io.StringIO(), err) == 2
    assert "expected a number or 'all'" in err.getvalue()


def test_a_mono_file_not_named_for_a_side_says_how_qa_takes_it(tmp_path: Path) -> None:
    """qa has no --speaker, --agent or --customer: its error says what qa takes instead."""
    _wav(tmp_path / "calls" / "side.wav", 1)
    code, err = _qa(str(tmp_path / "calls"), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"))
    assert code == 10, err
    (row,) = csv.DictReader((tmp_path / "out" / "summary.csv").open())
    assert row["status"] == "error" and "is mono" in row["error"], row
    assert "qa: name it CALL_agent or CALL_customer" in row["error"]
    assert "qa: name it CALL_agent or CALL_customer" in err


def test_an_unreadable_call_is_an_error_row_that_says_how_to_fix_it(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "good.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    locked = calls / "locked.jsonl"
    locked.write_bytes(TRANSCRIPT.read_bytes())
    locked.chmod(0)
    code, err = qa_unprivileged(str(calls), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"))
    assert code == 10, err
    assert "Traceback" not in err
    rows = {r["call"]: r for r in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    assert rows["good"]["status"] == "done"
    assert rows["locked"]["status"] == "error"
    assert "cannot read" in rows["locked"]["error"] and "check the file's permissions" in rows["locked"]["error"]
    assert "locked: cannot read" in err and "check the file's permissions" in err


def test_an_out_or_cache_folder_that_cannot_be_written_stops_before_any_call(tmp_path: Path) -> None:
    """A read-only --out, or a file where a folder belongs, is one line and exit 7 at the start,
    not one error per call after every call was recognized (and a NotADirectoryError 'internal
    error' for a --cache that is a file)."""
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "script.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    _wav(calls / "stereo.wav", 2)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    cache = str(tmp_path / "cache")
    for argv, says in (
        (["--out", str(a_file), "--cache", cache], f"--out {a_file} is not a folder"),
        (["--out", "/dev/full", "--cache", cache], "--out /dev/full is not a folder"),
        (["--out", str(tmp_path / "out"), "--cache", str(a_file)], f"the transcript cache {a_file} is not a folder"),
    ):
        code, err = _qa(str(calls), *argv)
        assert code == 7, err
        assert says in err and err.count("\n") == 1, err
    assert not (tmp_path / "out" / "calls").exists()  # no call was begun
    # a transcript alone needs no cache: a cache that cannot be written does not stop it
    code, err = _qa(str(calls / "script.jsonl"), "--out", str(tmp_path / "out"), "--cache", str(a_file))
    assert code == 0, err

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    for out, cache_dir, says in (
        (locked, cache, f"cannot write in --out {locked}: Permission denied"),
        (locked / "qa", cache, f"cannot create --out {locked / 'qa'}: Permission denied"),
        (tmp_path / "out2", str(locked), f"cannot write in the transcript cache {locked}: Permission denied"),
    ):
        code, err = qa_unprivileged(str(calls), "--out", str(out), "--cache", cache_dir)
        assert code == 7, err
        assert says in err and err.count("\n") == 1, err
    assert not list(locked.iterdir())


def test_a_call_of_the_same_name_run_later_into_the_same_out_keeps_the_first(tmp_path: Path) -> None:
    """Day folders with the same file names, each run on its own into one OUT: the second day's
    call001 used to replace the first day's report and drop it from the summary, silently."""
    first, second = tmp_path / "2026-12-01" / "call001.jsonl", tmp_path / "2026-12-02" / "call001.txt"
    _touch(first, TRANSCRIPT.read_bytes())
    _touch(second, b"Agent: Thank you for calling.\nCustomer: This is the third time I am calling.\n")
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert _qa(str(first.parent), "--out", str(out), "--cache", str(cache))[0] == 0
    report = (out / "calls" / "call001" / "report.html").read_bytes()
    code, err = _qa(str(second.parent), "--out", str(out), "--cache", str(cache))
    assert code == 0, err
    assert (
        f"holds the reports of another call ({first.absolute()})" in err and "this call is 2026-12-02__call001" in err
    )
    assert (out / "calls" / "call001" / "report.html").read_bytes() == report
    rows = {r["call"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert rows["call001"]["files"] == str(first.absolute()) and rows["call001"]["status"] == "done"
    assert rows["2026-12-02__call001"]["files"] == str(second.absolute())
    assert rows["2026-12-02__call001"]["status"] == "done"
    # the same command again: the second day's call is finished under its new name
    code, err = _qa(str(second.parent), "--out", str(out), "--cache", str(cache))
    assert code == 0 and "1 skipped as finished" in err, err
    # a call folder moved elsewhere is still the same call: skipped under its own name
    moved = tmp_path / "archive" / "call001.jsonl"
    _touch(moved, first.read_bytes())
    code, err = _qa(str(moved.parent), "--out", str(out), "--cache", str(cache))
    assert code == 0 and "1 skipped as finished" in err and "another call" not in err, err
    assert sorted(p.name for p in (out / "calls").iterdir()) == ["2026-12-02__call001", "call001"]


def test_an_event_log_beside_its_call_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """A folder of calls kept by ``live --record DIR --record-audio`` (or ``replay X --out``) holds
    each call's event log beside it: qa took the log for a transcript and failed it, exit 10."""
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "call-20261206-203000.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    log = calls / "call-20261206-203000-events.jsonl"
    assert main(["replay", str(TRANSCRIPT), "--out", str(log)], io.StringIO(), io.StringIO()) == 0
    code, err = _qa(str(calls), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"))
    assert code == 0, err
    assert f"{log}: skipped (an event log that rapport-assist wrote" in err
    rows = list(csv.DictReader((tmp_path / "out" / "summary.csv").open()))
    assert [(r["call"], r["status"]) for r in rows] == [("call-20261206-203000", "done")]


def test_no_report_links_no_report_and_leaves_none_that_tells_other_figures(tmp_path: Path) -> None:
    """--no-report: the summary linked every call to a report.html that was never written; a call
    redone with it (new rules) kept the earlier run's report, with the old nudges, linked from the
    summary; and a later run without --no-report skipped the call, so its report never came."""
    calls = tmp_path / "calls"
    _touch(calls / "one.jsonl", TRANSCRIPT.read_bytes())
    out, cache = tmp_path / "out", tmp_path / "cache"
    folder = out / "calls" / "one"

    def summary() -> tuple[dict[str, str], _Page]:
        (row,) = csv.DictReader((out / "summary.csv").open())
        return row, _Page((out / "summary.html").read_text())

    assert _qa(str(calls), "--out", str(out), "--cache", str(cache), "--no-report")[0] == 0
    row, page = summary()
    assert not (folder / "report.html").exists()
    assert row["report"] == "" and not [a for tag, a in page.tags if tag == "a" and "report.html" in (a["href"] or "")]
    assert "one" in "".join(page.text)

    assert _qa(str(calls), "--out", str(out), "--cache", str(cache))[0] == 0  # the report is made now
    row, page = summary()
    assert int(row["nudges:you-not-we"]) == 1 and row["report"] == "calls/one/report.html"
    assert "you-not-we" in (folder / "report.html").read_text()
    assert ("a", {"href": "calls/one/report.html"}) in page.tags

    team = tmp_path / "team.yaml"
    team.write_text("version: 1\noverrides:\n  - rule: you-not-we\n    enabled: false\n")
    code, err = _qa(str(calls), "--out", str(out), "--cache", str(cache), "--rules", str(team), "--no-report")
    assert code == 0 and "0 skipped" in err, err
    row, page = summary()
    assert int(row.get("nudges:you-not-we") or 0) == 0 and row["report"] == ""
    assert not (folder / "report.html").exists()  # not the first run's, with its you-not-we nudge


def test_each_report_links_back_to_the_summary_that_links_to_it(tmp_path: Path) -> None:
    """The summary links each call's report; a report had no way back to the summary."""
    import os
    from urllib.parse import unquote

    _touch(tmp_path / "calls" / "één call.jsonl", TRANSCRIPT.read_bytes())
    out = tmp_path / "q a"
    assert _qa(str(tmp_path / "calls"), "--out", str(out), "--cache", str(tmp_path / "cache"))[0] == 0
    summary = _Page((out / "summary.html").read_text())
    (report,) = {a["href"] for tag, a in summary.tags if tag == "a" and "report.html" in (a["href"] or "")}
    page = out / unquote(report or "")
    assert page.is_file(), report
    back = [a["href"] for tag, a in _Page(page.read_text()).tags if tag == "a" and "summary" in (a["href"] or "")]
    assert back and all(os.path.samefile(page.parent / unquote(h or ""), out / "summary.html") for h in back)


def test_a_folder_that_cannot_be_read_is_an_error_row_not_calls_left_out_unsaid(tmp_path: Path) -> None:
    """A subfolder without read permission: its calls were silently not in the batch (exit 0)."""
    calls = tmp_path / "calls"
    _touch(calls / "one.jsonl", TRANSCRIPT.read_bytes())
    _touch(calls / "week 2" / "two.jsonl", TRANSCRIPT.read_bytes())
    (calls / "week 2").chmod(0)
    try:
        code, err = qa_unprivileged(str(calls), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"))
    finally:
        (calls / "week 2").chmod(0o755)
    assert code == 10, err
    rows = {r["call"]: r for r in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    assert rows["one"]["status"] == "done"
    assert rows["week_2"]["status"] == "error", rows
    assert "cannot read the folder" in rows["week_2"]["error"] and "week 2" in rows["week_2"]["error"]
    assert "the calls in it cannot be read" in err


def test_a_worker_that_dies_fails_its_call_and_the_batch_goes_on(tmp_path: Path) -> None:
    """A pool worker killed mid-call (the out-of-memory killer's SIGKILL; a crash in native code
    ends a worker alike): the call it was on fails, saying so, and every other call is done. With
    multiprocessing.Pool the run waited for the dead worker's calls for ever."""
    import threading

    from qa_crash_support import run_or_die
    from rapport_assist.qa.runner import WORKER_DIED, QaSettings, group_tasks, plan, run_on_pool
    from rapport_assist.rules import default_rules_dir

    for name in ("a", "b", "crash", "d", "e"):
        (tmp_path / f"{name}.jsonl").write_bytes(TRANSCRIPT.read_bytes())
    calls, _ = discover([tmp_path])
    settings = QaSettings(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", rule_paths=(default_rules_dir(),))
    todo, _ = plan(calls, settings)
    groups = group_tasks(todo, settings)
    assert len(groups) == 5  # (transcripts go alone)
    outcomes = []
    runner = threading.Thread(target=lambda: outcomes.extend(run_on_pool(groups, settings, 2, run_or_die)), daemon=True)
    runner.start()
    runner.join(300)
    assert not runner.is_alive(), "the run hung on the dead worker's calls"
    by_call = {o.call_id: o for o in outcomes}
    assert sorted(by_call) == ["a", "b", "crash", "d", "e"] and len(outcomes) == 5
    assert by_call["crash"].status == "error" and WORKER_DIED in (by_call["crash"].error or "")
    assert all(by_call[c].status == "done" for c in "abde"), {c: (o.status, o.error) for c, o in by_call.items()}
