"""YAML rule files -> a validated ``RuleSet``, reporting every problem with ``file:line:col``.

Two steps, as in pySigma and Semgrep: ``source`` parses safe YAML into located values;
this module checks their shape, types and cross references (lexicons, tones, rule ids)
and builds the typed ``model``. All problems are collected and raised together as one
``RuleError`` whose ``errors`` attribute holds the ``RuleProblem`` list.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from ..errors import RuleError
from ..types import Speaker
from .model import (
    AllOf,
    AnyOf,
    Condition,
    Conditional,
    Subordinate,
    Earlier,
    Episode,
    EventIs,
    Example,
    ExampleTurn,
    Expectation,
    Finder,
    FutureActionFinder,
    InQuestion,
    Lexicon,
    LexiconFinder,
    MatchTest,
    MaxWords,
    MinLength,
    Negated,
    Not,
    Phrase,
    Record,
    Reflects,
    ReflectsOther,
    AfterRequest,
    RegexFinder,
    Rewrite,
    Rule,
    RuleSet,
    Says,
    SentenceSays,
    SignalTest,
    SpeakerIs,
    SubjectFinder,
    Tone,
    TokenFinder,
    ToneIs,
    UsesName,
    Window,
)
from .source import Loc, Problems, RuleProblem, YMap, YScalar, YSeq, YValue, closest_hint, read_rule_file

SUPPORTED_VERSIONS = (1,)
TOP_KEYS = ("version", "lexicons", "tones", "fillers", "rules", "overrides")
LEXICON_KEYS = ("phrases", "except", "entities", "description")
RULE_KEYS = ("id", "title", "severity", "priority", "status", "tags", "enabled", "why", "params", "when", "unless",
             "expect", "points_at", "quote", "episode", "cooldown_s", "max_per_call", "message", "message_if_no_rewrite",
             "rewrites", "rewrite_unless_next", "record", "examples", "unit")
RULE_REQUIRED = ("id", "title", "severity", "why", "message", "when")
RECORD_RULE_REQUIRED = ("id", "title", "why", "when", "record")
CONDITION_KEYS = ("speaker", "says", "tone", "signals", "min_length", "max_words", "reflects", "uses_name", "earlier",
                  "event", "all", "any", "not")
EXPECT_KEYS = ("within", "ignore", "if_call_ends")
EARLIER_KEYS = ("within", "count")
SAYS_FINDERS = ("lexicon", "future_action", "regex", "tokens", "subject")
SKIP_TESTS = ("question", "conditional", "negated", "sentence_says", "reflects_other", "after_request",
              "subordinate")
EVENT_KINDS = ("dead_air", "talk_over")
EVENT_KEYS = {"dead_air": ("kind", "min_s", "max_s", "hold_announced"), "talk_over": ("kind", "min_s", "max_s", "by")}
RULE_OVERRIDE_KEYS = ("rule", "enabled", "severity", "priority", "status", "cooldown_s", "max_per_call", "params",
                      "title", "message", "message_if_no_rewrite")
LEXICON_OVERRIDE_KEYS = ("lexicon", "add", "remove")
SEVERITIES = ("low", "medium", "high")
UNITS = ("utterance", "turn")  # what a rule reads (rule key 'unit')
# The sidebar's words for the three severities; a rule file may use either spelling.
SEVERITY_WORDS = {"tip": "low", "nudge": "medium", "urgent": "high"}
STATUSES = ("stable", "experimental")
QUOTES = ("trigger", "reply", "none")  # which evidence a rule's card quotes
MAX_REGEX_CHARS = 300
REGEX_MAX_MEM = 2 << 20  # bytes of compiled program RE2 may use; bigger patterns are refused
PARAM_RE = re.compile(r"^\$([a-z][a-z0-9_]*)$")
ENTITY_LABELS = ("DATE", "TIME", "CARDINAL", "ORDINAL", "MONEY", "PERCENT", "QUANTITY", "PERSON", "ORG",
                 "GPE", "LOC", "PRODUCT", "EVENT", "NORP", "FAC", "WORK_OF_ART", "LAW", "LANGUAGE")
TEMPLATE_FIELDS = ("quote", "rewrite")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
PHRASE_WORD_RE = re.compile(r"^(?:<num>|[\w'’-]+)$")

# Defaults of the built-in tests, each naming the lexicon it reads.
DEFAULT_NEGATION_LEXICON = "negation"
DEFAULT_CONDITIONAL_LEXICON = "conditional"
DEFAULT_ECHO_IGNORE_LEXICON = "echo-ignore"
DEFAULT_NAME_INTRO_LEXICON = "name-intro"


def load_rules(paths: Sequence[Path]) -> RuleSet:
    """Load rule files and folders (every ``*.yaml`` inside, sorted) into one ``RuleSet``.

    Raises ``RuleError`` listing every problem as ``file:line:col: what (fix: ...)``; its
    ``errors`` attribute holds them as ``RuleProblem`` values.
    """
    problems = Problems()
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.yaml") if p.is_file())
            if not found:
                problems.items.append(RuleProblem(str(path), 1, 1, "folder has no *.yaml rule files",
                                                  "point at a folder of rule packs or at a single file"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.items.append(RuleProblem(str(path), 1, 1, "no such rule file or folder",
                                              "check the path given to --rules"))
    if not paths:
        problems.items.append(RuleProblem("<rules>", 1, 1, "no rule files given", "pass a file or folder"))
    files = _unique(files)
    builder = _Builder(problems)
    trees = [(tree, str(path)) for path in files if (tree := read_rule_file(path, problems)) is not None]
    for tree in trees:  # overrides first: they change how the rules are built (params)
        builder.collect_overrides(tree[0])
    for tree, path in trees:
        builder.add_file(tree, path)
    ruleset = builder.finish(tuple(str(f) for f in files))
    if problems.items:
        raise _rule_error(problems.items)
    from .lint import lint

    return replace(ruleset, warnings=tuple(lint(ruleset, builder.used_lexicons)))


def _unique(files: list[Path]) -> list[Path]:
    """Each file once (the default packs named again with --rules, a file inside a folder given too)."""
    seen: set[Path] = set()
    out = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _rule_error(items: list[RuleProblem]) -> RuleError:
    items = sorted(items, key=lambda p: (p.path, p.line, p.col))
    count = f"{len(items)} problem{'s' if len(items) != 1 else ''}"
    lines = "\n".join(f"  {p}" for p in items)
    error = RuleError(f"{count} in rule files:\n{lines}",
                      "fix them, then re-check with 'rapport-assist rules check'")
    error.errors = list(items)  # type: ignore[attr-defined]
    return error


@dataclass
class _Ref:
    kind: str  # "lexicon" | "tone"
    name: str
    loc: Loc


@dataclass
class _Builder:
    """Validates each file and then the references between files."""

    problems: Problems
    lexicons: dict[str, Lexicon] = field(default_factory=dict)
    tones: dict[str, Tone] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    fillers: list[str] = field(default_factory=list)
    overrides: list[tuple[str, Loc, dict[str, object]]] = field(default_factory=list)
    # where each override key was written, to point at it when the rule cannot take it
    override_locs: dict[tuple[int, str], Loc] = field(default_factory=dict)
    # every rule id a file defines, built or not (an override of a broken rule is not "unknown")
    defined_ids: set[str] = field(default_factory=set)
    param_overrides: dict[str, dict[str, tuple[float, Loc]]] = field(default_factory=dict)
    lexicon_overrides: list[tuple[str, Loc, tuple[Phrase, ...], tuple[Phrase, ...]]] = field(default_factory=list)
    refs: list[_Ref] = field(default_factory=list)
    used_lexicons: set[str] = field(default_factory=set)
    # the rule being built: its params ($name -> value) and which of them were read
    params: dict[str, float] = field(default_factory=dict)
    used_params: set[str] = field(default_factory=set)

    # ------------------------------------------------------------ basic shape checks

    def mapping(self, value: YValue, what: str) -> YMap | None:
        if isinstance(value, YMap):
            return value
        self.problems.add(value.loc, f"{what} must be a mapping (key: value lines), not {_kind(value)}",
                          "indent its keys under it")
        return None

    def sequence(self, value: YValue, what: str) -> YSeq | None:
        if isinstance(value, YSeq):
            return value
        self.problems.add(value.loc, f"{what} must be a list, not {_kind(value)}", "write each item on a '- ' line")
        return None

    def keys(self, m: YMap, allowed: Sequence[str], what: str, required: Sequence[str] = ()) -> None:
        for key, (loc, _) in m.entries.items():
            if key not in allowed:
                self.problems.unknown(loc, f"key in {what}", key, allowed)
        for key in required:
            if key not in m.entries:
                self.problems.add(m.loc, f"{what} is missing required key {key!r}", f"add '{key}: ...'")

    def text(self, value: YValue, what: str) -> str | None:
        if isinstance(value, YScalar) and isinstance(value.value, str) and value.value.strip():
            return value.value.strip()  # folded YAML blocks (>) end in a newline
        if isinstance(value, YScalar) and isinstance(value.value, str):
            self.problems.add(value.loc, f"{what} is empty", "write some text")
        else:
            self.problems.add(value.loc, f"{what} must be text, not {_kind(value)}", "quote it: \"...\"")
        return None

    def name(self, value: YValue, what: str) -> str | None:
        name = self.text(value, what)
        if name is not None and not NAME_RE.match(name):
            self.problems.add(value.loc, f"{what} {name!r} is not a valid name",
                              "use lowercase letters, digits and dashes, e.g. 'angry-no-apology'")
            return None
        return name

    def param(self, value: YValue) -> YValue:
        """``$name`` -> the rule's param value (as a located scalar); anything else unchanged."""
        if not (isinstance(value, YScalar) and isinstance(value.value, str) and value.value.startswith("$")):
            return value
        m = PARAM_RE.match(value.value)
        name = m.group(1) if m else value.value[1:]
        if name not in self.params:
            self.problems.unknown(value.loc, "param", "$" + name, ["$" + k for k in self.params])
            return YScalar(None, value.loc, value.raw)
        self.used_params.add(name)
        v = self.params[name]
        return YScalar(int(v) if float(v).is_integer() else v, value.loc, value.raw)

    def integer(self, value: YValue, what: str, minimum: int = 0) -> int | None:
        value = self.param(value)
        if isinstance(value, YScalar) and type(value.value) is int and value.value >= minimum:
            return value.value
        if isinstance(value, YScalar) and value.value is None and value.raw.startswith("$"):
            return None  # an unknown param, already reported
        self.problems.add(value.loc, f"{what} must be a whole number >= {minimum}, not {_show(value)}",
                          f"write a number like {max(minimum, 1)}")
        return None

    def number(self, value: YValue, what: str, minimum: float = 0.0) -> float | None:
        value = self.param(value)
        if isinstance(value, YScalar) and value.value is None and value.raw.startswith("$"):
            return None  # an unknown param, already reported
        if (isinstance(value, YScalar) and type(value.value) in (int, float)
                and value.value == value.value and minimum <= value.value < float("inf")):
            return float(value.value)  # type: ignore[arg-type]
        bound = f" >= {minimum:g}" if minimum > -float("inf") else ""
        self.problems.add(value.loc, f"{what} must be a number{bound}, not {_show(value)}",
                          "write a number like 20 or 2.5")
        return None

    def boolean(self, value: YValue, what: str) -> bool | None:
        if isinstance(value, YScalar) and isinstance(value.value, bool):
            return value.value
        self.problems.add(value.loc, f"{what} must be true or false, not {_show(value)}", "write true or false")
        return None

    def choice(self, value: YValue, what: str, choices: Sequence[str]) -> str | None:
        text = self.text(value, what)
        if text is None:
            return None
        if text not in choices:
            self.problems.unknown(value.loc, what, text, choices)
            return None
        return text

    def severity(self, value: YValue) -> str | None:
        """low/medium/high, or the sidebar's words for them: tip/nudge/urgent (any case)."""
        text = self.text(value, "severity")
        if text is None:
            return None
        word = text.lower()
        if word in SEVERITIES:
            return word
        if word in SEVERITY_WORDS:
            return SEVERITY_WORDS[word]
        self.problems.unknown(value.loc, "severity", text, [*SEVERITY_WORDS, *SEVERITIES])
        return None

    def speaker(self, value: YValue, what: str) -> Speaker | None:
        text = self.choice(value, what, [s.value for s in Speaker])
        return Speaker(text) if text else None

    def names(self, value: YValue, what: str) -> list[tuple[str, Loc]]:
        """A name or a list of names."""
        items = value.items if isinstance(value, YSeq) else (value,)
        if isinstance(value, YSeq) and not items:
            self.problems.add(value.loc, f"{what} list is empty", "name at least one")
        out = []
        for item in items:
            name = self.name(item, what)
            if name is not None:
                out.append((name, item.loc))
        return out

    def template(self, value: YValue, what: str) -> str | None:
        text = self.text(value, what)
        if text is None:
            return None
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as exc:
            self.problems.add(value.loc, f"{what} has a broken placeholder ({exc})",
                              "write {quote} or {rewrite}; double literal braces: {{ }}")
            return None
        for f in fields:
            if f not in TEMPLATE_FIELDS:
                self.problems.unknown(value.loc, f"placeholder in {what}", "{" + f + "}",
                                      ["{" + t + "}" for t in TEMPLATE_FIELDS])
                return None
        return text

    def lexicon_ref(self, value: YValue, what: str) -> str | None:
        """A lexicon named by ``value`` (checked to exist once every file is read)."""
        name = self.name(value, what)
        return self.ref("lexicon", name, value.loc) if name else None

    def ref(self, kind: str, name: str, loc: Loc) -> str:
        self.refs.append(_Ref(kind, name, loc))
        if kind == "lexicon":
            self.used_lexicons.add(name)
        return name

    # ------------------------------------------------------------ files

    def add_file(self, tree: YValue, path: str) -> None:
        top = self.mapping(tree, "a rule file")
        if top is None:
            return
        self.keys(top, TOP_KEYS, "a rule file")
        version = top.get("version")
        if version is not None:
            if not (isinstance(version, YScalar) and type(version.value) is int
                    and version.value in SUPPORTED_VERSIONS):
                self.problems.add(version.loc, f"unsupported rule file version {_show(version)}",
                                  f"write 'version: {SUPPORTED_VERSIONS[-1]}'")
        if (v := top.get("lexicons")) is not None:
            self.add_lexicons(v)
        if (v := top.get("tones")) is not None:
            self.add_tones(v)
        if (v := top.get("fillers")) is not None and (seq := self.sequence(v, "fillers")) is not None:
            for item in seq.items:
                word = self.text(item, "a filler")
                if word is not None:
                    self.fillers.append(word.strip().lower())
        if (v := top.get("rules")) is not None and (seq := self.sequence(v, "rules")) is not None:
            for item in seq.items:
                self.add_rule(item)

    def collect_overrides(self, tree: YValue) -> None:
        """Read a file's ``overrides:`` (before any rule is built: they change params)."""
        if not isinstance(tree, YMap):
            return
        if (v := tree.get("overrides")) is not None and (seq := self.sequence(v, "overrides")) is not None:
            for item in seq.items:
                self.add_override(item)

    def add_lexicons(self, value: YValue) -> None:
        m = self.mapping(value, "lexicons")
        if m is None:
            return
        for name, (key_loc, body) in m.entries.items():
            if not NAME_RE.match(name):
                self.problems.add(key_loc, f"lexicon name {name!r} is not a valid name",
                                  "use lowercase letters, digits and dashes")
                continue
            if name in self.lexicons:
                self.problems.add(key_loc, f"lexicon {name!r} is defined twice (first at {self.lexicons[name].loc})",
                                  "rename one or merge their phrases; to add words to a default lexicon use "
                                  f"'overrides: [{{lexicon: {name}, add: [...]}}]'")
                continue
            if isinstance(body, YSeq):  # short form: a bare list of phrases
                self.lexicons[name] = Lexicon(name, self.phrases(body, "a phrase"), (), (), "", key_loc)
                continue
            lm = self.mapping(body, f"lexicon {name!r}")
            if lm is None:
                continue
            self.keys(lm, LEXICON_KEYS, f"lexicon {name!r}")
            phrases = self.phrases(lm.get("phrases"), "a phrase") if lm.get("phrases") else ()
            excepts = self.phrases(lm.get("except"), "an except phrase") if lm.get("except") else ()
            entities: list[str] = []
            if (ev := lm.get("entities")) is not None and (seq := self.sequence(ev, "entities")) is not None:
                for item in seq.items:
                    label = self.choice(item, "entity label", ENTITY_LABELS)
                    if label:
                        entities.append(label)
            description = ""
            if (dv := lm.get("description")) is not None:
                description = self.text(dv, "description") or ""
            if not phrases and not entities:
                self.problems.add(lm.loc, f"lexicon {name!r} has no phrases", "add 'phrases:' with at least one")
            self.lexicons[name] = Lexicon(name, phrases, excepts, tuple(entities), description, key_loc)

    def phrases(self, value: YValue | None, what: str) -> tuple[Phrase, ...]:
        if value is None:
            return ()
        seq = self.sequence(value, "phrases")
        if seq is None:
            return ()
        out = []
        for item in seq.items:
            if isinstance(item, YScalar) and isinstance(item.value, (bool, int, float)):
                item = YScalar(item.raw, item.loc, item.raw)  # "no", "yes", "100" are words here
            text = self.text(item, what)
            if text is None:
                continue
            if not any(ch.isalnum() for ch in text) and "<num>" not in text:
                self.problems.add(item.loc, f"{what} {text!r} has no words", "write at least one word")
                continue
            bad = [w for w in text.split() if "|" in w and not all(PHRASE_WORD_RE.match(a) for a in w.split("|"))]
            if bad:
                self.problems.add(item.loc, f"alternatives {bad[0]!r} must be single words separated by '|'",
                                  "write e.g. 'second|third time'")
                continue
            out.append(Phrase(text, item.loc))
        return tuple(out)

    def add_tones(self, value: YValue) -> None:
        m = self.mapping(value, "tones")
        if m is None:
            return
        for name, (key_loc, body) in m.entries.items():
            if not NAME_RE.match(name):
                self.problems.add(key_loc, f"tone name {name!r} is not a valid name", "use lowercase letters")
                continue
            if name in self.tones:
                self.problems.add(key_loc, f"tone {name!r} is defined twice", "keep one definition")
                continue
            tm = self.mapping(body, f"tone {name!r}")
            if tm is None:
                continue
            self.keys(tm, ("text",), f"tone {name!r}", required=("text",))
            if (tv := tm.get("text")) is not None:
                cond = self.condition(tv, f"tone {name!r}", context="tone")
                if cond is not None:
                    self.tones[name] = Tone(name, cond, key_loc)

    # ------------------------------------------------------------ conditions

    def condition(self, value: YValue, what: str, context: str) -> Condition | None:
        """Parse a condition; ``context`` is "when" (a rule's trigger), "trigger" (other
        per-utterance conditions), "expect" or "tone": what it may use."""
        m = self.mapping(value, what)
        if m is None:
            return None
        if not m.entries:
            self.problems.add(m.loc, f"{what} is an empty condition", "add e.g. 'speaker: agent'")
            return None
        self.keys(m, CONDITION_KEYS, what)
        if "event" in m.entries and len(m.entries) > 1:
            self.problems.add(m.entries["event"][0], "'event' reacts to a moment on the clock, not to an utterance, "
                              "so it cannot be combined with other keys",
                              "put the event's own tests inside it, e.g. 'event: {kind: dead_air, min_s: 8}'")
            return None
        parts: list[Condition] = []
        ok = True
        for key, (key_loc, v) in m.entries.items():
            if key not in CONDITION_KEYS:
                ok = False
                continue
            part = self.condition_part(key, key_loc, v, what, context)
            if part is None:
                ok = False
            else:
                parts.append(part)
        if not ok:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def condition_part(self, key: str, key_loc: Loc, v: YValue, what: str, context: str) -> Condition | None:
        if key == "speaker":
            sp = self.speaker(v, "speaker")
            return SpeakerIs(sp) if sp else None
        if key == "says":
            return self.says(v)
        if key == "tone":
            if context == "tone":
                self.problems.add(key_loc, "a tone cannot be defined by another tone", "use 'says:' cues")
                return None
            name = self.name(v, "tone")
            return ToneIs(self.ref("tone", name, v.loc)) if name else None
        if key == "signals":
            return self.signal_tests(v, context)
        if key == "min_length":
            lm = self.mapping(v, "min_length")
            if lm is None:
                return None
            self.keys(lm, ("words", "seconds"), "min_length")
            words = self.integer(lm.get("words"), "min_length.words", 1) if lm.get("words") else None
            seconds = self.number(lm.get("seconds"), "min_length.seconds") if lm.get("seconds") else None
            if words is None and seconds is None:
                self.problems.add(lm.loc, "min_length needs 'words' or 'seconds'", "add e.g. 'words: 35'")
                return None
            return MinLength(words, seconds)
        if key == "max_words":
            n = self.integer(v, "max_words", 1)
            return MaxWords(n) if n is not None else None
        if key in ("reflects", "uses_name") and context != "expect":
            self.problems.add(key_loc, f"'{key}' compares a reply with the turns that opened the expectation, "
                              "so it only works inside 'expect'",
                              "move it under 'expect:'" + (" or use 'skip_if: [reflects_other: ...]' in 'says'"
                                                           if key == "reflects" else ""))
            return None
        if key == "reflects":
            em = self.mapping(v, "reflects")
            if em is None:
                return None
            self.keys(em, ("min_shared", "ignore", "min_verbs", "problem", "dense_min", "dense_share"), "reflects",
                      required=("min_shared",))
            n = self.integer(em.get("min_shared"), "reflects.min_shared", 1) if em.get("min_shared") else None
            ignore = self.lexicon_param(em, "ignore", DEFAULT_ECHO_IGNORE_LEXICON)
            verbs = self.integer(em.get("min_verbs"), "reflects.min_verbs") if em.get("min_verbs") is not None else 0
            problem = None
            if em.get("problem") is not None:
                name = self.name(em.get("problem"), "reflects.problem lexicon")  # type: ignore[arg-type]
                problem = self.ref("lexicon", name, em.get("problem").loc) if name else None  # type: ignore[union-attr]
            dense = self.integer(em.get("dense_min"), "reflects.dense_min") if em.get("dense_min") is not None else 0
            share = self.number(em.get("dense_share"), "reflects.dense_share") \
                if em.get("dense_share") is not None else 1.0
            ok = n is not None and ignore and verbs is not None and dense is not None and share is not None
            return Reflects(n, ignore, verbs, problem, dense, share) if ok else None  # type: ignore[arg-type]
        if key == "uses_name":
            if isinstance(v, YScalar):
                if self.boolean(v, "uses_name") is not True:
                    self.problems.add(v.loc, "uses_name can only be true", "write 'uses_name: true'")
                    return None
                return UsesName(self.ref("lexicon", DEFAULT_NAME_INTRO_LEXICON, v.loc))
            um = self.mapping(v, "uses_name")
            if um is None:
                return None
            self.keys(um, ("intro",), "uses_name")
            intro = self.lexicon_param(um, "intro", DEFAULT_NAME_INTRO_LEXICON)
            return UsesName(intro) if intro else None
        if key == "earlier":
            return self.earlier(v, context)
        if key == "event":
            if context != "when":
                self.problems.add(key_loc, "'event' can only start a rule (in 'when')",
                                  "move it to the rule's 'when:'")
                return None
            return self.event(v)
        if key in ("all", "any"):
            seq = self.sequence(v, key)
            if seq is None:
                return None
            if not seq.items:
                self.problems.add(seq.loc, f"'{key}' list is empty", "add at least one condition")
                return None
            items = [self.condition(item, f"an item of '{key}'", context) for item in seq.items]
            if any(i is None for i in items):
                return None
            return (AllOf if key == "all" else AnyOf)(tuple(items))  # type: ignore[arg-type]
        inner = self.condition(v, "'not'", context)
        return Not(inner) if inner is not None else None

    def earlier(self, v: YValue, context: str) -> Condition | None:
        """``earlier: {within: {turns, seconds}, count: N, <condition keys>}``."""
        m = self.mapping(v, "earlier")
        if m is None:
            return None
        for key, (loc, _) in m.entries.items():
            if key not in CONDITION_KEYS and key not in EARLIER_KEYS:
                self.problems.unknown(loc, "key in earlier", key, CONDITION_KEYS + EARLIER_KEYS)
        cond_map = YMap({k: e for k, e in m.entries.items() if k in CONDITION_KEYS and k != "event"}, m.loc)
        if not cond_map.entries:
            self.problems.add(m.loc, "earlier says how far back to look but not what to look for",
                              "add e.g. 'speaker: agent' and 'says: apology'")
            return None
        condition = self.condition(cond_map, "earlier", "trigger" if context == "when" else context)
        window = self.window(m.get("within"), "earlier") if m.get("within") is not None else None
        if m.get("within") is None:
            self.problems.add(m.loc, "earlier needs 'within'", "add e.g. 'within: {turns: 6, seconds: 120}'")
        count = self.integer(m.get("count"), "earlier.count", 1) if m.get("count") is not None else 1
        if condition is None or window is None or count is None:
            return None
        return Earlier(condition, window.turns, window.seconds, count)

    def window(self, v: YValue, what: str) -> Window | None:
        wm = self.mapping(v, f"{what}.within")
        if wm is None:
            return None
        self.keys(wm, ("turns", "seconds"), f"{what}.within")
        turns = self.integer(wm.get("turns"), f"{what}.within.turns", 1) if wm.get("turns") else None
        seconds = self.number(wm.get("seconds"), f"{what}.within.seconds") if wm.get("seconds") else None
        if turns is None and seconds is None:
            if not any(k in wm.entries for k in ("turns", "seconds")):
                self.problems.add(wm.loc, "within needs 'turns' or 'seconds'", "write e.g. '{turns: 1, seconds: 20}'")
            return None
        return Window(turns, seconds)

    def event(self, v: YValue) -> Condition | None:
        m = self.mapping(v, "event")
        if m is None:
            return None
        kv = m.get("kind")
        if kv is None:
            self.problems.add(m.loc, "event is missing required key 'kind'", "add 'kind: dead_air' or 'kind: talk_over'")
            return None
        kind = self.choice(kv, "event kind", EVENT_KINDS)
        if kind is None:
            return None
        self.keys(m, EVENT_KEYS[kind], f"a {kind} event")
        lo = self.number(m.get("min_s"), "event.min_s") if m.get("min_s") is not None else None
        hi = self.number(m.get("max_s"), "event.max_s") if m.get("max_s") is not None else None
        hold = None
        if kind == "dead_air" and m.get("hold_announced") is not None:
            hold = self.boolean(m.get("hold_announced"), "hold_announced")
            if hold is None:
                return None
        by = None
        if kind == "talk_over" and m.get("by") is not None:
            by = self.speaker(m.get("by"), "by")
            if by is None:
                return None
        if (m.get("min_s") is not None and lo is None) or (m.get("max_s") is not None and hi is None):
            return None
        if lo is not None and hi is not None and lo > hi:
            self.problems.add(m.loc, f"event: min_s {lo:g} is above max_s {hi:g}", "swap them")
            return None
        return EventIs(kind, lo, hi, hold, by)  # type: ignore[arg-type]

    def signal_tests(self, v: YValue, context: str) -> Condition | None:
        """``signals: {name: {min: x, max: y}}``, ``{name: x}`` (= min) or ``{name: true}``."""
        from ..signals import SIGNAL_FIELDS

        if context == "tone":
            self.problems.add(v.loc, "a tone is defined by words; voice signals are added by the tone estimate",
                              "use 'says:' here, or test 'signals:' in a rule")
            return None
        m = self.mapping(v, "signals")
        if m is None:
            return None
        if not m.entries:
            self.problems.add(m.loc, "signals is empty", "add e.g. 'loudness_rise_db: {min: 6}'")
            return None
        tests: list[Condition] = []
        ok = True
        for name, (loc, body) in m.entries.items():
            field = SIGNAL_FIELDS.get(name)
            if field is None:
                self.problems.unknown(loc, "signal", name, list(SIGNAL_FIELDS))
                ok = False
                continue
            what = f"signals.{name}"
            if field.unit == "true/false":
                flag = self.boolean(body, what)
                ok = ok and flag is not None
                if flag is not None:
                    tests.append(SignalTest(name, equals=flag))
                continue
            if isinstance(body, YScalar):
                lo = self.number(body, what, minimum=-float("inf"))
                ok = ok and lo is not None
                if lo is not None:
                    tests.append(SignalTest(name, min=lo))
                continue
            bm = self.mapping(body, what)
            if bm is None:
                ok = False
                continue
            self.keys(bm, ("min", "max"), what, required=())
            lo = self.number(bm.get("min"), f"{what}.min", minimum=-float("inf")) if bm.get("min") else None
            hi = self.number(bm.get("max"), f"{what}.max", minimum=-float("inf")) if bm.get("max") else None
            if lo is None and hi is None:
                self.problems.add(bm.loc, f"{what} needs 'min' or 'max' ({field.unit})", "add e.g. 'min: 6'")
                ok = False
                continue
            if lo is not None and hi is not None and lo > hi:
                self.problems.add(bm.loc, f"{what}: min {lo:g} is above max {hi:g}", "swap them")
                ok = False
                continue
            tests.append(SignalTest(name, min=lo, max=hi))
        if not ok or not tests:
            return None
        return tests[0] if len(tests) == 1 else AllOf(tuple(tests))

    def lexicon_param(self, m: YMap, key: str, default: str) -> str | None:
        v = m.get(key)
        if v is None:
            return self.ref("lexicon", default, m.loc)
        name = self.name(v, key)
        return self.ref("lexicon", name, v.loc) if name else None

    def says(self, v: YValue) -> Says | None:
        if not isinstance(v, YMap):
            names = self.names(v, "lexicon")
            if not names:
                return None
            return Says(LexiconFinder(tuple(self.ref("lexicon", n, loc) for n, loc in names)), ())
        self.keys(v, SAYS_FINDERS + ("skip_if",), "says")
        finders = [k for k in SAYS_FINDERS if k in v.entries]
        if len(finders) != 1:
            self.problems.add(v.loc, "'says' needs exactly one of: " + ", ".join(SAYS_FINDERS),
                              "e.g. 'says: {lexicon: apology}'")
            return None
        fv = v.entries[finders[0]][1]
        finder: Finder | None
        if finders[0] == "lexicon":
            names = self.names(fv, "lexicon")
            finder = LexiconFinder(tuple(self.ref("lexicon", n, loc) for n, loc in names)) if names else None
        elif finders[0] == "future_action":
            name = self.name(fv, "future_action lexicon")
            finder = FutureActionFinder(self.ref("lexicon", name, fv.loc)) if name else None
        elif finders[0] == "regex":
            finder = self.regex(fv)
        elif finders[0] == "tokens":
            finder = self.token_patterns(fv)
        else:
            finder = self.subject(fv)
        tests: list[MatchTest] = []
        ok = finder is not None
        if (sv := v.get("skip_if")) is not None:
            seq = self.sequence(sv, "skip_if")
            if seq is None:
                return None
            for item in seq.items:
                test = self.skip_test(item)
                if test is None:
                    ok = False
                else:
                    tests.append(test)
        return Says(finder, tuple(tests)) if ok and finder is not None else None

    def regex(self, v: YValue) -> RegexFinder | None:
        """``regex: PATTERN`` or ``regex: {pattern: P, ignore_case: false}``, compiled with RE2."""
        ignore_case = True
        pv: YValue | None = v
        if isinstance(v, YMap):
            self.keys(v, ("pattern", "ignore_case"), "regex", required=("pattern",))
            pv = v.get("pattern")
            if (iv := v.get("ignore_case")) is not None:
                flag = self.boolean(iv, "ignore_case")
                if flag is None:
                    return None
                ignore_case = flag
        if pv is None:
            return None
        pattern = self.text(pv, "regex")
        if pattern is None:
            return None
        problem = regex_problem(pattern, ignore_case)
        if problem:
            self.problems.add(pv.loc, f"regex {pattern!r}: {problem[0]}", problem[1])
            return None
        return RegexFinder(pattern, ignore_case)

    def token_patterns(self, v: YValue) -> TokenFinder | None:
        """``tokens: [[{LOWER: you}, {LEMMA: need}], ...]``: spaCy Matcher patterns, validated by spaCy."""
        import json

        seq = self.sequence(v, "tokens")
        if seq is None:
            return None
        if seq.items and not isinstance(seq.items[0], YSeq):
            seq = YSeq((seq,), seq.loc)  # a single pattern
        if not seq.items:
            self.problems.add(seq.loc, "tokens has no patterns", "write e.g. '[[{LOWER: you}, {LEMMA: need}]]'")
            return None
        out = []
        for item in seq.items:
            pattern = self.sequence(item, "a token pattern")
            if pattern is None:
                continue
            if not pattern.items:
                self.problems.add(pattern.loc, "a token pattern is empty", "add at least one token, e.g. {LOWER: you}")
                continue
            plain = _plain(pattern)
            problem = token_regex_problem(plain)
            if problem:
                self.problems.add(_locate(pattern, problem[2]), f"token pattern: {problem[0]}", problem[1])
                continue
            problem = token_pattern_problem(plain)
            if problem:
                self.problems.add(_locate(pattern, problem[1]), f"token pattern: {problem[0]}",
                                  "see spaCy's Matcher docs: keys like LOWER, LEMMA, POS, DEP, OP, IN")
                continue
            out.append(json.dumps(plain, sort_keys=True))
        if len(out) != len(seq.items):
            return None
        return TokenFinder(tuple(out))

    def subject(self, v: YValue) -> SubjectFinder | None:
        """``subject: {is: [you], verb: LEXICON}``."""
        m = self.mapping(v, "subject")
        if m is None:
            return None
        self.keys(m, ("is", "verb"), "subject", required=("is", "verb"))
        if m.get("is") is None or m.get("verb") is None:
            return None
        words = []
        items = m.get("is").items if isinstance(m.get("is"), YSeq) else (m.get("is"),)  # type: ignore[union-attr]
        for item in items:
            word = self.text(item, "a subject word")
            if word is not None:
                if not word.replace("'", "").isalpha():
                    self.problems.add(item.loc, f"subject word {word!r} must be one word", "write e.g. 'you'")
                    return None
                words.append(word.lower())
        verbs = self.name(m.get("verb"), "subject verb lexicon")  # type: ignore[arg-type]
        if not words or verbs is None:
            return None
        return SubjectFinder(tuple(words), self.ref("lexicon", verbs, m.get("verb").loc))  # type: ignore[union-attr]

    def skip_test(self, item: YValue) -> MatchTest | None:
        if isinstance(item, YScalar):
            name = self.choice(item, "skip_if test", SKIP_TESTS)
            params: YMap | None = YMap({}, item.loc)
            if name == "sentence_says":
                self.problems.add(item.loc, "'sentence_says' needs a lexicon", "write '- sentence_says: time-frame'")
                return None
            if name == "reflects_other":
                self.problems.add(item.loc, "'reflects_other' needs min_shared",
                                  "write '- reflects_other: {min_shared: 2}'")
                return None
        elif isinstance(item, YMap) and len(item.entries) == 1:
            name, (key_loc, pv) = next(iter(item.entries.items()))
            if name not in SKIP_TESTS:
                self.problems.unknown(key_loc, "skip_if test", name, SKIP_TESTS)
                return None
            if name == "sentence_says":
                lex = self.name(pv, "sentence_says lexicon")
                return SentenceSays(self.ref("lexicon", lex, pv.loc)) if lex else None
            params = self.mapping(pv, f"parameters of {name!r}")
        else:
            self.problems.add(item.loc, "a skip_if test is a name or a one-key mapping",
                              "write e.g. '- question' or '- negated: {before: 3}'")
            return None
        if name is None or params is None:
            return None
        if name == "question":
            self.keys(params, (), "question")
            return InQuestion()
        if name == "conditional":
            self.keys(params, ("cues", "before"), "conditional")
            before = self.integer(params.get("before"), "before", 1) if params.get("before") else 4
            cues = self.lexicon_param(params, "cues", DEFAULT_CONDITIONAL_LEXICON)
            return Conditional(cues, before) if cues and before is not None else None
        if name == "subordinate":
            self.keys(params, ("cues",), "subordinate")
            cues = self.lexicon_param(params, "cues", DEFAULT_CONDITIONAL_LEXICON)
            return Subordinate(cues) if cues else None
        if name == "negated":
            self.keys(params, ("cues", "before", "after"), "negated")
            before = self.integer(params.get("before"), "before") if params.get("before") else 3
            after = self.integer(params.get("after"), "after") if params.get("after") else 1
            cues = self.lexicon_param(params, "cues", DEFAULT_NEGATION_LEXICON)
            ok = cues and before is not None and after is not None
            return Negated(cues, before, after) if ok else None  # type: ignore[arg-type]
        if name == "after_request":
            self.keys(params, ("cues", "sentences"), "after_request")
            sentences = self.integer(params.get("sentences"), "sentences") if params.get("sentences") else 1
            cues = self.lexicon_param(params, "cues", "customer-request")
            return AfterRequest(cues, sentences) if cues and sentences is not None else None
        self.keys(params, ("min_shared", "ignore"), "reflects_other", required=("min_shared",))
        n = self.integer(params.get("min_shared"), "min_shared", 1) if params.get("min_shared") else None
        ignore = self.lexicon_param(params, "ignore", DEFAULT_ECHO_IGNORE_LEXICON)
        return ReflectsOther(n, ignore) if n is not None and ignore else None

    # ------------------------------------------------------------ rules

    def add_rule(self, value: YValue) -> None:
        m = self.mapping(value, "a rule")
        if m is None:
            return
        self.keys(m, RULE_KEYS, "a rule", RECORD_RULE_REQUIRED if "record" in m.entries else RULE_REQUIRED)
        n_before = len(self.problems.items)

        def opt(key: str, parse: Callable[[YValue], object], default: object) -> object:
            v = m.get(key)
            return default if v is None else parse(v)

        rule_id = opt("id", lambda v: self.name(v, "rule id"), None)
        if isinstance(rule_id, str):
            self.defined_ids.add(rule_id)
        self.params, self.used_params = {}, set()
        params = opt("params", self.rule_params, {})
        # a team's param that the rule does not have is the team file's mistake: reported after
        # the rule is built, so the rule itself still loads (and is not called unknown elsewhere)
        bad_params: list[tuple[str, Loc]] = []
        for name, (val, loc) in self.param_overrides.get(rule_id, {}).items() if isinstance(rule_id, str) else ():
            if isinstance(params, dict) and name not in params:
                bad_params.append((name, loc))
            elif isinstance(params, dict):
                params[name] = val
        self.params = dict(params) if isinstance(params, dict) else {}
        if isinstance(rule_id, str) and any(r.id == rule_id for r in self.rules):
            first = next(r for r in self.rules if r.id == rule_id)
            self.problems.add(m.entries["id"][1].loc, f"rule id {rule_id!r} is used twice (first at {first.loc})",
                              "give each rule its own id; to change a default rule use 'overrides: [{rule: "
                              f"{rule_id}, ...}}]'; to load a full copy of the packs instead of the defaults "
                              "use --only-rules")
        title = opt("title", lambda v: self.text(v, "title"), None)
        severity = opt("severity", self.severity, None)
        why = opt("why", lambda v: self.text(v, "why"), None)
        message = opt("message", lambda v: self.template(v, "message"), None)
        fallback = opt("message_if_no_rewrite", lambda v: self.template(v, "message_if_no_rewrite"), None)
        rewrites = opt("rewrites", self.rewrites, ())
        unless_next = opt("rewrite_unless_next", lambda v: self.lexicon_ref(v, "rewrite_unless_next"), None)
        when = opt("when", lambda v: self.condition(v, "when", "when"), None)
        unless = opt("unless", lambda v: self.condition(v, "unless", "trigger"), None)
        expect = opt("expect", self.expectation, None)
        points_at = opt("points_at", lambda v: self.choice(v, "points_at", ("trigger", "reply")), None)
        quote = opt("quote", lambda v: self.choice(v, "quote", QUOTES), None)
        episode = opt("episode", self.episode, None)
        cooldown = opt("cooldown_s", lambda v: self.number(v, "cooldown_s"), 0.0)
        max_per_call = opt("max_per_call", lambda v: self.integer(v, "max_per_call", 1), None)
        enabled = opt("enabled", lambda v: self.boolean(v, "enabled"), True)
        priority = opt("priority", lambda v: self.integer(v, "priority", 1), 50)
        status = opt("status", lambda v: self.choice(v, "status", STATUSES), "stable")
        tags = opt("tags", lambda v: tuple(n for n, _ in self.names(v, "tag")), ())
        record = opt("record", self.record, None)
        examples = opt("examples", self.examples, ())
        unit = opt("unit", lambda v: self.choice(v, "unit", UNITS), None)
        if isinstance(priority, int) and priority > 100:
            self.problems.add(m.entries["priority"][1].loc, f"priority must be 1..100, not {priority}",
                              "100 is shown first when nudges compete")
        if record is not None:
            for key in ("expect", "message", "rewrites", "episode"):
                if key in m.entries:
                    self.problems.add(m.entries[key][0], f"a 'record' rule writes a list item, so '{key}' has no use",
                                      f"remove '{key}', or make a separate nudge rule")
            severity = severity or "low"
            message = message or title
        if isinstance(when, EventIs) and expect is not None:
            self.problems.add(m.entries["expect"][0], "an 'event' rule fires on the event itself; 'expect' does not apply",
                              "remove 'expect', or trigger on an utterance instead")
        if unit == "turn" and isinstance(when, EventIs):
            self.problems.add(m.entries["unit"][0], "an 'event' rule fires on the event itself, not on a turn",
                              "remove 'unit: turn', or trigger on what a speaker says instead")
        for name in set(self.params) - self.used_params:
            self.problems.add(m.entries["params"][1].entries[name][0], f"param {name!r} is never used",
                              f"use it as ${name} in a number, or remove it")
        if points_at is not None and expect is None:
            self.problems.add(m.entries["points_at"][0], "'points_at' only applies to rules with 'expect'",
                              "remove it, or add an 'expect:' block")
        if quote == "reply" and expect is None:
            self.problems.add(m.entries["quote"][0], "'quote: reply' needs a rule with 'expect' (a reply to quote)",
                              "use 'quote: trigger' (the words that matched), or add an 'expect:' block")
        if "{rewrite}" in (message or "") and not rewrites:
            self.problems.add(m.entries["message"][1].loc, "message uses {rewrite} but the rule has no 'rewrites'",
                              "add 'rewrites:' or remove {rewrite}")
        if "rewrite_unless_next" in m.entries and not rewrites:
            self.problems.add(m.entries["rewrite_unless_next"][0], "'rewrite_unless_next' needs 'rewrites'",
                              "remove it, or add 'rewrites:'")
        if rewrites and fallback is None:
            self.problems.add(m.loc, "a rule with 'rewrites' needs 'message_if_no_rewrite'",
                              "add the message to show when no rewrite applies")
        failed = len(self.problems.items) != n_before or any(
            x is None for x in (rule_id, title, severity, why, message, when, cooldown, enabled, priority, status))
        for name, loc in bad_params:
            if params:
                self.problems.add(loc, f"rule {rule_id!r} has no param {name!r}",
                                  closest_hint(name, params, "param"))  # type: ignore[arg-type]
            else:
                self.problems.add(loc, f"rule {rule_id!r} has no params, so {name!r} cannot be set",
                                  f"see the rule at {m.loc} for what a team can change (enabled, severity, "
                                  "priority, status, cooldown_s, max_per_call, title, message)")
        if failed:
            return
        self.rules.append(Rule(
            id=rule_id, title=title, severity=severity, why=why,  # type: ignore[arg-type]
            message=message, message_if_no_rewrite=fallback or message,  # type: ignore[arg-type]
            rewrites=rewrites, when=when, expect=expect,  # type: ignore[arg-type]
            points_at=points_at or "reply", episode=episode,  # type: ignore[arg-type]
            cooldown_s=cooldown, enabled=enabled, examples=examples,  # type: ignore[arg-type]
            loc=m.loc, unless=unless, priority=priority, status=status, tags=tags,  # type: ignore[arg-type]
            max_per_call=max_per_call, params=tuple(sorted(self.params.items())), record=record,  # type: ignore[arg-type]
            quote=quote or "trigger", rewrite_unless_next=unless_next,  # type: ignore[arg-type]
            unit=unit or "utterance",  # type: ignore[arg-type]
        ))

    def rule_params(self, value: YValue) -> dict[str, float]:
        m = self.mapping(value, "params")
        out: dict[str, float] = {}
        for name, (loc, v) in m.entries.items() if m else ():
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                self.problems.add(loc, f"param name {name!r} is not a valid name",
                                  "use lowercase letters, digits and underscores, e.g. long_turn_words")
                continue
            if not (isinstance(v, YScalar) and type(v.value) in (int, float)):
                self.problems.add(v.loc, f"param {name!r} must be a number, not {_show(v)}", "write e.g. 35")
                continue
            out[name] = v.value  # type: ignore[assignment]
        return out

    def record(self, value: YValue) -> Record | None:
        m = self.mapping(value, "record")
        if m is None:
            return None
        self.keys(m, ("list", "time"), "record", required=("list",))
        name = self.name(m.get("list"), "record list") if m.get("list") is not None else None
        time = None
        if (tv := m.get("time")) is not None:
            t = self.name(tv, "record time lexicon")
            time = self.ref("lexicon", t, tv.loc) if t else None
            if time is None:
                return None
        return Record(name, time) if name else None

    def rewrites(self, value: YValue) -> tuple[Rewrite, ...]:
        seq = self.sequence(value, "rewrites")
        out: list[Rewrite] = []
        for item in seq.items if seq else ():
            rm = self.mapping(item, "a rewrite")
            if rm is None:
                continue
            self.keys(rm, ("from", "to"), "a rewrite", required=("from", "to"))
            src = self.phrases(YSeq((rm.get("from"),), rm.loc), "rewrite 'from'") if rm.get("from") else ()
            dst = self.text(rm.get("to"), "rewrite 'to'") if rm.get("to") else None
            if src and dst is not None:
                out.append(Rewrite(src[0], dst))
        return tuple(out)

    def expectation(self, value: YValue) -> Expectation | None:
        m = self.mapping(value, "expect")
        if m is None:
            return None
        for key in ("speaker", "within"):
            if key not in m.entries:
                self.problems.add(m.loc, f"expect is missing required key {key!r}",
                                  "add 'speaker: agent' and 'within: {turns: 1}'" if key == "within"
                                  else "add 'speaker: agent'")
        cond_map = YMap({k: e for k, e in m.entries.items() if k not in EXPECT_KEYS}, m.loc)
        for key, (loc, _) in cond_map.entries.items():
            if key not in CONDITION_KEYS:
                self.problems.unknown(loc, "key in expect", key, CONDITION_KEYS + EXPECT_KEYS)
        cond_map = YMap({k: e for k, e in cond_map.entries.items() if k in CONDITION_KEYS}, m.loc)
        speaker_v = m.get("speaker")
        speaker = self.speaker(speaker_v, "speaker") if speaker_v is not None else None
        condition = self.condition(cond_map, "expect", "expect") if len(cond_map.entries) > 1 else None
        if len(cond_map.entries) <= 1 and "speaker" in m.entries:
            self.problems.add(m.loc, "expect says whose turn to wait for but not what they should say",
                              "add e.g. 'says: apology'")
        window = self.window(m.get("within"), "expect") if m.get("within") is not None else None
        ignore = None
        if (iv := m.get("ignore")) is not None:
            ignore = self.condition(iv, "expect.ignore", "trigger")
        on_end = "drop"
        if (ev := m.get("if_call_ends")) is not None:
            on_end = self.choice(ev, "if_call_ends", ("drop", "fire")) or "drop"
        if speaker is None or condition is None or window is None or (iv is not None and ignore is None):
            return None
        return Expectation(speaker, condition, window, ignore, on_end)  # type: ignore[arg-type]

    def episode(self, value: YValue) -> Episode | None:
        m = self.mapping(value, "episode")
        if m is None:
            return None
        self.keys(m, ("ends_when",), "episode", required=("ends_when",))
        ev = m.get("ends_when")
        cond = self.condition(ev, "episode.ends_when", "trigger") if ev is not None else None
        return Episode(cond) if cond is not None else None

    def examples(self, value: YValue) -> tuple[Example, ...]:
        m = self.mapping(value, "examples")
        if m is None:
            return ()
        self.keys(m, ("fires", "quiet"), "examples")
        out: list[Example] = []
        for kind in ("fires", "quiet"):
            v = m.get(kind)
            if v is None:
                continue
            seq = self.sequence(v, f"examples.{kind}")
            for number, item in enumerate(seq.items if seq else ()):
                example = self.example(item, kind, number)
                if example is not None:
                    out.append(example)
        return tuple(out)

    def example(self, item: YValue, kind: str, number: int) -> Example | None:
        at = None
        turns_v: YValue | None = item
        if isinstance(item, YMap):
            self.keys(item, ("turns", "at"), "an example", required=("turns",))
            turns_v = item.get("turns")
            if (av := item.get("at")) is not None:
                if kind == "quiet":
                    self.problems.add(av.loc, "'at' only applies to 'fires' examples", "remove it")
                else:
                    at = self.integer(av, "at")
        if turns_v is None:
            return None
        seq = self.sequence(turns_v, "an example")
        if seq is None:
            return None
        if not seq.items:
            self.problems.add(seq.loc, "an example needs at least one turn", "add '- customer: \"...\"'")
            return None
        turns: list[ExampleTurn] = []
        for t in seq.items:
            tm = self.mapping(t, "an example turn")
            if tm is None:
                continue
            self.keys(tm, ("agent", "customer", "pause_s", "seconds", "louder_db"), "an example turn")
            who = [k for k in ("agent", "customer") if k in tm.entries]
            if len(who) != 1:
                self.problems.add(tm.loc, "an example turn needs exactly one speaker",
                                  "write '- agent: \"...\"' or '- customer: \"...\"'")
                continue
            text = self.text(tm.entries[who[0]][1], f"the {who[0]}'s words")
            pause = self.number(tm.get("pause_s"), "pause_s", -30.0) if tm.get("pause_s") else 0.5
            seconds = self.number(tm.get("seconds"), "seconds", 0.1) if tm.get("seconds") else None
            louder = self.number(tm.get("louder_db"), "louder_db", -40.0) if tm.get("louder_db") else None
            bad = (tm.get("seconds") and seconds is None) or (tm.get("louder_db") and louder is None)
            if text is not None and pause is not None and not bad:
                turns.append(ExampleTurn(Speaker(who[0]), text, pause, seconds, louder))
        if len(turns) != len(seq.items):
            return None
        if at is not None and at >= len(turns):
            self.problems.add(item.loc, f"'at: {at}' is past the last turn (there are {len(turns)})",
                              "count turns from 0")
            return None
        return Example(kind, number, tuple(turns), at, item.loc)  # type: ignore[arg-type]

    def add_override(self, value: YValue) -> None:
        """``{rule: ID, enabled/severity/priority/status/cooldown_s/max_per_call/params}`` or
        ``{lexicon: NAME, add: [...], remove: [...]}``."""
        m = self.mapping(value, "an override")
        if m is None:
            return
        if "lexicon" in m.entries:
            self.keys(m, LEXICON_OVERRIDE_KEYS, "a lexicon override")
            name = self.name(m.get("lexicon"), "lexicon")  # type: ignore[arg-type]
            add = self.phrases(m.get("add"), "a phrase to add")
            remove = self.phrases(m.get("remove"), "a phrase to remove")
            if not add and not remove:
                self.problems.add(m.loc, "a lexicon override needs 'add' or 'remove'", "add e.g. 'add: [VLAN, DNS]'")
            elif name is not None:
                self.lexicon_overrides.append((name, m.entries["lexicon"][1].loc, add, remove))
            return
        self.keys(m, RULE_OVERRIDE_KEYS, "an override", required=("rule",))
        rv = m.get("rule")
        rule_id = self.name(rv, "rule") if rv is not None else None
        changes: dict[str, object] = {}
        if (v := m.get("enabled")) is not None:
            changes["enabled"] = self.boolean(v, "enabled")
        if (v := m.get("severity")) is not None:
            changes["severity"] = self.severity(v)
        if (v := m.get("priority")) is not None:
            changes["priority"] = self.integer(v, "priority", 1)
        if (v := m.get("status")) is not None:
            changes["status"] = self.choice(v, "status", STATUSES)
        if (v := m.get("cooldown_s")) is not None:
            changes["cooldown_s"] = self.number(v, "cooldown_s")
        if (v := m.get("max_per_call")) is not None:
            changes["max_per_call"] = self.integer(v, "max_per_call", 1)
        if (v := m.get("title")) is not None:
            changes["title"] = self.text(v, "title")
        for key in ("message", "message_if_no_rewrite"):
            if (v := m.get(key)) is not None:
                changes[key] = self.template(v, key)
        if (v := m.get("params")) is not None and rule_id is not None:
            pm = self.mapping(v, "params")
            for name, (loc, pv) in pm.entries.items() if pm else ():
                if isinstance(pv, YScalar) and type(pv.value) in (int, float):
                    self.param_overrides.setdefault(rule_id, {})[name] = (pv.value, loc)  # type: ignore[assignment]
                else:
                    self.problems.add(pv.loc, f"param {name!r} must be a number, not {_show(pv)}", "write e.g. 50")
        if rule_id is not None and rv is not None and None not in changes.values():
            for key in changes:
                self.override_locs[(len(self.overrides), key)] = m.entries[key][1].loc
            self.overrides.append((rule_id, rv.loc, changes))

    # ------------------------------------------------------------ cross references

    def unknown_rule(self, rule_id: str, loc: Loc, known: dict[str, Rule]) -> None:
        if rule_id in self.defined_ids:
            return  # defined, but it has errors of its own (reported where it is written)
        if not known:
            self.problems.add(loc, f"unknown rule id {rule_id!r}: no rules are loaded",
                              "an override changes rules loaded with it: check it on top of the default packs "
                              "('rules check FILE', without --only-rules)")
            return
        self.problems.unknown(loc, "rule id", rule_id, known)

    def apply_override(self, rule: Rule, changes: dict[str, object], number: int) -> Rule:
        changes = dict(changes)
        message = changes.get("message")
        if isinstance(message, str) and "{rewrite}" in message and not rule.rewrites:
            self.problems.add(self.override_locs[(number, "message")],
                              f"message uses {{rewrite}} but rule {rule.id!r} has no 'rewrites'", "remove {rewrite}")
        if "message_if_no_rewrite" in changes and not rule.rewrites:
            self.problems.add(self.override_locs[(number, "message_if_no_rewrite")],
                              f"rule {rule.id!r} has no 'rewrites', so it always shows 'message'",
                              "override 'message' instead")
        if isinstance(message, str) and not rule.rewrites:
            changes["message_if_no_rewrite"] = message  # what a rule without rewrites shows
        return replace(rule, **changes)  # type: ignore[arg-type]

    def finish(self, files: tuple[str, ...]) -> RuleSet:
        known = {"lexicon": self.lexicons, "tone": self.tones}
        for ref in self.refs:
            if ref.name not in known[ref.kind]:
                self.problems.unknown(ref.loc, ref.kind, ref.name, known[ref.kind])
        by_id = {r.id: r for r in self.rules}
        reported: set[tuple[str, Loc]] = set()
        for number, (rule_id, loc, changes) in enumerate(self.overrides):
            if rule_id not in by_id:
                self.unknown_rule(rule_id, loc, by_id)
                reported.add((rule_id, loc))
                continue
            by_id[rule_id] = self.apply_override(by_id[rule_id], changes, number)
        for rule_id, by in self.param_overrides.items():
            loc = next(iter(by.values()))[1]
            if rule_id not in by_id and not any(r == rule_id and l.line == loc.line for r, l in reported):
                self.unknown_rule(rule_id, loc, by_id)
        lexicons = dict(self.lexicons)
        for name, loc, add, remove in self.lexicon_overrides:
            lex = lexicons.get(name)
            if lex is None:
                if lexicons:
                    self.problems.unknown(loc, "lexicon", name, lexicons)
                else:
                    self.problems.add(loc, f"unknown lexicon {name!r}: no lexicons are loaded",
                                      "an override changes lexicons loaded with it: check it on top of the default "
                                      "packs ('rules check FILE', without --only-rules)")
                continue
            have = {p.text.lower() for p in lex.phrases}
            for phrase in remove:
                if phrase.text.lower() not in have:
                    self.problems.add(phrase.loc, f"lexicon {name!r} has no phrase {phrase.text!r} to remove",
                                      closest_hint(phrase.text, [p.text for p in lex.phrases], "phrase"))
            gone = {p.text.lower() for p in remove}
            kept = tuple(p for p in lex.phrases if p.text.lower() not in gone)
            lexicons[name] = replace(lex, phrases=kept + tuple(p for p in add if p.text.lower() not in have))
        rules = [by_id[r.id] for r in self.rules]
        return RuleSet(
            rules=tuple(r for r in rules if r.enabled),
            disabled=tuple(r for r in rules if not r.enabled),
            lexicons=lexicons,
            tones=dict(self.tones),
            fillers=tuple(dict.fromkeys(self.fillers)),
            files=files,
        )


