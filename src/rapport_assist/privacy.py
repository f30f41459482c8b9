"""Masking personal data: one stage of the call pipeline, before anything is shown, logged or cached.

    "my card is 4111 1111 1111 1111"          ->  "my card is #### #### #### 1111"
    "it's four one one one one one one one"   ->  "it's # # # # 1 1 1 1"
    "john dot smith at gmail dot com"         ->  "#### dot ##### at ##### dot com"

``CallPipeline`` masks every utterance of the timeline (its text and its words) before spaCy,
the signals and the rules see it, so every event made from it (evidence, matched words,
records, feedback, the QA report and the transcript cache) holds only the masked text; no sink
has to remember it. What is masked is a readable list, ``data/masking.yaml`` (card numbers
with the Luhn check, SSNs, phone numbers, other long digit runs, digits said as words, e-mail
addresses written or spoken, dates of birth said as such), which a team extends with its own
file (``load_mask_list``; README.md, "Privacy").

Masking replaces letters and digits with ``#`` and keeps every other character, so the text
keeps its shape; digits said as words become one ``#`` (or figure) per digit and word. The
last ``keep_last`` digits stay readable only when at least ``MIN_HIDDEN`` others are hidden.
Masking is idempotent: masked text masks to itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar, cast

from .errors import BadInput
from .safe_regex import Regex, compile_regex
from .types import Evidence, Nudge, Partial, RecordItem, TurnRevision, Utterance, Word

MASK_CHAR = "#"
CONTINUED_S = 4.0  # an utterance starting this soon after its speaker's last may go on with its number
TAIL_CHARS = 80  # of the number it may go on with (a card read out word by word is about 80)
MIN_HIDDEN = 5  # keep_last digits are shown only when at least this many others are hidden
DEFAULT_LIST = Path(__file__).resolve().parent / "data" / "masking.yaml"
LIST_ENV = "RAPPORT_ASSIST_MASKING"
USER_LIST = "masking.yaml"  # in the config folder (userdirs.config_dir)

# A written digit run: digits split by one space, or a dash, dot or comma with or without a space
# after it, or brackets ("4111 1111", "4111-1111", "4,111,111", "(555) 867-5309", "+1 555 867 5309",
# and the recognizer's "5.5. 867. 5.3.0.9" for a number read out slowly). Linear: no nested repetition.
_RUN = re.compile(r"\+?\(?\d(?:(?:[.\-,] ?| |\)[ .\-]?| ?\()?\d)*")
_CURRENCY = "$£€¥"
_TOKEN = re.compile(r"\S+")
_DIGIT = re.compile(r"\d")
_LETTERS = re.compile(r"[a-z]+")
_PUNCT = "\"'“”‘’()[]{}<>.,;:!?…"
_GLUED = tuple("-.,)'’!?:;%@/")  # a recognized word starting with one of these follows the last without a space

E = TypeVar("E")
K = TypeVar("K", "NumberKind", "PatternKind")


# ---------------------------------------------------------------------------- the list


@dataclass(frozen=True)
class NumberKind:
    """A kind of written digit run (card, ssn, phone, account): which runs it takes."""

    name: str
    min_digits: int
    max_digits: int | None = None
    luhn: bool = False
    shape: str | None = None
    keep_last: int = 0


@dataclass(frozen=True)
class PatternKind:
    """Anything else, as an RE2 pattern (case-insensitive); its group ``mask`` (or all of it) is
    masked, but for its last ``keep_last`` digits (letters are always masked)."""

    name: str
    regex: str
    keep_last: int = 0
    keep_words: tuple[str, ...] = ()  # whole words inside a match that stay readable ("dot", "at")


@dataclass(frozen=True)
class SpokenDigits:
    """Digits said as words; a run of at least ``min_digits`` digits is masked word by word."""

    min_digits: int = 6
    keep_last: int = 4
    words: tuple[tuple[str, str], ...] = ()
    repeats: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class MaskList:
    """What to mask (see ``data/masking.yaml``); ``sources`` are the files it was read from."""

    numbers: tuple[NumberKind, ...] = ()
    patterns: tuple[PatternKind, ...] = ()
    spoken: SpokenDigits | None = None
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def fingerprint(self) -> str:
        """sha256 of what is masked (not where it was read from): the transcript cache's key has it."""
        payload = json.dumps(
            [
                [vars(n) for n in self.numbers],
                [vars(p) for p in self.patterns],
                vars(self.spoken) if self.spoken else None,
            ],
            sort_keys=True,
            default=list,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


def user_list_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """A team's own lists: ``$RAPPORT_ASSIST_MASKING`` (read from ``environ``, default the process's),
    and ``masking.yaml`` in the config folder (userdirs.config_dir)."""
    from .userdirs import config_dir

    env = dict(os.environ) if environ is None else dict(environ)
    paths = []
    if env.get(LIST_ENV):
        paths.append(Path(env[LIST_ENV]))
    user = config_dir() / USER_LIST
    if user.is_file():
        paths.append(user)
    return paths


def load_mask_list(extra: Iterable[Path] | None = None, environ: Mapping[str, str] | None = None) -> MaskList:
    """The default list with the team's entries (``user_list_paths``, or ``extra``) added.

    An entry named as one before it replaces it; ``enabled: false`` removes it. BadInput (exit 4)
    names the file and the entry when one is wrong: a bad pattern never masks nothing silently.
    """
    paths = [DEFAULT_LIST] + list(user_list_paths(environ) if extra is None else extra)
    numbers: dict[str, NumberKind] = {}
    patterns: dict[str, PatternKind] = {}
    spoken: SpokenDigits | None = None
    for path in paths:
        data = _read_yaml(path)
        _merge(numbers, path, _entries(path, data, "numbers"), _number_kind)
        _merge(patterns, path, _entries(path, data, "patterns"), _pattern_kind)
        if "spoken_digits" in data:
            spoken = _spoken(path, data["spoken_digits"], spoken)
    return MaskList(tuple(numbers.values()), tuple(patterns.values()), spoken, tuple(map(str, paths)))


def _merge(
    kinds: dict[str, K], path: Path, entries: Iterable[dict[str, Any]], make: Callable[[Path, dict[str, Any]], K]
) -> None:
    """A list's entries over the kinds before it: ``enabled: false`` switches a kind off, any
    other entry adds it or replaces the one of its name."""
    for entry in entries:
        if entry.get("enabled", True) is False:
            kinds.pop(entry["name"], None)
        else:
            kinds[entry["name"]] = make(path, entry)


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise BadInput(
            f"cannot read the masking list {path}: {exc.strerror or exc}", f"fix or remove it (or unset ${LIST_ENV})"
        ) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes().count(b"\n", 0, exc.start) + 1  # exc.start: the byte the file went wrong at
        raise BadInput(f"{path}:{line}: masking list is not UTF-8 text", "save the file as UTF-8") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, found before parsing
        from .yaml_words import control_character

        found = control_character(exc, str(path), text)
        raise BadInput(f"{path}:{found.line}:{found.col}: masking list holds {found.message}", found.hint) from None
    except yaml.MarkedYAMLError as exc:  # in the plain words of a rule file's syntax error
        from .yaml_words import syntax_problem

        found = syntax_problem(exc, str(path), text)
        what = found.message.removeprefix("YAML syntax error: ")
        raise BadInput(f"{path}:{found.line}:{found.col}: masking list is not valid YAML: {what}", found.hint) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = str(getattr(exc, "problem", exc))
        escape = "unknown escape character" in problem  # a regex in double quotes: '\d' is no YAML escape
        raise BadInput(
            f"{where}: masking list is not valid YAML: {problem}",
            "put each regex in single quotes ('...'), where a backslash is just a backslash"
            if escape
            else "see src/rapport_assist/data/masking.yaml for the form",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict) or set(data) - {"numbers", "patterns", "spoken_digits"}:
        raise BadInput(
            f"{path}: a masking list is a mapping of numbers, patterns and spoken_digits",
            "see src/rapport_assist/data/masking.yaml for the form",
        )
    return data


def _entries(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    entries = data.get(key) or []
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) for e in entries
    ):
        raise BadInput(f"{path}: {key}: each entry is a mapping with a name", "e.g. - name: member_id")
    return entries


