"""Instructions per utterance of the rules alone, counted by ``valgrind --tool=callgrind``: the
same for the same code and input whatever else the host runs, so two commits compare exactly
on a busy host (timings scatter by 1.5x here, and perf counters are not available).

Usage:
    .venv/bin/python bench/rules_callgrind.py [--base COMMIT] [--sample 400] [--passes 2] [DIALOGUES.jsonl ...]

Counts what ``rules_code_ab.py`` times (``start_call`` / ``on_utterance`` / ``finish``, each
utterance put back to what its signals stage left), ``--passes`` times over a fixed sample:
``--sample`` utterances, whole calls from the start of each dialogue file, an equal share of
each (default: the two dev sets in ``../shared``). ``--base COMMIT``: that commit's engine
(its package taken as ``rules_code_ab.py`` takes it) on the same sample and rule packs.

The sample's Docs are made once with the spaCy model and kept in a ``DocBin`` (in the temporary
folder, by sample); the counted process reads them back into a blank English vocabulary (so
valgrind does not run the model), with the annotations the features read (word forms, norms,
lemmas, tags, parse, sentence starts). Under valgrind only the passes are counted: the process
starts uninstrumented, instrumentation is switched on (``callgrind_control -i on``) once the
Docs are read and the engine is warm, and only the code inside ``functools.reduce`` (the
passes) is collected. Prints instructions per utterance and, without valgrind
(``--inner``), the passes' CPU time.

``--rule ID`` (repeatable; ``--rule none`` for an engine with no rules): count an engine with
only these rules of the packs (the signals stage as in a call: its cue lexicons belong to the
packs, not to the rules). ``--per-rule``: each rule's price, deterministically: an engine with
no rules, then each rule alone, each counted as above (``--jobs`` at a time), printed as
instructions per utterance over the no-rule engine's. Rules share lexicon matches and
``earlier`` look-backs, so the prices add up to more than all rules together; a new rule's or
signal's price is its own line here (and the whole engine's count with it, against without).

``--rules-at COMMIT``: the rule packs (``rules/``) of that commit instead of this checkout's
(with ``--base`` the same commit: an old engine on the packs it was measured with, so its count
against this checkout's scales an old timing, e.g. an idle host's, to this code).

``--reading``: each utterance's features are not handed over from its signals stage: the engine
reads the Doc itself (``FeatureExtractor.extract``), counted with the rules (what a change to
the reading costs; the signals stage's lexicon matches are then the rules' to make).

``--gc-frozen``: ``gc.collect()`` and ``gc.freeze()`` just before the counted passes. Without it a
full (generation 2) collection walks every object alive, the sample's Docs too, and whether one
falls inside the passes depends on how many objects were allocated before: a change that
allocates a few more lists can move one in or out and the count by 20-50% (seen on h37-punct:
192,000 vs 246,500 for the same engine). Frozen, the collector only walks what the passes make.

``--tones``: count the ``angry`` and ``tense`` tone text conditions of the packs instead of the
rules (what the signals stage works out for every utterance, as ``bench/rules_ab.py`` times it:
each utterance's reading handed over, its matches cleared), so a change to the anger lexicons is
priced exactly.

``--bytecodes``: no valgrind; one pass under a tracer that counts the bytecodes each function
and each line runs (``sys.settrace`` with opcode events): a deterministic profile of where the
pass's work is, own and inclusive (a function's callees count in it), by share of all bytecodes.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rules_code_ab import BASE, extract_base, rules_folder  # noqa: E402
from rules_speed import DEFAULT_FILES, REPO, timed_pass, tone_conditions, tone_pass, write_transcripts  # noqa: E402

DOC_ATTRS = [
    "ORTH",
    "NORM",
    "LEMMA",
    "TAG",
    "POS",
    "MORPH",
    "HEAD",
    "DEP",
    "SENT_START",
    "ENT_IOB",
    "ENT_TYPE",
    "SPACY",
]


def sample_calls(files: list[Path], sample: int, folder: Path, read_transcript) -> list[list]:
    calls = []
    for f in files:  # an equal share of each file
        taken = 0
        for t in write_transcripts(f, folder / f.stem).transcripts:
            if taken >= sample / len(files):
                break
            call = list(read_transcript(t))
            calls.append(call)
            taken += len(call)
    return calls


def docs_path(files: list[Path], sample: int) -> Path:
    names = "-".join(f.stem for f in files)
    return Path(tempfile.gettempdir()) / f"rules_callgrind_{names}_{sample}.spacy"


def make_docs(texts: list[str], path: Path) -> None:
    from spacy.tokens import DocBin

    from rapport_assist.models import load_spacy

    nlp = load_spacy()
    store = DocBin(attrs=DOC_ATTRS, store_user_data=False)
    for doc in nlp.pipe(texts, batch_size=64):
        store.add(doc)
    path.write_bytes(store.to_bytes())


def inner(args: argparse.Namespace, ready: Path | None) -> int:
    """The counted process (or, without ``ready``, a timed one)."""
    with tempfile.TemporaryDirectory() as tmp:
        package = "rapport_assist"
        if args.base:
            extract_base(args.base, Path(tmp))
            sys.path.insert(0, tmp)
            package = BASE
        annotate = importlib.import_module(package + ".annotate")
        rules = importlib.import_module(package + ".rules")
        signals = importlib.import_module(package + ".signals")
        transcript = importlib.import_module(package + ".transcript")
        calls = sample_calls(args.files, args.sample, Path(tmp), transcript.read_transcript)
        import spacy
        from spacy.tokens import DocBin

        vocab = spacy.blank("en").vocab
        docs = iter(DocBin().from_bytes(Path(args.docs).read_bytes()).get_docs(vocab))
        ruleset = rules.load_rules([rules_folder(args.rules_at, Path(tmp))])
        if args.rule:
            import dataclasses

            known = {rule.id for rule in ruleset.rules}
            unknown = sorted(set(args.rule) - known - {"none"})
            if unknown:
                print(f"no rule {', '.join(unknown)} in the packs", file=sys.stderr)
                return 2
            ruleset = dataclasses.replace(ruleset, rules=tuple(rule for rule in ruleset.rules if rule.id in args.rule))
        engine = rules.RuleEngine(ruleset)
        tracker = signals.SignalTracker(ruleset, compiler=engine.compiler)
        ready_calls = []
        for call in calls:
            tracker.start_call()
            ready_calls.append([tracker.on_utterance(annotate.AnnotatedUtterance(u, next(docs)))[0] for u in call])
        left = {id(au): (au.features, dict(au.features.cache)) for call in ready_calls for au in call}
        read_doc = args.reading
        one_pass = lambda: timed_pass(engine, ready_calls, left, read_doc=read_doc)  # noqa: E731
        if args.tones:
            tones = tone_conditions(engine, ruleset)
            one_pass = lambda: tone_pass(ready_calls, left, tones)  # noqa: E731

        one_pass()  # warm
        if ready is not None:  # the driver switches instrumentation on, then writes "go"
            ready.write_text(str(os.getpid()))
            while ready.read_text() != "go":
                time.sleep(0.2)
        if args.bytecodes:
            return count_bytecodes(one_pass, sum(len(c) for c in calls), args.top)
        if args.gc_frozen:  # what is alive now is out of the collector's reach during the passes
            gc.collect()
            gc.freeze()
        started = time.thread_time()
        functools.reduce(lambda _, __: one_pass(), range(args.passes), 0.0)
        spent = time.thread_time() - started
    n = sum(len(c) for c in calls)
    print(
        f"{n} utterances, {len(calls)} calls, {args.passes} passes: {spent / args.passes / n * 1e6:.1f} µs per utterance"
    )
    return 0


def count_bytecodes(one_pass, n: int, top: int = 30) -> int:
    """Print the bytecodes ``one_pass`` runs, by function (own and inclusive) and by line."""
    import collections

    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    by_line: collections.Counter[str] = collections.Counter()

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            name = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_code.co_name}"
            own[name] += 1
            by_line[f"{name}:{frame.f_lineno}"] += 1
            seen = set()
            while frame is not None:
                outer = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_code.co_name}"
                if outer not in seen:
                    seen.add(outer)
                    inclusive[outer] += 1
                frame = frame.f_back
        return tracer

    sys.settrace(tracer)
    try:
        one_pass()
    finally:
        sys.settrace(None)
    total = max(1, sum(own.values()))
    print(f"{total:,} bytecodes in one pass, {total / n:,.0f} per utterance ({n} utterances)")
    for title, counter in (("own", own), ("inclusive", inclusive), ("own, by line", by_line)):
        print(f"== {title}")
        for name, count in counter.most_common(top):
            print(f"  {100 * count / total:5.1f}%  {name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--base", help="count this commit's engine instead of this checkout's")
    ap.add_argument("--sample", type=int, default=400, help="utterances (default 400)")
    ap.add_argument("--passes", type=int, default=2, help="counted passes (default 2)")
    ap.add_argument("--inner", action="store_true", help="run the passes here, timed, without valgrind")
    ap.add_argument("--bytecodes", action="store_true", help="count the bytecodes of one pass, by function and line")
    ap.add_argument("--keep", type=Path, help="copy callgrind's output here (for callgrind_annotate)")
    ap.add_argument("--top", type=int, default=30, help="lines of each --bytecodes table (default 30)")
    ap.add_argument("--rules-at", help="the rule packs of this commit (default: this checkout's)")
    ap.add_argument(
        "--reading", action="store_true", help="the engine reads each Doc itself (its features), counted with the rules"
    )
    ap.add_argument("--tones", action="store_true", help="count the angry and tense tone text, not the rules")
    ap.add_argument("--rule", action="append", help="count only this rule (repeatable; 'none': no rules)")
    ap.add_argument("--per-rule", action="store_true", help="count each rule alone against an engine with none")
    ap.add_argument("--jobs", type=int, default=1, help="--per-rule: counts run at a time (default 1)")
    ap.add_argument(
        "--gc-frozen",
        action="store_true",
        help="collect, then freeze the heap before the passes: a full collection that happens to fall in them"
        " (it walks every Doc of the sample) is not counted as the code's",
    )
    ap.add_argument("--docs", help=argparse.SUPPRESS)
    ap.add_argument("--ready", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.files = args.files or [f for f in DEFAULT_FILES if f.exists()]
    if not args.files:
        names = ", ".join(str(f) for f in DEFAULT_FILES)
        ap.error(f"no dialogue files: the default dev sets are not here ({names}); name the files to count")
    if args.docs:
        return inner(args, Path(args.ready) if args.ready else None)

    path = docs_path(args.files, args.sample)
    if not path.exists():
        from rapport_assist.transcript import read_transcript

        with tempfile.TemporaryDirectory() as tmp:
            calls = sample_calls(args.files, args.sample, Path(tmp), read_transcript)
        make_docs([u.text for call in calls for u in call], path)
    args.docs = str(path)
    if args.per_rule:
        return per_rule(args)
    if args.inner or args.bytecodes:
        return inner(args, None)
    instructions, n = count(args)
    who = f"base {args.base}" if args.base else "this checkout"
    which = f", rules: {', '.join(args.rule)}" if args.rule else ""
    which += f", packs of {args.rules_at}" if args.rules_at else ""
    print(
        f"{who}: {instructions / args.passes / n:,.0f} instructions per utterance "
        f"({n} utterances, {args.passes} passes, {instructions:,} in all{which})"
    )
    return 0


def per_rule(args: argparse.Namespace) -> int:
    """Count an engine with no rules and each rule alone; print each rule's instructions per
    utterance over the no-rule engine's."""
    from concurrent.futures import ThreadPoolExecutor

    from rapport_assist.rules import load_rules

    ids = ["none", *(rule.id for rule in load_rules([REPO / "rules"]).rules)]

    def one(rule_id: str) -> tuple[str, float]:
        instructions, n = count(argparse.Namespace(**{**vars(args), "rule": [rule_id]}))
        return rule_id, instructions / args.passes / n

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        per = dict(pool.map(one, ids))
    base = per.pop("none")
    who = f"base {args.base}" if args.base else "this checkout"
    print(
        f"{who}: each rule alone, instructions per utterance over an engine with no rules "
        f"({base:,.0f}), {args.sample}-utterance sample, {args.passes} passes"
    )
    for rule_id, each in sorted(per.items(), key=lambda item: -item[1]):
        print(f"  {each - base:9,.0f}  {rule_id}")
    print(f"  {sum(per.values()) - base * len(per):9,.0f}  sum of the rules alone")
    return 0


