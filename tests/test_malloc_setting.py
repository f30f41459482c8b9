"""Batch runs (qa, replay) keep freed memory for reuse (glibc mallopt); live capture and the sidebar do not.

Each path builds its real recognizer (the real model) in a fresh process, which then mallocs,
fills and frees a big buffer twice, as CTranslate2 does with a layer's buffer: the minor page
faults of the second round show whether glibc kept the memory (a few) or mapped it afresh (one per
page). The buffer is 64 MB more than all the free memory in the heap, so it never fits a hole that
loading the model left (it did once under heavy load: 0 page faults on the sidebar's probe).
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
    from rapport_assist.cli.replay import _recognizer_factory
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
if len(sys.argv) > 2 and sys.argv[2] == "hole":
    # a free hole of over 100 MB in the heap, pinned under a block still in use, as a decoding's
    # buffers can leave one (the sidebar's warmed-up model left one of 53 MB here; where the
    # model's threads allocate, and so the holes, vary with the load). 16 MB blocks stay under
    # the mmap threshold; the first may fill older holes, the rest extend the heap side by side
    blocks = [0] * 12  # (the list is not allocated between the blocks as it grows)
    for k in range(len(blocks)):
        blocks[k] = libc.malloc(16 * 2**20)
        ctypes.memset(blocks[k], 1, 16 * 2**20)
    pin = max(blocks)  # the highest block stays: the freed ones below it cannot go back to the system
    for b in blocks:
        if b != pin:
            libc.free(b)


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


libc.mallinfo2.restype = MallInfo2
# bigger than all the free memory the heap holds, so no hole left by loading or warming up the
# model can take it: glibc either maps it afresh or grows the heap for it, as for a new buffer
size = 64 * 2**20 + libc.mallinfo2().fordblks
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
print(size // 4096, spent, arenas)
"""


def _probe(mode: str, *extra: str) -> tuple[int, int, int]:
    """The probe buffer's pages, the page faults to reuse it once freed, and glibc's arenas once
    five threads allocated."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr
    pages, spent, arenas = out.stdout.split()[-3:]
    return int(pages), int(spent), int(arenas)


@pytest.mark.model
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc")
def test_qa_and_replay_keep_freed_memory_and_live_and_sidebar_do_not() -> None:
    for mode in ("qa", "replay"):
        pages, faults, arenas = _probe(mode)
        assert faults < pages // 20, f"{mode}: {faults} page faults to reuse a freed {pages}-page buffer"
        assert arenas == 1, f"{mode}: {arenas} malloc arenas"
    for mode in ("live", "sidebar"):  # they give big buffers back, and keep to one arena
        pages, faults, arenas = _probe(mode)
        fresh = pages // 2  # half the buffer's pages faulted in again
        assert faults >= fresh, f"{mode}: only {faults} of {pages} pages faulted in again, so it kept freed memory"
        assert arenas == 1, f"{mode}: {arenas} malloc arenas (one per thread fragments the heap)"


@pytest.mark.model
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc")
def test_the_probe_is_not_fooled_by_a_free_hole_in_the_heap() -> None:
    """The sidebar's probe once saw 0 page faults under heavy load: its 64 MB buffer fitted a
    free hole that loading and warming up the model had left in the heap (where the model's
    threads allocate varies with the load), so it measured the hole, not whether glibc keeps
    freed memory. With a hole of 80 MB made on purpose it still measures the setting."""
    pages, faults, _ = _probe("sidebar", "hole")
    assert faults >= pages // 2, f"sidebar with a free hole: only {faults} of {pages} pages faulted in again"
    pages, faults, _ = _probe("qa", "hole")
    assert faults < pages // 20, f"qa with a free hole: {faults} page faults to reuse a freed {pages}-page buffer"


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


_FULL_WINDOW_PROBE = """
import ctypes, sys
from pathlib import Path
import numpy as np
from rapport_assist.live import LiveSettings
from rapport_assist.recognizer import Recognizer

def anon_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024

if sys.argv[2] == "qa":
    from rapport_assist.qa.runner import QaSettings
    options = QaSettings(out_dir=Path("out"), cache_dir=Path("cache"), rule_paths=()).recognizer_options()
else:
    options = LiveSettings().recognizer  # as a live call or the sidebar builds it
recognizer = Recognizer(options)
recognizer.warm_up()
seen = []
model = recognizer.model
encode = model.encode
model.encode = lambda features: (seen.append((features.shape[-1], anon_mb())), encode(features))[1]
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
audio = (0.1 * np.sin(np.arange(32000) / 7)).astype(np.float32)
for frames in (int(sys.argv[1]), None):
    # another thread's garbage: 40 MB of small blocks freed under a block still in use (the heap
    # cannot shrink from its top), its pages resident until a malloc_trim
    blocks = [libc.malloc(16384) for _ in range(2560)]
    for b in blocks:
        ctypes.memset(b, 1, 16384)
    pin = libc.malloc(1024)
    for b in blocks:
        libc.free(b)
    before = anon_mb()
    recognizer._decode_in(audio, None, frames, None)
    print(frames, round(before - seen[-1][1], 1))
"""


@pytest.mark.model
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc")
def test_a_live_recognizer_gives_free_heap_back_before_a_full_window_decoding_qa_keeps_it() -> None:
    """The full 30 s window is a live call's memory peak (its encoder's attention): the heap's
    free pages go back to the system before it starts; a short window's decoding keeps them, and
    so does qa's recognizer, which keeps freed memory for reuse (``keep_freed_memory``)."""

    def probe(path: str) -> tuple[float, float]:
        out = subprocess.run(
            [sys.executable, "-c", _FULL_WINDOW_PROBE, "1000", path], capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr
        short, full = (line.split() for line in out.stdout.splitlines()[-2:])
        assert short[0] == "1000" and full[0] == "None"
        return float(short[1]), float(full[1])  # MB given back between the garbage and the encoder

    short, full = probe("live")
    assert short < 5 and full > 20, (short, full)  # (of 40 MB freed)
    short, full = probe("qa")
    assert short < 5 and full < 5, (short, full)
