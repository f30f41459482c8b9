"""Sidebar startup to ready-to-listen, and memory over a simulated 30-minute call.

    .venv/bin/python bench/sidebar_startup.py                 # 5 starts + the 30-minute call
    .venv/bin/python bench/sidebar_startup.py --runs 3 --minutes 10
    .venv/bin/python bench/sidebar_startup.py --runs 0 --live 1     # memory on a live call instead

Startup: ``rapport-assist sidebar --exit-when-ready`` in a fresh process, timed from spawning
it to its "ready" line: the window shown, the speech model loaded and warmed up, spaCy
loaded. Printed per stage as p50 (and max) over the runs, from process start.

Memory: the real window (Qt offscreen unless a display is set) with the speech model and spaCy
loaded, fed a call made by looping the bundled demo transcript to N minutes, replayed through
the pipeline and the panel at "max" speed. RSS (VmRSS) before and after, and the peak (VmHWM).
With ``--live N``: the window on a live call instead (real PulseAudio null sinks, the demo call
played N times; recognition with its 30 s fallbacks and captions, which the replay does not run).
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

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "rapport_assist" / "data" / "demo_call.flac"


def status_mb(*keys: str) -> tuple[float, ...]:
    """Fields of /proc/self/status in MB, in the order asked."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in keys:
            values[key] = int(rest.split()[0]) / 1024
    return tuple(values[key] for key in keys)


def rss_mb() -> tuple[float, float]:
    return status_mb("VmRSS", "VmHWM")  # type: ignore[return-value]


def anon_file_mb() -> tuple[float, float]:
    """RssAnon, RssFile: memory the process allocated, and pages of mapped files (libraries)
    counted in its RSS, which depends on the page cache as much as on the code (BENCHMARKS.md)."""
    return status_mb("RssAnon", "RssFile")  # type: ignore[return-value]


def startup(runs: int) -> dict[str, list[float]]:
    exe = Path(sys.executable).with_name("rapport-assist")
    env = dict(os.environ)
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env["RAPPORT_ASSIST_DATA"] = tmp
        for i in range(runs):
            started = time.perf_counter()
            proc = subprocess.Popen(
                [str(exe), "sidebar", "--exit-when-ready", "--settings", f"{tmp}/s.ini"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline()
            ready_wall = time.perf_counter() - started
            proc.wait(timeout=60)
            child = json.loads(line)
            offset = ready_wall - child["ready_s"]  # process start -> the gui module's clock
            stages = {k.removesuffix("_s"): offset + v for k, v in child.items() if k.endswith("_s")}
            for key, value in stages.items():
                out.setdefault(key, []).append(value)
            print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()), flush=True)
    return out


def looped_transcript(minutes: float, folder: Path) -> tuple[Path, int]:
    demo = [json.loads(line) for line in (ROOT / "src/rapport_assist/data/demo_call.jsonl").read_text().splitlines()]
    length = max(t["end"] for t in demo) + 2.0
    lines, offset = [], 0.0
    while offset + length <= minutes * 60:
        for t in demo:
            lines.append(json.dumps({**t, "start": round(t["start"] + offset, 3), "end": round(t["end"] + offset, 3)}))
        offset += length
    path = folder / "long_call.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, len(lines)


