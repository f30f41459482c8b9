"""Typed rules: what the loader builds from YAML and the engine compiles.

Everything here is a frozen dataclass with the ``Loc`` it came from, so the engine and
``rules test`` can always point back at ``file:line``. See ``rules/README.md`` for the YAML
grammar these types mirror.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal, Union

from ..types import Severity, Speaker
from .source import Loc, RuleProblem

# ---------------------------------------------------------------- lexicons


@dataclass(frozen=True)
class Phrase:
    """One phrase as written in YAML (tokenized when the engine compiles the lexicon)."""

    text: str
    loc: Loc


@dataclass(frozen=True)
class Lexicon:
    """A named list of phrases; optional spaCy entity labels also count as matches.

    A match that overlaps an ``except_`` phrase is dropped ("sorry" inside "sorry you feel").
    """

    name: str
    phrases: tuple[Phrase, ...]
    except_: tuple[Phrase, ...]
    entities: tuple[str, ...]
    description: str
    loc: Loc


# ---------------------------------------------------------------- match tests (says: skip_if)


@dataclass(frozen=True)
class InQuestion:
    """The match's sentence ends with a question mark."""


@dataclass(frozen=True)
class Conditional:
    """A conditional cue ("if", "unless") comes shortly before the match in its sentence."""

    cues: str
    before: int


@dataclass(frozen=True)
class Negated:
    """A negation cue is near the match: up to ``before`` tokens before or ``after`` after it."""

    cues: str
    before: int
    after: int


@dataclass(frozen=True)
class SentenceSays:
    """The match's sentence also contains a match of another lexicon (e.g. a time frame)."""

    lexicon: str


@dataclass(frozen=True)
class SentenceLacks:
    """The match's sentence has no match of another lexicon (with ``all``: a third party named
    in a sentence that does not also name the company)."""

    lexicon: str


@dataclass(frozen=True)
class ThenSays:
    """One of the ``sentences`` after the match's sentence, in the same utterance (or turn, for
    a turn rule), matches another lexicon and is not a question: "Someone will call you back.
    That'll be before five today." completes the promise; "Anything else today?" does not."""

    lexicon: str
    sentences: int


@dataclass(frozen=True)
class BeforeSays:
    """One of the ``sentences`` before the match's sentence, in the same utterance (or turn, for a
    turn rule), matches another lexicon and is not a question: "It'll be ready by six today. You'll
    get a text when it's ready." has its time just before."""

    lexicon: str
    sentences: int


@dataclass(frozen=True)
class AllTests:
    """Every one of ``tests`` holds for the match (``skip_if: [all: [...]]``; the tests of a
    ``skip_if`` list are any-of)."""

    tests: tuple["MatchTest", ...]


@dataclass(frozen=True)
class ReflectsOther:
    """The match's sentence repeats content words of the other speaker's last turn."""

    min_shared: int
    ignore: str


@dataclass(frozen=True)
class AfterRequest:
    """The match comes after a request to the other side, in its own sentence or the
    ``sentences`` before it in the same utterance: a question, a phrase of ``cues`` of two or
    more words ("send us", "let us know", "if you"), or a one-word phrase of ``cues`` said as an
    imperative ("Please *submit* a ticket and we will help"), after "please", or after
    "you can|could|may". A tag question ("Right?", "Yeah?", "…, eh?") asks for nothing."""

    cues: str
    sentences: int


@dataclass(frozen=True)
class Subordinate:
    """The match sits in a subordinate clause, by spaCy's parse and the punctuation: a
    one-word cue of lexicon ``cues`` ("if", "unless") earlier in its sentence with no comma,
    colon, semicolon or dash between them ("let us know if there's anything you need to
    change"), or its subject's verb heads a relative clause ("the steps you need to take")."""

    cues: str


