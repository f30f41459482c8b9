"""Rule evaluation speed and text-replay speed on the development dialogues, against the targets.

Usage:
    .venv/bin/python bench/rules_speed.py [DIALOGUES.jsonl ...] [--repeat N] [--profile] [--sample]

Inputs (default: ../shared/data/dialogues/scripted_dev.jsonl and twitter_customer_care_dev.jsonl,
or the bundled demo transcript when those are absent): one dialogue per line, ``turns`` of
``speaker``/``text`` with optional ``start``/``end``. Each dialogue is one call. It is written
out as a transcript (links and @handles dropped: nobody says them on a call) and read back with
``read_transcript``, so both measurements below see exactly what ``rapport-assist replay
call.jsonl`` sees (missing times estimated by the transcript reader).

It measures, with the default rule packs (``rules/``):

  * rules alone: each call is annotated and run through the ``SignalTracker`` once beforehand
    (which reads each Doc into the ``Features`` the rules share, as in a call); then only
    ``RuleEngine.start_call`` / ``on_utterance`` / ``finish`` are timed, over all calls,
    ``--repeat`` times, each pass starting from what the signals stage left (no matches cached
    by an earlier pass). Also printed: the rate when the engine reads each Doc itself. Utterances per second (median pass, with the slowest and the
    fastest) and milliseconds per ``on_utterance`` (p50 / p95 / max over every pass).
    Target: 20,000 utterances/s.
  * text replay: the path of ``rapport-assist replay call.jsonl`` for every call in turn —
    ``open_replay`` → ``CallPipeline.run`` (spaCy → signals → rules) → the text printer
    (to /dev/null) — with spaCy loaded once, as batch QA would. Utterances per second, median
    of ``--repeat`` passes, as the replay does it (a transcript is read ahead and annotated in
    batches) and one utterance at a time, as live capture annotates (``--no-one-at-a-time``
    skips the latter). Target: 300 utterances/s. Then the same with the calls shared out over
    ``--processes`` worker processes (default: one per core), as ``rapport-assist qa`` shares
    out a batch: what the machine's cores replay together.

``--profile`` adds a cProfile summary of one rules-alone pass (where ``on_utterance`` spends
its time). ``--sample`` adds a sampled profile of ``--repeat`` x 10 rules-alone passes on the
process's CPU time (a ``SIGPROF`` every 0.3 ms; Unix): the share of samples in each function,
inclusive, then own (the sampled function itself) by function and by line, and in each rule's
conditions. cProfile's clock is the wall clock and its cost per
call is larger than many of the engine's functions; the samples are neither slowed by other
jobs on a busy host nor by the profiler. ``--per-rule`` adds what each rule costs: each rule alone in an engine, over every
call (best of ``--repeat`` passes), minus an engine with no rules — a team lead's new rule can be
priced the same way. Rules share lexicon matches, so the costs add up to more than all rules
together.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay_speed import machine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DIALOGUES = REPO.parent / "shared" / "data" / "dialogues"
DEFAULT_FILES = (DIALOGUES / "scripted_dev.jsonl", DIALOGUES / "twitter_customer_care_dev.jsonl")
DEMO_TRANSCRIPT = REPO / "src" / "rapport_assist" / "data" / "demo_call.jsonl"
RULES_TARGET = 20_000  # utterances/s, rule evaluation alone
REPLAY_TARGET = 300  # utterances/s, text replay with spaCy

URL_OR_HANDLE = re.compile(r"https?://\S+|@\w+|&amp;")


def spoken(text: str) -> str:
    """Text as it could be said on a call: links and @handles (tweets) dropped."""
    return " ".join(URL_OR_HANDLE.sub(" ", text).split()) or "…"


@dataclass
class Corpus:
    name: str
    transcripts: list[Path]  # one per call


def write_transcripts(path: Path, folder: Path) -> Corpus:
    """One transcript file per dialogue of ``path`` (a dialogue file, or a transcript itself)."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if lines and "turns" not in lines[0]:  # already a transcript: one call
        return Corpus(path.name, [path])
    out = folder / path.stem
    out.mkdir(parents=True, exist_ok=True)
    transcripts = []
    for i, dialogue in enumerate(lines):
        rows = []
        for turn in dialogue["turns"]:
            row = {"speaker": turn["speaker"], "text": spoken(turn["text"])}
            if "start" in turn and "end" in turn:
                row.update(start=turn["start"], end=turn["end"])
            rows.append(json.dumps(row, ensure_ascii=False))
        transcript = out / f"{i:04d}.jsonl"
        transcript.write_text("\n".join(rows) + "\n", encoding="utf-8")
        transcripts.append(transcript)
    return Corpus(path.name, transcripts)


