"""Every status event carries its time ``t``, in the event log and everywhere else."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.types import Status

SRC = Path(__file__).resolve().parents[1] / "src" / "rapport_assist"


def test_a_status_cannot_be_made_without_its_time() -> None:
    with pytest.raises(TypeError):
        Status("warning", "audio_truncated", "cut short")  # type: ignore[call-arg]
    assert Status("info", "no_speech", "none", 0.0).to_json()["t"] == 0.0


def test_every_status_in_the_sources_gives_a_time() -> None:
    missing = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Status":
                if len(node.args) < 4 and not any(k.arg == "t_s" for k in node.keywords):
                    missing.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not missing, missing


def test_a_truncated_recording_says_where_it_broke(tmp_path: Path, write_audio, recognizer) -> None:
    from rapport_assist.sources import ReplayInput, open_replay
    from rapport_assist.types import Speaker

    rng = np.random.default_rng(0)
    full = write_audio(
        tmp_path / "full.flac", (rng.standard_normal((1, 44100 * 4)) * 1e-4).astype(np.float32), 44100, "flac"
    )
    cut = tmp_path / "cut.flac"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    source = open_replay(ReplayInput(path=cut, speaker=Speaker.AGENT), lambda: recognizer)
    notes = [i for i in source.items() if isinstance(i, Status) and i.code == "audio_truncated"]
    assert len(notes) == 1
    event = notes[0].to_json()
    assert 0.3 < event["t"] < 3.0 and f"{event['t']:.1f} s" in event["message"]
