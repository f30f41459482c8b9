"""YAML rule files -> a validated ``RuleSet``, reporting every problem with ``file:line:col``.

Three steps: ``source`` parses safe YAML into located values; ``shape`` validates them against
the pydantic models of ``spec`` (keys, required keys, types, names, choices, ranges), mapping
each of pydantic's errors back to ``file:line:col``; this module then checks, on the validated
models, what needs the whole rule set or the place a value is used (lexicon and tone
references, ``$param`` values, rule ids of overrides, regexes through RE2, spaCy token patterns,
which keys a rule may combine), and builds the typed ``model`` the engine compiles. All problems
are collected and raised together as one ``RuleError`` whose ``errors`` attribute holds the
``RuleProblem`` list. A part with a shape error is not built, but the valid parts around it are
still checked, so one run reports what it can.
"""

from __future__ import annotations

import difflib
import os
import re
import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Collection, Sequence

from ..errors import RuleError
from ..safe_regex import compile_regex
from ..signal_catalogue import SIGNAL_FIELDS
from ..types import Speaker
from . import shape
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
    RegexFinder,
    Rewrite,
    Rule,
    RuleSet,
    Says,
    SentenceLacks,
    SentenceSays,
    SignalTest,
    SpeakerIs,
    Subordinate,
    SubjectFinder,
    ClaimFinder,
    TokenFinder,
    Tone,
    ToneIs,
    UsesName,
    Window,
)
from .source import Loc, Problems, RuleProblem, YMap, YScalar, YSeq, YValue, closest_hint, read_rule_file

# The keys, names and choices of a rule file come from its pydantic models (rules.spec), which
# the JSON Schema is generated from too; re-exported here for the loader's callers.
from .spec import (  # noqa: F401  (re-exported)
    CONDITION_KEYS,
    EARLIER_KEYS,
    ENTITY_LABELS,
    EVENT_KEYS,
    EVENT_KINDS,
    EXPECT_KEYS,
    LEXICON_KEYS,
    LEXICON_OVERRIDE_KEYS,
    MAX_REGEX_CHARS,
    NAME_PATTERN,
    PRAISE_RULE_REQUIRED,
    QUOTES,
    RECORD_RULE_REQUIRED,
    RULE_KEYS,
    RULE_OVERRIDE_KEYS,
    RULE_REQUIRED,
    SAYS_FINDERS,
    SEVERITIES,
    SEVERITY_WORDS,
    SKIP_TESTS,
    STATUSES,
    SUPPORTED_VERSIONS,
    TOP_KEYS,
    ConditionKeys,
    ConditionSpec,
    EarlierSpec,
    EventSpec,
    ExamplesSpec,
    ExampleSpec,
    ExpectSpec,
    LexiconOverrideSpec,
    LexiconSpec,
    RecordSpec,
    RewriteSpec,
    RuleFileSpec,
    RuleOverrideSpec,
    RuleSpec,
    SaysSpec,
    SignalRange,
    SkipTestSpec,
    SubjectSpec,
    ClaimSpec,
    ToneSpec,
    WindowSpec,
)
from .spec import Example as ExampleShape  # one example's shape (a list of turns, or turns with 'at')

PRAISE_NO_USE = ("severity", "record", "rewrites", "message_if_no_rewrite", "rewrite_unless_next", "points_at")
PRAISE_MAX_PER_CALL = 1  # a praise rule's default max_per_call: the call's summary stays short

TEMPLATE_FIELDS = ("quote", "rewrite")
NAME_RE = re.compile(NAME_PATTERN)
PHRASE_WORD_RE = re.compile(r"^(?:<num>|[\w'’-]+)$")
# a phrase whose choices hold contractions is written out into this many phrases at most
MAX_PHRASE_FORMS = 32


def _choice_problem(text: str) -> tuple[str, str] | None:
    """What is wrong with a phrase's choices and how to fix it, or None."""
    from .features import phrase_chunks  # as .lint: not at the loader's import

    for chunk in phrase_chunks(text):
        if chunk in ("(", ")"):
            return (
                "a parenthesis is not closed" if chunk == "(" else "a ')' closes no '('",
                "group whole choices in one pair of parentheses: '(it is|it's) broken'",
            )
        if chunk.startswith("("):
            alts = chunk[1:-1].split("|")
            if len(alts) < 2:
                return (
                    f"the group {chunk!r} has no '|' between choices",
                    "write e.g. '(it is|it's) broken', or '(really|) sorry' for a word that may be left out",
                )
            bad = [w for a in alts for w in a.split() if not PHRASE_WORD_RE.match(w)]
            if bad or not any(a.strip() for a in alts):
                return (
                    f"the group {chunk!r} must hold words separated by '|'",
                    "write e.g. '(it is|it's) broken'",
                )
        elif "|" in chunk and not all(PHRASE_WORD_RE.match(a) for a in chunk.split("|")):
            return (
                f"alternatives {chunk!r} must be single words separated by '|'",
                "write e.g. 'second|third time', or group phrases: '(money back|refund)'",
            )
    return None


# Defaults of the built-in tests, each naming the lexicon it reads.
DEFAULT_NEGATION_LEXICON = "negation"
DEFAULT_CONDITIONAL_LEXICON = "conditional"
DEFAULT_ECHO_IGNORE_LEXICON = "echo-ignore"
DEFAULT_NAME_INTRO_LEXICON = "name-intro"
DEFAULT_REQUEST_LEXICON = "customer-request"


def _not_a_rule_file(path: Path) -> RuleProblem:
    """A ``*.yaml`` entry of a rules folder that is no file to read: a link to nothing (a share
    not mounted), a folder, a pipe."""
    if path.is_symlink() and not path.exists():
        what = f"a link to {os.readlink(path)}, which does not exist"
        fix = "mount or restore what it points at, or remove the link"
    elif path.is_dir():
        what, fix = "a folder, not a rule file", "rename the folder (a rules folder loads its *.yaml files)"
    else:
        what, fix = "not a file that can be read", "replace it with the rule file, or remove it"
    return RuleProblem(str(path), 1, 1, f"cannot load {path.name}: {what}", fix)


