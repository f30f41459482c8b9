"""The command line, in process: transcript replay, output formats, and every bad input."""

from __future__ import annotations

import io
import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.cli import DATA_DIR, main

DEMO_JSONL = DATA_DIR / "demo_call.jsonl"
_EXPECTED_FILE = json.loads((DATA_DIR / "demo_call.expected.json").read_text())
DEMO_EXPECTED = _EXPECTED_FILE["expected_nudges"]  # the line where each moment happens
DEMO_DECIDED = _EXPECTED_FILE["decided_at"]  # the line at whose end the rule can first know
TURN_RULES = ("angry-no-apology", "missed-reflection", "uncommitted-promise")  # rules/headline.yaml: unit: turn


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def nudges_by_rule(evs: list[dict], where: str = "fired") -> dict[str, list[int]]:
    """Rule -> utterance indices: where each nudge fired, or ("moment") its first evidence."""
    got: dict[str, list[int]] = {}
    for e in evs:
        if e["type"] == "nudge":
            idx = e["utterance_index"] if where == "fired" else e["evidence"][0]["utterance_index"]
            got.setdefault(e["rule"], []).append(idx)
    return got


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """A PCM16 WAV written by hand, so the bad-input tests need nothing but numpy."""
    import wave

    data = np.clip(samples, -1, 1)
    channels = 1 if data.ndim == 1 else data.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((data * 32767).astype("<i2").tobytes())
    return path


def test_transcript_replay_fires_the_expected_headline_nudges() -> None:
    code, out, err = run("replay", str(DEMO_JSONL), "--format", "jsonl")
    assert code == 0, err
    evs = events(out)
    utts = [e for e in evs if e["type"] == "utterance"]
    n_lines = sum(1 for line in DEMO_JSONL.read_text().splitlines() if line.strip())
    assert [u["index"] for u in utts] == list(range(n_lines))
    for where, table in (("moment", DEMO_EXPECTED), ("fired", DEMO_DECIDED)):
        got = nudges_by_rule(evs, where)
        expected = {rule: sorted(idx) for rule, idx in table.items() if idx}
        assert {r: sorted(v) for r, v in got.items() if r in table} == expected, where
    for e in evs:
        if e["type"] == "nudge":
            assert {"rule", "severity", "message", "t", "utterance_index", "evidence"} <= e.keys()
            i = e["utterance_index"]
            # a rule that reads turns decides when the reply turn closes: 2.5 s after its end
            # when nobody adds to it (the gap), or at the end of the other side's next utterance
            # if that comes first (here the turns are one utterance each)
            closing = next((u["end"] for u in utts[i + 1 :] if u["speaker"] != utts[i]["speaker"]), math.inf)
            closed = round(min(utts[i]["end"] + 2.5, closing), 3)
            assert e["t"] == utts[i]["end"] or (e["rule"] in TURN_RULES and e["t"] == closed), e
            assert e["evidence"], "every nudge carries its evidence"
    assert evs[-1]["type"] == "call_end" and evs[-1]["utterances"] == n_lines


def test_text_format_and_out_file(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    code, out, err = run("replay", str(DEMO_JSONL), "--out", str(log))
    assert code == 0, err
    assert "AGENT" in out and "CUSTOMER" in out and "you-not-we" in out
    logged = events(log.read_text())
    assert logged[-1]["type"] == "call_end"
    assert nudges_by_rule(logged) == nudges_by_rule(events(run("replay", str(DEMO_JSONL), "--format", "jsonl")[1]))


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "relative"])
def test_out_over_the_input_is_refused_and_leaves_it_intact(tmp_path: Path, how: str, monkeypatch) -> None:
    call = tmp_path / "call.jsonl"
    call.write_bytes(DEMO_JSONL.read_bytes())
    before = call.read_bytes()
    out = {
        "same": call,
        "symlink": tmp_path / "link.jsonl",
        "hardlink": tmp_path / "hard.jsonl",
        "relative": Path("sub/../call.jsonl"),
    }[how]
    if how == "symlink":
        out.symlink_to(call)
    elif how == "hardlink":
        out.hardlink_to(call)
    elif how == "relative":
        (tmp_path / "sub").mkdir()
        monkeypatch.chdir(tmp_path)
    code, printed, err = run("replay", str(call), "--out", str(out))
    assert code == 2, err
    assert err.count("\n") == 1 and "is the input" in err and "another file name" in err
    assert printed == ""  # refused before any work
    assert call.read_bytes() == before
    assert not list(tmp_path.glob("*.partial"))


