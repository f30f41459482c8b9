"""'rules diff' says, once per call, the warnings qa gives that call (one side heard, a silent
channel, other participants left out...), on stderr as qa and eval do, and counts them at the end;
--format json carries them per call. On such a call neither rule set heard the whole call: a
change to a rule that needs the side not heard shows no effect there."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from rapport_assist.cli import DATA_DIR, main
from rapport_assist.wording import one_side_note

CLEAN = DATA_DIR / "demo_call.jsonl"  # both sides, no warning

# the customer alone: an angry turn that angry-no-apology would answer, if the agent could be heard
CUSTOMER_ONLY = [
    {"speaker": "customer", "text": "This is the third time I'm calling about my refund and it's ridiculous.",
     "start": 1.0, "end": 5.0},
    {"speaker": "customer", "text": "My card number is on the account.", "start": 17.0, "end": 19.5},
]  # fmt: skip

# a Contact Lens call with a SYSTEM segment (a flow's prompt): left out, with a warning
CONTACT_LENS = {
    "Version": "1.1.0",
    "Channel": "VOICE",
    "Participants": [
        {"ParticipantId": "caller-7", "ParticipantRole": "CUSTOMER"},
        {"ParticipantId": "desk-2", "ParticipantRole": "AGENT"},
        {"ParticipantId": "flow", "ParticipantRole": "SYSTEM"},
    ],
    "Transcript": [
        {"ParticipantId": "flow", "Content": "This call may be recorded.", "BeginOffsetMillis": 0,
         "EndOffsetMillis": 400},
        {"ParticipantId": "desk-2", "Content": "Hello, thanks for calling, this is Julie.",
         "BeginOffsetMillis": 1000, "EndOffsetMillis": 3500},
        {"ParticipantId": "caller-7", "Content": "Your bill is wrong again and this is ridiculous.",
         "BeginOffsetMillis": 4000, "EndOffsetMillis": 9000},
        {"ParticipantId": "desk-2", "Content": "Can you give me your account number?",
         "BeginOffsetMillis": 11500, "EndOffsetMillis": 14000},
    ],
}  # fmt: skip

TEAM = "version: 1\noverrides:\n  - {rule: angry-no-apology, enabled: false}\n"


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "clean.jsonl").write_bytes(CLEAN.read_bytes())
    (calls / "caller.jsonl").write_text("".join(json.dumps(u) + "\n" for u in CUSTOMER_ONLY))
    (calls / "cl.json").write_text(json.dumps(CONTACT_LENS))
    team = tmp_path / "team.yaml"
    team.write_text(TEAM)
    return calls, team


def _diff(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["rules", "diff", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_diff_says_each_calls_warnings_once_and_counts_them(tmp_path: Path) -> None:
    calls, team = _corpus(tmp_path)
    code, out, err = _diff("--new", str(team), str(calls), "--cache", str(tmp_path / "cache"))
    assert code == 0, err
    # the rule switched off loses its nudges on the two-sided calls; the customer-only call had none to lose
    assert "angry-no-apology: +0 -2 (0 unchanged)" in out, out
    assert "- caller" not in out
    lines = err.splitlines()
    assert lines.count("rapport-assist: warning: caller: customer only") == 1, err
    assert lines.count("rapport-assist: warning: cl: other participants") == 1, err
    assert not [line for line in lines if "clean" in line], err  # a clean call: nothing said
    assert lines[-1] == (
        "rapport-assist: rules diff: 2 of 3 calls have warnings (1 customer only, 1 other participants): "
        "neither rule set heard them whole, so a change can show less there than on whole calls"
    )
    assert len(lines) == 3, err  # nothing else, nothing twice
    assert "warning" not in out  # the diff on stdout stays the diff

    # --format json: the same warnings, each call's in full (code -> what was found), stderr as in text
    code, out, err_json = _diff("--new", str(team), str(calls), "--cache", str(tmp_path / "cache"), "--format", "json")
    assert code == 0 and err_json == err
    warnings = json.loads(out)["warnings"]
    assert set(warnings) == {"caller", "cl"}
    assert warnings["caller"] == {"customer_only": one_side_note("customer")}
    (cl,) = warnings["cl"].items()
    assert cl[0] == "other_participants" and "1 segment of SYSTEM skipped" in cl[1], cl


def test_diff_over_clean_calls_or_no_calls_says_no_warning(tmp_path: Path) -> None:
    _, team = _corpus(tmp_path)
    code, out, err = _diff("--new", str(team), str(CLEAN), "--cache", str(tmp_path / "cache"))
    assert code == 0 and err == "", err
    code, out, err = _diff("--new", str(team), str(CLEAN), "--cache", str(tmp_path / "cache"), "--format", "json")
    assert code == 0 and err == "" and json.loads(out)["warnings"] == {}
    code, out, err = _diff("--new", str(team), "--format", "json")  # settings only
    assert code == 0 and err == "" and json.loads(out)["warnings"] == {}


def test_diff_warns_of_a_recording_with_a_silent_channel(tmp_path: Path, speak, write_audio) -> None:
    """A stereo call whose customer channel is dead: the agent alone was heard, said once."""
    rate = 16000
    gap = np.zeros(int(6.0 * rate), dtype=np.float32)
    agent = np.concatenate([speak("Thanks for calling, let me pull up your account."), gap, speak("Okay, I see it.")])
    calls = tmp_path / "calls"
    calls.mkdir()
    write_audio(calls / "dead.wav", np.stack([agent, np.zeros_like(agent)]), rate)
    team = tmp_path / "team.yaml"
    team.write_text(TEAM)
    code, out, err = _diff("--new", str(team), str(calls), "--cache", str(tmp_path / "cache"), "--format", "json")
    assert code == 0, err
    (said,) = json.loads(out)["warnings"]["dead"].items()
    assert said[0] == "agent_only" and said[1].startswith(one_side_note("agent")), said
    assert "the customer's channel of dead.wav (right) is silent throughout" in said[1]
    lines = err.splitlines()
    assert lines.count("rapport-assist: warning: dead: agent only") == 1, err
    assert lines[-1].startswith("rapport-assist: rules diff: 1 of 1 call has warnings (1 agent only): "), err


def test_a_cache_that_cannot_be_written_is_named_not_an_unreadable_none(tmp_path: Path, speak, write_audio) -> None:
    """A recording recognized for the diff whose transcript cannot be cached (a full disk, a
    read-only cache) was 'cannot read None: ... — check the file's permissions'."""
    from qa_support import unprivileged

    rate = 16000
    calls = tmp_path / "calls"
    calls.mkdir()
    agent = speak("Thanks for calling, let me pull up your account.")
    write_audio(calls / "call.wav", np.stack([agent, np.zeros_like(agent)]), rate)
    (calls / "clean.jsonl").write_bytes(CLEAN.read_bytes())
    team = tmp_path / "team.yaml"
    team.write_text(TEAM)
    cache = tmp_path / "cache"
    (cache / "transcripts").mkdir(parents=True)
    (cache / "transcripts").chmod(0o555)
    code, out, err = unprivileged("rules", "diff", "--new", str(team), str(calls), "--cache", str(cache))
    assert code == 10, err
    said = out + err
    assert "call: cannot write its outputs (" in said and "Permission denied" in said, said
    assert "check the permissions of the --cache folder" in said and "None" not in said