def load_rules(paths: Sequence[Path], leave_out: Collection[Loc] = ()) -> RuleSet:
    """Load rule files and folders (every ``*.yaml`` inside, sorted) into one ``RuleSet``;
    ``leave_out``: override entries (``RuleSet.overrides``) to load as if they were not written.

    Raises ``RuleError`` listing every problem as ``file:line:col: what (fix: ...)``; its
    ``errors`` attribute holds them as ``RuleProblem`` values.
    """
    problems = Problems()
    files: list[Path] = []
    # warnings about the files themselves: one that loads nothing, one a folder leaves out
    file_warnings: list[RuleProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.yaml") if p.is_file())
            for odd in sorted(p for p in path.glob("*.yaml") if not p.is_file()):  # was left out without a word
                problems.items.append(_not_a_rule_file(odd))
            yml = sorted(p for p in path.glob("*.yml") if p.is_file())  # a folder loads *.yaml only
            if not found:
                what, fix = "folder has no *.yaml rule files", "point at a folder of rule packs or at a single file"
                if yml:
                    what += f" ({', '.join(p.name for p in yml)}: a folder loads *.yaml files only)"
                    fix = f"rename it {yml[0].stem}.yaml" if len(yml) == 1 else "rename them *.yaml"
                problems.items.append(RuleProblem(str(path), 1, 1, what, fix))
            else:
                file_warnings += [
                    RuleProblem(
                        str(p), 1, 1, "not loaded: a folder loads its *.yaml files only", f"rename it {p.stem}.yaml"
                    )
                    for p in yml
                ]
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            env = os.environ.get("RAPPORT_ASSIST_RULES")  # rules.RULES_ENV: it names the default packs' folder
            hint = (
                "check $RAPPORT_ASSIST_RULES, which names the folder of default packs (unset it for the bundled rules/)"
                if env and Path(env) == path
                else _missing_path_hint(path)
            )
            problems.items.append(RuleProblem(str(path), 1, 1, "no such rule file or folder", hint))
    if not paths:
        problems.items.append(RuleProblem("<rules>", 1, 1, "no rule files given", "pass a file or folder"))
    files = _unique(files)
    builder = _Builder(problems, leave_out=frozenset(leave_out))
    checked = []
    for path in files:
        before = len(problems.items)
        tree = read_rule_file(path, problems)
        if tree is not None:
            checked.append(_File(tree, shape.check(RuleFileSpec, tree, problems)))
        elif any(p.path == str(path) for p in problems.items):
            builder.unread.append(str(path))
        if len(problems.items) > before and _is_call(path):  # a call given where rules go: say that, not YAML's words
            del problems.items[before:]
            problems.items.append(
                RuleProblem(
                    str(path),
                    1,
                    1,
                    "this is a call (a transcript or a recording), not a rule file",
                    "rule files are YAML (.yaml); a call goes where the command takes one: 'replay CALL', "
                    "'rules explain --rule ID CALL', 'rules diff --new team.yaml CALLS...'",
                )
            )
        if _loads_nothing(tree) and not any(p.path == str(path) for p in problems.items):
            file_warnings.append(
                RuleProblem(
                    str(path),
                    1,
                    1,
                    "this rule file is empty: it loads no rules, lexicons or overrides",
                    "write what it should change under 'overrides:', 'rules:' or 'lexicons:' (README, "
                    "'Team overrides'), or leave the file out",
                )
            )
    for file in checked:  # overrides first: they change how the rules are built (params)
        builder.collect_overrides(file)
    for file in checked:
        builder.add_file(file)
    ruleset = builder.finish(tuple(str(f) for f in files))
    if problems.items:
        raise _rule_error(problems.items)
    from .lint import lint

    return replace(ruleset, warnings=(*file_warnings, *builder.warnings, *lint(ruleset, builder.used_lexicons)))


def _is_call(path: Path) -> bool:
    """A transcript or a recording by its name (a .json may be a rule file written as JSON)."""
    from ..audio import AUDIO_SUFFIXES
    from ..transcript import ANALYTICS_SUFFIX, TRANSCRIPT_SUFFIXES

    suffix = path.suffix.lower()
    return suffix != ANALYTICS_SUFFIX and suffix in (*TRANSCRIPT_SUFFIXES, *AUDIO_SUFFIXES)


def _loads_nothing(tree: YValue | None) -> bool:
    """An empty file, only comments, or a mapping of nothing but 'version' and empty parts."""
    if tree is None:
        return True
    if not isinstance(tree, YMap):
        return False  # a shape error, reported
    return all(
        key == "version" or (isinstance(v, YSeq) and not v.items) or (isinstance(v, YMap) and not v.entries)
        for key, (_, v) in tree.entries.items()
    )


def _missing_path_hint(path: Path) -> str:
    """How to fix a rule path that is not there (given as PATH, --rules, --only-rules, --old or
    --new): the closest rule file or folder beside it, when there is one."""
    try:
        beside = [p.name for p in path.parent.iterdir() if p.is_dir() or p.suffix.lower() in (".yaml", ".yml")]
    except OSError:
        beside = []
    close = difflib.get_close_matches(path.name, beside, n=1, cutoff=0.6)
    if close:
        return f"did you mean {str(path.parent / close[0])!r}?"
    return "check the path: a rule file, or a folder of *.yaml rule files"


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


_FOLD_TWICE = 5  # more names than this defined twice in one file: a copy of loaded rules, said once


def _rule_error(items: list[RuleProblem]) -> RuleError:
    items = sorted(items, key=lambda p: (p.path, p.line, p.col))
    count = f"{len(items)} problem{'s' if len(items) != 1 else ''}"
    twice: dict[str, list[RuleProblem]] = {}
    for p in items:
        if " is defined twice" in p.message or " is used twice" in p.message:
            twice.setdefault(p.path, []).append(p)
    shown: list[str] = []
    for p in items:
        same = twice.get(p.path, [])
        if len(same) > _FOLD_TWICE and p in same:
            if p is same[1]:  # the first two as examples, then one line for the rest
                shown.append(f"  {p}")
                shown.append(
                    f"  {p.path}: ... and {len(same) - 2} more rules, lexicons and tones defined twice: this file "
                    "repeats rules already loaded, as a copy of the default packs does (fix: load a full copy with "
                    "--only-rules instead of --rules; a team file on top of the defaults keeps only its changes, "
                    "as 'overrides' and new rules)"
                )
            elif p is same[0]:
                shown.append(f"  {p}")
            continue
        shown.append(f"  {p}")
    lines = "\n".join(shown)
    them = "it" if len(items) == 1 else "them"
    error = RuleError(
        f"{count} in rule files:\n{lines}", f"fix {them}, then re-check with 'rapport-assist rules check'"
    )
    error.errors = list(items)  # type: ignore[attr-defined]
    return error


@dataclass(frozen=True)
class _File:
    """A parsed file and its validated model (None when it has shape errors, already reported)."""

    tree: YValue
    spec: RuleFileSpec | None

    def entries(self, key: str, item: Any) -> list[tuple[str, Loc, Any, YValue]]:
        """The parts under ``key`` as (name or "", where, validated model or None, located value).

        From the file's model when the whole file is valid; else each part validated alone
        (without reporting: the file's check did), so the valid parts are still built."""
        node = self.tree.get(key) if isinstance(self.tree, YMap) else None
        values = getattr(self.spec, key) if self.spec is not None else None
        if isinstance(node, YSeq):
            if self.spec is not None:
                return [("", n.loc, v, n) for v, n in zip(values or (), node.items)]
            return [("", n.loc, shape.valid(item, n), n) for n in node.items]
        if isinstance(node, YMap):
            out = []
            for name, (key_loc, n) in node.entries.items():
                if not NAME_RE.match(name):
                    continue  # reported by the check
                v = (values or {}).get(name) if self.spec is not None else shape.valid(item, n)
                out.append((name, key_loc, v, n))
            return out
        return []


def _get(spec: Any, key: str) -> Any:
    """A model's value by its YAML key ("not", "except", "from", "is" are ``not_`` ... in Python)."""
    return getattr(spec, key + "_" if key in ("not", "except", "from", "is") else key)


def _at(node: YValue, key: str) -> YValue:
    """The located value of ``key`` in a mapping that the model says has it."""
    assert isinstance(node, YMap)
    return node.entries[key][1]


@dataclass
class _Ref:
    kind: str  # "lexicon" | "tone"
    name: str
    loc: Loc


# the optional lexicons of a ``claim`` finder (``ClaimSpec``, ``ClaimFinder``)
_CLAIM_LEXICONS = (
    "wrongs",
    "duties",
    "enables",
    "harms",
    "fixes",
    "victims",
    "prevents",
    "staff",
    "unasked",
    "contacts",
    "repeats",
)


@dataclass
class _Builder:
    """Checks each file's validated models and then the references between files."""

    problems: Problems
    lexicons: dict[str, Lexicon] = field(default_factory=dict)
    tones: dict[str, Tone] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    fillers: list[str] = field(default_factory=list)
    # files that could not be read (a YAML syntax error): names they define are not known
    unread: list[str] = field(default_factory=list)
    # override entries read as if absent (``rules test`` finding which one broke an example)
    leave_out: frozenset[Loc] = frozenset()
    # where each override entry read is written (``RuleSet.overrides``)
    override_entries: list[Loc] = field(default_factory=list)
    overrides: list[tuple[str, Loc, dict[str, object]]] = field(default_factory=list)
    # where each override key was written, to point at it when the rule cannot take it
    override_locs: dict[tuple[int, str], Loc] = field(default_factory=dict)
    # every rule id a file defines, built or not (an override of a broken rule is not "unknown")
    defined_ids: set[str] = field(default_factory=set)
    param_overrides: dict[str, dict[str, tuple[float, Loc]]] = field(default_factory=dict)
    # warnings found while building (lint warns about the finished rule set)
    warnings: list[RuleProblem] = field(default_factory=list)
    # (file, rule id, setting) -> where a file's override set it: one file setting it twice is a slip
    override_set_at: dict[tuple[str, str, str], Loc] = field(default_factory=dict)
    lexicon_overrides: list[tuple[str, Loc, tuple[Phrase, ...], tuple[Phrase, ...]]] = field(default_factory=list)
    refs: list[_Ref] = field(default_factory=list)
    used_lexicons: set[str] = field(default_factory=set)
    # the rule being built: its params ($name -> value), which of them were read, and whether
    # they are known (a rule whose params have errors does not report each $name as unknown)
    params: dict[str, float] = field(default_factory=dict)
    used_params: set[str] = field(default_factory=set)
    params_known: bool = True
    bad_params: list[tuple[str, Loc]] = field(default_factory=list)
    # where a team's override set each param of the rule being built: a bad value is its mistake
    param_set_at: dict[str, Loc] = field(default_factory=dict)

    # ------------------------------------------------------------ values

    def param(self, value: float | str, node: YValue) -> float | None:
        """``$name`` -> the rule's param value; a number unchanged; None for an unknown param."""
        if not isinstance(value, str):
            return value
        name = value[1:]
        if name not in self.params:
            if self.params_known:
                self.problems.unknown(node.loc, "param", value, ["$" + k for k in self.params])
            return None
        self.used_params.add(name)
        v = self.params[name]
        return int(v) if float(v).is_integer() else v

    def bad_value_at(self, value: float | str, node: YValue, what: str) -> tuple[Loc, str]:
        """Where to report a bad value, and what to call it: a ``$param`` a team's override set is
        the override's mistake (its line, naming where the rule uses it), else the place itself."""
        if isinstance(value, str) and value[1:] in self.param_set_at:
            return self.param_set_at[value[1:]], f"params.{value[1:]} (the rule's {what}, {node.loc})"
        return node.loc, what

    def integer(self, value: int | str, node: YValue, what: str, minimum: int = 0) -> int | None:
        v = self.param(value, node)
        if v is None:
            return None  # an unknown param, already reported
        if type(v) is int and v >= minimum:
            return v
        loc, what = self.bad_value_at(value, node, what)
        self.problems.add(
            loc, f"{what} must be a whole number >= {minimum}, not {v!r}", f"write a number like {max(minimum, 1)}"
        )
        return None

    def number(self, value: float | str, node: YValue, what: str, minimum: float = 0.0) -> float | None:
        v = self.param(value, node)
        if v is None:
            return None  # an unknown param, already reported
        if minimum <= v < float("inf"):
            return float(v)
        bound = f" >= {minimum:g}" if minimum > -float("inf") else ""
        loc, what = self.bad_value_at(value, node, what)
        shown = f"{v:g}" if isinstance(v, (int, float)) else repr(v)  # as written: -1, not -1.0
        self.problems.add(loc, f"{what} must be a number{bound}, not {shown}", "write a number like 20 or 2.5")
        return None

    def template(self, text: str, node: YValue, what: str) -> str | None:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as exc:
            self.problems.add(
                node.loc,
                f"{what} has a broken placeholder ({exc})",
                "write {quote} or {rewrite}; double literal braces: {{ }}",
            )
            return None
        for f in fields:
            if f not in TEMPLATE_FIELDS:
                self.problems.unknown(
                    node.loc, f"placeholder in {what}", "{" + f + "}", ["{" + t + "}" for t in TEMPLATE_FIELDS]
                )
                return None
        return text

    def names(self, value: str | list[str], node: YValue) -> list[tuple[str, Loc]]:
        """A name or a list of names, each with where it is written."""
        if isinstance(value, str):
            return [(value, node.loc)]
        assert isinstance(node, YSeq)
        return [(name, item.loc) for name, item in zip(value, node.items)]

    def lexicon_param(self, value: str | None, holder: YValue, key: str, default: str) -> str:
        """The lexicon a test reads: the one named under ``key``, else its default."""
        if value is None:
            return self.ref("lexicon", default, holder.loc)
        return self.ref("lexicon", value, _at(holder, key).loc)

    def ref(self, kind: str, name: str, loc: Loc) -> str:
        self.refs.append(_Ref(kind, name, loc))
        if kind == "lexicon":
            self.used_lexicons.add(name)
        return name

    # ------------------------------------------------------------ files

    def add_file(self, file: _File) -> None:
        if isinstance(file.tree, YMap) and (node := file.tree.get("fillers")) is not None:
            words = file.spec.fillers if file.spec is not None else shape.valid(list[shape.spec.Text], node)
            self.fillers.extend(w.lower() for w in words or ())
        for name, key_loc, lexicon, node in file.entries("lexicons", shape.spec.Lexicon):
            self.add_lexicon(name, key_loc, lexicon, node)
        for name, key_loc, tone, node in file.entries("tones", ToneSpec):
            self.add_tone(name, key_loc, tone, node)
        for _, _, rule, node in file.entries("rules", RuleSpec):
            if isinstance(node, YMap):
                self.add_rule(rule, node)

    def collect_overrides(self, file: _File) -> None:
        """Read a file's ``overrides:`` (before any rule is built: they change params)."""
        for _, _, override, node in file.entries("overrides", shape.spec.Override):
            if override is not None and node.loc not in self.leave_out:
                self.override_entries.append(node.loc)
                self.add_override(override, node)

    def add_lexicon(self, name: str, key_loc: Loc, spec: list[Any] | LexiconSpec | None, node: YValue) -> None:
        if name in self.lexicons:
            self.problems.add(
                key_loc,
                f"lexicon {name!r} is defined twice (first at {self.lexicons[name].loc})",
                "rename one or merge their phrases; to add words to a default lexicon use "
                f"'overrides: [{{lexicon: {name}, add: [...]}}]'",
            )
            return
        if spec is None:  # shape errors, reported: known by name, so its uses are not "unknown" too
            self.lexicons[name] = Lexicon(name, (), (), (), "", key_loc)
            return
        if isinstance(spec, list):  # short form: a bare list of phrases
            self.lexicons[name] = Lexicon(name, self.phrases(spec, node, "a phrase"), (), (), "", key_loc)
            return
        phrases = self.phrases(spec.phrases, node.get("phrases"), "a phrase")  # type: ignore[union-attr]
        excepts = self.phrases(spec.except_, node.get("except"), "an except phrase")  # type: ignore[union-attr]
        entities = tuple(spec.entities or ())
        if not phrases and not entities:
            self.problems.add(node.loc, f"lexicon {name!r} has no phrases", "add 'phrases:' with at least one")
        self.lexicons[name] = Lexicon(name, phrases, excepts, entities, spec.description or "", key_loc)

    def phrases(self, values: list[Any] | None, node: YValue | None, what: str) -> tuple[Phrase, ...]:
        if values is None or not isinstance(node, YSeq):
            return ()
        from .features import expand_choices  # as .lint: not at the loader's import

        out: list[Phrase] = []
        for value, item in zip(values, node.items):
            # "no", "yes", "100" are words here: as written, not as YAML reads them
            text = value.strip() if isinstance(value, str) else (item.raw if isinstance(item, YScalar) else "")
            if not text:
                self.problems.add(item.loc, f"{what} is empty", "write some text")
                continue
            if not any(ch.isalnum() for ch in text) and "<num>" not in text:
                self.problems.add(item.loc, f"{what} {text!r} has no words", "write at least one word")
                continue
            wrong = _choice_problem(text)
            if wrong:
                self.problems.add(item.loc, f"{what} {text!r}: {wrong[0]}", wrong[1])
                continue
            forms = expand_choices(text)
            if len(forms) > MAX_PHRASE_FORMS:
                self.problems.add(
                    item.loc,
                    f"{what} {text!r} stands for {len(forms)} phrases (choices with a contraction are "
                    f"written out; at most {MAX_PHRASE_FORMS})",
                    "split it into a few phrases",
                )
                continue
            out.extend(Phrase(form, item.loc) for form in forms)
        return tuple(out)

    def add_tone(self, name: str, key_loc: Loc, spec: ToneSpec | None, node: YValue) -> None:
        if name in self.tones:
            self.problems.add(key_loc, f"tone {name!r} is defined twice", "keep one definition")
            return
        if spec is None:  # shape errors, reported: known by name, so its uses are not "unknown" too
            if isinstance(node, YMap) and "text" in node.entries:
                self.partial_condition(_at(node, "text"), "tone")
            self.tones[name] = Tone(name, AllOf(()), key_loc)
            return
        cond = self.condition(spec.text, _at(node, "text"), f"tone {name!r}", context="tone")
        if cond is not None:
            self.tones[name] = Tone(name, cond, key_loc)

    # ------------------------------------------------------------ conditions

    def condition(self, spec: ConditionKeys, node: YValue, what: str, context: str) -> Condition | None:
        """Build a condition; ``context`` is "when" (a rule's trigger), "trigger" (other
        per-utterance conditions), "expect" or "tone": what it may use. Its keys are taken in
        the order they are written (the order the engine tests them)."""
        assert isinstance(node, YMap)
        keys = [k for k in node.entries if k in CONDITION_KEYS]
        if not keys:
            self.problems.add(node.loc, f"{what} is an empty condition", "add e.g. 'speaker: agent'")
            return None
        if "event" in keys and len(keys) > 1:
            self.problems.add(
                node.entries["event"][0],
                "'event' reacts to a moment on the clock, not to an "
                "utterance, so it cannot be combined with other keys",
                "put the event's own tests inside it, e.g. 'event: {kind: dead_air, min_s: 8}'",
            )
            return None
        parts: list[Condition] = []
        ok = True
        for key in keys:
            key_loc, v = node.entries[key]
            part = self.condition_part(key, _get(spec, key), key_loc, v, context)
            if part is None:
                ok = False
            else:
                parts.append(part)
        if not ok:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def partial_condition(self, node: YValue, context: str) -> None:
        """The checks of the valid keys of a condition that has shape errors (already reported)."""
        if not isinstance(node, YMap):
            return
        types = shape.field_types(ConditionSpec)
        for key, (key_loc, v) in node.entries.items():
            if key not in types:
                continue
            value = shape.valid(types[key], v)
            if value is not None:
                self.condition_part(key, value, key_loc, v, context)
            elif key in ("all", "any") and isinstance(v, YSeq):
                for item in v.items:
                    self.partial_condition(item, context)
            elif key in ("not", "earlier"):
                self.partial_condition(v, context)

    def condition_part(self, key: str, value: Any, key_loc: Loc, v: YValue, context: str) -> Condition | None:
        if key == "speaker":
            return SpeakerIs(Speaker(value))
        if key == "says":
            return self.says(value, v)
        if key == "tone":
            if context == "tone":
                self.problems.add(key_loc, "a tone cannot be defined by another tone", "use 'says:' cues")
                return None
            return ToneIs(self.ref("tone", value, v.loc))
        if key == "signals":
            return self.signal_tests(value, v, context)
        if key == "min_length":
            words = (
                self.integer(value.words, _at(v, "words"), "min_length.words", 1) if value.words is not None else None
            )
            seconds = (
                self.number(value.seconds, _at(v, "seconds"), "min_length.seconds")
                if value.seconds is not None
                else None
            )
            if words is None and seconds is None:
                if value.words is None and value.seconds is None:
                    self.problems.add(v.loc, "min_length needs 'words' or 'seconds'", "add e.g. 'words: 35'")
                return None
            if (value.words is not None and words is None) or (value.seconds is not None and seconds is None):
                return None
            return MinLength(words, seconds, bool(value.per_line))
        if key == "max_words":
            n = self.integer(value, v, "max_words", 1)
            return MaxWords(n) if n is not None else None
        if key in ("reflects", "uses_name") and context != "expect":
            self.problems.add(
                key_loc,
                f"'{key}' compares a reply with the turns that opened the expectation, "
                "so it only works inside 'expect'",
                "move it under 'expect:'"
                + (" or use 'skip_if: [reflects_other: ...]' in 'says'" if key == "reflects" else ""),
            )
            return None
        if key == "reflects":
            return self.reflects(value, v)
        if key == "uses_name":
            if value is True:
                return UsesName(self.ref("lexicon", DEFAULT_NAME_INTRO_LEXICON, v.loc))
            return UsesName(self.lexicon_param(value.intro, v, "intro", DEFAULT_NAME_INTRO_LEXICON))
        if key == "earlier":
            return self.earlier(value, v, context)
        if key == "event":
            if context != "when":
                self.problems.add(key_loc, "'event' can only start a rule (in 'when')", "move it to the rule's 'when:'")
                return None
            return self.event(value, v)
        if key in ("all", "any"):
            assert isinstance(v, YSeq)
            items = [self.condition(item, node, f"an item of '{key}'", context) for item, node in zip(value, v.items)]
            if any(i is None for i in items):
                return None
            return (AllOf if key == "all" else AnyOf)(tuple(items))  # type: ignore[arg-type]
        inner = self.condition(value, v, "'not'", context)
        return Not(inner) if inner is not None else None

    def reflects(self, spec: Any, v: YValue) -> Reflects | None:
        n = self.integer(spec.min_shared, _at(v, "min_shared"), "reflects.min_shared", 1)
        ignore = self.lexicon_param(spec.ignore, v, "ignore", DEFAULT_ECHO_IGNORE_LEXICON)
        verbs = (
            self.integer(spec.min_verbs, _at(v, "min_verbs"), "reflects.min_verbs") if spec.min_verbs is not None else 0
        )
        problem = self.ref("lexicon", spec.problem, _at(v, "problem").loc) if spec.problem is not None else None
        dense = (
            self.integer(spec.dense_min, _at(v, "dense_min"), "reflects.dense_min") if spec.dense_min is not None else 0
        )
        share = (
            self.number(spec.dense_share, _at(v, "dense_share"), "reflects.dense_share")
            if spec.dense_share is not None
            else 1.0
        )
        synonyms = self.ref("lexicon", spec.synonyms, _at(v, "synonyms").loc) if spec.synonyms is not None else None
        if n is None or verbs is None or dense is None or share is None:
            return None
        return Reflects(n, ignore, verbs, problem, dense, share, synonyms)

    def earlier(self, spec: EarlierSpec, v: YValue, context: str) -> Condition | None:
        """``earlier: {within: {turns, seconds}, count: N, <condition keys>}``."""
        assert isinstance(v, YMap)
        if not any(k in CONDITION_KEYS for k in v.entries):
            self.problems.add(
                v.loc,
                "earlier says how far back to look but not what to look for",
                "add e.g. 'speaker: agent' and 'says: apology'",
            )
            return None
        condition = self.condition(spec, v, "earlier", "trigger" if context == "when" else context)
        window = self.window(spec.within, _at(v, "within"), "earlier")
        count = self.integer(spec.count, _at(v, "count"), "earlier.count", 1) if spec.count is not None else 1
        if condition is None or window is None or count is None:
            return None
        return Earlier(condition, window.turns, window.seconds, count)

    def window(self, spec: WindowSpec, v: YValue, what: str) -> Window | None:
        turns = self.integer(spec.turns, _at(v, "turns"), f"{what}.within.turns", 1) if spec.turns is not None else None
        seconds = (
            self.number(spec.seconds, _at(v, "seconds"), f"{what}.within.seconds") if spec.seconds is not None else None
        )
        if turns is None and seconds is None:
            if spec.turns is None and spec.seconds is None:
                self.problems.add(v.loc, "within needs 'turns' or 'seconds'", "write e.g. '{turns: 1, seconds: 20}'")
            return None
        if (spec.turns is not None and turns is None) or (spec.seconds is not None and seconds is None):
            return None
        return Window(turns, seconds)

    def event(self, spec: EventSpec, v: YValue) -> Condition | None:
        assert isinstance(v, YMap)
        allowed = EVENT_KEYS[spec.kind]
        bad = [(key, loc) for key, (loc, _) in v.entries.items() if key not in allowed]
        for key, loc in bad:
            self.problems.unknown(loc, f"key in a {spec.kind} event", key, allowed)
        lo = self.number(spec.min_s, _at(v, "min_s"), "event.min_s") if spec.min_s is not None else None
        hi = self.number(spec.max_s, _at(v, "max_s"), "event.max_s") if spec.max_s is not None else None
        if bad or (spec.min_s is not None and lo is None) or (spec.max_s is not None and hi is None):
            return None
        if lo is not None and hi is not None and lo > hi:
            self.problems.add(v.loc, f"event: min_s {lo:g} is above max_s {hi:g}", "swap them")
            return None
        by = Speaker(spec.by) if spec.by is not None else None
        return EventIs(spec.kind, lo, hi, spec.hold_announced, by)

    def signal_tests(self, spec: Any, v: YValue, context: str) -> Condition | None:
        """``signals: {name: {min: x, max: y}}``, ``{name: x}`` (= min) or ``{name: true}``."""
        if context == "tone":
            self.problems.add(
                v.loc,
                "a tone is defined by words; voice signals are added by the tone estimate",
                "use 'says:' here, or test 'signals:' in a rule",
            )
            return None
        assert isinstance(v, YMap)
        if not v.entries:
            self.problems.add(v.loc, "signals is empty", "add e.g. 'loudness_rise_db: {min: 6}'")
            return None
        tests: list[Condition] = []
        ok = True
        for name, (_, body) in v.entries.items():
            value = getattr(spec, name)
            what = f"signals.{name}"
            if SIGNAL_FIELDS[name].unit == "true/false":
                tests.append(SignalTest(name, equals=value))
                continue
            if not isinstance(value, SignalRange):
                lo = self.number(value, body, what, minimum=-float("inf"))
                ok = ok and lo is not None
                if lo is not None:
                    tests.append(SignalTest(name, min=lo))
                continue
            lo = (
                self.number(value.min, _at(body, "min"), f"{what}.min", -float("inf"))
                if value.min is not None
                else None
            )
            hi = (
                self.number(value.max, _at(body, "max"), f"{what}.max", -float("inf"))
                if value.max is not None
                else None
            )
            if lo is None and hi is None:
                if value.min is None and value.max is None:
                    self.problems.add(
                        body.loc, f"{what} needs 'min' or 'max' ({SIGNAL_FIELDS[name].unit})", "add e.g. 'min: 6'"
                    )
                ok = False
                continue
            if (value.min is not None and lo is None) or (value.max is not None and hi is None):
                ok = False
                continue
            if lo is not None and hi is not None and lo > hi:
                self.problems.add(body.loc, f"{what}: min {lo:g} is above max {hi:g}", "swap them")
                ok = False
                continue
            tests.append(SignalTest(name, min=lo, max=hi))
        if not ok or not tests:
            return None
        return tests[0] if len(tests) == 1 else AllOf(tuple(tests))

    def says(self, value: str | list[str] | SaysSpec, v: YValue) -> Says | None:
        if not isinstance(value, SaysSpec):
            return Says(LexiconFinder(tuple(self.ref("lexicon", n, loc) for n, loc in self.names(value, v))), ())
        assert isinstance(v, YMap)
        finders = [k for k in SAYS_FINDERS if k in v.entries]
        if len(finders) != 1:
            self.problems.add(
                v.loc, "'says' needs exactly one of: " + ", ".join(SAYS_FINDERS), "e.g. 'says: {lexicon: apology}'"
            )
            return None
        kind = finders[0]
        fv = _at(v, kind)
        finder: Finder | None
        if kind == "lexicon":
            finder = LexiconFinder(tuple(self.ref("lexicon", n, loc) for n, loc in self.names(value.lexicon, fv)))
        elif kind == "future_action":
            finder = FutureActionFinder(self.ref("lexicon", value.future_action, fv.loc))
        elif kind == "regex":
            finder = self.regex(value.regex, fv)
        elif kind == "tokens":
            finder = self.token_patterns(value.tokens, fv)
        elif kind == "subject":
            finder = self.subject(value.subject, fv)
        else:
            finder = self.claim(value.claim, fv)
        tests: list[MatchTest] = []
        ok = finder is not None
        if value.skip_if is not None:
            sv = _at(v, "skip_if")
            assert isinstance(sv, YSeq)
            for item, node in zip(value.skip_if, sv.items):
                test = self.skip_test(item, node)
                if test is None:
                    ok = False
                else:
                    tests.append(test)
        return Says(finder, tuple(tests)) if ok and finder is not None else None

    def regex(self, value: Any, v: YValue) -> RegexFinder | None:
        """``regex: PATTERN`` or ``regex: {pattern: P, ignore_case: false}``, compiled with RE2."""
        ignore_case = True
        pv = v
        if not isinstance(value, str):
            pv = _at(v, "pattern")
            ignore_case = value.ignore_case if value.ignore_case is not None else True
            value = value.pattern
        pattern = value.strip()
        if not pattern:
            self.problems.add(pv.loc, "regex is empty", "write some text")
            return None
        problem = regex_problem(pattern, ignore_case)
        if problem:
            self.problems.add(pv.loc, f"regex {pattern!r}: {problem[0]}", problem[1])
            return None
        return RegexFinder(pattern, ignore_case)

    def token_patterns(self, value: Any, v: YValue) -> TokenFinder | None:
        """``tokens: [[{LOWER: you}, {LEMMA: need}], ...]``: spaCy Matcher patterns, validated by spaCy."""
        import json

        assert isinstance(v, YSeq)
        seq = v if isinstance(v.items[0], YSeq) else YSeq((v,), v.loc)  # a single pattern
        out = []
        for pattern in seq.items:
            assert isinstance(pattern, YSeq)
            plain = shape.plain(pattern)
            problem = token_regex_problem(plain)
            if problem:
                self.problems.add(_locate(pattern, problem[2]), f"token pattern: {problem[0]}", problem[1])
                continue
            spacy_problem = token_pattern_problem(plain)
            if spacy_problem:
                message, hint, where = spacy_problem
                self.problems.add(_locate(pattern, where), f"token pattern: {message}", hint)
                continue
            out.append(json.dumps(plain, sort_keys=True))
        if len(out) != len(seq.items):
            return None
        return TokenFinder(tuple(out))

    def claim(self, spec: ClaimSpec, v: YValue) -> ClaimFinder | None:
        """``claim: {by: LEXICON, wrongs: ..., duties: ..., enables: ..., harms: ..., fixes: ..., victims: ...}``."""
        by = self.ref("lexicon", spec.by, _at(v, "by").loc)
        lex = {
            key: self.ref("lexicon", name, _at(v, key).loc) if (name := getattr(spec, key)) is not None else None
            for key in _CLAIM_LEXICONS
        }
        wrongs, duties, enables, harms, fixes = (lex[k] for k in ("wrongs", "duties", "enables", "harms", "fixes"))
        victims, prevents, unasked, contacts, repeats = (
            lex[k] for k in ("victims", "prevents", "unasked", "contacts", "repeats")
        )
        ok = True
        if not (wrongs or duties or enables or fixes or unasked or contacts):
            self.problems.add(
                v.loc,
                "claim needs at least one kind of verb",
                "add 'wrongs', 'duties', 'enables', 'fixes' or 'unasked'",
            )
            ok = False
        if (enables is None) != (harms is None):
            self.problems.add(v.loc, "claim: 'enables' and 'harms' go together", "name both lexicons, or neither")
            ok = False
        if prevents is not None and enables is None:
            self.problems.add(v.loc, "claim: 'prevents' reads the 'enables' verbs", "add 'enables', or drop 'prevents'")
            ok = False
        if (contacts is None) != (repeats is None) or (contacts is not None and victims is None):
            self.problems.add(
                v.loc, "claim: 'contacts' needs 'repeats' and 'victims'", "name all three lexicons, or none of them"
            )
            ok = False
        if victims is not None and wrongs is None and contacts is None:
            self.problems.add(
                v.loc, "claim: 'victims' reads the 'wrongs' or 'contacts' verbs", "add 'wrongs', or drop 'victims'"
            )
            ok = False
        negation = self.lexicon_param(spec.negation, v, "negation", DEFAULT_NEGATION_LEXICON)
        if not ok:
            return None
        return ClaimFinder(by=by, negation=negation, **lex)

    def subject(self, spec: SubjectSpec, v: YValue) -> SubjectFinder | None:
        """``subject: {is: [you], verb: LEXICON}``."""
        is_node = _at(v, "is")
        words = [spec.is_] if isinstance(spec.is_, str) else list(spec.is_)
        nodes = is_node.items if isinstance(is_node, YSeq) else (is_node,)
        out = []
        for word, node in zip(words, nodes):
            if not word.replace("'", "").isalpha():
                self.problems.add(node.loc, f"subject word {word!r} must be one word", "write e.g. 'you'")
                return None
            out.append(word.lower())
        if not out:
            self.problems.add(is_node.loc, "subject 'is' list is empty", "name at least one word, e.g. [you]")
            return None
        return SubjectFinder(tuple(out), self.ref("lexicon", spec.verb, _at(v, "verb").loc))

    def skip_test(self, value: str | SkipTestSpec, item: YValue) -> MatchTest | None:
        pv: YValue
        if isinstance(value, str):
            name, params, pv = value, None, YMap({}, item.loc)
        else:
            assert isinstance(item, YMap)
            name, (_, pv) = next(iter(item.entries.items()))
            params = getattr(value, name)
        if name == "question":
            return InQuestion()
        if name == "sentence_says":
            return SentenceSays(self.ref("lexicon", str(params), pv.loc))
        if name == "sentence_lacks":
            return SentenceLacks(self.ref("lexicon", str(params), pv.loc))

        def get(key: str) -> Any:
            return getattr(params, key) if params is not None else None

        if name == "conditional":
            before = self.integer(get("before"), _at(pv, "before"), "before", 1) if get("before") is not None else 4
            cues = self.lexicon_param(get("cues"), pv, "cues", DEFAULT_CONDITIONAL_LEXICON)
            return Conditional(cues, before) if before is not None else None
        if name == "subordinate":
            return Subordinate(self.lexicon_param(get("cues"), pv, "cues", DEFAULT_CONDITIONAL_LEXICON))
        if name == "negated":
            before = self.integer(get("before"), _at(pv, "before"), "before") if get("before") is not None else 3
            after = self.integer(get("after"), _at(pv, "after"), "after") if get("after") is not None else 1
            cues = self.lexicon_param(get("cues"), pv, "cues", DEFAULT_NEGATION_LEXICON)
            return Negated(cues, before, after) if before is not None and after is not None else None
        if name in ("then_says", "before_says"):
            sentences = (
                self.integer(get("sentences"), _at(pv, "sentences"), "sentences", 1)
                if get("sentences") is not None
                else 1
            )
            lexicon = self.ref("lexicon", str(get("lexicon")), _at(pv, "lexicon").loc)
            nearby = ThenSays if name == "then_says" else BeforeSays
            return nearby(lexicon, sentences) if sentences is not None else None
        if name == "all":
            assert isinstance(pv, YSeq) and isinstance(params, list)
            parts = [self.skip_test(t, node) for t, node in zip(params, pv.items)]
            return AllTests(tuple(t for t in parts if t is not None)) if all(t is not None for t in parts) else None
        if name == "after_request":
            sentences = (
                self.integer(get("sentences"), _at(pv, "sentences"), "sentences") if get("sentences") is not None else 1
            )
            cues = self.lexicon_param(get("cues"), pv, "cues", DEFAULT_REQUEST_LEXICON)
            return AfterRequest(cues, sentences) if sentences is not None else None
        n = self.integer(get("min_shared"), _at(pv, "min_shared"), "min_shared", 1)
        ignore = self.lexicon_param(get("ignore"), pv, "ignore", DEFAULT_ECHO_IGNORE_LEXICON)
        return ReflectsOther(n, ignore) if n is not None else None

    # ------------------------------------------------------------ rules

    def start_rule(self, m: YMap, vals: dict[str, Any]) -> None:
        """Set up the params of the rule about to be built: as written (a whole number stays one),
        with a team's values; a team's param the rule lacks is kept in ``bad_params``."""
        rule_id = vals.get("id")
        if isinstance(rule_id, str):
            self.defined_ids.add(rule_id)
        params_node = m.get("params")
        params: dict[str, float] = {}
        if isinstance(params_node, YMap) and vals.get("params") is not None:
            params = {k: v.value for k, (_, v) in params_node.entries.items()}  # type: ignore[union-attr, misc]
        self.params_known = "params" not in m.entries or vals.get("params") is not None
        # a team's param that the rule does not have is the team file's mistake: reported after
        # the rule is built, so the rule itself still loads (and is not called unknown elsewhere)
        self.bad_params = []
        self.param_set_at = {}
        for name, (val, loc) in self.param_overrides.get(rule_id, {}).items() if isinstance(rule_id, str) else ():
            if name not in params:
                self.bad_params.append((name, loc))
            else:
                params[name] = val
                self.param_set_at[name] = loc
        self.params, self.used_params = params, set()

    def add_rule(self, spec: RuleSpec | None, m: YMap) -> None:
        """Check and build one rule. A rule with shape errors (``spec`` None, already reported)
        is not built, but its valid keys are still checked."""
        n_before = len(self.problems.items)
        if spec is not None:
            vals = {key: _get(spec, key) for key in m.entries}
        else:
            types = shape.field_types(RuleSpec)
            vals = {key: shape.valid(types[key], v) for key, (_, v) in m.entries.items() if key in types}
        self.start_rule(m, vals)
        if spec is None:
            for key in ("when", "unless", "expect"):
                if key in m.entries and vals.get(key) is None:
                    v = _at(m, key)
                    if (
                        key == "expect"
                        and isinstance(v, YMap)
                        and sum(k in CONDITION_KEYS for k in v.entries) <= 1
                        and "speaker" in v.entries
                    ):
                        self.problems.add(
                            v.loc,
                            "expect says whose turn to wait for but not what they should say",
                            "add e.g. 'says: apology'",
                        )
                    self.partial_condition(v, "trigger" if key == "unless" else key)

        def node(key: str) -> YValue:
            return m.entries[key][1]

        rule_id = vals.get("id")
        params_node = m.get("params")
        bad_params = self.bad_params
        params = dict(self.params)
        praise_rule = vals.get("praise") is True
        if "record" not in m.entries:  # a nudge rule shows a card: it needs both (a record rule has defaults)
            for key in ("message",) if praise_rule else ("severity", "message"):
                if key not in m.entries:
                    self.problems.add(m.loc, f"a rule is missing required key {key!r}", f"add '{key}: ...'")
        if spec is not None and any(r.id == spec.id for r in self.rules):
            first = next(r for r in self.rules if r.id == spec.id)
            self.problems.add(
                node("id").loc,
                f"rule id {spec.id!r} is used twice (first at {first.loc})",
                "give each rule its own id; to change a default rule use 'overrides: [{rule: "
                f"{spec.id}, ...}}]'; to load a full copy of the packs instead of the defaults "
                "use --only-rules",
            )

        def build(key: str, make: Any, default: Any = None) -> Any:
            value = vals.get(key)
            return default if value is None else make(value, node(key))

        severity = build("severity", lambda v, _: SEVERITY_WORDS.get(v, v))
        message = build("message", lambda v, n: self.template(v, n, "message"))
        fallback = build("message_if_no_rewrite", lambda v, n: self.template(v, n, "message_if_no_rewrite"))
        rewrites = build("rewrites", self.rewrites, ())
        unless_next = build("rewrite_unless_next", lambda v, n: self.ref("lexicon", v, n.loc))
        when = build("when", lambda v, n: self.condition(v, n, "when", "when"))
        unless = build("unless", lambda v, n: self.condition(v, n, "unless", "trigger"))
        expect = build("expect", self.expectation)
        episode = build("episode", lambda v, n: self.episode(v, n))
        cooldown = build("cooldown_s", lambda v, n: self.number(v, n, "cooldown_s"), 0.0)
        max_per_call = build("max_per_call", lambda v, n: self.integer(v, n, "max_per_call", 1))
        record = build("record", self.record)
        examples = build("examples", self.examples, ())
        if vals.get("examples") is None and "examples" in m.entries:  # a shape error (reported) in one of them
            self.examples_one_by_one(node("examples"))
        title = vals.get("title")
        if "record" in m.entries:
            for key in ("expect", "message", "rewrites", "episode"):
                if key in m.entries:
                    self.problems.add(
                        m.entries[key][0],
                        f"a 'record' rule writes a list item, so '{key}' has no use",
                        f"remove '{key}', or make a separate nudge rule",
                    )
            severity = severity or "low"
            message = message or title
        quote = vals.get("quote")
        if praise_rule:
            self.praise_rule_checks(m, expect, when)
            severity = severity or "low"
            max_per_call = PRAISE_MAX_PER_CALL if max_per_call is None else max_per_call
            quote = quote or ("reply" if expect is not None else "trigger")
        if vals.get("unit") == "turn" and isinstance(when, EventIs):
            self.problems.add(
                m.entries["unit"][0],
                "an 'event' rule fires on the event itself, not on a turn",
                "remove 'unit: turn', or trigger on what a speaker says instead",
            )
        if isinstance(when, EventIs) and "expect" in m.entries:
            self.problems.add(
                m.entries["expect"][0],
                "an 'event' rule fires on the event itself; 'expect' does not apply",
                "remove 'expect', or trigger on an utterance instead",
            )
        if vals.get("early") is True and "early" in m.entries:
            from .early import early_blocker

            blocker = early_blocker(
                unit=vals.get("unit") or "utterance",
                when=when,
                unless=unless,
                has_expect="expect" in m.entries,
                record="record" in m.entries,
                praise=praise_rule,
            )
            if blocker:
                self.problems.add(
                    m.entries["early"][0],
                    f"'early: true' cannot apply: {blocker}",
                    "remove 'early' (the rule fires when the utterance is final)",
                )
        if spec is not None:
            for name in set(self.params) - self.used_params:
                self.problems.add(
                    _at(node("params"), name).loc
                    if name in params_node.entries  # type: ignore[union-attr]
                    else node("params").loc,
                    f"param {name!r} is never used",
                    f"use it as ${name} in a number, or remove it",
                )
        if "points_at" in m.entries and "expect" not in m.entries:
            self.problems.add(
                m.entries["points_at"][0],
                "'points_at' only applies to rules with 'expect'",
                "remove it, or add an 'expect:' block",
            )
        if vals.get("quote") == "reply" and "expect" not in m.entries:
            self.problems.add(
                m.entries["quote"][0],
                "'quote: reply' needs a rule with 'expect' (a reply to quote)",
                "use 'quote: trigger' (the words that matched), or add an 'expect:' block",
            )
        has_rewrites = "rewrites" in m.entries and (vals.get("rewrites") is None or bool(vals.get("rewrites")))
        if "{rewrite}" in (message or "") and not has_rewrites:
            self.problems.add(
                node("message").loc,
                "message uses {rewrite} but the rule has no 'rewrites'",
                "add 'rewrites:' or remove {rewrite}",
            )
        if "rewrite_unless_next" in m.entries and not has_rewrites:
            self.problems.add(
                m.entries["rewrite_unless_next"][0],
                "'rewrite_unless_next' needs 'rewrites'",
                "remove it, or add 'rewrites:'",
            )
        if has_rewrites and "message_if_no_rewrite" not in m.entries:
            self.problems.add(
                m.loc,
                "a rule with 'rewrites' needs 'message_if_no_rewrite'",
                "add the message to show when no rewrite applies",
            )
        for name, loc in bad_params:
            if params:
                self.problems.add(loc, f"rule {rule_id!r} has no param {name!r}", closest_hint(name, params, "param"))
            elif self.params_known:
                self.problems.add(
                    loc,
                    f"rule {rule_id!r} has no params, so {name!r} cannot be set",
                    f"see the rule at {m.loc} for what a team can change (enabled, severity, "
                    "priority, status, cooldown_s, max_per_call, title, message)",
                )
        failed = (
            spec is None
            or len(self.problems.items) != n_before
            or any(x is None for x in (severity, message, when, cooldown))
        )
        self.params_known = True
        if failed:
            return
        assert spec is not None
        self.rules.append(
            Rule(
                id=spec.id,
                title=spec.title,
                severity=severity,
                why=spec.why,
                message=message,
                message_if_no_rewrite=fallback or message,
                rewrites=rewrites,
                when=when,
                expect=expect,
                points_at=spec.points_at or "reply",
                episode=episode,
                cooldown_s=cooldown,
                enabled=spec.enabled if spec.enabled is not None else True,
                examples=examples,
                loc=m.loc,
                unless=unless,
                priority=spec.priority if spec.priority is not None else 50,
                status=spec.status or "stable",
                tags=tuple(spec.tags or ()),
                max_per_call=max_per_call,
                params=tuple(sorted(self.params.items())),
                record=record,
                quote=quote or "trigger",
                rewrite_unless_next=unless_next,
                praise=praise_rule,
                unit=spec.unit or "utterance",
                early=spec.early,
            )
        )

    def praise_rule_checks(self, m: YMap, expect: object, when: object) -> None:
        """What a ``praise`` rule cannot use: it writes a line of the call's summary, never a card."""
        for key in PRAISE_NO_USE:
            if key in m.entries:
                self.problems.add(
                    m.entries[key][0],
                    f"a 'praise' rule writes a line of the call's summary, so '{key}' has no use",
                    f"remove '{key}', or make a separate nudge rule",
                )
        if isinstance(expect, Expectation) and expect.if_call_ends == "fire":
            loc = m.entries["expect"][1]
            at = loc.entries["if_call_ends"][0] if isinstance(loc, YMap) and "if_call_ends" in loc.entries else loc.loc
            self.problems.add(
                at,
                "a 'praise' rule praises a met expectation; 'if_call_ends: fire' has no use",
                "remove 'if_call_ends' (a wait still open at the end of the call is dropped)",
            )
        if isinstance(when, EventIs):
            self.problems.add(
                m.entries["when"][0],
                "a 'praise' rule praises words, not timing events",
                "trigger it on an utterance (speaker, says, ...)",
            )

    def record(self, spec: RecordSpec, v: YValue) -> Record:
        time = self.ref("lexicon", spec.time, _at(v, "time").loc) if spec.time is not None else None
        return Record(spec.list, time)

    def rewrites(self, specs: list[RewriteSpec], v: YValue) -> tuple[Rewrite, ...]:
        assert isinstance(v, YSeq)
        out: list[Rewrite] = []
        for spec, node in zip(specs, v.items):
            src = self.phrases([spec.from_], YSeq((_at(node, "from"),), node.loc), "rewrite 'from'")
            out.extend(Rewrite(form, spec.to) for form in src)  # a choice written out: each form
        return tuple(out)

    def expectation(self, spec: ExpectSpec, v: YValue) -> Expectation | None:
        assert isinstance(v, YMap)
        condition = None
        if sum(k in CONDITION_KEYS for k in v.entries) <= 1:
            self.problems.add(
                v.loc, "expect says whose turn to wait for but not what they should say", "add e.g. 'says: apology'"
            )
        else:
            condition = self.condition(spec, v, "expect", "expect")
        window = self.window(spec.within, _at(v, "within"), "expect")
        ignore = (
            self.condition(spec.ignore, _at(v, "ignore"), "expect.ignore", "trigger")
            if spec.ignore is not None
            else None
        )
        if condition is None or window is None or (spec.ignore is not None and ignore is None):
            return None
        return Expectation(Speaker(spec.speaker), condition, window, ignore, spec.if_call_ends or "drop")

    def episode(self, spec: Any, v: YValue) -> Episode | None:
        cond = self.condition(spec.ends_when, _at(v, "ends_when"), "episode.ends_when", "trigger")
        return Episode(cond) if cond is not None else None

    def examples(self, spec: ExamplesSpec, v: YValue) -> tuple[Example, ...]:
        out: list[Example] = []
        for kind in ("fires", "quiet"):
            items = getattr(spec, kind)
            if items is None:
                continue
            seq = _at(v, kind)
            assert isinstance(seq, YSeq)
            for number, (item, node) in enumerate(zip(items, seq.items)):
                example = self.example(item, node, kind, number)
                if example is not None:
                    out.append(example)
        return tuple(out)

    def examples_one_by_one(self, v: YValue) -> None:
        """Check each example of an ``examples`` block that has a shape error (reported by
        ``shape``): the examples of a good shape, on their own, as ``examples`` does; an example
        with a shape error is not checked further (what else it says would follow from that one)."""
        if not isinstance(v, YMap):
            return
        for kind in ("fires", "quiet"):
            seq = v.get(kind)
            if not isinstance(seq, YSeq):
                continue
            for number, node in enumerate(seq.items):
                item = shape.valid(ExampleShape, node)
                if item is not None:
                    self.example(item, node, kind, number)

    def example(self, item: Any, node: YValue, kind: str, number: int) -> Example | None:
        at = None
        turns_node = node
        if isinstance(item, ExampleSpec):
            turns_node = _at(node, "turns")
            if item.at is not None:
                if kind == "quiet":
                    self.problems.add(_at(node, "at").loc, "'at' only applies to 'fires' examples", "remove it")
                else:
                    at = item.at
            item = item.turns
        assert isinstance(turns_node, YSeq)
        turns: list[ExampleTurn] = []
        for t, tn in zip(item, turns_node.items):
            assert isinstance(tn, YMap)
            who = [k for k in ("agent", "customer") if k in tn.entries]
            if len(who) != 1:
                self.problems.add(
                    tn.loc,
                    "an example turn needs exactly one speaker",
                    "write '- agent: \"...\"' or '- customer: \"...\"'",
                )
                continue
            pause = self.number(t.pause_s, _at(tn, "pause_s"), "pause_s", -30.0) if t.pause_s is not None else 0.5
            seconds = self.number(t.seconds, _at(tn, "seconds"), "seconds", 0.1) if t.seconds is not None else None
            louder = (
                self.number(t.louder_db, _at(tn, "louder_db"), "louder_db", -40.0) if t.louder_db is not None else None
            )
            bad = (t.seconds is not None and seconds is None) or (t.louder_db is not None and louder is None)
            if pause is not None and not bad:
                turns.append(ExampleTurn(Speaker(who[0]), getattr(t, who[0]), pause, seconds, louder))
        if len(turns) != len(turns_node.items):
            return None
        if at is not None and at >= len(turns):
            self.problems.add(
                node.loc, f"'at: {at}' is past the last turn (there are {len(turns)})", "count turns from 0"
            )
            return None
        return Example(kind, number, tuple(turns), at, node.loc)  # type: ignore[arg-type]

    def add_override(self, spec: RuleOverrideSpec | LexiconOverrideSpec, m: YValue) -> None:
        """``{rule: ID, enabled/severity/priority/status/cooldown_s/max_per_call/params}`` or
        ``{lexicon: NAME, add: [...], remove: [...]}``."""
        assert isinstance(m, YMap)
        if isinstance(spec, LexiconOverrideSpec):
            add = self.phrases(spec.add, m.get("add"), "a phrase to add")
            remove = self.phrases(spec.remove, m.get("remove"), "a phrase to remove")
            if not add and not remove:
                self.problems.add(m.loc, "a lexicon override needs 'add' or 'remove'", "add e.g. 'add: [VLAN, DNS]'")
            else:
                self.lexicon_overrides.append((spec.lexicon, _at(m, "lexicon").loc, add, remove))
            return
        settings = [key for key in m.entries if key != "rule"]
        params = m.get("params")
        if not settings or (settings == ["params"] and isinstance(params, YMap) and not params.entries):
            self.problems.add(
                m.loc,
                f"this override of {spec.rule!r} changes nothing",
                "say what to change, e.g. 'enabled: false', 'severity: tip' or 'params: {NAME: N}' "
                f"('rapport-assist rules list --rule {spec.rule}' shows its params), or delete the line",
            )
            return
        written = [(key, loc) for key, (loc, _) in m.entries.items() if key not in ("rule", "params")]
        if isinstance(params, YMap):
            written += [(f"param {name}", loc) for name, (loc, _) in params.entries.items()]
        for setting, loc in written:
            first = self.override_set_at.setdefault((loc.path, spec.rule, setting), loc)
            if first is not loc:
                self.problems.add(
                    loc,
                    f"{spec.rule!r}: {setting} is set twice in this file (first at line {first.line})",
                    "keep one of them: only the last one would count",
                )
        changes: dict[str, object] = {}
        for key in ("enabled", "priority", "status", "max_per_call", "title"):
            if (value := getattr(spec, key)) is not None:
                changes[key] = value
        if spec.severity is not None:
            changes["severity"] = SEVERITY_WORDS.get(spec.severity, spec.severity)
        if spec.cooldown_s is not None:
            changes["cooldown_s"] = float(spec.cooldown_s)
        for key in ("message", "message_if_no_rewrite"):
            if (value := getattr(spec, key)) is not None:
                changes[key] = self.template(value, _at(m, key), key)
        if spec.params is not None:
            pm = _at(m, "params")
            assert isinstance(pm, YMap)
            for name, (loc, pv) in pm.entries.items():  # as written: a whole number stays one
                assert isinstance(pv, YScalar) and isinstance(pv.value, (int, float))  # the model said so
                self.param_overrides.setdefault(spec.rule, {})[name] = (pv.value, loc)
        if None not in changes.values():
            for key in changes:
                self.override_locs[(len(self.overrides), key)] = m.entries[key][1].loc
            self.overrides.append((spec.rule, _at(m, "rule").loc, changes))

    # ------------------------------------------------------------ cross references

    def unknown_rule(self, rule_id: str, loc: Loc, known: dict[str, Rule]) -> None:
        if rule_id in self.defined_ids:
            return  # defined, but it has errors of its own (reported where it is written)
        names = set(known) | self.defined_ids  # a rule left out for its own errors is still the one meant
        own_only = bool(known) and all(r.loc.path == loc.path for r in known.values())
        if not names or (own_only and not closest_hint(rule_id, names, "rule id").startswith("did you mean")):
            # only this file's own rules: it was loaded alone (--only-rules), not on top of the defaults
            what = "no rules are loaded" if not names else "the only rules loaded are this file's own"
            self.problems.add(
                loc,
                f"unknown rule id {rule_id!r}: {what}",
                "an override changes rules loaded with it: check it on top of the default packs "
                "('rules check FILE', without --only-rules)",
            )
            return
        self.problems.unknown(loc, "rule id", rule_id, names)

    def apply_override(self, rule: Rule, changes: dict[str, object], number: int) -> Rule:
        changes = dict(changes)
        # what the rule's own definition may not set, an override may not either (it would do nothing)
        no_use = ("severity",) if rule.praise else ("message",) if rule.record is not None else ()
        for key in no_use:
            if key in changes:
                kind, writes = ("praise", "a line of the call's summary") if rule.praise else ("record", "a list item")
                self.problems.add(
                    self.override_locs[(number, key)],
                    f"{rule.id!r} is a '{kind}' rule: it writes {writes}, so '{key}' has no use",
                    f"remove '{key}' from this override",
                )
                del changes[key]
        message = changes.get("message")
        if isinstance(message, str) and "{rewrite}" in message and not rule.rewrites:
            self.problems.add(
                self.override_locs[(number, "message")],
                f"message uses {{rewrite}} but rule {rule.id!r} has no 'rewrites'",
                "remove {rewrite}",
            )
        if "message_if_no_rewrite" in changes and not rule.rewrites:
            self.problems.add(
                self.override_locs[(number, "message_if_no_rewrite")],
                f"rule {rule.id!r} has no 'rewrites', so it always shows 'message'",
                "override 'message' instead",
            )
        if isinstance(message, str) and not rule.rewrites:
            changes["message_if_no_rewrite"] = message  # what a rule without rewrites shows
        return replace(rule, **changes)  # type: ignore[arg-type]

    def finish(self, files: tuple[str, ...]) -> RuleSet:
        known: dict[str, dict[str, Any]] = {"lexicon": self.lexicons, "tone": self.tones}
        for ref in self.refs:
            if ref.name not in known[ref.kind]:
                if self.unread:  # a file that could not be read may define it: no guessing at names
                    hint = closest_hint(ref.name, known[ref.kind], ref.kind)
                    close = f"; else {hint}" if hint.startswith("did you mean") else ""
                    self.problems.add(
                        ref.loc,
                        f"unknown {ref.kind} {ref.name!r}",
                        f"{' and '.join(self.unread)} could not be read and may define it: fix that error first{close}",
                    )
                elif (
                    ref.kind == "tone" and ref.name == "calm"
                ):  # rules/README's table named it (it said calm|tense|angry)
                    self.problems.add(
                        ref.loc,
                        "unknown tone 'calm': every utterance is at least calm, so there is nothing to test",
                        "for a customer who is not upset write 'not: {tone: tense}'"
                        + ("; else use " + " or ".join(repr(t) for t in sorted(self.tones)) if self.tones else ""),
                    )
                else:
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
            if rule_id not in by_id and not any(r == rule_id and at.line == loc.line for r, at in reported):
                self.unknown_rule(rule_id, loc, by_id)
        lexicons = dict(self.lexicons)
        removed_at: dict[tuple[str, str], Loc] = {}  # (lexicon, phrase) -> the override that removed it
        for name, loc, add, remove in self.lexicon_overrides:
            lex = lexicons.get(name)
            if lex is None:
                # only this file's own lexicons: it was loaded alone (--only-rules), as for rule ids
                own_only = all(lx.loc.path == loc.path for lx in lexicons.values())
                if lexicons and not (
                    own_only and not closest_hint(name, lexicons, "lexicon").startswith("did you mean")
                ):
                    self.problems.unknown(loc, "lexicon", name, lexicons)
                else:
                    what = "the only lexicons loaded are this file's own" if lexicons else "no lexicons are loaded"
                    self.problems.add(
                        loc,
                        f"unknown lexicon {name!r}: {what}",
                        "an override changes lexicons loaded with it: check it on top of the default "
                        "packs ('rules check FILE', without --only-rules)",
                    )
                continue
            have = {p.text.lower() for p in lex.phrases}
            for phrase in remove:
                if phrase.text.lower() in have:
                    continue
                earlier = removed_at.get((name, phrase.text.lower()))
                if earlier is not None:
                    self.problems.add(
                        phrase.loc,
                        f"lexicon {name!r} has no phrase {phrase.text!r} to remove: the override at "
                        f"{earlier.path}:{earlier.line} removed it already",
                        "keep this removal in one of the two files only",
                    )
                else:
                    self.problems.add(
                        phrase.loc,
                        f"lexicon {name!r} has no phrase {phrase.text!r} to remove",
                        closest_hint(phrase.text, [p.text for p in lex.phrases], "phrase"),
                    )
            gone = {p.text.lower() for p in remove}
            for phrase in remove:
                removed_at.setdefault((name, phrase.text.lower()), phrase.loc)
            there = {p.text.lower(): p for p in lex.phrases}
            for phrase in add:  # a warning, not an error: a pack update may add the team's phrase
                if phrase.text.lower() in there and phrase.text.lower() not in gone:
                    self.warnings.append(
                        RuleProblem(
                            phrase.loc.path,
                            phrase.loc.line,
                            phrase.loc.col,
                            f"lexicon {name!r} already has the phrase {there[phrase.text.lower()].text!r} "
                            f"({there[phrase.text.lower()].loc}): adding it changes nothing",
                            "take it out of 'add'",
                        )
                    )
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
            overrides=tuple(self.override_entries),
        )