def _kind(value: YValue) -> str:
    if isinstance(value, YMap):
        return "a mapping"
    if isinstance(value, YSeq):
        return "a list"
    v = value.value
    if v is None:
        return "nothing"
    return {bool: "true/false", int: "a number", float: "a number", str: "text"}[type(v)]


def _show(value: YValue) -> str:
    if isinstance(value, YScalar):
        return repr(value.value)
    return _kind(value)


def _plain(value: YValue) -> object:
    """A located YAML value as plain Python (for spaCy token patterns)."""
    if isinstance(value, YMap):
        return {k: _plain(v) for k, (_, v) in value.entries.items()}
    if isinstance(value, YSeq):
        return [_plain(v) for v in value.items]
    return value.value


def _locate(pattern: YSeq, path: tuple[object, ...]) -> Loc:
    """The location of the token / key spaCy's validator complained about (best effort)."""
    node: YValue = pattern
    for step in path:
        if isinstance(node, YSeq) and isinstance(step, int) and 0 <= step < len(node.items):
            node = node.items[step]
        elif isinstance(node, YMap) and isinstance(step, str) and step in node.entries:
            key_loc, child = node.entries[step]
            node = child if not isinstance(child, YScalar) else YScalar(None, key_loc)
        else:
            break
    return node.loc


