"""Per-utterance features the conditions read, and lexicons compiled for fast matching.

Each utterance's spaCy ``Doc`` is read once (with ``Doc.to_array``) into a list of *content
tokens*: punctuation, spaces and fillers ("um", "uh") are dropped and stutters ("I, I") are
collapsed. Each content token carries its lowercase, norm and lemma as hash keys, so a
phrase token written as "am", "'m" or "be" matches "I'm", and a phrase written in base form
("call back") matches every inflection through the lemma. Phrases never cross a sentence the
speaker ended (with ".", "!", "?", ";", ":", "…" or a line break); a break the parser made between
two words with no such stop between them does not stop a phrase (``Features.phrase_spans``).

Phrase syntax (in YAML): words separated by spaces; ``a|b|c`` lists one-word alternatives;
``<num>`` matches any number word or digit string ("within <num> hours") and a clock time ("3:30").
"""

from __future__ import annotations

import re
from bisect import bisect_left
from operator import itemgetter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, overload

from ..annotate import AnnotatedUtterance, JoinedUtterance
from .model import Lexicon, Phrase
from .scan import NUM, Letters, join_slots, phrase_pattern, slot_offset, trie_keys

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc, Token

_WORD_RE = re.compile(r"<num>|[a-z0-9']+")
_CLOCK_TIME = re.compile(r"^[0-2]?[0-9][:.][0-5][0-9]$")  # "3:30", "10.15": spaCy's like_num says no; <num> says yes
# "'d" is "would" here as spaCy's lemma of it is (its norm stays "'d"), so a phrase "you'd need"
# also matches "you would need" said in full, as "you'll" matches "you will"
_CONTRACTION_NORMS = {"'m": "am", "'re": "are", "'ve": "have", "'ll": "will", "'d": "would", "n't": "not"}
_NT_STEMS = {"ca": "can", "wo": "will", "sha": "shall"}
_RUN_ONS = {
    "cannot": ("can", "not"),
    "gonna": ("going", "to"),
    "gotta": ("got", "to"),
    "wanna": ("want", "to"),
    # the annotator always splits these as "y'" (normal form "you") + "all" (models._split_yall)
    "y'all": ("you", "all"),
    "ya'll": ("you", "all"),
}


def phrase_key(word: str) -> int:
    """The key spaCy stores for a (lowercase) string, as a Doc's LOWER/NORM/LEMMA arrays hold it:
    the hash of the string, except for the 54 strings that are spaCy symbols, whose key is their
    symbol id. Most are dependency labels nobody writes, but a few are words: "agent", "number",
    "mark", "root", "meta" (a Doc holds 401 for "agent", not its hash, so a phrase with "agent"
    never matched before; found by the red-team set, BENCHMARKS.md)."""
    import importlib

    from spacy.symbols import IDS

    symbol = IDS.get(word)
    if symbol is not None and word:
        return int(symbol)
    # spacy.strings.hash_string; spaCy's type stubs leave it out, hence the module looked up by name
    return int(importlib.import_module("spacy.strings").hash_string(word))


def phrase_words(text: str) -> list[str]:
    """Split a phrase the way spaCy splits English text ("can't" -> "can", "not")."""
    out: list[str] = []
    for word in _WORD_RE.findall(text.lower().replace("’", "'")):
        if word in _RUN_ONS:
            out.extend(_RUN_ONS[word])
        elif word.endswith("n't") and len(word) > 3:
            stem = word[:-3]
            out.extend((_NT_STEMS.get(stem, stem), "not"))
        elif "'" in word.strip("'"):
            base, suffix = word.split("'", 1)
            out.extend((base, _CONTRACTION_NORMS.get("'" + suffix, "'" + suffix)))
        elif word.strip("'"):
            out.append(_CONTRACTION_NORMS.get(word, word) if word.startswith("'") else word)
    return out


# a grouped choice: "(it is|it's) broken"; an empty choice makes the group optional ("(really|) sorry")
_GROUP_OR_WORD = re.compile(r"\([^()]*\)|[^\s()]+|[()]")


def phrase_chunks(text: str) -> list[str]:
    """A phrase's slots as written: words, one-word choices (``a|b``) and grouped choices
    (``(a b|c)``, kept whole with their parentheses). A stray parenthesis is its own chunk, which
    the loader reports."""
    return _GROUP_OR_WORD.findall(text)


def expand_choices(text: str) -> list[str]:
    """A phrase as the phrases it stands for. A grouped choice (``(it is|it's) broken``) is
    always written out, one phrase per choice, an empty choice leaving the group out. A one-word
    choice (``a|b``) any of whose words is more than one word once split as spaCy splits it
    ("didn't" is "did" + "not", "you'll" is "you" + "will") is written out too ("haven't|didn't
    hear back" -> "haven't hear back", "didn't hear back"; "can't|cannot" is one phrase: both
    split as "can not"); other one-word choices stay a choice. Without this a compiled choice kept
    only the first word of each choice ("have|did"), so such phrases never matched as written."""
    if "|" not in text:
        return [text]
    out = [""]
    for chunk in phrase_chunks(text):
        if chunk.startswith("(") and chunk.endswith(")") and len(chunk) > 1:
            alts = [" ".join(a.split()) for a in chunk[1:-1].split("|")]
            out = [f"{head} {a}".strip() for head in out for a in alts]
            continue
        alts = chunk.split("|") if "|" in chunk else []
        if alts and any(a != "<num>" and len(phrase_words(a)) > 1 for a in alts):
            out = [f"{head} {a}".strip() for head in out for a in alts if a]
        else:
            out = [f"{head} {chunk}".strip() for head in out]
    # "can't" and "cannot" are the same words once split: one phrase for both, the first written
    seen: dict[tuple[str, ...], str] = {}
    for form in out:
        if form:
            seen.setdefault(tuple(phrase_words(form)), form)
    return list(seen.values())


