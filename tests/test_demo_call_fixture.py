"""The bundled demo call (src/rapport_assist/data/demo_call.*) and its generator.

Fast checks of the committed files, plus a re-run of scripts/make_demo_call.py into a temporary
folder. espeak-ng is a set-up requirement (scripts/setup.sh installs it): when it is missing
these tests fail and say how to install it; they do not skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "src" / "rapport_assist" / "data"
GENERATOR = ROOT / "scripts" / "make_demo_call.py"
HEADLINE_RULES = {"angry-no-apology", "you-not-we", "uncommitted-promise", "missed-reflection"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def decode(path: Path) -> tuple[np.ndarray, int, int]:
    """(samples as (n, channels) int16, sample rate, channels), decoded with PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.layout.nb_channels
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
    fmt_planar = chunks[0].shape[0] == channels and channels > 1
    data = np.concatenate(chunks, axis=1)
    samples = data.T if fmt_planar else data.reshape(-1, channels)
    return samples, rate, channels


def need_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail(
            "espeak-ng is not installed, so the demo call cannot be regenerated: run 'make setup' "
            "(or 'sudo apt-get install -y espeak-ng')",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def committed() -> dict:
    samples, rate, channels = decode(DATA_DIR / "demo_call.flac")
    return {
        "samples": samples,
        "rate": rate,
        "channels": channels,
        "lines": read_jsonl(DATA_DIR / "demo_call.jsonl"),
        "expected": json.loads((DATA_DIR / "demo_call.expected.json").read_text(encoding="utf-8")),
    }


def regenerate(out: Path) -> Path:
    need_espeak()
    run = subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(out)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, f"generator failed:\n{run.stderr}"
    return out


def test_flac_is_stereo_8khz_16bit_and_as_long_as_the_transcript(committed: dict) -> None:
    assert committed["channels"] == 2 and committed["rate"] == 8000
    assert committed["samples"].dtype == np.int16
    duration = committed["samples"].shape[0] / committed["rate"]
    last_end = max(line["end"] for line in committed["lines"])
    assert last_end <= duration <= last_end + 1.0, (duration, last_end)
    assert duration == pytest.approx(committed["expected"]["audio"]["duration_s"], abs=1e-3)


def test_agent_is_left_customer_is_right_each_silent_while_the_other_talks(committed: dict) -> None:
    samples, rate = committed["samples"], committed["rate"]
    lines = committed["lines"]
    for i, line in enumerate(lines):
        # the middle of the turn, away from the scripted overlap at its edges
        a, b = int((line["start"] + 0.3) * rate), int((line["end"] - 0.3) * rate)
        if b <= a:
            continue
        own, other = (0, 1) if line["speaker"] == "agent" else (1, 0)
        others_talking = any(
            o["speaker"] != line["speaker"] and o["start"] < line["end"] - 0.3 and o["end"] > line["start"] + 0.3
            for o in lines
        )
        assert np.abs(samples[a:b, own]).max() > 1000, f"line {i}: no speech on the {line['speaker']} side"
        if not others_talking:
            assert np.abs(samples[a:b, other]).max() == 0, f"line {i}: the other side is not silent"


def test_transcript_is_well_formed_and_in_time_order(committed: dict) -> None:
    lines = committed["lines"]
    assert 12 <= len(lines) <= 16
    for i, line in enumerate(lines):
        assert set(line) == {"speaker", "text", "start", "end"}, f"line {i}: {sorted(line)}"
        assert line["speaker"] in ("agent", "customer")
        assert isinstance(line["text"], str) and line["text"].strip()
        assert 0 <= line["start"] < line["end"]
    starts = [line["start"] for line in lines]
    ends = [line["end"] for line in lines]
    assert all(a < b for a, b in zip(starts, starts[1:])), "start times must increase"
    assert all(a < b for a, b in zip(ends, ends[1:])), "end times must increase"
    assert {line["speaker"] for line in lines} == {"agent", "customer"}


def test_expected_nudges_point_at_agent_lines(committed: dict) -> None:
    lines, expected = committed["lines"], committed["expected"]
    assert [t["text"] for t in expected["turns"]] == [line["text"] for line in lines]
    nudges = expected["expected_nudges"]
    assert set(nudges) == HEADLINE_RULES
    for rule, where in nudges.items():
        assert where, f"{rule}: the demo call must exercise every headline moment"
        for i in where:
            assert lines[i]["speaker"] == "agent", f"{rule} at line {i} is not an agent line"
            assert rule in expected["turns"][i]["expect"]
    for rule, where in expected["decided_at"].items():
        assert all(d >= i for d, i in zip(where, nudges[rule]))


def test_generator_reproduces_the_committed_call(committed: dict, tmp_path: Path) -> None:
    regenerated = regenerate(tmp_path / "demo")
    samples, rate, channels = decode(regenerated / "demo_call.flac")
    assert (rate, channels) == (8000, 2)
    assert samples.shape[0] / rate == pytest.approx(committed["samples"].shape[0] / committed["rate"], abs=0.1)
    lines = read_jsonl(regenerated / "demo_call.jsonl")
    assert [(x["speaker"], x["text"]) for x in lines] == [(x["speaker"], x["text"]) for x in committed["lines"]]
    for new, old in zip(lines, committed["lines"]):
        assert new["start"] == pytest.approx(old["start"], abs=0.1)
        assert new["end"] == pytest.approx(old["end"], abs=0.1)
    new_expected = json.loads((regenerated / "demo_call.expected.json").read_text(encoding="utf-8"))
    assert new_expected["expected_nudges"] == committed["expected"]["expected_nudges"]


def test_generator_without_espeak_says_to_run_make_setup(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # an empty folder: no espeak-ng on the PATH
    run = subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode != 0
    assert "espeak-ng" in run.stderr and "make setup" in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()
