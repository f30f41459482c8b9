#!/usr/bin/env python3
"""Harper Valley Bank calls (kept out of the repo) -> our dialogue JSONL, for ``rapport-assist eval``.

The Harper Valley Bank corpus (Gridspace-Stanford, CC BY 4.0) is role-played bank calls with
human transcripts: lowercase, no punctuation. Its transcripts are read by hand into a folder of
compact files, one per call, never committed (``bench/data/README.md`` says which calls, from
which repository and commit, and how to rebuild the folder). A file ``ID.tsv`` is:

    # <repo> <path> @<commit>          comment lines, ignored
    a<TAB>start_ms<TAB>duration_ms<TAB>human_transcript      a = agent, c = caller
    c<TAB>...

in the source's segment order. This script writes one dialogue a line, in the format of
``shared/data/dialogues/scripted_dev.jsonl``::

    {"id": "hvb-ID", "source": "...", "turns": [{"speaker": "agent"|"customer", "text", "start", "end"}],
     "labels": {...}, "hard_negatives": {...}, "notes": "..."}   # these three only with --labels

- Transcriber marks are dropped: ``[noise]``, ``[cough]``, ``[music]`` ... (square brackets),
  ``<unk>`` (angle brackets) and cut-off words (``wou~``); a segment left with no word is dropped.
- Consecutive segments of one speaker become one turn (their texts joined with a space), as
  consecutive lines of one speaker are one turn in our transcripts (``turns.py``). A turn starts
  at its first segment's ``start_ms`` and ends at the latest ``start_ms + duration_ms`` of its
  segments (seconds). The source's two channels are stamped separately, so a turn can start a
  little before the previous one: its start is then moved to just after the previous turn's start
  (turn order is the source's segment order), keeping ``start`` non-decreasing.
- ``--labels FILE`` (``bench/data/hvb_labels.jsonl``) joins each call's ``labels``,
  ``hard_negatives`` (if any) and ``notes``, and checks the turn count and that every labelled
  turn is an agent turn of that call.

    .venv/bin/python scripts/hvb_dialogues.py /tmp/h37hvb/raw --out /tmp/h37hvb/hvb.jsonl \\
        [--labels bench/data/hvb_labels.jsonl]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROLES = {"a": "agent", "c": "customer"}
_MARK = re.compile(r"\[[^\]]*\]|<[^>]*>|\S+~(?=\s|$)")
MIN_STEP_S = 0.01


class BadRaw(ValueError):
    pass


def clean(text: str) -> str:
    """The words of a human transcript without the transcriber's marks."""
    return " ".join(_MARK.sub(" ", text).split())


def read_raw(path: Path) -> tuple[str, list[tuple[str, int, int, str]]]:
    """(source comment, segments) of one compact call file."""
    source = ""
    segments: list[tuple[str, int, int, str]] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            source = source or line.lstrip("# ").strip()
            continue
        parts = line.split("\t")
        if len(parts) != 4 or parts[0] not in ROLES:
            raise BadRaw(f"{path}:{lineno}: expected 'a|c<TAB>start_ms<TAB>duration_ms<TAB>text', got {line!r}")
        try:
            start, dur = int(parts[1]), int(parts[2])
        except ValueError:
            raise BadRaw(f"{path}:{lineno}: start_ms and duration_ms must be whole numbers") from None
        segments.append((ROLES[parts[0]], start, dur, parts[3]))
    if not segments:
        raise BadRaw(f"{path}: no segments")
    return source, segments


def to_turns(segments: list[tuple[str, int, int, str]]) -> list[dict]:
    turns: list[dict] = []
    for speaker, start_ms, dur_ms, text in segments:
        words = clean(text)
        if not words:
            continue
        start, end = start_ms / 1000, (start_ms + dur_ms) / 1000
        if turns and turns[-1]["speaker"] == speaker:
            t = turns[-1]
            t["text"] = f"{t['text']} {words}"
            t["end"] = round(max(t["end"], end), 3)
            continue
        if turns and start <= turns[-1]["start"]:
            start = turns[-1]["start"] + MIN_STEP_S
        turns.append({"speaker": speaker, "text": words, "start": round(start, 3), "end": round(max(end, start), 3)})
    return turns


def read_labels(path: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            obj = json.loads(line)
            if obj["id"] in out:
                raise BadRaw(f"{path}:{lineno}: {obj['id']} labelled twice")
            out[obj["id"]] = obj
    return out


def build(raw: Path, labels_path: Path | None) -> list[dict]:
    files = sorted(raw.glob("*.tsv"))
    if not files:
        raise BadRaw(f"no *.tsv call files in {raw}")
    labels = read_labels(labels_path) if labels_path else {}
    rows = []
    for f in files:
        source, segments = read_raw(f)
        cid = f"hvb-{f.stem}"
        row: dict = {"id": cid, "source": source, "turns": to_turns(segments)}
        if labels_path:
            lab = labels.pop(cid, None)
            if lab is None:
                raise BadRaw(f"{labels_path}: no labels for {cid}")
            if lab.get("n_turns") != len(row["turns"]):
                raise BadRaw(f"{labels_path}: {cid} has n_turns {lab.get('n_turns')}, the call has {len(row['turns'])}")
            for field in ("labels", "hard_negatives"):
                for moment, idx in lab.get(field, {}).items():
                    for i in idx:
                        if row["turns"][i]["speaker"] != "agent":
                            raise BadRaw(f"{labels_path}: {cid} {field} {moment} names turn {i}, a customer turn")
            row["labels"] = lab["labels"]
            if "hard_negatives" in lab:
                row["hard_negatives"] = lab["hard_negatives"]
            row["notes"] = lab.get("notes", "")
        rows.append(row)
    if labels:
        raise BadRaw(f"{labels_path}: labels for calls not in {raw}: {sorted(labels)}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw", type=Path, help="folder of ID.tsv call files")
    ap.add_argument("--out", type=Path, required=True, help="dialogue JSONL to write")
    ap.add_argument("--labels", type=Path, help="labels JSONL to join (id, n_turns, labels, notes)")
    args = ap.parse_args(argv)
    try:
        rows = build(args.raw, args.labels)
    except (BadRaw, OSError, json.JSONDecodeError, KeyError) as exc:
        print(f"hvb_dialogues: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    n_turns = sum(len(r["turns"]) for r in rows)
    print(f"{len(rows)} calls, {n_turns} turns -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
