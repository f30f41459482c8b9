"""A sentence-embedding anger score OR-ed with the rules' `angry` tone (angry-no-apology), tested blind.

    PYTHONPATH=$PWD/src RAPPORT_ASSIST_PURE=1 .venv/bin/python bench/embed_anger.py \
        [--embedder DIR] [--cache /tmp/h100] [--show] [--blind | --gates]

``--blind`` (the real held-out test): every TRAIN batch is scored against the rules as they were
before its labels were committed (``git archive <labels commit>^ rules``, run with today's engine),
alone and OR-ed with the score of a model fit without that batch (the other batches + IBM dev),
at the CV-chosen setting and threshold; then the same with red-team flipped, at that setting's
own CV threshold. IBM dev cannot show a recall gain: the rules were developed on it.

``--gates`` (the CV-chosen config above, no CV): the same blind test with a gate on the added fire
(a customer turn scored >= t where the rules then are quiet must pass it): ``q?`` its last sentence
does not end with "?"; ``qE`` some word of it is outside a question by the engine's `question`
reading; ``tense`` the pipeline's tone of the turn is at least tense; ``exc`` no exception class
of the `angry` tone / angry-no-apology holds (EXC_CLASSES, read per turn with `says:`, so cruder
than the rules' sentence-level skip_ifs), and their combinations. Each is read with the rules
before the batch's labels (blind; most exception lexicons did not exist yet) and, as ``tenseN`` /
``excN``, with today's rules (not blind: written partly on these batches). Gate and t are chosen
per batch on the other 13 batches (most added clear true fires at added clear precision >= 0.8;
or the old criterion), and the choice on all 14 once on IBM dev (halves A/B).

Set OMP_NUM_THREADS=1 for ``--price`` (numpy's two BLAS threads on this 2-core box under load give
a long tail: mean 244 ms, p90 720 ms, against 27 ms single-threaded).

Experiment only: nothing here is read by the runtime; no weights are written to the repo.

Data (conversation labels of angry-no-apology):
  TRAIN  IBM fresh 1-4 (``bench/data/twitter_fresh{,2,3,4}_labels.jsonl`` on the shared IBM
         threads) + twcs 1-10 (``/tmp/tw/t{1..10}.jsonl`` with ``bench/data/twcs{N}_labels.jsonl``);
         optionally the two red-team sets (``bench/data/anger_redteam{,2}.jsonl``) as extra
         training turns only (never scored in CV).
  TEST   IBM dev (220, ``twitter_dev_labels.jsonl``), halves A/B as ``scripts/twitter_dev.py`` splits.

Turn data: a customer utterance is *positive* when it sits in the customer run just before an
agent turn labelled angry-no-apology; *negative* when its thread has no angry-no-apology label and
the agent's reply to it does not apologize (customer turns answered with an apology are left out:
they may be angry). Red-team: the customer run before the judged (last) agent turn is positive in
threads marked ``angry``, every customer turn of the others negative.

Apology reading: the rule's own. Each agent reply (the run of agent utterances after a customer
utterance) is replayed behind a fixed angry probe sentence; the rule firing means the reply has
no apology by the rule's `apology` lexicon (with its not-heard skip).

Decision per thread (the runtime's would be the same): fire if the rules fire, OR some customer
utterance scores >= t and its reply has no apology. Features: MiniLM-L6 embedding (384-d, @handles
and links removed), optionally + capitals/!/? marks. Model: L2 logistic regression (Newton, numpy).
Regularization, features, borderline positives in/out, red-team in/out and t are chosen by 5-fold
CV grouped by thread on TRAIN. The rules were written on TRAIN (clear recall ~1.0 there), so the
choice is made on the model's own held-out fires: the lowest t with model-alone clear precision
>= 0.9 (at least 5 fires), and the setting with the highest model-alone clear recall there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
RULE = "angry-no-apology"
SHARED = Path("/work/shared/data/dialogues")
PROBE = "This is absolutely unacceptable, I am furious with your service."


# ---------------------------------------------------------------- data


def load_sets(tw: Path) -> dict[str, list[dict]]:
    from twitter_dev import joined

    ibm = SHARED / "twitter_customer_care_dev.jsonl"
    sets: dict[str, list[dict]] = {"dev": joined(SHARED, SHARED / "twitter_dev_labels.jsonl", ibm)}
    for name, lab in [
        ("fresh1", "twitter_fresh"),
        ("fresh2", "twitter_fresh2"),
        ("fresh3", "twitter_fresh3"),
        ("fresh4", "twitter_fresh4"),
    ]:
        sets[name] = joined(SHARED, REPO / "bench/data" / f"{lab}_labels.jsonl", ibm)
    for n in range(1, 11):
        sets[f"twcs{n}"] = joined(SHARED, REPO / "bench/data" / f"twcs{n}_labels.jsonl", tw / f"t{n}.jsonl")
    from rapport_assist.evaluate import borderline_in_notes

    for name in ("anger_redteam", "anger_redteam2"):
        rows = []
        for line in (REPO / "bench/data" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                r["borderline"] = borderline_in_notes(r.get("notes", ""), list(r["labels"]))
                rows.append(r)
        sets[name] = rows
    for name, rows in sets.items():
        for r in rows:
            r["set"] = name
            r["uid"] = f"{name}:{r['id']}"
    # leakage check: a TEST thread must not be in TRAIN
    dev_ids = {r["id"] for r in sets["dev"]}
    for name in sets:
        if name != "dev":
            clash = dev_ids & {r["id"] for r in sets[name]}
            if clash:
                print(f"note: {len(clash)} dev thread ids also in {name}: dropped from {name}", file=sys.stderr)
                sets[name] = [r for r in sets[name] if r["id"] not in dev_ids]
    return sets


def is_pos(r: dict) -> bool:
    return bool(r["labels"].get(RULE))


def is_border(r: dict) -> bool:
    return RULE in r["borderline"]


def customer_units(r: dict) -> list[tuple[int, tuple[int, ...]]]:
    """(customer utterance index, the agent reply run after it) for customer utterances that
    have an agent reply."""
    sp = [t["speaker"] for t in r["turns"]]
    out = []
    for i, s in enumerate(sp):
        if s != "customer":
            continue
        j = next((k for k in range(i + 1, len(sp)) if sp[k] == "agent"), None)
        if j is None:
            continue
        run = [j]
        while run[-1] + 1 < len(sp) and sp[run[-1] + 1] == "agent":
            run.append(run[-1] + 1)
        out.append((i, tuple(run)))
    return out


def clean(text: str) -> str:
    t = re.sub(r"https?://\S+", " ", text)
    t = re.sub(r"@\w+", " ", t)
    t = re.sub(r"\s+", " ", t).strip()
    return t or text


def marks(text: str) -> list[float]:
    words = re.findall(r"[A-Za-z]{2,}", text)
    caps = sum(1 for w in words if w.isupper() and w not in ("DM", "OK", "ID", "TV", "US", "UK", "PM", "AM"))
    return [
        min(caps, 5) / 5,
        min(text.count("!"), 5) / 5,
        min(text.count("?"), 5) / 5,
        1.0 if re.search(r"[!?]{2,}", text) else 0.0,
    ]


# ---------------------------------------------------------------- the rules' readings (cached)


def run_rules(rows: list[dict], rules_dir: Path | None = None) -> list[bool]:
    """Per row: whether angry-no-apology fired anywhere in the thread (default rules/)."""
    from rapport_assist.rules import default_rules_dir

    return [any(n.rule == RULE for n in res.nudges) for res in run_threads(rows, [rules_dir or default_rules_dir()])]


def run_threads(rows: list[dict], rule_paths: list[Path]) -> list:
    """The pipeline's result per row (its turns as one conversation), with these rule files."""
    from rapport_assist.annotate import Annotator
    from rapport_assist.evaluate import read_dialogues, run_conversations
    from rapport_assist.rules import load_rules

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for k, r in enumerate(rows):
            f.write(json.dumps({"id": f"c{k}", "turns": r["turns"]}, ensure_ascii=False) + "\n")
        tmp = Path(f.name)
    try:
        results, _ = run_conversations(read_dialogues(tmp), load_rules(rule_paths), Annotator())
    finally:
        tmp.unlink()
    return results


