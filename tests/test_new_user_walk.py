"""What a new user met walking through the README (h72): each test fails without its fix."""

from __future__ import annotations

import errno
import io
import json
from pathlib import Path

import pytest

from rapport_assist.cli import main
from rapport_assist.errors import ExitStatus

ROOT = Path(__file__).resolve().parents[1]


def _transcript(path: Path) -> Path:
    path.write_text(
        '{"speaker": "agent", "text": "Thank you for calling, this is Sam.", "start": 0.0, "end": 2.0}\n'
        '{"speaker": "customer", "text": "You need to fix my internet.", "start": 2.5, "end": 4.0}\n',
        encoding="utf-8",
    )
    return path


def test_qa_on_a_full_disk_says_so_instead_of_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`qa --out` on a full file system: exit 7 (OUTPUT_ERROR) and a plain reason for each call
    and for the summary, not 'internal error ... report it' (exit 1)."""
    import rapport_assist.qa.runner as runner
    import rapport_assist.qa.summary as summary

    def full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "write_atomic", full)
    monkeypatch.setattr(summary, "write_atomic", full)
    call = _transcript(tmp_path / "call1.jsonl")
    err = io.StringIO()
    code = main(["qa", str(call), "--out", str(tmp_path / "out"), "--workers", "1"], io.StringIO(), err)
    text = err.getvalue()
    assert code == ExitStatus.OUTPUT_ERROR, text
    assert "internal error" not in text, text
    assert "call1: cannot write its outputs: No space left on device" in text, text
    assert "cannot write the summary in" in text and "free some disk space" in text, text


def test_a_regex_in_double_quotes_is_told_to_use_single_quotes(tmp_path: Path) -> None:
    """`regex: "cancel\\s+my"` is the commonest slip of a rule author: YAML reads '\\s' as an
    unknown escape. The error said 'a quote opened here is never closed', which is not so."""
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: cancel-talk\n"
        "    title: Cancel talk\n"
        "    severity: tip\n"
        '    when: {speaker: customer, says: {regex: "cancel\\s+my"}}\n'
        '    message: "They want to cancel."\n',
        encoding="utf-8",
    )
    err = io.StringIO()
    assert main(["rules", "check", str(team)], io.StringIO(), err) == ExitStatus.RULE_ERROR
    text = err.getvalue()
    assert f"{team}:6:" in text, text
    assert "never closed" not in text, text
    assert "single quotes" in text and "backslash" in text, text


@pytest.mark.parametrize("value", ["40.5", "-3"])
def test_a_bad_param_value_in_a_team_override_is_reported_at_the_team_file(tmp_path: Path, value: str) -> None:
    """The README's override `{rule: no-confirmation, params: {long_turn_words: 40}}` with a value
    the rule cannot take: the error was at the default pack's line that reads `$long_turn_words`,
    a file the team lead did not touch; it is now at the team file's line, naming that place."""
    team = tmp_path / "team.yaml"
    team.write_text(
        f"version: 1\noverrides:\n  - {{rule: no-confirmation, params: {{long_turn_words: {value}}}}}\n",
        encoding="utf-8",
    )
    err = io.StringIO()
    assert main(["rules", "check", str(team)], io.StringIO(), err) == ExitStatus.RULE_ERROR
    (line,) = [x.strip() for x in err.getvalue().splitlines() if "must be" in x]
    assert line.startswith(f"{team}:3:"), line
    assert "params.long_turn_words" in line and "catalogue.yaml:" in line, line


def test_rules_test_says_when_a_team_file_broke_a_default_example(tmp_path: Path) -> None:
    """The README's own override `long_turn_words: 40` makes a default no-confirmation example
    stop firing; the FAIL line named only the default pack's line. It now says the example
    passes with the default packs alone, and which file changes the rule."""
    team = tmp_path / "team.yaml"
    team.write_text("version: 1\noverrides:\n  - {rule: no-confirmation, params: {long_turn_words: 40}}\n")
    out = io.StringIO()
    assert main(["rules", "test", str(team), "--rule", "no-confirmation"], out, io.StringIO()) == 8
    (fail,) = [x for x in out.getvalue().splitlines() if x.startswith("FAIL")]
    assert "catalogue.yaml:" in fail and "never fired" in fail, fail
    assert f"passes with the default packs alone: the override at {team}:3 changes this rule" in fail, fail


