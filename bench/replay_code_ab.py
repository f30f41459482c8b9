"""Two versions of the code in one process, text replay alternated: ``rapport-assist replay
call.jsonl`` (spaCy -> signals -> rules -> text printer) of an earlier commit and of this
checkout over the same transcripts, each with its own spaCy pipeline as its ``load_spacy``
sets it up, so both see the same load (``rules_code_ab.py`` does the same for the rules alone).

Usage:
    .venv/bin/python bench/replay_code_ab.py BASE_COMMIT [DIALOGUES.jsonl ...] [--repeat N] [--wall]

BASE_COMMIT's package is taken as ``rapport_assist_base`` (see ``rules_code_ab.py``); both load
this checkout's ``rules/`` (``--base-packs``: the base its own commit's, to scale an old figure
measured with them). Dialogues as ``rules_speed.py`` (default: the two dev sets in ``../shared``), each one call, replayed as a transcript (read ahead, spaCy in batches). Each
version replays every call once untimed first (spaCy's caches warm). Prints ms per utterance
(median and fastest of ``--repeat`` passes each, alternated), utterances per second and the
ratio. The clock is this thread's CPU time, or with ``--wall`` the wall clock.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rules_code_ab import BASE, extract_base, rules_folder  # noqa: E402
from rules_speed import DEFAULT_FILES, REPO, write_transcripts  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="the commit to compare with (e.g. main)")
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=5, help="timed passes of each version (default 5)")
    ap.add_argument("--wall", action="store_true", help="time with the wall clock, not this thread's CPU time")
    ap.add_argument(
        "--base-packs", action="store_true", help="the base loads its own commit's rules/ (default: this checkout's)"
    )
    args = ap.parse_args(argv)
    clock = time.perf_counter if args.wall else time.thread_time

    with tempfile.TemporaryDirectory() as tmp:
        short = extract_base(args.base, Path(tmp))
        base_rules = rules_folder(args.base if args.base_packs else None, Path(tmp))
        sys.path.insert(0, tmp)
        files = args.files or [f for f in DEFAULT_FILES if f.exists()]
        transcripts = [t for f in files for t in write_transcripts(f, Path(tmp) / "calls").transcripts]
        devnull = open(os.devnull, "w", encoding="utf-8")
        versions = {}
        for name, package in (("this checkout", "rapport_assist"), (f"base {short}", BASE)):
            annotate = importlib.import_module(package + ".annotate")
            output = importlib.import_module(package + ".output")
            pipeline = importlib.import_module(package + ".pipeline")
            rules = importlib.import_module(package + ".rules")
            sources = importlib.import_module(package + ".sources")
            types = importlib.import_module(package + ".types")
            packs = base_rules if package == BASE else REPO / "rules"
            call = pipeline.CallPipeline(annotate.Annotator(), rules.RuleEngine(rules.load_rules([packs])))

            def replay(call=call, output=output, sources=sources, types=types) -> int:
                sink = output.TextSink(devnull, os.devnull)
                n = 0
                for path in transcripts:
                    source = sources.open_replay(sources.ReplayInput(path=path), None)
                    for event in call.run(source.items(), audio_s=source.audio_s):
                        sink.write(event)
                        n += isinstance(event, types.Utterance)
                return n

            n = replay()  # warm
            versions[name] = replay
        spent: dict[str, list[float]] = {name: [] for name in versions}
        for _ in range(args.repeat):
            for name, replay in versions.items():
                started = clock()
                assert replay() == n
                spent[name].append((clock() - started) / n * 1e3)
        devnull.close()
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(
        f"text replay, ms per utterance over {n} utterances ({'wall clock' if args.wall else 'CPU time'}, "
        f"{args.repeat} alternated passes each, load {load}): median (fastest)"
    )
    for name, ms in spent.items():
        print(f"  {name:<22} {statistics.median(ms):7.3f} ({min(ms):.3f})  {1e3 / statistics.median(ms):>6,.0f} utt/s")
    new, base = (spent[name] for name in versions)
    print(
        f"  speed-up: {statistics.median(base) / statistics.median(new):.2f}x on medians, "
        f"{min(base) / min(new):.2f}x on the fastest passes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
