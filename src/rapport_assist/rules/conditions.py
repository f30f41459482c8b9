"""Condition evaluators: the typed conditions of ``model`` compiled against a rule set.

A compiled condition takes an ``EvalContext`` and returns the ``Match`` list it rests on
(possibly empty) when it holds, or ``None`` when it does not. Each condition tree becomes one
generated function (``generate``) that calls the finders and evaluators built here. Lexicon
matches are cached per utterance, so rules that share a lexicon share the work.

The grammatical tests (question, conditional, negation, future-tense commitment) read the
spaCy parse already in the ``Doc``; nothing is re-parsed. Tones are read through
``ToneCue`` functions. When the utterance carries conversation signals (``signals.py``),
``tone: calm|tense|angry`` reads their tone estimate (words, loudness and pace against the
speaker's baseline), quoting the ``tones:`` words as evidence; otherwise, and for tones the
estimate does not know, the text cue built from the ``tones:`` section decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

from ..turns import text_asks
from ..types import TONE_ORDER, Speaker, Utterance
from ..safe_regex import compile_regex
from .features import (
    CompiledLexicon,
    FeatureExtractor,
    Features,
    KeyBits,
    Match,
    PhraseIndex,
    compile_phrase,
    phrase_key,
    single_word_keys,
    word_keys,
)
from .model import (
    AfterRequest,
    AllTests,
    BeforeSays,
    ThenSays,
    AllOf,
    AnyOf,
    Condition,
    Conditional,
    Earlier,
    FutureActionFinder,
    InQuestion,
    Lexicon,
    LexiconFinder,
    MatchTest,
    MaxWords,
    MinLength,
    Negated,
    Not,
    Reflects,
    ReflectsOther,
    RegexFinder,
    Says,
    SentenceLacks,
    SentenceSays,
    SpeakerIs,
    SubjectFinder,
    ClaimFinder,
    Subordinate,
    TokenFinder,
    Tone,
    ToneIs,
    UsesName,
)
from .generate import write_condition
from .literals import required_literals
from .tokens import compile_patterns, re2_predicates

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc, Token
    from spacy.vocab import Vocab


class EvalContext:
    """What a condition sees: this utterance, the other speaker's last turn, (inside
    ``expect``) the turns that opened the expectation, the tones read on this utterance so far,
    and the call so far (``history``: earlier contexts, oldest first, for ``earlier``). ``memo``:
    what ``earlier`` conditions found in this context when it was a past one (by condition)."""

    __slots__ = ("feats", "other_last", "reference", "tones", "history", "memo")

    def __init__(
        self,
        feats: Features,
        other_last: Features | None = None,
        reference: Sequence[Features] = (),
        tones: dict[str, list[Match] | None] | None = None,
        history: Sequence["EvalContext"] = (),
    ) -> None:
        self.feats = feats
        self.other_last = other_last
        self.reference = reference
        self.tones: dict[str, list[Match] | None] = {} if tones is None else tones
        self.history = history
        self.memo: dict[str, list[Match] | None] | None = None


Evaluator = Callable[[EvalContext], "list[Match] | None"]


@dataclass(frozen=True)
class Gate:
    """A cheap necessary condition of a compiled condition (``Compiler.gate``): the speaker it
    needs, pre-filter masks each of which the utterance's ``Features.bits`` must meet, and the
    tones it needs (``tone:`` tests the tone estimate decides: an utterance whose conversation
    signals' tone is below one of them cannot pass; the engine checks all three before
    evaluating the condition)."""

    speaker: Speaker | None
    masks: tuple[int, ...]
    tones: frozenset[str] = frozenset()

    def admits_tone(self, label: str | None) -> bool:
        """Whether an utterance whose signals' tone is ``label`` (None: no signals) can pass."""
        return label is None or all(TONE_ORDER.index(label) >= TONE_ORDER.index(t) for t in self.tones)


class ToneCue(Protocol):
    """Reads one tone (e.g. "angry") for the current utterance: matches when it holds, else None."""

    def __call__(self, tone: str, ctx: EvalContext) -> list[Match] | None: ...


class TextToneCue:
    """The text cue: a tone holds when its ``text`` condition (from ``tones:``) holds.

    A tone whose text reads only its utterance (``reads_utterance_only``) is read once per
    utterance, its result kept on the utterance's features (``once``: the cache key, this cue's
    own): the signals stage reads "angry" (and "tense") on every utterance for the tone estimate
    with this cue, and the rules' ``tone:`` on the same utterance then reuse that reading instead
    of evaluating the same condition on the same words again."""

    def __init__(self, definitions: Mapping[str, Evaluator], once: Mapping[str, str] | None = None) -> None:
        self.definitions = dict(definitions)
        self.once: dict[str, str] = dict(once or {})

    def __call__(self, tone: str, ctx: EvalContext) -> list[Match] | None:
        definition = self.definitions.get(tone)
        if not definition:
            return None
        key = self.once.get(tone)
        if key is None:
            return definition(ctx)
        cache = ctx.feats.cache
        if key in cache:  # (None, "does not hold", is kept too)
            found: list[Match] | None = cache[key]
            return found
        found = cache[key] = definition(ctx)
        return found


def reads_utterance_only(cond: Condition) -> bool:
    """Whether ``cond`` reads nothing but its utterance's words and timing (``ctx.feats``): no
    earlier turns, no turns that opened an expectation, no tone or signal, not the other
    speaker's last turn. Its result on an utterance is then the same whoever asks."""
    if isinstance(cond, (AllOf, AnyOf)):
        return all(reads_utterance_only(c) for c in cond.items)
    if isinstance(cond, Not):
        return reads_utterance_only(cond.item)
    if isinstance(cond, Says):
        return all(_test_reads_utterance_only(t) for t in cond.skip_if)
    return isinstance(cond, (SpeakerIs, MaxWords, MinLength))


def _test_reads_utterance_only(test: MatchTest) -> bool:
    if isinstance(test, AllTests):
        return all(_test_reads_utterance_only(t) for t in test.tests)
    return not isinstance(test, ReflectsOther)  # (the other skip tests read the match's utterance)