def _keep_last(path: Path, entry: dict[str, Any]) -> int:
    keep = entry.get("keep_last", 0)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise BadInput(f"{path}: {entry['name']}: keep_last must be a whole number, 0 or more", "")
    return keep


def _number_kind(path: Path, entry: dict[str, Any]) -> NumberKind:
    name = entry["name"]
    digits = entry.get("digits")
    if isinstance(digits, int) and not isinstance(digits, bool):
        digits = [digits, digits]
    if (
        not isinstance(digits, list)
        or not 1 <= len(digits) <= 2
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in digits)
    ):
        raise BadInput(
            f"{path}: numbers: {name}: digits must be [min] or [min, max] (whole numbers)", "e.g. digits: [13, 19]"
        )
    shape = entry.get("shape")
    if shape is not None:
        _compile(path, name, str(shape))
    return NumberKind(
        name,
        digits[0],
        digits[1] if len(digits) == 2 else None,
        bool(entry.get("luhn", False)),
        None if shape is None else str(shape),
        _keep_last(path, entry),
    )


def _pattern_kind(path: Path, entry: dict[str, Any]) -> PatternKind:
    name = entry["name"]
    regex = entry.get("regex")
    if not isinstance(regex, str) or not regex:
        raise BadInput(f"{path}: patterns: {name}: needs a regex", "")
    compiled = _compile(path, name, regex)
    if compiled.search("") is not None:
        raise BadInput(
            f"{path}: patterns: {name}: the regex matches empty text", "make at least one character required"
        )
    keep_words = entry.get("keep_words") or []
    if not isinstance(keep_words, list) or not all(isinstance(w, str) for w in keep_words):
        raise BadInput(f"{path}: patterns: {name}: keep_words is a list of words", "e.g. keep_words: [dot, at]")
    return PatternKind(name, regex, _keep_last(path, entry), tuple(w.lower() for w in keep_words))