def test_rules_test_names_the_line_of_the_override_that_broke_a_default_example(tmp_path: Path) -> None:
    """A team file of several overrides, one of which (a lexicon's, on line 4) breaks a default
    no-confirmation example: the FAIL line named the team file only, leaving the team lead to
    guess which entry; it now names that entry's file:line, and not the others'."""
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\n"
        "overrides:\n"
        "  - {rule: dead-air, severity: high}\n"
        "  - {lexicon: instruction-step, remove: [tap]}\n"
        "  - {rule: no-confirmation, title: Check in}\n"
    )
    out = io.StringIO()
    assert main(["rules", "test", str(team), "--rule", "no-confirmation"], out, io.StringIO()) == 8
    (fail,) = [x for x in out.getvalue().splitlines() if x.startswith("FAIL")]
    assert "no-confirmation fires[1]" in fail, fail
    assert f"passes with the default packs alone: the override at {team}:4 changes this rule" in fail, fail
    assert f"{team}:3" not in fail and f"{team}:5" not in fail, fail


def test_a_wav_cut_short_says_so(tmp_path: Path) -> None:
    """A WAV copied incompletely decodes without an FFmpeg error (it reads to the file's end), so a
    10 s call cut at 0.5 s replayed as a short call with no warning. Its header still says how
    long it was: the recording is now marked truncated, with both lengths."""
    import wave

    import numpy as np

    from rapport_assist.audio import decode_channels, probe_audio

    rate = 16000
    tone = (np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate) * 8000).astype("<i2")
    whole = tmp_path / "call.wav"
    with wave.open(str(whole), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.stack([tone, tone], axis=1).tobytes())
    assert not probe_audio(whole).truncated and probe_audio(whole).warning == ""
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + 4 * rate // 2])  # the header and 0.5 s
    info = probe_audio(cut)
    assert info.truncated and abs(info.duration_s - 0.5) < 0.05
    assert "header says 2.0 s" in info.warning and "0.5 s" in info.warning, info.warning
    assert decode_channels(cut).truncated


def test_names_from_a_file_with_a_syntax_error_are_not_guessed_at(tmp_path: Path) -> None:
    """A copied pack with one bad indentation in one file: every other file's use of that file's
    lexicons was an 'unknown lexicon' with far-off guesses ('nearest of the 123: ...'). They now
    say the unreadable file may define the name, and to fix its error first."""
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "a.yaml").write_text(
        "version: 1\nlexicons:\n  cancel-intent: [cancel my, close my account]\n  other: [x]\n"
        "rules:\n  - id: x\n    title: T\n      severity: tip\n"
    )
    (packs / "b.yaml").write_text(
        "version: 1\nrules:\n  - id: offer-retention\n    title: Offer the retention desk\n    severity: tip\n"
        "    when: {speaker: customer, says: cancel-intent}\n    message: Offer the retention desk.\n"
    )
    err = io.StringIO()
    assert main(["rules", "check", "--only-rules", str(packs)], io.StringIO(), err) == ExitStatus.RULE_ERROR
    text = err.getvalue()
    assert "a.yaml:8:" in text and "YAML syntax error" in text, text
    (line,) = [x for x in text.splitlines() if "unknown lexicon 'cancel-intent'" in x]
    assert "a.yaml could not be read and may define it" in line and "nearest of" not in line, line


def test_a_copy_of_the_default_packs_given_with_rules_is_said_once_per_file(tmp_path: Path) -> None:
    """`rules check my-rules/` on a copy of rules/ (the team lead meant --only-rules) printed 165
    'defined twice' lines; each file is now two examples and one line that says what to do."""
    import shutil

    copy = tmp_path / "my-rules"
    shutil.copytree(ROOT / "rules", copy)
    err = io.StringIO()
    assert main(["rules", "check", str(copy)], io.StringIO(), err) == ExitStatus.RULE_ERROR
    lines = err.getvalue().splitlines()
    packs = sorted(p.name for p in copy.glob("*.yaml"))
    assert len(lines) <= 1 + 3 * len(packs), "\n".join(lines)
    folded = [x for x in lines if "more rules, lexicons and tones defined twice" in x]
    assert len(folded) == len(packs) and all("--only-rules instead of --rules" in x for x in folded), folded


def test_explain_says_what_the_reply_must_hold_in_plain_words(tmp_path: Path) -> None:
    """`rules explain` printed 'the agent should says apology (skip_if: ...)'."""
    call = tmp_path / "call.jsonl"
    call.write_text(
        '{"speaker": "customer", "text": "This is the third time I am calling, it is ridiculous."}\n'
        '{"speaker": "agent", "text": "What is your account number?"}\n'
        '{"speaker": "customer", "text": "Fine."}\n'
    )
    out = io.StringIO()
    assert main(["rules", "explain", "--rule", "angry-no-apology", str(call)], out, io.StringIO()) == 0
    text = out.getvalue()
    assert "should says" not in text, text
    assert "opens a wait: within 1 agent turn or 20 s, the agent's words must match: says apology" in text, text


