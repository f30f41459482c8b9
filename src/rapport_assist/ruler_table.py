"""spaCy's attribute ruler, matched through a lookup table: the same annotations, faster.

The English pipeline's ``attribute_ruler`` maps each fine-grained tag to its part of speech
and morphology, with exceptions for particular words ("something"/NN is a pronoun). It runs
a ``Matcher`` with ~180 patterns over every token of every utterance, which costs more than
the neural tagger and parser together on short utterances (``BENCHMARKS.md``).

Every one of those patterns tests tokens' own tag, lowercase form, dependency label or
whitespace flag (by equality, ``IN``, ``NOT_IN`` or ``REGEX``), with no operators. Whether a token
passes such a test depends only on those values, so the tests a token passes, and the
one-token rules it matches, are worked out once per distinct combination and then read from
a table; the few two-token patterns ("gon na", "let 's") check their neighbours' entries.
A pattern with an operator would stay on spaCy's ``Matcher``. The ruler's own
``set_annotations`` then applies the matches exactly as before, in the same order: only how
the matches are found changes, and a test checks the result is identical token for token.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language
    from spacy.tokens import Doc

# token attributes a single-token pattern may test and still be read from the table:
# string-valued ones compare hashes; IS_SPACE is a flag
_STRING_ATTRS = ("ORTH", "LOWER", "NORM", "TAG", "DEP")
_FLAG_ATTRS = ("IS_SPACE",)
_MAX_TABLE = 200_000  # distinct (tag, word, dep, space) combinations remembered


class TableRuler:
    """Finds an ``AttributeRuler``'s matches with a per-token table (plus a ``Matcher`` for
    patterns with operators, which the English model does not have).

    ``match(doc)`` returns what ``AttributeRuler.match`` returns: (rule index, match id,
    start, end), sorted, so that later rules override earlier ones as in spaCy."""

    def __init__(self, ruler: Any) -> None:
        from spacy import attrs
        from spacy.matcher import Matcher

        self.ruler = ruler
        strings = ruler.vocab.strings
        self._residual = Matcher(ruler.vocab)
        self._residual_ids: list[int] = []
        slots: list[dict[str, _Test]] = []  # every token test of every fixed-length pattern
        single: list[tuple[int, int, int]] = []  # one-token patterns: (rule index, match id, slot)
        multi: list[tuple[int, int, tuple[int, ...]]] = []  # longer ones: (rule index, match id, slots)
        used: set[str] = set()
        for index, entry in enumerate(ruler.patterns):
            key = str(index)
            match_id = strings.add(key)
            rest = []
            for pattern in entry["patterns"]:
                tokens = _fixed_tests(pattern, strings)
                if tokens is None:
                    rest.append(pattern)
                    continue
                ids = tuple(range(len(slots), len(slots) + len(tokens)))
                slots.extend(tokens)
                for tests in tokens:
                    used.update(tests)
                if len(ids) == 1:
                    single.append((index, match_id, ids[0]))
                else:
                    multi.append((index, match_id, ids))
            if rest:
                self._residual.add(key, rest)
                self._residual_ids.append(index)
        self._strings = strings
        self._attr_names = sorted(used)
        self._attr_ids = [getattr(attrs, name) for name in self._attr_names]
        self._slots = [[(self._attr_names.index(name), test) for name, test in tests.items()] for tests in slots]
        # an index to the slots by a value one of their tests requires (most test the tag or the
        # word), so a token seen for the first time is only checked against the slots it may pass
        self._index: dict[int, dict[int, list[int]]] = {}  # key position -> required value -> slots
        self._unindexed: list[int] = []
        for i, slot in enumerate(self._slots):
            exact = next(((pos, t.allowed) for pos, t in slot if t.allowed is not None and not t.negate), None)
            if exact is None:
                self._unindexed.append(i)
                continue
            pos, allowed = exact
            for value in allowed:
                self._index.setdefault(pos, {}).setdefault(value, []).append(i)
        self._single = single
        self._multi = multi
        # per distinct token key: the one-token rules it matches, and the slots it passes
        self._table: dict[tuple[int, ...], tuple[tuple[tuple[int, int], ...], frozenset[int]]] = {}

    @property
    def table_patterns(self) -> int:
        """How many of the ruler's token patterns are matched through the table."""
        return len(self._single) + len(self._multi)

    @property
    def matcher_rules(self) -> int:
        """How many rules (some of their patterns) still go through spaCy's ``Matcher``."""
        return len(self._residual_ids)

    def _entry(self, key: tuple[int, ...]) -> tuple[tuple[tuple[int, int], ...], frozenset[int]]:
        strings = self._strings
        candidates = set(self._unindexed)
        for pos, by_value in self._index.items():
            candidates.update(by_value.get(key[pos], ()))
        slots = self._slots
        passed = frozenset(i for i in candidates if all(test.passes(key[pos], strings) for pos, test in slots[i]))
        entry = (tuple((index, match_id) for index, match_id, slot in self._single if slot in passed), passed)
        if len(self._table) >= _MAX_TABLE:
            self._table.clear()
        self._table[key] = entry
        return entry

    def match(self, doc: "Doc") -> list[tuple[int, int, int, int]]:
        out: list[tuple[int, int, int, int]] = []
        n = len(doc)
        if n:
            table = self._table
            rows = doc.to_array(self._attr_ids).tolist()
            passed: list[frozenset[int]] = []
            for i, row in enumerate(rows):
                key = tuple(row) if isinstance(row, list) else (row,)
                entry = table.get(key) or self._entry(key)
                for index, match_id in entry[0]:
                    out.append((index, match_id, i, i + 1))
                passed.append(entry[1])
            for index, match_id, ids in self._multi:
                first, width = ids[0], len(ids)
                for i in range(n - width + 1):
                    if first in passed[i] and all(slot in passed[i + k] for k, slot in enumerate(ids[1:], 1)):
                        out.append((index, match_id, i, i + width))
        if self._residual_ids:
            strings = self._strings
            for match_id, start, end in self._residual(doc, allow_missing=True, as_spans=False):
                out.append((int(strings[match_id]), match_id, start, end))
        out.sort()
        return out


