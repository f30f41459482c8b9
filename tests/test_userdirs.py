"""User folders come from platformdirs; on Linux they are where the hand-written XDG lookups put
them before (settings, masking list, transcript cache, feedback log, recorded calls)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rapport_assist import userdirs
from rapport_assist.assist import FeedbackLog
from rapport_assist.cli import build_parser
from rapport_assist.cli.common import _qa_settings
from rapport_assist.privacy import user_list_paths
from rapport_assist.settings import settings_path

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG folders are Linux's")

XDG = ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "RAPPORT_ASSIST_CACHE", "RAPPORT_ASSIST_DATA")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in XDG:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_without_xdg_variables_the_folders_are_under_home(home: Path) -> None:
    assert userdirs.config_dir() == home / ".config" / "rapport-assist"
    assert userdirs.cache_dir() == home / ".cache" / "rapport-assist"
    assert userdirs.data_dir() == home / ".local" / "share" / "rapport-assist"
    assert settings_path() == home / ".config" / "rapport-assist" / "settings.json"
    assert FeedbackLog.default().path == home / ".local" / "share" / "rapport-assist" / "feedback.jsonl"


def test_xdg_variables_move_them(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in XDG[:3]:
        monkeypatch.setenv(name, str(home / name.lower()))
    assert userdirs.config_dir() == home / "xdg_config_home" / "rapport-assist"
    assert userdirs.cache_dir() == home / "xdg_cache_home" / "rapport-assist"
    assert userdirs.data_dir() == home / "xdg_data_home" / "rapport-assist"
    team = userdirs.config_dir() / "masking.yaml"
    team.parent.mkdir(parents=True)
    team.write_text("patterns: []\n", encoding="utf-8")
    assert user_list_paths(environ={}) == [team]
    args = build_parser().parse_args(["qa", "x.jsonl", "--out", str(home / "out")])
    assert _qa_settings(args, home / "out", 1).cache_dir == home / "xdg_cache_home" / "rapport-assist"


def test_an_empty_xdg_variable_counts_as_unset(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "")
    assert userdirs.config_dir() == home / ".config" / "rapport-assist"


def test_the_programs_own_variables_win(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("RAPPORT_ASSIST_CACHE", str(home / "my-cache"))
    monkeypatch.setenv("RAPPORT_ASSIST_DATA", str(home / "my-data"))
    assert userdirs.cache_dir() == home / "my-cache"
    assert userdirs.data_dir() == home / "my-data"
    assert FeedbackLog.default().path == home / "my-data" / "feedback.jsonl"