def _spoken(path: Path, data: Any, before: SpokenDigits | None) -> SpokenDigits | None:
    if data is None or (isinstance(data, dict) and data.get("enabled", True) is False):
        return None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: spoken_digits must be a mapping", "")
    base = before or SpokenDigits()
    words = dict(base.words)
    repeats = dict(base.repeats)
    try:
        words.update({str(k).lower(): str(v) for k, v in (data.get("words") or {}).items()})
        repeats.update({str(k).lower(): int(v) for k, v in (data.get("repeats") or {}).items()})
        min_digits = int(data.get("min_digits", base.min_digits))
    except (AttributeError, TypeError, ValueError):
        raise BadInput(f"{path}: spoken_digits: words map words to digits, repeats to counts", "") from None
    if not all(v.isdigit() for v in words.values()):
        raise BadInput(f"{path}: spoken_digits: every word must map to digits, e.g. nought: \"0\"", "")
    keep = _keep_last(path, {"name": "spoken_digits", **data}) if "keep_last" in data else base.keep_last
    return SpokenDigits(min_digits, keep, tuple(sorted(words.items())), tuple(sorted(repeats.items())))


def _compile(path: Path, name: str, regex: str) -> Regex:
    try:
        return compile_regex(regex, ignore_case=True)
    except ValueError as exc:
        raise BadInput(
            f"{path}: {name}: RE2 cannot use this regex: {exc}",
            "masking patterns use RE2 syntax (no backreferences or lookaround)",
        ) from None


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# ---------------------------------------------------------------------------- the masker