PhraseKey = frozenset[int]


@overload
def compile_phrase(text: str) -> tuple[PhraseKey, ...]: ...
@overload
def compile_phrase(text: str, key: Callable[[str], str]) -> tuple[frozenset[int | str], ...]: ...


def compile_phrase(text: str, key: Callable[[str], int | str] = phrase_key) -> tuple[frozenset[int | str], ...]:
    """A phrase as a tuple of alternative-key sets (``{NUM}`` for ``<num>``). ``key``: how a word
    becomes a key (spaCy's hash; ``str`` compares phrases without loading spaCy)."""
    tokens: list[frozenset[int | str]] = []
    for chunk in text.split():
        if "|" in chunk:
            alts = [w for a in chunk.split("|") for w in phrase_words(a)[:1]]
            tokens.append(frozenset(NUM if a == "<num>" else key(a) for a in alts))
        else:
            tokens.extend(frozenset((NUM if w == "<num>" else key(w),)) for w in phrase_words(chunk))
    return tuple(tokens)


class Match:
    """Words a finder matched: content-token positions [start, end) of one utterance. Not to be
    changed once made (a plain class with slots: finders make many, and a frozen dataclass is
    several times slower to create)."""

    __slots__ = ("start", "end", "label", "feats")

    def __init__(self, start: int, end: int, label: str, feats: "Features") -> None:
        self.start = start
        self.end = end
        self.label = label
        self.feats = feats

    def __repr__(self) -> str:
        return f"Match({self.start}, {self.end}, {self.label!r})"

    @property
    def text(self) -> str:
        """The words as said (fillers left out); built only when evidence needs it."""
        return self.feats.span_text(self.start, self.end)


def match_texts(found: "Iterable[Match] | None") -> tuple[str, ...]:
    """The distinct words of these matches as said, in order, empty ones left out (each match's
    text is cut from the utterance once)."""
    return tuple(text for text in dict.fromkeys(m.text for m in found or ()) if text)


_END = 0  # trie key marking "a phrase ends here" (no word hashes to 0)


class PhraseIndex:
    """Phrases as a trie over word keys, matched over content tokens.

    Each step follows every key of the next word (its lowercase, norm, lemma, expanded
    contraction; ``NUM`` for a number), so the cost of a match attempt grows with the words
    it reads, not with how many phrases share a first word."""

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        self.root: dict[int, Any] = {}  # a trie: word key -> node, _END -> True
        for phrase in phrases:
            tokens = compile_phrase(phrase.text)
            if not tokens:
                continue
            nodes = [self.root]
            for alts in tokens:  # "a|b" branches: both lead on to the rest of the phrase
                nodes = list({id(c): c for c in (n.setdefault(k, {}) for n in nodes for k in alts)}.values())
            for node in nodes:
                node[_END] = True
        self.first_keys = frozenset(k for k in self.root if k != NUM)
        self.num_first = NUM in self.root
        self.scan: "re.Pattern[str] | None" = None  # where a phrase starts, in C (``compile_scan``)

    def compile_scan(self, key_bits: "KeyBits") -> None:
        """Find where phrases start with one regular expression over each utterance's spelling
        (``Features.spelled``, see ``scan``) instead of the words' pre-filter bits."""
        key_bits.add_letters(trie_keys(self.root))
        self.scan = phrase_pattern(self.root, key_bits.letters.by_key, _END)

    def __bool__(self) -> bool:
        return bool(self.root)

    def could_start(self, feats: "Features", pos: int) -> bool:
        """Does some phrase start with the word at content position ``pos``?"""
        return not self.first_keys.isdisjoint(feats.keys[pos]) or (self.num_first and feats.is_num[pos])

    def match_at(self, feats: "Features", pos: int) -> int:
        """End of the longest phrase starting at content position ``pos`` (or -1).

        Most words lead to one trie node whichever of their keys is followed, so the walk keeps
        a single node; a word whose keys branch to different nodes hands over to ``_walk``."""
        keys, nums = feats.keys, feats.is_num
        end = (feats.phrase_spans or feats.sent_spans)[feats.sent[pos]][1]  # phrases stay within a sentence
        node = self.root
        best = -1
        j = pos
        while j < end:
            word = keys[j] + (NUM,) if nums[j] else keys[j]  # a number also matches <num>
            if len(word) == 1:  # most words: lowercase, norm and lemma are the same
                child = node.get(word[0])
            else:
                child = None
                for key in word:
                    found = node.get(key)
                    if found is not None:
                        if child is None:
                            child = found
                        elif found is not child:
                            return self._walk(feats, [node], j, end, best)
            if child is None:
                break
            j += 1
            if _END in child:
                best = j
            node = child
        return best

    @staticmethod
    def _walk(feats: "Features", active: list[dict[int, Any]], j: int, end: int, best: int) -> int:
        """``match_at`` from position ``j`` on, following every node in ``active`` at once."""
        keys, nums = feats.keys, feats.is_num
        while j < end:
            step: list[dict[int, Any]] = []
            word = keys[j]
            for node in active:
                for key in word:
                    child = node.get(key)
                    if child is not None and child not in step:
                        step.append(child)
                if nums[j]:
                    child = node.get(NUM)
                    if child is not None and child not in step:
                        step.append(child)
            if not step:
                break
            j += 1
            for node in step:
                if _END in node:
                    best = j
                    break
            active = step
        return best

    def second_keys(self) -> frozenset[int]:
        """Keys the second word of a phrase can have (``NUM`` for ``<num>``)."""
        return frozenset(k for node in self.root.values() if isinstance(node, dict) for k in node if k != _END)

    def one_word_keys(self) -> frozenset[int]:
        """Keys of the phrases of one word."""
        return frozenset(k for k, node in self.root.items() if isinstance(node, dict) and _END in node)

    def find(self, feats: "Features", bit: int = 0, one_bit: int = 0, next_bit: int = 0) -> list[tuple[int, int]]:
        """Every longest, left-to-right, non-overlapping match as content spans. ``bit``: this
        index's pre-filter bit (see ``KeyBits``), to try only the words it marks. ``one_bit``
        and ``next_bit`` (with ``bit``; 0: not used): the bits of its one-word phrases and of
        its phrases' second words, so a word a phrase starts with is tried only when it is a
        phrase itself or the next word can go on one (most such words lead nowhere: "I", "it",
        "the"). Once ``compile_scan`` ran, a ``bit`` means the compiled scan instead (``scan``):
        the same matches, the starts found in C."""
        out: list[tuple[int, int]] = []
        resume = 0
        pattern = self.scan
        if bit and pattern is not None:
            # the compiled scan: the leftmost slot where some phrase starts, then the trie's
            # longest match from there, then on from its end
            text = feats.spelled
            found = pattern.search(text)
            at_slot = at_char = 0
            while found is not None:
                start, stop = found.span()
                pos = at_slot + text.count(" ", at_char, start)
                words = text.count(" ", start, stop)
                if stop - start == 2 * words and (start == 0 or text[start - 1] in " \n"):
                    # one letter a slot: one way through the trie, the pattern's match is the longest
                    end, at_char = pos + words, stop
                    out.append((pos, end))
                else:  # a word of several keys: the trie's walk decides
                    end = self.match_at(feats, pos)
                    if end > pos:
                        out.append((pos, end))
                    else:  # (cannot happen: the pattern and the trie read the same phrases)
                        end = pos + 1
                    at_char = slot_offset(text, start, end - pos)
                at_slot = end
                found = pattern.search(text, at_char)
            return out
        if bit:
            word_bits = feats.word_bits
            if next_bit:
                last = len(word_bits) - 1
                starts = [
                    pos
                    for pos, here in enumerate(word_bits)
                    if here & bit and (here & one_bit or (pos < last and word_bits[pos + 1] & next_bit))
                ]
            else:
                starts = [pos for pos, here in enumerate(word_bits) if here & bit]
            for pos in starts:
                if pos >= resume:
                    end = self.match_at(feats, pos)
                    if end > pos:
                        out.append((pos, end))
                        resume = end
            return out
        first_keys, num_first, nums = self.first_keys, self.num_first, feats.is_num
        for pos, keys in enumerate(feats.keys):
            if pos >= resume and (not first_keys.isdisjoint(keys) or (num_first and nums[pos])):
                end = self.match_at(feats, pos)
                if end > pos:
                    out.append((pos, end))
                    resume = end
        return out


