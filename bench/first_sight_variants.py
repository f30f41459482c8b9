"""Blind operating points: one principled change to a headline rule ("variant"), applied to each
batch's first-sight rules (the rules as they were before that batch's labels were read) and to
today's rules, scored next to the unchanged rules.

    PYTHONPATH=$PWD/src RAPPORT_ASSIST_PURE=1 .venv/bin/python bench/first_sight_variants.py [VARIANT...] [--json] [--list]

Because no batch's rules-then ever saw that batch, the same change applied to every batch's
rules-then gives a blind estimate of what the change does on threads never seen. A variant is a
text patch of a copy of the rules folder (one rule's YAML block, a params value, or the `angry`
tone); a pack it cannot apply to (the rule or class did not exist yet) is scored unchanged and
named ("NOT APPLIED"). For each variant it prints, next to the baseline (no variant):

- pooled blind P/R/F1 and tp/fp/fn over the 14 batches (all and clear), over twcs 7-10 and over
  IBM fresh 1-4 (clear), and the sign count of batches whose clear F1 for the moment rose, fell
  or stayed;
- with ``--today``, today's rules with the variant on the 14 batches (read, not blind);
- the variant on today's rules: IBM dev (`scripts/twitter_dev.py`'s halves A and B, clear) and
  `scripted_dev.jsonl` (`rapport-assist eval --only-rules DIR`, conversation level).

Batches, rules-then and scoring are `bench/first_sight.py`'s. Counts only (no text). Scores are
cached per (batch, patched tree hash, engine tree) in ``--cache``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import first_sight as fs  # noqa: E402

REPO, SHARED = fs.REPO, fs.SHARED
Patch = Callable[[Path], None]


class NotApplicable(Exception):
    pass


def rule_span(text: str, rule_id: str) -> tuple[int, int]:
    """Start and end of a rule's block (its ``- id:`` line up to the next rule's) in a pack."""
    i = text.find(f"\n  - id: {rule_id}\n")
    if i < 0:
        raise NotApplicable(f"no rule {rule_id}")
    j = text.find("\n  - id: ", i + 1)
    return i + 1, (j + 1 if j > 0 else len(text))


def sub_rule(path: Path, rule_id: str, pattern: str, repl: str, count: int = 1, before: str | None = None) -> None:
    """Replace ``pattern`` (re.M) inside the rule's block, exactly ``count`` matches; with
    ``before``, only in the part of the block before the first line equal to it."""
    text = path.read_text(encoding="utf-8")
    a, b = rule_span(text, rule_id)
    block = text[a:b]
    end = len(block)
    if before is not None:
        k = block.find("\n" + before + "\n")
        if k < 0:
            raise NotApplicable(f"{rule_id}: no line {before!r}")
        end = k + 1
    head, n = re.subn(pattern, repl, block[:end], flags=re.M | re.S)
    if n != count:
        raise NotApplicable(f"{rule_id}: {n} matches of {pattern[:60]!r}, wanted {count}")
    path.write_text(text[:a] + head + block[end:] + text[b:], encoding="utf-8")


def param(rule_id: str, name: str, value: str) -> Patch:
    def patch(d: Path) -> None:
        sub_rule(d / "headline.yaml", rule_id, rf"\b{name}: *[0-9.]+", f"{name}: {value}")

    return patch


def angry_when(replacement: str) -> Patch:
    """angry-no-apology's ``tone: angry`` trigger (in ``when``, not the episode's) replaced."""

    def patch(d: Path) -> None:
        path = d / "headline.yaml"
        text = path.read_text(encoding="utf-8")
        a, b = rule_span(text, "angry-no-apology")
        when = text[a:b].split("\n    when:\n", 1)[1].split("\n    expect:\n", 1)[0]
        if re.search(r"^      any:", when, flags=re.M):
            raise NotApplicable("angry-no-apology's when already has an any:")
        sub_rule(path, "angry-no-apology", r"^      tone: angry$", replacement, before="    expect:")

    return patch


def reflection_problem_only(d: Path) -> None:
    # the second trigger branch: complaint-cues (with the how-to veto)
    sub_rule(
        d / "headline.yaml",
        "missed-reflection",
        r"^        - all:\n            - says: [^\n]*complaint-cues[^\n]*\n            - not: \{says: how-to-request\}\n",
        "",
        before="    expect:",
    )


def promise_core_only(d: Path) -> None:
    """uncommitted-promise triggered by its first branch only (a subject + future action of
    promise-actions, with its vetoes): the other phrase branches dropped."""
    path = d / "headline.yaml"
    text = path.read_text(encoding="utf-8")
    a, b = rule_span(text, "uncommitted-promise")
    block = text[a:b]
    head, rest = block.split("\n    when:\n", 1)
    when, tail = rest.split("\n    expect:\n", 1)
    lines = when.split("\n")
    k = lines.index("      any:")
    if not lines[k + 1].startswith("        - says:") or "future_action: promise-actions" not in lines[k + 2]:
        raise NotApplicable("uncommitted-promise's first branch is not future_action")
    end = next(
        (
            i
            for i in range(k + 2, len(lines))
            if lines[i].startswith("        ") and not lines[i].startswith("         ")
        ),
        len(lines),
    )
    dropped = [ln for ln in lines[end:] if ln.startswith("        - ")]
    if not dropped:
        raise NotApplicable("uncommitted-promise has one branch only")
    when = "\n".join(lines[:end])
    path.write_text(text[:a] + head + "\n    when:\n" + when + "\n    expect:\n" + tail + text[b:], encoding="utf-8")


def anger_hints_calm(d: Path) -> None:
    """The angry tone's weak-grievance class (anger-hints: contact unanswered, a failure that
    goes on) without its heat test ("!!", "???"): said calmly, it counts too."""
    path = d / "common.yaml"
    text = path.read_text(encoding="utf-8")
    pattern = r"(^            - says: anger-hints\n)((?:            #[^\n]*\n)*)            - says: \{regex: '\\w \*\(\?:!!\|\\\?\\\?\\\?\)'\}\n"
    new, n = re.subn(pattern, r"\1", text, flags=re.M)
    if n != 1:
        raise NotApplicable(f"{n} anger-hints classes with a heat test in the angry tone")
    path.write_text(new, encoding="utf-8")


# name: (moment, what it does, patch)
VARIANTS: dict[str, tuple[str, str, Patch]] = {
    "A1": (
        "angry-no-apology",
        "triggered by tone tense (tense or angry) instead of angry",
        angry_when("      tone: tense"),
    ),
    "A2": (
        "angry-no-apology",
        "tone tense, but a tense-only turn must also say a problem-cues word",
        angry_when("      tone: tense\n      any:\n        - tone: angry\n        - says: problem-cues"),
    ),
    "A3": (
        "angry-no-apology",
        "tone tense, but a tense-only turn must follow a tense customer utterance within 3 turns",
        angry_when(
            "      tone: tense\n      any:\n        - tone: angry\n"
            "        - earlier: {within: {turns: 3}, speaker: customer, tone: tense}"
        ),
    ),
    "A4": (
        "angry-no-apology",
        "the angry tone's weak-grievance class (anger-hints) without its '!!'/'???' heat test",
        anger_hints_calm,
    ),
    "R1": (
        "missed-reflection",
        "triggered by the problem-cues branch only (complaint-cues branch dropped)",
        reflection_problem_only,
    ),
    "R2": (
        "missed-reflection",
        "reflect_min_shared 1 (today 2)",
        param("missed-reflection", "reflect_min_shared", "1"),
    ),
    "R3": (
        "missed-reflection",
        "reflect_min_shared 3 (today 2)",
        param("missed-reflection", "reflect_min_shared", "3"),
    ),
    "R4": (
        "missed-reflection",
        "reflect_min_verbs 0 (today 1): shared nouns alone restate",
        param("missed-reflection", "reflect_min_verbs", "0"),
    ),
    "R5": (
        "missed-reflection",
        "long_turn_words 45 (today 35)",
        param("missed-reflection", "long_turn_words", "45"),
    ),
    "P1": (
        "uncommitted-promise",
        "request_sentences 2 (today 1): a request two sentences back also vetoes",
        param("uncommitted-promise", "request_sentences", "2"),
    ),
    "P2": (
        "uncommitted-promise",
        "the subject + future-action branch only (phrase branches dropped)",
        promise_core_only,
    ),
    "P3": (
        "uncommitted-promise",
        "request_sentences 0 (today 1): only a request in the promise's own sentence vetoes",
        param("uncommitted-promise", "request_sentences", "0"),
    ),
}


def tree_hash(d: Path) -> str:
    h = hashlib.sha1()
    for f in sorted(d.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(d)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def patched(src: Path, variant: str | None, cache: Path) -> tuple[Path, str]:
    """(rules folder, tree hash) of ``src`` with the variant applied (``src`` itself for None)."""
    if variant is None:
        # the key first_sight.py caches the unchanged packs under (their git tree)
        if src == REPO / "rules":
            return src, fs.git("rev-parse", "HEAD:rules")
        return src, src.parent.name
    key = hashlib.sha1((tree_hash(src) + variant).encode()).hexdigest()[:12]
    out = cache / "variants" / f"{variant}-{key}" / "rules"
    if not out.is_dir():
        tmp = out.parent / "tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        VARIANTS[variant][2](tmp)
        err = fs.loads(tmp)
        if err:
            raise NotApplicable(f"patched pack does not load: {err}")
        tmp.rename(out)
    return out, tree_hash(out)


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def fmt(c: list[int] | tuple[int, ...]) -> str:
    tp, fp, fn = c
    p = f"{tp / (tp + fp):.3f}" if tp + fp else "  -  "
    r = f"{tp / (tp + fn):.3f}" if tp + fn else "  -  "
    return f"{p}/{r} F1 {f1(tp, fp, fn):.3f} ({tp}/{fp}/{fn})"


def scripted(rules_dir: Path, cache: Path, tree: str) -> dict:
    """{moment: [tp, fp, fn]} at conversation level from ``rapport-assist eval --only-rules``."""
    key = fs.engine_key()
    path = cache / "scores" / f"scripted-{tree[:12]}-{key[:12]}{key[40:]}.json"
    if path.is_file() and "dirty" not in key:
        return json.loads(path.read_text())
    exe = Path(sys.executable).parent / "rapport-assist"
    run = subprocess.run(
        [str(exe), "eval", str(SHARED / "scripted_dev.jsonl"), "--only-rules", str(rules_dir), "--show", "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = {}
    for line in run.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in fs.HEADLINE:
            out[parts[0]] = [int(x) for x in parts[5].split("/")]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def ibm_dev(rules_dir: Path, tree: str, cache: Path, annotator) -> dict:
    """IBM dev halves A and B, all and clear, through first_sight.scored (cached)."""
    from twitter_dev import halves, joined

    rows = joined(SHARED, SHARED / "twitter_dev_labels.jsonl")
    return {h: fs.scored(f"ibmdev{h}", part, rules_dir, tree, cache, annotator) for h, part in halves(rows).items()}


def run_variant(variant: str | None, batches: list, cache: Path, annotator, today: bool) -> dict:
    res: dict = {"batches": {}, "not_applied": []}
    for name, rows, then_dir in batches:
        try:
            d, tree = patched(then_dir, variant, cache)
        except NotApplicable as e:
            res["not_applied"].append(f"{name}: {e}")
            d, tree = patched(then_dir, None, cache)
        entry = {"then": fs.scored(name, rows, d, tree, cache, annotator)}
        res["batches"][name] = entry
        print(f"  {variant or 'base'} {name}", file=sys.stderr)
    td, ttree = patched(REPO / "rules", variant, cache)
    res["ibmdev"] = ibm_dev(td, ttree, cache, annotator)
    res["scripted"] = scripted(td, cache, ttree)
    if today:
        for name, rows, _ in batches:
            res["batches"][name]["today"] = fs.scored(name, rows, td, ttree, cache, annotator)
    return res


LATEST = [f"twcs{n}" for n in (7, 8, 9, 10)]
FRESH = [f"fresh{n}" for n in (1, 2, 3, 4)]


def pool(res: dict, moment: str, kind: str, names: list[str] | None = None, which: str = "then") -> list[int]:
    tot = [0, 0, 0]
    for n, e in res["batches"].items():
        if names is None or n in names:
            tot = [a + b for a, b in zip(tot, fs.counts(e[which][kind], moment))]
    return tot


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variants", nargs="*", help="variant names (default: all)")
    ap.add_argument("--tw", type=Path, default=Path("/tmp/tw"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/h102"))
    ap.add_argument("--today", action="store_true", help="also score today's rules, patched, on the 14 batches")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--list", action="store_true", help="list the variants")
    args = ap.parse_args(argv)
    if args.list:
        for k, (m, what, _) in VARIANTS.items():
            print(f"{k}  {m}: {what}")
        return 0
    names = args.variants or list(VARIANTS)
    for n in names:
        if n not in VARIANTS:
            raise SystemExit(f"no variant {n}: {', '.join(VARIANTS)}")
    from rapport_assist.annotate import Annotator
    from twitter_dev import joined

    annotator = Annotator()
    batches = []
    for name, threads, labels in fs.batches(args.tw):
        rows = joined(SHARED, labels, threads)
        _, d, _ = fs.rules_then(fs.labels_commit(labels), args.cache)
        batches.append((name, rows, d))
    results = {"base": run_variant(None, batches, args.cache, annotator, args.today)}
    for v in names:
        results[v] = run_variant(v, batches, args.cache, annotator, args.today)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0

    print(f"HEAD {fs.git('rev-parse', '--short', 'HEAD')}; conversation level; blind = each batch's rules-then")
    for v in names:
        moment, what, _ = VARIANTS[v]
        base, res = results["base"], results[v]
        print(f"\n## {v} ({moment}): {what}")
        for note in res["not_applied"]:
            print(f"NOT APPLIED {note}")
        rows = [
            ("blind, 14 batches, all", "all", None),
            ("blind, 14 batches, clear", "clear", None),
            ("blind, twcs 7-10, clear", "clear", LATEST),
            ("blind, IBM fresh 1-4, clear", "clear", FRESH),
        ]
        print(f"{'':<30} | {'baseline':<42} | {v}")
        for label, kind, sel in rows:
            print(f"{label:<30} | {fmt(pool(base, moment, kind, sel)):<42} | {fmt(pool(res, moment, kind, sel))}")
        up = down = same = 0
        for n in base["batches"]:
            a = f1(*fs.counts(base["batches"][n]["then"]["clear"], moment))
            b = f1(*fs.counts(res["batches"][n]["then"]["clear"], moment))
            up, down, same = up + (b > a + 1e-9), down + (b < a - 1e-9), same + (abs(b - a) <= 1e-9)
        print(f"{'batches clear F1 up/down/equal':<30} | {'':<42} | {up}/{down}/{same}")
        if args.today:
            for label, kind in (("today (read), 14, clear", "clear"),):
                print(
                    f"{label:<30} | {fmt(pool(base, moment, kind, None, 'today')):<42} | {fmt(pool(res, moment, kind, None, 'today'))}"
                )
        for h in ("A", "B"):
            print(
                f"{'today, IBM dev ' + h + ', clear':<30} | {fmt(fs.counts(base['ibmdev'][h]['clear'], moment)):<42} | "
                f"{fmt(fs.counts(res['ibmdev'][h]['clear'], moment))}"
            )
        for h in ("A", "B"):
            print(
                f"{'today, IBM dev ' + h + ', all':<30} | {fmt(fs.counts(base['ibmdev'][h]['all'], moment)):<42} | "
                f"{fmt(fs.counts(res['ibmdev'][h]['all'], moment))}"
            )
        print(
            f"{'today, scripted dev':<30} | {fmt(base['scripted'].get(moment, [0, 0, 0])):<42} | "
            f"{fmt(res['scripted'].get(moment, [0, 0, 0]))}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