def test_a_missing_path_in_an_at_list_names_the_list_line_and_where_paths_start(tmp_path: Path) -> None:
    """`qa @lists/week47.txt` with paths written from the current folder: the error named only
    'lists/mix/call.wav', a path the user never wrote. It now names the list's line and says
    that a list's relative paths start from the list's folder."""
    (tmp_path / "lists").mkdir()
    listing = tmp_path / "lists" / "week47.txt"
    listing.write_text("# week 47\nmix/call.jsonl\n")
    err = io.StringIO()
    code = main(["qa", f"@{listing}", "--out", str(tmp_path / "out")], io.StringIO(), err)
    assert code == ExitStatus.INPUT_NOT_FOUND
    assert f"{listing}:2: no such file or folder" in err.getvalue(), err.getvalue()
    assert "start from the list's folder" in err.getvalue(), err.getvalue()


def test_rules_diff_shows_what_a_praise_rule_change_does(tmp_path: Path) -> None:
    """Switching off praise-warm-opening printed '+0 -0 (0 unchanged)' on calls where it fired:
    the diff compared nudges only. Praise that goes from the call summary is now listed."""
    team = tmp_path / "team.yaml"
    team.write_text("version: 1\noverrides:\n  - {rule: praise-warm-opening, enabled: false}\n")
    call = _transcript(tmp_path / "call1.jsonl")
    out = io.StringIO()
    code = main(["rules", "diff", "--new", str(team), str(call), "--cache", str(tmp_path / "c")], out, io.StringIO())
    assert code == 0
    text = out.getvalue()
    assert "praise-warm-opening: +0 -1 (0 unchanged)" in text, text
    assert "- call1 @" in text and "praise: You opened warmly" in text, text


def test_rules_diff_shows_what_a_record_rule_change_does(tmp_path: Path) -> None:
    """Switching off promise-list (or changing its lexicon) printed '+0 -0 (0 unchanged)' and
    'no change: promise-list (0)' while the call summary lost its promises to log: the diff
    compared nudges and praise only. The items a record rule puts on its list are listed too."""
    call = tmp_path / "call1.jsonl"
    call.write_text(
        '{"speaker": "customer", "text": "My router is broken.", "start": 0.0, "end": 2.0}\n'
        '{"speaker": "agent", "text": "Someone will call you back.", "start": 2.5, "end": 4.0}\n'
        '{"speaker": "agent", "text": "I will email you the receipt by Friday.", "start": 4.5, "end": 6.5}\n',
        encoding="utf-8",
    )
    team = tmp_path / "team.yaml"
    team.write_text("version: 1\noverrides:\n  - {rule: promise-list, enabled: false}\n")
    out = io.StringIO()
    code = main(["rules", "diff", "--new", str(team), str(call)], out, io.StringIO())
    assert code == 0
    text = out.getvalue()
    # the items are no nudges: the header counts them apart (it said '-2 disappear' of nudges)
    assert text.startswith("rules diff over 1 call: +0 nudges appear, -0 disappear; listed items +0 -2;"), text
    assert "promise-list: +0 -2 (0 unchanged)" in text, text
    assert "- call1 @0:04.0 #1: promises list: agent said “Someone will call you back” (no time given)" in text, text
    assert "#2: promises list: agent said “I will email you the receipt by Friday” (by Friday)" in text, text
    out = io.StringIO()
    assert main(["rules", "diff", "--new", str(team), str(call), "--format", "json"], out, io.StringIO()) == 0
    gone = json.loads(out.getvalue())["rules"]["promise-list"]["disappeared"]
    assert [(g["type"], g["list"], g["utterance_index"]) for g in gone] == [
        ("record", "promises", 1),
        ("record", "promises", 2),
    ]


def test_rules_diff_tells_a_removed_rule_from_one_switched_off(tmp_path: Path) -> None:
    """A team rule renamed in team-v2.yaml was '(removed or switched off)': it is removed, and a rule
    switched off says so on its own 'enabled' line."""
    rule = (
        "  - id: {id}\n    title: Router\n    severity: tip\n    why: test\n"
        "    when: {{speaker: agent, says: {{regex: 'router'}}}}\n    message: Router talk.\n"
    )
    old = tmp_path / "team.yaml"
    old.write_text("version: 1\nrules:\n" + rule.format(id="router-talk"))
    new = tmp_path / "team-v2.yaml"
    new.write_text("version: 1\nrules:\n" + rule.format(id="router-mention"))
    off = tmp_path / "team-off.yaml"
    off.write_text(old.read_text() + "overrides:\n  - {rule: router-talk, enabled: false}\n")
    call = _transcript(tmp_path / "call1.jsonl")
    out = io.StringIO()
    assert main(["rules", "diff", "--old", str(old), "--new", str(new), str(call)], out, io.StringIO()) == 0
    assert "  router-talk (removed: not in the NEW rules): +0 -0" in out.getvalue(), out.getvalue()
    assert "  router-mention (new rule): +0 -0" in out.getvalue()
    out = io.StringIO()
    assert main(["rules", "diff", "--old", str(old), "--new", str(off), str(call)], out, io.StringIO()) == 0
    assert "  router-talk: +0 -0 (0 unchanged)\n    enabled: true → false (switched off)" in out.getvalue()