class _Test:
    """One attribute test of a token pattern: equality, ``IN``, ``NOT_IN`` or ``REGEX`` (on the
    string)."""

    def __init__(self, allowed: frozenset[int] | None = None, regex: str | None = None, negate: bool = False) -> None:
        self.allowed = allowed
        self.regex = re.compile(regex) if regex is not None else None
        self.negate = negate

    def passes(self, value: int, strings: Any) -> bool:
        if self.regex is not None:  # spaCy's REGEX predicate: re.search on the attribute's string
            return bool(self.regex.search(strings[value]))
        allowed = self.allowed  # (a test without a regex has its values)
        return allowed is not None and (value in allowed) is not self.negate


def _fixed_tests(pattern: Any, strings: Any) -> list[dict[str, _Test]] | None:
    """A pattern's tests per token, or None when it needs the ``Matcher`` (an operator, or a
    predicate other than equality, ``IN``, ``NOT_IN`` and ``REGEX`` on the attributes above)."""
    if not isinstance(pattern, list) or not pattern:
        return None
    tokens: list[dict[str, _Test]] = []
    for spec in pattern:
        if not isinstance(spec, dict) or not spec:
            return None
        tests: dict[str, _Test] = {}
        for name, value in spec.items():
            if name in _STRING_ATTRS:
                if isinstance(value, str):
                    tests[name] = _Test(frozenset((strings.add(value),)))
                elif (
                    isinstance(value, dict)
                    and len(value) == 1
                    and next(iter(value)) in ("IN", "NOT_IN")
                    and isinstance(next(iter(value.values())), list)
                    and all(isinstance(v, str) for v in next(iter(value.values())))
                ):
                    op, words = next(iter(value.items()))
                    tests[name] = _Test(frozenset(strings.add(v) for v in words), negate=op == "NOT_IN")
                elif isinstance(value, dict) and len(value) == 1 and isinstance(value.get("REGEX"), str):
                    tests[name] = _Test(regex=value["REGEX"])
                else:
                    return None
            elif name in _FLAG_ATTRS and isinstance(value, bool):
                tests[name] = _Test(frozenset((int(value),)))
            else:  # OP, other attributes or predicates: leave it to spaCy
                return None
        tokens.append(tests)
    return tokens


