"""The shape of a rule file, as pydantic v2 models: one description for the loader and the schema.

``RuleFileSpec`` and the models it holds say which keys each part of a rule file takes, which
are required, their types, names, ranges and choices. The loader (``rules.loader``) validates
every file's located YAML against them and maps pydantic's errors back to ``file:line:col``;
``rules.schema`` writes them out as the JSON Schema editors read
(``rules/rapport-rules.schema.json``). What needs the whole rule set (lexicon and tone names,
``$param`` values, rule ids of overrides, regexes compiled by RE2, spaCy token patterns, the
combinations a rule may use) is checked by the loader on the validated models.

The models describe and validate; they are not what runs. The loader builds the frozen
dataclasses of ``rules.model`` from them, and ``rules.conditions`` compiles those.

Conventions:
  * every model forbids unknown keys and is strict (``1`` is not ``true``, ``"2"`` is not a number);
  * optional keys default to ``None`` ("not written") without accepting an explicit null;
  * a value that may take several shapes (a name or a list of names, a number or ``$param``) is
    a union chosen by the shape of the input (``_by_shape``), so a wrong value gets one error
    for the shape it has, not one per alternative;
  * YAML spellings that are Python keywords (``not``, ``except``, ``from``, ``is``) are aliases.

Adding a key (say a rule-level ``unit:``, or a new kind of rule like ``record``): add the field
to its model with a type that says what it takes (the schema, "unknown key" hints and the key
lists below follow), regenerate ``rules/rapport-rules.schema.json``
(``rapport-assist rules schema``), then read the validated value where the loader builds that
part (``_Builder.add_rule`` for a rule: ``vals.get("unit")``) and put it on ``rules.model``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    WithJsonSchema,
    create_model,
    model_validator,
)

from ..signal_catalogue import SIGNAL_FIELDS
from ..types import SEVERITIES

EntityLabel = Literal[
    "DATE",
    "TIME",
    "CARDINAL",
    "ORDINAL",
    "MONEY",
    "PERCENT",
    "QUANTITY",
    "PERSON",
    "ORG",
    "GPE",
    "LOC",
    "PRODUCT",
    "EVENT",
    "NORP",
    "FAC",
    "WORK_OF_ART",
    "LAW",
    "LANGUAGE",
]
Status = Literal["stable", "experimental"]
Quote = Literal["trigger", "reply", "none"]  # which evidence a rule's card quotes
Unit = Literal["utterance", "turn"]  # what a rule reads: each utterance, or each turn so far
EventKind = Literal["dead_air", "talk_over"]
SpeakerName = Literal["agent", "customer"]
SkipTestName = Literal["question", "conditional", "negated", "after_request", "subordinate"]  # usable bare
Version = Literal[1]

SUPPORTED_VERSIONS: tuple[int, ...] = get_args(Version)
# The sidebar's words for the three severities; a rule file may use either spelling, in any case.
SEVERITY_WORDS = {"tip": "low", "nudge": "medium", "urgent": "high"}
STATUSES: tuple[str, ...] = get_args(Status)
QUOTES: tuple[str, ...] = get_args(Quote)
UNITS: tuple[str, ...] = get_args(Unit)
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
ENTITY_LABELS: tuple[str, ...] = get_args(EntityLabel)
MAX_REGEX_CHARS = 300
NAME_PATTERN = r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$"
PARAM_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
PARAM_PATTERN = r"^\$[a-z][a-z0-9_]*$"


def _unset(alias: str | None = None) -> Any:
    """The default of an optional key: ``None`` (not written), while an explicit null is refused."""
    return Field(default=None, alias=alias)


class Spec(BaseModel):
    """Base of every rule-file model: unknown keys are errors, types are strict, values frozen.

    ``what`` names the part in the loader's messages ("a rule", "lexicon {name!r}"; empty: named
    by the keys leading to it, e.g. "expect.within"); ``unknown`` names an unknown key of it.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    what: ClassVar[str] = ""
    unknown: ClassVar[str] = "key in {what}"


# Unions are chosen by the shape of the input (its YAML kind), so a wrong value gets one error
# for the shape it has, not one per alternative. The tags are in angle brackets: they show in
# pydantic's error paths, where the loader skips them (no rule-file key looks like one).
TEXT, NUMBER, FLAG, LIST, MAPPING = "<text>", "<number>", "<flag>", "<list>", "<mapping>"
SHAPE_WORDS = {
    TEXT: "text",
    NUMBER: "a number",
    FLAG: "true or false",
    LIST: "a list",
    MAPPING: "a mapping (key: value lines)",
}


