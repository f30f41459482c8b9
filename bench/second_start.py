"""A second start of the sidebar while one is open (the menu entry clicked while the panel opened
at login runs): how long until it has handed over to the open panel and ended.

    .venv/bin/python bench/second_start.py [--runs 10]

Opens one sidebar (offscreen Qt, its own settings file, the demo call offered as without a
microphone), waits until it shows, then runs ``rapport-assist sidebar`` with the same settings
``--runs`` times, one after another, and prints the wall time of each from spawn to exit
(p50, p95, max), next to one start of a panel of its own (other settings) up to its window shown
and its models ready (``--exit-when-ready``), which is what a second start would cost without
the hand-over. Ctrl-C closes the first panel as usual.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

EXE = Path(sys.executable).with_name("rapport-assist")


def wait_shown(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Offscreen Qt writes 'propagateSizeHints' on stderr when the window shows."""
    found = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            if "propagateSizeHints" in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    return found.wait(timeout_s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RAPPORT_ASSIST_DATA=tmp)
        settings = Path(tmp) / "s.ini"
        first = subprocess.Popen(
            [str(EXE), "sidebar", "--settings", str(settings)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            if not wait_shown(first, 120):
                print("the first sidebar did not show", file=sys.stderr)
                return 1
            time.sleep(3)  # its models load behind the window: measured once they have
            seconds = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                done = subprocess.run(
                    [str(EXE), "sidebar", "--settings", str(settings)], capture_output=True, text=True, env=env
                )
                seconds.append(time.perf_counter() - t0)
                if done.returncode != 0 or "already open" not in done.stderr:
                    print(f"a second start did not hand over: {done.stderr[-500:]}", file=sys.stderr)
                    return 1
            t0 = time.perf_counter()
            own = subprocess.run(
                [str(EXE), "sidebar", "--exit-when-ready", "--settings", str(Path(tmp) / "own.ini")],
                capture_output=True,
                text=True,
                env=env,
            )
            own_s = time.perf_counter() - t0
            report = json.loads(own.stdout.strip().splitlines()[-1])
        finally:
            first.send_signal(signal.SIGINT)
            first.wait(90)
    seconds.sort()
    p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
    print(
        f"second start, handed over and ended ({len(seconds)} runs): p50 {statistics.median(seconds):.2f} s, "
        f"p95 {p95:.2f} s, max {seconds[-1]:.2f} s"
    )
    print(
        f"a panel of its own instead: window shown {report['window_shown_s']:.2f} s, ready {report['ready_s']:.2f} s "
        f"(process ended after {own_s:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