MatchTest = Union[
    InQuestion,
    Conditional,
    Negated,
    SentenceSays,
    SentenceLacks,
    ThenSays,
    BeforeSays,
    ReflectsOther,
    AfterRequest,
    Subordinate,
    AllTests,
]

# ---------------------------------------------------------------- finders (what `says` looks for)


@dataclass(frozen=True)
class LexiconFinder:
    lexicons: tuple[str, ...]


@dataclass(frozen=True)
class FutureActionFinder:
    """A future-tense commitment ("will"/"'ll"/"going to") whose verb phrase is in ``actions``."""

    actions: str


@dataclass(frozen=True)
class RegexFinder:
    """A regular expression (RE2: linear time, no backtracking) searched in the utterance text."""

    pattern: str
    ignore_case: bool


@dataclass(frozen=True)
class TokenFinder:
    """spaCy ``Matcher`` token patterns (a list of patterns, each a list of token specs)."""

    patterns: tuple[str, ...]  # each pattern as canonical JSON (hashable, printable)


@dataclass(frozen=True)
class SubjectFinder:
    """One of ``subjects`` is the grammatical subject of a verb whose lemma, or the lemma of one
    of its auxiliaries ("should", "must"), is in lexicon ``verbs`` ("you need to", "you should")."""

    subjects: tuple[str, ...]
    verbs: str


@dataclass(frozen=True)
class ClaimFinder:
    """A grievance the words claim about the company (``conditions.claim_finder``): a subject of
    lexicon ``by`` ("you", "your team") that does a verb of ``wrongs`` ("refuse", "ignore"),
    fails a verb of ``duties`` ("never answer", "won't let"), or leads with a verb of
    ``enables`` to a word of ``harms`` ("letting people get away with gouging"); a subject of
    ``victims`` ("I", "we") that a ``wrongs`` verb was done to ("I got denied") or that
    ``contacts`` the company ``repeats`` times ("I emailed you several times"); a verb of
    ``fixes`` not done "still"/"yet" ("this hasn't been resolved yet"); done "without" a word of
    ``unasked`` ("without any warning"); ``staff``: who a ``by`` word may own ("your team").
    ``None``: not read. The full reading: ``conditions.claim_finder``."""

    by: str
    wrongs: str | None
    duties: str | None
    enables: str | None
    harms: str | None
    fixes: str | None
    victims: str | None
    prevents: str | None
    staff: str | None
    unasked: str | None
    contacts: str | None
    repeats: str | None
    negation: str


Finder = Union[LexiconFinder, FutureActionFinder, RegexFinder, TokenFinder, SubjectFinder, ClaimFinder]

# ---------------------------------------------------------------- conditions


@dataclass(frozen=True)
class SpeakerIs:
    speaker: Speaker


@dataclass(frozen=True)
class Says:
    finder: Finder
    skip_if: tuple[MatchTest, ...]


@dataclass(frozen=True)
class ToneIs:
    tone: str


@dataclass(frozen=True)
class MinLength:
    """At least ``words`` words or at least ``seconds`` long (either suffices). With
    ``per_line``, a turn of lines without measured times (a written thread's messages) needs one
    line of ``words`` words; with measured times the utterances are pieces of one speech, so the
    turn's words count together either way."""

    words: int | None
    seconds: float | None
    per_line: bool = False


@dataclass(frozen=True)
class SignalTest:
    """A conversation signal (``signals.SIGNAL_FIELDS``) is within [``min``, ``max``], or equals
    ``equals`` for a true/false signal. An unknown value (no audio, no baseline) never holds."""

    name: str
    min: float | None = None
    max: float | None = None
    equals: bool | None = None


@dataclass(frozen=True)
class MaxWords:
    words: int


