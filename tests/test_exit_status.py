"""Exit codes are one IntEnum, and README.md's table lists each of them by number and name."""

from __future__ import annotations

import re
from pathlib import Path

from rapport_assist import errors
from rapport_assist.cli import main
from rapport_assist.errors import ExitStatus

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_table_is_the_enum():
    section = README.read_text(encoding="utf-8").split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `([A-Z_]+)` \|", section, re.MULTILINE)
    assert [(int(code), name) for code, name in rows] == [(s.value, s.name) for s in ExitStatus]


def test_every_error_class_exits_with_a_member():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.RapportError)]
    assert len(classes) >= 8 and all(isinstance(c.exit_code, ExitStatus) for c in classes)


def test_main_returns_members(tmp_path, capsys):
    assert main([]) is ExitStatus.USAGE
    assert main(["replay", str(tmp_path / "missing.jsonl")]) is ExitStatus.INPUT_NOT_FOUND
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    assert main(["replay", str(bad)]) is ExitStatus.BAD_INPUT
    assert "bad.jsonl:1" in capsys.readouterr().err


def test_threads_is_checked_once_for_every_command(capsys):
    """--threads comes from one declaration (cli.parser._models_parent): every command refuses 0 the same way."""
    for argv in (
        ["replay", "x.jsonl"],
        ["live"],
        ["sidebar"],
        ["qa", "x", "--out", "o"],
        ["eval", "x"],
        ["rules", "diff"],
        ["rules", "explain", "x.jsonl", "--rule", "r"],
    ):
        assert main([*argv, "--threads", "0"]) is ExitStatus.USAGE, argv
        assert "argument --threads: must be at least 1" in capsys.readouterr().err


def test_beam_of_the_packed_batches_is_chosen_per_run_and_keys_the_cache(capsys):
    """qa/eval/rules diff take --beam (1-10): it reaches the recognizer's options, and a
    different beam is a different cache entry (other words)."""
    from pathlib import Path

    from rapport_assist.cli import build_parser
    from rapport_assist.cli.common import _qa_settings
    from rapport_assist.endpoint import EndpointerOptions
    from rapport_assist.qa.cache import settings_identity

    def options(*extra: str):
        args = build_parser().parse_args(["qa", "x", "--out", "o", *extra])
        return _qa_settings(args, Path("o"), 1).recognizer_options()

    default, greedy = options(), options("--beam", "1")
    assert default.batch_beam_size == 5 and greedy.batch_beam_size == 1
    assert greedy.beam_size == default.beam_size == 1  # one-at-a-time recognition stays greedy
    key = [settings_identity(Path("m"), "int8", o, EndpointerOptions(), True) for o in (default, greedy)]
    assert key[0] != key[1]
    for argv in (["qa", "x", "--out", "o"], ["eval", "x"], ["rules", "diff"]):
        assert main([*argv, "--beam", "0"]) is ExitStatus.USAGE, argv
        assert "argument --beam: must be from 1 (greedy) to 10" in capsys.readouterr().err
