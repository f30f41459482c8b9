"""Can sentence-embedding similarity between a long complaint and the agent's reply tell a real
restatement from a non-reflective reply better than the missed-reflection rule's word overlap?

    RAPPORT_ASSIST_PURE=1 PYTHONPATH=src .venv/bin/python bench/embed_reflection.py [--embedder DIR]   # model: see bench/minilm.py

Experiment only (nothing in src/ or rules/ reads it). Steps:

1. Pairs. Every thread is run through the pipeline twice: with the rules as they are, and with
   a copy of the rules (in a temp folder) whose missed-reflection ``expect`` can never hold, so
   that copy fires at every (complaint turn, agent reply) pair the rule looks at. A pair is
   *fired* when the real rule fires there too; otherwise the rule judged the reply reflecting.
2. Similarities (all-MiniLM-L6-v2, numpy forward pass in ``bench/minilm.py``): cosine of the
   whole turns (``whole``), the best sentence-to-sentence cosine (``sent``), and the whole turns
   with handles, URLs, greetings and sign-offs stripped (``strip``); plus a plain content-token
   overlap count (``overlap``) as the word-overlap yardstick.
3. AUCs (positive = thread labelled missed-reflection at that pair; low similarity should mean
   positive): among fired pairs (true vs false fires), among quiet pairs (missed positives vs
   correct quiet), among all pairs.
4. Protocol: thresholds chosen on TRAIN (IBM fresh 1-4, twcs 1-10, red-team half A); tested once on
   IBM dev (A, B, all; all labels and clear) and red-team half B. Then A->B and B->A on IBM dev.
   A *veto* drops a fire whose similarity is >= t; a *trigger* adds a fire on a quiet pair whose
   similarity is < t. Scores are conversation level, as ``rapport-assist eval`` counts them.
5. Price: ms per pair with a batch of one.

Threads, pairs and embeddings are cached under /tmp/h101 (tweet text never leaves /tmp).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
DATA = Path("/work/shared/data/dialogues")
CACHE = Path("/tmp/h101")
RULE = "missed-reflection"


# ---------------------------------------------------------------------------- data sets


def load_sets() -> dict[str, list[dict]]:
    """name -> rows {id, turns, labels, notes, borderline, half}."""
    from twitter_dev import borderline_moments, joined

    sets: dict[str, list[dict]] = {}
    dev = joined(DATA, DATA / "twitter_dev_labels.jsonl")
    for i, r in enumerate(dev):
        r["half"] = "A" if i % 2 == 0 else "B"
    sets["ibmdev"] = dev
    for f in ("", "2", "3", "4"):
        sets[f"fresh{f or '1'}"] = joined(DATA, ROOT / f"bench/data/twitter_fresh{f}_labels.jsonl")
    for i in range(1, 11):
        sets[f"twcs{i}"] = joined(DATA, ROOT / f"bench/data/twcs{i}_labels.jsonl", Path(f"/tmp/tw/t{i}.jsonl"))
    rt = []
    for line in (ROOT / "bench/data/reflection_redteam.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            # as bench/reflection_redteam.py counts it: any 'borderline' in the notes
            r["borderline"] = [RULE] if "borderline" in r.get("notes", "") else []
            rt.append(r)
    sets["redteam"] = rt
    for rows in sets.values():
        for r in rows:
            r.setdefault("borderline", borderline_moments(r.get("notes", ""), list(r["labels"])))
    return sets


def variant_rules() -> Path:
    """A copy of rules/ whose missed-reflection expect can never hold (fires at every pair)."""
    dst = CACHE / "rules_variant"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(ROOT / "rules", dst)
    t = (dst / "headline.yaml").read_text(encoding="utf-8")
    i = t.index(f"  - id: {RULE}\n")
    head = "    expect:\n      speaker: agent\n"
    j = t.index(head, i) + len(head)
    (dst / "headline.yaml").write_text(t[:j] + "      min_length: {words: 100000}\n" + t[j:], encoding="utf-8")
    return dst


def complaint_of(nudge) -> int:
    """The complaint turn of a missed-reflection nudge: its 'trigger' evidence (the first evidence
    is the reply)."""
    for e in nudge.evidence:
        if e.note == "trigger" or e.speaker.value == "customer":
            return e.utterance_index
    return -1


def whole_turn(utts, c: int, r: int) -> str:
    """The customer's whole turn around utterance ``c`` (a thread's consecutive customer
    messages before the reply ``r``): the rule's complaint is the whole turn, even when the
    trigger evidence is one message of it."""
    if c < 0:
        return ""
    lo = c
    while lo > 0 and utts[lo - 1].speaker.value == "customer":
        lo -= 1
    hi = c
    while hi + 1 < r and utts[hi + 1].speaker.value == "customer":
        hi += 1
    return " ".join(u.text for u in utts[lo : hi + 1])


def run_pairs(sets: dict[str, list[dict]]) -> list[dict]:
    """Every (complaint, reply) pair the rule looks at, with fired/labelled; cached."""
    key = hashlib.sha1()
    for p in sorted((ROOT / "rules").glob("*.yaml")) + sorted((ROOT / "src").rglob("*.py")):
        key.update(p.read_bytes())
    for rows in sets.values():
        key.update(json.dumps([[r["id"], r["labels"].get(RULE), r["turns"]] for r in rows]).encode())
    cache = CACHE / f"pairs_{key.hexdigest()[:12]}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    import tempfile

    from rapport_assist.annotate import Annotator
    from rapport_assist.evaluate import read_dialogues, run_conversations
    from rapport_assist.rules import load_rules

    real, var = load_rules([ROOT / "rules"]), load_rules([variant_rules()])
    ann = Annotator()
    pairs: list[dict] = []
    for name, rows in sets.items():
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({k: r[k] for k in ("id", "turns", "labels", "notes")}, ensure_ascii=False) + "\n")
            tmp = Path(f.name)
        convs = read_dialogues(tmp)
        tmp.unlink()
        fired: dict[str, set] = {}
        res_real, _ = run_conversations(convs, real, ann)
        for res in res_real:
            fired[res.conversation.id] = {(complaint_of(n), n.utterance_index) for n in res.nudges if n.rule == RULE}
        res_var, _ = run_conversations(convs, var, ann)
        by_id = {r["id"]: r for r in rows}
        for res in res_var:
            conv = res.conversation
            row = by_id[conv.id]
            utts = conv.utterances
            cands = [n for n in res.nudges if n.rule == RULE]
            seen = set()
            for n in cands:
                c = complaint_of(n)
                pair = (c, n.utterance_index)
                seen.add(pair)
                pairs.append(
                    {
                        "set": name,
                        "id": conv.id,
                        "half": row.get("half", ""),
                        "c": c,
                        "r": n.utterance_index,
                        "complaint": whole_turn(utts, c, n.utterance_index),
                        "reply": utts[n.utterance_index].text,
                        "fired": pair in fired[conv.id],
                    }
                )
            lost = fired[conv.id] - seen
            if lost:
                print(f"  warning: {conv.id}: real fire(s) {lost} not among the candidates", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(pairs))
    return pairs


# ---------------------------------------------------------------------------- text and embeddings

_SENT = re.compile(r"(?<=[.!?])\s+|\n+")
_HANDLE = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_GREET = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|greetings|good (morning|afternoon|evening|day))\b[^.!?,]{0,25}[,.!:-]*\s*",
    re.I,
)
# a trailing agent signature: "-JD", "^AB", "*TM", "~ Sam", "/Ann"
_SIGN = re.compile(r"\s*(?:[-–—~^*/]\s*[A-Za-z]{1,12}\.?|\^[A-Za-z]{1,4})\s*$")
_THANKS_OPEN = re.compile(
    r"^\s*(thanks|thank you)( so much| very much)?( for (reaching out|contacting us|getting in touch|"
    r"letting us know|your (tweet|message|patience)))?[.!,]*\s*",
    re.I,
)
_STOP = set(
    """a an the and or but if so to of in on at for from by with about as into than then is are was were be been
    being am do does did have has had i me my mine you your yours we us our it its this that these those he she
    they them their his her what which who whom when where why how not no yes can could would should will shall
    may might must just also very really too there here all any some more most much many up down out over again
    still get got im i'm i've i'd you're we're it's don't can't won't didn't doesn't isn't please thanks thank hi
    hello hey dm sorry""".split()
)


def sentences(text: str) -> list[str]:
    out = [s.strip() for s in _SENT.split(_URL.sub(" ", _HANDLE.sub(" ", text)))]
    return [s for s in out if len(s.split()) >= 2] or [text.strip() or "."]


def stripped(text: str) -> str:
    t = _URL.sub(" ", _HANDLE.sub(" ", text))
    t = _SIGN.sub("", t.strip())
    for _ in range(2):
        t = _GREET.sub("", t)
        t = _THANKS_OPEN.sub("", t)
    t = re.sub(r"\s+", " ", t).strip()
    return t or "."


def tokens(text: str) -> set[str]:
    t = _URL.sub(" ", _HANDLE.sub(" ", text.lower()))
    return {w[:6] for w in re.findall(r"[a-z][a-z']+", t) if w not in _STOP and len(w) > 2}


class Cache:
    def __init__(self, embedder_dir: str) -> None:
        self.dir = embedder_dir
        self.path = CACHE / "emb_cache.pkl"
        self.d: dict[str, np.ndarray] = pickle.loads(self.path.read_bytes()) if self.path.exists() else {}
        self.E = None

    def embedder(self):
        if self.E is None:
            sys.path.insert(0, self.dir)
            from minilm import Embedder  # type: ignore[import-not-found]

            self.E = Embedder()
        return self.E

    def get(self, texts: list[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self.d}, key=len)
        if todo:
            vecs = self.embedder().embed(todo)
            self.d.update(zip(todo, vecs))
            self.path.write_bytes(pickle.dumps(self.d))
        return np.stack([self.d[t] for t in texts])


def add_features(pairs: list[dict], cache: Cache) -> None:
    texts: list[str] = []
    for p in pairs:
        p["c_sents"], p["r_sents"] = sentences(p["complaint"]), sentences(p["reply"])
        p["c_strip"], p["r_strip"] = stripped(p["complaint"]), stripped(p["reply"])
        texts += [p["complaint"], p["reply"], p["c_strip"], p["r_strip"], *p["c_sents"], *p["r_sents"]]
    cache.get(list(dict.fromkeys(texts)))
    for p in pairs:
        g = cache.get
        a, b = g([p["complaint"], p["reply"]])
        p["whole"] = float(a @ b)
        a, b = g([p["c_strip"], p["r_strip"]])
        p["strip"] = float(a @ b)
        p["sent"] = float((g(p["c_sents"]) @ g(p["r_sents"]).T).max())
        p["rsent"] = float((g(p["r_sents"]) @ g([p["complaint"]]).T).max())
        p["overlap"] = float(len(tokens(p["complaint"]) & tokens(p["reply"])))


# whole: turn vs turn; sent: best sentence pair; rsent: best reply sentence vs the whole complaint;
# strip: turns without handles, URLs, greetings, sign-offs; overlap: shared content tokens
FEATURES = ("whole", "sent", "rsent", "strip", "overlap")
SIMS = ("whole", "sent", "rsent", "strip")


# ---------------------------------------------------------------------------- scoring


def next_agent(turns: list[dict], t: int) -> int | None:
    for j in range(t + 1, len(turns)):
        if turns[j]["speaker"] == "agent":
            return j
    return None


def label_pairs(pairs: list[dict], rows_by: dict[tuple[str, str], dict]) -> None:
    for p in pairs:
        row = rows_by[(p["set"], p["id"])]
        gold = row["labels"].get(RULE) or []
        # as eval matches a fire to a label: the complaint, the reply, or the labelled customer turn
        # whose next agent turn is the reply
        p["pos"] = any(g in (p["c"], p["r"]) or next_agent(row["turns"], g) == p["r"] for g in gold)
        p["thread_pos"] = bool(gold)
        p["border"] = RULE in row["borderline"]


def auc(scores: list[float], labels: list[bool]) -> float | None:
    """P(score of a positive > score of a negative), ties half."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return None
    s = np.array(scores)
    order = s.argsort(kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    for v in np.unique(s):  # average ranks of ties
        m = s == v
        ranks[m] = ranks[m].mean()
    y = np.array(labels)
    return float((ranks[y].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def decide(
    pairs: list[dict], feat: str | None, veto: float | None, trig: float | None, alone: float | None = None
) -> dict[tuple, bool]:
    """Pair -> fires, for the rule with an embedding veto (drop a fire with sim >= veto) and/or
    trigger (fire on a quiet pair with sim < trig); ``alone``: similarity replaces the rule's
    reflection test (fire on any pair with sim < alone)."""
    out = {}
    for p in pairs:
        if alone is not None:
            out[(p["set"], p["id"], p["c"], p["r"])] = p[feat] < alone
            continue
        f = p["fired"]
        if feat and veto is not None and f and p[feat] >= veto:
            f = False
        if feat and trig is not None and not p["fired"] and p[feat] < trig:
            f = True
        out[(p["set"], p["id"], p["c"], p["r"])] = f
    return out


def conv_counts(rows: list[tuple[str, dict]], pairs_by: dict, fires: dict, clear: bool) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for name, r in rows:
        if clear and RULE in r["borderline"]:
            continue
        gold = bool(r["labels"].get(RULE))
        pred = any(fires[k] for k in pairs_by.get((name, r["id"]), []))
        tp += gold and pred
        fp += pred and not gold
        fn += gold and not pred
    return tp, fp, fn


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def cell(c: tuple[int, int, int]) -> str:
    tp, fp, fn = c
    p = f"{tp / (tp + fp):.2f}" if tp + fp else " -  "
    r = f"{tp / (tp + fn):.2f}" if tp + fn else " -  "
    return f"{p}/{r} {tp:>3}/{fp:>3}/{fn:>3}"


def choose(pairs, rows, pairs_by, feat: str, kind: str) -> tuple[float | None, tuple]:
    """The threshold (on ``rows``) that maximises conversation-level F1 (all labels) for a veto
    or a trigger on ``feat``; None when no threshold beats the rule alone."""
    base = conv_counts(rows, pairs_by, decide(pairs, None, None, None), False)
    best, best_c = None, base
    vals = sorted({round(p[feat], 3) for p in pairs})
    cands = [v + 1e-4 for v in vals] if kind in ("trig", "alone") else vals
    if kind == "alone":
        best_c = (0, 0, 10**9)
    for t in cands:
        d = decide(
            pairs, feat, t if kind == "veto" else None, t if kind == "trig" else None, t if kind == "alone" else None
        )
        c = conv_counts(rows, pairs_by, d, False)
        if f1(*c) > f1(*best_c) + 1e-9:
            best, best_c = t, c
    return best, best_c


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embedder", default=str(Path(__file__).parent), help="folder holding minilm.py (numpy MiniLM)")
    ap.add_argument("--reads", action="store_true", help="print the changed decisions on the test sets (text!)")
    args = ap.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)

    sets = load_sets()
    rows_by = {(n, r["id"]): r for n, rows in sets.items() for r in rows}
    pairs = run_pairs(sets)
    cache = Cache(args.embedder)
    add_features(pairs, cache)
    label_pairs(pairs, rows_by)
    pairs_by: dict[tuple, list] = {}
    for p in pairs:
        pairs_by.setdefault((p["set"], p["id"]), []).append((p["set"], p["id"], p["c"], p["r"]))

    train_sets = [f"fresh{i}" for i in range(1, 5)] + [f"twcs{i}" for i in range(1, 11)]

    def in_train(p_or_row_set: str, half: str) -> bool:
        return p_or_row_set in train_sets or (p_or_row_set == "redteam" and half == "A")

    train_rows = [(n, r) for n, rows in sets.items() for r in rows if in_train(n, r.get("half", ""))]
    train_pairs = [p for p in pairs if in_train(p["set"], p["half"])]

    print(f"pairs: {len(pairs)} (fired {sum(p['fired'] for p in pairs)}), threads {sum(map(len, sets.values()))}")
    print(f"TRAIN: {len(train_rows)} threads, {len(train_pairs)} pairs\n")

    # ---- AUCs
    groups = {
        "TRAIN": train_pairs,
        "ibmdev": [p for p in pairs if p["set"] == "ibmdev"],
        "redteam B": [p for p in pairs if p["set"] == "redteam" and p["half"] == "B"],
    }
    print("AUC (positive = pair labelled missed-reflection; score = -similarity, overlap = -shared tokens)")
    print(f"{'group':<11}{'subset':<8}{'n+/n-':>9}  " + "".join(f"{f:>8}" for f in FEATURES) + "  rule(binary)")
    for g, ps in groups.items():
        for sub, sel in (
            ("fired", [p for p in ps if p["fired"]]),
            ("quiet", [p for p in ps if not p["fired"]]),
            ("all", ps),
        ):
            y = [p["pos"] for p in sel]
            a = [auc([-p[f] for p in sel], y) for f in FEATURES]
            rb = auc([float(p["fired"]) for p in sel], y) if sub == "all" else None
            print(
                f"{g:<11}{sub:<8}{sum(y):>4}/{len(y) - sum(y):<4}  "
                + "".join(f"{x:8.3f}" if x is not None else "       -" for x in a)
                + (f"  {rb:.3f}" if rb is not None else "")
            )
    print()

    # ---- means
    print("mean similarity (TRAIN pairs): true fire / false fire / missed positive / correct quiet")
    for f in FEATURES:
        cats = [
            [p[f] for p in train_pairs if p["fired"] and p["pos"]],
            [p[f] for p in train_pairs if p["fired"] and not p["pos"]],
            [p[f] for p in train_pairs if not p["fired"] and p["pos"]],
            [p[f] for p in train_pairs if not p["fired"] and not p["pos"]],
        ]
        print(f"  {f:<8}" + "  ".join(f"{np.mean(c):.3f} (n={len(c)})" if c else "-" for c in cats))
    print()

    # ---- red-team families: the rule's two known failures side by side
    rt_rows = {r["id"]: r for r in sets["redteam"]}
    print("red-team families (both halves; descriptive, no threshold read from B): mean similarity, rule fire rate")
    print(f"  {'family':<11}{'label':<6}{'n':>3} {'fired':>6}" + "".join(f"{f:>8}" for f in FEATURES))
    fams: dict[tuple, list] = {}
    for p in pairs:
        if p["set"] == "redteam":
            fams.setdefault((rt_rows[p["id"]]["family"], "pos" if p["pos"] else "neg"), []).append(p)
    for (fam, lab), ps in sorted(fams.items(), key=lambda kv: (kv[0][1], np.mean([p["whole"] for p in kv[1]]))):
        print(
            f"  {fam:<11}{lab:<6}{len(ps):>3} {np.mean([p['fired'] for p in ps]):6.2f}"
            + "".join(f"{np.mean([p[f] for p in ps]):8.3f}" for f in FEATURES)
        )
    restate = {"paraphrase", "nounpara", "keypoint", "stock"}
    topical = {"policy", "procedure", "label", "wrongthing", "link"}
    for half in ("A", "B"):
        sel = [
            p
            for p in pairs
            if p["set"] == "redteam" and p["half"] == half and rt_rows[p["id"]]["family"] in restate | topical
        ]
        y = [rt_rows[p["id"]]["family"] in topical for p in sel]
        print(
            f"  half {half}: restatements ({', '.join(sorted(restate))}) vs on-topic non-reflections "
            f"({', '.join(sorted(topical))}), {sum(y)}/{len(y) - sum(y)}: AUC "
            + "  ".join(f"{f} {auc([-p[f] for p in sel], y):.3f}" for f in FEATURES)
            + f"  rule {auc([float(p['fired']) for p in sel], y):.3f}"
        )
    print()

    # ---- coverage: labelled threads with no pair at all (the complaint side did not trigger)
    print("labelled-positive threads with no (complaint, reply) pair: no similarity can reach them")
    for g, sel in (
        ("TRAIN", train_rows),
        ("ibmdev", [("ibmdev", r) for r in sets["ibmdev"]]),
        ("redteam B", [("redteam", r) for r in sets["redteam"] if r["half"] == "B"]),
    ):
        posr = [(n, r) for n, r in sel if r["labels"].get(RULE)]
        nopair = [x for x in posr if (x[0], x[1]["id"]) not in pairs_by]
        print(f"  {g:<10} {len(nopair)}/{len(posr)} positive threads have no pair")
    print()

    # ---- trade-off curves on TRAIN
    tf = [p for p in train_pairs if p["fired"] and p["pos"]]
    ff = [p for p in train_pairs if p["fired"] and not p["pos"]]
    mp = [p for p in train_pairs if not p["fired"] and p["pos"]]
    cq = [p for p in train_pairs if not p["fired"] and not p["pos"]]
    curves = (
        (
            "veto",
            "fires dropped at sim >= t (true fires lost / false fires removed",
            tf,
            ff,
            (0.4, 0.5, 0.6, 0.7),
            True,
        ),
        (
            "trigger",
            "quiet pairs fired at sim < t (missed positives caught / correct quiet wrongly fired",
            mp,
            cq,
            (0.2, 0.3, 0.4, 0.5),
            False,
        ),
    )
    for kind, what, good, bad, thresholds, above in curves:
        print(f"TRAIN {kind} curve: {what}, of {len(good)}/{len(bad)})")
        for f in SIMS:
            cells = []
            for t in thresholds:
                g = sum((p[f] >= t) if above else (p[f] < t) for p in good)
                b = sum((p[f] >= t) if above else (p[f] < t) for p in bad)
                cells.append(f"t{t}: {g:>3}/{b:<3}")
            print(f"  {f:<6} " + "  ".join(cells))
    print()

    # ---- thresholds on TRAIN
    chosen = {}
    print(
        "thresholds chosen on TRAIN (max conversation-level F1, all labels); rule alone:",
        cell(conv_counts(train_rows, pairs_by, decide(pairs, None, None, None), False)),
    )
    for f in SIMS:
        for kind in ("veto", "trig", "alone"):
            t, c = choose(train_pairs, train_rows, pairs_by, f, kind)
            chosen[(f, kind)] = t
            print(f"  {f:<6} {kind:<5} t={'none' if t is None else f'{t:.3f}':<6} TRAIN {cell(c)}  F1 {f1(*c):.3f}")
    print()

    # ---- held-out tests
    dev = sets["ibmdev"]
    tests = {
        "ibmdev A": [("ibmdev", r) for r in dev if r["half"] == "A"],
        "ibmdev B": [("ibmdev", r) for r in dev if r["half"] == "B"],
        "ibmdev all": [("ibmdev", r) for r in dev],
        "redteam B": [("redteam", r) for r in sets["redteam"] if r["half"] == "B"],
    }
    variants = [("rule alone", None, None, None, None)]
    for (f, kind), t in chosen.items():
        if t is not None:
            variants.append(
                (
                    f"{'' if kind == 'alone' else '+'}{f} {kind} {t:.3f}",
                    f,
                    t if kind == "veto" else None,
                    t if kind == "trig" else None,
                    t if kind == "alone" else None,
                )
            )
    print("held-out, conversation level P/R tp/fp/fn (thresholds from TRAIN; tested once)")
    print(f"{'':<24}" + "".join(f"{n + ' all':>22}{n + ' clear':>22}" for n in tests))
    for name, f, v, t, a in variants:
        d = decide(pairs, f, v, t, a)
        line = f"{name:<24}"
        for rows in tests.values():
            line += f"{cell(conv_counts(rows, pairs_by, d, False)):>22}{cell(conv_counts(rows, pairs_by, d, True)):>22}"
        print(line)
    print()

    # ---- A->B, B->A on IBM dev
    print("IBM dev swap: threshold chosen on one half (max F1, all labels), scored on the other")
    for src, dst in (("A", "B"), ("B", "A")):
        srows = [("ibmdev", r) for r in dev if r["half"] == src]
        drows = [("ibmdev", r) for r in dev if r["half"] == dst]
        sp = [p for p in pairs if p["set"] == "ibmdev" and p["half"] == src]
        base_d = decide(pairs, None, None, None)
        print(
            f"  {src}->{dst} rule alone: {dst} all {cell(conv_counts(drows, pairs_by, base_d, False))}"
            f"  clear {cell(conv_counts(drows, pairs_by, base_d, True))}"
        )
        for f in SIMS:
            for kind in ("veto", "trig", "alone"):
                t, c = choose(sp, srows, pairs_by, f, kind)
                if t is None:
                    print(f"  {src}->{dst} {f:<6}{kind:<5} no threshold beats the rule on {src}")
                    continue
                d = decide(
                    pairs,
                    f,
                    t if kind == "veto" else None,
                    t if kind == "trig" else None,
                    t if kind == "alone" else None,
                )
                print(
                    f"  {src}->{dst} {f:<6}{kind:<5} t={t:.3f} ({src} {cell(c)})  {dst} all "
                    f"{cell(conv_counts(drows, pairs_by, d, False))}  clear {cell(conv_counts(drows, pairs_by, d, True))}"
                )
    print()

    # ---- post hoc: fixed veto thresholds on every set (read after the protocol run; chooses nothing)
    print("post hoc, not protocol: fixed veto thresholds (drop a fire with sim >= t), all labels")
    sens = {"TRAIN": train_rows, "ibmdev": tests["ibmdev all"], "redteam B": tests["redteam B"]}
    for f in ("whole", "rsent"):
        for v in (None, 0.5, 0.55, 0.6, 0.65, 0.7):
            d = decide(pairs, f, v, None)
            print(
                f"  {f:<6}{'rule' if v is None else v:<6}"
                + "".join(f"{k} {cell(conv_counts(rows, pairs_by, d, False))}   " for k, rows in sens.items())
            )
    print()

    # ---- price: batch of one, as live: the complaint embedded when its turn closes, the reply when it closes
    E = cache.embedder()
    sample = [p for p in pairs if p["set"] == "ibmdev"][:20] + [p for p in pairs if p["set"] == "redteam"][:20]
    E.embed([sample[0]["reply"]])
    la = os.getloadavg()
    rows_t = {
        "complaint (one call)": [],
        "reply (one call)": [],
        "pair whole (2 calls)": [],
        "pair sent (one call per turn's sentences)": [],
    }
    for p in sample:
        for _ in range(3):
            t0 = time.perf_counter()
            E.embed([p["complaint"]])
            t1 = time.perf_counter()
            E.embed([p["reply"]])
            t2 = time.perf_counter()
            E.embed(p["c_sents"])

            E.embed(p["r_sents"])
            t4 = time.perf_counter()
            rows_t["complaint (one call)"].append((t1 - t0) * 1000)
            rows_t["reply (one call)"].append((t2 - t1) * 1000)
            rows_t["pair whole (2 calls)"].append((t2 - t0) * 1000)
            rows_t["pair sent (one call per turn's sentences)"].append((t4 - t2) * 1000)
    la2 = os.getloadavg()
    words_c = np.median([len(p["complaint"].split()) for p in sample])
    words_r = np.median([len(p["reply"].split()) for p in sample])
    print(f"price over {len(sample)} pairs x3 (median complaint {words_c:.0f} words, reply {words_r:.0f} words):")
    for k, v in rows_t.items():
        print(f"  {k:<44} median {np.median(v):6.1f} ms  p90 {np.percentile(v, 90):6.1f} ms")
    print(
        f"  load average before {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, after {la2[0]:.2f} {la2[1]:.2f} {la2[2]:.2f}; "
        f"cores {os.cpu_count()}"
    )

    if args.reads:
        for name, f, v, t, a in variants[1:]:
            d = decide(pairs, f, v, t, a)
            print(f"\n== changed by {name} (ibmdev, redteam B)")
            for p in pairs:
                if p["set"] == "ibmdev" or (p["set"] == "redteam" and p["half"] == "B"):
                    k = (p["set"], p["id"], p["c"], p["r"])
                    if d[k] != p["fired"]:
                        print(
                            f"  {p['id']} fired={p['fired']}->{d[k]} pos={p['pos']} border={p['border']} "
                            f"{f}={p[f]:.3f} | C: {p['complaint'][:140]!r} | R: {p['reply'][:140]!r}"
                        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