class Masker:
    """Masks text, utterances and events with one ``MaskList`` (``Masker(None)``: masking off)."""

    def __init__(self, mask_list: MaskList | None) -> None:
        self.mask_list = mask_list
        self.enabled = mask_list is not None
        if mask_list is None:
            return
        self._numbers = [(k, compile_regex(k.shape, True) if k.shape else None) for k in mask_list.numbers]
        self._patterns = []
        for p in mask_list.patterns:
            compiled = compile_regex(p.regex, True)
            self._patterns.append((p, compiled, compiled.groupindex.get("mask", 0)))
        # one pass over the text says whether any pattern can match (most utterances: none)
        self._any_pattern = (
            compile_regex("|".join(f"(?:{p.regex})" for p in mask_list.patterns), True) if mask_list.patterns else None
        )
        spoken = mask_list.spoken
        self._words = dict(spoken.words) if spoken else {}
        self._repeats = dict(spoken.repeats) if spoken else {}
        # the most digits each number word can give (a repeat word: its count, less the word it repeats)
        self._most = {w: len(d) for w, d in self._words.items()}
        self._most.update({w: max(1, n - 1) for w, n in self._repeats.items()})

    @property
    def identity(self) -> str:
        """What this masker does, for cache and done keys: the list's fingerprint, or "off"."""
        return self.mask_list.fingerprint if self.mask_list is not None else "off"

    # -- text ----------------------------------------------------------------------------
    def mask_text(self, text: str) -> str:
        """``text`` with everything on the list masked (unchanged when masking is off)."""
        if not self.enabled or not text:
            return text
        return _apply(text, *self._edits(text))

    def _edits(self, text: str) -> tuple[set[int], list[tuple[int, int, str]]]:
        """What masking ``text`` does: the positions whose letters and digits become ``#``, and
        (start, end, replacement) for the words of spoken digit runs."""
        hide: set[int] = set()
        self._mark_numbers(text, hide)
        self._mark_patterns(text, hide)
        return hide, self._spoken_subs(text)

    def _mark_numbers(self, text: str, hide: set[int]) -> None:
        if not self._numbers or _DIGIT.search(text) is None:
            return
        for m in _RUN.finditer(text):
            run = m.group(0)
            start = m.start()
            if start > 0 and text[start - 1] in _CURRENCY:
                continue
            digits = "".join(ch for ch in run if ch.isdigit())
            n = len(digits)
            for kind, shape in self._numbers:
                if n < kind.min_digits or (kind.max_digits is not None and n > kind.max_digits):
                    continue
                if kind.luhn and not luhn_ok(digits):
                    continue
                if shape is not None and shape.fullmatch(run.strip("+")) is None and shape.fullmatch(run) is None:
                    continue
                keep = _kept(n, kind.keep_last)
                seen = 0
                for i, ch in enumerate(run, start):
                    if ch.isdigit():
                        seen += 1
                        if seen <= n - keep:
                            hide.add(i)
                break

    def _mark_patterns(self, text: str, hide: set[int]) -> None:
        if self._any_pattern is None or self._any_pattern.search(text) is None:
            return
        for kind, compiled, group in self._patterns:
            for m in compiled.finditer(text):
                start, end = m.span(group)
                if start < 0:
                    continue
                alnum = [i for i in range(start, end) if text[i].isalnum()]
                if kind.keep_words:
                    kept_words: set[int] = set()
                    for w in _TOKEN.finditer(text, start, end):
                        if w.group(0).lower() in kind.keep_words:
                            kept_words.update(range(w.start(), w.end()))
                    alnum = [i for i in alnum if i not in kept_words]
                digits = [i for i in alnum if text[i].isdigit()]
                keep = _kept(len(digits), kind.keep_last)
                shown = set(digits[len(digits) - keep :]) if keep else set()
                hide.update(i for i in alnum if i not in shown)

    def _spoken_subs(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, replacement) for the words of each run of spoken digits long enough to mask."""
        spoken = self.mask_list.spoken if self.mask_list is not None else None
        if not self._words or spoken is None:
            return []
        # Most utterances hold too few number words to make a run: count the digits they could
        # give at most (one C-speed scan, a dict lookup per word) before looking at word order.
        found = [n for n in map(self._most.get, _LETTERS.findall(text.lower())) if n]
        if len(found) < 2 or sum(found) + len(_DIGIT.findall(text)) < spoken.min_digits:
            return []
        # (start, end of the word without its punctuation, digits or None, is a number word)
        tokens: list[tuple[int, int, str | None, bool]] = []
        for m in _TOKEN.finditer(text):
            raw = m.group(0)
            core = raw.strip(_PUNCT)
            if not core:
                tokens.append((m.start(), m.end(), None, False))
                continue
            start = m.start() + raw.index(core)
            tokens.append((start, start + len(core), *self._digits_of(core.lower())))
        # repeats ("double five") and tens before a unit ("fifty three" = 53)
        values: list[str | None] = [t[2] for t in tokens]
        for i, (_, _, digits, _) in enumerate(tokens):
            if digits is None:
                continue
            nxt = values[i + 1] if i + 1 < len(tokens) else None
            if digits.startswith("x") and nxt is not None and len(nxt) == 1:  # a repeat word: its copies
                values[i] = nxt * (int(digits[1:]) - 1)
            elif digits.startswith("x"):
                values[i] = None
            elif (
                len(digits) == 2
                and digits.endswith("0")
                and digits != "10"
                and nxt is not None
                and len(nxt) == 1
                and nxt != "0"
                and tokens[i + 1][3]
            ):
                values[i] = digits[0]
        subs: list[tuple[int, int, str]] = []
        i = 0
        while i < len(tokens):
            if values[i] is None:
                i += 1
                continue
            j = i
            while j < len(tokens) and values[j] is not None:
                j += 1
            run = range(i, j)
            run_values = [v for v in values[i:j] if v is not None]  # all of them: the run ends at a None
            n = sum(map(len, run_values))
            spoken_words = sum(1 for k in run if tokens[k][3] and values[k] != "0")
            if n >= spoken.min_digits and spoken_words >= 2:
                keep = _kept(n, spoken.keep_last)
                seen = 0
                for k, digits in zip(run, run_values):
                    out = []
                    for d in digits:
                        seen += 1
                        out.append(d if seen > n - keep else MASK_CHAR)
                    start, end = tokens[k][0], tokens[k][1]
                    new = "".join(out)
                    if new != text[start:end]:
                        subs.append((start, end, new))
            i = j
        return subs

    def _digits_of(self, word: str) -> tuple[str | None, bool]:
        """A word's digits (or "x<n>" for a repeat word), and whether it is a number word."""
        if word.isdigit():
            return word, False
        digits = self._words.get(word)
        if digits is not None:
            return digits, True
        if word in self._repeats:
            return f"x{self._repeats[word]}", True
        if "-" in word:  # "fifty-three", "four-one-one-one"
            found = [self._words.get(p) for p in word.split("-")]
            parts = [p for p in found if p]
            if len(parts) == len(found):  # every part is a number word
                if len(parts) == 2 and len(parts[0]) == 2 and parts[0].endswith("0") and len(parts[1]) == 1:
                    return parts[0][0] + parts[1], True
                return "".join(parts), True
        return None, False

    # -- values ----------------------------------------------------------------------------
    def mask_words(self, words: tuple[Word, ...]) -> tuple[Word, ...]:
        """The words masked as one sequence (a card number said over many words is one run),
        each word getting its own part of the result."""
        if not self.enabled or not words:
            return words
        joined, spans = _join(words)
        return _words_masked(words, spans, *self._edits(joined))

    def _mask_alone(self, text: str) -> str:
        masked = self.mask_text(text)
        return "".join(MASK_CHAR if ch.isdigit() else ch for ch in masked) if masked != text else masked

    def _edits_after(self, text: str, before: str) -> tuple[set[int], list[tuple[int, int, str]]]:
        """``_edits`` of ``text`` read as the continuation of ``before`` (the number the same
        speaker's last utterance ended with), so a number the endpointer cut in two is masked
        as one run; only the edits that fall in ``text``."""
        if not before:
            return self._edits(text)
        shift = len(before) + 1
        hide, subs = self._edits(f"{before} {text}")
        return {i - shift for i in hide if i >= shift}, [
            (a - shift, b - shift, new) for a, b, new in subs if a >= shift
        ]

    def trailing_number(self, text: str) -> str:
        """The number ``text`` ends with (digits or number words, and what separates them), or ""."""
        if not self.enabled:
            return ""
        tokens = list(_TOKEN.finditer(text))
        first = len(tokens)
        while first > 0:
            core = tokens[first - 1].group(0).lower().strip(_PUNCT)
            if not core or self._digits_of(core)[0] is None:
                break
            first -= 1
        return text[tokens[first].start() :].rstrip(_PUNCT + " ") if first < len(tokens) else ""

    def mask_utterance(self, u: Utterance, before: str = "") -> Utterance:
        """``u`` masked; ``before``: the number the same speaker's previous utterance ended with
        when this one may go on with it (``timeline``)."""
        if not self.enabled:
            return u
        if before and not self._starts_with_number(u.text):
            before = ""  # (it does not start with a number: nothing to go on with)
        if u.words:
            joined, spans = _join(u.words)
            edits = self._edits_after(joined, before)
            words = _words_masked(u.words, spans, *edits)
            # most often the same text
            text = _apply(u.text, *edits) if joined == u.text else _apply(u.text, *self._edits_after(u.text, before))
        else:
            text, words = _apply(u.text, *self._edits_after(u.text, before)), u.words
        if text is u.text and words is u.words:
            return u
        return replace(u, text=text, words=words)

    def mask_partial_text(self, text: str) -> str:
        """Caption text (a prefix of what is still being said) masked more strictly than a whole
        utterance: a number may be only half said, so besides the list every digit is masked,
        and every number word that is next to another one or ends the text ("my card is four
        nine" -> "my card is # #")."""
        if not self.enabled or not text:
            return text
        text = self.mask_text(text)
        tokens = [(m.start(), m.end(), m.group().lower().strip(_PUNCT)) for m in _TOKEN.finditer(text)]
        numeric = [bool(word) and (self._digits_of(word)[0] is not None) for _, _, word in tokens]
        chars = list(_DIGIT.sub(MASK_CHAR, text))
        for k, (start, end, _) in enumerate(tokens):
            if numeric[k] and (k == len(tokens) - 1 or (k > 0 and numeric[k - 1]) or numeric[k + 1]):
                for i in range(start, end):
                    if chars[i].isalnum():
                        chars[i] = MASK_CHAR
        return "".join(chars)

    def mask_partial(self, p: Partial) -> Partial:
        if not self.enabled:
            return p
        return replace(p, text=self.mask_partial_text(p.text), pending=self.mask_partial_text(p.pending))

    def timeline(self, items: Iterable[E]) -> Iterator[E]:
        """The timeline with every utterance and caption masked (other items as they are). An
        utterance that starts with a number, said within ``CONTINUED_S`` of the same speaker's
        last one that ended with a number, is masked as that number's continuation: read out
        with pauses, "my card number is 4929, 3810 ..." is often cut after "4929"."""
        if not self.enabled:
            yield from items
            return
        tails: dict[object, tuple[str, float]] = {}  # speaker -> (the number its last utterance ended with, its end)
        contexts: dict[int, str] = {}  # utterance index -> the number it went on with (for its revisions)
        for item in items:
            if isinstance(item, Utterance):
                tail, end = tails.get(item.speaker, ("", 0.0))
                before = (
                    tail if tail and item.start_s - end <= CONTINUED_S and self._starts_with_number(item.text) else ""
                )
                tails[item.speaker] = (self._tail_after(item.text, before), item.end_s)
                if before:
                    contexts[item.index] = before
                yield cast(E, self.mask_utterance(item, before))  # a masked copy: the same type as the item
            elif isinstance(item, Partial):
                yield cast(E, self.mask_partial(item))
            elif isinstance(item, TurnRevision):
                yield cast(E, self.mask_revision(item, contexts))
            else:
                yield item

    def mask_revision(self, r: TurnRevision, contexts: Mapping[int, str] | None = None) -> TurnRevision:
        """A turn's second pass with its utterances (and their first-pass texts) masked;
        ``contexts``: utterance index -> the number its speaker's utterance before it ended with
        (``timeline``), so a revision masks a number cut in two as the first pass did."""
        if not self.enabled:
            return r
        utterances, texts = [], []
        last_u, last_t = "", ""  # the turn's utterances are one speaker's, in order: a number may go on
        for u, t in zip(r.utterances, r.before):
            if contexts is not None and u.index in contexts:  # what came before it on the timeline
                last_u = last_t = contexts[u.index]
            utterances.append(self.mask_utterance(u, last_u))
            texts.append(_apply(t, *self._edits_after(t, last_t if self._starts_with_number(t) else "")))
            last_u, last_t = self._tail_after(u.text, last_u), self._tail_after(t, last_t)
        return replace(r, utterances=tuple(utterances), before=tuple(texts))

    def _tail_after(self, text: str, before: str) -> str:
        """The number ``text`` ends with, from where it began: in ``before`` too when ``text`` is
        only more of it ("4929," then "3810," then "4672 8154" is one number)."""
        tail = self.trailing_number(text)
        if before and tail and tail == text.strip().rstrip(_PUNCT + " "):
            tail = f"{before} {tail}"[-TAIL_CHARS:]
        return tail

    def _starts_with_number(self, text: str) -> bool:
        return bool(self.trailing_number(" ".join(text.split()[:1])))

    def mask_event(self, event: E) -> E:
        """A copy of an output event with every text it carries masked (for events that did not
        come from masked utterances; the pipeline's own events need none)."""
        if not self.enabled:
            return event
        masked: object = event  # a masked copy: the same type as the event
        if isinstance(event, Utterance):
            masked = self.mask_utterance(event)
        elif isinstance(event, Nudge):
            masked = replace(
                event,
                message=self.mask_text(event.message),
                rewrite=self.mask_text(event.rewrite) if event.rewrite else event.rewrite,
                evidence=tuple(self._mask_evidence(ev) for ev in event.evidence),
            )
        elif isinstance(event, RecordItem):
            masked = replace(event, text=self.mask_text(event.text))
        elif isinstance(event, Partial):
            masked = self.mask_partial(event)
        return cast(E, masked)

    def _mask_evidence(self, ev: Evidence) -> Evidence:
        """Evidence text masked as a whole, and each matched piece as its slice of that whole when
        it is found in the text (so a short digit group of a long run is masked too)."""
        masked = self.mask_text(ev.text)
        matched = []
        for m in ev.matched:
            at = ev.text.find(m) if masked != ev.text and len(masked) == len(ev.text) else -1
            matched.append(masked[at : at + len(m)] if at >= 0 else self._mask_alone(m))
        return replace(ev, text=masked, matched=tuple(matched))