def git_state() -> str:
    """The commit measured, and whether the working tree differs from it (others' edits)."""
    import subprocess

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    changed = [line[3:] for line in dirty if line.strip()]
    return commit + (f" + uncommitted changes in {', '.join(changed)}" if changed else " (clean)")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def versus(rate: float, target: int) -> str:
    return f"{rate:,.0f} utt/s ({rate / target:.2f}x the {target:,} target)"


_REPLAY = None  # per worker process: (pipeline, sink) for ``_replay_share``


def _replay_setup() -> None:
    global _REPLAY
    from rapport_assist.annotate import Annotator
    from rapport_assist.output import TextSink
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules

    devnull = open(os.devnull, "w", encoding="utf-8")
    _REPLAY = (CallPipeline(Annotator(), RuleEngine(load_rules([default_rules_dir()]))), TextSink(devnull, os.devnull))


def _replay_share(transcripts: list[Path]) -> int:
    """Replay these transcripts as ``rapport-assist replay`` does; returns the utterances seen."""
    from rapport_assist.sources import ReplayInput, open_replay
    from rapport_assist.types import Utterance

    pipeline, sink = _REPLAY  # type: ignore[misc]
    n = 0
    for path in transcripts:
        source = open_replay(ReplayInput(path=path), None)
        for event in pipeline.run(source.items(), audio_s=source.audio_s):
            sink.write(event)
            n += isinstance(event, Utterance)
    return n


def replay_in_processes(transcripts: list[Path], n_utts: int, processes: int, repeat: int) -> list[float]:
    """Utterances per second replaying every transcript with the calls shared out over
    ``processes`` worker processes (each loads spaCy and the rules once, untimed, and replays
    all of its share once untimed, as the one-process passes are warm too), one rate per pass."""
    import multiprocessing

    shares = [transcripts[i::processes] for i in range(processes)]
    rates = []
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_replay_setup) as pool:
        pool.map(_replay_share, shares, chunksize=1)  # warm
        for _ in range(repeat):
            started = time.perf_counter()
            seen = sum(pool.map(_replay_share, shares, chunksize=1))
            rates.append(seen / (time.perf_counter() - started))
            assert seen == n_utts, (seen, n_utts)
    return rates


def timed_pass(engine, calls, left: dict, per_utt: list[float] | None = None, read_doc: bool = False) -> float:
    """Seconds of one pass of ``engine`` over ``calls`` (start_call, on_utterance, finish), each
    utterance first put back, untimed, to what its signals stage left (``left``: id -> features,
    their cache). ``per_utt`` collects each on_utterance's seconds; ``read_doc``: the engine reads
    each Doc itself (timed) instead of taking that reading."""
    clock = time.perf_counter
    spent = 0.0
    for call in calls:
        for au in call:
            feats, cache = left[id(au)]
            feats.cache = dict(cache)
            au.features = None if read_doc else feats
        started = clock()
        engine.start_call()
        for au in call:
            t = clock()
            engine.on_utterance(au)
            if per_utt is not None:
                per_utt.append(clock() - t)
        engine.finish(call[-1].utterance.end_s if call else 0.0)
        spent += clock() - started
    return spent


def tone_conditions(engine, ruleset) -> list:
    """The packs' ``angry`` and ``tense`` tone text conditions, compiled by ``engine``: what the
    signals stage works out for every utterance."""
    return [engine.compiler.condition(ruleset.tones[t].text) for t in ("angry", "tense") if t in ruleset.tones]


def tone_pass(calls, left: dict, tones: list) -> float:
    """Seconds of one pass of ``tones`` over ``calls``, each utterance's reading (its ``#`` cache
    entries, as the signals stage left them in ``left``) handed over, its matches cleared."""
    from rapport_assist.rules.conditions import EvalContext

    started = time.perf_counter()
    for call in calls:
        for au in call:
            feats, cache = left[id(au)]
            feats.cache = {k: v for k, v in cache.items() if k.startswith("#")}  # the reading, no matches
            for tone in tones:
                tone(EvalContext(feats))
    return time.perf_counter() - started


