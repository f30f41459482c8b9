"""Batch runs (qa, replay) keep freed memory for reuse (glibc mallopt); live capture and the sidebar do not.

Each path builds its real recognizer (the real model) in a fresh process, which then mallocs,
fills and frees a 64 MB buffer twice, as CTranslate2 does with a layer's buffer: the minor page
faults of the second round show whether glibc kept the memory (a few) or mapped it afresh (16 k).
Then four new threads allocate, and glibc's malloc_info counts the arenas: one in every path.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

_PROBE = """
import ctypes, resource, sys
from pathlib import Path

mode = sys.argv[1]
if mode == "qa":
    from rapport_assist.qa.runner import QaSettings, _Worker
    worker = _Worker.__new__(_Worker)  # the worker's recognizer only (no rules, no spaCy)
    worker.settings = QaSettings(out_dir=Path("out"), cache_dir=Path("cache"), rule_paths=())
    worker._recognizer = None
    worker.recognizer()
elif mode == "replay":
    import argparse
    from rapport_assist.cli import _recognizer_factory
    _recognizer_factory(argparse.Namespace())()  # replay and explain of a recording
elif mode == "live":
    from rapport_assist.live import LiveSettings
    from rapport_assist.recognizer import Recognizer
    Recognizer(LiveSettings().recognizer)  # as LiveCall builds it when it is not given one
elif mode == "sidebar":
    from rapport_assist.gui.app import AppBackend, SidebarOptions
    AppBackend(SidebarOptions(rules=[]))._load_recognizer()  # loads and warms up, as the panel does
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 64 * 2**20
for _ in range(2):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = libc.malloc(size)
    ctypes.memset(buffer, 1, size)
    libc.free(buffer)
    spent = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
import os, tempfile, threading
threads = [threading.Thread(target=lambda: libc.free(libc.malloc(1000))) for _ in range(4)]
for t in threads:  # a new thread's first malloc gets an arena of its own unless they are limited
    t.start()
for t in threads:
    t.join()
libc.fopen.restype = ctypes.c_void_p
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
with tempfile.TemporaryDirectory() as tmp:
    report = os.path.join(tmp, "malloc.xml")
    fp = libc.fopen(report.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    arenas = open(report).read().count("<heap nr=")
print(spent, arenas)
"""


def _probe(mode: str) -> tuple[int, int]:
    """Page faults to reuse a freed 64 MB buffer, and glibc's arenas once five threads allocated."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr
    spent, arenas = out.stdout.split()[-2:]
    return int(spent), int(arenas)


@pytest.mark.model
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc")
def test_qa_and_replay_keep_freed_memory_and_live_and_sidebar_do_not() -> None:
    fresh = 64 * 2**20 // 4096 // 2  # half the 64 MB buffer's pages faulted in again
    for mode in ("qa", "replay"):
        faults, arenas = _probe(mode)
        assert faults < fresh // 10, f"{mode}: {faults} page faults to reuse a freed 64 MB buffer"
        assert arenas == 1, f"{mode}: {arenas} malloc arenas"
    for mode in ("live", "sidebar"):  # they give big buffers back, and keep to one arena
        faults, arenas = _probe(mode)
        assert faults >= fresh, f"{mode}: only {faults} page faults, so it kept freed memory"
        assert arenas == 1, f"{mode}: {arenas} malloc arenas (one per thread fragments the heap)"


def test_the_malloc_setting_does_not_change_the_transcript_cache_key(tmp_path) -> None:
    """The setting changes how memory is reused, not the words: cached transcripts stay valid."""
    from dataclasses import replace

    from rapport_assist.endpoint import EndpointerOptions
    from rapport_assist.qa.cache import settings_identity
    from rapport_assist.qa.runner import QaSettings

    options = QaSettings(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", rule_paths=()).recognizer_options()
    assert options.keep_freed_memory

    def identity(opts) -> dict:
        return settings_identity(tmp_path, "int8", opts, EndpointerOptions(), True)

    assert identity(replace(options, keep_freed_memory=False)) == identity(options)
    assert identity(replace(options, beam_size=5)) != identity(options)