def _label_key(label: str) -> int:
    """The id spaCy stores for an entity label (a symbol id for built-in labels)."""
    from spacy.symbols import IDS

    return int(IDS.get(label, phrase_key(label)))


class CompiledLexicon:
    """A lexicon ready to match: phrases, entity labels, and ``except`` phrases that veto overlaps."""

    def __init__(self, lexicon: Lexicon, key_bits: "KeyBits") -> None:
        self.name = lexicon.name
        # pre-filter bits (``Features.bits``): a word a phrase starts with occurs, and a word a
        # phrase ends with occurs; a match needs both
        self.bit = key_bits.add(first_keys(lexicon))
        self.last_bit = key_bits.add(last_keys(lexicon))
        # and the rarest word of each phrase occurs (its least common-looking word: "policy" in
        # "that's our policy"): most utterances have a word a phrase starts and one it ends with
        # ("I", "to"), far fewer one of these; the same bit as ``bit`` when they are the first words
        rare = rare_keys(lexicon)
        self.rare_bit = key_bits.add(rare) if rare != first_keys(lexicon) else self.bit
        self.phrases = PhraseIndex(lexicon.phrases)
        self.excepts = PhraseIndex(lexicon.except_)
        self.phrases.compile_scan(key_bits)
        self.excepts.compile_scan(key_bits)
        self.except_bit = key_bits.add(_first_keys(lexicon.except_)) if self.excepts else 0
        self.entities = frozenset(_label_key(label) for label in lexicon.entities)
        # where a phrase can start, a finer test (``PhraseIndex.find``): the word is a one-word
        # phrase, or the next word can be a phrase's second; only for lexicons of longer phrases
        self.one_bit = self.next_bit = 0
        seconds = self.phrases.second_keys()
        if seconds:
            self.one_bit = key_bits.add(self.phrases.one_word_keys())
            self.next_bit = key_bits.add(seconds)
        # a third utterance-level test: some word is a one-word phrase or can be a phrase's second
        # (else no phrase can start anywhere); ``bit`` itself when there are no longer phrases
        self.start_bits = self.one_bit | self.next_bit if self.next_bit else self.bit

    def could_match(self, bits: int) -> bool:
        """Whether an utterance whose ``Features.bits`` are ``bits`` can hold a phrase (its
        entities aside): the four pre-filter tests ``find`` and the generated conditions make."""
        return bool(bits & self.rare_bit and bits & self.bit and bits & self.last_bit and bits & self.start_bits)

    def find(self, feats: "Features") -> list[Match]:
        bits = feats.bits
        spans = (
            self.phrases.find(feats, self.bit, self.one_bit, self.next_bit)
            if bits & self.rare_bit and bits & self.bit and bits & self.last_bit and bits & self.start_bits
            else []
        )
        if self.entities:
            spans = sorted(set(spans) | set(feats.entities(self.entities)))
        if spans and bits & self.except_bit:
            vetoes = self.excepts.find(feats, self.except_bit)
            spans = [(s, e) for s, e in spans if not any(vs < e and s < ve for vs, ve in vetoes)]
        return [Match(s, e, self.name, feats) for s, e in spans]