def _locate(pattern: YSeq, path: tuple[object, ...]) -> Loc:
    """The location of the token / key spaCy's validator complained about (best effort)."""
    node: YValue = pattern
    for i, step in enumerate(path):
        if isinstance(node, YSeq) and isinstance(step, int) and 0 <= step < len(node.items):
            node = node.items[step]
        elif isinstance(node, YMap) and isinstance(step, str) and step in node.entries:
            key_loc, child = node.entries[step]
            # the key itself when it is what was complained about (the last step), or its value is a word
            node = child if not isinstance(child, YScalar) and i < len(path) - 1 else YScalar(None, key_loc)
        else:
            break
    return node.loc


# RE2's syntax errors a hand-written pattern makes, each in plain words with its fix (the backtracking
# hint suits only what RE2 refuses by design; these are typing slips)
_RE2_SLIPS = (
    ("missing )", "a '(' group is never closed", "close it with ')', or write a literal '(' as '\\('"),
    ("unexpected )", "a ')' closes no '(' group", "delete it, or write a literal ')' as '\\)'"),
    ("missing ]", "a '[' set is never closed", "close it with ']', or write a literal '[' as '\\['"),
    (
        "no argument for repetition operator",
        "a '*', '+' or '?' with nothing before it to repeat",
        "write a literal one with a backslash: '\\*', '\\+', '\\?'",
    ),
    ("bad repetition operator", "a repeat of a repeat", "keep one of them: 'a*', not 'a**'"),
    (
        "invalid repetition size",
        "a {n} or {min,max} count RE2 cannot take (min above max, or over 1000 in all)",
        "use smaller repeat counts, the smaller number first ({1,20}), or a lexicon of phrases",
    ),
)