class Compiler:
    """Compiles conditions against one rule set's lexicons and tones."""

    def __init__(self, lexicons: Mapping[str, Lexicon], tones: Mapping[str, Tone], fillers: Sequence[str] = ()) -> None:
        self.key_bits = KeyBits()
        # reads each utterance for every evaluator this compiler makes (its bits are ours)
        self.extractor = FeatureExtractor(fillers, self.key_bits)
        self.lexicons = {name: CompiledLexicon(lex, self.key_bits) for name, lex in lexicons.items()}
        self._word_sets = {name: word_keys(lex) for name, lex in lexicons.items()}
        self._lexicon_defs = dict(lexicons)
        self._future_bit = self.key_bits.add(
            frozenset(
                phrase_key(w) for w in _FUTURE_WORDS + _PLAN_WORDS + _DELEGATE_WORDS + _HANDOVER_WORDS + _PLAN_NOUNS
            )
        )  # future markers
        self._finder_bits: dict[object, int] = {}  # token and subject finders' pre-filter bits
        self.tones = dict(tones)
        self.text_tones = TextToneCue(
            {name: self.condition(t.text) for name, t in tones.items()},
            {name: f"tone-text:{id(self)}:{name}" for name, t in tones.items() if reads_utterance_only(t.text)},
        )
        self.tone_cues: list[ToneCue] = [self.text_tones]

    # ------------------------------------------------------------ conditions

    def condition(self, cond: Condition) -> Evaluator:
        """``cond`` as one function (``generate.write_condition``) over this compiler's lexicons,
        finders and evaluators."""
        return write_condition(cond, self)

    def leaf(self, cond: Condition) -> Evaluator:
        """The evaluator of a test the generated source calls rather than inlines."""
        if isinstance(cond, ToneIs):
            return self.tone(cond.tone)
        if isinstance(cond, Reflects):
            return self.reflects(cond)
        if isinstance(cond, UsesName):
            return self.uses_name(cond)
        assert isinstance(cond, Earlier), cond
        return self.earlier(cond)

    def gate(self, cond: Condition) -> Gate:
        """What an utterance must have for ``cond`` to hold on it, checked before evaluating it:
        the speaker, and groups of pre-filter bits (``Features.bits``) of which each must meet
        the utterance's. A necessary condition only: passing it says nothing."""
        if isinstance(cond, SpeakerIs):
            return Gate(cond.speaker, ())
        if isinstance(cond, Says):
            return Gate(None, self._finder_masks(cond.finder))
        if isinstance(cond, ToneIs) and cond.tone in TONE_ORDER:  # the estimate decides (``tone``)
            return Gate(None, (), frozenset((cond.tone,)))
        if isinstance(cond, AllOf):
            parts = [self.gate(c) for c in cond.items]
            speaker = next((g.speaker for g in parts if g.speaker is not None), None)
            return Gate(speaker, tuple(m for g in parts for m in g.masks), frozenset().union(*(g.tones for g in parts)))
        if isinstance(cond, AnyOf):
            parts = [self.gate(c) for c in cond.items]
            speakers = {g.speaker for g in parts}
            mask = 0
            if all(g.masks for g in parts):  # each option needs its first group: one of them must meet
                for g in parts:
                    mask |= g.masks[0]
            tones = frozenset.intersection(*(g.tones for g in parts)) if parts else frozenset()
            return Gate(speakers.pop() if len(speakers) == 1 else None, (mask,) if mask else (), tones)
        return Gate(None, ())  # signals, lengths, earlier turns, negations: no cheap test

    def _finder_masks(self, finder: object) -> tuple[int, ...]:
        if isinstance(finder, LexiconFinder):
            rares = firsts = lasts = 0
            for name in finder.lexicons:
                lex = self.lexicons[name]
                if lex.entities:  # entities are not words: no pre-filter
                    return ()
                rares |= lex.rare_bit
                firsts |= lex.bit
                lasts |= lex.last_bit
            return (rares, firsts, lasts) if rares != firsts else (firsts, lasts)
        bit = self._future_bit if isinstance(finder, FutureActionFinder) else self._finder_bits.get(finder, 0)
        return (bit,) if bit else ()

    def tone(self, name: str) -> Evaluator:
        cues = self.tone_cues

        text = self.text_tones

        def tone_is(ctx: EvalContext) -> list[Match] | None:
            if name not in ctx.tones:
                signals = ctx.feats.au.utterance.signals
                if signals is not None and name in TONE_ORDER:
                    found = (text(name, ctx) or []) if signals.tone.at_least(name) else None
                else:
                    found = None
                    for cue in cues:
                        found = cue(name, ctx)
                        if found is not None:
                            break
                ctx.tones[name] = found
            return ctx.tones[name]

        return tone_is

    def earlier(self, cond: Earlier) -> Evaluator:
        inner = self.condition(cond.condition)
        turns, seconds, need = cond.turns, cond.seconds, cond.min_count
        key = repr(cond.condition)  # equal conditions share what they found in a past context
        now_key = "now:" + repr(cond)  # ... and equal 'earlier' tests what they found from this one

        def earlier(ctx: EvalContext) -> list[Match] | None:
            memo = ctx.memo
            if memo is None:
                memo = ctx.memo = {}
            elif now_key in memo:
                return memo[now_key]
            found = memo[now_key] = look_back(ctx)
            return found

        def look_back(ctx: EvalContext) -> list[Match] | None:
            now = ctx.feats.au.utterance.start_s
            history = ctx.history
            first = max(0, len(history) - turns) if turns is not None else 0
            found: list[Match] = []
            count = 0
            for i in range(len(history) - 1, first - 1, -1):
                past = history[i]
                if seconds is not None and now - past.feats.au.utterance.end_s > seconds:
                    break
                memo = past.memo
                if memo is None:
                    memo = past.memo = {}
                got = memo[key] if key in memo else memo.setdefault(key, inner(past))
                if got is not None:
                    count += 1
                    found.extend(got)
                    if count >= need:
                        return found
            return None

        return earlier

    def uses_name(self, cond: UsesName) -> Evaluator:
        intro = self.lexicons[cond.intro]

        def uses_name(ctx: EvalContext) -> list[Match] | None:
            names: set[int] = set()
            for ref in ctx.reference:
                names |= given_names(intro, ref)
            if not names:
                return None
            feats = ctx.feats
            rows, doc_i = feats.rows, feats.doc_i
            hits = [Match(k, k + 1, "name", feats) for k in range(len(doc_i)) if rows[doc_i[k]][0] in names]
            return hits or None

        return uses_name

    def reflects(self, cond: Reflects) -> Evaluator:
        from spacy.symbols import ADJ, VERB

        ignore = self._word_sets[cond.ignore]
        need, need_verbs = cond.min_shared, cond.min_verbs
        problem = self.lexicons[cond.problem] if cond.problem else None
        dense_min, dense_share = cond.dense_min, cond.dense_share
        event_tags = (VERB, ADJ)
        same = synonym_classes(self._lexicon_defs[cond.synonyms]) if cond.synonyms else {}

        def dense(feats: Features, said: set[int]) -> bool:
            """One sentence mostly made of the customer's words."""
            per_sent: dict[int, list[int]] = {}
            for k, lemma in feats.content_words(ignore):
                got = per_sent.setdefault(feats.sent[k], [0, 0])
                got[0] += 1
                got[1] += same.get(lemma, lemma) in said
            return any(shared >= dense_min and shared >= dense_share * total for total, shared in per_sent.values())

        def echoes(ctx: EvalContext) -> list[Match] | None:
            if not ctx.reference:
                return None
            said: set[int] = set()
            for ref in ctx.reference:
                said |= ref.content_lemmas(ignore)
            if same:
                said = {same.get(lemma, lemma) for lemma in said}
            feats = ctx.feats
            words = (
                [(k, same.get(lemma, lemma)) for k, lemma in feats.content_words(ignore)]
                if same
                else feats.content_words(ignore)
            )
            hits = [(k, word) for k, word in words if word in said]
            if len({lemma for _, lemma in hits}) < need:
                return None
            if need_verbs:
                rows, doc_i = feats.rows, feats.doc_i
                verbs = {
                    lemma
                    for k, lemma in hits
                    if rows[doc_i[k]][4] in event_tags
                    and not _speaker_acts(feats, doc_i[k])
                    and not _directive(feats, doc_i[k])
                }
                if len(verbs) < need_verbs:
                    # the problem word in a sentence that repeats them or next to one: a recognizer
                    # writes a speaker's pause as a full stop ("…for a wedding on Wednesday. And it
                    # won't let you change it."), where the writer's comma kept one sentence
                    sents = {feats.sent[k] + d for k, _ in hits for d in (-1, 0, 1)}
                    if (
                        problem is None
                        or not any(feats.sent[m.start] in sents for m in lexicon_matches(problem, feats))
                    ) and not (dense_min and dense(feats, said)):
                        return None
            return [Match(k, k + 1, "echo", feats) for k, _ in hits]

        return echoes

    # ------------------------------------------------------------ says

    def finder(self, finder: object) -> Callable[[Features], list[Match]]:
        """What a ``says`` finder other than lexicons finds in an utterance."""
        find: Callable[[Features], list[Match]]
        if isinstance(finder, FutureActionFinder):
            actions = self.lexicons[finder.actions]
            bit = self._future_bit

            def find_future(feats: Features) -> list[Match]:
                return future_actions(actions, bit, feats) if feats.bits & bit else []

            find = find_future
        elif isinstance(finder, RegexFinder):
            find = regex_finder(finder)
        elif isinstance(finder, TokenFinder):
            find, self._finder_bits[finder] = token_finder(finder, self.key_bits, self.extractor.fillers)
        elif isinstance(finder, ClaimFinder):
            find, self._finder_bits[finder] = claim_finder(finder, self._word_sets, self.key_bits)
        else:
            assert isinstance(finder, SubjectFinder), finder
            find, self._finder_bits[finder] = subject_finder(finder, self._word_sets[finder.verbs], self.key_bits)
        return find

    def skip_test(self, test: MatchTest) -> Callable[[Match, EvalContext], bool]:
        if isinstance(test, InQuestion):
            return _in_question
        if isinstance(test, Conditional):
            return _near(self._word_sets[test.cues], test.before, 0)
        if isinstance(test, Negated):
            return _near(self._word_sets[test.cues], test.before, test.after, _intj_pos())
        if isinstance(test, Subordinate):
            return _subordinate(single_word_keys(self._lexicon_defs[test.cues]))
        if isinstance(test, (SentenceSays, SentenceLacks)):
            lex = self.lexicons[test.lexicon]
            lacks = isinstance(test, SentenceLacks)  # the sentence has no match of it, else has one

            def sentence_says(m: Match, ctx: EvalContext) -> bool:
                sid = ctx.feats.sent[m.start]
                return any(ctx.feats.sent[o.start] == sid for o in lexicon_matches(lex, ctx.feats)) != lacks

            return sentence_says
        if isinstance(test, (ThenSays, BeforeSays)):
            lex, n = self.lexicons[test.lexicon], test.sentences
            after = isinstance(test, ThenSays)  # the sentences after the match's, else before it

            def nearby_says(m: Match, ctx: EvalContext) -> bool:
                feats = ctx.feats
                sid = feats.sent[m.start]
                lo, hi = (sid + 1, sid + n) if after else (sid - n, sid - 1)
                return any(
                    lo <= feats.sent[o.start] <= hi and feats.sent[o.start] not in feats.questions
                    for o in lexicon_matches(lex, feats)
                )

            return nearby_says
        if isinstance(test, AllTests):
            parts = tuple(self.skip_test(t) for t in test.tests)

            def all_of(m: Match, ctx: EvalContext) -> bool:
                return all(part(m, ctx) for part in parts)

            return all_of
        if isinstance(test, AfterRequest):
            return after_request(self.lexicons[test.cues], test.sentences)
        assert isinstance(test, ReflectsOther)
        ignore = self._word_sets[test.ignore]
        need = test.min_shared

        def echoes_other(m: Match, ctx: EvalContext) -> bool:
            if ctx.other_last is None:
                return False
            feats = ctx.feats
            s, e = feats.sent_spans[feats.sent[m.start]]
            told = told_lemmas(ctx.other_last, ignore)
            if len(feats.content_lemmas(ignore, range(s, e)) & told) < need:
                return False
            # said back, the customer's own action comes back too ("I need to be at the airport" -
            # "so you need to be at the airport"); a new action after the match is an order, however
            # many topic words the sentence shares ("my card is declined" - "you have to update
            # the card details in the app")
            action = _next_verb(feats, m.end, e)
            return action is None or action.is_stop or action.lemma in told

        return echoes_other


_FIRST_PERSON = frozenset({"i", "we"})


def synonym_classes(lexicon: Lexicon) -> dict[int, int]:
    """Each word of a one-word phrase of ``lexicon`` ("log|sign|login") mapped to the phrase's
    first word: the words a reply may say back for one another (read by ``reflects``)."""
    out: dict[int, int] = {}
    for phrase in lexicon.phrases:
        tokens = compile_phrase(phrase.text)
        if len(tokens) == 1 and tokens[0]:
            first = phrase_key(phrase.text.split("|")[0].strip().lower())
            for key in tokens[0]:
                out.setdefault(key, first)
    return out


def _speaker_acts(feats: Features, doc_index: int) -> bool:
    """Whether the word at ``doc_index`` is a verb whose subject is the speaker ("we are working
    to fix it", "I can remove it"): the speaker's own action, read from the parse (the verb's
    subject, or for a verb joined by "and" to one before it, that one's)."""
    tok = feats.token(doc_index)
    for _ in range(2):
        for child in tok.children:
            if child.dep_ in ("nsubj", "nsubjpass"):
                return child.lower_ in _FIRST_PERSON
        if tok.dep_ != "conj":
            return False
        tok = tok.head
    return False