def test_out_over_a_rule_file_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n")
    code, _, err = run("replay", str(DEMO_JSONL), "--rules", str(tmp_path), "--out", str(rules))
    assert code == 2 and "is the input" in err and rules.read_text() == "rules: []\n"


def test_out_is_written_through_a_partial_file_and_renamed(tmp_path: Path, monkeypatch) -> None:
    import os

    from rapport_assist.output import JsonlSink

    log = tmp_path / "events.jsonl"
    log.write_text("the previous log\n")
    seen = []
    real_write = JsonlSink.write

    def write(self, event):  # look at the files while the replay runs, then interrupt it
        real_write(self, event)
        if self.name != "stdout":
            seen.append((self.name, log.read_text()))
            if len(seen) == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(JsonlSink, "write", write)
    old = os.umask(0o002)
    try:
        code, _, err = run("replay", str(DEMO_JSONL), "--out", str(log))
    finally:
        os.umask(old)
    assert code == 130
    partial = tmp_path / "events.jsonl.partial"
    assert seen[0][0] == str(partial) and seen[-1][1] == "the previous log\n"  # FILE untouched while it runs
    assert log.read_text() == "the previous log\n"
    assert len(events(partial.read_text())) == 3  # flushed per event: the interrupted replay kept them all
    assert str(partial) in err
    assert partial.stat().st_mode & 0o777 == 0o664  # the umask, as for any file the user makes
    monkeypatch.setattr(JsonlSink, "write", real_write)
    code, _, err = run("replay", str(DEMO_JSONL), "--out", str(log))
    assert code == 0 and events(log.read_text())[-1]["type"] == "call_end"
    assert not partial.exists()  # renamed to FILE


def test_bad_jsonl_line_keeps_earlier_events(tmp_path: Path) -> None:
    p = tmp_path / "call.jsonl"
    p.write_text(
        json.dumps({"speaker": "customer", "text": "This is the third time I'm calling, it's ridiculous."})
        + "\n"
        + json.dumps({"speaker": "agent", "text": "What's your account number?"})
        + "\n"
        + "{oops\n"
    )
    code, out, err = run("replay", str(p), "--format", "jsonl")
    assert code == 4
    assert err.count("\n") == 1 and f"{p}:3" in err and "Traceback" not in err
    evs = events(out)
    assert [e["index"] for e in evs if e["type"] == "utterance"] == [0, 1]
    assert nudges_by_rule(evs).get("angry-no-apology") == [1]


def test_a_line_cut_short_is_told_at_its_end(tmp_path: Path) -> None:
    """A JSONL line that stops mid-object: the error's column is where the line ends, not
    column 1 (the position after its newline)."""
    p = tmp_path / "call.jsonl"
    cut = '{"speaker": "agent", "text": '
    p.write_text(json.dumps({"speaker": "agent", "text": "Hello."}) + "\n" + cut + "\n")
    code, _, err = run("replay", str(p))
    assert code == 4 and f"{p}:2: not valid JSON (Expecting value at column {len(cut) + 1})" in err


def test_unknown_speaker_label(tmp_path: Path) -> None:
    p = tmp_path / "call.jsonl"
    p.write_text(json.dumps({"speaker": "supervisor", "text": "hello"}) + "\n")
    code, _, err = run("replay", str(p))
    assert code == 4 and "unknown speaker 'supervisor'" in err


