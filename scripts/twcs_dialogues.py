#!/usr/bin/env python3
"""Kaggle "Customer Support on Twitter" (twcs) CSV -> our Twitter dialogue JSONL.

The twcs dump (2017, tweets anonymized: customers are numeric user ids, brands keep their names)
is read as text from the workplace code index, never committed: repository
``AKholman/semantic_search``, path ``data/twcs.csv``, commit
``d4f9e4815a7c0101c4bb22a3e73193a2cc43b7ce`` (8,543,060 characters), in pages of 16,000
characters (``read_file`` with ``offset``). Each page is saved verbatim as one file, named by its
offset with zero padding (``/tmp/twcs/raw/p0096000.csv`` ...) so that a shell glob lists them in
file order. ``bench/data/README.md`` says which offsets were read. Columns::

    tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id

This script writes one thread a line in the shape of the team's
``twitter_customer_care_dev.jsonl`` (IBM)::

    {"id": "twcs-<root tweet_id>", "source": {...},
     "turns": [{"speaker": "customer"|"agent", "text", "tweet_id", "handle", "datetime"}],
     "meta": {"company": "<brand>"}}

How the rebuild works (deterministic, no network):

- The files are joined in the order given (consecutive pages of one file). A header line at the
  start of a file is skipped. If the joined text does not start with a row (a page starts in the
  middle of one), everything before the first line that starts a row (``<digits>,<author>,TRUE|FALSE,``)
  is dropped, and so is the whole thread of the first complete row (its earlier rows may be
  before the range). If the text does not end with a newline (a page cut a row), the last partial
  row is dropped, and so is the whole thread of the last complete row. Rows of one thread sit
  together in the dump, so only those two threads can be cut.
- Links come from ``in_response_to_tweet_id`` only: ``response_tweet_id`` is damaged in this copy
  (lists such as ``"1157,1159"`` were saved as numbers, ``"11,571,159"``).
- A thread starts at a root tweet: empty ``in_response_to_tweet_id``, written by a customer
  (``inbound`` TRUE). The chain follows replies between that customer and one brand (the first
  ``inbound`` FALSE author that answers in the chain): at each tweet, of the replies present, the
  earliest by ``tweet_id`` written by the customer or by that brand (any brand while none has
  answered yet) is taken. Tweets by anyone else are dropped, and the chain does not continue
  through them. The chain stops at 12 turns. Consecutive tweets of one side stay separate turns.
- A thread is kept only with at least one brand reply. Threads are written in the order of their
  root rows in the file.
- Texts: HTML entities are unescaped (``html.unescape``: Twitter escapes ``&``, ``<``, ``>``) and CRLF becomes LF;
  nothing else is changed (@handles and URLs stay, as in the IBM data).
- A second source shape: a slice of the dump saved by pandas with its index (``PANDAS_HEADER``,
  e.g. repository ``monalisapatra26/data_visualization``, path ``twcs.csv``, commit
  ``b79b6dcf2a30f84bdfdf66ff9f69f03540bfd6d6``: the dump's first 5,000 rows, tweet ids 1-7630),
  given as the only input file. ``True``/``False`` and float parent ids (``1781.0``) are read as
  the raw dump's values, a lone CR inside a field as LF; its last thread counts as cut. Its
  ``response_tweet_id`` lists are intact, but links still come from ``in_response_to_tweet_id``.
- ``--source owner/repo:path@commit`` names where the CSV was read (written into each thread);
  ``--exclude CSV...`` drops every thread that shares a tweet_id with those files (earlier
  batches' pages), so a new batch holds only unseen tweets.
- ``--first N`` keeps the first N threads in file order that pass the mechanical filter (first
  turn by the customer, at least one agent turn, English by ``is_english``); ``--ids FILE`` keeps
  the threads listed in FILE (one id a line, or a labels JSONL with ``id``), in FILE's order.

    .venv/bin/python scripts/twcs_dialogues.py /tmp/twcs/raw/*.csv --out /tmp/twcs/all.jsonl
    .venv/bin/python scripts/twcs_dialogues.py /tmp/twcs/raw/*.csv --first 80 --out /tmp/twcs/t1.jsonl
    .venv/bin/python scripts/twcs_dialogues.py /tmp/twcs/raw/*.csv --ids bench/data/twcs1_labels.jsonl \\
        --out /tmp/twcs/t1.jsonl
    .venv/bin/python scripts/twcs_dialogues.py /tmp/h50d/raw/monalisapatra26_twcs.csv \\
        --source monalisapatra26/data_visualization:twcs.csv@b79b6dcf2a30f84bdfdf66ff9f69f03540bfd6d6 \\
        --exclude /tmp/twcs3/raw/*.csv --out /tmp/h50d/all.jsonl
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import re
import sys
from datetime import datetime
from pathlib import Path

SOURCE = {
    "dataset": "Customer Support on Twitter (Kaggle, thoughtvector/customer-support-on-twitter)",
    "repo": "AKholman/semantic_search",
    "path": "data/twcs.csv",
    "commit": "d4f9e4815a7c0101c4bb22a3e73193a2cc43b7ce",
}
HEADER = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id"
# a slice of the dump saved by pandas ``DataFrame.to_csv`` with its index: a leading unnamed index
# column, ``True``/``False``, and ``in_response_to_tweet_id`` as a float (``1781.0``)
PANDAS_HEADER = "," + HEADER
_LONE_CR = re.compile(r"\r(?!\n)")
_CR_MARK = "\ue000"  # a private-use character stands in for a lone CR while csv parses
MAX_TURNS = 12
_ROW_START = re.compile(r"^\d+,[^,\n]*,(?:TRUE|FALSE),", re.M)

# function words for a crude language check: common English ones, and common ones of the other
# languages seen in the dump (Spanish, Portuguese, French, German, Italian); words shared by
# English and those (a, no, me, de, in, die ...) are in neither list
_EN = set(
    "the and to is it you i my your for of that this with have was are not can be on we at but "
    "what why how do does did will just please thanks thank get been from they there would could "
    "about help when any still our us if an or so all".split()
)
_OTHER = set(
    "el la los las una por para que con es del lo se su mi esta pero como muy gracias hola "
    "não em um uma os meu obrigado você le les et est pas pour avec vous je une merci "
    "der das und ist nicht mit ich sie ein eine danke il di che non per sono grazie".split()
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


class BadCsv(ValueError):
    pass


def unescape(text: str) -> str:
    """CRLF -> LF, and the HTML entities Twitter escapes (``&amp;``, ``&gt;``, ``&lt;``) read."""
    return html.unescape(text.replace("\r\n", "\n"))


def is_english(texts: list[str]) -> bool:
    """Crude: more English function words than other languages' ones, @handles and URLs left out."""
    en = other = 0
    for t in texts:
        t = re.sub(r"@\w+|https?://\S+", " ", t)
        for w in _WORD.findall(t.lower()):
            en += w in _EN
            other += w in _OTHER
    return en > other


