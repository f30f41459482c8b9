"""``rapport-assist sidebar`` from the command line: no display, bad input, and a real start."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rapport_assist.cli import main


def test_sidebar_with_a_missing_review_file_says_so(tmp_path: Path):
    err = io.StringIO()
    code = main(["sidebar", "--qa", str(tmp_path / "nope.jsonl")], io.StringIO(), err, environ={"DISPLAY": ":9"})
    assert code == 3 and "nope.jsonl does not exist" in err.getvalue()


@pytest.mark.slow
@pytest.mark.model
def test_sidebar_without_a_display_replays_the_demo_call_in_the_terminal():
    out, err = io.StringIO(), io.StringIO()
    code = main(["sidebar"], out, err, environ={})
    assert code == 0
    assert "no display found" in err.getvalue() and "demo_call.flac" in err.getvalue()
    text = out.getvalue()
    assert "CUSTOMER" in text and "you-not-we" in text and "angry-no-apology" in text


@pytest.mark.model
def test_sidebar_starts_warms_the_model_and_offers_the_demo_call_without_a_microphone(tmp_path: Path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RAPPORT_ASSIST_DATA=str(tmp_path))
    exe = Path(sys.executable).with_name("rapport-assist")
    done = subprocess.run(
        [str(exe), "sidebar", "--exit-when-ready", "--settings", str(tmp_path / "s.ini")],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["recognizer"].startswith("ready (tiny.en")
    assert report["mode"] == "qa" and report["review"] == "demo_call.flac"  # no live capture in this build
    assert report["rules"].endswith("rules loaded") or "lint warnings" in report["rules"]
    assert 0 < report["window_shown_s"] and report["window_shown_s"] <= report["ready_s"]
    assert (tmp_path / "s.ini").exists()  # settings were saved