def test_missing_file() -> None:
    code, _, err = run("replay", "/nonexistent/call.wav")
    assert code == 3 and "no such file" in err and err.count("\n") == 1


def test_zero_length_and_corrupt_audio(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    code, _, err = run("replay", str(empty))
    assert code == 4 and err.count("\n") == 1 and "Traceback" not in err
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + struct.pack("<I", 1000) + b"WAVEfmt " + b"\x00" * 7)
    code, _, err = run("replay", str(corrupt))
    assert code == 4 and err.count("\n") == 1
    text = tmp_path / "notes.mp3"
    text.write_text("this is not audio at all\n" * 20)
    code, _, err = run("replay", str(text))
    assert code == 4 and err.count("\n") == 1


def test_mono_without_speaker(tmp_path: Path) -> None:
    mono = write_wav(tmp_path / "mono.wav", np.zeros(8000, dtype=np.float32), 8000)
    code, _, err = run("replay", str(mono))
    assert code == 4 and "--speaker" in err


def test_usage_errors() -> None:
    assert run("replay")[0] == 2
    assert run("replay", "a.wav", "--agent", "b.wav")[0] == 2
    assert run("replay", "a.wav", "--channels", "agent,agent")[0] == 2
    assert run("replay", "a.wav", "--bogus")[0] == 2
    assert run("replay", str(DEMO_JSONL), "--speaker", "agent")[0] == 2


def test_an_unknown_compute_type_is_a_usage_error() -> None:
    """models/README.md: --compute-type int8 (default), int8_float32, float32; a typo is exit 2
    before anything runs, not exit 6 with "re-convert the model folder" advice."""
    code, out, err = run("replay", str(DEMO_JSONL), "--compute-type", "int9")
    assert code == 2 and out == "" and "int8_float32" in err
    assert run("replay", str(DEMO_JSONL), "--compute-type", "float32", "--format", "jsonl")[0] == 0


def test_broken_rule_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    titel: oops\n")
    code, out, err = run("replay", str(DEMO_JSONL), "--rules", str(bad))
    assert code == 5 and f"{bad}:3" in err and out == ""
    assert "Traceback" not in err


def test_missing_model_folder(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "call.wav", np.zeros((8000, 2), dtype=np.float32), 8000)
    code, _, err = run("replay", str(wav), "--model", str(tmp_path / "no-model"))
    assert code == 6 and "does not exist" in err and err.count("\n") == 1


def test_broken_model_folder(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "model.bin").write_bytes(b"\x00" * 4096)
    wav = write_wav(tmp_path / "call.wav", np.zeros((8000, 2), dtype=np.float32), 8000)
    code, _, err = run("replay", str(wav), "--model", str(folder))
    assert code == 6 and err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_out(tmp_path: Path) -> None:
    code, _, err = run("replay", str(DEMO_JSONL), "--out", str(tmp_path / "missing-dir" / "log.jsonl"))
    assert code == 7 and "cannot create" in err
    code, printed, err = run("replay", str(DEMO_JSONL), "--out", str(tmp_path))  # a folder: said before the replay
    assert code == 7 and "Is a directory" in err and printed == "" and not list(tmp_path.iterdir())


def test_full_disk_is_reported() -> None:
    if not Path("/dev/full").exists():
        pytest.fail("/dev/full is needed to simulate a full disk")
    code, _, err = run("replay", str(DEMO_JSONL), "--out", "/dev/full")
    assert code == 7 and "disk space" in err


def test_rules_test_command_passes_on_default_packs() -> None:
    code, out, err = run("rules", "test")
    assert code == 0, out + err
    assert " 0 failed" in out


# ---------------------------------------------------------------- rules that layer: --rules adds, --only-rules replaces