@dataclass(eq=False)
class Features:
    """What the rules read about one utterance; computed once, shared by every rule."""

    au: AnnotatedUtterance
    keys: list[tuple[int, ...]]
    is_num: list[bool]
    sent: list[int]
    doc_i: list[int]
    rows: list[list[int]]  # the to_array rows, one per Doc token: the first ``ROWS_READ`` of ``ROW_COLUMNS``
    questions: frozenset[int]
    sent_spans: list[tuple[int, int]]
    bits: int  # which first-word groups occur (see ``KeyBits``): a cheap pre-filter
    word_bits: list[int]  # the same, per content token
    tags: int  # the parts of speech that occur, as bits (1 << spaCy's POS id)
    text: str  # the Doc's text (the utterance's, which spaCy keeps exactly)
    # the content tokens spelled for the compiled lexicon scan (``scan``): per token the letters
    # of its keys that phrases use, then a space; a line break between sentences (those of
    # ``phrase_spans``)
    spelled: str = ""
    # per sentence, the content span its phrases may run over: its own (``sent_spans``), or, when
    # the parser began a sentence with no stop said before it, the sentences it ran on from
    # joined. Unpunctuated speech ("so everything's fine now i just wanted to say") is where the
    # parser's sentence starts are guesses: it split "fine | now" there, and "everything's fine
    # now" did not match in the run-on while it did alone. A written ".", "!", "?", ";", ":",
    # "…" or a line break still ends a phrase; a comma never did (punctuation is not a content
    # token). Only phrases read this: questions, sentence scopes and quotes keep the parser's
    # sentences. None: the same as ``sent_spans``.
    phrase_spans: list[tuple[int, int]] | None = None
    # per-utterance results by name ("lex:<lexicon>", "#ents", ...): each name's one reader knows its type
    cache: dict[str, Any] = field(default_factory=dict)
    made_by: Any = None  # the extractor (``FeatureExtractor.features`` reuses its own only)
    _word_count: int = -1
    # a turn's reading joined from its utterances' (``FeatureExtractor.join``): those, in order
    parts: "tuple[Features, ...]" = ()

    @property
    def doc(self) -> "Doc":
        return self.au.doc

    def token(self, doc_index: int) -> "Token":
        """The Doc's token at ``doc_index``, to read its own parse (tag, dependency label, head,
        children; not its index or neighbours). For a turn's reading joined from its parts'
        (``parts``) it is taken from its part's Doc, which holds the same parse (the joined Doc
        keeps each part's tokens and arcs), so the joined Doc is not built for it."""
        if self.parts:
            for part in self.parts:
                n = len(part.rows)
                if doc_index < n:
                    return part.token(doc_index)
                doc_index -= n
        return self.doc[doc_index]

    def span_text(self, start: int, end: int) -> str:
        """The words said between content positions, from the original text (fillers removed)."""
        if start >= end:
            return ""
        return doc_text(self, self.doc_i[start], self.doc_i[end - 1] + 1)

    @property
    def word_count(self) -> int:
        """Words in the utterance, counted as ``AnnotatedUtterance.word_count`` does (cached)."""
        if self._word_count < 0:
            self._word_count = self.au.word_count
        return self._word_count

    @property
    def line_words(self) -> int:
        """Words in the longest line of a turn's joined reading (the engine counted them when it
        joined the lines); one utterance's own count otherwise (cached, not counted again)."""
        au = self.au
        return au.line_words if isinstance(au, JoinedUtterance) else self.word_count

    def token_keys(self, columns: tuple[str, ...], key: str = "") -> list[tuple[int, ...]]:
        """Per Doc token, its values of these ``ROW_COLUMNS`` (token patterns read them). The
        columns every utterance reads come from ``rows``; the others (word form, tag, dependency
        label) are read from the Doc once per utterance, and only when a pattern needs them.
        Cached per set of columns (``key``: the cache entry's name, ``token_keys_name(columns)``)."""
        key = key or token_keys_name(columns)
        keys = self.cache.get(key)
        if keys is None:
            rows = self.rows
            index = [ROW_COLUMNS.index(name) for name in columns]
            if len(index) > 1 and max(index) < ROWS_READ:  # the common case: picked from the rows
                keys = list(map(itemgetter(*index), rows))
            else:
                values = [[row[c] for row in rows] if c < ROWS_READ else self._column(ROW_COLUMNS[c]) for c in index]
                keys = list(zip(*values)) if values else [()] * len(rows)
            self.cache[key] = keys
        return keys

    def _column(self, name: str) -> list[int]:
        """One column the features do not read up front, from the Doc (cached)."""
        key = "#column:" + name
        values = self.cache.get(key)
        if values is None:
            if self.parts:  # the joined Doc keeps each part's tokens and their values: no need to build it
                values = self.cache[key] = [value for part in self.parts for value in part._column(name)]
                return values
            doc = self.doc
            attr = _row_attrs()[ROW_COLUMNS.index(name)]
            values = self.cache[key] = doc.to_array([attr]).tolist() if len(doc) else []
        return values

    def content_pos(self, doc_index: int) -> int:
        """The content position of a doc token (or of the next content token after it)."""
        return bisect_left(self.doc_i, doc_index)

    def entities(self, labels: frozenset[int]) -> list[tuple[int, int]]:
        """Named entities with one of these label ids, as content spans."""
        out = []
        for label, start, end in self.ents():
            if label in labels:
                s, e = self.content_pos(start), self.content_pos(end)
                if s < e:
                    out.append((s, e))
        return out

    def ents(self) -> list[tuple[int, int, int]]:
        """The Doc's entities as (label id, first token, end token), read from the token rows
        (``Doc.ents`` would build Span objects on every access); cached."""
        ents: list[tuple[int, int, int]] | None = self.cache.get("#ents")
        if ents is None:
            spans: list[list[int]] = []
            for i, row in enumerate(self.rows):
                iob, label = row[5], row[6]
                if iob == 3:  # B: an entity starts
                    spans.append([label, i, i + 1])
                elif iob == 1 and spans and spans[-1][2] == i:  # I: it goes on
                    spans[-1][2] = i + 1
            ents = self.cache["#ents"] = [(label, start, end) for label, start, end in spans]
        return ents

    def content_words(self, ignore: frozenset[int]) -> list[tuple[int, int]]:
        """Content words (nouns, verbs and adjectives, not stop words or ``ignore``) as
        (position, lemma key) pairs, in order. Cached per ``ignore`` set (the list is shared:
        callers must not change it): a customer's turn is read by every agent turn that may
        reflect it."""
        memo: dict[frozenset[int], list[tuple[int, int]]] | None = self.cache.get("#content-words")
        if memo is None:
            memo = self.cache["#content-words"] = {}
        words = memo.get(ignore)
        if words is None:
            # a plain loop over typed locals: compiled (mypyc), the cache's ``Any`` value made
            # every index and lookup a generic one, the comprehension's one-item tuple (to name
            # the lemma) was a new tuple per word, and ``ignore.isdisjoint(keys)`` a method call
            # per word (most words have one key); the same list
            kinds: list[int] = self.cache["#content"]
            keys, rows, doc_i = self.keys, self.rows, self.doc_i
            caseless = _CASELESS
            words = []
            for k in kinds:
                for key in keys[k]:
                    if key in ignore:
                        break
                else:
                    lemma = rows[doc_i[k]][2]
                    words.append((k, caseless.get(lemma) or self._caseless(lemma)))
            memo[ignore] = words
        return words

    def _caseless(self, lemma: int) -> int:
        """The lowercase form's key of a lemma key (cached in ``_CASELESS``): a proper noun keeps
        its capitals in spaCy's lemma, so "Apple ID" and "apple id" would be different words."""
        part = self.parts[0] if self.parts else self
        strings = part.au.doc.vocab.strings
        text = strings[lemma]
        low = text.lower()
        key = _CASELESS[lemma] = lemma if low == text else strings.add(low)
        return key

    def content_lemmas(self, ignore: frozenset[int], positions: Sequence[int] | None = None) -> frozenset[int]:
        """Lemma keys of content words, optionally only among ``positions`` (all of them cached
        per ``ignore`` set)."""
        if positions is not None:
            wanted = set(positions)
            return frozenset([lemma for k, lemma in self.content_words(ignore) if k in wanted])
        memo: dict[frozenset[int], frozenset[int]] | None = self.cache.get("#content-lemmas")
        if memo is None:
            memo = self.cache["#content-lemmas"] = {}
        lemmas = memo.get(ignore)
        if lemmas is None:
            # (a list, not a generator: compiled, a generator is an object and a call per word)
            lemmas = memo[ignore] = frozenset([lemma for _, lemma in self.content_words(ignore)])
        return lemmas