def count(args: argparse.Namespace) -> tuple[int, int]:
    """Instructions of ``args.passes`` passes under callgrind, and the sample's utterances."""
    with tempfile.TemporaryDirectory() as tmp:
        ready, out = Path(tmp) / "ready", Path(tmp) / "callgrind.out"
        command = [sys.executable, __file__, *map(str, args.files), "--sample", str(args.sample)]
        command += ["--passes", str(args.passes), "--docs", args.docs, "--ready", str(ready)]
        if args.base:
            command += ["--base", args.base]
        if args.rules_at:
            command += ["--rules-at", args.rules_at]
        for rule_id in args.rule or ():
            command += ["--rule", rule_id]
        if args.reading:
            command += ["--reading"]
        if args.gc_frozen:
            command += ["--gc-frozen"]
        if args.tones:
            command += ["--tones"]
        valgrind = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--collect-atstart=no",
            "--toggle-collect=functools_reduce",
            f"--callgrind-out-file={out}",
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same string hashes, sets and dicts every run
        child = subprocess.Popen(valgrind + command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        while not ready.exists() or not ready.read_text():
            if child.poll() is not None:
                raise SystemExit(child.stderr.read() if child.stderr else "the counted process ended")
            time.sleep(0.5)
        pid = int(ready.read_text())
        subprocess.run(["callgrind_control", "-i", "on", str(pid)], check=True, capture_output=True)
        ready.write_text("go")
        stdout, stderr = child.communicate()
        if child.returncode:
            raise SystemExit(stderr or f"the counted process exited with {child.returncode}")
        totals = re.search(r"^totals:\s*(\d+)", out.read_text(), re.M) or re.search(
            r"^summary:\s*(\d+)", out.read_text(), re.M
        )
        assert totals is not None, "no totals in the callgrind output"
        instructions = int(totals.group(1))
        if args.keep:
            shutil.copy(out, args.keep)
    return instructions, int(stdout.split()[0])


if __name__ == "__main__":
    raise SystemExit(main())
