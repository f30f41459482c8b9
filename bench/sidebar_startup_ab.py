"""Sidebar start-up of an earlier commit and of this checkout, alternated in the same minutes.

    .venv/bin/python bench/sidebar_startup_ab.py BASE_COMMIT [--pairs 8]

This host's speed per CPU-second drifts by up to 1.5x within an hour (BENCHMARKS.md), so two
start-ups are only comparable when measured in turns. Each pair starts
``rapport-assist sidebar --exit-when-ready`` (Qt offscreen unless a display is set) once from
BASE_COMMIT's ``src/``, ``rules/`` and ``ui/`` (``git archive`` into a temporary folder) and
once from this checkout, in ABBA order, each in a fresh process with the same Python
(``sys.executable``). Timed from spawning the process to its "ready" line (window shown,
rules loaded, tiny.en loaded and warmed up, spaCy loaded); also the CPU the process had used
by then (user + system, from /proc), and the load average before each pair. Prints every
start and the p50 / min / max of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def extract(commit: str, folder: Path) -> str:
    """``commit``'s src/, rules/ and ui/ under ``folder``; returns its short hash."""
    short = subprocess.run(
        ["git", "rev-parse", "--short", commit], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", commit, "src", "rules", "ui"], cwd=REPO, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return short


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_once(tree: Path, tmp: Path) -> tuple[float, float, float]:
    """(wall seconds to ready, CPU seconds to ready, the app's own ready_s) of one start."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), RAPPORT_ASSIST_DATA=str(tmp / "data"))
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    command = [sys.executable, "-m", "rapport_assist.cli", "sidebar", "--exit-when-ready"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*command, "--settings", str(tmp / "s.ini")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=tmp,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    wall = time.perf_counter() - started
    cpu = cpu_s(proc.pid)
    proc.wait(timeout=120)
    report = json.loads(line)
    if not str(report.get("rules", "")).endswith("loaded") or "ready" not in str(report.get("recognizer", "")):
        raise SystemExit(f"{tree}: not ready as expected: {line.strip()}")
    return wall, cpu, float(report["ready_s"])


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):5.2f} / {min(values):5.2f} / {max(values):5.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="the commit to compare with (e.g. main)")
    ap.add_argument("--pairs", type=int, default=8, help="starts of each version (default 8)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "base").mkdir()
        short = extract(args.base, tmp / "base")
        trees = {f"base {short}": tmp / "base", "this checkout": REPO}
        results: dict[str, list[tuple[float, float, float]]] = {label: [] for label in trees}
        loads = []
        for i in range(args.pairs):
            load = Path("/proc/loadavg").read_text().split()[0]
            loads.append(float(load))
            order = list(trees) if i % 2 == 0 else list(reversed(trees))
            for label in order:
                wall, cpu, ready = start_once(trees[label], tmp)
                results[label].append((wall, cpu, ready))
                print(f"pair {i + 1} (load {load}) {label:14s}: ready {wall:5.2f} s, CPU {cpu:5.2f} s", flush=True)
    print(
        f"\nsidebar start-up to ready, {args.pairs} alternated pairs, load average {min(loads):.1f}-{max(loads):.1f}"
        " (p50 / min / max):"
    )
    for label, runs in results.items():
        print(f"  {label:14s}  wall {summary([r[0] for r in runs])} s   CPU {summary([r[1] for r in runs])} s")
    base, new = (results[label] for label in trees)
    ratio = statistics.median(n[0] / b[0] for b, n in zip(base, new))
    print(f"  this checkout / base, wall, median over the pairs: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
