"""Running ``rapport-assist`` where file permissions apply, for the tests of unreadable inputs and
of output and cache folders that cannot be written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def unprivileged(*argv: str) -> tuple[int, str, str]:
    """``rapport-assist ARGV`` in a process of its own, where file permissions apply: root reads a
    mode-000 file and writes in a mode-555 folder, so as root it runs without that power
    (``setpriv``). Its exit code, stdout and stderr."""
    command = [sys.executable, "-m", "rapport_assist.cli", *argv]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file permissions do not apply")
        caps = "-dac_override,-dac_read_search"
        drop = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]
        # a container without CAP_SETPCAP cannot drop from the bounding set: nothing to test there
        if subprocess.run([*drop, "true"], capture_output=True).returncode != 0:
            pytest.skip("running as root where setpriv cannot drop capabilities: file permissions do not apply")
        command = [*drop, *command]
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    return run.returncode, run.stdout, run.stderr


def qa_unprivileged(*argv: str) -> tuple[int, str]:
    """``rapport-assist qa ARGV --workers 1``, as ``unprivileged``: its exit code and stderr."""
    code, _, err = unprivileged("qa", *argv, "--workers", "1")
    return code, err