def memory(minutes: float, speed: float = float("inf"), trace: bool = False) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import math

    import rapport_assist.gui  # noqa: F401  (first, as the sidebar command imports Qt: gui/__init__.py)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from rapport_assist.gui.app import SidebarOptions, application, build_window
    from rapport_assist.rules import default_rules_dir

    app = application()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        call, n_lines = looped_transcript(minutes, folder)
        options = SidebarOptions(
            rules=[default_rules_dir()], settings_path=folder / "s.ini", feedback_path=folder / "f.jsonl"
        )
        window, backend = build_window(options)
        backend.warm_up()
        window.show()
        backend.recognizer()
        backend.annotator()
        app.processEvents()
        if trace:
            import tracemalloc

            tracemalloc.start(8)
            traced = [tracemalloc.take_snapshot()]
        before, _ = rss_mb()
        started = time.perf_counter()
        window.open_qa(call, speed=speed)
        peak_cards = 0
        marks: list[tuple[float, float]] = []

        def poll() -> None:  # in the application's own event loop, as when an agent uses it
            nonlocal peak_cards
            peak_cards = max(peak_cards, len(window.cards.widgets))
            if window.model.now_s >= 300 * (len(marks) + 1):
                marks.append((window.model.now_s / 60, rss_mb()[0]))
                if speed != math.inf:
                    print(f"  {marks[-1][0]:.0f} min: RSS {marks[-1][1]:.0f} MB, {mallinfo_mb()}", flush=True)
            if window.model.ended:
                QTimer.singleShot(500, app.quit)  # let fades and deferred deletes finish
            else:
                QTimer.singleShot(20, poll)

        QTimer.singleShot(20, poll)
        app.exec()
        took = time.perf_counter() - started - 0.5
        after, peak = rss_mb()
        from rapport_assist.recognizer import release_free_memory

        if trace:
            print("Python allocations that grew most over the call (tracemalloc):")
            for stat in tracemalloc.take_snapshot().compare_to(traced[0], "traceback")[:12]:
                print(
                    f"  {stat.size_diff / 1024:+.0f} kB in {stat.count_diff:+d} blocks: "
                    + " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback[:4])
                )
            tracemalloc.stop()
        release_free_memory()  # what of the growth is free heap pages not yet given back
        trimmed, _ = rss_mb()
        result = {
            "call_minutes": window.model.now_s / 60,
            "utterances": n_lines,
            "replay_s": took,
            "rss_before_mb": before,
            "rss_after_mb": after,
            "rss_peak_mb": peak,
            "rss_after_trim_mb": trimmed,
            "promises": len(window.model.promises),
            "transcript_kept": len(window.model.transcript),
            "history_kept": len(window.model.history),
            "max_cards_on_screen": peak_cards,
            "rss_by_minute": marks,
        }
        window.close()
        window.controller.join_stopped()
        QApplication.processEvents()
    return result