def use_table(nlp: "Language") -> TableRuler | None:
    """Make ``nlp``'s attribute ruler find its matches through a ``TableRuler`` and apply them
    without building a ``Span`` per match (in place), and its rule lemmatizer remember each
    lemma it works out (``LemmaCache``)."""
    use_lemma_cache(nlp)
    if "attribute_ruler" not in nlp.pipe_names:
        return None
    ruler: Any = nlp.get_pipe("attribute_ruler")
    table = TableRuler(ruler)
    ruler.match = table.match  # AttributeRuler.__call__ calls self.match(doc), then set_annotations
    ruler.set_annotations = _Annotations(ruler)
    return table


class _Annotations:
    """``AttributeRuler.set_annotations`` without a ``Span`` per match: each match's attributes go
    to the token at the rule's index within the match (negative: from its end), through the same
    ``set_token_attrs`` in the same order, so later rules still win. An index outside the match
    raises the ``ValueError`` spaCy raises (by handing that match to spaCy's own method)."""

    def __init__(self, ruler: Any) -> None:
        from spacy.tokens._retokenize import set_token_attrs

        self.ruler = ruler
        self.set_token_attrs = set_token_attrs
        self.stock = ruler.set_annotations  # the bound method of the class

    def __call__(self, doc: "Doc", matches: list[tuple[int, int, int, int]]) -> None:
        ruler, set_token_attrs = self.ruler, self.set_token_attrs
        all_attrs, indices = ruler.attrs, ruler.indices
        for match in matches:
            attr_id, _, start, end = match
            index = indices[attr_id]
            at = (start if index >= 0 else end) + index
            if not start <= at < end:
                self.stock(doc, [match])  # raises spaCy's error for a bad index
                continue
            set_token_attrs(doc[at], all_attrs[attr_id])


class LemmaCache:
    """A rule lemmatizer's ``lemmatize`` remembering each result by (word, part of speech,
    morphology). spaCy's own cache misses every word it takes as a base form (most of them:
    singular nouns, infinitives, adjectives), which it works out again each time from the
    token's morphology; what the rules compute depends on those three values and fixed tables
    only, so the remembered lemma is the one it would compute."""

    def __init__(self, lemmatizer: Any) -> None:
        self.lemmatize = lemmatizer.lemmatize  # spaCy's rule_lemmatize, bound
        self.known: dict[tuple[int, int, int], list[str]] = {}

    def __call__(self, token: Any) -> list[str]:
        key = (token.orth, token.pos, token.morph.key)
        forms = self.known.get(key)
        if forms is None:
            if len(self.known) >= _MAX_TABLE:
                self.known.clear()
            forms = self.known[key] = self.lemmatize(token)
        return forms


def use_lemma_cache(nlp: "Language") -> LemmaCache | None:
    """Put a ``LemmaCache`` in front of ``nlp``'s rule-mode lemmatizer (in place)."""
    if "lemmatizer" not in nlp.pipe_names:
        return None
    lemmatizer: Any = nlp.get_pipe("lemmatizer")
    if getattr(lemmatizer, "mode", None) != "rule" or isinstance(lemmatizer.lemmatize, LemmaCache):
        return None
    cache = LemmaCache(lemmatizer)
    lemmatizer.lemmatize = cache  # Lemmatizer.__call__ calls self.lemmatize(token) per token
    return cache
