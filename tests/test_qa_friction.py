"""Small things a QA user met (issue 22): help texts that say when options apply, the README's
eval example runs from the repo, and a review shows review controls, not live-call ones."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from rapport_assist.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _help(*argv: str) -> str:
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[argv[0]]  # noqa: SLF001
    return " ".join(sub.format_help().split())


def test_sidebar_help_says_format_and_out_apply_only_without_a_display() -> None:
    text = _help("sidebar")
    for option in ("--format {text,jsonl}", "--out FILE"):
        after = text.split(option + " ", 1)[1][:320]
        assert "only without a display" in after, after


def test_demo_help_has_a_description() -> None:
    text = _help("demo")
    assert "Replay the bundled demo call" in text and "nudges" in text


def test_readme_eval_example_runs_on_a_file_in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Evaluate on your calls", 1)[1].split("\n## ", 1)[0]
    assert "shared/" not in section  # no path outside the repository
    first = re.search(r"rapport-assist eval (\S+)", section)
    assert first is not None
    path = ROOT / first[1]
    assert path.is_file(), path
    monkeypatch.chdir(ROOT)
    out, err = io.StringIO(), io.StringIO()
    assert main(["eval", first[1]], out, err) == 0, err.getvalue()
    report = out.getvalue()
    assert "3 conversations (3 labelled)" in report
    for rule in ("angry-no-apology", "you-not-we", "uncommitted-promise"):
        row = next(line for line in report.splitlines() if line.startswith(rule + " "))
        assert row.split()[2:5] == ["1.00", "1.00", "1.00"], row  # as the README says


# -- the sidebar in review mode ---------------------------------------------------------------

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtCore import QSettings  # noqa: E402

from rapport_assist.assist import AssistModel, FeedbackLog  # noqa: E402
from rapport_assist.gui.app import DEMO_TRANSCRIPT, AppBackend, SidebarOptions, attach_rules  # noqa: E402
from rapport_assist.gui.controller import Prefs  # noqa: E402
from rapport_assist.gui.window import SidebarWindow  # noqa: E402
from rapport_assist.rules import default_rules_dir  # noqa: E402


def test_a_review_hides_the_live_call_button_and_device_rows(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    prefs = Prefs(QSettings(str(tmp_path / "sidebar.ini"), QSettings.Format.IniFormat))
    options = SidebarOptions(rules=[default_rules_dir()], warm_up=False)
    backend = AppBackend(options)
    model = AssistModel(prefs.budget(), FeedbackLog(tmp_path / "feedback.jsonl"))
    model.set_status("microphone", "off", "none found")
    window = SidebarWindow(model, prefs, backend)
    attach_rules(window, backend, options.rules)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    panel = window.status_panel
    assert window.call_button.isVisible() and panel.texts["microphone"].isVisible()
    assert not panel.sound_text.isVisible()

    window.open_qa(DEMO_TRANSCRIPT, speed=float("inf"))
    assert not window.call_button.isVisible()  # no "Start call" in a review
    assert not panel.texts["microphone"].isVisible() and not panel.texts["customer"].isVisible()
    assert panel.sound_text.isVisible() and panel.sound_text.text() == "a transcript: nothing to hear"
    assert "Start a live call" in [a.text() for a in window.menu.actions()]  # the way back to a live call
    qtbot.waitUntil(lambda: window.model.ended, timeout=60000)
    assert not window.call_button.isVisible()  # still the review, ended
    window.close()