def mallinfo_mb() -> dict[str, float]:
    """glibc's ``mallinfo2``: heap in use / free, mmapped chunks (MB); {} off glibc."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (n, ctypes.c_size_t)
            for n in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):
        return {}
    m = libc.mallinfo2()
    return {
        "heap": m.arena / 2**20,
        "in_use": m.uordblks / 2**20,
        "free": m.fordblks / 2**20,
        "mmapped": m.hblkhd / 2**20,
    }


def live_memory(repeats: int, smaps: bool = False, per_minute: bool = False, trace: bool = False) -> dict[str, float]:
    """The real window on a live call: the bundled demo call played ``repeats`` times into two
    PulseAudio null sinks (tests/pulse_server.py) that the panel captures, recognizes (short
    encoder window, doubtful segments again in 30 s, captions) and nudges from."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT / "tests"))
    import rapport_assist.gui  # noqa: F401  (first, as the sidebar command imports Qt: gui/__init__.py)
    from pulse_server import PulseServer
    from PySide6.QtCore import QTimer

    import numpy as np

    from rapport_assist.audio import DecodedAudio
    from rapport_assist.gui.app import SidebarOptions, application, build_window
    from rapport_assist.rules import default_rules_dir

    app = application()
    with tempfile.TemporaryDirectory() as tmp:  # decoded in a child process: PyAV stays out of this one
        decoded = Path(tmp) / "demo.npy"
        decode = "import sys, numpy as np; from rapport_assist.audio import decode_channels as d; from pathlib import Path; np.save(sys.argv[1], np.stack(d(Path(sys.argv[2])).channels[:2]))"
        subprocess.run([sys.executable, "-c", decode, str(decoded), str(DEMO)], check=True)
        sides = np.load(decoded)
    audio = DecodedAudio(DEMO, (sides[0], sides[1]), 16000, 2, sides.shape[1] / 16000)
    with tempfile.TemporaryDirectory() as tmp, PulseServer(["agent_line", "customer_line"]) as pulse:
        folder = Path(tmp)
        os.environ["RAPPORT_ASSIST_DATA"] = str(folder / "data")
        options = SidebarOptions(
            rules=[default_rules_dir()], settings_path=folder / "s.ini", feedback_path=folder / "f.jsonl"
        )
        window, backend = build_window(options)
        window.prefs.set("devices/mic", "pulse:agent_line.monitor")
        window.prefs.set("devices/customer", "pulse:customer_line.monitor")
        backend.warm_up()
        window.show()
        backend.recognizer()
        backend.annotator()
        app.processEvents()
        time.sleep(2.0)
        app.processEvents()
        before, hwm_ready = rss_mb()
        anon_ready, file_ready = anon_file_mb()
        if smaps:
            sys.path.insert(0, str(ROOT / "bench"))
            import smaps as smaps_module

            at_ready = smaps_module.by_mapping()
            smaps_module.report("before the call", at_ready)
        if not window.start_live():
            raise SystemExit(f"the live call did not start: {window.model.status['microphone'].message}")
        pulse.play_looped({"agent_line": audio.channels[0], "customer_line": audio.channels[1]}, repeats)
        duration_s = audio.duration_s
        del audio, sides  # played from files by the sound server's player: not the panel's memory (12 MB)
        until = time.monotonic() + duration_s * repeats + 4.0
        samples: list[float] = []
        largest: list[dict[str, float]] = [{}]
        if per_minute:
            import gc

            sys.path.insert(0, str(ROOT / "bench"))
            import smaps as smaps_module

            minute_maps = [smaps_module.by_mapping()]
            from collections import Counter

            kinds = [Counter(type(o).__name__ for o in gc.get_objects())]
            print(f"  minute 0: RSS {before:.0f} MB, mallinfo {mallinfo_mb()}", flush=True)

        if trace:
            import tracemalloc

            tracemalloc.start(10)
        traced = []

        anon_samples: list[tuple[float, float]] = []

        def poll() -> None:
            samples.append(rss_mb()[0])
            anon_samples.append(anon_file_mb())
            if trace and len(samples) == 90:  # the call's first minute and a half: its buffers made
                traced.append(tracemalloc.take_snapshot())
            if per_minute and len(samples) % 60 == 0:
                floor = min(samples[-60:])
                now = smaps_module.by_mapping()
                grown = sorted(((mb - minute_maps[-1].get(n, 0.0), n) for n, mb in now.items()), reverse=True)
                minute_maps.append(now)
                kinds.append(Counter(type(o).__name__ for o in gc.get_objects()))
                more = (kinds[-1] - kinds[-2]).most_common(5)
                info = ", ".join(f"{k} {v:.1f}" for k, v in mallinfo_mb().items())
                print(
                    f"  minute {len(samples) // 60}: RSS floor {floor:.0f} max {max(samples[-60:]):.0f}, now {samples[-1]:.0f} MB;"
                    f" {info}; lines {len(window.model.transcript)}, py objects {len(gc.get_objects())};"
                    " grew: "
                    + ", ".join(f"{n} {d:+.1f}" for d, n in grown[:4] if d > 0.2)
                    + "; more objects: "
                    + ", ".join(f"{n} +{c}" for n, c in more),
                    flush=True,
                )
            if smaps and samples[-1] >= max(samples):
                largest[0] = smaps_module.by_mapping()
            if time.monotonic() >= until:
                app.quit()
            else:
                QTimer.singleShot(1000, poll)

        QTimer.singleShot(1000, poll)
        app.exec()
        pulse.stop_playing()
        if traced:
            print("Python allocations that grew most from minute 1.5 to the end (tracemalloc):")
            for stat in tracemalloc.take_snapshot().compare_to(traced[0], "traceback")[:15]:
                where = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback[:6])
                print(f"  {stat.size_diff / 1024:+.0f} kB in {stat.count_diff:+d} blocks: {where}")
            tracemalloc.stop()
        utterances = len(window.model.transcript)
        call = backend._live_call
        offers = getattr(getattr(call, "_feed", None), "captions", None)
        offered = (
            (offers.replaced, offers.most_offered_bytes / 2**20, offers.most_held_bytes / 2**20)
            if hasattr(offers, "most_offered_bytes")  # (live_shared.LatestPerSide; before it every offer queued)
            else None
        )
        stats = dict(call.stats) if call is not None else {}
        window.controller.stop()
        window.controller.join_stopped()
        app.processEvents()
        after, peak = rss_mb()
        anon_after, file_after = anon_file_mb()
        if smaps:
            smaps_module.report("at the highest RSS sampled", largest[0], at_ready)
            smaps_module.report("after the call", smaps_module.by_mapping(), at_ready)
            print(
                "  smaps_rollup after: " + ", ".join(f"{k} {v:.0f}" for k, v in smaps_module.rollup().items() if v >= 1)
            )
        window.close()
    return {
        "call_minutes": duration_s * repeats / 60,
        "utterances": utterances,
        "rss_before_mb": before,
        "rss_ready_hwm_mb": hwm_ready,
        "anon_ready_mb": anon_ready,
        "file_ready_mb": file_ready,
        "rss_max_sampled_mb": max(samples),
        "rss_after_mb": after,
        "rss_peak_mb": peak,
        "rss_by_10s": samples[::10],
        "caption_offers": offered,
        "anon_max_sampled_mb": max(a for a, _ in anon_samples),
        "anon_floor_last_minute_mb": min(a for a, _ in anon_samples[-60:]),
        "file_max_sampled_mb": max(f for _, f in anon_samples),
        "anon_after_mb": anon_after,
        "file_after_mb": file_after,
        "stats": stats,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--speed", type=float, default=float("inf"), help="transcript replay speed (default: max)")
    p.add_argument("--tracemalloc", action="store_true", help="transcript replay: what Python allocations grew")
    p.add_argument(
        "--live",
        type=int,
        metavar="N",
        help="instead of the transcript replay: a live call, the demo call played N times through PulseAudio",
    )
    p.add_argument("--smaps", action="store_true", help="with --live: RSS by mapping (/proc/self/smaps)")
    p.add_argument(
        "--per-minute",
        action="store_true",
        help="with --live: each minute the RSS floor (between decodings), glibc's heap and what mappings grew",
    )
    args = p.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    times = startup(args.runs)
    if times:
        print(f"\nstartup, from process start (p50 / min / max over {args.runs} runs):")
    for key in ("window_shown", "rules_loaded", "recognizer_ready", "annotator_ready", "ready"):
        if key in times:
            values = times[key]
            print(f"  {key:18s} {statistics.median(values):5.2f} s / {min(values):5.2f} s / {max(values):5.2f} s")
    if args.live:
        live = live_memory(args.live, args.smaps, args.per_minute, args.tracemalloc)
        print(
            f"\nmemory over a {live['call_minutes']:.1f}-minute live call ({live['utterances']} transcript lines): "
            f"RSS before {live['rss_before_mb']:.0f} MB (peak by then {live['rss_ready_hwm_mb']:.0f}), "
            f"max sampled {live['rss_max_sampled_mb']:.0f}, after {live['rss_after_mb']:.0f} MB, "
            f"peak (VmHWM) {live['rss_peak_mb']:.0f} MB"
        )
        print("  RSS every 10 s: " + ", ".join(f"{r:.0f}" for r in live["rss_by_10s"]))
        print(
            f"  of it allocated (RssAnon): before {live['anon_ready_mb']:.0f} MB (and {live['file_ready_mb']:.0f} MB of"
            f" library and file pages), max sampled {live['anon_max_sampled_mb']:.0f} MB, lowest in the last minute "
            f"{live['anon_floor_last_minute_mb']:.0f}, after {live['anon_after_mb']:.0f}; library and file pages "
            f"(RssFile): max sampled {live['file_max_sampled_mb']:.0f}, after {live['file_after_mb']:.0f} MB"
        )
        st = live["stats"]
        if st:
            print(
                f"  recognizer: {st.get('segments', 0)} segments, {st.get('utterances', 0)} utterances, "
                f"{st.get('caption_passes', 0)} caption passes ({st.get('caption_skipped', 0)} skipped), "
                f"redos {st.get('redo_later', 0)} ({st.get('redo_skipped', 0)} skipped); audio waiting for the "
                f"recognizer at most {st.get('most_waiting_kb', 0) / 1024:.1f} MB"
            )
        if live["caption_offers"] is not None:
            replaced, offered, held = live["caption_offers"]
            print(
                f"  caption offers: {replaced} replaced before the recognizer took them; audio offered and not "
                f"taken at most {offered:.1f} MB at once, held at most {held:.1f} MB"
            )
    elif not args.skip_memory:
        result = memory(args.minutes, args.speed, args.tracemalloc)
        print(
            f"\nmemory over a {result['call_minutes']:.1f}-minute call ({result['utterances']} utterances, "
            f"replayed at max in {result['replay_s']:.1f} s):"
        )
        print(
            f"  RSS before {result['rss_before_mb']:.0f} MB, after {result['rss_after_mb']:.0f} MB, "
            f"peak {result['rss_peak_mb']:.0f} MB; after malloc_trim {result['rss_after_trim_mb']:.0f} MB"
        )
        print("  RSS along the call: " + ", ".join(f"{m:.0f} min {r:.0f} MB" for m, r in result["rss_by_minute"]))
        print(
            f"  kept: {result['transcript_kept']} transcript lines, {result['history_kept']} faded cards, "
            f"{result['promises']} promises; at most {result['max_cards_on_screen']} cards on screen"
        )
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