def _iso(created_at: str) -> str | None:
    try:
        return datetime.strptime(created_at, "%a %b %d %H:%M:%S %z %Y").strftime("%Y-%m-%dT%H:%M:%S.000Z")
    except ValueError:
        return None


def _row(tid: str, author: str, inbound: str, created: str, body: str, parent: str) -> dict:
    return {
        "tweet_id": tid,
        "author": author,
        "inbound": inbound == "TRUE",
        "created_at": created,
        "text": body,
        "parent": parent.strip(),
    }


def _read_pandas(text: str) -> list[dict]:
    """Rows of a whole pandas export (``PANDAS_HEADER``), normalised to the raw dump's values.

    pandas quotes a field with LF but not one with a lone CR, which ``csv`` would take as a row
    end: a CR not followed by LF is read as LF (``_LONE_CR``) before parsing.
    """
    rows = []
    body_text = _LONE_CR.sub(_CR_MARK, text[len(PANDAS_HEADER) :].lstrip("\r\n"))
    for rec in csv.reader(io.StringIO(body_text, newline="")):
        if not rec:
            continue
        if len(rec) != 8:
            raise BadCsv(f"a row with {len(rec)} fields, not 8 (index + 7): {rec[:3]}")
        _index, tid, author, inbound, created, body, _resp, parent = rec
        inbound = inbound.upper()
        parent = parent.strip()
        if parent.endswith(".0") and parent[:-2].isdigit():
            parent = parent[:-2]
        if not tid.isdigit() or inbound not in ("TRUE", "FALSE") or not (parent == "" or parent.isdigit()):
            raise BadCsv(f"not a twcs row: {rec[:4]}")
        rows.append(_row(tid, author, inbound, created, body.replace(_CR_MARK, "\n"), parent))
    return rows