# what may stand before an order's verb in its sentence: "Please share…", "Hi! Just send…"
_DIRECTIVE_OPENERS = frozenset({"please", "pls", "kindly", "just", "also", "then", "simply", "so", "and"})


def _directive(feats: Features, doc_index: int) -> bool:
    """Whether the word at ``doc_index`` is the verb of an order to the listener ("Please *share*
    your feedback here", "*send* us the details", or a verb joined to one by "and"): the
    customer's word asked for as a step, not said back as what went wrong. The verb has the bare
    form, no subject and no auxiliary, and opens its sentence after nothing but greetings,
    punctuation and words such as "please"."""
    tok = feats.token(doc_index)
    if tok.dep_ == "conj" and tok.head.pos_ == "VERB":
        tok = tok.head
    if tok.tag_ != "VB" or tok.dep_ != "ROOT":
        return False
    # a tweet's @handles are no subject ("@name Please share…" parses "@name" as one)
    if any(c.dep_ in ("nsubj", "nsubjpass", "aux", "auxpass", "expl") and c.text[:1] != "@" for c in tok.children):
        return False
    for before in tok.doc[tok.sent.start : tok.i]:
        text = before.text
        # a greeting, "please", a handle or a part number ("(2/2)") may open it
        if not (
            before.is_punct
            or before.pos_ in ("INTJ", "SPACE", "X")
            or before.lower_ in _DIRECTIVE_OPENERS
            or text[:1] == "@"
            or (before.like_num or text.replace("/", "").isdigit())
        ):
            return False
    return True


def _next_verb(feats: Features, start: int, end: int) -> Token | None:
    """The first verb (or auxiliary) of the Doc from content position ``start`` to the end of
    content position ``end - 1`` (a match's sentence after it), or None."""
    if start >= end:
        return None
    doc, doc_i = feats.doc, feats.doc_i
    for tok in doc[doc_i[start] : doc_i[end - 1] + 1]:
        if tok.pos_ in ("VERB", "AUX"):
            return tok
    return None


def told_lemmas(feats: Features, ignore: frozenset[int]) -> frozenset[int]:
    """Content lemmas of what ``feats`` tells, not asks (read by ``reflects_other``): its words
    outside the sentences that ask (``_asked_sentences``: a "?", or the word order). An answer
    repeats the words of the question it answers ("does the app have an open return?" - "you
    need to select open return"); only a statement's words said back restate it. Cached per
    ``ignore`` set."""
    memo: dict[frozenset[int], frozenset[int]] | None = feats.cache.get("#told-lemmas")
    if memo is None:
        memo = feats.cache["#told-lemmas"] = {}
    lemmas = memo.get(ignore)
    if lemmas is None:
        asked, sent = _asked_sentences(feats), feats.sent
        lemmas = memo[ignore] = (
            frozenset(lemma for k, lemma in feats.content_words(ignore) if sent[k] not in asked)
            if asked
            else feats.content_lemmas(ignore)
        )
    return lemmas


def _asked_sentences(feats: Features) -> frozenset[int]:
    """The sentences of ``feats`` that ask: those ending with "?", and those asked by their word
    order without one ("can I move my plan to my son's account", as a tweet or a recognizer
    writes it): the clause above the sentence's first word is ``_inverted``. The parse is read
    only where the token rows show an auxiliary before a subject (``_may_ask``)."""
    asked = set(feats.questions)
    for sid, (a, b) in enumerate(feats.sent_spans):
        if b > a and sid not in asked and _may_ask(feats, sid) and _asked_by_order(feats, a, a + 1):
            asked.add(sid)
    return frozenset(asked)


def lexicon_matches(lex: CompiledLexicon, feats: Features) -> list[Match]:
    """A lexicon's matches in this utterance (cached per utterance)."""
    key = "lex:" + lex.name
    found = feats.cache.get(key)
    if found is None:
        found = feats.cache[key] = lex.find(feats)
    return found


def _in_question(m: Match, ctx: EvalContext) -> bool:
    """The match's clause is a question: its sentence ends with "?" and no later clause, joined
    by a comma and a conjunction ("…, so what time works?"), owns the question mark; or, with
    or without the mark, its clause is asked by its word order (``_inverted``: "do you need to
    bring it", as a recognizer or a lowercase export writes it without "?")."""
    feats = ctx.feats
    sid = feats.sent[m.start]
    if sid not in feats.questions:
        return _may_ask(feats, sid) and _asked_by_order(feats, m.start, m.end)
    doc = feats.doc
    first = feats.doc_i[m.end - 1] + 1
    end = doc[first - 1].sent.end
    for j in range(first, end - 1):
        if doc[j].is_punct and doc[j].text == "," and doc[j + 1].pos_ in ("CCONJ", "SCONJ"):
            return False
    return True


# what may stand before a question's auxiliary in its clause: "so", "okay", "and", "now"
_OPENER_DEPS = ("intj", "cc", "advmod", "discourse", "punct")
_WH_TAGS = ("WDT", "WP", "WP$", "WRB")
# an adverb before the auxiliary that makes a statement, not a question: "never have you
# answered", "not once did you call", "only then do you…" (negative inversion)
_NEGATIVE_OPENERS = frozenset(
    phrase_key(w) for w in ("never", "not", "no", "nor", "neither", "only", "seldom", "rarely", "hardly", "once")
)


def _inverted(verb: Token, subject: Token) -> bool:
    """The clause of ``verb`` is asked by its word order, without needing a "?": an auxiliary
    (or the verb "be" itself) comes before the subject and opens the clause, after nothing but
    an interjection, a conjunction, an adverb or a wh-word ("do you need to…", "so can we…",
    "is it…", "when will you…"). Not when a negative adverb opens it ("never have you…": a
    statement with inverted order) nor when the subject is a wh-word ("what happened")."""
    if subject.i < verb.i and not any(c.dep_ in _AUX_DEPS and c.i < subject.i for c in verb.children):
        return False
    first = verb.i if verb.pos_ == "AUX" and verb.i < subject.i else subject.i
    for c in verb.children:
        if c.dep_ in _AUX_DEPS and c.i < first and c.tag_ != "TO":
            first = c.i
    if first >= subject.i:
        return False
    doc = verb.doc
    for t in doc[verb.left_edge.i : first]:
        if int(t.lower) in _NEGATIVE_OPENERS:
            return False
        if not (t.dep_ in _OPENER_DEPS or t.tag_ in _WH_TAGS or t.head.tag_ in _WH_TAGS):
            return False
    return True


# auxiliaries a question puts before its subject ("can't" and "won't" are "ca"/"wo" + "n't")
_INVERTING = frozenset(
    phrase_key(w)
    for w in (
        "do",
        "does",
        "did",
        "can",
        "ca",
        "could",
        "will",
        "wo",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "is",
        "are",
        "was",
        "were",
        "am",
        "have",
        "has",
        "had",
    )
)
_NOT = frozenset(phrase_key(w) for w in ("n't", "not", "n’t"))
_WH_WORDS = frozenset(phrase_key(w) for w in ("what", "when", "where", "why", "how", "who", "which", "whom", "whose"))
_ASKS_KEY = "#asks"


def _may_ask(feats: Features, sid: int) -> bool:
    """Sentence ``sid`` may hold a clause asked by its word order (``_inverted``): an
    auxiliary of ``_INVERTING`` right before a pronoun ("do you", "can't we", "is it"), or
    before a noun or determiner where a clause can open (the sentence's start, after an
    interjection, a conjunction, punctuation, an adverb or a wh-word: "so is the app…"). Read
    from the sentence's token rows (``_asking``), so the parse is walked only where it may pay."""
    return _asking(feats, sid)[0] == 1


def _asking(feats: Features, sid: int) -> list[int]:
    """Sentence ``sid`` read from its token rows, once per utterance: [1 when ``_may_ask``
    holds, else 0; then the Doc index of each auxiliary (spaCy's AUX) of ``_INVERTING`` right
    after a word, with no punctuation between, and before a subject pronoun: where a question
    said without a stop starts (``asked_clause_start``)]."""
    seen: dict[int, list[int]] | None = feats.cache.get(_ASKS_KEY)
    if seen is None:
        seen = feats.cache[_ASKS_KEY] = {}
    else:
        known = seen.get(sid)
        if known is not None:
            return known
    a, b = feats.sent_spans[sid]
    out = [0]
    if b > a:
        pos_ids = _pos_table()
        pron, nominal, openers, aux, punct = pos_ids[0], pos_ids[1:4], pos_ids[4:9], pos_ids[9], pos_ids[6]
        rows = feats.rows
        # locals: a compiled loop reads globals by name
        inverting, negations, subjects, wh = _INVERTING, _NOT, _SUBJECT_PRONOUNS, _WH_WORDS
        first, last = feats.doc_i[a], feats.doc_i[b - 1]
        for i in range(first, last):
            row = rows[i]
            if row[0] not in inverting:
                continue
            j = i + 1
            if j < last and rows[j][0] in negations:
                j += 1
            after = rows[j]
            pos = after[4]
            if not out[0] and (
                pos == pron or (pos in nominal and (i == first or rows[i - 1][4] in openers or rows[i - 1][0] in wh))
            ):
                out[0] = 1
            if i > first and row[4] == aux and after[0] in subjects and rows[i - 1][4] != punct:
                out.append(i)
    seen[sid] = out
    return out


def asked_clause_start(feats: Features, start: int, end: int) -> int:
    """The content position in ``start``..``end`` where a question said without a stop begins
    (an auxiliary before a subject pronoun, no punctuation before it: "…go to settings *do you*
    have the app open"), or ``end``: where a quote of the words before it should stop. The "?"
    sentence split by the writer needs no cut; the run-on does."""
    if start >= end:
        return end
    for i in _asking(feats, feats.sent[start - 1])[1:]:
        k = feats.content_pos(i)
        if start < k < end:
            return k
    return end


