"""Two versions of the rule engine's code in one process, timed passes alternated: the rules
alone (as ``rules_speed.py`` times them) of an earlier commit and of this checkout, on the same
Docs and the same rule packs, so both see the same load (separate runs on a busy host scatter
by 2x and cannot show a 20% change).

Usage:
    .venv/bin/python bench/rules_code_ab.py BASE_COMMIT [DIALOGUES.jsonl ...] [--repeat N] [--wall]

BASE_COMMIT's ``src/rapport_assist`` is taken with ``git archive`` into a temporary folder as the
package ``rapport_assist_base`` (its imports are relative, so it runs beside this checkout's
``rapport_assist``). Both engines load this checkout's ``rules/`` (``--base-packs``: the base its own
commit's, to scale an old figure measured with them); spaCy runs once and both read
the same Docs; each package's signals stage prepares its own utterances. Dialogues as
``rules_speed.py`` (default: the two dev sets in ``../shared``).

Prints, per version, µs per utterance of the rules alone (median and fastest of ``--repeat``
passes each, alternated) and the ratio. The clock is this thread's CPU time (what the passes
cost, less the time the scheduler gave other jobs; a busy host still slows it through shared
caches), or with ``--wall`` the wall clock.
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rules_speed  # noqa: E402
from rules_speed import DEFAULT_FILES, REPO, timed_pass, write_transcripts  # noqa: E402

BASE = "rapport_assist_base"


def extract_base(commit: str, folder: Path) -> str:
    """``commit``'s package, as ``rapport_assist_base`` under ``folder``; returns its short hash."""
    short = subprocess.run(
        ["git", "rev-parse", "--short", commit], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    tar = subprocess.run(
        ["git", "archive", commit, "src/rapport_assist"], cwd=REPO, capture_output=True, check=True
    ).stdout
    prefix = "src/rapport_assist"
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive.getmembers():
            if member.name.startswith(prefix):
                member.name = BASE + member.name[len(prefix) :]
                archive.extract(member, folder)
    return short


def rules_folder(commit: str | None, folder: Path) -> Path:
    """This checkout's ``rules/``, or ``commit``'s (extracted under ``folder``)."""
    if not commit:
        return REPO / "rules"
    tar = subprocess.run(["git", "archive", commit, "rules"], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(folder / "packs", filter="data")
    return folder / "packs" / "rules"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="the commit to compare with (e.g. main)")
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=9, help="timed passes of each version (default 9)")
    ap.add_argument("--wall", action="store_true", help="time with the wall clock, not this thread's CPU time")
    ap.add_argument(
        "--base-packs", action="store_true", help="the base loads its own commit's rules/ (default: this checkout's)"
    )
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        short = extract_base(args.base, Path(tmp))
        base_rules = rules_folder(args.base if args.base_packs else None, Path(tmp))
        sys.path.insert(0, tmp)
        files = args.files or [f for f in DEFAULT_FILES if f.exists()]
        transcripts = [t for f in files for t in write_transcripts(f, Path(tmp) / "calls").transcripts]
        rules_dir = REPO / "rules"
        docs: list[list] = []  # per call, the Docs spaCy made (once, for both)
        prepared = {}
        for name, package in (("this checkout", "rapport_assist"), (f"base {short}", BASE)):
            annotate = importlib.import_module(package + ".annotate")
            rules = importlib.import_module(package + ".rules")
            signals = importlib.import_module(package + ".signals")
            transcript = importlib.import_module(package + ".transcript")
            calls = [list(transcript.read_transcript(t)) for t in transcripts]
            if not docs:
                annotator = annotate.Annotator()
                docs = [[au.doc for au in annotator.annotate_many(call)] for call in calls]
            ruleset = rules.load_rules([rules_dir if package != BASE else base_rules])
            engine = rules.RuleEngine(ruleset)
            tracker = signals.SignalTracker(ruleset, compiler=engine.compiler)
            ready = []
            for call, call_docs in zip(calls, docs):
                tracker.start_call()
                ready.append(
                    [tracker.on_utterance(annotate.AnnotatedUtterance(u, d))[0] for u, d in zip(call, call_docs)]
                )
            left = {id(au): (au.features, dict(au.features.cache)) for call in ready for au in call}
            prepared[name] = (engine, ready, left)

    n = sum(len(call) for call in docs)
    clock = time.perf_counter if args.wall else time.thread_time
    rules_speed.time = types.SimpleNamespace(perf_counter=clock)  # type: ignore[assignment]  # timed_pass's clock
    for engine, ready, left in prepared.values():
        timed_pass(engine, ready, left)  # warm
    spent: dict[str, list[float]] = {name: [] for name in prepared}
    for _ in range(args.repeat):
        for name, (engine, ready, left) in prepared.items():
            spent[name].append(timed_pass(engine, ready, left) / n * 1e6)
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(
        f"rules alone, µs per utterance over {n} utterances ({'wall clock' if args.wall else 'CPU time'}, "
        f"{args.repeat} alternated passes each, load {load}): median (fastest)"
    )
    for name, us in spent.items():
        print(f"  {name:<22} {statistics.median(us):8.1f} ({min(us):.1f})  {1e6 / statistics.median(us):>8,.0f} utt/s")
    (new, base) = (spent[name] for name in prepared)
    print(
        f"  speed-up: {statistics.median(base) / statistics.median(new):.2f}x on medians, "
        f"{min(base) / min(new):.2f}x on the fastest passes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