# ---------------------------------------------------------------- gates: what the rules read per turn

LAUGH = r"[😂🤣😅😹😆]|\b(?:l+o+l+|lmf?ao+|rofl|(?:ha){2,}h?)\b"
SWITCHED = r"\b(?:i|we)(?:\W?ve| have| just| finally| then)* (?:switched|moved|changed|came|went|ported)(?: over)? to *(?:[.!,;]|$)"
# the exception classes of the `angry` tone and of angry-no-apology's `when` (rules/common.yaml,
# rules/headline.yaml), each as a turn-level condition with the lexicons it needs: a class is
# read only where the pack has all of them; the regex classes (today's rules' own regexes) only
# in the "now" reading. Read per turn, not per sentence: a cruder test than the rules' skip_ifs.
EXC_CLASSES: list[tuple[str, dict, tuple[str, ...], bool]] = [
    ("elsewhere", {"says": "anger-elsewhere"}, ("anger-elsewhere",), False),
    ("third-parties", {"says": "anger-third-parties"}, ("anger-third-parties",), False),
    (
        "other-culprits",
        {"all": [{"says": "anger-other-culprits"}, {"not": {"says": "anger-company-words"}}]},
        ("anger-other-culprits", "anger-company-words"),
        False,
    ),
    ("home-culprits", {"says": "anger-home-culprits"}, ("anger-home-culprits",), False),
    ("intruder", {"says": "intruder"}, ("intruder",), False),
    ("weather", {"says": "anger-weather"}, ("anger-weather",), False),
    ("reported-speech", {"says": "anger-reported-speech"}, ("anger-reported-speech",), False),
    ("self-blame", {"says": "anger-self-blame"}, ("anger-self-blame",), False),
    ("made-good", {"says": "anger-made-good"}, ("anger-made-good",), False),
    ("settled", {"says": "anger-settled"}, ("anger-settled",), False),
    ("banter", {"says": ["anger-banter", "anger-amused"]}, ("anger-banter", "anger-amused"), False),
    (
        "joy",
        {"all": [{"says": ["anger-joy", "anger-celebration"]}, {"not": {"says": "anger-letdowns"}}]},
        ("anger-joy", "anger-celebration", "anger-letdowns"),
        False,
    ),
    ("laughter", {"says": {"regex": LAUGH}}, (), True),
    ("switched", {"says": {"regex": SWITCHED}}, (), True),
]