@dataclass(frozen=True)
class Reflects:
    """This turn repeats ``min_shared`` content words (lemmas) of the turns that opened the
    expectation: a paraphrase of the customer's key point. With ``min_verbs``, at least that
    many of them are verbs or adjectives (what went wrong, not only the topic's nouns; a verb
    whose subject is the speaker, "we are working on it", tells their own action), unless
    a sentence repeating them, or the one just before or after it (a recognizer's full stop at
    a pause), says a phrase of lexicon ``problem`` ("if you're *unable* to receive the code"), or one sentence is mostly the customer's words: at least
    ``dense_min`` repeated, and they are at least ``dense_share`` of its content words ("So the
    app moved you to Thursday, but the wedding is on Wednesday"). With ``synonyms``, the words
    of one phrase of that lexicon (one slot of alternatives, "log|sign|login") count as one word
    on both sides ("I can't log in" - "you can't sign in")."""

    min_shared: int
    ignore: str
    min_verbs: int = 0
    problem: str | None = None
    dense_min: int = 0
    dense_share: float = 1.0
    synonyms: str | None = None


@dataclass(frozen=True)
class UsesName:
    """This turn says a name the other side gave in the turns that opened the expectation
    (a spaCy PERSON entity, or the words after a phrase of lexicon ``intro``: "my name is")."""

    intro: str


@dataclass(frozen=True)
class Earlier:
    """At least ``min_count`` earlier utterances, within the last ``turns`` utterances and/or
    ``seconds``, matched ``condition``."""

    condition: "Condition"
    turns: int | None
    seconds: float | None
    min_count: int


@dataclass(frozen=True)
class EventIs:
    """A timing event from the conversation signals: dead air or talk-over (only in ``when``)."""

    kind: Literal["dead_air", "talk_over"]
    min_s: float | None = None
    max_s: float | None = None
    hold_announced: bool | None = None
    by: Speaker | None = None  # talk_over: who started talking over the other


