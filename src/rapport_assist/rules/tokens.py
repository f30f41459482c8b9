"""Token patterns (``says: {tokens: ...}``) matched in Python over the token table.

Rules write token patterns in spaCy's ``Matcher`` syntax. spaCy's ``Matcher`` builds Token
objects and re-checks every predicate for every token of every utterance; most rule patterns
only test a few token attributes with equality, ``IN``, ``NOT_IN``, ``REGEX`` or a length
comparison, with the operators ``!``, ``?``, ``*`` and ``+``. For those:

* the attributes a finder tests come from the utterance's token table, read once for every
  finder (``Features.token_keys``: word forms, lemma, tags, dependency label, entity type,
  length; only the columns the patterns test); lexical flags (``IS_ALPHA``…) follow from the
  lowercase form, the few that depend on case (``IS_TITLE``…) and ``SHAPE`` from the word as
  written;
* which token specs a token passes depends only on those values, so it is worked out once per
  distinct combination of values and then read from a table;
* the pattern is run as a small automaton over the tokens, giving every (start, end) the
  ``Matcher`` would return, the same way (all matches, not only the longest).

A pattern using anything else (other operators or attributes, extension attributes, fuzzy
matching) is left to spaCy's ``Matcher``, so every valid pattern still works. A test compares
the two on random patterns and utterances.

``REGEX`` never runs on Python's backtracking ``re``, where ``(a+)+$`` against a long word never
returns: here it is RE2 (time linear in the text, as ``says: {regex}``), and a pattern left to
spaCy's ``Matcher`` has its ``REGEX`` predicates turned into RE2-backed extension attributes
first (``re2_predicates``). The loader refuses what RE2 cannot take, with its location.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Sequence, cast

from ..safe_regex import Regex, compile_regex

# attributes whose values are strings (compared as string-store ids)
STRING_ATTRS = frozenset({"ORTH", "LOWER", "NORM", "LEMMA", "POS", "TAG", "DEP", "ENT_TYPE", "SHAPE"})
# lexical flags (True / False)
FLAG_ATTRS = frozenset(
    {
        "IS_ALPHA",
        "IS_ASCII",
        "IS_DIGIT",
        "IS_LOWER",
        "IS_UPPER",
        "IS_TITLE",
        "IS_PUNCT",
        "IS_SPACE",
        "IS_STOP",
        "IS_BRACKET",
        "IS_QUOTE",
        "IS_LEFT_PUNCT",
        "IS_RIGHT_PUNCT",
        "IS_CURRENCY",
        "LIKE_NUM",
        "LIKE_URL",
        "LIKE_EMAIL",
    }
)
INT_ATTRS = frozenset({"LENGTH"})
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}
_OPS = {None: (1, 1), "1": (1, 1), "!": (1, 1), "?": (0, 1), "*": (0, None), "+": (1, None)}
_MAX_TABLE = 100_000  # distinct token value combinations remembered per pattern set
# flags that differ between a word and its lowercase form (the others are read from the latter)
CASED_FLAGS = frozenset({"IS_LOWER", "IS_UPPER", "IS_TITLE", "LIKE_URL"})


class _Spec:
    """One token spec: its tests (attribute position, test), whether it is negated (``!``),
    and how often it may repeat (min, max; None for any)."""

    def __init__(
        self,
        tests: list[tuple[int, Callable[[int], bool]]],
        negate: bool,
        repeat: tuple[int, int | None],
        values: dict[str, frozenset[int]] | None = None,
    ):
        self.tests = tests
        self.negate = negate
        self.repeat = repeat
        self.values = values or {}  # attribute -> the values an equality or IN test allows

    def passes(self, values: Sequence[int]) -> bool:
        return all(test(values[pos]) for pos, test in self.tests) is not self.negate


class TokenPatterns:
    """Compiled token patterns over one vocabulary; ``matches(keys)`` lists (start, end) pairs
    as ``Matcher(doc)`` would (unordered, each once), from a Doc's
    ``Features.token_keys(patterns.columns)``."""

    def __init__(self, patterns: list[list[dict[str, Any]]], vocab: Any) -> None:
        from .features import ROW_COLUMNS, ROWS_READ, token_keys_name

        self._strings = vocab.strings
        self._vocab = vocab
        names: list[str] = []
        compiled = [[self._spec(spec, names) for spec in pattern] for pattern in patterns]
        # the columns a token's key is made of (``ROW_COLUMNS`` names): an attribute's own column,
        # or the word form (lowercase, or as written) for what follows from it
        columns: list[str] = []
        self._reads: list[tuple[int, str | None]] = []  # per attribute: key position, lexeme attribute
        for name in names:
            own = name in ROW_COLUMNS
            column = name if own else "ORTH" if name in CASED_FLAGS or name == "SHAPE" else "LOWER"
            if column not in columns:
                columns.append(column)
            self._reads.append((columns.index(column), None if own else name.lower()))
        self.columns = tuple(columns)
        self._specs = [spec for pattern in compiled for spec in pattern]
        self._patterns: list[_Automaton] = []
        first = 0
        for pattern in compiled:
            self._patterns.append(_Automaton(list(range(first, first + len(pattern))), self._specs))
            first += len(pattern)
        self._table: dict[tuple[int, ...], frozenset[int]] = {}
        self.keys_name = token_keys_name(self.columns)
        # where each pattern can start: per row column, the values that start some pattern (None:
        # a pattern can start anywhere, every token is read)
        anchors = [self._anchor(pattern[0]) for pattern in compiled]
        known = [a for a in anchors if a is not None]
        self._anchors: dict[int, frozenset[int]] | None = None
        if len(known) == len(anchors):
            self._anchors = {}
            for row_column, allowed in known:
                self._anchors[row_column] = self._anchors.get(row_column, frozenset()) | allowed
        # per pattern whose first spec takes exactly one token: the values its second token must
        # have (as the anchors above), so a start whose next token lacks them is not tried
        self._seconds = [
            self._anchor(pattern[1]) if len(pattern) > 1 and pattern[0].repeat == (1, 1) else None
            for pattern in compiled
        ]
        index = [ROW_COLUMNS.index(c) for c in self.columns]
        self._from_rows = all(i < ROWS_READ for i in index)  # every column is in ``Features.rows``
        self._index = index

    # ------------------------------------------------------------ compiling

    def _spec(self, spec: dict[str, Any], names: list[str]) -> _Spec:
        op = spec.get("OP")
        tests: list[tuple[int, Callable[[int], bool]]] = []
        values: dict[str, frozenset[int]] = {}
        for name, value in spec.items():
            if name == "OP":
                continue
            name = "ORTH" if name == "TEXT" else name
            if name not in names:
                names.append(name)
            tests.append((names.index(name), self._test(name, value)))
            if name in STRING_ATTRS and isinstance(value, str):
                values[name] = frozenset((self._strings.add(value),))
            elif name in STRING_ATTRS and isinstance(value, dict) and "IN" in value:
                values[name] = frozenset(self._strings.add(w) for w in value["IN"])
        return _Spec(tests, op == "!", _OPS[op], values)

    def _anchor(self, first: _Spec) -> tuple[int, frozenset[int]] | None:
        """(row column, values) one of which a pattern's first token must have, read from its
        first spec when that one must match (not negated, not optional), for a column of
        ``Features.rows``; word forms are preferred to tags (fewer tokens have them)."""
        from .features import ROW_COLUMNS, ROWS_READ

        if first.negate or first.repeat[0] < 1:
            return None
        for name in ("LOWER", "LEMMA", "NORM", "ENT_TYPE", "POS"):
            if name in first.values and ROW_COLUMNS.index(name) < ROWS_READ:
                return ROW_COLUMNS.index(name), first.values[name]
        return None

    def _test(self, name: str, value: Any) -> Callable[[int], bool]:
        strings = self._strings
        if name in STRING_ATTRS:
            if isinstance(value, str):
                wanted = strings.add(value)
                return lambda v: v == wanted
            op, arg = next(iter(value.items()))
            if op == "IN":
                allowed = frozenset(strings.add(w) for w in arg)
                return lambda v: v in allowed
            if op == "NOT_IN":
                refused = frozenset(strings.add(w) for w in arg)
                return lambda v: v not in refused
            regex = token_regex(arg)  # REGEX: searched in the attribute's string, as spaCy does (on RE2)
            return lambda v: regex.search(strings[v]) is not None
        if name in FLAG_ATTRS:
            flag = int(value)
            return lambda v: v == flag
        if isinstance(value, int):  # LENGTH: 3
            return lambda v: v == value
        checks = [(_COMPARE[op], arg) for op, arg in value.items()]
        return lambda v: all(check(v, arg) for check, arg in checks)

    # ------------------------------------------------------------ matching

    def _passed(self, key: tuple[int, ...]) -> frozenset[int]:
        lexemes: dict[int, Any] = {}  # per key position: the word (lowercase or as written)
        values = []
        for pos, attr in self._reads:
            if attr is None:
                values.append(key[pos])
                continue
            lexeme = lexemes.get(pos)
            if lexeme is None:
                lexeme = lexemes[pos] = self._vocab[key[pos]]
            values.append(int(getattr(lexeme, attr)))
        passed = frozenset(i for i, spec in enumerate(self._specs) if spec.passes(values))
        if len(self._table) >= _MAX_TABLE:
            self._table.clear()
        self._table[key] = passed
        return passed

    def find(self, feats: Any) -> set[tuple[int, int]]:
        """``matches`` for an utterance's ``Features``. When every pattern's first token must
        have one of a few words (or tags), only the tokens from where those occur are read."""
        anchors = self._anchors
        if anchors is None:
            return self.matches(feats.token_keys(self.columns, self.keys_name))
        rows: list[list[int]] = feats.rows
        starts: set[int] = set()
        # plain loops over typed rows: compiled (mypyc), a generator per anchor column made an
        # object and a generic call per token (``feats`` is ``Any``: every index was generic)
        for column, allowed in anchors.items():
            for i in range(len(rows)):
                if rows[i][column] in allowed:
                    starts.add(i)
        if not starts:
            return set()
        n = len(rows)
        if self._from_rows:
            index = self._index
            keys: Sequence[tuple[int, ...]] | None = None
        else:
            keys = feats.token_keys(self.columns, self.keys_name)
        table = self._table
        passed: list[frozenset[int] | None] = [None] * n

        def passed_at(i: int) -> frozenset[int]:
            got = passed[i]
            if got is None:
                key = keys[i] if keys is not None else tuple([rows[i][c] for c in index])
                got = table.get(key)
                if got is None:
                    got = self._passed(key)
                passed[i] = got
            return got

        out: set[tuple[int, int]] = set()
        patterns = list(zip(self._patterns, self._seconds))
        # per pattern of any length ("A, anything, B"): no match ends after the last token that
        # passes its last spec, so a walk from a start stops there (found once, from the end)
        ends: list[int] = [-1] * len(patterns)
        for start in sorted(starts):
            after = rows[start + 1] if start + 1 < n else None
            for k, (pattern, second) in enumerate(patterns):
                if second is not None and (after is None or after[second[0]] not in second[1]):
                    continue  # its second token cannot match here
                limit = n
                if not pattern.fixed and pattern.last is not None:
                    limit = ends[k]
                    if limit < 0:  # (starts come in order: a limit at or before this one holds for later ones)
                        limit = n
                        while limit > start and pattern.last not in passed_at(limit - 1):
                            limit -= 1
                        ends[k] = limit
                    if limit <= start:
                        continue
                pattern.run_at(start, limit, passed_at, out)
        return out

    def matches(self, keys: list[tuple[int, ...]]) -> set[tuple[int, int]]:
        """Every (start, end) of the patterns in a Doc, given its tokens' values of ``columns``
        (``Features.token_keys``)."""
        if not keys:
            return set()
        passed = list(map(self._table.get, keys))
        if None in passed:  # words not seen before
            passed = [p if p is not None else self._passed(k) for p, k in zip(passed, keys)]
        known = cast("list[frozenset[int]]", passed)  # no None left (map keeps this hot path in C)
        out: set[tuple[int, int]] = set()
        for pattern in self._patterns:
            pattern.run(known, out)
        return out


class _Automaton:
    """One pattern as a small automaton over token positions. A state is (spec position, whether
    the spec there has matched at least once): every operator repeats at most "once" or "any
    number of times", so that is all a state needs to remember."""

    def __init__(self, pattern: list[int], specs: list[_Spec]) -> None:
        self.pattern = pattern
        self.length = len(pattern)
        self.specs = [specs[i] for i in pattern]
        self.fixed = all(spec.repeat == (1, 1) for spec in self.specs)
        self.start = self._closure({(0, 0)}) - {(self.length, 0)}  # spaCy never matches no tokens
        self.firsts = frozenset(pattern[pos] for pos, _ in self.start)
        # the last spec, when a match must end on a token that passes it (it is not optional)
        self.last = pattern[-1] if self.specs[-1].repeat[0] >= 1 else None
        self._steps: dict[tuple[frozenset[tuple[int, int]], frozenset[int]], frozenset[tuple[int, int]]] = {}

    def _closure(self, states: set[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        """Add the states reached by skipping specs already matched often enough."""
        todo = list(states)
        while todo:
            pos, count = todo.pop()
            if pos < self.length and count >= self.specs[pos].repeat[0] and (pos + 1, 0) not in states:
                states.add((pos + 1, 0))
                todo.append((pos + 1, 0))
        return frozenset(states)

    def _step(self, states: frozenset[tuple[int, int]], here: frozenset[int]) -> frozenset[tuple[int, int]]:
        key = (states, here)
        got = self._steps.get(key)
        if got is None:
            step: set[tuple[int, int]] = set()
            for pos, _count in states:
                if pos < self.length and self.pattern[pos] in here:
                    if self.specs[pos].repeat[1] is None:
                        step.add((pos, 1))  # may match again
                    step.add((pos + 1, 0))
            got = self._closure(step)
            if len(self._steps) >= _MAX_TABLE:
                self._steps.clear()
            self._steps[key] = got
        return got

    def run_at(self, start: int, n: int, passed_at: Callable[[int], frozenset[int]], out: set[tuple[int, int]]) -> None:
        """Add every (start, end) the pattern matches from token ``start`` (of ``n``), reading
        which specs each token passes from ``passed_at``."""
        if self.firsts.isdisjoint(passed_at(start)):
            return
        if self.fixed:
            if start + self.length > n:
                return
            for k, spec in enumerate(self.pattern):
                if spec not in passed_at(start + k):
                    return
            out.add((start, start + self.length))
            return
        final = (self.length, 0)
        states = self.start
        i = start
        while states and i < n:
            states = self._step(states, passed_at(i))
            i += 1
            if final in states:
                out.add((start, i))

    def run(self, passed: list[frozenset[int]], out: set[tuple[int, int]]) -> None:
        """Add every (start, end) the pattern matches to ``out``."""
        n, length, firsts = len(passed), self.length, self.firsts
        if self.fixed:
            first, rest = self.pattern[0], list(enumerate(self.pattern[1:], 1))
            for start in range(n - length + 1):
                if first in passed[start]:
                    for k, spec in rest:
                        if spec not in passed[start + k]:
                            break
                    else:
                        out.add((start, start + length))
            return
        final = (length, 0)
        for start in range(n):
            if firsts.isdisjoint(passed[start]):
                continue
            states = self.start
            i = start
            while states and i < n:
                states = self._step(states, passed[i])
                i += 1
                if final in states:
                    out.add((start, i))


def compile_patterns(patterns: list[list[dict[str, Any]]], vocab: Any) -> TokenPatterns | None:
    """``TokenPatterns`` for these patterns, or None when one uses what only spaCy's ``Matcher``
    does (then use that)."""
    if not all(isinstance(p, list) and p and all(supported(spec) for spec in p) for p in patterns):
        return None
    return TokenPatterns([[{k.upper(): v for k, v in spec.items()} for spec in p] for p in patterns], vocab)


def supported(spec: Any) -> bool:
    """Can a token spec be matched here (see the module's description)?"""
    if not isinstance(spec, dict) or len({k.upper() if isinstance(k, str) else k for k in spec}) != len(spec):
        return False
    for raw, value in spec.items():
        if not isinstance(raw, str):
            return False
        name = raw.upper()
        if name == "OP":
            if value not in _OPS:
                return False
            continue
        name = "ORTH" if name == "TEXT" else name
        if name in STRING_ATTRS:
            if isinstance(value, str):
                continue
            if not isinstance(value, dict) or len(value) != 1:
                return False
            op, arg = next(iter(value.items()))
            if op in ("IN", "NOT_IN") and isinstance(arg, list) and all(isinstance(w, str) for w in arg):
                continue
            if op == "REGEX" and isinstance(arg, str):
                try:
                    token_regex(arg)
                except ValueError:
                    return False
                continue
            return False
        elif name in FLAG_ATTRS:
            if not isinstance(value, bool):
                return False
        elif name in INT_ATTRS:
            if isinstance(value, bool):
                return False
            if isinstance(value, int):
                continue
            if not (
                isinstance(value, dict)
                and value
                and all(
                    op in _COMPARE and isinstance(arg, int) and not isinstance(arg, bool) for op, arg in value.items()
                )
            ):
                return False
        else:
            return False
    return True


def token_regex(pattern: str) -> Regex:
    """A token pattern's ``REGEX`` compiled by RE2 (case-sensitive, as spaCy's); ValueError when
    RE2 refuses it (backreferences, lookarounds, a program too big)."""
    return compile_regex(pattern, ignore_case=False)


def is_regex_key(key: Any) -> bool:
    return isinstance(key, str) and key.upper() == "REGEX"


def _token_string(attr: str) -> Callable[[Any], Any]:
    """How spaCy's ``REGEX`` reads an attribute of a token: its string (``lower_``, ``morph``...)."""
    name = attr.upper()
    if name == "TEXT":
        return lambda token: token.text
    if name == "MORPH":
        return lambda token: str(token.morph)
    lower = name.lower()
    return lambda token: getattr(token, lower + "_") if hasattr(token, lower + "_") else str(getattr(token, lower))


def _re2_extension(read: Callable[[Any], Any], what: str, pattern: str) -> str:
    """A Token extension attribute, True when ``pattern`` (RE2) is found in ``read(token)``."""
    from spacy.tokens import Token

    name = "rapport_re2_" + hashlib.sha1(f"{what}\0{pattern}".encode()).hexdigest()[:16]
    if not Token.has_extension(name):
        regex = token_regex(pattern)
        Token.set_extension(
            name, getter=lambda token: isinstance(v := read(token), str) and regex.search(v) is not None
        )
    return name


def _extension_reader(ext: str) -> Callable[[Any], Any]:
    """Reads a token's custom attribute ``ext`` (``token._.ext``)."""
    return lambda token: token._.get(ext)


def re2_predicates(patterns: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """The patterns with every ``REGEX`` predicate replaced by an RE2-backed extension attribute
    (``{LOWER: {REGEX: p}}`` -> ``{_: {rapport_re2_...: True}}``), for spaCy's ``Matcher``: the same
    matches, in time linear in each token. ValueError when RE2 cannot take a regex."""
    out = []
    for pattern in json.loads(json.dumps(patterns)):  # a deep copy
        for spec in pattern:
            if not isinstance(spec, dict):
                continue
            added: dict[str, bool] = {}
            for attr in list(spec):
                value = spec[attr]
                if attr == "_" and isinstance(value, dict):
                    for ext in list(value):
                        preds = value[ext]
                        if isinstance(preds, dict):
                            for key in [k for k in preds if is_regex_key(k)]:
                                added[_re2_extension(_extension_reader(ext), f"_.{ext}", preds.pop(key))] = True
                            if not preds:
                                del value[ext]
                    if not value:
                        del spec[attr]
                elif isinstance(value, dict):
                    for key in [k for k in value if is_regex_key(k)]:
                        added[_re2_extension(_token_string(attr), attr.upper(), value.pop(key))] = True
                    if not value:
                        del spec[attr]
            if added:
                spec["_"] = {**spec.get("_", {}), **added}
        out.append(pattern)
    return out


def regexes_in(pattern: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every ``REGEX`` predicate of a token pattern (paths as for error locations)."""
    found: list[tuple[tuple[Any, ...], Any]] = []
    if not isinstance(pattern, list):
        return found
    for i, spec in enumerate(pattern):
        if not isinstance(spec, dict):
            continue
        for attr, value in spec.items():
            if attr == "_" and isinstance(value, dict):
                for ext, preds in value.items():
                    if isinstance(preds, dict):
                        found.extend(((i, attr, ext, k), v) for k, v in preds.items() if is_regex_key(k))
            elif isinstance(value, dict):
                found.extend(((i, attr, k), v) for k, v in value.items() if is_regex_key(k))
    return found