def token_keys_name(columns: tuple[str, ...]) -> str:
    """Where ``Features.token_keys`` caches these columns."""
    return "#keys:" + ",".join(columns)


_FILLER_PUNCT = frozenset({",", "...", "…", "-", "—"})


# the columns of ``Features.rows`` (spaCy attribute names), and after them the ones only token
# patterns read (``Features.token_keys``)
ROW_COLUMNS = (
    "LOWER",
    "NORM",
    "LEMMA",
    "SENT_START",
    "POS",
    "ENT_IOB",
    "ENT_TYPE",
    "IDX",
    "LENGTH",
    "ORTH",
    "TAG",
    "DEP",
)
ROWS_READ = 9  # columns every utterance reads
_ROW_ATTRS: list[int] = []


def _row_attrs() -> list[int]:
    """spaCy's attribute ids of ``ROW_COLUMNS``."""
    if not _ROW_ATTRS:
        from spacy import attrs

        _ROW_ATTRS.extend(getattr(attrs, name) for name in ROW_COLUMNS)
    return _ROW_ATTRS


_IDX, _LEN = ROW_COLUMNS.index("IDX"), ROW_COLUMNS.index("LENGTH")
_SENT_START = ROW_COLUMNS.index("SENT_START")
_POS_COLUMN = itemgetter(ROW_COLUMNS.index("POS"))


def doc_text(feats: Features, doc_start: int, doc_end: int) -> str:
    """Text of doc tokens [doc_start, doc_end), leaving out fillers and the commas around them
    ("so, um, go" -> "so go"). Cut from the text by the tokens' offsets: no Token objects."""
    if doc_start >= doc_end:
        return ""
    rows, text = feats.rows, feats.text
    fillers: frozenset[int] = feats.cache.get("#fillers", frozenset())
    first = rows[doc_start]
    if doc_end - doc_start == 1 and first[0] not in fillers:  # one word (most matches)
        return text[first[_IDX] : first[_IDX] + first[_LEN]].strip()
    if not fillers or fillers.isdisjoint([rows[i][0] for i in range(doc_start, doc_end)]):
        last = rows[doc_end - 1]
        return text[first[_IDX] : last[_IDX] + last[_LEN]].strip()
    n = len(rows)
    parts: list[str] = []
    skip_punct = False
    for i in range(doc_start, doc_end):
        row = rows[i]
        if row[0] in fillers:
            if parts and parts[-1].strip() in _FILLER_PUNCT:
                parts.pop()
            if parts:
                parts[-1] = parts[-1].rstrip() + " "
            skip_punct = True
            continue
        start = row[_IDX]
        if skip_punct and text[start : start + row[_LEN]] in _FILLER_PUNCT:
            continue
        skip_punct = False
        parts.append(text[start : rows[i + 1][_IDX] if i + 1 < n else len(text)])  # the token and its space
    return "".join(parts).strip()


