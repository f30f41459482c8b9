"""First-sight scores of the four headline moments: each labelled batch scored with the rules as
they were just before its labels were committed, next to the same batch scored with today's rules.

    PYTHONPATH=$PWD/src RAPPORT_ASSIST_PURE=1 .venv/bin/python bench/first_sight.py [--tw /tmp/tw] [--cache /tmp/h102]

The rules were tuned on each batch after it was first scored, so today's figure on a batch is a
read (tuned) figure; the first-sight figure is the batch against ``git archive <labels commit>^
rules`` (the parent of the first commit that added the batch's labels file), run with today's
engine (``src/``, including the annotator) and today's labels. Those rules had never seen the
batch, so every first-sight figure is blind for its batch.

A third figure, "engine+rules then", runs ``src/`` and ``rules/`` of that same commit together (in a
child process): the engine's conditions were tuned on the batches too, so this is the stricter
first sight; its labels and borderline reading are still today's.

If today's engine cannot load a batch's old pack, the oldest loadable commit after that parent
that touches ``rules/`` is used instead and printed (``used`` column).

Batches (14): IBM fresh 1-4 (``bench/data/twitter_fresh{,2,3,4}_labels.jsonl`` on the shared IBM
threads) and twcs 1-10 (``/tmp/tw/t{1..10}.jsonl`` with ``bench/data/twcs{N}_labels.jsonl``).
Scoring is ``scripts/twitter_dev.py``'s (``joined``, ``clear``, ``score``: the same as its
``--json --rules DIR`` on the "all" and "all-clear" sets). Conversation level; "clear" drops,
per moment, the threads whose notes call that moment borderline. Prints counts only (no text).
Results are cached per (batch, rules tree, engine tree) in ``--cache``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
SHARED = Path("/work/shared/data/dialogues")
HEADLINE = ("angry-no-apology", "you-not-we", "uncommitted-promise", "missed-reflection")


def batches(tw: Path) -> list[tuple[str, Path, Path]]:
    """(name, threads file, labels file) of the 14 batches, in labelling order."""
    ibm = SHARED / "twitter_customer_care_dev.jsonl"
    out = [
        (f"fresh{k}", ibm, REPO / "bench/data" / f"twitter_fresh{'' if k == 1 else k}_labels.jsonl")
        for k in range(1, 5)
    ]
    out += [(f"twcs{n}", tw / f"t{n}.jsonl", REPO / "bench/data" / f"twcs{n}_labels.jsonl") for n in range(1, 11)]
    return out


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()


def labels_commit(labels: Path) -> str:
    """The first commit that added the labels file."""
    rel = labels.relative_to(REPO)
    return git("log", "--diff-filter=A", "--format=%H", "--", str(rel)).splitlines()[-1]


def extract(commit: str, cache: Path) -> Path:
    """``rules/`` of ``commit`` in a cache folder; returns the rules folder."""
    tree = git("rev-parse", f"{commit}:rules")
    out = cache / "rules" / tree[:12]
    if not (out / "rules").is_dir():
        out.mkdir(parents=True, exist_ok=True)
        arch = subprocess.run(["git", "-C", str(REPO), "archive", commit, "rules"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(out)], input=arch.stdout, check=True)
    return out / "rules"


def loads(rules_dir: Path) -> str | None:
    """None if today's engine loads the pack, else the first line of the error."""
    from rapport_assist.rules import load_rules

    try:
        load_rules([rules_dir])
    except Exception as e:  # noqa: BLE001 - any failure means "cannot load"
        return str(e).splitlines()[0][:200]
    return None


def rules_then(commit: str, cache: Path) -> tuple[str, Path, str | None]:
    """(commit used, rules folder, why the parent was not used or None) for a labels commit."""
    parent = git("rev-parse", f"{commit}^")
    d = extract(parent, cache)
    err = loads(d)
    if err is None:
        return parent, d, None
    for c in git("rev-list", "--reverse", "--ancestry-path", f"{parent}..HEAD", "--", "rules").splitlines():
        d = extract(c, cache)
        if loads(d) is None:
            return c, d, f"{parent[:7]} does not load ({err}); used {c[:7]}"
    raise SystemExit(f"no loadable rules after {parent[:7]}: {err}")


