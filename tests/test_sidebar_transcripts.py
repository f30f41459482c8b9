"""The sidebar's QA review opens the transcripts of other call products too, and reads the
people of ``--speaker-map`` as their sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_transcript_formats import ANGRY, ASK, HELLO, NAMED_VTT, PEOPLE, write

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")
from PySide6.QtCore import QSettings  # noqa: E402

from rapport_assist.assist import AssistModel, FeedbackLog  # noqa: E402
from rapport_assist.gui.app import AppBackend, SidebarOptions, attach_rules  # noqa: E402
from rapport_assist.gui.controller import Prefs  # noqa: E402
from rapport_assist.gui.window import MEDIA_FILTER, SidebarWindow  # noqa: E402
from rapport_assist.rules import default_rules_dir  # noqa: E402
from rapport_assist.sources import TRANSCRIPT_SUFFIXES  # noqa: E402
from rapport_assist.transcript import parse_speaker_map  # noqa: E402
from rapport_assist.types import Speaker  # noqa: E402


def test_the_open_dialog_offers_every_transcript_format() -> None:
    offered = MEDIA_FILTER.split(";;")[0]
    assert all(f"*{suffix}" in offered for suffix in TRANSCRIPT_SUFFIXES)


def test_a_review_reads_named_people_as_their_sides(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    prefs = Prefs(QSettings(str(tmp_path / "sidebar.ini"), QSettings.Format.IniFormat))
    options = SidebarOptions(rules=[default_rules_dir()], warm_up=False, speaker_map=parse_speaker_map(PEOPLE))
    backend = AppBackend(options)
    assert backend.replay_input(tmp_path / "call.jsonl").speaker_map == ()  # a format that names sides itself
    model = AssistModel(prefs.budget(), FeedbackLog(tmp_path / "feedback.jsonl"))
    window = SidebarWindow(model, prefs, backend)
    attach_rules(window, backend, options.rules)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.open_qa(write(tmp_path, "named.vtt", NAMED_VTT), speed=float("inf"))
    qtbot.waitUntil(lambda: window.model.ended, timeout=60000)
    said = [(u.speaker, u.text) for u in model.transcript]
    assert said == [(Speaker.AGENT, HELLO), (Speaker.CUSTOMER, ANGRY), (Speaker.AGENT, ASK)]
    shown = list(model.cards.values()) + list(model.history)
    assert any(c.nudge.rule == "angry-no-apology" for c in shown)
    window.close()