def _by_shape(value: Any) -> str:
    """Which alternative of a union a value is for: its YAML shape."""
    if isinstance(value, (dict, BaseModel)):
        return MAPPING
    if isinstance(value, (list, tuple)):
        return LIST
    if isinstance(value, bool):
        return FLAG
    if isinstance(value, str):
        return TEXT
    if isinstance(value, (int, float)):
        return NUMBER
    return "<nothing>"


BY_SHAPE = Discriminator(_by_shape)

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
ParamName = Annotated[str, StringConstraints(pattern=PARAM_NAME_PATTERN)]
ParamRef = Annotated[str, StringConstraints(pattern=PARAM_PATTERN)]
# Text as written, without the final newline of folded (>) blocks; never empty.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Number = Annotated[
    Union[Annotated[float, Tag(NUMBER)], Annotated[ParamRef, Tag(TEXT)]],
    BY_SHAPE,
    Field(description="a number, or $name of one of the rule's params"),
]
Integer = Annotated[
    Union[Annotated[int, Tag(NUMBER)], Annotated[ParamRef, Tag(TEXT)]],
    BY_SHAPE,
    Field(description="a whole number, or $name of one of the rule's params"),
]
NameList = Annotated[list[Name], Field(min_length=1)]
Names = Annotated[Union[Annotated[Name, Tag(TEXT)], Annotated[NameList, Tag(LIST)]], BY_SHAPE]
# a phrase: "no", "yes" and "100" are words here (the loader reads them as written)
PhraseItem = Annotated[
    Union[Annotated[str, Tag(TEXT)], Annotated[float, Tag(NUMBER)], Annotated[bool, Tag(FLAG)]], BY_SHAPE
]
Phrases = list[PhraseItem]
Severity = Annotated[
    Literal["low", "medium", "high", "tip", "nudge", "urgent"],
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    WithJsonSchema({"enum": [*SEVERITIES, *SEVERITY_WORDS, *(w.upper() for w in SEVERITY_WORDS)]}),
]
Priority = Annotated[int, Field(ge=1, le=100, description="1..100; 100 is shown first when nudges compete")]


# ---------------------------------------------------------------- lexicons and tones


class LexiconSpec(Spec):
    """A lexicon written out (the short form is a bare list of phrases)."""

    what: ClassVar[str] = "lexicon {name!r}"

    phrases: Phrases = _unset()
    except_: Phrases = _unset(alias="except")
    entities: list[EntityLabel] = _unset()
    description: Text = _unset()


Lexicon = Annotated[Union[Annotated[Phrases, Tag(LIST)], Annotated[LexiconSpec, Tag(MAPPING)]], BY_SHAPE]


class ToneSpec(Spec):
    """A named tone: ``text`` is the condition on the words (voice signals are added by the estimate)."""

    what: ClassVar[str] = "tone {name!r}"

    text: ConditionSpec


# ---------------------------------------------------------------- says: finders and skip_if tests


Regex = Annotated[str, StringConstraints(max_length=MAX_REGEX_CHARS)]


class RegexSpec(Spec):
    pattern: Regex
    ignore_case: bool = _unset()


TokenSpec = Annotated[
    dict[str, Any], Field(description="a spaCy Matcher token spec, e.g. {LOWER: you} or {LEMMA: {IN: [a, b]}}")
]
TokenPattern = Annotated[list[TokenSpec], Field(min_length=1)]
PATTERNS, PATTERN = "<patterns>", "<pattern>"