def engine_key() -> str:
    """Tree of src/ at HEAD plus any uncommitted change to src/ or rules/ (a dirty tree is not cached)."""
    dirty = git("status", "--porcelain", "--", "src", "rules")
    return git("rev-parse", "HEAD:src") + ("-dirty-" + hashlib.sha1(dirty.encode()).hexdigest()[:8] if dirty else "")


def rows_key(rows: list[dict]) -> str:
    """Short hash of the batch's ids, labels, borderline calls and turn counts (for the cache)."""
    sig = json.dumps([(r["id"], r["labels"], r["borderline"], len(r["turns"])) for r in rows], sort_keys=True)
    return hashlib.sha1(sig.encode()).hexdigest()[:8]


def scored(name: str, rows: list[dict], rules_dir: Path, tree: str, cache: Path, annotator) -> dict:
    """{"all": {moment: (P, R, tp, fp, fn)}, "clear": {...}} for the batch against a rules folder."""
    from twitter_dev import clear, score

    key = engine_key()
    path = cache / "scores" / f"{name}-{rows_key(rows)}-{tree[:12]}-{key[:12]}{key[40:]}.json"
    if path.is_file() and "dirty" not in key:
        return json.loads(path.read_text())
    out = {"all": score(rows, [rules_dir], annotator), "clear": score(clear(rows), [rules_dir], annotator)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


# run in a child process with the old tree's src/ first on the path: score JSONL files of rows
DRIVER = """
import json, sys
from pathlib import Path
from rapport_assist.annotate import Annotator
from rapport_assist.evaluate import evaluate, read_dialogues
from rapport_assist.rules import load_rules
HEADLINE = %r
rules, files = load_rules([Path(sys.argv[1])]), sys.argv[2:]
ann = Annotator()
out = []
for f in files:
    rep = evaluate(read_dialogues(Path(f)), rules, ann, HEADLINE)
    c = {r.rule: r.conversation_level for r in rep.rules if r.conversation_level is not None}
    out.append({m: (v.precision, v.recall, v.tp, v.fp, v.fn) for m, v in c.items()})
print(json.dumps(out))
""" % (HEADLINE,)


def scored_engine_then(name: str, rows: list[dict], commit: str, cache: Path) -> dict | str:
    """The batch against the whole tree (src/ and rules/) of ``commit``, in a child process;
    the error text if that engine cannot score it."""
    import os
    import tempfile

    from twitter_dev import clear

    path = cache / "scores" / f"{name}-{rows_key(rows)}-engine-{commit[:12]}.json"
    if path.is_file():
        return json.loads(path.read_text())
    tree = cache / "full" / commit[:12]
    if not (tree / "src").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        arch = subprocess.run(
            ["git", "-C", str(REPO), "archive", commit, "src", "rules"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=arch.stdout, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for suffix, data in (("all", rows), ("clear", clear(rows))):
            f = Path(tmp) / f"{suffix}.jsonl"
            f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data), encoding="utf-8")
            files.append(str(f))
        env = {**os.environ, "PYTHONPATH": str(tree / "src"), "RAPPORT_ASSIST_PURE": "1"}
        run = subprocess.run(
            [sys.executable, "-c", DRIVER, str(tree / "rules"), *files],
            capture_output=True,
            text=True,
            env=env,
            cwd=tree,
        )
    if run.returncode != 0:
        return (run.stderr.strip().splitlines() or ["failed"])[-1][:200]
    a, c = json.loads(run.stdout)
    out = {"all": a, "clear": c}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def prf(tp: int, fp: int, fn: int) -> str:
    p = f"{tp / (tp + fp):.3f}" if tp + fp else "  -  "
    r = f"{tp / (tp + fn):.3f}" if tp + fn else "  -  "
    return f"{p}/{r} {tp:>3}/{fp:>2}/{fn:>3}"


def counts(fig: dict, moment: str) -> tuple[int, int, int]:
    v = fig.get(moment)
    return (v[2], v[3], v[4]) if v else (0, 0, 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tw", type=Path, default=Path("/tmp/tw"), help="folder of the twcs threads t1..t10.jsonl")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/h102"))
    ap.add_argument("--json", action="store_true", help="print the per-batch counts as JSON")
    args = ap.parse_args(argv)
    from rapport_assist.annotate import Annotator
    from twitter_dev import joined

    annotator = Annotator()
    today_dir = REPO / "rules"
    today_tree = git("rev-parse", "HEAD:rules")
    results: dict[str, dict] = {}
    notes = []
    for name, threads, labels in batches(args.tw):
        rows = joined(SHARED, labels, threads)
        commit = labels_commit(labels)
        used, rdir, why = rules_then(commit, args.cache)
        if why:
            notes.append(f"{name}: {why}")
        results[name] = {
            "labels_commit": commit[:7],
            "rules_commit": used[:7],
            "rules_tree": git("rev-parse", f"{used}:rules")[:8],
            "threads": len(rows),
            "then": scored(name, rows, rdir, git("rev-parse", f"{used}:rules"), args.cache, annotator),
            "engine": scored_engine_then(name, rows, used, args.cache),
            "today": scored(name, rows, today_dir, today_tree, args.cache, annotator),
        }
        print(f"scored {name}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0

    kinds = [(w, s) for w in ("then", "engine", "today") for s in ("all", "clear")]
    head = {"then": "first sight", "engine": "engine+rules then", "today": "today"}
    title = " | ".join(f"{head[w] + ', ' + s:<23}" for w, s in kinds)
    print(f"HEAD {git('rev-parse', '--short', 'HEAD')}; conversation level, P/R tp/fp/fn")
    print("first sight: rules of the parent of the batch's labels commit (blind for the batch) run by today's engine;")
    print("engine+rules then: src/ and rules/ of that same commit together; today: HEAD's rules and engine;")
    print("labels are today's in every column")
    print("\nbatch    labels   rules-of  rules-tree threads")
    for name, r in results.items():
        print(f"{name:<8} {r['labels_commit']}  {r['rules_commit']}   {r['rules_tree']}   {r['threads']:>4}")
    for n in notes:
        print("NOTE", n)
    failed = [n for n, r in results.items() if isinstance(r["engine"], str)]
    for n in failed:
        print(
            f"NOTE {n}: the engine of {results[n]['rules_commit']} could not score it ({results[n]['engine']}); left out of that column's pool"
        )

    def cnt(r: dict, w: str, s: str, moment: str) -> tuple[int, int, int] | None:
        return None if isinstance(r[w], str) else counts(r[w][s], moment)

    pooled: dict[str, dict] = {}
    for moment in HEADLINE:
        print(f"\n## {moment}")
        print(f"{'batch':<8} | {title}")
        tot = {k: [0, 0, 0] for k in kinds}
        for name, r in results.items():
            cells = []
            for w, s in kinds:
                c = cnt(r, w, s, moment)
                if c is None:
                    cells.append("n/a")
                    continue
                tot[(w, s)] = [a + b for a, b in zip(tot[(w, s)], c)]
                cells.append(prf(*c))
            print(f"{name:<8} | " + " | ".join(f"{c:<23}" for c in cells))
        print(f"{'pooled':<8} | " + " | ".join(f"{prf(*tot[k]):<23}" for k in kinds))
        pooled[moment] = tot
    print("\n## pooled over the 14 batches")
    print(f"{'moment':<20} | {title}")
    for moment in HEADLINE:
        print(f"{moment:<20} | " + " | ".join(f"{prf(*pooled[moment][k]):<23}" for k in kinds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