# who a question asks about, right after its auxiliary ("do *you*", "can *we*"; not "have *them* send")
_SUBJECT_PRONOUNS = frozenset(phrase_key(w) for w in ("i", "you", "we", "they", "he", "she", "it", "u"))


_POS: list[int] = []  # PRON; DET, NOUN, PROPN; what may open a clause before an auxiliary; AUX


def _pos_table() -> list[int]:
    """spaCy's part-of-speech ids in ``_POS``'s order (PRON, DET, NOUN, PROPN, INTJ, CCONJ,
    PUNCT, ADV, SCONJ, AUX), imported once: spaCy loads only when a rule first reads them."""
    if not _POS:
        from spacy.symbols import ADV, AUX, CCONJ, DET, INTJ, NOUN, PRON, PROPN, PUNCT, SCONJ

        _POS.extend(int(p) for p in (PRON, DET, NOUN, PROPN, INTJ, CCONJ, PUNCT, ADV, SCONJ, AUX))
    return _POS


def _asked_by_order(feats: Features, start: int, end: int) -> bool:
    """The match (content positions ``start``..``end``) lies in a clause asked by its word order
    (``_inverted``): its subject's clause, or, from a word without a subject of its own, the
    nearest clause above it ("would it be possible to … so I don't have to *wait* a month").
    From a clause with a subject the reading goes on up only out of a relative clause
    (``_relative``: "is that an option we've been *missing*"), not out of a clause the parse
    hangs under a question in a run-on ("do you have the number you need to call us")."""
    tok = feats.token(feats.doc_i[start])
    for k in range(start, end):
        t = feats.token(feats.doc_i[k])
        if t.dep_ in _SUBJECT_DEPS:
            tok = t.head
            break
    for _ in range(64):  # a parse is a tree; the bound only guards a malformed one
        subject = next((c for c in tok.children if c.dep_ in _SUBJECT_DEPS), None)
        if subject is not None:
            if _inverted(tok, subject):
                return True
            if not (tok.dep_ in _RELATIVE_DEPS and _relative(tok, subject)):
                return False
        if tok.head.i == tok.i:
            return False
        tok = tok.head
    return False


def _asks_before(feats: Features, first: int, pos: int) -> bool:
    """A clause asked by its word order (``_inverted``) has its subject and verb between the
    start of sentence ``first`` and content position ``pos`` ("can you send a screenshot we'll
    check it": no "?" needed)."""
    if not any(_may_ask(feats, s) for s in range(first, feats.sent[pos] + 1 if pos < len(feats.sent) else first + 1)):
        return False
    pos_ids = _pos_table()
    nominal = (pos_ids[0], pos_ids[2], pos_ids[3])  # PRON, NOUN, PROPN
    end = feats.doc_i[pos] if pos < len(feats.doc_i) else len(feats.rows)
    rows, doc_i = feats.rows, feats.doc_i
    for k in range(feats.sent_spans[first][0], pos):
        i = doc_i[k]
        if rows[i][4] not in nominal:
            continue
        tok = feats.token(i)
        if tok.dep_ in _SUBJECT_DEPS and tok.head.i - tok.i + i < end and _inverted(tok.head, tok):
            return True
    return False


_ENDS_ASKING_KEY = "#ends_asking"


def ends_asking(feats: Features) -> bool:
    """The utterance hands the floor over with a question: its last sentence ends with "?" (a
    tag question too: "…, right?" wants its "yes"), or is asked by its word order
    (``_asks_before``: "would you like me to email it", as a recognizer writes it without the
    mark). A short reply right after it is an answer that takes the floor, not a backchannel
    (``turns.TurnTracker``). Read once per utterance."""
    cache = feats.cache
    known = cache.get(_ENDS_ASKING_KEY)
    if known is not None:
        return bool(known)
    spans = feats.sent_spans
    sid = len(spans) - 1
    while sid >= 0 and spans[sid][1] <= spans[sid][0]:  # a sentence without content words
        sid -= 1
    asks = False
    if sid >= 0:
        asks = any(q >= sid for q in feats.questions) or (
            _may_ask(feats, sid) and _asks_before(feats, sid, spans[sid][1])
        )
    cache[_ENDS_ASKING_KEY] = asks
    return asks


def utterance_asks(feats: Features | None, utt: Utterance) -> bool:
    """The turns' question reading (``turns.TurnTracker.asks``) of ``utt``: ``ends_asking`` when
    ``feats`` are its features (the last ones its reader kept), else a final "?"
    (``turns.text_asks``). The rule engine and the signals stage both read it this way."""
    if feats is not None and feats.au.utterance.index == utt.index:
        return ends_asking(feats)
    return text_asks(utt)


_PLEASE = frozenset({"please", "kindly"})
_YOU_CAN = frozenset({"can", "could", "may"})


def after_request(cues: CompiledLexicon, sentences: int) -> Callable[[Match, EvalContext], bool]:
    """``AfterRequest``: the other side is asked to act before the match (a question, a request
    phrase, an imperative request verb), in its sentence or the ``sentences`` before it."""

    def after(m: Match, ctx: EvalContext) -> bool:
        feats = ctx.feats
        sid = feats.sent[m.start]
        first = max(0, sid - sentences)
        if any(s in feats.questions and not _tag_question(feats, s) for s in range(first, sid)):
            return True
        if _asks_before(feats, first, m.start):
            return True
        window_start = feats.sent_spans[first][0]
        # the words before a one-word cue from the rows' lowercase forms, its parse from
        # ``Features.token``: a turn's joined Doc is not built for this (``Doc.from_docs`` costs
        # more than the rest of the rules on that utterance)
        doc_i, rows, strings = feats.doc_i, feats.rows, feats.au.vocab.strings
        # a subject never opens with "please": the parser took an order as the subject ("Please
        # DM your number and the team will reach out"), so the match holds the request
        if strings[rows[doc_i[m.start]][0]] in _PLEASE:
            return True
        for c in lexicon_matches(cues, feats):
            if not window_start <= c.start < m.start or (feats.sent[c.start] == sid and c.end > m.start):
                continue
            if c.end - c.start > 1:
                return True
            i = doc_i[c.start]
            prev = strings[rows[i - 1][0]] if i > 0 else ""
            if prev in _PLEASE or (prev in _YOU_CAN and i > 1 and strings[rows[i - 2][0]] == "you"):
                return True
            tok = feats.token(i)
            if _imperative(tok) and not _continues_own_clause(feats, i, tok):
                return True
        return False

    return after


# a tag or a backchannel said as a question asks for no action ("Right?", "Yeah?", "…, eh?")
_TAGS = frozenset({"eh", "right", "yeah", "yes", "yep", "okay", "ok", "huh", "hm", "hmm", "mm", "correct", "alright"})


def _tag_question(feats: Features, sid: int) -> bool:
    """Sentence ``sid`` is a tag question: one tag word, or a tag word after a comma at its end."""
    a, b = feats.sent_spans[sid]
    if b <= a:
        return False
    last = feats.doc_i[b - 1]
    doc = feats.doc
    if doc[last].lower_ not in _TAGS:
        return False
    return b - a == 1 or (last > 0 and doc[last - 1].text == ",")


def _imperative(tok: Token) -> bool:
    """A base-form verb said as an order: no subject, no auxiliary, heading its clause (or joined
    to one that does: "go ahead and contact them")."""
    if tok.tag_ != "VB" or tok.dep_ not in ("ROOT", "conj", "advcl", "ccomp", "parataxis"):
        return False
    if any(c.dep_ in ("nsubj", "nsubjpass", "aux", "auxpass", "expl") for c in tok.children):
        return False
    head = tok.head
    if tok.dep_ == "conj" and any(c.dep_ in ("nsubj", "nsubjpass", "aux") for c in head.children):
        return False
    return True


_SENTENCE_ENDS = frozenset({".", "?", "!", "…"})
_FIRST_PERSON = frozenset({"i", "we"})


def _continues_own_clause(feats: Features, i: int, verb: Token) -> bool:
    """The base-form ``verb`` (Doc index ``i``) opens its sentence after a coordinator ("but
    tell the nurse…", "and send the form…") and the sentence before ended without a stop, on a
    clause of the agent's own with a modal ("I can send a message to the doctor"): the
    recognizer cut one sentence at a pause, and the verb shares that subject and modal ("I can
    send … but tell …"), an action of the agent's, not an order to the customer."""
    cc = next((c for c in verb.children if c.dep_ == "cc" and c.i < verb.i), None)
    if cc is None or cc.i != cc.sent.start:
        return False
    first = i - (verb.i - cc.i)  # the coordinator's index in the (joined) Doc
    if first == 0:
        return False
    prev = feats.token(first - 1)
    if prev.text in _SENTENCE_ENDS:
        return False
    head = prev.sent.root
    return any(c.dep_ == "nsubj" and c.lower_ in _FIRST_PERSON for c in head.children) and any(
        c.dep_ == "aux" and c.tag_ == "MD" for c in head.children
    )


_CLAUSE_BREAKS = frozenset({",", ";", ":", "-", "–", "—", "(", ")"})
_RELATIVE_DEPS = ("relcl", "acl")


def _subordinate(cues: frozenset[int]) -> Callable[[Match, EvalContext], bool]:
    """The match is inside a clause opened by a cue word (no clause break between them), or its
    subject's verb heads a relative clause (``Subordinate``)."""

    def subordinate(m: Match, ctx: EvalContext) -> bool:
        feats = ctx.feats
        doc = feats.doc
        s, _ = feats.sent_spans[feats.sent[m.start]]
        first = feats.doc_i[m.start]
        for k in range(m.start - 1, s - 1, -1):  # the nearest cue word before the match
            if not cues.isdisjoint(feats.keys[k]):
                if not any(doc[i].text in _CLAUSE_BREAKS for i in range(feats.doc_i[k] + 1, first)) and _governs(
                    doc[feats.doc_i[k]], feats, m
                ):
                    return True
                break
        tok = _match_subject(feats, m)
        return tok is not None and tok.head.dep_ in _RELATIVE_DEPS and _relative(tok.head, tok)

    return subordinate