def read_rows(paths: list[Path]) -> tuple[list[dict], bool, bool]:
    """(rows in file order, cut at start, cut at end) of the joined files.

    A single file that starts with ``PANDAS_HEADER`` is read as a pandas export of the dump's
    first rows (``head(n)``): not cut at the start, but possibly inside a thread at the end (the
    dump's next rows may belong to its last thread), so it counts as cut at the end.
    """
    texts = []
    for p in paths:
        t = p.read_bytes().decode("utf-8")  # line ends as they are; raw pages get universal newlines below
        if t.startswith("\ufeff"):
            t = t[1:]
        texts.append(t)
    if any(t.startswith(PANDAS_HEADER) for t in texts):
        if len(texts) != 1:
            raise BadCsv("a pandas export (leading index column) must be the only input file")
        rows = _read_pandas(texts[0])
        return rows, False, bool(rows)
    parts = []
    for t in texts:
        t = t.replace("\r\n", "\n").replace("\r", "\n")  # as read_text would
        if t.startswith(HEADER):
            t = t[len(HEADER) :].lstrip("\r\n")
        parts.append(t)
    text = "".join(parts)
    cut_start = cut_end = False
    first = _ROW_START.search(text)
    if first is None:
        return [], bool(text), bool(text)
    if first.start() > 0:
        text, cut_start = text[first.start() :], True
    if text and not text.endswith("\n"):
        starts = [m.start() for m in _ROW_START.finditer(text)]
        text, cut_end = text[: starts[-1]], True
    rows = []
    for rec in csv.reader(io.StringIO(text, newline="")):
        if not rec:
            continue
        if len(rec) != 7:
            raise BadCsv(f"a row with {len(rec)} fields, not 7: {rec[:3]}")
        tid, author, inbound, created, body, _resp, parent = rec
        if not tid.isdigit() or inbound not in ("TRUE", "FALSE"):
            raise BadCsv(f"not a twcs row: {rec[:3]}")
        rows.append(_row(tid, author, inbound, created, body, parent))
    return rows, cut_start, cut_end


def _root_of(tid: str, by_id: dict[str, dict]) -> str | None:
    seen = set()
    while tid in by_id and tid not in seen:
        seen.add(tid)
        parent = by_id[tid]["parent"]
        if not parent:
            return tid
        tid = parent
    return None


def build_threads(
    rows: list[dict], cut_start: bool = False, cut_end: bool = False, source: dict | None = None
) -> list[dict]:
    """Threads (dialogue dicts) in the order of their root rows; ``source`` defaults to SOURCE."""
    by_id = {r["tweet_id"]: r for r in rows}
    children: dict[str, list[dict]] = {}
    for r in rows:
        if r["parent"]:
            children.setdefault(r["parent"], []).append(r)
    for kids in children.values():
        kids.sort(key=lambda r: int(r["tweet_id"]))
    cut = set()
    if rows and cut_start:
        cut.add(_root_of(rows[0]["tweet_id"], by_id))
    if rows and cut_end:
        cut.add(_root_of(rows[-1]["tweet_id"], by_id))
    out = []
    for root in rows:
        if root["parent"] or not root["inbound"] or root["tweet_id"] in cut:
            continue
        customer, brand = root["author"], None
        chain = [root]
        while len(chain) < MAX_TURNS:
            nxt = None
            for kid in children.get(chain[-1]["tweet_id"], []):
                if kid["author"] == customer and kid["inbound"]:
                    nxt = kid
                elif not kid["inbound"] and brand in (None, kid["author"]):
                    nxt = kid
                if nxt is not None:
                    break
            if nxt is None:
                break
            if not nxt["inbound"]:
                brand = nxt["author"]
            chain.append(nxt)
        if brand is None:
            continue
        out.append(
            {
                "id": f"twcs-{root['tweet_id']}",
                "source": source or SOURCE,
                "turns": [
                    {
                        "speaker": "customer" if t["inbound"] else "agent",
                        "text": unescape(t["text"]),
                        "tweet_id": t["tweet_id"],
                        "handle": t["author"],
                        "datetime": _iso(t["created_at"]),
                    }
                    for t in chain
                ],
                "meta": {"company": brand},
            }
        )
    return out