RULE_COMMANDS = (
    ["replay", "x.jsonl"],
    ["demo"],
    ["sidebar"],
    ["live"],
    ["qa", "calls/", "--out", "o"],
    ["eval", "d.jsonl"],
    ["rules", "explain", "--rule", "r", "x.jsonl"],
    ["rules", "check"],
    ["rules", "test"],
    ["rules", "diff", "--new", "n.yaml"],
)


@pytest.mark.parametrize("argv", RULE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_that_runs_rules_takes_the_same_rules_options(argv: list[str]) -> None:
    from rapport_assist.cli import build_parser
    from rapport_assist.cli.common import _rule_paths
    from rapport_assist.rules import default_rules_dir

    args = build_parser().parse_args(argv + ["--rules", "team.yaml", "--rules", "more/"])
    assert _rule_paths(args) == [default_rules_dir(), Path("team.yaml"), Path("more")]
    args = build_parser().parse_args(argv + ["--only-rules", "mine/", "--rules", "team.yaml"])
    assert _rule_paths(args) == [Path("mine"), Path("team.yaml")]
    assert _rule_paths(build_parser().parse_args(argv)) == [default_rules_dir()]


def _default_demo_nudges() -> dict[str, list[dict]]:
    code, out, err = run("replay", str(DEMO_JSONL), "--format", "jsonl")
    assert code == 0, err
    by_rule: dict[str, list[dict]] = {}
    for e in events(out):
        if e["type"] == "nudge":
            by_rule.setdefault(e["rule"], []).append(e)
    assert len(by_rule) >= 3, by_rule
    return by_rule


def test_rules_adds_a_team_file_on_top_of_the_defaults(tmp_path: Path) -> None:
    default = _default_demo_nudges()
    off, changed, *kept = sorted(default)
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\noverrides:\n"
        f"  - {{rule: {off}, enabled: false}}\n"
        f"  - {{rule: {changed}, severity: urgent, message: 'Team words for this moment.'}}\n"
    )
    code, out, err = run("replay", str(DEMO_JSONL), "--format", "jsonl", "--rules", str(team))
    assert code == 0, err
    layered: dict[str, list[dict]] = {}
    for e in events(out):
        if e["type"] == "nudge":
            layered.setdefault(e["rule"], []).append(e)
    assert off not in layered  # switched off by the team file
    assert [(n["severity"], n["message"]) for n in layered[changed]] == [("high", "Team words for this moment.")] * len(
        default[changed]
    )
    for rule in kept:  # every other default rule still runs: the team file did not replace them
        assert [n["utterance_index"] for n in layered[rule]] == [n["utterance_index"] for n in default[rule]]


def test_only_rules_replaces_the_defaults(tmp_path: Path) -> None:
    alone = tmp_path / "alone.yaml"
    alone.write_text(
        "version: 1\nrules:\n  - id: router-talk\n    title: Router\n    severity: tip\n    why: test\n"
        "    when: {speaker: agent, says: {regex: 'router'}}\n    message: Router talk.\n"
    )
    code, out, err = run("replay", str(DEMO_JSONL), "--format", "jsonl", "--only-rules", str(alone))
    assert code == 0, err
    assert {e["rule"] for e in events(out) if e["type"] == "nudge"} == {"router-talk"}
    # the same file with --rules runs beside the defaults
    code, out, err = run("replay", str(DEMO_JSONL), "--format", "jsonl", "--rules", str(alone))
    assert code == 0, err
    assert {e["rule"] for e in events(out) if e["type"] == "nudge"} > {"router-talk"}