def test_the_masking_helper_reports_a_broken_list_in_one_line(tmp_path: Path) -> None:
    """README: `python -m rapport_assist.privacy "some text"` shows what the list makes of a text,
    and a broken entry stops with its file and reason (exit 4). The helper printed a traceback;
    and a regex in double quotes (the usual slip) now gets the single-quotes fix."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "masking.yaml"
    bad.write_text('patterns:\n  - name: member_id\n    regex: "\\bAB\\d{4}\\b"\n')
    env = {**os.environ, "RAPPORT_ASSIST_MASKING": str(bad), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "rapport_assist.privacy", "member AB1234"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert f"{bad}:3:" in done.stderr and "single quotes" in done.stderr, done.stderr


def test_review_sound_with_no_output_device_says_so_not_a_thread_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` with no sound card: the sidebar's Sound row read 'no sound (RuntimeError: cannot
    join current thread)'. The review's sound thread rescanned the devices, which waited for every
    PortAudio thread, itself included. It now says what README says: no output device found."""
    import time
    import wave

    sd = pytest.importorskip("sounddevice")
    from rapport_assist.review_audio import ReviewAudio

    call = tmp_path / "call.wav"
    with wave.open(str(call), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0\0\0" * 16000)
    monkeypatch.setattr(sd, "query_devices", lambda *a, **k: [])  # no device, even after a rescan
    monkeypatch.setattr(sd, "_terminate", lambda: None)
    monkeypatch.setattr(sd, "_initialize", lambda: None)
    player = ReviewAudio(call)
    deadline = time.monotonic() + 20
    while player.state == "opening" and time.monotonic() < deadline:
        time.sleep(0.05)
    message = player.message
    player.stop()
    player.join(5)
    assert message == "no audio output device found; the review goes on silently", message


def test_phrases_written_under_says_are_told_to_go_in_a_lexicon(tmp_path: Path) -> None:
    """A first team rule with `says: [cancel my, close my account]` was told the phrase 'is not a
    valid name (use lowercase letters, digits and dashes)'; it now says 'says' takes lexicon
    names, and how to make one."""
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\nrules:\n  - id: offer-retention\n    title: Offer retention\n    severity: tip\n"
        "    when: {speaker: customer, says: [cancel my, close my account]}\n    message: Offer retention.\n"
    )
    err = io.StringIO()
    assert main(["rules", "check", str(team)], io.StringIO(), err) == ExitStatus.RULE_ERROR
    text = err.getvalue()
    assert f"{team}:6:" in text and "not a valid name" not in text, text
    assert "takes the names of lexicons" in text and "lexicons: {" in text, text


def test_the_readme_team_file_checked_alone_says_overrides_need_the_defaults(tmp_path: Path) -> None:
    """README: checked alone (--only-rules team.yaml) an override has nothing to change, and says
    so. The README's own team file defines a rule too, so each override got 'unknown rule id
    ... (fix: use one of: offer-retention)'; it now says to check it on top of the defaults."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Team overrides", 1)[1]
    team = tmp_path / "team.yaml"
    team.write_text(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    err = io.StringIO()
    assert main(["rules", "check", "--only-rules", str(team)], io.StringIO(), err) == ExitStatus.RULE_ERROR
    line = next(x for x in err.getvalue().splitlines() if "'pace-mismatch'" in x)
    assert "use one of: offer-retention" not in line, line
    assert "check it on top of the default packs" in line, line


def test_one_nudge_is_not_one_nudges(tmp_path: Path) -> None:
    """The replay's last line read '1 nudges (talk-over ×1)'; qa said 'qa: 1 calls'."""
    call = tmp_path / "call.jsonl"
    call.write_text(
        '{"speaker": "agent", "text": "Hello, thanks for calling.", "start": 0.0, "end": 2.0}\n'
        '{"speaker": "agent", "text": "You need to restart the router.", "start": 2.5, "end": 4.5}\n'
    )
    out = io.StringIO()
    assert main(["replay", str(call)], out, io.StringIO()) == 0
    last = out.getvalue().splitlines()[-1]
    assert ": 2 utterances, 1 nudge (you-not-we ×1)" in last, last
    err = io.StringIO()
    main(["qa", str(call), "--out", str(tmp_path / "qa"), "--workers", "1"], io.StringIO(), err)
    assert "qa: 1 call, 1 to do" in err.getvalue(), err.getvalue()