def passes(thread: dict) -> bool:
    """The mechanical filter: first turn by the customer, an agent turn, English."""
    turns = thread["turns"]
    return (
        bool(turns)
        and turns[0]["speaker"] == "customer"
        and any(t["speaker"] == "agent" for t in turns)
        and is_english([t["text"] for t in turns])
    )


def parse_source(spec: str) -> dict:
    """``owner/repo:path@commit`` -> the ``source`` dict written into each thread."""
    m = re.fullmatch(r"([\w.-]+/[\w.-]+):(.+)@([0-9a-f]{40})", spec)
    if m is None:
        raise ValueError(f"--source wants owner/repo:path@<40-hex commit>, not {spec!r}")
    return {"dataset": SOURCE["dataset"], "repo": m[1], "path": m[2], "commit": m[3]}


def read_ids(path: Path) -> list[str]:
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            ids.append(json.loads(line)["id"] if line.startswith("{") else line)
    return ids


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", type=Path, nargs="+", help="twcs CSV files or consecutive raw pages, in file order")
    p.add_argument("--out", type=Path, required=True, help="dialogue JSONL to write")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--first", type=int, metavar="N", help="only the first N threads that pass the filter")
    g.add_argument("--ids", type=Path, metavar="FILE", help="only these thread ids (lines or labels JSONL)")
    p.add_argument("--source", metavar="OWNER/REPO:PATH@COMMIT", help="where the CSV was read (default: SOURCE)")
    p.add_argument(
        "--exclude",
        type=Path,
        nargs="+",
        default=[],
        metavar="CSV",
        help="drop every thread that shares a tweet_id with these CSV files or pages (read as one run)",
    )
    args = p.parse_args(argv)
    for path in [*args.csv, *args.exclude]:
        if not path.is_file():
            print(f"no such file: {path}", file=sys.stderr)
            return 2
    try:
        source = parse_source(args.source) if args.source else None
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    try:
        rows, cut_start, cut_end = read_rows(args.csv)
        seen = {r["tweet_id"] for r in read_rows(args.exclude)[0]} if args.exclude else set()
    except BadCsv as e:
        print(f"bad twcs CSV: {e}", file=sys.stderr)
        return 2
    threads = build_threads(rows, cut_start, cut_end, source)
    if seen:
        n = len(threads)
        threads = [t for t in threads if not any(x["tweet_id"] in seen for x in t["turns"])]
        print(f"{n - len(threads)} threads share a tweet_id with --exclude, dropped", file=sys.stderr)
    if args.first is not None:
        threads = [t for t in threads if passes(t)][: args.first]
        if len(threads) < args.first:
            print(f"only {len(threads)} threads pass the filter, not {args.first}", file=sys.stderr)
    elif args.ids:
        want = read_ids(args.ids)
        have = {t["id"]: t for t in threads}
        missing = [i for i in want if i not in have]
        if missing:
            print(f"{len(missing)} ids not in the input, e.g. {missing[0]}", file=sys.stderr)
            return 2
        threads = [have[i] for i in want]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for t in threads:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows, {len(threads)} threads -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