@dataclass(frozen=True)
class AllOf:
    items: tuple["Condition", ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple["Condition", ...]


@dataclass(frozen=True)
class Not:
    item: "Condition"


Condition = Union[
    SpeakerIs, Says, ToneIs, SignalTest, MinLength, MaxWords, Reflects, UsesName, Earlier, EventIs, AllOf, AnyOf, Not
]


def required_speakers(cond: Condition) -> set[Speaker]:
    """The speakers a condition insists on (``speaker:`` at its top level or in a top-level ``all``)."""
    if isinstance(cond, SpeakerIs):
        return {cond.speaker}
    if isinstance(cond, AllOf):
        return set().union(*(required_speakers(c) for c in cond.items))
    return set()


def _reads_entities(cond: Condition) -> bool:
    """A token pattern somewhere in ``cond`` tests an entity attribute (``ENT_TYPE``, ``ENT_IOB``…)."""
    if isinstance(cond, Says):
        return isinstance(cond.finder, TokenFinder) and any('"ent_' in p.lower() for p in cond.finder.patterns)
    if isinstance(cond, (AllOf, AnyOf)):
        return any(_reads_entities(c) for c in cond.items)
    if isinstance(cond, Not):
        return _reads_entities(cond.item)
    if isinstance(cond, Earlier):
        return _reads_entities(cond.condition)
    return False


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class Window:
    """How long an expectation waits: ``turns`` of the expected speaker and/or ``seconds``."""

    turns: int | None
    seconds: float | None


@dataclass(frozen=True)
class Expectation:
    """After the trigger, wait for ``speaker`` to satisfy ``condition`` within ``within``."""

    speaker: Speaker
    condition: Condition
    within: Window
    ignore: Condition | None
    if_call_ends: Literal["drop", "fire"]


@dataclass(frozen=True)
class Episode:
    """After a fire, the rule stays quiet until an utterance matches ``ends_when``."""

    ends_when: Condition


@dataclass(frozen=True)
class Rewrite:
    """Replace the words matched by ``phrase`` with ``replacement`` to build ``{rewrite}``."""

    phrase: Phrase
    replacement: str


@dataclass(frozen=True)
class Record:
    """A rule that records items on a list (the promise list) instead of nudging: each match
    becomes a ``Record`` event; ``time`` names the lexicon whose match in the same utterance
    says when (a promise with a time frame is "committed")."""

    list: str
    time: str | None


@dataclass(frozen=True)
class ExampleTurn:
    speaker: Speaker
    text: str
    pause_s: float
    seconds: float | None = None  # a measured duration (then the pace is known)
    louder_db: float | None = None  # voice level vs the speaker's usual (then every turn has a voice)


@dataclass(frozen=True)
class Example:
    """An inline example: ``fires`` must fire (at turn ``at`` if given), ``quiet`` must not."""

    kind: Literal["fires", "quiet"]
    number: int
    turns: tuple[ExampleTurn, ...]
    at: int | None
    loc: Loc


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    why: str
    message: str
    message_if_no_rewrite: str
    rewrites: tuple[Rewrite, ...]
    when: Condition
    expect: Expectation | None
    points_at: Literal["trigger", "reply"]
    episode: Episode | None
    cooldown_s: float
    enabled: bool
    examples: tuple[Example, ...]
    loc: Loc
    unless: Condition | None = None
    priority: int = 50
    status: Literal["stable", "experimental"] = "stable"
    tags: tuple[str, ...] = ()
    max_per_call: int | None = None
    params: tuple[tuple[str, float], ...] = ()
    record: Record | None = None
    quote: Literal["trigger", "reply", "none"] = "trigger"  # which evidence the card quotes
    rewrite_unless_next: str | None = None  # a lexicon: no rewrite when one of its phrases follows
    praise: bool = False  # a praise rule: a match (or, with ``expect``, a met expectation) is a ``Praise``
    # what 'when' and 'expect' read: each utterance, or each turn so far (a speaker's run of
    # utterances until the other side takes the floor, ``turns.TurnTracker``)
    unit: Literal["utterance", "turn"] = "utterance"
    # live calls: may fire on the stable prefix of an utterance still being spoken (``rules.early``);
    # None: the default for its kind of condition (``rules.early.fires_early``)
    early: bool | None = None

    @property
    def source(self) -> str:
        """``file:line`` of the rule, as shown in every nudge."""
        return str(self.loc)


@dataclass(frozen=True)
class Tone:
    """A named tone (``tone: angry``); today it is read from the words (``text``)."""

    name: str
    text: Condition
    loc: Loc


@dataclass(frozen=True)
class RuleSet:
    """Everything loaded from the rule files: enabled rules, lexicons, tones and fillers."""

    rules: tuple[Rule, ...]
    disabled: tuple[Rule, ...]
    lexicons: dict[str, Lexicon]
    tones: dict[str, Tone]
    fillers: tuple[str, ...]
    files: tuple[str, ...]
    warnings: tuple["RuleProblem", ...] = ()
    # where each entry of an ``overrides:`` list is written (a rule's or a lexicon's), in the order
    # loaded: ``rules test`` names the one that broke a default rule's example
    overrides: tuple[Loc, ...] = ()

    @cached_property
    def needs_entities(self) -> bool:
        """Whether anything here reads spaCy's named entities (a lexicon's ``entities``, a token
        pattern on ``ENT_*``); when nothing does, annotation skips the entity recognizer.
        Worked out once per rule set (the pipeline asks at every call)."""
        if any(lex.entities for lex in self.lexicons.values()):
            return True
        conditions: list[Condition] = [t.text for t in self.tones.values()]
        for rule in self.rules:
            conditions.append(rule.when)
            ends_when = rule.episode.ends_when if rule.episode is not None else None
            conditions += [c for c in (rule.unless, ends_when) if c is not None]
            if rule.expect is not None:
                conditions += [c for c in (rule.expect.condition, rule.expect.ignore) if c is not None]
        return any(_reads_entities(c) for c in conditions)

    def rule(self, rule_id: str) -> Rule:
        """The enabled rule with this id (KeyError if there is none)."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)
