"""The shared output writer: all or nothing, the user's umask, no temporary file left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rapport_assist.errors import UsageError
from rapport_assist.fileio import refuse_overwrite, write_atomic
from rapport_assist.settings import SavedChoices, save_choices


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "new \udc80 text")  # fails halfway through the write
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_settings_are_saved_by_the_same_writer(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "settings.json"
    old = os.umask(0o002)
    try:
        save_choices(SavedChoices(agent_device="mic"), path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o664
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


def test_a_rename_over_a_symlink_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    real = tmp_path / "input.jsonl"
    real.write_text("keep me\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with pytest.raises(UsageError):
        refuse_overwrite(link, [real])
    write_atomic(link, "new\n")  # even unchecked, the input's bytes are never written
    assert real.read_text() == "keep me\n" and not link.is_symlink()