class KeyBits:
    """Maps each word key to the bit of every group (lexicon) that has a phrase starting with it,
    so one pass over an utterance tells which lexicons are worth scanning at all."""

    def __init__(self) -> None:
        self.by_key: dict[int, int] = {}
        self.num_bits = 0
        self._next = 1
        self.version = 0  # bumped by ``add``: extractors drop per-word bits cached before it
        self.letters = Letters()  # the letters of the compiled lexicon scan (``scan``)

    def add_letters(self, keys: Iterable[int]) -> None:
        """Give these word keys letters for the compiled scan (``scan.Letters``)."""
        if self.letters.add(keys):
            self.version += 1

    def add(self, first_keys: Iterable[int]) -> int:
        """Register a group by the keys its phrases start with; returns its bit."""
        bit = self._next
        self._next <<= 1
        self.version += 1
        for key in first_keys:
            if key == NUM:
                self.num_bits |= bit
            else:
                self.by_key[key] = self.by_key.get(key, 0) | bit
        return bit


# a lemma key -> its lowercase form's key (``Features.content_words``: a word repeated back counts
# whatever its capitals); spaCy's keys are hashes of the text, the same in every vocabulary
_CASELESS: dict[int, int] = {}

_SKIP, _NUM, _STOP, _FILLER = 1, 2, 4, 8  # word kinds cached by FeatureExtractor (a filler is also skipped)
_ENDS = 16  # punctuation or space that ends a sentence as said (``Features.phrase_spans``)
_END_MARKS = re.compile(r"[.!?;:…\n]")
_NO_FILLERS: frozenset[int] = frozenset()