def _governs(cue: Token, feats: Features, m: Match) -> bool:
    """The clause a cue word opens ("if" marking its verb) holds the match (read when no comma
    closes that clause). Without punctuation the parser often makes the "if" clause the root
    and hangs the main clause under it ("if the light is still orange after that you have to
    unplug it": "have" as an adverbial clause of "is"; "if you're referring to the partner
    program you're required to have…": "required" as a relative clause of "program"); an "if"
    clause is never a sentence's main clause, so when its verb is the root, a clause under it
    that is adverbial is the main clause, and so is, under any "if" clause, a clause the parse
    calls relative with nothing relativized (``_relative``): the match in it is not conditional. Otherwise (a cue not attached as a clause's
    ``mark``, a match without a subject) the cue holds as before."""
    head = cue.head
    if cue.dep_ == "advmod":
        # a wh-adverb opening a time clause ("when", "whenever") belongs to its clause's verb: the
        # match is in that clause only when its subject's verb is that verb or under it ("for
        # when you have to reset it"); spoken without a comma, a main clause after the time
        # clause is the root above it ("when you pick it up you'll have to sign": "have" is not
        # under "pick")
        tok = _match_subject(feats, m)
        if tok is None:
            return True
        verb = tok.head
        while verb.i != head.i:
            if verb.head.i == verb.i:
                return False
            verb = verb.head
        return True
    if cue.dep_ != "mark":
        return True
    root = head.dep_ == "ROOT"
    tok = _match_subject(feats, m)
    if tok is None:
        return True
    verb, subject = tok.head, tok
    while verb.i != head.i and verb.head.i != verb.i:
        if (root and verb.dep_ == "advcl") or (verb.dep_ in _RELATIVE_DEPS and not _relative(verb, subject)):
            return False
        subject = next((c for c in verb.head.children if c.dep_ in _SUBJECT_DEPS), subject)
        verb = verb.head
    # not under the "if" clause's verb is no evidence: the parse of a long sentence often hangs a
    # relative clause elsewhere ("…and password that you need to recover, check this out": "need"
    # under "check")
    return True


def _match_subject(feats: Features, m: Match) -> Token | None:
    """The first token of match ``m`` that the parse makes a subject (``_SUBJECT_DEPS``), or None."""
    for k in range(m.start, m.end):
        tok = feats.doc[feats.doc_i[k]]
        if tok.dep_ in _SUBJECT_DEPS:
            return tok
    return None


_RELATIVIZER_TAGS = ("WDT", "WP", "WP$", "WRB", "IN")
_FILLED_DEPS = ("dobj", "ccomp", "xcomp", "attr", "oprd")


def _relative(verb: Token, subject: Token) -> bool:
    """A verb the parse put in a relative clause is one: the clause has a relativizer ("the card
    *that* you need to remove") or an empty place the noun fills (no object on the last verb of
    its "need to …" chain: "the steps you need to take"); and no comma, colon or dash between the
    clause's first word and its subject (a run-on misread as a relative clause, "…the token,
    where the cache, then you have to reauthorize it", or "the new roof age factor you need to
    send us a roof inspection": an object in place, so nothing is relativized)."""
    before = verb.doc[verb.left_edge.i : subject.i]
    if any(t.text in _CLAUSE_BREAKS for t in before):
        return False
    if any(t.tag_ in _RELATIVIZER_TAGS or t.lower_ == "that" for t in before):
        return True
    last = verb
    while True:
        nxt = next((c for c in last.children if c.dep_ == "xcomp"), None)
        if nxt is None:
            break
        last = nxt
    return not any(c.dep_ in _FILLED_DEPS for c in last.children)


def _near(cues: frozenset[int], before: int, after: int, but_pos: int = -1) -> Callable[[Match, EvalContext], bool]:
    """A cue word within ``before`` tokens before or ``after`` tokens after the match (same
    sentence); not one tagged ``but_pos`` (spaCy's part of speech: the negation test passes
    INTJ, so an answer's "no" negates nothing, with or without the comma after it: "no you'll
    have to email the photos")."""

    def near(m: Match, ctx: EvalContext) -> bool:
        feats = ctx.feats
        s, e = feats.sent_spans[feats.sent[m.start]]
        window = list(range(max(s, m.start - before), m.start)) + list(range(m.end, min(e, m.end + after)))
        rows, doc_i = feats.rows, feats.doc_i
        return any(not cues.isdisjoint(feats.keys[k]) and rows[doc_i[k]][4] != but_pos for k in window)

    return near


def _intj_pos() -> int:
    return _pos_table()[4]


# ---------------------------------------------------------------- future-tense commitments

_FUTURE_WORDS = ("will", "shall", "going", "gon")
# "we plan to send", "our team intends to add": a present-tense plan governs an infinitive
_PLAN_WORDS = ("plan", "intend", "aim", "mean")
# "we've asked a specialist to call you": a done delegation of an action to someone
_DELEGATE_WORDS = ("ask", "request", "tell", "instruct")
# "I've passed this to our web team to fix", "booked an engineer to come out", "put a note on
# for billing to give you a ring": a hand-over done (or being done) whose purpose, a
# to-infinitive, is the action promised
_HANDOVER_WORDS = (
    "pass",
    "send",
    "forward",
    "refer",
    "flag",
    "book",
    "arrange",
    "assign",
    "put",
    "escalate",
    "raise",
    "log",
    "note",
    "schedule",
)
# "our plan is to get a fix out": a plan said as a noun, the subject of "is" + to-infinitive
_PLAN_NOUNS = ("plan", "aim", "intention", "goal")
_SUBJECT_DEPS = ("nsubj", "nsubjpass")


def future_actions(actions: CompiledLexicon, bit: int, feats: Features) -> list[Match]:
    """Commitments to a future action: a subject, then "will"/"'ll"/"going to", then a verb
    phrase from ``actions`` ("someone will call you back", "it'll get reviewed", passives "it
    will be fixed"). Also: a subject shared across "and" ("we're checking and will post an
    update"), a plan ("we plan|intend|aim to send", "our plan is to send"), a done delegation
    with a purpose infinitive ("we've asked a specialist to get back to you"), and a hand-over
    done or under way whose purpose is the action ("I've passed this to the team to fix"); not
    a delegation to "you" ("we've asked you to send it").

    Skipped: questions with the modal first ("will you..."), negated modals ("won't"),
    obligations ("you'll have to..."), whose verb is not an action, and an action that one of
    the lexicon's ``except`` phrases overlaps. Cached per utterance; the
    parse part (``future_frames``) is shared by every actions lexicon.
    """
    key = "future:" + actions.name
    cached = feats.cache.get(key)
    if cached is not None:
        return cached
    out: list[Match] = []
    vetoes: list[tuple[int, int]] | None = None
    for start, candidates in future_frames(bit, feats):
        for doc_index in candidates:
            end = _action_end(actions.phrases, feats, doc_index)
            if end > start:
                # the lexicon's ``except`` phrases veto an action they overlap ("this will bring
                # up the menu"), as they veto any other find of the lexicon
                if actions.except_bit and feats.bits & actions.except_bit:
                    if vetoes is None:
                        vetoes = actions.excepts.find(feats, actions.except_bit)
                    verb = feats.content_pos(doc_index)
                    if any(vs < end and verb < ve for vs, ve in vetoes):
                        break
                out.append(Match(start, end, actions.name, feats))
                break
    feats.cache[key] = out
    return out


def future_frames(bit: int, feats: Features) -> list[tuple[int, list[int]]]:
    """Each future marker with a subject before it and a verb it governs, not negated: the
    content position where its subject starts, and the Doc indexes of the verbs that could be
    its action, in order (``_action_candidates`` at or after the marker). ``bit``: the
    markers' pre-filter bit. Cached per utterance."""
    frames = feats.cache.get("#future-frames")
    if frames is not None:
        return frames
    if feats.parts:  # a turn's reading: its parts' frames, without building the joined Doc
        joined = _joined_frames(bit, feats.parts)
        if joined is not None:
            feats.cache["#future-frames"] = joined
            return joined
    frames = []
    if not feats.bits & bit:  # no marker in the utterance (its bits are its words' or'ed): no word to test
        feats.cache["#future-frames"] = frames
        return frames
    doc, doc_i = feats.doc, feats.doc_i
    for pos, here in enumerate(feats.word_bits):
        if not here & bit:
            continue
        tok = doc[doc_i[pos]]
        verb, holder = _future_head(tok)
        if verb is None or holder is None:
            continue
        subject = _subject_of(holder)
        if subject is None or subject.i > tok.i:
            continue
        # a negation of the verb or of the subject's holder; one token's children read once when
        # they are the same token (spaCy makes a Token and a generator step per child read)
        if any(c.dep_ == "neg" for c in verb.children) or (
            holder.i != verb.i and any(c.dep_ == "neg" for c in holder.children)
        ):
            continue
        if verb is tok:  # the parser left the modal without a verb ("We'll forward this"): the next words
            candidates = [i for i in (tok.i + 1, tok.i + 2) if i < len(doc) and doc[i].tag_ not in ("VBN", "VBG")]
        else:  # a complement clause before the modal belongs to another verb
            candidates = [cand.i for cand in _action_candidates(verb) if cand.i >= tok.i]
        frames.append((feats.content_pos(subject.left_edge.i), candidates))
    feats.cache["#future-frames"] = frames
    return frames