def gate_file(rules_dir: Path, now: bool, out: Path) -> list[str]:
    """Write a rule file of per-turn readings for the gates (fires on a customer turn): gate-nonq
    (some word of the turn outside a question, the engine's `question` reading) and gate-exc (an
    exception class holds). Returns the exception classes it could read from that pack."""
    from rapport_assist.rules import load_rules

    lex = set(load_rules([rules_dir]).lexicons)
    used = [(n, c) for n, c, need, rx in EXC_CLASSES if set(need) <= lex and (now or not rx)]
    base = {"title": "gate", "why": "experiment", "message": "gate", "severity": "low", "status": "experimental"}
    rules = [
        {
            **base,
            "id": "gate-nonq",
            "when": {"speaker": "customer", "says": {"regex": "[A-Za-z]{2,}", "skip_if": ["question"]}},
        },
    ] + [{**base, "id": f"gate-exc-{n}", "when": {"speaker": "customer", **c}} for n, c in used]
    out.write_text(json.dumps({"rules": rules}, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return [n for n, _ in used]


def run_readings(rows: list[dict], rules_dir: Path, gate: Path) -> list[dict]:
    """Per row: the thread fired (angry-no-apology), and per customer turn index its tone label,
    whether some word is outside a question, whether an exception class holds."""
    results = run_threads(rows, [rules_dir, gate])
    out = []
    for r, res in zip(rows, results):
        cust = {i for i, t in enumerate(r["turns"]) if t["speaker"] == "customer"}
        tone = {}
        for u in res.utterances:
            if u.index in cust:
                assert u.speaker.value == "customer", (r["uid"], u.index)
                tone[u.index] = u.signals.tone.label
        out.append(
            {
                "fired": any(n.rule == RULE for n in res.nudges),
                "tone": tone,
                "nonq": sorted({n.utterance_index for n in res.nudges if n.rule == "gate-nonq"}),
                "exc": sorted({n.utterance_index for n in res.nudges if n.rule.startswith("gate-exc-")}),
                "exc_by": sorted(
                    {(n.utterance_index, n.rule[9:]) for n in res.nudges if n.rule.startswith("gate-exc-")}
                ),
            }
        )
    return out


def readings_cached(rows: list[dict], rules_dir: Path, now: bool, cache: Path, tag: str) -> dict[str, dict]:
    path = cache / f"gate_{tag}_{'now' if now else 'then'}.json"
    if path.is_file():
        got = json.loads(path.read_text())
    else:
        gpath = cache / f"gate_{tag}_{'now' if now else 'then'}.yaml"
        classes = gate_file(rules_dir, now, gpath)
        rd = run_readings(rows, rules_dir, gpath)
        got = {"classes": classes, "rows": {r["uid"]: x for r, x in zip(rows, rd)}}
        path.write_text(json.dumps(got))
    for x in got["rows"].values():
        x["tone"] = {int(k): v for k, v in x["tone"].items()}
        x["nonq"], x["exc"] = set(x["nonq"]), set(x["exc"])
        by: dict[int, list[str]] = {}
        for i, n in x["exc_by"]:
            by.setdefault(int(i), []).append(n)
        x["exc_by"] = by
    return got


def rules_cached(sets: dict[str, list[dict]], cache: Path, refresh: bool) -> None:
    """Sets r['rules'] (thread fired) and r['noapol'][i] (the reply to customer utterance i has
    no apology, by the rule's own reading) on every row."""
    import subprocess

    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    rows = [r for rs in sets.values() for r in rs]
    key = hashlib.sha1((head + "".join(r["uid"] + str(len(r["turns"])) for r in rows)).encode()).hexdigest()[:12]
    path = cache / f"rules_{key}.json"
    if path.is_file() and not refresh:
        got = json.loads(path.read_text())
    else:
        t0 = time.time()
        fired = run_rules(rows)
        # probes: the fixed angry sentence, then the reply run
        replies: dict[tuple[str, ...], int] = {}
        for r in rows:
            for _, run in customer_units(r):
                replies.setdefault(tuple(r["turns"][j]["text"] for j in run), len(replies))
        probe_rows = [
            {"turns": [{"speaker": "customer", "text": PROBE}] + [{"speaker": "agent", "text": t} for t in rep]}
            for rep in replies
        ]
        sanity = [
            {
                "turns": [
                    {"speaker": "customer", "text": PROBE},
                    {"speaker": "agent", "text": "Please DM us your order number."},
                ]
            },
            {
                "turns": [
                    {"speaker": "customer", "text": PROBE},
                    {"speaker": "agent", "text": "We're so sorry about this. Please DM us."},
                ]
            },
        ]
        pf = run_rules(probe_rows + sanity)
        assert pf[-2] and not pf[-1], "the probe does not read as the rule expects"
        got = {"fired": {r["uid"]: f for r, f in zip(rows, fired)}, "noapol": {}}
        for r in rows:
            got["noapol"][r["uid"]] = {
                str(i): pf[replies[tuple(r["turns"][j]["text"] for j in run)]] for i, run in customer_units(r)
            }
        path.write_text(json.dumps(got))
        print(f"rules + apology probes run in {time.time() - t0:.0f} s ({len(replies)} replies)", file=sys.stderr)
    for r in rows:
        r["rules"] = got["fired"][r["uid"]]
        r["noapol"] = {int(k): v for k, v in got["noapol"][r["uid"]].items()}


def embed_cached(texts: list[str], embedder_dir: str, cache: Path) -> np.ndarray:
    path = cache / "emb.npz"
    store: dict[str, np.ndarray] = {}
    if path.is_file():
        z = np.load(path)
        store = dict(zip(z["keys"].tolist(), z["vecs"]))
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in store}.items(), key=lambda kv: len(kv[1]))
    if todo:
        sys.path.insert(0, embedder_dir)
        from minilm import Embedder

        E = Embedder()
        t0 = time.time()
        vecs = E.embed([t for _, t in todo], batch=32)
        print(f"embedded {len(todo)} texts in {time.time() - t0:.0f} s", file=sys.stderr)
        for (k, _), v in zip(todo, vecs):
            store[k] = v
        np.savez(path, keys=np.array(list(store)), vecs=np.stack(list(store.values())))
    return np.stack([store[k] for k in keys])


# ---------------------------------------------------------------- model


def fit(X: np.ndarray, y: np.ndarray, l2: float, iters: int = 25) -> np.ndarray:
    """L2 logistic regression by Newton's method; the bias (last column of ones) unpenalized."""
    Xb = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(Xb.shape[1])
    reg = np.full(Xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(Xb @ w, -30, 30)))
        g = Xb.T @ (p - y) + reg * w
        H = (Xb * (p * (1 - p))[:, None]).T @ Xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def predict(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(X @ w[:-1] + w[-1], -30, 30)))


def auc(s: np.ndarray, y: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]))
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


class Turns:
    """Every customer utterance with an agent reply: thread uid, index, features, training label
    (1, 0, or -1 left out; -2 a borderline positive)."""

    def __init__(self, rows: list[dict], embedder_dir: str, cache: Path) -> None:
        self.uid, self.idx, self.text, self.y = [], [], [], []
        for r in rows:
            units = customer_units(r)
            pos_idx: set[int] = set()
            if r["set"].startswith("anger_redteam"):
                if r.get("angry"):
                    last_agent = max(k for k, t in enumerate(r["turns"]) if t["speaker"] == "agent")
                    pos_idx = {i for i, run in units if last_agent in run}
            else:
                for a in r["labels"].get(RULE, []):
                    pos_idx |= {i for i, run in units if a in run}
            for i, _ in units:
                if i in pos_idx:
                    y = -2 if is_border(r) else 1
                elif r["set"].startswith("anger_redteam"):
                    y = -1 if r.get("angry") else 0
                elif not is_pos(r) and r["noapol"][i]:
                    y = 0
                else:
                    y = -1
                self.uid.append(r["uid"])
                self.idx.append(i)
                self.text.append(r["turns"][i]["text"])
                self.y.append(y)
        self.y = np.array(self.y)
        self.uid_arr = np.array(self.uid)
        self.emb = embed_cached([clean(t) for t in self.text], embedder_dir, cache)
        m = np.array([marks(t) for t in self.text])
        self.marks = m

    def X(self, with_marks: bool) -> np.ndarray:
        return np.hstack([self.emb, self.marks]) if with_marks else self.emb


def thread_scores(T: Turns, scores: np.ndarray, rows_by_uid: dict[str, dict]) -> dict[str, float]:
    """Per thread: the highest score among customer utterances whose reply has no apology."""
    best: dict[str, float] = {}
    for u, i, s in zip(T.uid, T.idx, scores):
        if np.isnan(s):
            continue
        if rows_by_uid[u]["noapol"][i]:
            best[u] = max(best.get(u, 0.0), float(s))
    return best