class FeatureExtractor:
    """Turns an ``AnnotatedUtterance`` into ``Features``.

    One ``Doc.to_array`` call reads the per-token values; per-word facts (punctuation, filler,
    number, stop word, pre-filter bits) come from a cache keyed by the lowercase form, so each
    word of the vocabulary is looked up once per engine.
    """

    def __init__(self, fillers: Iterable[str], key_bits: KeyBits) -> None:
        from spacy import symbols

        self._content_tags = frozenset({symbols.NOUN, symbols.PROPN, symbols.VERB, symbols.ADJ})
        self._attrs: list[int | str] = list(_row_attrs()[:ROWS_READ])
        self.fillers = frozenset(phrase_key(w) for f in fillers for w in phrase_words(f)[:1])
        # spaCy leaves some contractions un-normalized ("should've" -> "'ve"); add the full word
        self._expand: dict[int, int] = {}
        for short, full in _CONTRACTION_NORMS.items():
            self._expand[phrase_key(short)] = self._expand[phrase_key(short.replace("'", "’"))] = phrase_key(full)
        self._question = phrase_key("?")
        self._key_bits = key_bits
        self._words: dict[int, tuple[int, int, int, str]] = {}
        self._version = key_bits.version

    def features(self, au: AnnotatedUtterance) -> Features:
        """``au``'s features: the ones kept on it when this extractor made them, else new ones
        (kept on it for the next reader: signals and rules share one reading per utterance)."""
        feats = au.features
        if feats is None or feats.made_by is not self or feats.au is not au:
            feats = au.features = self.extract(au)
        return feats

    def _word(self, doc: "Doc", lower: int) -> tuple[int, int, int, str]:
        """(kind, pre-filter bits, expanded contraction key or 0, its letters for the compiled
        scan: the lowercase form's, the expansion's, a number's) for a lowercase word key."""
        lex = doc.vocab[doc.vocab.strings[lower]]
        kind = (
            (_SKIP if lex.is_punct or lex.is_space or lower in self.fillers else 0)
            | (_FILLER if lower in self.fillers else 0)
            | (_NUM if lex.like_num or _CLOCK_TIME.match(lex.text) else 0)
            | (_STOP if lex.is_stop else 0)
        )
        if kind & _SKIP and not kind & _FILLER and _END_MARKS.search(lex.text):
            kind |= _ENDS
        extra = self._expand.get(lower, 0)
        by_key = self._key_bits.by_key
        bits = by_key.get(lower, 0) | by_key.get(extra, 0) | (self._key_bits.num_bits if kind & _NUM else 0)
        letters = self._key_bits.letters.by_key
        spelled = letters.get(lower, "") + letters.get(extra, "") + (letters.get(NUM, "") if kind & _NUM else "")
        info = self._words[lower] = (kind, bits, extra, spelled)
        return info

    def extract(self, au: AnnotatedUtterance) -> Features:
        if self._version != self._key_bits.version:  # a finder registered new groups since
            self._words.clear()
            self._version = self._key_bits.version
        doc = au.doc
        rows = doc.to_array(self._attrs).tolist() if len(doc) else []
        words, question, content_tags = self._words, self._question, self._content_tags
        by_key = self._key_bits.by_key
        letters = self._key_bits.letters.by_key
        slots: list[str] = []  # per content token, its letters (``scan``)
        keys: list[tuple[int, ...]] = []
        is_num: list[bool] = []
        sent: list[int] = []
        doc_i: list[int] = []
        content: list[int] = []
        questions: set[int] = set()
        bits = tags = 0
        word_bits: list[int] = []
        sent_starts: list[int] = []  # per sentence, the content position it starts at
        run_on: list[int] = []  # sentences the parser began with no stop said before them
        ended = True  # a stop was said since the last content token (``Features.phrase_spans``)
        stopped = False  # a stop was said at all
        lead = 0  # sentences begun after the first with no word and no stop before them (``join``)
        sid = -1
        last_lower = 0
        last_skipped = 0  # the last punctuation token, to spot "?" at a sentence end
        has_filler = False
        for i, (lower, norm, lemma, start, pos, _, _, _, _) in enumerate(rows):
            if start == 1 or sid < 0:
                if last_skipped == question and sid >= 0:
                    questions.add(sid)
                sid += 1
                last_lower = 0
                sent_starts.append(len(keys))
                if not ended:
                    run_on.append(sid)
                elif sid and not stopped and not keys:
                    lead += 1
            info = words.get(lower) or self._word(doc, lower)
            kind = info[0]
            if kind & _SKIP:
                last_skipped = lower
                if kind & _ENDS:
                    ended = stopped = True
                if kind & _FILLER:
                    has_filler = True
                continue
            last_skipped = 0
            ended = False
            if lower == last_lower:  # a stutter: "I, I think"
                continue
            last_lower = lower
            here = info[1]
            if info[2]:
                keys.append((lower, norm, lemma, info[2]))
                here |= by_key.get(norm, 0) | by_key.get(lemma, 0)
                slots.append(info[3] + letters.get(norm, "") + letters.get(lemma, ""))
            elif lower == norm == lemma:
                keys.append((lower,))
                slots.append(info[3])
            else:
                keys.append(tuple({lower, norm, lemma}))
                here |= by_key.get(norm, 0) | by_key.get(lemma, 0)
                slots.append(info[3] + letters.get(norm, "") + letters.get(lemma, ""))
            bits |= here
            word_bits.append(here)
            is_num.append(kind & _NUM != 0)
            sent.append(sid)
            if pos in content_tags and not kind & _STOP:
                content.append(len(doc_i))
            doc_i.append(i)
        if last_skipped == question and sid >= 0:
            questions.add(sid)
        for pos in set(map(_POS_COLUMN, rows)):  # the parts of speech, punctuation's too
            tags |= 1 << pos
        # each sentence's content positions (a sentence's content tokens follow each other): (0, 0) for none
        sent_starts.append(len(keys))
        spans = [(a, b) if b > a else (0, 0) for a, b in zip(sent_starts, sent_starts[1:])]
        phrase_spans, runs = _runs(spans, sent_starts, run_on) if run_on else (spans, spans)
        spelled = join_slots(slots, runs)
        text = au.utterance.text
        if rows and len(text) != rows[-1][_IDX] + len(doc[-1].text_with_ws):  # a Doc of other text
            text = doc.text
        feats = Features(
            au,
            keys,
            is_num,
            sent,
            doc_i,
            rows,
            frozenset(questions),
            spans,
            bits,
            word_bits,
            tags,
            text,
            spelled,
            phrase_spans,
            made_by=self,
        )
        # the filler keys ``doc_text`` leaves out of quotes: none to look for when none was said
        feats.cache["#fillers"] = self.fillers if has_filler else _NO_FILLERS
        feats.cache["#content"] = content
        # for ``join``: the sentences run on, those begun before any word or stop, and how the
        # utterance ends: 1 a word with no stop after it, 2 neither word nor stop (the state
        # before it goes on), 0 a stop
        feats.cache["#run_on"] = (run_on, lead, 1 if not ended else 2 if not stopped and not keys else 0)
        return feats

    def join(self, parts: Sequence[Features], au: AnnotatedUtterance, offsets: Sequence[int]) -> Features | None:
        """The features ``extract`` reads from ``au`` whose Doc is the parts' Docs joined
        (``Doc.from_docs``; its text ``joined_text(parts)``, part k starting at ``offsets[k]``),
        made from the parts' features without building that Doc: the joined Doc keeps each
        part's tokens and parse, and a part starts a sentence, so its reading is the parts'
        readings one after the other (positions, sentences and character offsets shifted). None
        when a part does not start a sentence (or is empty, or another extractor read it): then
        only ``extract`` knows. Kept on ``au`` as ``features`` reads them."""
        keys: list[tuple[int, ...]] = []
        is_num: list[bool] = []
        sent: list[int] = []
        doc_i: list[int] = []
        rows: list[list[int]] = []
        word_bits: list[int] = []
        content: list[int] = []
        spans: list[tuple[int, int]] = []
        run_on: list[int] = []  # sentences run on from the one before, as ``extract`` reads the joined Doc
        spelled: list[str] = []
        state = 0  # how the parts so far end (``extract``'s "#run_on")
        questions: set[int] = set()
        bits = tags = words = 0
        n_tokens = 0
        for part, offset in zip(parts, offsets):
            part_rows = part.rows
            if part.made_by is not self or not part_rows or part_rows[0][_SENT_START] != 1:
                return None
            k0, s0 = len(keys), len(spans)
            keys += part.keys
            is_num += part.is_num
            word_bits += part.word_bits
            if n_tokens:  # not the first part: positions, sentences and characters move on
                sent += [s + s0 for s in part.sent]
                doc_i += [i + n_tokens for i in part.doc_i]
                content += [k + k0 for k in part.cache["#content"]]
                spans += [(a + k0, b + k0) if b else (0, 0) for a, b in part.sent_spans]
                questions.update(q + s0 for q in part.questions)
                rows += [[*row[:_IDX], row[_IDX] + offset, *row[_IDX + 1 :]] for row in part_rows]
            else:
                sent += part.sent
                doc_i += part.doc_i
                content += part.cache["#content"]
                spans += part.sent_spans
                questions.update(part.questions)
                rows += part_rows
            # a part begins a sentence, run on (as in the joined Doc) when the parts before end in a
            # word with no stop after it: a recognizer's pause is no stop said
            part_run_on, lead, tail = part.cache["#run_on"]
            if state == 1:
                run_on += range(s0, s0 + lead + 1)
            run_on += [s + s0 for s in part_run_on]
            if part.spelled:
                if spelled and state == 1 and part.sent[0] <= lead:  # its first word runs on
                    spelled[-1] += part.spelled
                else:
                    spelled.append(part.spelled)
            if tail != 2:
                state = tail
            bits |= part.bits
            tags |= part.tags
            words += part.word_count
            n_tokens += len(part_rows)
        feats = Features(
            au,
            keys,
            is_num,
            sent,
            doc_i,
            rows,
            frozenset(questions),
            spans,
            bits,
            word_bits,
            tags,
            au.utterance.text,
            "\n".join(spelled),
            _runs(spans, _sentence_starts(spans, len(keys)), run_on)[0] if run_on else spans,
            made_by=self,
            _word_count=words,
            parts=tuple(parts),
        )
        feats.cache["#fillers"] = self.fillers
        feats.cache["#content"] = content
        feats.cache["#run_on"] = (run_on, 0, state)
        au.features = feats
        return feats