def _joined_frames(bit: int, parts: Sequence[Features]) -> list[tuple[int, list[int]]] | None:
    """``future_frames`` of the parts' features joined (``FeatureExtractor.join``), read from
    each part's own Doc: the joined Doc keeps each part's tokens and parse, so a frame, which
    reads a marker's parse, is its part's frame with positions moved on. Except within two
    tokens of a part's end, where a "will" or "going" marker reads the tokens after it (the next
    part's, in the joined Doc): None when one sits there (the joined Doc decides). The other
    markers (a plan, a delegation, a hand-over) read only their parse."""
    out: list[tuple[int, list[int]]] = []
    k0 = n0 = 0  # the part's first content position and Doc index in the joined reading
    last = len(parts) - 1
    adjacent = _adjacent_markers()
    for p, part in enumerate(parts):
        n = len(part.rows)
        rows, doc_i = part.rows, part.doc_i
        if p < last and any(
            here & bit and doc_i[k] >= n - 2 and rows[doc_i[k]][2] in adjacent for k, here in enumerate(part.word_bits)
        ):
            return None
        for start, candidates in future_frames(bit, part):
            out.append((start + k0, [i + n0 for i in candidates]))
        k0 += len(part.keys)
        n0 += n
    return out


_ADJACENT: list[frozenset[int]] = []


def _adjacent_markers() -> frozenset[int]:
    """Lemma keys of the future markers whose reading looks at the next tokens, not only at their
    parse ("will" left without a verb, "going" + "to"); made once, when first needed."""
    if not _ADJACENT:
        _ADJACENT.append(frozenset(phrase_key(w) for w in ("will", "shall", "go")))
    return _ADJACENT[0]


def _subject_of(verb: Token) -> Token | None:
    """The verb's subject, or for a verb joined by "and" with none of its own, the subject of
    the verb it is joined to ("We're checking and will post...")."""
    for _ in range(4):
        subject = next((c for c in verb.children if c.dep_ in _SUBJECT_DEPS), None)
        if subject is not None or verb.dep_ != "conj" or verb.head.i == verb.i:  # (Tokens are made anew: no 'is')
            return subject
        verb = verb.head
    return None


def _to_infinitive(verb: Token, deps: tuple[str, ...] = ("xcomp",)) -> Token | None:
    """The "to" + verb complement of ``verb`` ("plan *to send*", "asked them *to call*"), or None;
    ``deps``: the dependencies it may have (a purpose clause is an ``advcl``)."""
    return next(
        (
            c
            for c in verb.children
            if c.dep_ in deps
            and c.pos_ in ("VERB", "AUX")
            and any(g.dep_ == "aux" and g.lower_ == "to" for g in c.children)
        ),
        None,
    )


def _future_head(tok: Token) -> tuple[Token | None, Token | None]:
    """For a future marker token, the verb it governs and the token holding the subject."""
    # the lemma and the tag read once (each read is a spaCy property and a string lookup)
    lemma, tag = tok.lemma_, tok.tag_
    if tag == "MD" and lemma in ("will", "shall"):
        dep = tok.dep_
        if dep == "aux":
            return tok.head, tok.head
        if dep == "ROOT":  # a modal the parser left as the head ("We'll forward this")
            return tok, tok
        return None, None
    if lemma in _PLAN_WORDS and tag in ("VBP", "VBZ", "VBG"):
        return _to_infinitive(tok), tok
    if lemma in _DELEGATE_WORDS or lemma in _HANDOVER_WORDS:
        handover = lemma not in _DELEGATE_WORDS
        if tag not in (("VBD", "VBN", "VBG") if handover else ("VBD", "VBN")):
            return None, None
        objects = [c for c in tok.children if c.dep_ in ("dobj", "dative")]
        # "we've asked you to send the receipt" hands the action to the customer
        if not objects or any(c.lower_ in ("you", "yourself") for c in objects):
            return None, None
        return _to_infinitive(tok, ("xcomp", "advcl") if handover else ("xcomp",)), tok
    if lemma in _PLAN_NOUNS and tok.pos_ == "NOUN" and tok.dep_ == "nsubj" and tok.head.lemma_ == "be":
        return _to_infinitive(tok.head), tok.head
    if lemma == "go" and tag in ("VBG", "VB"):  # (the next token made only for "going")
        nxt = tok.nbor(1) if tok.i + 1 < len(tok.doc) else None
        if nxt is not None and nxt.norm_ == "to":
            verb = next((c for c in tok.children if c.dep_ == "xcomp"), None)
            return verb, tok
    return None, None


def _action_candidates(verb: Token) -> list[Token]:
    """The verb, its conjoined verbs that share its subject, and causative complements
    ("have a manager call", "get that sent") that are not to-infinitives."""
    # the verb's children read once, for its conjoined verbs and its own complements (spaCy
    # makes a Token and a generator step per child each time ``children`` is read)
    kids = list(verb.children)
    verbs = [verb] + [
        c
        for c in kids
        if c.dep_ == "conj" and c.pos_ == "VERB" and not any(g.dep_ in _SUBJECT_DEPS for g in c.children)
    ]
    out = []
    for v in verbs:
        out.append(v)
        out.extend(
            c
            for c in (kids if v is verb else v.children)
            if c.dep_ in ("ccomp", "xcomp")
            and c.pos_ == "VERB"
            and not any(g.dep_ == "aux" and g.lower_ == "to" for g in c.children)
        )
    return out


def _action_end(phrases: PhraseIndex, feats: Features, doc_index: int) -> int:
    pos = feats.content_pos(doc_index)
    if pos >= len(feats.keys) or feats.doc_i[pos] != doc_index:
        return -1
    return phrases.match_at(feats, pos)


# ---------------------------------------------------------------- regex, token patterns, subjects


def regex_finder(finder: RegexFinder) -> Callable[[Features], list[Match]]:
    """RE2 search over the utterance text; each hit becomes the content tokens it covers.
    RE2 runs in linear time, so a team lead's pattern cannot freeze the sidebar."""
    compiled = compile_regex(finder.pattern, finder.ignore_case)
    key = f"re:{finder.ignore_case}:{finder.pattern}"
    # strings one of which every match holds: a text with none of them is not searched
    needed = tuple(sorted(required_literals(finder.pattern, finder.ignore_case) or ()))
    fold = finder.ignore_case

    def find(feats: Features) -> list[Match]:
        cached = feats.cache.get(key)
        if cached is not None:
            return cached
        text = feats.text
        out: list[Match] = []
        if needed:
            if fold:
                # the case-folded text once per utterance, shared by every finder that folds (an
                # agent's line meets two of uncommitted-promise's patterns): folding a tweet with
                # an emoji or a curly quote in it costs more than the literal tests after it
                folded: str | None = feats.cache.get("#casefold")
                if folded is None:
                    folded = feats.cache["#casefold"] = text.casefold()
                seen = folded
            else:
                seen = text
            for literal in needed:
                if literal in seen:
                    break
            else:
                feats.cache[key] = out
                return out
        for hit in compiled.finditer(text):
            start, end = hit.span()
            if end <= start:
                continue
            # the Doc only for a hit (a turn's joined Doc is built when first read)
            span = feats.doc.char_span(start, end, alignment_mode="expand")
            if span is None:
                continue
            s, e = feats.content_pos(span.start), feats.content_pos(span.end)
            if s < e:
                out.append(Match(s, e, "regex", feats))
        feats.cache[key] = out
        return out

    return find


def token_finder(
    finder: TokenFinder, key_bits: KeyBits, skipped: frozenset[int] = frozenset()
) -> tuple[Callable[[Features], list[Match]], int]:
    """spaCy ``Matcher`` patterns (built lazily, on the first utterance's vocabulary), and a
    pre-filter bit for ``Compiler.gate`` (0: none).

    The matcher only runs on an utterance where some pattern could match: every word its
    required tokens name (``LOWER``/``ORTH``/``NORM``/``LEMMA``/``TEXT``, a string or an ``IN``
    list) and every part of speech they require (``POS``) occurs. ``skipped``: keys of words
    the features leave out (fillers), which cannot serve as such a test."""
    import json

    patterns = [json.loads(p) for p in finder.patterns]
    needs: list[tuple[list[int], int]] = []  # per pattern: a bit per required word group, POS bits
    for pattern in patterns:
        groups, tags = _pattern_needs(pattern)
        usable = [g for g in groups if all(_plain_word(w) and phrase_key(w) not in skipped for w in g)]
        needs.append(([key_bits.add(phrase_key(w) for w in g) for g in usable], tags))
    gate_bit = 0
    if all(bits for bits, _ in needs):
        for bits, _ in needs:
            gate_bit |= bits[0]
    matchers: dict[int, Callable[[Features], set[tuple[int, int]]]] = {}  # per vocabulary
    key = "tokens:" + "\n".join(finder.patterns)  # matches cached per utterance: rules with equal patterns share them

    # per pattern, its group bits or'ed (each group has a bit of its own: all must be there) and its POS bits
    wanted = [(sum(bits), tags) for bits, tags in needs]

    def possible(feats: Features) -> bool:
        have, tags_here = feats.bits, feats.tags
        for mask, tags in wanted:
            # the words first: they fail far more often than the parts of speech, and each test
            # is an operation on integers of a few hundred bits
            if have & mask == mask and tags_here & tags == tags:
                return True
        return False

    def find(feats: Features) -> list[Match]:
        cached = feats.cache.get(key)
        if cached is not None:
            return cached
        if not possible(feats):
            none: list[Match] = []
            feats.cache[key] = none  # (rules with equal patterns ask again)
            return none
        vocab = feats.au.vocab  # (not from the Doc: a turn's joined Doc is built when first read)
        matches = matchers.get(id(vocab))
        if matches is None:
            matches = matchers[id(vocab)] = _pattern_matcher(patterns, vocab)
        spans = [(feats.content_pos(s), feats.content_pos(e)) for s, e in matches(feats)]
        spans = sorted({(s, e) for s, e in spans if s < e}, key=lambda se: (se[0], -se[1]))
        out: list[Match] = []
        for s, e in spans:  # longest first at each start, no overlaps
            if out and s < out[-1].end:
                continue
            out.append(Match(s, e, "tokens", feats))
        feats.cache[key] = out
        return out

    return find, gate_bit