def _re2_slip(text: str) -> tuple[str, str] | None:
    """RE2's error for a typing slip, in plain words with its fix (RE2's own words kept in brackets)."""
    for start, what, fix in _RE2_SLIPS:
        if text.startswith(start):
            return f"{what} (RE2: {text})", fix
    return None


def regex_problem(pattern: str, ignore_case: bool) -> tuple[str, str] | None:
    """Why a team lead's regex is refused, with a fix; None when it is fine.

    RE2 runs in time linear in the text (no backtracking), so no pattern can freeze the
    sidebar; RE2 also refuses what needs backtracking (backreferences, lookaround) and
    patterns whose compiled program would be too big.
    """
    if len(pattern) > MAX_REGEX_CHARS:
        return (
            f"is {len(pattern)} characters long (at most {MAX_REGEX_CHARS})",
            "split it into several rules or use a lexicon of phrases",
        )
    try:
        compiled = compile_regex(pattern, ignore_case)
    except ValueError as exc:
        hint = "write an RE2 pattern (no backreferences like \\1, no lookarounds like (?=...))"
        text = str(exc)
        slip = _re2_slip(text)
        if slip:
            return slip
        if "repetition" in text or "too big" in text or "pattern too large" in text:
            hint = "use smaller repeat counts ({1,20}) or a lexicon of phrases"
        return text, hint
    if compiled.search("") is not None:
        return "matches empty text, so it would fire on every utterance", "make at least one character required"
    return None