def prf(rows: list[dict], fire) -> tuple:
    tp = sum(1 for r in rows if fire(r) and is_pos(r))
    fp = sum(1 for r in rows if fire(r) and not is_pos(r))
    fn = sum(1 for r in rows if not fire(r) and is_pos(r))
    p = tp / (tp + fp) if tp + fp else float("nan")
    rc = tp / (tp + fn) if tp + fn else float("nan")
    return p, rc, tp, fp, fn


def cell(v: tuple) -> str:
    p, rc, tp, fp, fn = v
    return f"{p:.3f}/{rc:.3f} ({tp}/{fp}/{fn})"


def rules_before(commit: str, cache: Path) -> Path:
    """A folder holding ``rules/`` as it was at ``commit``'s parent (extracted once into ``cache``)."""
    import subprocess

    old = cache / "oldrules" / commit
    if not (old / "rules").is_dir():
        old.mkdir(parents=True, exist_ok=True)
        arch = subprocess.run(
            ["git", "-C", str(REPO), "archive", f"{commit}^", "rules"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=arch, check=True)
    return old


def labelled(rows: list[dict]) -> list[dict]:
    return [r for r in rows if RULE in r["labels"]]


def clear_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if not is_border(r)]


def decide(rows, best, t):
    """(rules alone, OR-ed, model alone) fire functions at threshold t."""
    return (
        lambda r: r["rules"],
        lambda r: r["rules"] or best.get(r["uid"], 0.0) >= t,
        lambda r: best.get(r["uid"], 0.0) >= t,
    )


# ---------------------------------------------------------------- protocol


def train_mask(T: Turns, uids: set[str], borderline_pos: bool) -> np.ndarray:
    inset = np.isin(T.uid_arr, list(uids))
    ok = (T.y == 1) | (T.y == 0) | ((T.y == -2) if borderline_pos else False)
    return inset & ok


def fit_on(T: Turns, uids: set[str], cfg: dict) -> np.ndarray:
    m = train_mask(T, uids, cfg["bpos"])
    y = (T.y[m] != 0).astype(float)
    return fit(T.X(cfg["marks"])[m], y, cfg["l2"])


def folds_of(rows: list[dict], k: int = 5) -> list[set[str]]:
    out = [set() for _ in range(k)]
    for r in rows:
        out[int(hashlib.md5(r["uid"].encode()).hexdigest(), 16) % k].add(r["uid"])
    return out


# each labelled batch and the commit that added its labels: the rules of that commit's parent
# had never seen the batch (none of these commits touches rules/)
BATCH_COMMITS = {
    "fresh1": "afdb621",
    "fresh2": "283eb9e",
    "fresh3": "d67a72a",
    "fresh4": "ec5ea54",
    "twcs1": "4b31c8d",
    "twcs2": "101c2a2",
    "twcs3": "b87ecb7",
    "twcs4": "ba4a9eb",
    "twcs5": "57dd7de",
    "twcs6": "b7d2764",
    "twcs7": "f2c5265",
    "twcs8": "5ce2396",
    "twcs9": "aa5afc5",
    "twcs10": "930206c",
}


def blind_test(args, sets, T, by_uid, cfg, t_star, train_u, rt_u, dev_u) -> None:
    """Per batch: the rules as they were before the batch was labelled (blind), alone and OR-ed
    with the score of a model fit on every other labelled set (TRAIN minus the batch, + IBM dev)."""

    print(f"\n## BLIND per batch: rules before the batch's labels vs OR-ed with the score (config {cfg}, t {t_star})")
    print("The model is fit without the batch (TRAIN minus it + IBM dev); the apology reading is today's rule's.")
    pooled: list[dict] = []
    ts = sorted({0.5, t_star, 0.6, 0.65, 0.7, 0.8})
    print("batch | rules then, all | rules then, clear | " + " | ".join(f"OR t {t} all / clear" for t in ts))
    news = []
    for name, commit in BATCH_COMMITS.items():
        rows = labelled(sets[name])
        old = rules_before(commit, args.cache)
        cpath = args.cache / f"blind_{name}_{commit}.json"
        if cpath.is_file():
            fired = json.loads(cpath.read_text())
        else:
            fired = run_rules(rows, old / "rules")
            cpath.write_text(json.dumps(fired))
        then = {r["uid"]: f for r, f in zip(rows, fired)}
        fit_u = (train_u - {r["uid"] for r in rows}) | dev_u | (rt_u if cfg["rt"] else set())
        w = fit_on(T, fit_u, cfg)
        tu = {r["uid"] for r in rows}
        m = np.isin(T.uid_arr, list(tu))
        s = np.full(len(T.y), np.nan)
        s[m] = predict(w, T.X(cfg["marks"])[m])
        best = thread_scores(T, s, by_uid)
        rf = lambda r, then=then: then[r["uid"]]  # noqa: E731
        cells = []
        for t in ts:
            orf = lambda r, t=t, then=then, best=best: then[r["uid"]] or best.get(r["uid"], 0.0) >= t  # noqa: E731
            cells.append(f"{cell(prf(rows, orf))} / {cell(prf(clear_rows(rows), orf))}")
        print(f"{name} ({commit}) | {cell(prf(rows, rf))} | {cell(prf(clear_rows(rows), rf))} | " + " | ".join(cells))
        for r in rows:
            r["_then"] = then[r["uid"]]
            r["_best"] = best.get(r["uid"], 0.0)
            if not r["_then"] and r["_best"] >= t_star:
                k = max(
                    (j for j in np.flatnonzero(m) if T.uid[j] == r["uid"] and r["noapol"][T.idx[j]]), key=lambda j: s[j]
                )
                news.append((r, T.text[k]))
        pooled.extend(rows)
    rows = pooled
    print("\npooled over the 14 batches: decision | all | clear")
    print(f"rules then | {cell(prf(rows, lambda r: r['_then']))} | {cell(prf(clear_rows(rows), lambda r: r['_then']))}")
    for t in ts:
        orf = lambda r, t=t: r["_then"] or r["_best"] >= t  # noqa: E731
        mod = lambda r, t=t: r["_best"] >= t  # noqa: E731
        print(f"OR-ed t {t} | {cell(prf(rows, orf))} | {cell(prf(clear_rows(rows), orf))}")
        print(f"model alone t {t} | {cell(prf(rows, mod))} | {cell(prf(clear_rows(rows), mod))}")
        add = [r for r in rows if not r["_then"] and r["_best"] >= t]
        print(
            f"  added by the OR at t {t}: {sum(map(is_pos, add))} true ({sum(1 for r in add if is_pos(r) and not is_border(r))} clear) / "
            f"{sum(1 for r in add if not is_pos(r))} false ({sum(1 for r in add if not is_pos(r) and not is_border(r))} clear)"
        )
    # the threshold chosen per batch on the other 13 batches' blind results (leave one batch
    # out): highest OR-ed clear recall with OR-ed clear precision >= 0.9; ties the higher t;
    # none: the score adds nothing there
    grid = [round(0.5 + 0.01 * k, 2) for k in range(50)]
    out_rows, picks = [], []
    for name in BATCH_COMMITS:
        others = clear_rows([r for r in rows if r["set"] != name])
        pick = 1.01
        best_rc = -1.0
        for t in grid:
            p_, rc, *_ = prf(others, lambda r, t=t: r["_then"] or r["_best"] >= t)
            if p_ >= 0.9 and rc >= best_rc:
                pick, best_rc = t, rc
        picks.append(f"{name} {pick}")
        for r in rows:
            if r["set"] == name:
                out_rows.append({**r, "_fire": r["_then"] or r["_best"] >= pick})
    lobo = lambda r: r["_fire"]  # noqa: E731
    print(f"leave-one-batch-out t ({', '.join(picks)}):")
    print(f"OR-ed, t per batch | {cell(prf(out_rows, lobo))} | {cell(prf(clear_rows(out_rows), lobo))}")
    if args.show:
        print(f"\nnew fires at t {t_star} (rules then quiet):")
        for r, text in news:
            tag = "TRUE" if is_pos(r) else "FALSE"
            print(
                f"  {tag:5} {'border' if is_border(r) else 'clear ':6} {r['_best']:.3f} {r['uid']}: {clean(text)[:200]}"
            )


