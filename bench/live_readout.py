"""A card and a phone number read out live, again and again: is any of it lost or shown?

A private PulseAudio server gets two null sinks; espeak-ng reads "My card number is 4 9 2 9,
3 8 1 0, 4 6 7 2, 8 1 5 4. Call me at 5 5 5, 8 6 7, 5 3 0 9." into the customer's, and
``rapport-assist live --record`` captures both monitors, as ``tests/test_privacy.py`` does once.
Under load the endpointer cuts the reading at its pauses in ever other places (playback stalls
make a comma's pause long enough), so the run is repeated and counted:

* lost: the customer's utterances leave a gap of 1 s or more, or cover under 80% of the speech
  (a piece was dropped by the guards);
* shown: a digit group of the card or phone number (other than the last 4, shown by design)
  appears in any output or in the call record.

    .venv/bin/python bench/live_readout.py --runs 20          # add --busy to keep one core busy

Prints each run's utterances and the counts, with the load average.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pulse_server import PulseServer  # noqa: E402  (the tests' helper: a private PulseAudio daemon)

from rapport_assist.audio import decode_channels  # noqa: E402
from rapport_assist.cli import main  # noqa: E402

READOUT = "My card number is 4 9 2 9, 3 8 1 0, 4 6 7 2, 8 1 5 4. Call me at 5 5 5, 8 6 7, 5 3 0 9."
GROUPS = ("4929", "3810", "4672", "555", "867")  # the groups that must never be shown


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _shown(folder: Path) -> list[str]:
    """The groups of ``GROUPS`` found in the text of any JSON line under ``folder`` (digits with
    separators between them, as the recognizer writes them: "4929", "4-9-2-9", "4.9 2 9")."""
    texts = []
    for path in folder.rglob("*.jsonl"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                texts += _strings(json.loads(line))
            except ValueError:
                texts.append(line)
    found = set()
    for group in GROUPS:
        pattern = re.compile(r"(?<!\d)" + r"[\s.,-]*".join(group) + r"(?!\d)")
        found.update(group for text in texts if pattern.search(text))
    return sorted(found)


def main_(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--busy", action="store_true", help="keep one core busy with a CPU-bound process")
    args = p.parse_args(argv)
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is not installed: run 'make setup'")
    tmp = Path(tempfile.mkdtemp(prefix="readout-"))
    subprocess.run([espeak, "-v", "en-us", "-w", str(tmp / "readout.wav"), READOUT], check=True)
    speech = decode_channels(tmp / "readout.wav").channels[0]
    speech_s = len(speech) / 16000
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    lost = shown = 0
    dropped: list[str] = []  # the recognizer's reasons for dropping a segment (debug log)

    class _Drops(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("dropped"):
                dropped.append(record.getMessage())

    recognizer_log = logging.getLogger("rapport_assist.recognizer")
    recognizer_log.setLevel(logging.DEBUG)
    recognizer_log.addHandler(_Drops())
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    try:
        with PulseServer(["agent_line", "customer_line"]) as pulse:
            for run in range(args.runs):
                out = tmp / f"run{run}"
                out.mkdir()
                dropped.clear()
                timer = threading.Timer(3.0, pulse.play, [{"customer_line": speech}])
                timer.start()
                stdout, stderr = io.StringIO(), io.StringIO()
                argv_live = ["live", "--agent", "pulse:agent_line.monitor", "--customer", "pulse:customer_line.monitor"]
                argv_live += ["--seconds", str(7.0 + speech_s), "--record", str(out / "calls"), "--no-save"]
                argv_live += ["--format", "jsonl", "--out", str(out / "events.jsonl")]
                code = main(argv_live, stdout, stderr)
                timer.join()
                (out / "stdout.jsonl").write_text(stdout.getvalue())
                said = [json.loads(line) for line in stdout.getvalue().splitlines() if '"utterance"' in line]
                spans = [(u["start"], u["end"]) for u in said if u["speaker"] == "customer"]
                gap = max((b[0] - a[1] for a, b in zip(spans, spans[1:])), default=0.0)
                covered = sum(end - start for start, end in spans)
                run_lost = code != 0 or not spans or gap >= 1.0 or covered < 0.8 * speech_s
                run_shown = _shown(out)
                lost += run_lost
                shown += bool(run_shown)
                flags = ("LOST " if run_lost else "") + (f"SHOWN {run_shown} " if run_shown else "")
                texts = [f'{u["start"]:.2f}-{u["end"]:.2f} {u["text"]}' for u in said if u["speaker"] == "customer"]
                print(f"{run:3d} {flags or 'ok '} {' | '.join(texts)}", flush=True)
                for reason in dropped if run_lost else ():
                    print(f"      {reason}")
    finally:
        if busy is not None:
            busy.kill()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"runs {args.runs}: speech lost in {lost}, a digit group shown in {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