def test_rules_check_checks_a_team_file_against_the_defaults(tmp_path: Path) -> None:
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\noverrides:\n  - {rule: dead-air, cooldown_s: 60}\n  - {rule: ded-air, enabled: false}\n"
    )
    code, out, err = run("rules", "check", str(team))
    assert code == 5 and out == ""
    assert (
        f"{team}:4:12: unknown rule id 'ded-air' (fix: did you mean 'dead-air'?)" in err and err.count(f"{team}:") == 1
    )
    team.write_text("version: 1\noverrides:\n  - {rule: dead-air, cooldown_s: 60}\n")
    code, out, err = run("rules", "check", str(team))
    assert code == 0, err
    assert out.startswith("ok: ") and "loaded from the default packs (" in out and f") + {team}" in out
    code, _, err = run("rules", "check", "--only-rules", str(team))  # alone: nothing to override
    assert code == 5 and "no rules are loaded" in err and "without --only-rules" in err


def test_a_lexicon_override_checked_alone_says_to_check_it_on_the_defaults(tmp_path: Path) -> None:
    # as for a rule override: a file with lexicons of its own, loaded alone, is told to check its
    # override on top of the default packs, not offered its own lexicons as what it meant
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\noverrides:\n  - {lexicon: jargon, add: [VLAN]}\n"
        "lexicons:\n  cancel-intent: [cancel my]\nrules: []\n"
    )
    code, _, err = run("rules", "check", "--only-rules", str(team))
    assert code == 5, err
    assert f"{team}:3:15: unknown lexicon 'jargon': the only lexicons loaded are this file's own" in err, err
    assert "without --only-rules" in err and "cancel-intent" not in err
    assert run("rules", "check", str(team))[0] == 0  # on top of the defaults it loads