def regex_problem(pattern: str, ignore_case: bool) -> tuple[str, str] | None:
    """Why a team lead's regex is refused, with a fix; None when it is fine.

    RE2 runs in time linear in the text (no backtracking), so no pattern can freeze the
    sidebar; RE2 also refuses what needs backtracking (backreferences, lookaround) and
    patterns whose compiled program would be too big.
    """
    if len(pattern) > MAX_REGEX_CHARS:
        return (f"is {len(pattern)} characters long (at most {MAX_REGEX_CHARS})",
                "split it into several rules or use a lexicon of phrases")
    try:
        compiled = compile_regex(pattern, ignore_case)
    except ValueError as exc:
        hint = "write an RE2 pattern (no backreferences like \\1, no lookarounds like (?=...))"
        text = str(exc)
        if "repetition" in text or "too big" in text or "pattern too large" in text:
            hint = "use smaller repeat counts ({1,20}) or a lexicon of phrases"
        return text, hint
    if compiled.search("") is not None:
        return "matches empty text, so it would fire on every utterance", "make at least one character required"
    return None


def compile_regex(pattern: str, ignore_case: bool):  # type: ignore[no-untyped-def]
    """Compile with RE2 under a memory bound; ValueError with RE2's reason when refused."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None


def token_regex_problem(pattern: object) -> tuple[str, str, tuple[object, ...]] | None:
    """Why a ``REGEX`` of a token pattern is refused (message, fix, path to it), or None. Token
    regexes run on RE2 as ``says: {regex}`` does (``rules.tokens``), under the same bounds; a regex
    matching empty text is allowed here (it tests one token, it does not fire a rule alone)."""
    from .tokens import regexes_in

    for path, value in regexes_in(pattern):
        if not isinstance(value, str):
            return f"REGEX must be a string, got {type(value).__name__}", "write e.g. {LOWER: {REGEX: '^re'}}", path
        if len(value) > MAX_REGEX_CHARS:
            return (f"REGEX {value!r} is {len(value)} characters long (at most {MAX_REGEX_CHARS})",
                    "use IN with a list of words, or a lexicon", path)
        try:
            compile_regex(value, False)
        except ValueError as exc:
            text = str(exc)
            hint = ("token regexes run on RE2, which needs no backtracking: no backreferences like \\1, no "
                    "lookarounds like (?=...); use IN/NOT_IN lists or two token specs instead")
            if "repetition" in text or "too big" in text or "pattern too large" in text:
                hint = "use smaller repeat counts ({1,20}) or IN with a list of words"
            return f"REGEX {value!r}: {text}", hint, path
    return None


def token_pattern_problem(pattern: object) -> tuple[str, tuple[object, ...]] | None:
    """spaCy's own validation of one Matcher pattern: (message, path to the bad part) or None.

    A pattern made only of what ``rules.tokens`` matches itself is valid for spaCy too, and is
    passed without importing spaCy (about a second: ``qa`` checks the rules before any work)."""
    from .tokens import supported

    if isinstance(pattern, list) and pattern and all(supported(spec) for spec in pattern):
        return None
    from spacy.errors import MatchPatternError
    from spacy.matcher import Matcher
    from spacy.vocab import Vocab

    import json

    from .tokens import regexes_in

    if regexes_in(pattern):  # RE2 judged them (token_regex_problem); spaCy's re must not refuse RE2 syntax
        pattern = json.loads(json.dumps(pattern))
        for path, _ in regexes_in(pattern):
            holder = pattern
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1]] = "."
    matcher = Matcher(Vocab(), validate=True)
    try:
        matcher.add("pattern", [pattern])  # type: ignore[list-item]
    except MatchPatternError as exc:
        lines = [ln.strip("- ").strip() for ln in str(exc).splitlines() if ln.strip().startswith("- [")]
        if not lines:
            return str(exc).strip().splitlines()[-1], ()
        first = lines[0]
        path_text, _, message = first.partition("] ")
        steps: list[object] = []
        for part in path_text.strip("[").split(" -> ")[1:]:
            steps.append(int(part) if part.isdigit() else part)
        return f"{' -> '.join(map(str, steps))}: {message}" if steps else message, tuple(steps)
    except (ValueError, TypeError, KeyError) as exc:
        return str(exc) or exc.__class__.__name__, ()
    return None