def last_is_question(text: str) -> bool:
    """The turn's last sentence ends with "?" (links, handles, trailing hashtags and emoji
    dropped; a closing run with "!" in it, "?!!?", is an exclamation)."""
    t = re.sub(r"(?:\s*#\w+)+\s*$", "", clean(text))
    t = re.sub(r"[^\w.!?]+$", "", t)
    m = re.search(r"[.!?]+$", t)
    return bool(m) and "?" in m.group() and "!" not in m.group()


# gates on an added fire: the turn scored >= t must pass it. "then": read with the rules before
# the batch's labels (blind); "N": read with today's rules (not blind: their exception lexicons
# were partly written on these batches).
ATOMS = {
    "q?": lambda g: not g["q?"],
    "qE": lambda g: g["nonq"],
    "tense": lambda g: g["tone"] in ("tense", "angry"),
    "exc": lambda g: not g["exc"],
    "tenseN": lambda g: g["toneN"] in ("tense", "angry"),
    "excN": lambda g: not g["excN"],
}
GATES_THEN = ["none"] + [
    "+".join(x for x in (q, te, ex) if x)
    for q in ("", "q?", "qE")
    for te in ("", "tense")
    for ex in ("", "exc")
    if q or te or ex
]
GATES_NOW = [
    "+".join(x for x in (q, te, ex) if x)
    for q in ("", "q?", "qE")
    for te in ("", "tenseN")
    for ex in ("", "excN")
    if te or ex
]


def passes(gate: str, g: dict) -> bool:
    return gate == "none" or all(ATOMS[a](g) for a in gate.split("+"))


def gated_turns(T: Turns, s: np.ndarray, rows: list[dict], then: dict, now: dict) -> None:
    """r['_turns']: per customer turn whose reply has no apology: its score and gate readings."""
    idx: dict[str, list[int]] = {}
    for j, u in enumerate(T.uid):
        idx.setdefault(u, []).append(j)
    for r in rows:
        x, xn = then[r["uid"]], now[r["uid"]]
        r["_turns"] = [
            (
                float(s[j]),
                {
                    "q?": last_is_question(T.text[j]),
                    "nonq": T.idx[j] in x["nonq"],
                    "tone": x["tone"].get(T.idx[j], "calm"),
                    "exc": T.idx[j] in x["exc"],
                    "toneN": xn["tone"].get(T.idx[j], "calm"),
                    "excN": T.idx[j] in xn["exc"],
                    "why": x["exc_by"].get(T.idx[j], []),
                    "whyN": xn["exc_by"].get(T.idx[j], []),
                },
                j,
            )
            for j in idx.get(r["uid"], [])
            if r["noapol"][T.idx[j]] and not np.isnan(s[j])
        ]


def added(r: dict, gate: str, t: float) -> bool:
    return not r["_then"] and any(sc >= t and passes(gate, g) for sc, g, _ in r["_turns"])


def add_counts(rows: list[dict], gate: str, t: float) -> tuple[int, int]:
    a = [r for r in rows if added(r, gate, t)]
    return sum(map(is_pos, a)), sum(1 for r in a if not is_pos(r))


def pick(rows: list[dict], pool: list[str], grid: list[float], how: str) -> tuple[str, float]:
    """(gate, t) on these rows' clear threads. how "added": the most added true fires with added
    precision >= 0.8 (ties: higher precision, higher t); "or": the highest OR-ed recall with
    OR-ed precision >= 0.9 (ties: higher t). None qualifies: ("none", 1.01), nothing added."""
    cl = clear_rows(rows)
    best, key = ("none", 1.01), None
    for gate in pool:
        for t in grid:
            tp, fp = add_counts(cl, gate, t)
            if how == "added":
                if tp == 0 or tp / (tp + fp) < 0.8:
                    continue
                k = (tp, tp / (tp + fp), t)
            else:
                p_, rc, *_ = prf(cl, lambda r, gate=gate, t=t: r["_then"] or added(r, gate, t))
                if not p_ >= 0.9:
                    continue
                k = (rc, t, 0)
            if key is None or k > key:
                best, key = (gate, t), k
    return best


def gate_row(rows: list[dict], fire, add_rows: list[dict]) -> str:
    cl = clear_rows(rows)
    a_cl = [r for r in cl if r in add_rows]
    tp_c, fp_c = sum(map(is_pos, a_cl)), sum(1 for r in a_cl if not is_pos(r))
    tp_a, fp_a = sum(map(is_pos, add_rows)), sum(1 for r in add_rows if not is_pos(r))
    pc = f"{tp_c / (tp_c + fp_c):.2f}" if tp_c + fp_c else "-"
    return f"{cell(prf(cl, fire))} | {cell(prf(rows, fire))} | {tp_c}/{fp_c} ({pc}) | {tp_a}/{fp_a}"


CHOSEN_CFG = {"l2": 3.0, "marks": True, "bpos": True, "rt": False}  # the CV choice (run7)