def _runs(
    spans: list[tuple[int, int]], sent_starts: list[int], run_on: list[int]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``Features.phrase_spans`` (per sentence) and the distinct spans (each once, in order) when
    the sentences ``run_on`` (ids, ascending) are joined to the one before. ``sent_starts``: each
    sentence's first content position, then the number of content tokens."""
    runs: list[tuple[int, int]] = []
    phrase_spans: list[tuple[int, int]] = []
    soft = set(run_on)
    first = 0
    for sid in range(1, len(spans) + 1):
        if sid < len(spans) and sid in soft:
            continue
        a, b = sent_starts[first], sent_starts[sid]
        run = (a, b) if b > a else (0, 0)
        runs.append(run)
        phrase_spans += [run] * (sid - first)
        first = sid
    return phrase_spans, runs


def _sentence_starts(spans: list[tuple[int, int]], n: int) -> list[int]:
    """Each sentence's first content position (an empty one's: where it falls), then ``n``."""
    out: list[int] = []
    at = 0
    for a, b in spans:
        if b:
            at = a
        out.append(at)
        if b:
            at = b
    out.append(n)
    return out


def joined_text(parts: Sequence[Features]) -> tuple[str, list[int]]:
    """The text of the parts' Docs joined as ``Doc.from_docs`` joins them (a space after a part
    that does not end in one), and where each part starts in it."""
    texts: list[str] = []
    offsets: list[int] = []
    at = 0
    last = len(parts) - 1
    for k, part in enumerate(parts):
        offsets.append(at)
        text = part.text
        if k < last and part.rows:
            tail = part.doc[-1]
            if not tail.is_space and not tail.whitespace_:
                text += " "
        texts.append(text)
        at += len(text)
    return "".join(texts), offsets


def first_keys(lexicon: Lexicon) -> frozenset[int]:
    """Keys a lexicon's phrases can start with (``NUM`` for ``<num>``)."""
    return _first_keys(lexicon.phrases)


def _first_keys(phrases: Iterable[Phrase]) -> frozenset[int]:
    return frozenset(k for p in phrases for t in compile_phrase(p.text)[:1] for k in t)


def rare_keys(lexicon: Lexicon) -> frozenset[int]:
    """Keys of one word of each phrase, the one least likely to be said: a word that is not a
    stop word (spaCy's list) or a number, of the fewest alternatives, the longest (``NUM`` for
    ``<num>``). Every match holds one of them, as it holds a first and a last key."""
    from spacy.lang.en.stop_words import STOP_WORDS

    def commonness(alts: frozenset[int | str]) -> tuple[bool, int, int]:
        said = [w for w in alts if isinstance(w, str)]  # (``NUM`` is any number)
        common = len(said) < len(alts) or any(w in STOP_WORDS for w in said)
        return common, len(alts), -min((len(w) for w in said), default=0)

    out: set[int] = set()
    for p in lexicon.phrases:
        words = compile_phrase(p.text, str)
        if words:
            out |= compile_phrase(p.text)[min(range(len(words)), key=lambda k: commonness(words[k]))]
    return frozenset(out)


def last_keys(lexicon: Lexicon) -> frozenset[int]:
    """Keys a lexicon's phrases can end with (``NUM`` for ``<num>``)."""
    return frozenset(k for p in lexicon.phrases for t in compile_phrase(p.text)[-1:] for k in t)


def word_keys(lexicon: Lexicon) -> frozenset[int]:
    """All keys of a lexicon's one-word phrases (for cue sets such as negation words)."""
    out: set[int] = set()
    for phrase in lexicon.phrases:
        for alts in compile_phrase(phrase.text):
            out |= alts
    return frozenset(out)


def single_word_keys(lexicon: Lexicon) -> frozenset[int]:
    """Keys of a lexicon's one-word phrases only ("if", not the "in" of "in case")."""
    out: set[int] = set()
    for phrase in lexicon.phrases:
        tokens = compile_phrase(phrase.text)
        if len(tokens) == 1:
            out |= tokens[0]
    return frozenset(out)