def _pattern_matcher(patterns: list[list[dict[str, Any]]], vocab: Vocab) -> Callable[[Features], set[tuple[int, int]]]:
    """(start, end) of every match of ``patterns`` in an utterance's Doc: compiled here
    (``rules.tokens``) when they only use what that supports, else by spaCy's ``Matcher``."""
    compiled = compile_patterns(patterns, vocab)
    if compiled is not None:
        return compiled.find
    from spacy.matcher import Matcher

    matcher = Matcher(vocab)
    matcher.add("tokens", re2_predicates(patterns))  # REGEX on RE2, never on backtracking re
    return lambda feats: {(s, e) for _, s, e in matcher(feats.doc)}


def _plain_word(word: str) -> bool:
    """A word the features keep (not punctuation, not empty)."""
    return bool(word) and word.replace("'", "").replace("-", "").isalnum()


def _pattern_needs(pattern: list[dict[str, Any]]) -> tuple[list[list[str]], int]:
    """What a token pattern needs in an utterance: lowercase word groups (one word of each must
    occur) and parts of speech (as ``1 << POS id`` bits), from its tokens that must appear."""
    from spacy.symbols import IDS

    groups: list[list[str]] = []
    tags = 0
    for spec in pattern:
        if not isinstance(spec, dict) or spec.get("OP") not in (None, "+", "{1}"):  # optional or negated
            continue
        for attr in ("LOWER", "ORTH", "NORM", "LEMMA", "TEXT"):
            value = spec.get(attr)
            if isinstance(value, str):
                groups.append([value.lower()])
            elif (
                isinstance(value, dict)
                and set(value) == {"IN"}
                and isinstance(value["IN"], list)
                and value["IN"]
                and all(isinstance(v, str) for v in value["IN"])
            ):
                groups.append([v.lower() for v in value["IN"]])
        pos = spec.get("POS")
        if isinstance(pos, str) and pos in IDS:
            tags |= 1 << IDS[pos]
    return groups, tags


_AUX_DEPS = ("aux", "auxpass")


def subject_finder(
    finder: SubjectFinder, verbs: frozenset[int], key_bits: KeyBits
) -> tuple[Callable[[Features], list[Match]], int]:
    """A subject word (e.g. "you") whose verb, or one of the verb's auxiliaries, is in ``verbs``:
    "you need to restart", "you should have called", "you didn't send". The match runs from the
    subject to the verb."""
    subjects = frozenset(phrase_key(w) for w in finder.subjects)
    bit = key_bits.add(subjects)

    def find(feats: Features) -> list[Match]:
        if not feats.bits & bit:
            return []
        doc = feats.doc
        out: list[Match] = []
        for pos, keys in enumerate(feats.keys):
            if subjects.isdisjoint(keys):
                continue
            tok = doc[feats.doc_i[pos]]
            if tok.dep_ not in _SUBJECT_DEPS:
                continue
            verb = tok.head
            heads = [verb] + [c for c in verb.children if c.dep_ in _AUX_DEPS]
            hit = [h for h in heads if int(h.lemma) in verbs or int(h.lower) in verbs]
            if not hit:
                continue
            last = max(h.i for h in hit)
            end = feats.content_pos(last + 1) if last >= tok.i else feats.content_pos(tok.i + 1)
            out.append(Match(pos, max(end, pos + 1), "subject", feats))
        return out

    return find, bit


# a verb's own negation and the words that keep a claim open ("still hasn't", "not ... yet")
_NEG_DEPS = ("neg", "advmod", "npadvmod", "dobj")
# a verb whose negation is not the claimed verb's: "you didn't *have* to help"
_NEED_VERBS = frozenset(phrase_key(w) for w in ("have", "need", "want", "mean", "got"))
_STILL_YET = frozenset(phrase_key(w) for w in ("still", "yet"))
# a question asked with this word is a reproach, not a question about the claim ("Why do you refuse…?")
_REPROACH_WH = frozenset(phrase_key(w) for w in ("why", "how"))
# words beside a subject that name who it is ("your team", "you guys", "y'all")
_OWNER_DEPS = ("poss", "nmod", "det", "appos", "compound", "dep")
_FINITE_TAGS = ("VBZ", "VBD", "VBP")
_CONCEDE = frozenset(phrase_key(w) for w in ("understand", "know", "realize", "realise", "appreciate", "get"))
_WITHOUT = phrase_key("without")
_TIMES = phrase_key("time")
# who a contact went to: "emailed *you*", "called *your team*", "wrote *to* you"
_CONTACTED_DEPS = ("dobj", "dative", "pobj")


class _ClaimWords:
    """The word sets a ``claim`` finder reads (``ClaimFinder``'s lexicons as word keys)."""

    def __init__(self, finder: ClaimFinder, word_sets: Mapping[str, frozenset[int]]) -> None:
        empty: frozenset[int] = frozenset()

        def words(name: str | None) -> frozenset[int]:
            return word_sets[name] if name else empty

        self.by = word_sets[finder.by]
        self.staff = words(finder.staff)
        self.wrongs = words(finder.wrongs)
        self.duties = words(finder.duties)
        self.enables = words(finder.enables)
        self.harms = words(finder.harms)
        self.prevents = words(finder.prevents)
        self.fixes = words(finder.fixes)
        self.victims = words(finder.victims)
        self.unasked = words(finder.unasked)
        self.contacts = words(finder.contacts)
        self.repeats = words(finder.repeats)
        self.negation = word_sets[finder.negation]
        self.verbs = self.wrongs | self.duties | self.enables | self.fixes | self.contacts
        if self.unasked:
            self.verbs |= frozenset((_WITHOUT,))


def _said(tok: Token, words: frozenset[int]) -> bool:
    return int(tok.lemma) in words or int(tok.lower) in words


def claim_finder(
    finder: ClaimFinder, word_sets: Mapping[str, frozenset[int]], key_bits: KeyBits
) -> tuple[Callable[[Features], list[Match]], int]:
    """A grievance the words claim about the company, read from spaCy's parse (``ClaimFinder``).

    For each subject and the verbs it governs (its verb, that verb's "to"/-ing complements —
    "refuse *to close*", "keep *ignoring*", "not even trying to *help*" —, and verbs joined to it
    by "and" without a subject of their own, each with its own negation):

    * a ``by`` subject (the word, or a word of ``staff`` owned by one: "your team", "you guys";
      without ``staff``, any word owned by one) whose verbs do a ``wrongs`` verb not negated
      ("you refuse to close", "your staff lied"), or do it "without" a word of ``unasked`` ("you
      closed my account without any warning"), or fail a ``duties`` or ``fixes`` verb, negated
      on the way to it ("you never answer", "y'all won't even let me", "you haven't fixed it"; not
      a judgement: "you did nothing wrong"), or lead with an ``enables`` verb to a ``harms`` word
      in what that verb governs ("you are letting people get away with gouging"), unless a
      ``prevents`` word or a negation stands between them ("you helped me avoid the fraud");
    * a ``victims`` subject of a passive ``wrongs`` verb ("I got denied", "we were lied to"), or
      of a ``contacts`` verb whose object is the company, said ``repeats`` times ("I've emailed
      you several times", "we called your office three times");
    * a ``fixes`` verb negated with "still"/"yet", in the passive whoever the subject ("this
      hasn't been resolved yet");
    * a sentence that opens on its verb, with no subject (an @handle dropped from a written
      thread: "Refuses to refund me", "Is doing nothing to help"): a ``wrongs``, ``unasked`` or
      ``enables`` claim, or a ``duties`` verb whose object negates it ("did nothing"; not "Won't
      let me log in", an app's fault).

    A claim asked about is not made: in a sentence ending "?" whose subject comes after the
    verb's auxiliary ("Do you refuse returns?", "Can you block this number?") it is skipped,
    unless the sentence asks "why" or "how" ("Why do you refuse…?"); nor one the customer grants
    ("I understand you can't do anything about it"). The match runs from the subject to the
    claimed verb."""
    w = _ClaimWords(finder, word_sets)
    bit = key_bits.add(w.verbs)
    key = f"claim:{bit}"  # cached per utterance (not across passes: no "#")

    def find(feats: Features) -> list[Match]:
        if not feats.bits & bit:
            return []
        found = feats.cache.get(key)
        if found is None:
            if feats.parts:  # a turn: its parts' claims (a claim does not cross them), no joined Doc built
                found = []
                k0 = 0
                for part in feats.parts:
                    found += [Match(m.start + k0, m.end + k0, m.label, feats) for m in find(part)]
                    k0 += len(part.keys)
            else:
                found = read(feats)
            feats.cache[key] = found
        return found

    def read(feats: Features) -> list[Match]:
        # from each verb of the lexicons (its word or base form in the token table) up to the
        # clause that holds its subject: Token objects only for those, not the whole Doc
        doc = feats.doc
        out: list[Match] = []
        read_clauses: set[int] = set()
        for i, row in enumerate(feats.rows):
            if row[0] not in w.verbs and row[2] not in w.verbs:
                continue
            clause = doc[i]
            if clause.lower == _WITHOUT:
                clause = clause.head
            while clause.dep_ == "xcomp" and clause.head.i != clause.i and not _has_subject(clause):
                clause = clause.head
            if clause.i in read_clauses:
                continue
            read_clauses.add(clause.i)
            owner = clause  # the verb holding the subject ("I emailed … and *got denied*": "emailed")
            if clause.dep_ == "conj" and not _has_subject(clause) and clause.head.pos_ in ("VERB", "AUX"):
                owner = clause.head
            subject = next((c for c in owner.children if c.dep_ in _SUBJECT_DEPS), None)
            hit: Token | None = None
            if subject is None:
                if owner.i == clause.i and clause.dep_ == "ROOT" and _opens_sentence(clause):
                    # said of someone not named: the company the customer addressed, whose name
                    # (an @handle) was dropped
                    hit = _claimed(clause, None, False, False, True, False, w)
                if hit is not None:
                    _add(out, feats, clause.i, hit.i)
                continue
            company = _company(subject, w)
            victim = bool(w.victims) and _said(subject, w.victims)
            if not (company or victim or w.fixes) or _asked_about(owner, subject, feats) or _conceded(owner):
                continue
            passive = owner.i == clause.i and subject.dep_ == "nsubjpass"
            hit = _claimed(clause, subject, passive, company, False, victim, w)
            if hit is not None:
                _add(out, feats, subject.i, hit.i)
        return out

    return find, bit