def _join(words: tuple[Word, ...]) -> tuple[str, list[tuple[int, int]]]:
    """The words joined as the recognizer wrote them, and where each one is: a word that starts
    with "-", ".", "," ... was glued to the one before ("5" "-867" "-5309" is "5-867-5309"),
    others follow a space."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for i, w in enumerate(words):
        if i and w.text[:1] not in _GLUED:
            parts.append(" ")
            pos += 1
        parts.append(w.text)
        spans.append((pos, pos + len(w.text)))
        pos += len(w.text)
    return "".join(parts), spans


def _apply(text: str, hide: set[int], subs: list[tuple[int, int, str]]) -> str:
    """``text`` with the edits of ``Masker._edits`` made."""
    if not hide and not subs:
        return text
    chars = list(text)
    for i in hide:
        if chars[i].isalnum():
            chars[i] = MASK_CHAR
    for start, end, new in sorted(subs, reverse=True):
        chars[start:end] = new
    return "".join(chars)


def _words_masked(
    words: tuple[Word, ...], spans: list[tuple[int, int]], hide: set[int], subs: list[tuple[int, int, str]]
) -> tuple[Word, ...]:
    """Each word with its part of the edits of the joined words (``_join``)."""
    if not hide and not subs:
        return words
    hide = set(hide)
    out = []
    for w, (a, b) in zip(words, spans):
        chars = list(w.text)
        inside = []
        for start, end, new in subs:
            if a <= start and end <= b:
                inside.append((start, end, new))
            elif start < b and end > a:  # a spoken run's word split over two words: hide its part
                hide.update(range(max(start, a), min(end, b)))
        for i in range(a, b):
            if i in hide and chars[i - a].isalnum():
                chars[i - a] = MASK_CHAR
        for start, end, new in sorted(inside, reverse=True):
            chars[start - a : end - a] = new
        text = "".join(chars)
        out.append(w if text == w.text else replace(w, text=text))
    return tuple(out)


def _kept(n: int, keep_last: int) -> int:
    return keep_last if n - keep_last >= MIN_HIDDEN else 0


_DEFAULT: dict[str, MaskList] = {}


def default_mask_list() -> MaskList:
    """The default list with the user's additions, read once per process."""
    if "list" not in _DEFAULT:
        _DEFAULT["list"] = load_mask_list()
    return _DEFAULT["list"]


def masker_for(enabled: bool) -> Masker:
    """The masker a command uses: the default list with the team's additions, or off."""
    return Masker(default_mask_list() if enabled else None)


def saved_masking() -> bool:
    """The saved setting (``mask_digits`` in settings.json; on unless the user turned it off)."""
    from .settings import load_choices

    return load_choices().mask_digits


def mask_digits(text: str) -> str:
    """``text`` masked with the default list (kept for scripts)."""
    return masker_for(True).mask_text(text)


def mask_event(event: E) -> E:
    """``event`` masked with the default list (kept for scripts)."""
    return masker_for(True).mask_event(event)


if __name__ == "__main__":  # python -m rapport_assist.privacy "text to mask"
    from .errors import RapportError

    try:
        print(masker_for(True).mask_text(" ".join(sys.argv[1:])))
    except RapportError as exc:  # a broken masking list: one line and its exit code, as the commands do
        print(f"rapport_assist.privacy: error: {exc.one_line()}", file=sys.stderr)
        sys.exit(int(exc.exit_code))
