"""Progress of one long call on stderr, only when stderr is a terminal: the line's logic with
a fake clock-free stream, then ``replay`` and ``rules explain`` run with stderr on a real
pseudo-terminal (events to a file) and with stderr on a pipe (nothing but errors)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.qa.progress import CallProgress

RATE = 16000
SRC = Path(__file__).resolve().parents[1] / "src"


def test_call_progress_rewrites_one_line_on_a_terminal_and_is_silent_elsewhere() -> None:
    tty = io.StringIO()
    p = CallProgress("replay", 300.0, tty, tty=True, every_s=0.0)
    p.update(60.0)
    p.update(120.0)
    p.finish()
    text = tty.getvalue()
    assert text.count("\r") >= 3 and "\n" not in text
    assert "replay: 1:00 / 5:00 of audio" in text and "replay: 2:00 / 5:00 of audio" in text
    assert text.endswith("\r") and text.rsplit("\r", 2)[-2].strip() == ""  # wiped at the end
    log = io.StringIO()
    q = CallProgress("replay", 300.0, log, tty=False, every_s=0.0)
    q.update(60.0)
    q.fraction("recognizing x.wav", 0.5)
    q.finish()
    assert log.getvalue() == ""


def test_fraction_says_what_is_left() -> None:
    out = io.StringIO()
    p = CallProgress("explain", None, out, tty=True, every_s=0.0)
    p.started -= 10.0  # ten seconds in
    p.fraction("recognizing call.wav", 0.5)
    p.finish()
    assert "explain: recognizing call.wav 50% · 0:10 left · 0:10 elapsed" in out.getvalue()


def _run_with_tty_stderr(args: list[str], stdout_path: Path, env: dict, tty: bool) -> tuple[int, str]:
    """Run the CLI with stdout to a file and stderr on a pseudo-terminal (or a pipe)."""
    chunks: list[bytes] = []
    with stdout_path.open("wb") as out:
        if tty:
            master, slave = os.openpty()
            proc = subprocess.Popen(
                [sys.executable, "-m", "rapport_assist.cli", *args], stdout=out, stderr=slave, env=env
            )
            os.close(slave)

            def read() -> None:
                while True:
                    try:
                        data = os.read(master, 4096)
                    except OSError:  # EIO: the child closed the terminal
                        return
                    if not data:
                        return
                    chunks.append(data)

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            code = proc.wait(timeout=600)
            reader.join(10)
            os.close(master)
        else:
            proc = subprocess.run(
                [sys.executable, "-m", "rapport_assist.cli", *args],
                stdout=out,
                stderr=subprocess.PIPE,
                env=env,
                timeout=600,
            )
            code, chunks = proc.returncode, [proc.stderr]
    return code, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory: pytest.TempPathFactory, write_audio) -> Path:
    from rapport_assist.audio import decode_channels
    from rapport_assist.cli import DEMO_CALL

    agent, customer = decode_channels(DEMO_CALL).channels[:2]
    path = tmp_path_factory.mktemp("call") / "call-1.wav"
    return write_audio(path, np.stack([agent[: 40 * RATE], customer[: 40 * RATE]]), RATE)


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("tty", [True, False])
def test_replay_and_explain_show_progress_on_a_terminal_only(call_wav: Path, tmp_path: Path, tty: bool) -> None:
    env = dict(
        os.environ,
        PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        RAPPORT_ASSIST_CACHE=str(tmp_path / "cache"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    code, err = _run_with_tty_stderr(
        ["replay", str(call_wav), "--format", "jsonl"], tmp_path / "events.jsonl", env, tty
    )
    assert code == 0, err
    assert '"type": "utterance"' in (tmp_path / "events.jsonl").read_text()  # the events went to the file
    if tty:
        lines = [line.strip() for line in err.split("\r") if "replay:" in line]
        assert len(lines) >= 2, err
        assert "/ 0:40 of audio" in lines[-1] and "× real time" in lines[-1]
        assert err.rstrip(" ").endswith("\r")  # the line is wiped at the end
    else:
        assert "replay:" not in err

    code, err = _run_with_tty_stderr(
        ["rules", "explain", "--rule", "angry-no-apology", str(call_wav)], tmp_path / "explain.txt", env, tty
    )
    assert code == 0, err
    assert "#1 CUSTOMER" in (tmp_path / "explain.txt").read_text()
    if tty:
        assert "explain: recognizing call-1.wav" in err and "100%" in err, err
    else:
        assert "explain:" not in err