def _add(out: list[Match], feats: Features, a: int, b: int) -> None:
    """A claim's match, from the first to the last of two Doc tokens."""
    start = feats.content_pos(min(a, b))
    out.append(Match(start, max(feats.content_pos(max(a, b) + 1), start + 1), "claim", feats))


def _opens_sentence(verb: Token) -> bool:
    """The verb (or its first auxiliary) is the first word of its sentence, beyond punctuation,
    a conjunction, an interjection or an adverb ("And refuses to…"), and finite ("Refuses",
    "Is doing"), so not an order ("Fix it") nor a "Won't let me" with a modal."""
    sent = verb.sent
    opener = next((t for t in sent if not (t.is_punct or t.dep_ in ("cc", "intj", "advmod"))), None)
    if opener is None or verb.pos_ not in ("VERB", "AUX"):
        return False
    auxes = [c for c in verb.children if c.dep_ in _AUX_DEPS]
    if opener.i != min([verb.i] + [c.i for c in auxes]):
        return False
    return verb.tag_ in _FINITE_TAGS or any(c.tag_ in _FINITE_TAGS for c in auxes)


def _conceded(verb: Token) -> bool:
    """The customer grants it rather than claims it: the clause is what "I understand / know /
    realize / appreciate / get" takes ("I understand you can't do anything about it")."""
    if verb.dep_ != "ccomp" or verb.head.i == verb.i:
        return False
    head = verb.head
    return int(head.lemma) in _CONCEDE and any(c.dep_ == "nsubj" and c.lower_ in ("i", "we") for c in head.children)


def _company(tok: Token, w: _ClaimWords) -> bool:
    """The word stands for the company: a ``by`` word, or a ``staff`` word one owns."""
    return _said_by(tok, w.by) or (
        (not w.staff or _said(tok, w.staff)) and any(c.dep_ in _OWNER_DEPS and _said_by(c, w.by) for c in tok.children)
    )


def _said_by(tok: Token, by: frozenset[int]) -> bool:
    """The word is one of ``by``, as said, in base form, or without its apostrophe ("Y'all")."""
    if _said(tok, by):
        return True
    text = tok.lower_
    return ("'" in text or "’" in text) and phrase_key(text.replace("'", "").replace("’", "")) in by


def _has_subject(verb: Token) -> bool:
    return any(c.dep_ in _SUBJECT_DEPS for c in verb.children)


def _asked_about(verb: Token, subject: Token, feats: Features) -> bool:
    """The claim is the question itself: its sentence ends with "?" and an auxiliary of its verb
    comes before the subject ("Do you…", "Can your team…"), or, with or without the mark, the
    clause is asked by its word order (``_inverted``: "do you refuse card payments", written
    without "?"); and no "why"/"how" is asked."""
    sent = subject.sent
    last = sent[-1] if sent[-1].text.strip() or len(sent) < 2 else sent[-2]
    if last.text == "?":
        if not any(c.dep_ in _AUX_DEPS and c.i < subject.i for c in verb.children):
            return False
    elif not (
        _may_ask(feats, feats.sent[min(feats.content_pos(subject.i), len(feats.sent) - 1)]) and _inverted(verb, subject)
    ):
        return False
    return not any(int(t.lower) in _REPROACH_WH for t in sent)


def _claimed(
    clause: Token, subject: Token | None, passive: bool, company: bool, elided: bool, victim: bool, w: _ClaimWords
) -> Token | None:
    """The verb of ``clause``'s chain (the verb and its "to"/-ing complements) that makes a
    claim, or None (see ``claim_finder``)."""
    passive = passive or any(c.dep_ == "auxpass" for c in clause.children)
    negated = False
    nothing_done = False  # negated by its object: "did nothing", "is doing nothing to help"
    still = False
    unasked = False  # "without telling me", "without any warning"
    verb: Token | None = clause
    while verb is not None:
        for c in verb.children:
            if c.dep_ in _NEG_DEPS and _said(c, w.negation):
                negated = True
                nothing_done = nothing_done or c.dep_ == "dobj"
            elif c.dep_ == "advmod" and int(c.lower) in _STILL_YET:
                still = True
            elif w.unasked and c.dep_ == "prep" and int(c.lower) == _WITHOUT:
                unasked = unasked or any(g.dep_ in ("pobj", "pcomp") and _said(g, w.unasked) for g in c.children)
        if elided:
            if not passive and not negated and (_said(verb, w.wrongs) or unasked):
                return verb
            if not passive and nothing_done and _said(verb, w.duties) and not _judged(verb):
                return verb
        elif passive:
            if victim and not negated and _said(verb, w.wrongs) and verb.tag_ == "VBN":
                return verb
            if negated and still and _said(verb, w.fixes):
                return verb
        elif company:
            if not negated and (_said(verb, w.wrongs) or unasked):
                return verb
            if negated and (_said(verb, w.duties) or _said(verb, w.fixes)) and not _judged(verb):
                return verb
        elif victim and not negated and _said(verb, w.contacts) and _repeated_contact(verb, w):
            return verb
        if (company or elided) and not passive and _said(verb, w.enables) and _leads_to_harm(verb, subject, w):
            return verb
        if int(verb.lemma) in _NEED_VERBS:
            negated = False
        verb = next((c for c in verb.children if c.dep_ == "xcomp" and c.pos_ in ("VERB", "AUX")), None)
    return None


def _repeated_contact(verb: Token, w: _ClaimWords) -> bool:
    """The contact went to the company ("emailed you", "called your office", "wrote to your
    team") and was said to be repeated: a ``repeats`` word on the verb ("repeatedly", "twice"),
    or "times" counted by a number above one or a ``repeats`` word ("several times", "so many
    times", "three times")."""
    addressed = False
    repeated = False
    for c in verb.children:
        targets = [g for g in c.children if g.dep_ == "pobj"] if c.dep_ == "prep" else [c]
        if any(t.dep_ in _CONTACTED_DEPS and _company(t, w) for t in targets):
            addressed = True
        if _said(c, w.repeats):
            repeated = True
        elif int(c.lemma) == _TIMES:
            for g in c.children:
                if _said(g, w.repeats) or (g.like_num and g.lower_ not in ("1", "one")):
                    repeated = True
    return addressed and repeated


def _leads_to_harm(verb: Token, subject: Token | None, w: _ClaimWords) -> bool:
    """A ``harms`` word in what the verb governs (not its subject), with no ``prevents`` word or
    negation between them."""
    for c in verb.children:
        if (subject is not None and c.i == subject.i) or c.dep_ in _SUBJECT_DEPS:
            continue
        for t in c.subtree:
            if _said(t, w.harms) and not _prevented(t, verb, w):
                return True
    return False


def _judged(verb: Token) -> bool:
    """The duty is judged, not failed: "you did nothing *wrong*", "you didn't do anything bad"."""
    return any(c.pos_ == "ADJ" for c in verb.children) or any(
        g.pos_ == "ADJ" for c in verb.children if c.dep_ == "dobj" for g in c.children
    )


def _prevented(harm: Token, verb: Token, w: _ClaimWords) -> bool:
    """Between the ``enables`` verb and the harm word, a word of ``prevents`` or a negation turns
    it around ("you helped me *avoid* the fraud", "let *no* scammers in")."""
    tok = harm
    while tok.i != verb.i and tok.head.i != tok.i:
        if _said(tok, w.prevents) or any(c.dep_ in ("neg", "det") and _said(c, w.negation) for c in tok.children):
            return True
        tok = tok.head
    return False


def given_names(intro: CompiledLexicon, feats: Features) -> frozenset[int]:
    """Names someone gave in this turn, as lowercase keys: proper nouns ("Dana Whitfield.", and
    PERSON entities when the entity recognizer ran), and the word(s) right after a phrase of
    the ``intro`` lexicon ("my name is Dana", "this is dana"); cached."""
    key = "names:" + intro.name
    cached = feats.cache.get(key)
    if cached is not None:
        return cached
    from spacy.symbols import PERSON, PROPN

    rows = feats.rows
    doc = feats.doc
    text = feats.text
    names = {
        rows[i][0]
        for label, start, end in feats.ents()
        if label == PERSON
        for i in range(start, end)
        if _name_word(doc, text, rows[i], short=True)
    }
    names.update(row[0] for row in rows if row[4] == PROPN and _name_word(doc, text, row))
    for m in lexicon_matches(intro, feats):
        for k in range(m.end, min(m.end + 2, len(feats.keys))):
            i = feats.doc_i[k]
            if feats.sent[k] != feats.sent[m.start] or not _name_word(doc, text, rows[i], short=True):
                break
            tok = doc[i]
            if tok.pos_ in ("PROPN", "NOUN", "ADJ", "X") or tok.text[:1].isupper():
                names.add(rows[i][0])
    found = feats.cache[key] = frozenset(names)
    return found


def _name_word(doc: "Doc", text: str, row: list[int], short: bool = False) -> bool:
    """Could this token be (part of) a name: letters only, not a stop word (and, unless
    ``short``, longer than one letter)?"""
    word = text[row[7] : row[7] + row[8]]
    if not word.isalpha() or (not short and len(word) < 2):
        return False
    return not doc.vocab[row[0]].is_stop