@pytest.mark.parametrize("seconds", ["-5", "0", "nan"])
def test_live_seconds_must_be_a_length(seconds: str) -> None:
    """`live --seconds -5` went on to look for devices (exit 9 where there are none, or a call that
    ends at once); it is a usage error, found before any device is opened."""
    err = io.StringIO()
    assert main(["live", "--seconds", seconds], io.StringIO(), err) == ExitStatus.USAGE
    assert "--seconds: must be more than 0 seconds" in err.getvalue(), err.getvalue()


def _silent_wav(path: Path, seconds: float = 2.0) -> Path:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0" * 4 * int(16000 * seconds))
    return path


def test_the_qa_summary_shows_silent_cut_short_and_one_sided_calls(tmp_path: Path) -> None:
    """A silent recording, a WAV cut short and a call where only the agent spoke were listed in the
    summary as ordinary done calls with score 0, below every call with a nudge: the calls a QA
    lead most needs to hear were the ones skipped. Each now has its warnings in summary.csv, a
    mark beside its name and a section at the top of summary.html, and a line on stderr."""
    import csv

    calls = tmp_path / "calls"
    calls.mkdir()
    _silent_wav(calls / "silent.wav")
    cut = _silent_wav(tmp_path / "whole.wav")
    (calls / "cut.wav").write_bytes(cut.read_bytes()[: 44 + 4 * 16000 // 2])  # the header and 0.5 s of 2 s
    (calls / "agentonly.jsonl").write_text(
        '{"speaker": "agent", "text": "Thank you for calling, this is Sam.", "start": 0.0, "end": 2.0}\n'
        '{"speaker": "agent", "text": "Hello? Are you there?", "start": 4.0, "end": 5.0}\n'
    )
    _transcript(calls / "fine.jsonl")
    out = tmp_path / "out"
    err = io.StringIO()
    code = main(
        ["qa", str(calls), "--out", str(out), "--cache", str(tmp_path / "cache"), "--workers", "1"],
        io.StringIO(),
        err,
    )
    text = err.getvalue()
    assert code == ExitStatus.OK, text
    rows = {r["call"]: r for r in csv.DictReader((out / "summary.csv").open(encoding="utf-8"))}
    assert {c: r["warnings"] for c, r in rows.items()} == {
        "agentonly": "agent only",
        "cut": "cut short; silent",
        "fine": "",
        "silent": "silent",
    }
    assert "3 with warnings" in text and "warning: cut: cut short, silent" in text, text
    html = (out / "summary.html").read_text(encoding="utf-8")
    assert html.index("Calls with warnings: 3") < html.index("Nudges per rule per call")
    assert "header says 2.0 s" in html and "only the agent was heard" in html  # (one speaker: a one-sided call)
    assert html.count('class="wn"') >= 3  # a mark beside each of them in the per-call tables
    assert '<div class="card warn"><div class="v">3</div><div class="k">With warnings</div>' in html


def test_a_missing_file_in_a_qa_list_is_an_error_row_and_the_rest_of_the_batch_runs(tmp_path: Path) -> None:
    """One path in `qa @week47.txt` that did not exist stopped the whole batch (exit 3, nothing
    processed), though README says unreadable files become error rows. A missing file, in a list or
    on the command line, is now an error row of its own (a list's file and line named), the other
    calls are processed, and the exit code is 10 (some calls failed). When no input exists at all,
    it is still the one-line error, exit 3."""
    import csv

    (tmp_path / "lists").mkdir()
    _transcript(tmp_path / "lists" / "call1.jsonl")
    _transcript(tmp_path / "lists" / "call2.jsonl")
    listing = tmp_path / "lists" / "week47.txt"
    listing.write_text("call1.jsonl\nmix/gone.wav\ncall2.jsonl\n")
    out = tmp_path / "out"
    args = ["--out", str(out), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    err = io.StringIO()
    code = main(["qa", f"@{listing}", str(tmp_path / "lost.jsonl"), *args], io.StringIO(), err)
    text = err.getvalue()
    assert code == ExitStatus.SOME_CALLS_FAILED, text
    rows = {r["call"]: r for r in csv.DictReader((out / "summary.csv").open(encoding="utf-8"))}
    assert {c: r["status"] for c, r in rows.items()} == {
        "call1": "done",
        "call2": "done",
        "gone": "error",
        "lost": "error",
    }
    assert rows["gone"]["error"].startswith(f"{listing}:2: no such file or folder"), rows["gone"]
    assert "start from the list's folder" in rows["gone"]["error"]
    assert f"error: lost: no such file or folder: {tmp_path / 'lost.jsonl'}" in text, text
    assert "2 calls done" in text and "2 failed" in text, text
    assert (out / "calls" / "call1" / "report.html").exists()
    err = io.StringIO()
    code = main(
        ["qa", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "--out", str(tmp_path / "o2")], io.StringIO(), err
    )
    assert code == ExitStatus.INPUT_NOT_FOUND, err.getvalue()
    assert "no such file or folder" in err.getvalue() and "1 more" in err.getvalue(), err.getvalue()
    assert not (tmp_path / "o2").exists()


def test_a_timeline_cached_by_another_version_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The transcript cache key had no program version: a WAV cut short, cached before the
    audio_truncated fix, kept replaying from the cache with no warning (it showed only with a
    fresh --cache). The key now holds the program's version and a cache format bumped with
    reading changes, so what an older program cached is read again."""
    import csv

    import rapport_assist

    calls = tmp_path / "calls"
    calls.mkdir()
    whole = _silent_wav(tmp_path / "whole.wav")
    (calls / "cut.wav").write_bytes(whole.read_bytes()[: 44 + 4 * 16000 // 2])
    cache = tmp_path / "cache"

    def qa(out: str) -> str:
        err = io.StringIO()
        code = main(
            ["qa", str(calls), "--out", str(tmp_path / out), "--cache", str(cache), "--workers", "1"],
            io.StringIO(),
            err,
        )
        assert code == ExitStatus.OK, err.getvalue()
        (row,) = csv.DictReader((tmp_path / out / "summary.csv").open(encoding="utf-8"))
        return row["warnings"]

    real = rapport_assist.__version__
    monkeypatch.setattr(rapport_assist, "__version__", "0.0.1")  # an older program...
    assert "cut short" in qa("old")
    (entry,) = cache.glob("transcripts/*/*.jsonl")  # ...that read the cut file without the warning
    lines = [line for line in entry.read_text().splitlines() if "audio_truncated" not in line]
    entry.write_text("\n".join(lines) + "\n")
    assert "cut short" not in qa("old-again")  # the same program keeps its cached timeline
    monkeypatch.setattr(rapport_assist, "__version__", real)
    assert "cut short" in qa("new")  # this one reads the recording again
    assert len(list(cache.glob("transcripts/*/*.jsonl"))) == 2


def test_a_stereo_file_named_for_both_sides_is_not_warned_about(tmp_path: Path) -> None:
    """'call_L-agent_R-customer.wav' names both sides: it is a stereo call, as its name says.
    A stereo file named for one side ('call_customer.wav') is still warned about."""
    from rapport_assist.qa.inputs import discover

    both = _silent_wav(tmp_path / "call_L-agent_R-customer.wav")
    one = _silent_wav(tmp_path / "other_customer.wav")
    calls, warnings = discover([both, one])
    assert sorted(c.id for c in calls) == ["call_L-agent_R-customer", "other_customer"]
    assert [w for w in warnings if "named like one side" in w] == [
        f"{one}: named like one side of a call, but it is stereo: processed as a whole call"
    ]


def test_explain_counts_one_word_and_names_each_skip_test_once(tmp_path: Path) -> None:
    call = tmp_path / "call.jsonl"
    call.write_text(
        '{"speaker": "customer", "text": "Hello"}\n{"speaker": "agent", "text": "Hi, you need to restart it."}\n',
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    assert main(["rules", "explain", str(call), "--rule", "uncommitted-promise"], stdout=out, stderr=err) == 0
    assert "turn 0 closed: customer, #0, 1 word\n" in out.getvalue() and "1 words" not in out.getvalue()
    out = io.StringIO()
    assert main(["rules", "explain", str(call), "--rule", "you-not-we"], stdout=out, stderr=err) == 0
    assert "(skip_if: question, subordinate, negated, reflects_other, all_tests)" in out.getvalue()


@pytest.mark.parametrize("argv", [["devices"], ["rules", "schema"]])
def test_every_command_help_says_what_it_does(argv: list[str]) -> None:
    """'devices --help' and 'rules schema --help' had only their usage: every command's help now
    opens with a description (its one-line help when it has no longer one)."""
    from rapport_assist.cli import build_parser

    parser = build_parser()
    for name in argv:
        parser = parser._subparsers._group_actions[0].choices[name]  # noqa: SLF001
    assert parser.description and parser.description in parser.format_help()


def test_replay_of_a_folder_points_to_qa(tmp_path: Path) -> None:
    err = io.StringIO()
    code = main(["replay", str(tmp_path)], stdout=io.StringIO(), stderr=err)
    assert code != 0 and "rapport-assist qa FOLDER" in err.getvalue()


def test_eval_names_a_misspelt_moment_first_with_a_guess(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(
        '{"id": "c1", "turns": [{"speaker": "customer", "text": "Hi."}, '
        '{"speaker": "agent", "text": "You need to restart it."}], "labels": {"you-not-wee": [1]}}\n',
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    assert main(["eval", str(data), "--show", "0"], stdout=out, stderr=err) == 0, err.getvalue()
    head = " ".join(out.getvalue().split("\n\n")[0].split())
    assert "warning: labelled moments with no loaded rule, not scored: you-not-wee (1 turn;" in head
    assert "did you mean 'you-not-we'?" in head


def test_rules_diff_without_calls_says_what_is_new(tmp_path: Path) -> None:
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\n"
        "lexicons:\n  cancel-intent: [cancel my, close my account]\n"
        "rules:\n"
        "  - id: offer-retention\n    title: Offer the retention desk\n    severity: tip\n"
        "    why: A customer who wants to leave hears the offer first.\n"
        "    when: {speaker: customer, says: cancel-intent}\n"
        '    message: "Offer the retention desk."\n',
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    assert main(["rules", "diff", "--new", str(team)], stdout=out, stderr=err) == 0, err.getvalue()
    text = out.getvalue()
    assert "  lexicon cancel-intent (new): +cancel my +close my account" in text
    assert "  offer-retention (new rule) (give calls to see where it fires)" in text


def test_rules_test_explain_traces_a_failed_example(tmp_path: Path) -> None:
    """'never fired' alone left a team lead to build a call file for 'rules explain': --explain
    prints the trace of each failed example under it."""
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "version: 1\nlexicons:\n  directive: [you need to]\nrules:\n  - id: order\n    title: An order\n"
        "    severity: low\n    why: test\n    when: {speaker: agent, says: directive}\n"
        '    message: "{quote}"\n    examples:\n      fires:\n        - - agent: "You have to restart it."\n'
        '      quiet:\n        - - agent: "Let\'s restart it."\n',
        encoding="utf-8",
    )
    out = io.StringIO()
    code = main(["rules", "test", "--only-rules", str(pack)], stdout=out, stderr=io.StringIO())
    assert (
        code == ExitStatus.EXAMPLES_FAILED and "(--explain traces each failed example turn by turn)" in out.getvalue()
    )
    out = io.StringIO()
    code = main(["rules", "test", "--only-rules", str(pack), "--explain"], stdout=out, stderr=io.StringIO())
    lines = out.getvalue().splitlines()
    assert code == ExitStatus.EXAMPLES_FAILED and lines[0].endswith(
        "order fires[0]: expected a nudge, but it never fired"
    )
    assert lines[1].strip() == "[00:00.5] #0 AGENT: You have to restart it." and "✗ says directive" in lines[4]


def test_out_help_says_how_live_writes_it() -> None:
    """The shared --out help spoke of replay's partial file only; live appends to FILE."""
    from rapport_assist.cli import build_parser

    live = build_parser()._subparsers._group_actions[0].choices["live"]  # noqa: SLF001
    text = " ".join(live.format_help().split())
    assert "replay, demo: into FILE.partial" in text and "live: added to the end of FILE" in text


def test_a_qa_summary_made_by_an_earlier_version_says_so_and_how_to_refresh_it(tmp_path: Path) -> None:
    """A call finished by a version before warnings were recorded (its call.json has no
    'warnings' in its stats) was listed in a later run's summary as a call with no warnings:
    a one-sided call looked clean. It is now marked 'earlier version' in summary.csv and
    summary.html, with the qa command that refreshes it, and qa says so on stderr; running that
    command brings the call's own warnings back."""
    import csv
    import json
    import shlex

    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "agentonly.jsonl").write_text(
        '{"speaker": "agent", "text": "Thank you for calling, this is Sam.", "start": 0.0, "end": 2.0}\n'
        '{"speaker": "agent", "text": "Hello? Are you there?", "start": 4.0, "end": 5.0}\n'
    )
    _transcript(calls / "fine.jsonl")
    out = tmp_path / "out"
    args = ["--out", str(out), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    assert main(["qa", str(calls), *args], io.StringIO(), io.StringIO()) == ExitStatus.OK
    # as the version before warnings wrote it: no format, no warnings in the stats
    marker = out / "calls" / "agentonly" / "call.json"
    done = json.loads(marker.read_text())
    assert done["format"] >= 4 and done["stats"]["warnings"]
    del done["format"], done["stats"]["warnings"]
    marker.write_text(json.dumps(done))
    err = io.StringIO()
    assert main(["qa", str(calls / "fine.jsonl"), *args], io.StringIO(), err) == ExitStatus.OK
    text = err.getvalue()
    assert "1 call in the summary was made by an earlier version (agentonly)" in text, text
    rows = {r["call"]: r for r in csv.DictReader((out / "summary.csv").open(encoding="utf-8"))}
    assert rows["agentonly"]["warnings"] == "earlier version" and rows["fine"]["warnings"] == ""
    html = (out / "summary.html").read_text(encoding="utf-8")
    refresh = f"rapport-assist qa {shlex.quote(str(calls / 'agentonly.jsonl'))} --out {shlex.quote(str(out))}"
    assert "made by an earlier version of rapport-assist, which did not record warnings" in html
    assert refresh.replace("'", "&#39;") in html or refresh in html
    # the command it gives refreshes it
    command = shlex.split(refresh)[2:]
    assert main(["qa", *command, *args[2:]], io.StringIO(), io.StringIO()) == ExitStatus.OK
    rows = {r["call"]: r for r in csv.DictReader((out / "summary.csv").open(encoding="utf-8"))}
    assert rows["agentonly"]["warnings"] == "agent only", rows["agentonly"]
    assert "earlier version" not in (out / "summary.html").read_text(encoding="utf-8")


_TEAM = """version: 1
overrides:
  - {rule: pace-mismatch, enabled: false}
  - {rule: dead-air, severity: urgent}
lexicons:
  cancel-intent: [cancel my, close my account]
rules:
  - id: offer-retention
    title: Offer the retention desk
    severity: tip
    why: A customer who wants to leave hears the retention offer first.
    when: {speaker: customer, says: cancel-intent}
    message: "They want to leave: offer the retention desk."
"""


def test_the_team_leads_walk_through_rules_check_test_explain_and_diff(tmp_path: Path) -> None:
    """README's rules walk as a new team lead took it (h83): a mistyped rule id under 'rules test'
    was told to see 'rules check' (which lists no ids) and under 'rules explain' got all 27 ids;
    a switched-off rule got ids that are nothing like it; the rule's id given as a word of its own
    ('rules explain offer-retention call.jsonl') was 'required: --rule'; a threshold written
    beside 'rule:' in an override got five unrelated keys; one problem was 'fix them';
    'rules diff' showed the team file's 'urgent' as 'high' only and '+1 nudges appear'; and
    'rules explain' read a look back as '1+ earlier utterance(s) within 1 utterances'. Each now
    says what to do, in plain words."""
    team = tmp_path / "team.yaml"
    team.write_text(_TEAM)
    call = tmp_path / "cancel.jsonl"
    call.write_text(
        '{"speaker": "agent", "text": "Thanks for calling, how can I help?"}\n'
        '{"speaker": "customer", "text": "I want to cancel my subscription."}\n'
    )

    def run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(args), out, err)
        return code, out.getvalue(), err.getvalue()

    for command in (["test", str(team)], ["explain", str(call)]):
        code, _, err = run("rules", *command, "--rules", str(team), "--rule", "offer-retentoin")
        assert code == ExitStatus.USAGE and "did you mean 'offer-retention'?" in err, err
        assert "rules check" not in err and "warm-opening-missing" not in err  # no list of every id
        code, _, err = run("rules", *command, "--rules", str(team), "--rule", "pace-mismatch")
        assert "(it is switched off)" in err and "nearest" not in err, err
        # the line that switches it off, not "a rule file given": the team lead knows where to look
        assert f"the override at {team}:3 switches it off: take that line out" in err, err

    code, _, err = run("rules", "explain", "offer-retention", str(call), "--rules", str(team))
    assert code == ExitStatus.USAGE
    assert f"'rapport-assist rules explain --rule offer-retention {call} --rules {team}'" in err, err
    code, out, err = run("rules", "explain", "--rule", "offer-retention", str(call), "--rules", str(team))
    assert code == 0 and "FIRES" in out, err
    code, _, err = run("rules", "explain", str(call), "--rules", str(team))  # no rule at all: as before
    assert code == ExitStatus.USAGE and "required: --rule" in err, err

    loose = tmp_path / "loose.yaml"
    loose.write_text("version: 1\noverrides:\n  - {rule: dead-air, silence_s: 12}\n")
    code, _, err = run("rules", "check", str(loose))
    assert code == ExitStatus.RULE_ERROR
    assert f"{loose}:3:22: unknown key in an override 'silence_s'" in err, err
    assert "'params: {silence_s: 12}'" in err and "fix it, then re-check" in err, err

    code, out, err = run("rules", "diff", "--new", str(team))
    assert code == 0 and "severity: medium (nudge) → high (urgent)" in out, out + err
    code, out, err = run("rules", "diff", "--new", str(team), str(call), "--cache", str(tmp_path / "cache"))
    assert code == 0 and out.startswith("rules diff over 1 call: +1 nudge appears, -0 disappear;"), out + err
    # the trace's wording of a look back ('1+ earlier utterance(s) within 1 utterances' before)
    from rapport_assist.bundled import DEMO_TRANSCRIPT

    code, out, err = run("rules", "explain", "--rule", "angry-no-apology", str(DEMO_TRANSCRIPT))
    assert code == 0 and "an earlier utterance within 1 utterance: " in out and "(s)" not in out, out + err