def gated_blind(args, sets, T, by_uid, cfg, train_u, rt_u, dev_u) -> None:
    """The blind per-batch test with gates on the added fires (see ATOMS); t and gate chosen per
    batch on the other 13 batches' blind results; the pooled choice then tested once on IBM dev."""

    print(f"\n## GATED BLIND per batch (config {cfg}); added = rules then quiet, a gated turn scored >= t")
    pooled: list[dict] = []
    classes = {}
    for name, commit in BATCH_COMMITS.items():
        rows = labelled(sets[name])
        old = rules_before(commit, args.cache)
        then = readings_cached(rows, old / "rules", False, args.cache, f"{name}_{commit}")
        now = readings_cached(rows, REPO / "rules", True, args.cache, f"{name}_today")
        classes[name] = then["classes"]
        cpath = args.cache / f"blind_{name}_{commit}.json"
        if cpath.is_file():
            fired = json.loads(cpath.read_text())
            assert fired == [then["rows"][r["uid"]]["fired"] for r in rows], f"{name}: the gate rules changed a fire"
        fit_u = (train_u - {r["uid"] for r in rows}) | dev_u | (rt_u if cfg["rt"] else set())
        w = fit_on(T, fit_u, cfg)
        m = np.isin(T.uid_arr, [r["uid"] for r in rows])
        s = np.full(len(T.y), np.nan)
        s[m] = predict(w, T.X(cfg["marks"])[m])
        for r in rows:
            r["_then"] = then["rows"][r["uid"]]["fired"]
        gated_turns(T, s, rows, then["rows"], now["rows"])
        pooled.extend(rows)
    rows = pooled
    print("exception classes read with the rules then (per batch):")
    for name, c in classes.items():
        print(f"  {name}: {', '.join(c) or '(none)'}")
    now_classes = [n for n, _, need, rx in EXC_CLASSES]
    print(f"  today (excN): {', '.join(now_classes)}")
    rf = lambda r: r["_then"]  # noqa: E731
    print(
        "\npooled over the 14 batches (blind): gate | t | OR-ed clear | OR-ed all | added clear true/false (precision) | added all true/false"
    )
    print(f"rules then | - | {gate_row(rows, rf, [])}")
    for gate in GATES_THEN + GATES_NOW:
        for t in (0.5, 0.55, 0.6):
            add_rows = [r for r in rows if added(r, gate, t)]
            fire = lambda r, gate=gate, t=t: r["_then"] or added(r, gate, t)  # noqa: E731
            print(f"{gate} | {t} | {gate_row(rows, fire, add_rows)}")
    # how circular the today's-tone gate is: its added fires that today's rules fire on anyway
    # (the rules were written on these batches) and whose scored turn today's tone reads angry
    print(
        "\ntenseN: added clear fires (true/false) | of them today's rules fire on the thread | scored turn's tone today angry"
    )
    for t in (0.5, 0.55, 0.6):
        a = [r for r in clear_rows(rows) if added(r, "tenseN", t)]
        fired = [r for r in a if r["rules"]]
        angry = [
            r for r in a if any(sc >= t and g["toneN"] == "angry" and g["tone"] != "tense" for sc, g, _ in r["_turns"])
        ]

        def tf(rs: list[dict]) -> str:
            return f"{sum(map(is_pos, rs))}/{sum(1 for r in rs if not is_pos(r))}"

        print(f"  t {t}: {tf(a)} | {tf(fired)} | {tf(angry)}")
    grid = [round(0.5 + 0.01 * k, 2) for k in range(50)]
    chosen = None
    for pool_name, pool in (("blind gates", GATES_THEN), ("blind + today's gates (not blind)", GATES_THEN + GATES_NOW)):
        for how in ("added", "or"):
            out, picks = [], []
            for name in BATCH_COMMITS:
                gate, t = pick([r for r in rows if r["set"] != name], pool, grid, how)
                picks.append(f"{name} {gate} {t}")
                out += [r for r in rows if r["set"] == name and added(r, gate, t)]
            fire = lambda r, out=out: r["_then"] or r in out  # noqa: E731
            crit = (
                "most added clear true at added clear P >= 0.8"
                if how == "added"
                else "highest OR-ed clear R at OR-ed clear P >= 0.9"
            )
            print(f"\nleave-one-batch-out, {pool_name}, {crit}:")
            print(f"  picks: {'; '.join(picks)}")
            print(
                f"  OR-ed clear | OR-ed all | added clear true/false | added all true/false: {gate_row(rows, fire, out)}"
            )
            g_all, t_all = pick(rows, pool, grid, how)
            print(f"  the same choice on all 14 batches: {g_all} t {t_all}")
            if pool_name == "blind gates" and how == "added":
                chosen = (g_all, t_all)
    if args.show:
        gate, t = chosen
        t = min(t, 0.55)
        print(
            f"\nturns scored >= {t} where the rules then are quiet (kept: passes {gate}); [the atoms it fails]"
            " tone then/today:"
        )
        for r in rows:
            if r["_then"]:
                continue
            hits = [(sc, g, j) for sc, g, j in r["_turns"] if sc >= t]
            if not hits:
                continue
            sc, g, j = max(hits, key=lambda h: h[0])
            kept = added(r, gate, t)
            tag = "TRUE" if is_pos(r) else "FALSE"
            gs = ",".join(a for a in ATOMS if not ATOMS[a](g))
            print(
                f"  {'kept ' if kept else 'gated'} {tag:5} {'border' if is_border(r) else 'clear ':6} {sc:.3f} [{gs}] {g['tone']}/{g['toneN']} {'+'.join(g['whyN']) or '-'} {r['uid']}: {clean(T.text[j])[:110]}"
            )

    # ---- the chosen setting once on IBM dev (today's rules: dev has no blind version)
    dev = labelled(sets["dev"])
    dv = readings_cached(dev, REPO / "rules", False, args.cache, "dev_today")
    dn = readings_cached(dev, REPO / "rules", True, args.cache, "dev_today")
    A, B = dev[0::2], dev[1::2]
    parts = []
    for label, fit_u, part in (
        ("dev A (fit TRAIN + dev B)", train_u | {r["uid"] for r in B}, A),
        ("dev B (fit TRAIN + dev A)", train_u | {r["uid"] for r in A}, B),
        ("dev all (fit TRAIN)", train_u, dev),
    ):
        w = fit_on(T, fit_u | (rt_u if cfg["rt"] else set()), cfg)
        m = np.isin(T.uid_arr, [r["uid"] for r in part])
        s = np.full(len(T.y), np.nan)
        s[m] = predict(w, T.X(cfg["marks"])[m])
        part = [dict(r) for r in part]
        for r in part:
            r["_then"] = r["rules"]
        gated_turns(T, s, part, dv["rows"], dn["rows"])
        parts.append((label, part))
    # the blind choice, then two of today's gates for the picture (not blind on TRAIN)
    for gate, t in (chosen, ("q?+excN", 0.55), ("tenseN", 0.55)):
        print(f"\n## IBM dev at {gate} t {t} (today's rules: the rules' fire and the gate readings)")
        print("part | rules alone | OR-ed, gated | OR-ed, no gate | added true/false gated (no gate)")
        for label, part in parts:
            for sfx, rr in (("", part), (" clear", clear_rows(part))):
                ag, an = add_counts(rr, gate, t), add_counts(rr, "none", t)
                print(
                    f"{label}{sfx} | {cell(prf(rr, lambda r: r['_then']))} | {cell(prf(rr, lambda r, gate=gate, t=t: r['_then'] or added(r, gate, t)))} | "
                    f"{cell(prf(rr, lambda r, t=t: r['_then'] or added(r, 'none', t)))} | {ag[0]}/{ag[1]} ({an[0]}/{an[1]})"
                )