def sampled_profile(engine, one_pass, passes: int, top: int = 30) -> None:
    """Run ``one_pass`` ``passes`` times with a CPU-time sampler (``SIGPROF`` every 0.3 ms of
    the process's CPU time) and print the share of samples in each function (inclusive: a
    function's callees count in it) and in each rule's generated conditions."""
    import collections
    import signal

    by_function: collections.Counter[str] = collections.Counter()
    own_function: collections.Counter[str] = collections.Counter()  # the sampled frame itself
    own_line: collections.Counter[str] = collections.Counter()
    by_rule: collections.Counter[str] = collections.Counter()
    rule_of = {}  # generated condition function -> rule id
    for compiled in engine._rules + engine._turn_rules:
        for part in ("when", "expect", "ignore", "episode_ends", "unless"):
            fn = getattr(compiled, part)
            if fn is not None:
                rule_of[fn.__code__] = f"{compiled.rule.id} ({part})"
    taken = [0]

    def sample(signum, frame) -> None:
        taken[0] += 1
        seen, rules = set(), set()
        if frame is not None:
            own = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_code.co_name}"
            own_function[own] += 1
            own_line[f"{own}:{frame.f_lineno}"] += 1
        while frame is not None:
            code = frame.f_code
            name = f"{os.path.basename(code.co_filename)}:{code.co_name}"
            if name not in seen:
                seen.add(name)
                by_function[name] += 1
            rule = rule_of.get(code)
            if rule is not None and rule not in rules:
                rules.add(rule)
                by_rule[rule] += 1
            frame = frame.f_back

    previous = signal.signal(signal.SIGPROF, sample)
    signal.setitimer(signal.ITIMER_PROF, 0.0003, 0.0003)
    try:
        for _ in range(passes):
            one_pass()
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, previous)
    n = max(1, taken[0])
    print(f"\n== sampled CPU-time profile of {passes} rules-alone passes ({taken[0]} samples), inclusive")
    for name, count in by_function.most_common(top):
        print(f"  {100 * count / n:5.1f}%  {name}")
    print("== own time (samples in the function itself, its callees apart)")
    for name, count in own_function.most_common(top):
        print(f"  {100 * count / n:5.1f}%  {name}")
    print("== own time by line")
    for name, count in own_line.most_common(top):
        print(f"  {100 * count / n:5.1f}%  {name}")
    print("== by rule: samples in its conditions (when, expect, ...), finders included")
    for rule, count in by_rule.most_common():
        print(f"  {100 * count / n:5.1f}%  {rule}")