def test_a_rule_written_switched_off_says_how_to_switch_it_on(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "version: 1\nrules:\n  - id: my-off\n    title: T\n    severity: tip\n    why: W\n    message: M\n"
        "    enabled: false\n    when: {speaker: agent}\n"
    )
    code, _, err = run("rules", "test", str(pack), "--rule", "my-off")
    assert code == 2 and "no enabled rule 'my-off' (it is switched off)" in err, err
    assert f"the rule at {pack}:3 is written 'enabled: false'" in err and "{rule: my-off, enabled: true}" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("rules", "check", ""),
        ("rules", "test", "--rules", ""),
        ("rules", "diff", "--new", ""),
        ("rules", "list", "--only-rules", " "),
        ("replay", str(DEMO_JSONL), "--rules", ""),
    ],
)
def test_an_empty_rule_path_is_refused_not_read_as_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]
) -> None:
    # '--rules "$TEAM"' with $TEAM unset: Path('') is '.', so every *.yaml in the current folder loaded
    (tmp_path / "stray.yaml").write_text("version: 1\noverrides:\n  - {rule: dead-air, enabled: false}\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*argv)
    assert code == 2 and out == "", (out, err)
    assert "an empty path (an unset variable?): name a rule file or folder" in err and "stray" not in err


def test_a_team_rule_asked_for_without_its_file_says_to_give_the_file(tmp_path: Path) -> None:
    # the likely slip behind an id like no default one: the team file was left off the command
    call = tmp_path / "call.jsonl"
    call.write_text(DEMO_JSONL.read_text())
    dialogues = tmp_path / "d.jsonl"
    dialogues.write_text('{"id": "a", "turns": [{"speaker": "agent", "text": "Hi."}]}\n')
    for argv in (
        ("rules", "test", "--rule", "offer-retention"),
        ("rules", "explain", "--rule", "offer-retention", str(call)),
        ("eval", str(dialogues), "--rule", "offer-retention"),
        ("rules", "list", "--rule", "offer-retention"),
    ):
        code, _, err = run(*argv)
        assert code == 2 and "a rule of a team file loads with that file: add '--rules FILE'" in err, (argv, err)
        assert argv[0] != "eval" or "praise-" not in err  # eval offers no rule it refuses
    code, _, err = run("rules", "test", "--rule", "you-not-wee")  # a close id: just that
    assert "did you mean 'you-not-we'?" in err and "--rules FILE" not in err


def test_rules_check_counts_the_rules_as_rules_list_does(tmp_path: Path) -> None:
    # a rule switched off is still one of the rules loaded: "N rules (1 switched off)" says so in
    # both commands, and the examples not run are those of the rules that run
    team = tmp_path / "team.yaml"
    team.write_text("version: 1\noverrides:\n  - {rule: pace-mismatch, enabled: false}\n")
    code, listed, err = run("rules", "list", str(team))
    assert code == 0, err
    total = listed.rstrip().splitlines()[-1].split(" from ")[0]
    assert total.endswith(" rules (1 switched off)"), total
    code, out, err = run("rules", "check", str(team))
    assert code == 0, err
    assert out.startswith(f"ok: {total} loaded from "), (out, total)


def test_rules_check_names_each_file_it_loads_once(tmp_path: Path) -> None:
    # the loader reads a default pack named again, or a team file named twice (or by a link),
    # once; the ok line said "+ rules/catalogue.yaml" and listed the team file twice
    from rapport_assist.rules import default_rules_dir

    team = tmp_path / "team.yaml"
    team.write_text("version: 1\noverrides:\n  - {rule: pace-mismatch, enabled: false}\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(team)
    code, out, err = run("rules", "check", str(default_rules_dir() / "catalogue.yaml"), str(team), str(link))
    assert code == 0, err
    line = out.splitlines()[0]
    assert "catalogue.yaml" not in line and line.count("team.yaml") == 1 and "link.yaml" not in line, line


def test_a_full_copy_given_with_rules_says_to_use_only_rules(tmp_path: Path) -> None:
    from rapport_assist.rules import default_rules_dir

    copy = tmp_path / "copy"
    copy.mkdir()
    for f in default_rules_dir().glob("*.yaml"):
        (copy / f.name).write_text(f.read_text())
    code, _, err = run("rules", "check", "--rules", str(copy))
    assert code == 5 and "is used twice" in err and "--only-rules" in err
    assert run("rules", "check", "--only-rules", str(copy))[0] == 0
    assert run("rules", "check", str(default_rules_dir()))[0] == 0  # the defaults named again load once


def test_strict_does_not_say_ok_before_failing(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text("version: 1\nlexicons:\n  unused: [word]\n")  # a lint warning: a lexicon nothing uses
    code, out, err = run("rules", "check", "--strict", str(pack))
    assert code == 5 and "ok:" not in out and "lexicon 'unused' is never used" in out
    assert "1 lint warning with --strict" in err
    code, out, _ = run("rules", "check", str(pack))
    assert code == 0 and out.rstrip().splitlines()[-1].startswith("ok: ")
    # check reads the files only: it says the examples are left to 'rules test'
    assert "examples not run: 'rapport-assist rules test' runs them)" in out


def test_python_dash_m_runs_the_command() -> None:
    # 'python -m rapport_assist' is the command, as 'python -m rapport_assist.cli' is (it said
    # "'rapport_assist' is a package and cannot be directly executed")
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for module in ("rapport_assist", "rapport_assist.cli"):
        run = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, env=env)
        assert run.returncode == 0 and run.stdout.startswith("rapport-assist "), (module, run.stdout, run.stderr)


def _run_into_closed_pipe(*argv: str) -> tuple[int, str]:
    """Run the real command with its stdout read by a reader that stops after one line (| head -1)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rapport_assist.cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()  # the reader is gone
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize(
    "argv",
    [
        ("rules", "explain", str(DEMO_JSONL), "--rule", "you-not-we"),
        ("replay", str(DEMO_JSONL)),
        ("replay", str(DEMO_JSONL), "--format", "jsonl"),
        ("rules", "schema"),
    ],
)
def test_a_closed_pipe_ends_quietly(argv: tuple[str, ...]) -> None:
    code, err = _run_into_closed_pipe(*argv)
    assert code == 0 and err == "", err


def test_a_closed_stdout_still_completes_the_out_file(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    code, err = _run_into_closed_pipe("replay", str(DEMO_JSONL), "--out", str(log))
    assert code == 0 and err == "", err
    assert events(log.read_text())[-1]["type"] == "call_end"


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize(
    "argv",
    [
        ("eval", "DIALOGUES"),
        ("rules", "diff", "--only", "--old", "RULES", "--new", "RULES", str(DEMO_JSONL)),
        ("rules", "check"),
        ("rules", "test"),
        ("devices",),
    ],
)
def test_every_command_printing_to_stdout_ends_quietly_on_a_closed_pipe(tmp_path: Path, argv) -> None:
    dialogues = tmp_path / "d.jsonl"
    dialogues.write_text(
        json.dumps({"id": "c1", "turns": [{"speaker": "agent", "text": "you need to restart it"}]}) + "\n"
    )
    rules = Path(__file__).resolve().parents[1] / "rules"
    argv = [str(dialogues) if a == "DIALOGUES" else str(rules) if a == "RULES" else a for a in argv]
    err = io.StringIO()
    code = main(argv, stdout=_ClosedPipe(), stderr=err)
    if argv[0] == "devices" and code == 9:
        return  # no audio server here: nothing was printed
    assert code == 0 and "error" not in err.getvalue(), err.getvalue()


# ---------------------------------------------------------------- the parser: one func per command, options declared once


def _commands(parser=None, path=()):
    """(path, parser) of every command and action group, e.g. (("rules", "check"), <parser>)."""
    import argparse

    from rapport_assist.cli import build_parser

    parser = parser or build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def test_every_command_has_a_func_and_every_group_has_actions() -> None:
    import argparse

    leaves = []
    for path, parser in _commands():
        groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if groups:  # the top level, 'rules' and 'launcher': no func, main() prints the help
            assert "func" not in parser._defaults, path
        else:
            assert callable(parser._defaults.get("func")), f"{' '.join(path)} has no func"
            leaves.append(" ".join(path))
    assert sorted(leaves) == [
        "demo",
        "devices",
        "eval",
        "launcher install",
        "launcher remove",
        "launcher status",
        "live",
        "qa",
        "replay",
        "rules check",
        "rules diff",
        "rules explain",
        "rules list",
        "rules schema",
        "rules test",
        "sidebar",
    ]
    funcs = [parser._defaults["func"] for path, parser in _commands() if "func" in parser._defaults]
    assert len(set(funcs)) == len(funcs)  # each command runs its own function


@pytest.mark.parametrize("path", [p for p, _ in _commands()], ids=lambda p: " ".join(p) or "(top)")
def test_help_of_every_command(path: tuple[str, ...], capsys) -> None:
    parser = dict(_commands())[path]
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: " + " ".join(["rapport-assist", *path]))
    for action in parser._actions:  # every option the command takes is in its help, unless hidden
        if action.help != "==SUPPRESS==":
            for option in action.option_strings:
                assert option in out, (path, option)


def test_a_group_without_an_action_prints_its_own_help(capsys) -> None:
    for group, action in (("rules", "check"), ("launcher", "install")):
        assert main([group]) == 2
        out = capsys.readouterr().out
        assert out.startswith(f"usage: rapport-assist {group} [-h] ACTION") and f"    {action} " in out, out
    assert main([]) == 2
    assert capsys.readouterr().out.startswith("usage: rapport-assist [-h] [--version] COMMAND")


def test_a_misspelt_command_or_action_names_the_one_meant() -> None:
    for argv, meant, help_of in (
        (["rules", "chek"], "check", "rapport-assist rules --help"),
        (["replya", "call.jsonl"], "replay", "rapport-assist --help"),
        (["launcher", "instal"], "install", "rapport-assist launcher --help"),
    ):
        err = io.StringIO()
        assert main(argv, io.StringIO(), err) == 2
        assert f"did you mean '{meant}'? (see '{help_of}')" in err.getvalue(), err.getvalue()
    err = io.StringIO()
    assert main(["zzz"], io.StringIO(), err) == 2  # nothing close: only the help
    assert "did you mean" not in err.getvalue() and "see 'rapport-assist --help'" in err.getvalue()


def test_shared_options_are_declared_once() -> None:
    """An option several commands take is one argparse action (a parent block), not copies."""
    by_option: dict[str, set[int]] = {}
    for path, parser in _commands():
        if path:
            for action in parser._actions:
                for option in action.option_strings:
                    by_option.setdefault(option, set()).add(id(action))
    for option in ("--rules", "--only-rules", "--debug", "--no-mask", "--cache", "--pair-pattern", "--no-batch"):
        assert len(by_option[option]) == 1, option
    for option in ("--model", "--compute-type", "--threads"):  # one call (default 2 threads) and batch (per worker)
        assert len(by_option[option]) == 2, option


def test_every_event_type_of_a_replay_is_in_the_readme_table() -> None:
    """README's "Event log (JSONL)" table has a row for each event type a replay writes (the
    promise list's `record` events were missing), and the nudge row names each nudge field."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Event log (JSONL)") : readme.index("### Exit codes")]
    code, out, _ = run("replay", str(DEMO_JSONL), "--format", "jsonl")
    assert code == 0
    evs = events(out)
    for kind in {e["type"] for e in evs}:
        assert f"\n| `{kind}` |" in table, kind
    nudge_row = next(line for line in table.splitlines() if line.startswith("| `nudge` |"))
    for e in evs:
        if e["type"] == "nudge":
            for key in set(e) - {"type"}:
                assert f"`{key}`" in nudge_row, key


def test_sidebar_turn_pass_reaches_its_recognizer(monkeypatch) -> None:
    """`sidebar --turn-pass on` (the option every recognizing command takes) decodes each closed
    turn again, as in replay; it was accepted and then dropped. Off unless asked, as before."""
    from types import SimpleNamespace

    import rapport_assist.gui.app as app
    import rapport_assist.recognizer as recognizer

    captured: list[app.SidebarOptions] = []
    monkeypatch.setattr(app, "run_sidebar", lambda options, stdout, stderr: captured.append(options) or 0)
    for argv, expected in ((["--turn-pass", "on"], True), ([], False)):
        out, err = io.StringIO(), io.StringIO()
        assert main(["sidebar", *argv], stdout=out, stderr=err, environ={"DISPLAY": ":0"}) == 0, err.getvalue()
        assert captured[-1].turn_pass is expected

    built: list[object] = []

    class FakeRecognizer:
        def __init__(self, options: object) -> None:
            built.append(options)

        def warm_up(self) -> None:
            pass

    monkeypatch.setattr(recognizer, "Recognizer", FakeRecognizer)
    backend = SimpleNamespace(options=app.SidebarOptions(rules=[], turn_pass=True), timings={}, _report=lambda: None)
    app.AppBackend._load_recognizer(backend)  # type: ignore[arg-type]
    assert built[0].turn_pass is True  # type: ignore[attr-defined]


def test_sidebar_out_over_the_reviewed_file_is_refused(tmp_path: Path) -> None:
    """README: inputs are never written. Without a display `sidebar --qa CALL --out FILE` writes
    CALL's events to FILE; FILE the transcript given to --qa was overwritten (exit 0)."""
    transcript = tmp_path / "call.jsonl"
    transcript.write_text(DEMO_JSONL.read_text(encoding="utf-8"), encoding="utf-8")
    before = transcript.read_bytes()
    out, err = io.StringIO(), io.StringIO()
    code = main(["sidebar", "--qa", str(transcript), "--out", str(transcript)], stdout=out, stderr=err, environ={})
    assert code == 2 and "would destroy the input" in err.getvalue() and out.getvalue() == ""
    assert transcript.read_bytes() == before