def _tokens_shape(value: Any) -> str:
    """``tokens:`` holds one pattern (a list of specs) or a list of patterns (a list of lists)."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return PATTERNS
    return PATTERN if isinstance(value, list) else _by_shape(value)


Tokens = Annotated[
    Union[
        Annotated[Annotated[list[TokenPattern], Field(min_length=1)], Tag(PATTERNS)],
        Annotated[TokenPattern, Tag(PATTERN)],
    ],
    Discriminator(_tokens_shape),
]


class SubjectSpec(Spec):
    """``subject: {is: [you], verb: LEXICON}``: a clause whose subject is one of the words."""

    is_: Annotated[Union[Annotated[Text, Tag(TEXT)], Annotated[list[Text], Tag(LIST)]], BY_SHAPE] = Field(alias="is")
    verb: Name


class ClaimSpec(Spec):
    """``claim: {by: LEXICON, wrongs: LEXICON, duties: LEXICON, ...}``: a grievance the words
    claim about the company (rules/README.md, "Claims")."""

    by: Name
    wrongs: Name = _unset()
    duties: Name = _unset()
    enables: Name = _unset()
    harms: Name = _unset()
    fixes: Name = _unset()
    victims: Name = _unset()
    prevents: Name = _unset()
    staff: Name = _unset()
    unasked: Name = _unset()
    contacts: Name = _unset()
    repeats: Name = _unset()
    negation: Name = _unset()


class Empty(Spec):
    """A test without parameters."""


class ConditionalTest(Spec):
    cues: Name = _unset()
    before: Integer = _unset()


class NegatedTest(Spec):
    cues: Name = _unset()
    before: Integer = _unset()
    after: Integer = _unset()


class SubordinateTest(Spec):
    cues: Name = _unset()


class ReflectsOtherTest(Spec):
    min_shared: Integer
    ignore: Name = _unset()


class AfterRequestTest(Spec):
    cues: Name = _unset()
    sentences: Integer = _unset()


class ThenSaysTest(Spec):
    lexicon: Name
    sentences: Integer = _unset()


class SkipTestSpec(Spec):
    """One ``skip_if`` test written as a one-key mapping (``- negated: {before: 3}``)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})
    what: ClassVar[str] = "skip_if"
    unknown: ClassVar[str] = "skip_if test"

    question: Empty = _unset()
    conditional: ConditionalTest = _unset()
    negated: NegatedTest = _unset()
    subordinate: SubordinateTest = _unset()
    sentence_says: Name = _unset()
    sentence_lacks: Name = _unset()
    then_says: ThenSaysTest = _unset()
    reflects_other: ReflectsOtherTest = _unset()
    after_request: AfterRequestTest = _unset()
    before_says: ThenSaysTest = _unset()
    all: Annotated[list["SkipTest"], Field(min_length=1)] = _unset()  # skip when every one holds

    @model_validator(mode="after")
    def _one_test(self) -> "SkipTestSpec":
        if len(self.model_fields_set) != 1:
            raise ValueError("a skip_if test is a name or a one-key mapping")
        return self


SkipTest = Annotated[Union[Annotated[SkipTestName, Tag(TEXT)], Annotated[SkipTestSpec, Tag(MAPPING)]], BY_SHAPE]
SkipTestSpec.model_rebuild()  # ``all:`` holds skip tests


class SaysSpec(Spec):
    """``says:`` written out: exactly one finder, and the tests that skip a match."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})
    what: ClassVar[str] = "says"

    lexicon: Names = _unset()
    future_action: Name = _unset()
    regex: Annotated[
        Union[Annotated[Regex, Tag(TEXT)], Annotated[RegexSpec, Tag(MAPPING)]],
        BY_SHAPE,
        Field(description="an RE2 regular expression (linear time: no backreferences or lookarounds)"),
    ] = _unset()
    tokens: Tokens = _unset()
    subject: SubjectSpec = _unset()
    claim: ClaimSpec = _unset()
    skip_if: list[SkipTest] = _unset()


SAYS_FINDERS = ("lexicon", "future_action", "regex", "tokens", "subject", "claim")
Says = Annotated[
    Union[Annotated[Name, Tag(TEXT)], Annotated[NameList, Tag(LIST)], Annotated[SaysSpec, Tag(MAPPING)]], BY_SHAPE
]


# ---------------------------------------------------------------- conditions


class SignalRange(Spec):
    min: Number = _unset()
    max: Number = _unset()


class _AtLeastOneKey(Spec):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})
    what: ClassVar[str] = "signals"
    unknown: ClassVar[str] = "signal"


def _signal_model() -> type[Spec]:
    """``signals:``: one optional key per signal of the catalogue (a bare number is its minimum)."""
    fields: dict[str, Any] = {}
    for key, fld in SIGNAL_FIELDS.items():
        if fld.unit == "true/false":
            fields[key] = (bool, Field(default=None, description=fld.description))
        else:
            kind = Annotated[
                Union[
                    Annotated[float, Tag(NUMBER)], Annotated[ParamRef, Tag(TEXT)], Annotated[SignalRange, Tag(MAPPING)]
                ],
                BY_SHAPE,
            ]
            fields[key] = (kind, Field(default=None, description=f"{fld.description} ({fld.unit})"))
    model: type[Spec] = create_model(
        "SignalsSpec", __base__=_AtLeastOneKey, __doc__="Tests of conversation signals.", **fields
    )
    return model


SignalsSpec = _signal_model()


class WindowSpec(Spec):
    """How long to wait or look back: turns, seconds or both (whichever ends first)."""

    turns: Integer = _unset()
    seconds: Number = _unset()


class MinLengthSpec(Spec):
    words: Integer = _unset()
    seconds: Number = _unset()
    # lines without measured times (written threads, transcripts without times) are counted one
    # at a time: one of them must reach ``words`` (a written message is read on its own)
    per_line: bool = _unset()


class ReflectsSpec(Spec):
    min_shared: Integer
    ignore: Name = _unset()
    min_verbs: Integer = _unset()
    problem: Name = _unset()
    dense_min: Integer = _unset()
    dense_share: Number = _unset()
    synonyms: Name = _unset()


class UsesNameSpec(Spec):
    intro: Name = _unset()


class EventSpec(Spec):
    """A moment on the clock (``dead_air``, ``talk_over``) rather than an utterance."""

    what: ClassVar[str] = "event"

    kind: EventKind
    min_s: Number = _unset()
    max_s: Number = _unset()
    hold_announced: bool = _unset()
    by: SpeakerName = _unset()


class ConditionKeys(Spec):
    """The keys of a condition about an utterance; several keys must all hold."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    speaker: SpeakerName = _unset()
    says: Says = _unset()
    tone: Name = _unset()
    signals: SignalsSpec = _unset()  # type: ignore[valid-type]  # a model made from the signal catalogue
    min_length: MinLengthSpec = _unset()
    max_words: Integer = _unset()
    reflects: ReflectsSpec = _unset()
    uses_name: Annotated[
        Union[Annotated[Literal[True], Tag(FLAG)], Annotated[UsesNameSpec, Tag(MAPPING)]], BY_SHAPE
    ] = _unset()
    earlier: EarlierSpec = _unset()
    all: Annotated[list[ConditionSpec], Field(min_length=1)] = _unset()
    any: Annotated[list[ConditionSpec], Field(min_length=1)] = _unset()
    not_: ConditionSpec = _unset(alias="not")