def per_rule_costs(ruleset, calls, repeat: int) -> None:
    """Print µs per utterance of each rule alone (an engine with just that rule, minus one with
    none), over ``calls`` (annotated utterances with their signals), best of ``repeat`` passes."""
    import dataclasses

    from rapport_assist.rules import RuleEngine
    from rapport_assist.signals import SignalTracker

    n = sum(len(c) for c in calls)

    def cost(rules) -> float:
        engine = RuleEngine(dataclasses.replace(ruleset, rules=list(rules)))
        tracker = SignalTracker(engine.ruleset, compiler=engine.compiler)
        ready = []
        for call in calls:  # the features this engine's extractor makes, as its signals stage would
            tracker.start_call()
            ready.append([tracker.on_utterance(au)[0] for au in call])
        left = {id(au): (au.features, dict(au.features.cache)) for call in ready for au in call}
        timed_pass(engine, ready, left)  # warm up
        best = min(timed_pass(engine, ready, left) for _ in range(repeat))
        return best / n * 1e6

    base = cost([])
    together = cost(ruleset.rules)
    print(
        f"== each rule alone, µs per utterance over {n} utterances (best of {repeat}; an engine with no rules: "
        f"{base:.1f} µs, with all {len(ruleset.rules)}: {together:.1f} µs)"
    )
    costs = sorted(((cost([rule]) - base, rule.id) for rule in ruleset.rules), reverse=True)
    for us, rule_id in costs:
        print(f"  {us:6.1f}  {rule_id}")
    print(
        f"  {sum(us for us, _ in costs):6.1f}  sum of the rules alone (they share lexicon matches, so together they can cost less)\n"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="dialogue JSONL files (default: the dev sets in ../shared)")
    ap.add_argument("--repeat", type=int, default=5, help="timed passes of each measurement (default 5)")
    ap.add_argument("--profile", action="store_true", help="cProfile one rules-alone pass")
    ap.add_argument(
        "--sample", action="store_true", help="a sampled CPU-time profile of the rules alone (by function and by rule)"
    )
    ap.add_argument("--rules-only", action="store_true", help="measure rule evaluation alone (no replay)")
    ap.add_argument("--per-rule", action="store_true", help="also time each rule alone (what each rule costs)")
    ap.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="also replay the calls shared out over this many processes, as batch QA does "
        "(default: one per core; 1 skips it)",
    )
    ap.add_argument(
        "--no-one-at-a-time",
        dest="one_at_a_time",
        action="store_false",
        help="skip the replay with one spaCy call per utterance (the slow baseline)",
    )
    args = ap.parse_args(argv)

    from rapport_assist.annotate import Annotator
    from rapport_assist.output import TextSink
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
    from rapport_assist.signals import SignalTracker
    from rapport_assist.sources import ReplayInput, open_replay
    from rapport_assist.transcript import read_transcript

    files = args.files or [f for f in DEFAULT_FILES if f.exists()] or [DEMO_TRANSCRIPT]
    if files == [DEMO_TRANSCRIPT]:  # a figure on 16 utterances is not the dev sets' figure: say so
        print(
            f"note: no dev sets at {DEFAULT_FILES[0].parent} (../shared next to the checkout); "
            "measuring the bundled demo transcript only",
            file=sys.stderr,
        )
    rules_dir = default_rules_dir()
    t0 = time.perf_counter()
    ruleset = load_rules([rules_dir])
    load_rules_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    annotator = Annotator()
    load_nlp_s = time.perf_counter() - t0

    print(f"machine: {machine()}")
    print(f"code: {git_state()}")
    from rapport_assist import _compiled

    print(
        "rule engine: "
        + ("compiled by mypyc (src/rapport_assist/_compiled.py)" if _compiled.active() else "plain Python modules")
    )
    print(
        f"rules: {len(ruleset.rules)} from {rules_dir} (loaded in {load_rules_s:.2f} s); "
        f"spaCy {annotator.nlp.meta.get('name')} {annotator.nlp.meta.get('version')} "
        f"(loaded in {load_nlp_s:.2f} s); {args.repeat} passes each\n"
    )

    def no_recognizer():  # transcripts never need one
        raise AssertionError("a transcript replay asked for the speech recognizer")

    with tempfile.TemporaryDirectory() as tmp:
        corpora = [write_transcripts(f, Path(tmp)) for f in files]
        calls_by_corpus = [[list(read_transcript(t)) for t in c.transcripts] for c in corpora]
        # warm up spaCy (first calls allocate) and the engine's per-word caches
        annotator.annotate_many([u for calls in calls_by_corpus for call in calls for u in call][:64])

        # ---------------------------------------------------------------- rules alone
        engine = RuleEngine(ruleset)
        tracker = SignalTracker(ruleset, compiler=engine.compiler)
        prepared = []  # per corpus: per call, the annotated utterances with their signals
        for calls in calls_by_corpus:
            ready = []
            for call in calls:
                tracker.start_call()
                ready.append([tracker.on_utterance(au)[0] for au in annotator.annotate_many(call)])
            prepared.append(ready)
        # What the signals stage leaves on each utterance: its reading of the Doc (``Features``)
        # and the lexicon matches it looked up. Every timed pass starts from exactly that, so no
        # pass profits from matches an earlier pass cached.
        left_by_signals = {
            id(au): (au.features, dict(au.features.cache)) for calls in prepared for call in calls for au in call
        }

        def rules_pass(calls, per_utt: list[float] | None = None, read_doc: bool = False) -> float:
            return timed_pass(engine, calls, left_by_signals, per_utt, read_doc)

        print("== rules alone (RuleEngine.on_utterance + finish; spaCy and signals done beforehand)")
        print(
            f"{'dialogues':<34} {'calls':>6} {'utts':>6} {'words/utt':>9} {'utt/s median':>13} "
            f"{'(min-max)':>17} {'ms p50':>7} {'p95':>6} {'max':>6}"
        )
        all_rates: list[float] = []
        for corpus, calls in zip(corpora, prepared):
            n = sum(len(c) for c in calls)
            words = sum(au.word_count for c in calls for au in c) / max(1, n)
            rules_pass(calls)  # warm
            times, per_utt = [], []
            for _ in range(args.repeat):
                times.append(rules_pass(calls, per_utt))
            rates = [n / t for t in times]
            ms = [1000 * t for t in per_utt]
            print(
                f"{corpus.name:<34} {len(calls):>6} {n:>6} {words:>9.1f} {statistics.median(rates):>13,.0f} "
                f"{f'({min(rates):,.0f}-{max(rates):,.0f})':>17} {pct(ms, 0.5):>7.3f} {pct(ms, 0.95):>6.3f} "
                f"{max(ms):>6.2f}"
            )
        every = [c for calls in prepared for c in calls]
        n_all = sum(len(c) for c in every)
        for _ in range(args.repeat):
            all_rates.append(n_all / rules_pass(every))
        rules_rate = statistics.median(all_rates)
        print(f"rules: {versus(rules_rate, RULES_TARGET)}, all {n_all} utterances, median of {args.repeat} passes")
        with_reading = statistics.median(n_all / rules_pass(every, read_doc=True) for _ in range(args.repeat))
        print(
            f"rules + reading each Doc into features (done once per utterance, by the signals stage in a "
            f"call): {with_reading:,.0f} utt/s\n"
        )

        if args.per_rule:
            per_rule_costs(ruleset, every, args.repeat)

        # ---------------------------------------------------------------- text replay
        pipeline = CallPipeline(annotator, RuleEngine(ruleset))
        devnull = open(os.devnull, "w", encoding="utf-8")

        def replay_pass(transcripts: list[Path], read_ahead: int | None) -> float:
            sink = TextSink(devnull, os.devnull)
            started = time.perf_counter()
            for path in transcripts:
                source = open_replay(ReplayInput(path=path), no_recognizer)
                for event in pipeline.run(source.items(), audio_s=source.audio_s, read_ahead=read_ahead):
                    sink.write(event)
            return time.perf_counter() - started

        modes: list[tuple[str, int | None]] = [] if args.rules_only else [("replay (batched)", None)]
        if args.one_at_a_time and not args.rules_only:
            modes.append(("one at a time", 1))
        if modes:
            print("== text replay (open_replay -> spaCy -> signals -> rules -> text printer), spaCy loaded once")
            print(f"{'dialogues':<34} {'mode':<17} {'utt/s median':>13} {'(min-max)':>13} {'ms/utt':>7}")
        replay_rates: dict[str, list[float]] = {name: [] for name, _ in modes}
        totals: dict[str, list[float]] = {name: [0.0] * args.repeat for name, _ in modes}
        n_total = 0
        for corpus, calls in zip(corpora, calls_by_corpus):
            n = sum(len(c) for c in calls)
            n_total += n
            for name, read_ahead in modes:
                times = [replay_pass(corpus.transcripts, read_ahead) for _ in range(args.repeat)]
                for i, t in enumerate(times):
                    totals[name][i] += t
                rates = [n / t for t in times]
                replay_rates[name] += rates
                med = statistics.median(rates)
                print(
                    f"{corpus.name:<34} {name:<17} {med:>13,.0f} {f'({min(rates):,.0f}-{max(rates):,.0f})':>13} "
                    f"{1000 / med:>7.2f}"
                )
        devnull.close()
        for name, _ in modes:
            rate = n_total / statistics.median(totals[name])
            print(f"text replay, {name}: {versus(rate, REPLAY_TARGET)}, all {n_total} utterances")
        if modes and args.one_at_a_time:
            gain = statistics.median(totals["one at a time"]) / statistics.median(totals["replay (batched)"])
            print(f"batching gain: {gain:.2f}x")
        if args.processes > 1 and not args.rules_only:
            every_transcript = [t for c in corpora for t in c.transcripts]
            rates = replay_in_processes(every_transcript, n_total, args.processes, args.repeat)
            print(
                f"text replay, replay (batched) on {args.processes} processes (calls shared out, spaCy and the "
                f"rules loaded once per process; median of {args.repeat}, min-max "
                f"{min(rates):,.0f}-{max(rates):,.0f}): {versus(statistics.median(rates), REPLAY_TARGET)}"
            )

        if args.sample:
            sampled_profile(engine, lambda: rules_pass(every), 10 * args.repeat)

        if args.profile:
            print("\n== cProfile of one rules-alone pass over every call (sorted by own time)")
            prof = cProfile.Profile()
            prof.enable()
            rules_pass(every)
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).strip_dirs().sort_stats("tottime").print_stats(18)
            print(out.getvalue().strip())
            out = io.StringIO()
            pstats.Stats(prof, stream=out).strip_dirs().sort_stats("cumulative").print_stats(
                r"engine|conditions|features", 18
            )
            print(out.getvalue().strip())
            out = io.StringIO()
            pstats.Stats(prof, stream=out).strip_dirs().sort_stats("tottime").print_callers(
                r"__iter__|cinit|find_matches"
            )
            print(out.getvalue().strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