THRESHOLDS = [round(0.5 + 0.01 * k, 2) for k in range(50)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--embedder", default=str(Path(__file__).parent), help="folder holding minilm.py (model: see its docstring)"
    )
    ap.add_argument("--cache", type=Path, default=Path("/tmp/h100"))
    ap.add_argument("--tw", type=Path, default=Path("/tmp/tw"), help="folder of the twcs threads t1..t10.jsonl")
    ap.add_argument("--refresh", action="store_true", help="re-run the rules (else cached per HEAD)")
    ap.add_argument("--show", action="store_true", help="print the new fires on dev with their words (not for commits)")
    ap.add_argument(
        "--blind",
        action="store_true",
        help="each batch against the rules as they were before its labels were committed (git archive of that commit's parent)",
    )
    ap.add_argument(
        "--gates",
        action="store_true",
        help="only the gated blind test (the CV-chosen config, no CV) and the chosen gate once on IBM dev",
    )
    ap.add_argument("--price", action="store_true", help="time embedding + scoring one customer turn")
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)

    sets = load_sets(args.tw)
    rules_cached(sets, args.cache, args.refresh)
    train_names = [n for n in sets if n.startswith(("fresh", "twcs"))]
    train = labelled([r for n in train_names for r in sets[n]])
    redteam = [r for n in ("anger_redteam", "anger_redteam2") for r in sets[n]]
    dev = labelled(sets["dev"])
    allrows = train + redteam + dev
    by_uid = {r["uid"]: r for r in allrows}
    T = Turns(allrows, args.embedder, args.cache)
    train_u = {r["uid"] for r in train}
    rt_u = {r["uid"] for r in redteam}
    if args.gates:
        gated_blind(args, sets, T, by_uid, CHOSEN_CFG, train_u, rt_u, {r["uid"] for r in dev})
        return 0
    n_pos = lambda us: int(((T.y == 1) & np.isin(T.uid_arr, list(us))).sum())  # noqa: E731
    n_bpos = lambda us: int(((T.y == -2) & np.isin(T.uid_arr, list(us))).sum())  # noqa: E731
    n_neg = lambda us: int(((T.y == 0) & np.isin(T.uid_arr, list(us))).sum())  # noqa: E731
    print(
        f"TRAIN {len(train)} threads ({sum(map(is_pos, train))} angry-no-apology, "
        f"{sum(map(is_border, train))} borderline); turns: {n_pos(train_u)} clear pos, {n_bpos(train_u)} borderline pos, "
        f"{n_neg(train_u)} neg; red-team turns {n_pos(rt_u)} pos / {n_neg(rt_u)} neg; "
        f"DEV {len(dev)} threads ({sum(map(is_pos, dev))} pos)"
    )

    # ---- CV on TRAIN
    folds = folds_of(train)
    configs = [
        {"l2": l2, "marks": mk, "bpos": bp, "rt": rt}
        for l2 in (0.3, 1.0, 3.0, 10.0)
        for mk in (False, True)
        for bp in (False, True)
        for rt in (False, True)
    ]
    tr_clear = clear_rows(train)
    results = []
    print("\n## CV on TRAIN (5 folds grouped by thread); held-out turn AUC; best OR-ed setting per config")
    print(
        "config | AUC clear-pos/neg | AUC all-pos/neg | t (model-alone clear P >= 0.9) | model alone clear | OR all | OR clear | added tp/fp (all)"
    )
    rules_all = prf(train, lambda r: r["rules"])
    rules_clear = prf(tr_clear, lambda r: r["rules"])
    cv_scores_by_cfg = {}
    for cfg in configs:
        s = np.full(len(T.y), np.nan)
        for held in folds:
            fit_u = (train_u - held) | (rt_u if cfg["rt"] else set())
            w = fit_on(T, fit_u, cfg)
            m = np.isin(T.uid_arr, list(held))
            s[m] = predict(w, T.X(cfg["marks"])[m])
        cv_scores_by_cfg[id(cfg)] = s
        tm = np.isin(T.uid_arr, list(train_u))
        a1 = auc(s[tm & ((T.y == 1) | (T.y == 0))], (T.y[tm & ((T.y == 1) | (T.y == 0))] == 1).astype(int))
        sel = tm & ((T.y == 1) | (T.y == 0) | (T.y == -2))
        a2 = auc(s[sel], (T.y[sel] != 0).astype(int))
        best = thread_scores(T, s, by_uid)
        # the rules were written on TRAIN (clear recall ~1.0 there), so the OR-ed clear recall
        # cannot tell settings apart; choose on the model's own held-out fires instead: the
        # lowest t whose model-alone clear precision is >= 0.9 (then the OR-ed precision stays
        # >= 0.9 whatever the rules add), the setting with the highest model-alone clear recall
        choice = None
        for t in THRESHOLDS:
            _, orf, mod = decide(train, best, t)
            mc = prf(tr_clear, mod)
            if mc[0] >= 0.9 and mc[2] >= 5:
                choice = (t, mc, prf(tr_clear, orf), prf(train, orf))
                break
        if choice is None:
            choice = (1.01, (float("nan"), 0.0, 0, 0, 0), rules_clear, rules_all)
        t, mc, pc, pa = choice
        results.append((mc[1], t, cfg, pc, pa, a1, a2))
        name = f"l2 {cfg['l2']:<4} marks {int(cfg['marks'])} bpos {int(cfg['bpos'])} rt {int(cfg['rt'])}"
        print(
            f"{name} | {a1:.3f} | {a2:.3f} | {t} | {cell(mc)} | {cell(pa)} | {cell(pc)} | {pa[2] - rules_all[2]}/{pa[3] - rules_all[3]}"
        )
    print(f"rules alone: all {cell(rules_all)}  clear {cell(rules_clear)}")
    # chosen: highest model-alone clear recall at model-alone clear P >= 0.9; ties: higher t, then AUC
    results.sort(key=lambda x: (-x[0], -x[1], -x[5]))
    _, t_star, cfg, *_ = results[0]
    print(f"\nCHOSEN: {cfg}, t {t_star}")

    # CV table for the chosen config at several thresholds (with and without red-team)
    for rt in (False, True):
        c2 = {**cfg, "rt": rt}
        s = next(cv_scores_by_cfg[id(c)] for c in configs if c == c2)
        best = thread_scores(T, s, by_uid)
        print(f"\n### CV, chosen config, red-team {'in' if rt else 'out'}: thread level P/R (tp/fp/fn)")
        print("t | OR all | OR clear | model alone all | model alone clear")
        for t in (0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9, 0.92, 0.95, 0.97):
            _, orf, mod = decide(train, best, t)
            print(
                f"{t} | {cell(prf(train, orf))} | {cell(prf(tr_clear, orf))} | {cell(prf(train, mod))} | {cell(prf(tr_clear, mod))}"
            )

    # ---- TEST once: IBM dev
    def test(fit_u: set[str], test_rows: list[dict], label: str, show: bool = False) -> None:
        w = fit_on(T, fit_u | (rt_u if cfg["rt"] else set()), cfg)
        tu = {r["uid"] for r in test_rows}
        m = np.isin(T.uid_arr, list(tu))
        s = np.full(len(T.y), np.nan)
        s[m] = predict(w, T.X(cfg["marks"])[m])
        best = thread_scores(T, s, by_uid)
        a = m & ((T.y == 1) | (T.y == 0))
        a2 = m & ((T.y == 1) | (T.y == 0) | (T.y == -2))
        print(
            f"\n### {label}: turn AUC clear {auc(s[a], (T.y[a] == 1).astype(int)):.3f}, with borderline pos {auc(s[a2], (T.y[a2] != 0).astype(int)):.3f}"
        )
        print("part | rules alone | OR-ed t*")
        halves = {"A": test_rows[0::2], "B": test_rows[1::2]} if label.startswith("dev (") else {"": test_rows}
        for hn, hr in {**halves, "all": test_rows}.items():
            if hn == "":
                continue
            rf, orf, _ = decide(hr, best, t_star)
            for sfx, rr in (("", hr), (" clear", clear_rows(hr))):
                print(f"{hn}{sfx} | {cell(prf(rr, rf))} | {cell(prf(rr, orf))}")
        print("model alone (thread fires when a turn >= t and its reply has no apology):")
        for t in (0.5, 0.7, 0.8, 0.9, 0.95, t_star):
            _, orf, mod = decide(test_rows, best, t)
            print(
                f"  t {t}: all {cell(prf(test_rows, mod))} clear {cell(prf(clear_rows(test_rows), mod))} | OR all {cell(prf(test_rows, orf))} clear {cell(prf(clear_rows(test_rows), orf))}"
            )
        if show:
            print(
                f"  threads where the rules are quiet and the score >= {t_star - 0.1:.2f} (* = new fire at t {t_star}):"
            )
            for r in test_rows:
                b = best.get(r["uid"], 0.0)
                if not r["rules"] and b >= t_star - 0.1:
                    k = max(
                        (j for j in range(len(T.uid)) if T.uid[j] == r["uid"] and r["noapol"][T.idx[j]]),
                        key=lambda j: s[j],
                    )
                    tag = "TRUE" if is_pos(r) else "FALSE"
                    print(
                        f"  {'*' if b >= t_star else ' '} {tag:5} {'border' if is_border(r) else 'clear ':6} {b:.3f} {r['id']}: {clean(T.text[k])[:200]}"
                    )

    dev_u = {r["uid"] for r in dev}
    print("\n## TEST once on IBM dev (model fit on all TRAIN with the chosen config)")
    test(train_u, dev, "dev (fit TRAIN)", show=args.show)
    A, B = dev[0::2], dev[1::2]
    test(train_u | {r["uid"] for r in A}, B, "dev half B (fit TRAIN + dev A)")
    test(train_u | {r["uid"] for r in B}, A, "dev half A (fit TRAIN + dev B)")
    # same, red-team flipped
    print(f"\n## the same TEST with red-team {'out' if cfg['rt'] else 'in'} (for the with/without comparison)")
    cfg_chosen, t_chosen = cfg, t_star
    cfg = {**cfg, "rt": not cfg["rt"]}
    # the flipped setting at its own CV threshold
    t_star = t_flip = next(x[1] for x in results if x[2] == cfg)
    print(f"(its own CV threshold: t {t_flip})")
    test(train_u, dev, "dev (fit TRAIN)")
    cfg, t_star = cfg_chosen, t_chosen

    if args.blind:
        blind_test(args, sets, T, by_uid, cfg_chosen, t_star, train_u, rt_u, dev_u)
        print(f"\n## the same BLIND test with red-team {'out' if cfg_chosen['rt'] else 'in'}")
        show, args.show = args.show, False
        blind_test(args, sets, T, by_uid, {**cfg_chosen, "rt": not cfg_chosen["rt"]}, t_flip, train_u, rt_u, dev_u)
        args.show = show

    if args.price:
        sys.path.insert(0, args.embedder)
        from minilm import Embedder

        E = Embedder()
        w = fit_on(T, train_u, cfg)
        texts = [clean(t) for t in T.text[:200]]
        E.embed([texts[0]])
        per = []
        for tx in texts:
            t0 = time.perf_counter()
            v = E.embed([tx])
            _ = predict(w, np.hstack([v, np.array([marks(tx)])]) if cfg["marks"] else v)
            per.append((time.perf_counter() - t0) * 1000)
        per = np.array(per)
        toks = np.mean([len(E.tok.encode(t).ids) for t in texts])
        print(
            f"\nprice: ms per customer turn (embed + score, batch of 1, {len(texts)} turns, mean {toks:.0f} tokens): "
            f"mean {per.mean():.1f}, median {np.median(per):.1f}, p90 {np.percentile(per, 90):.1f}; "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load {os.getloadavg()}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