def token_regex_problem(pattern: object) -> tuple[str, str, tuple[object, ...]] | None:
    """Why a ``REGEX`` of a token pattern is refused (message, fix, path to it), or None. Token
    regexes run on RE2 as ``says: {regex}`` does (``rules.tokens``), under the same bounds; a regex
    matching empty text is allowed here (it tests one token, it does not fire a rule alone)."""
    from .tokens import regexes_in

    for path, value in regexes_in(pattern):
        if not isinstance(value, str):
            return f"REGEX must be a string, got {type(value).__name__}", "write e.g. {LOWER: {REGEX: '^re'}}", path
        if len(value) > MAX_REGEX_CHARS:
            return (
                f"REGEX {value!r} is {len(value)} characters long (at most {MAX_REGEX_CHARS})",
                "use IN with a list of words, or a lexicon",
                path,
            )
        try:
            compile_regex(value, False)
        except ValueError as exc:
            text = str(exc)
            hint = (
                "token regexes run on RE2, which needs no backtracking: no backreferences like \\1, no "
                "lookarounds like (?=...); use IN/NOT_IN lists or two token specs instead"
            )
            if "repetition" in text or "too big" in text or "pattern too large" in text:
                hint = "use smaller repeat counts ({1,20}) or IN with a list of words"
            slip = _re2_slip(text)
            if slip:
                text, hint = slip
            return f"REGEX {value!r}: {text}", hint, path
    return None