class EarlierSpec(ConditionKeys):
    """``earlier:``: the condition held ``count`` times within the window before this utterance."""

    what: ClassVar[str] = "earlier"

    within: WindowSpec
    count: Integer = _unset()


class ConditionSpec(ConditionKeys):
    """A condition: the keys of ``ConditionKeys``, or an ``event`` alone."""

    event: EventSpec = _unset()


class ExpectSpec(ConditionKeys):
    """``expect:``: whose turn to wait for, what they should say, and for how long."""

    what: ClassVar[str] = "expect"

    speaker: SpeakerName
    within: WindowSpec
    ignore: ConditionSpec = _unset()
    if_call_ends: Literal["drop", "fire"] = _unset()


def keys_of(model: type[BaseModel]) -> tuple[str, ...]:
    """A model's keys as written in YAML, in declaration order."""
    return tuple((f.alias or k) for k, f in model.model_fields.items())


CONDITION_KEYS = keys_of(ConditionSpec)
EARLIER_KEYS = tuple(k for k in keys_of(EarlierSpec) if k not in CONDITION_KEYS)
EXPECT_KEYS = tuple(k for k in keys_of(ExpectSpec) if k not in CONDITION_KEYS)
EVENT_KEYS = {"dead_air": ("kind", "min_s", "max_s", "hold_announced"), "talk_over": ("kind", "min_s", "max_s", "by")}


# ---------------------------------------------------------------- rules


class EpisodeSpec(Spec):
    """The rule fires once per episode; the episode ends when ``ends_when`` holds."""

    what: ClassVar[str] = "episode"

    ends_when: ConditionSpec


class RewriteSpec(Spec):
    what: ClassVar[str] = "a rewrite"

    from_: PhraseItem = Field(alias="from")
    to: Text


class RecordSpec(Spec):
    """A ``record`` rule writes an item to a list (``list``), with a time when ``time`` matches."""

    what: ClassVar[str] = "record"

    list: Name
    time: Name = _unset()


