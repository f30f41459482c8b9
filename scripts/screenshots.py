"""Screenshots of the real sidebar window for docs/ (and CI: tests/test_screenshots.py runs this).

    xvfb-run -a .venv/bin/python scripts/screenshots.py            # writes docs/sidebar-*.png
    .venv/bin/python scripts/screenshots.py --out /tmp/shots        # re-runs itself under xvfb-run if no display

Shots: during a call (normal), a flood of nudges held back by the attention budget, QA review
with the timeline, the dark style, the settings dialog, the call summary at the end of a call,
and 200 % scaling (the sidebar, the settings dialog and the call summary). Every event comes from the bundled demo
call run through the real pipeline and rules (the flood: real rules' nudges at one moment).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ("normal", "flood", "qa", "dark", "settings", "summary", "scaled")
WIDTH, HEIGHT = 360, 820


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs (default: docs/)")
    p.add_argument("--only", choices=SHOTS, action="append", help="just these shots (repeatable)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    shots = args.only or list(SHOTS)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            print(
                "screenshots: no display and no xvfb-run; install xvfb (make setup does) or run under a desktop",
                file=sys.stderr,
            )
            return 2
        return subprocess.call([xvfb, "-a", "-s", "-screen 0 1440x900x24", sys.executable, __file__, *argv])
    args.out.mkdir(parents=True, exist_ok=True)
    if "scaled" in shots:  # the scale factor must be set before Qt starts: its own process
        shots.remove("scaled")
        env = dict(os.environ, QT_SCALE_FACTOR="2", QT_QPA_PLATFORM="xcb")
        scaled = args.out / "scaled"
        code = subprocess.call(
            [
                sys.executable,
                __file__,
                "--out",
                str(scaled),
                "--only",
                "normal",
                "--only",
                "settings",
                "--only",
                "summary",
            ],
            env=env,
        )
        if code:
            return code
        (scaled / "sidebar-normal.png").replace(args.out / "sidebar-scaled.png")
        (scaled / "sidebar-settings.png").replace(args.out / "sidebar-settings-scaled.png")
        (scaled / "sidebar-summary.png").replace(args.out / "sidebar-summary-scaled.png")
        scaled.rmdir()
        if not shots:
            return 0
    os.environ["QT_QPA_PLATFORM"] = "xcb"  # a real X11 window (not the offscreen renderer)
    return take(shots, args.out)


def take(shots: list[str], out: Path) -> int:
    import math

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from rapport_assist.annotate import Annotator
    from rapport_assist.gui.app import DEMO_TRANSCRIPT, SidebarOptions, application, build_window
    from rapport_assist.playback import pipeline_events, with_speech_marks
    from rapport_assist.rules import default_rules_dir
    from rapport_assist.sources import ReplayInput
    from rapport_assist.assist import event_time
    from rapport_assist.types import CallSummary, Evidence, Nudge

    app = application()
    tmp = Path(tempfile.mkdtemp(prefix="rapport-shots-"))
    annotator = Annotator()
    written: dict[str, str] = {}

    class Feed:
        """A runner that hands the window a fixed list of events (a live call, as it would look)."""

        def __init__(self, events):
            self.events = events

        def start(self, on_event):
            for e in self.events:
                on_event(e)

        def stop(self, wait=True):
            pass

        def join(self, timeout_s):
            return True

    def window_for(style: str):
        options = SidebarOptions(
            rules=[default_rules_dir()],
            style=style,
            warm_up=False,
            settings_path=tmp / f"{style}.ini",
            feedback_path=tmp / "feedback.jsonl",
        )
        window, backend = build_window(options)
        backend.annotator = lambda: annotator  # type: ignore[method-assign]
        window.cards.animate = False
        window.resize(WIDTH, HEIGHT)
        window.move(1440 - WIDTH - 20, 20)
        window.show()
        return window

    def settle(ms: int = 300) -> None:
        end = QTimer()
        end.setSingleShot(True)
        end.start(ms)
        while end.isActive():
            app.processEvents()

    def save(window, name: str, widget=None) -> None:
        settle()
        path = out / f"sidebar-{name}.png"
        if not (widget or window).grab().save(str(path)):
            raise SystemExit(f"screenshots: could not write {path}")
        written[name] = str(path)
        window.close()

    ruleset = window_for("light").rules.ruleset
    demo = list(
        with_speech_marks(
            pipeline_events(ReplayInput(path=DEMO_TRANSCRIPT), ruleset, lambda: None, lambda: annotator)()
        )
    )

    def during_call(style: str, until_s: float) -> None:
        window = window_for(style)
        events = [e for e in demo if not isinstance(e, CallSummary) and (event_time(e) or 0.0) <= until_s]
        window.model.set_status("microphone", "ok", "demo call (bundled recording)")
        window.model.set_status("customer", "ok", "demo call (bundled recording)")
        window.model.set_status("recognizer", "ok", "ready (tiny.en, int8)")
        window.controller.start(Feed(events), "demo call", "live")
        settle()
        window.model.advance(until_s)
        window.controller.timer.stop()
        window.timer_label.setText(
            "0:{:02d}".format(int(until_s)) if until_s < 60 else f"{int(until_s) // 60}:{int(until_s) % 60:02d}"
        )
        window.controller.mode = "live"
        save(window, "normal" if style == "light" else "dark")

    if "normal" in shots:
        during_call("light", 50.0)
    if "dark" in shots:
        during_call("dark", 50.0)
    if "flood" in shots:
        window = window_for("light")
        flood = []
        for i, rule in enumerate(r for r in ruleset.rules if r.message and "abus" not in r.id):
            # each nudge quotes the last turn of its rule's own first "fires" example
            fires = [ex for ex in rule.examples if ex.kind == "fires"]
            turn = fires[0].turns[fires[0].at if fires[0].at is not None else -1] if fires else None
            evidence = (Evidence(1000 + i, turn.speaker, turn.text, 60.0, 60.0),) if turn else ()
            # each about a turn of its own (nudges about one turn would share a card)
            flood.append(
                Nudge(
                    rule=rule.id,
                    severity=rule.severity,
                    title=rule.title,  # type: ignore[arg-type]
                    message=rule.message.split("{")[0].strip() or rule.title,
                    t_s=60.0 + 0.2 * i,
                    utterance_index=1000 + i,
                    evidence=evidence,
                    why=rule.why,
                    rule_source=rule.source,
                )
            )
        window.controller.start(
            Feed([e for e in demo if not isinstance(e, CallSummary) and (event_time(e) or 0) < 60] + flood),
            "demo call",
            "live",
        )
        settle()
        window.model.advance(64.0)
        window.controller.timer.stop()
        window.timer_label.setText("1:04")
        save(window, "flood")
    if "qa" in shots:
        window = window_for("light")
        window.transcript_section.toggle.setChecked(True)
        window.open_qa(DEMO_TRANSCRIPT, speed=math.inf)
        for _ in range(200):
            settle(50)
            if window.model.ended:
                break
        window.controller.runner.pause()
        window.seek(64.0)
        window.set_speed(2.0)
        settle(400)
        window.controller.timer.stop()
        window._on_tick(64.0)
        save(window, "qa")
    if "summary" in shots:  # the demo call to its end: the call summary card at the top of the panel
        window = window_for("light")
        window.model.set_status("microphone", "ok", "demo call (bundled recording)")
        window.model.set_status("customer", "ok", "demo call (bundled recording)")
        window.model.set_status("recognizer", "ok", "ready (tiny.en, int8)")
        window.controller.start(Feed(demo), "demo call", "live")
        settle()
        window.controller.stop()  # the agent ended the call
        window.timer_label.setText("1:35")
        save(window, "summary")
    if "settings" in shots:
        from rapport_assist.gui.settings_dialog import SettingsDialog

        window = window_for("light")
        devices = [
            ("alsa_input.usb-headset", "USB Headset Microphone"),
            ("alsa_output.pci.monitor", "Built-in Audio Analog Stereo (monitor)"),
        ]
        dialog = SettingsDialog(window.prefs, devices, "", window)
        dialog.mic.setCurrentIndex(1)
        dialog.customer.setCurrentIndex(2)
        dialog.show()
        dialog.adjustSize()
        save(window, "settings", dialog)
    print(json.dumps(written))
    QApplication.closeAllWindows()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