_TOKEN_HINT = "see spaCy's Matcher docs: keys like LOWER, LEMMA, POS, DEP, OP, IN"


def _token_keys(model: Any) -> list[str]:
    """The keys a spaCy pattern model takes (its fields' aliases: LOWER, IN, REGEX, >=...)."""
    fields = getattr(model, "model_fields", None) or getattr(model, "__fields__", {})
    return [str(getattr(f, "alias", None) or name).upper() for name, f in fields.items()]  # as the docs write them


def token_pattern_problem(pattern: object) -> tuple[str, str, tuple[object, ...]] | None:
    """spaCy's own validation of one Matcher pattern: (message, fix, path to the bad part) or None;
    an unknown key is told as such, with the closest key spaCy takes, not in pydantic's words.

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
            holder: Any = pattern
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1]] = "."
    matcher = Matcher(Vocab(), validate=True)
    try:
        matcher.add("pattern", [pattern])  # type: ignore[list-item]
    except MatchPatternError as exc:
        lines = [ln.strip("- ").strip() for ln in str(exc).splitlines() if ln.strip().startswith("- [")]
        if not lines:
            return str(exc).strip().splitlines()[-1], _TOKEN_HINT, ()
        first = lines[0]
        path_text, _, message = first.partition("] ")
        steps: list[object] = []
        for part in path_text.strip("[").split(" -> ")[1:]:
            # pydantic names the model it tried ('TokenPatternString', 'str-enum[...]'): not in the file
            if not (part.startswith("TokenPattern") or "[" in part):
                steps.append(int(part) if part.isdigit() else part)
        if message.startswith("Extra inputs are not permitted") and steps and isinstance(steps[-1], str):
            from spacy.schemas import TokenPattern, TokenPatternNumber, TokenPatternString

            # a key of a token ({LOWR: you}), or of the value of one ({LOWER: {INN: [a, b]}})
            keys = _token_keys(TokenPattern) if len(steps) == 2 else _token_keys(TokenPatternString)
            if len(steps) > 2:
                keys += [k for k in _token_keys(TokenPatternNumber) if k not in keys]
            return f"unknown key {steps[-1]!r}", closest_hint(str(steps[-1]), keys, "key"), tuple(steps)
        shown = f"{' -> '.join(map(str, steps))}: {message}" if steps else message
        return shown, _TOKEN_HINT, tuple(steps)
    except (ValueError, TypeError, KeyError) as exc:
        return str(exc) or exc.__class__.__name__, _TOKEN_HINT, ()
    return None