class TurnSpec(Spec):
    """One turn of a rule example: who speaks, their words, and optional timing and loudness."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})
    what: ClassVar[str] = "an example turn"

    agent: Text = _unset()
    customer: Text = _unset()
    pause_s: Number = _unset()
    seconds: Number = _unset()
    louder_db: Number = _unset()


Turns = Annotated[list[TurnSpec], Field(min_length=1)]


class ExampleSpec(Spec):
    what: ClassVar[str] = "an example"

    turns: Turns
    at: Annotated[int, Field(ge=0)] = _unset()


Example = Annotated[Union[Annotated[Turns, Tag(LIST)], Annotated[ExampleSpec, Tag(MAPPING)]], BY_SHAPE]


class ExamplesSpec(Spec):
    """Examples a rule must fire on (at the last turn, or at ``at``) and stay quiet on."""

    what: ClassVar[str] = "examples"

    fires: list[Example] = _unset()
    quiet: list[Example] = _unset()


class RuleSpec(Spec):
    """One rule: when it fires (``when``, ``unless``, ``expect``), what it shows, and its examples.

    A nudge rule needs ``severity`` and ``message``; a ``record`` rule may leave them out, a
    ``praise`` rule (``praise: true``: a line of the call's summary, never a card) needs
    ``message`` but no ``severity`` (the schema says so; the loader checks it).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["severity", "message"]},
                {"required": ["record"]},
                {"required": ["praise", "message"]},
            ]
        }
    )
    what: ClassVar[str] = "a rule"

    id: Name
    title: Text
    severity: Severity = _unset()
    priority: Priority = _unset()
    status: Status = _unset()
    tags: list[Name] = _unset()
    enabled: bool = _unset()
    why: Text
    params: dict[ParamName, float] = _unset()
    when: ConditionSpec
    unless: ConditionSpec = _unset()
    expect: ExpectSpec = _unset()
    points_at: Literal["trigger", "reply"] = _unset()
    quote: Quote = _unset()
    episode: EpisodeSpec = _unset()
    cooldown_s: Number = _unset()
    max_per_call: Integer = _unset()
    message: Text = _unset()
    message_if_no_rewrite: Text = _unset()
    rewrites: list[RewriteSpec] = _unset()
    rewrite_unless_next: Name = _unset()
    record: RecordSpec = _unset()
    praise: bool = _unset()
    unit: Unit = _unset()
    early: Annotated[
        bool,
        Field(
            description="live calls: may fire on the stable words of an utterance still being "
            "spoken (default: yes for a 'when' on one utterance's words)"
        ),
    ] = _unset()
    examples: ExamplesSpec = _unset()
    # "severity and message, unless record" is in the schema (anyOf above) and checked by the
    # loader, which reports it together with the rule's other problems


RULE_REQUIRED = ("id", "title", "severity", "why", "message", "when")
RECORD_RULE_REQUIRED = ("id", "title", "why", "when", "record")
PRAISE_RULE_REQUIRED = ("id", "title", "why", "message", "when", "praise")


# ---------------------------------------------------------------- overrides and the file


class RuleOverrideSpec(Spec):
    """A team's change to a rule loaded with it (``rule`` names it)."""

    what: ClassVar[str] = "an override"

    rule: Name
    enabled: bool = _unset()
    severity: Severity = _unset()
    priority: Priority = _unset()
    status: Status = _unset()
    cooldown_s: Annotated[float, Field(ge=0)] = _unset()
    max_per_call: Annotated[int, Field(ge=1)] = _unset()
    params: dict[str, float] = _unset()
    title: Text = _unset()
    message: Text = _unset()
    message_if_no_rewrite: Text = _unset()


class LexiconOverrideSpec(Spec):
    """A team's words added to or removed from a lexicon loaded with it."""

    what: ClassVar[str] = "a lexicon override"

    lexicon: Name
    add: Phrases = _unset()
    remove: Phrases = _unset()


RULE_OVERRIDE, LEXICON_OVERRIDE = "<rule override>", "<lexicon override>"


def _override_kind(value: Any) -> str:
    if isinstance(value, dict):
        return LEXICON_OVERRIDE if "lexicon" in value else RULE_OVERRIDE
    return _by_shape(value)


Override = Annotated[
    Union[Annotated[RuleOverrideSpec, Tag(RULE_OVERRIDE)], Annotated[LexiconOverrideSpec, Tag(LEXICON_OVERRIDE)]],
    Discriminator(_override_kind),
]


class RuleFileSpec(Spec):
    """A rule file: lexicons, tones, fillers, rules and team overrides; see rules/README.md."""

    what: ClassVar[str] = "a rule file"

    version: Version = _unset()
    fillers: list[Text] = _unset()
    lexicons: dict[Name, Lexicon] = _unset()
    tones: dict[Name, ToneSpec] = _unset()
    rules: list[RuleSpec] = _unset()
    overrides: list[Override] = _unset()


for _model in (ToneSpec, ConditionKeys, EarlierSpec, ConditionSpec, ExpectSpec, EpisodeSpec, RuleSpec, RuleFileSpec):
    _model.model_rebuild()


TOP_KEYS = keys_of(RuleFileSpec)
LEXICON_KEYS = keys_of(LexiconSpec)
RULE_KEYS = keys_of(RuleSpec)
SKIP_TESTS = keys_of(SkipTestSpec)
RULE_OVERRIDE_KEYS = keys_of(RuleOverrideSpec)
LEXICON_OVERRIDE_KEYS = keys_of(LexiconOverrideSpec)
