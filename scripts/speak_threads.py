#!/usr/bin/env python3
"""Make labelled written threads speakable: the dialogue file ``make_spoken_dev.py`` speaks.

Reads threads and their labels (by default the IBM Twitter dev set in the shared data folder,
joined as ``twitter_dev.py``'s ``joined()`` does: turns, labels, notes, borderline) and writes one
dialogue a line with each turn's text as a person would say it on the phone (``speakable``):

- @handles, URLs (also "https: //" with a space, web.archive.org wrappers and bare domains such
  as ``help.example.com/x``), a defanged ``[.]`` domain and the dataset's trailing ``link``
  placeholder are removed;
- HTML entities are decoded ("&amp;" -> "and" when it stands alone, "&gt;" -> ">" then dropped);
- a hashtag loses its '#' (``#NeverAgain`` -> "Never Again": its camel case split into words);
- emoji, skin tones, zero-width joiners and variation selectors, and text emoticons (":(",
  ":-)", ";D") are removed;
- e-mail addresses and thread counters ("1/2" at a line's start or end) are removed;
- an agent's sign-off initials or name after ``^``, ``*``, ``~`` or ``/`` ("^JS", "*SR", "/EX"),
  or after a dash at a line's end ("-Robin"), are removed;
- ALL-CAPS words, "!!!", "??" and the rest of the wording are kept as written: the speech
  synthesizer says them as words, and the recognizer writes what it hears, so what the capitals
  and marks told the rules is lost only on the audio route.

A turn left with no words (only a link, a handle or an emoji) becomes "Hmm." so the turn, and
with it every label's turn index, stays in place; the count is printed.

    .venv/bin/python scripts/speak_threads.py --out /tmp/h113/ibmdev_dialogues.jsonl
    .venv/bin/python scripts/speak_threads.py --data DIR --labels FILE --threads FILE --out FILE

Then ``scripts/make_spoken_dev.py FILE --out DIR`` speaks them and ``rapport-assist eval DIR``
scores both routes. The output holds tweet text: keep it out of the repository.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

EMPTY_TURN = "Hmm."

_URL = re.compile(
    r"""(?ix)
    (?:https?\s*:\s*//|www\.)\S+                                   # a link with its scheme or www.
    | \b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|co|us|uk|tv|to|ly|io|gl|me|be|ca|de|in|au)\b(?:/\S*)?
                                                                   # a bare domain, with its path
    """
)
_HANDLE = re.compile(r"(?<![\w@])@\w+")
_EMAIL = re.compile(r"[\w.+-]+@(?:[\w-]+(?:\.[\w-]+)*)?")
_PART = re.compile(r"(?:^\s*\(?[1-9]/[1-9]\)?(?=\s))|(?:(?<=\s)\(?[1-9]/[1-9]\)?\s*$)")  # "1/2" thread counters
_PLACEHOLDER = re.compile(r"(?:\s*\blink\b)+\s*$")  # the dataset's stand-in for a link or picture
_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
_SIGNOFF = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[.!?]))(?:[\^*~]\s?|/)[A-Z][A-Za-z]*\b")
_DASH_NAME = re.compile(r"(?:^|\s)[-–]\s?[A-Z][a-z]*\.?\s*$")  # "... Thanks! -Steve" at a line's end
_EMOTICON = re.compile(r"(?<![\w:])[:;=8]['-]?[()\[\]DPpOo/\\|*$]+(?![\w])|(?<!\w)<3\b|(?<!\w)[Xx]D\b")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def _is_emoji(ch: str) -> bool:
    """Pictographs and their joiners/modifiers (not letters, digits, punctuation or currency)."""
    if ch in "\u200b\u200c\u200d\u2060\ufe0e\ufe0f\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e":
        return True
    cat = unicodedata.category(ch)
    if cat == "So":
        return True
    return cat == "Sk" and 0x1F3FB <= ord(ch) <= 0x1F3FF  # skin tones


def _hashtag_words(m: re.Match) -> str:
    tag = m.group(1)
    return " ".join(_CAMEL.split(tag)) if not tag.isupper() else tag


def speakable(text: str) -> str:
    """``text`` as it would be said on the phone (see the module docstring); "" if nothing is left."""
    t = html.unescape(text)
    t = t.replace("[.]", ".")
    t = "".join(" " if _is_emoji(ch) else ch for ch in t)
    t = _URL.sub(" ", t)
    t = _EMAIL.sub(" ", t)
    t = _HANDLE.sub(" ", t)
    t = _SIGNOFF.sub(" ", t)
    t = _EMOTICON.sub(" ", t)
    t = _HASHTAG.sub(_hashtag_words, t)
    t = re.sub(r"(?<=\s)&(?=\s)", "and", t)
    t = re.sub(r"(?<=\s)[<>|]+(?=\s)", " ", t)
    lines = []
    for line in t.splitlines():
        line = _SPACE.sub(" ", line).strip()
        # what is left of a removed link or handle: a lone ':' or '-' or '()'
        line = re.sub(r"\s*\(\s*\)", "", line)
        line = _PLACEHOLDER.sub("", line)
        line = _PART.sub("", line).strip()
        line = _DASH_NAME.sub("", line)
        line = re.sub(r"(?<=[a-z])\.(?=[A-Z][a-z])", ". ", line)  # "help.Thanks" is two sentences
        line = re.sub(r"\s+([,.!?;:])", r"\1", line)
        line = re.sub(r"^[\s,.;:\-–—]+", "", line).strip()
        line = re.sub(r"[\s,;:\-–—]+$", "", line).strip()
        if re.search(r"[A-Za-z0-9]", line):
            lines.append(line)
    # a line break is a pause: end a line that has no mark of its own as a sentence (not the last)
    t = " ".join(ln if ln[-1] in ".!?…\"'”’)" or k == len(lines) - 1 else ln + "." for k, ln in enumerate(lines))
    t = _PLACEHOLDER.sub("", t).strip()
    t = re.sub(r"\s+([,.!?;:])", r"\1", t)
    t = re.sub(r"[,;:\-–—]+$", "", t).strip()
    return t if re.search(r"[A-Za-z0-9]", t) else ""


def speakable_rows(rows: list[dict]) -> tuple[list[dict], int]:
    """Each row with its turns' text made speakable (labels and the rest unchanged), and how many
    turns were left with no words (said as ``EMPTY_TURN``)."""
    out = []
    empty = 0
    for r in rows:
        turns = []
        for t in r["turns"]:
            said = speakable(t["text"])
            if not said:
                said = EMPTY_TURN
                empty += 1
            turns.append({**t, "text": said})
        out.append({**r, "turns": turns})
    return out, empty


def main(argv: list[str] | None = None) -> int:
    from twitter_dev import ROOT, joined

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dialogues")
    p.add_argument("--labels", type=Path, help="labels file (default: the dev labels in --data)")
    p.add_argument("--threads", type=Path, help="threads file (default: the dev threads in --data)")
    p.add_argument("--out", type=Path, required=True, help="dialogue .jsonl to write (not in the repo)")
    p.add_argument("--no-author", action="store_true", help="drop each turn's author (a call has one voice per side)")
    p.add_argument(
        "--threads-out",
        type=Path,
        metavar="FILE",
        help="also write the speakable threads in the threads file's shape (id, turns with handle), "
        "for 'twitter_dev.py --threads FILE --labels LABELS' (the cleaned-text column)",
    )
    args = p.parse_args(argv)
    rows = joined(args.data, args.labels, args.threads)
    rows, empty = speakable_rows(rows)
    if args.no_author:
        rows = [{**r, "turns": [{k: v for k, v in t.items() if k != "author"} for t in r["turns"]]} for r in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    if args.threads_out:
        with args.threads_out.open("w", encoding="utf-8") as f:
            for r in rows:
                turns = [
                    {"speaker": t["speaker"], "text": t["text"], **({"handle": t["author"]} if t.get("author") else {})}
                    for t in r["turns"]
                ]
                f.write(json.dumps({"id": r["id"], "turns": turns}, ensure_ascii=False) + "\n")
    words = sum(len(t["text"].split()) for r in rows for t in r["turns"])
    turns = sum(len(r["turns"]) for r in rows)
    print(
        f"wrote {args.out}: {len(rows)} dialogues, {turns} turns, {words} words; {empty} turns left empty ({EMPTY_TURN!r})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
