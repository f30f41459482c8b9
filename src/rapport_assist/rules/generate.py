"""Conditions compiled to Python source: one function per condition tree.

A rule's condition is a small tree (``all`` / ``any`` / ``not`` over tests). Evaluated as a
tree of closures it costs a Python call per node on every utterance, and with twenty rules
those calls were most of the rule engine's time. ``write_condition`` writes one function per
tree instead: the cheap tests (speaker, lengths, signals, a lexicon's pre-filter bits and its
matches cached on the utterance) are inline, and the rest (tones, earlier turns, reflection,
names, token patterns, regular expressions, skip tests) are calls to the finders the
``Compiler`` built. The function returns what the tree means: the matches the condition rests
on (a list; callers must not change it, it may be a cached one), or None when it does not hold.

Inside ``all``, parts run cheapest first (``all_cost``); inside ``any``, options run cheapest
first (``cost``) and the first that holds gives the matches.

The source is kept on the function (``.source``) and registered with ``linecache``, so a
traceback through a condition shows its lines.
"""

from __future__ import annotations

import itertools
import linecache
from typing import Any, Callable, Protocol

from .features import CompiledLexicon, Features, Match
from .model import (
    AllOf,
    AnyOf,
    Condition,
    Earlier,
    EventIs,
    LexiconFinder,
    MatchTest,
    MaxWords,
    MinLength,
    Not,
    Says,
    SignalTest,
    SpeakerIs,
    ToneIs,
)

Evaluator = Callable[[Any], "list[Match] | None"]
MAX_DEPTH = 12  # nesting (in ``all``/``any``/``not``) beyond which a subtree becomes its own function
_serial = itertools.count()


class Leaves(Protocol):
    """What a condition's source calls: the compiler's lexicons, finders and evaluators."""

    lexicons: dict[str, CompiledLexicon]

    def finder(self, finder: object) -> Callable[[Features], list[Match]]: ...

    def skip_test(self, test: MatchTest) -> Callable[[Match, Any], bool]: ...

    def leaf(self, cond: Condition) -> Evaluator: ...


def write_condition(cond: Condition, leaves: Leaves) -> Evaluator:
    """One function evaluating ``cond`` on an ``EvalContext``."""
    return _Writer(leaves).function(cond)


# matches a condition of these kinds adds when it holds: none (it holds or not)
_NO_MATCHES = (SpeakerIs, MaxWords, MinLength, SignalTest, Not, EventIs)


class _Writer:
    def __init__(self, leaves: Leaves) -> None:
        self.leaves = leaves
        self.names: dict[str, object] = {}  # constants the source refers to
        self.lines: list[str] = []
        self.temps = itertools.count()
        self.uses: set[str] = set()  # locals the preamble sets up: utt, bits, cache

    def function(self, cond: Condition) -> Evaluator:
        self.emit(cond, "r", 1, 0)
        name = f"condition_{next(_serial)}"
        preamble = ["    feats = ctx.feats"]
        if "utt" in self.uses:
            preamble.append("    utt = feats.au.utterance")
        if "bits" in self.uses:
            preamble.append("    bits = feats.bits")
        if "cache" in self.uses:
            preamble.append("    cache = feats.cache")
        source = "\n".join(
            [f"def {name}(ctx):", f"    # {_describe(cond)}", *preamble, *self.lines, "    return r", ""]
        )
        filename = f"<rapport-assist {name}>"
        namespace: dict[str, Any] = dict(self.names)  # what the generated source defines
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated source
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        fn = namespace[name]
        fn.source = source
        return fn

    # ------------------------------------------------------------ helpers

    def const(self, value: object, hint: str) -> str:
        for name, known in self.names.items():
            if known is value:
                return name
        name = f"{hint}{len(self.names)}"
        self.names[name] = value
        return name

    def temp(self) -> str:
        return f"t{next(self.temps)}"

    def put(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    # ------------------------------------------------------------ conditions

    def emit(self, cond: Condition, target: str, depth: int, nesting: int) -> None:
        """Lines that set ``target`` to the matches of ``cond`` (a list) or None."""
        put = self.put
        if isinstance(cond, (AllOf, AnyOf, Not)) and nesting >= MAX_DEPTH:
            fn = _Writer(self.leaves).function(cond)  # deep trees: the subtree as its own function
            put(depth, f"{target} = {self.const(fn, 'sub')}(ctx)")
        elif isinstance(cond, SpeakerIs):
            self.uses.add("utt")
            put(depth, f"{target} = [] if utt.speaker is {self.const(cond.speaker, 'speaker')} else None")
        elif isinstance(cond, MaxWords):
            put(depth, f"{target} = [] if feats.word_count <= {int(cond.words)} else None")
        elif isinstance(cond, MinLength):
            tests = []
            if cond.words is not None:
                count = "feats.word_count"
                if cond.per_line:
                    self.uses.add("utt")
                    count = "(feats.line_words if utt.timing_estimated else feats.word_count)"
                tests.append(f"{count} >= {int(cond.words)}")
            if cond.seconds is not None:
                self.uses.add("utt")
                # seconds are measured or nothing: a length estimated from the word count is a guess
                tests.append(f"(not utt.timing_estimated and utt.duration_s >= {self.const(cond.seconds, 'seconds')})")
            put(depth, f"{target} = [] if {' or '.join(tests) or 'False'} else None")
        elif isinstance(cond, SignalTest):
            self.signal(cond, target, depth)
        elif isinstance(cond, Says):
            self.says(cond, target, depth)
        elif isinstance(cond, EventIs):  # events are matched by the engine, never on utterances
            put(depth, f"{target} = None")
        elif isinstance(cond, AllOf):
            self.all_of(cond, target, depth, nesting)
        elif isinstance(cond, AnyOf):
            options = sorted(cond.items, key=cost)
            if not options:
                put(depth, f"{target} = None")
            for i, option in enumerate(options):
                if i:
                    put(depth, f"if {target} is None:")
                    depth += 1
                self.emit(option, target, depth, nesting + 1)
        elif isinstance(cond, Not):
            inner = self.temp()
            self.emit(cond.item, inner, depth, nesting + 1)
            put(depth, f"{target} = [] if {inner} is None else None")
        else:  # tones, earlier turns, reflection, names: the compiler's evaluator
            put(depth, f"{target} = {self.const(self.leaves.leaf(cond), _hint(cond))}(ctx)")

    def all_of(self, cond: AllOf, target: str, depth: int, nesting: int) -> None:
        parts = sorted(cond.items, key=all_cost)
        self.put(depth, f"{target} = None")
        found: list[str] = []  # the parts' matches, in evaluation order
        for part in parts:
            var = self.temp()
            self.emit(part, var, depth, nesting + 1)
            self.put(depth, f"if {var} is not None:")
            depth += 1
            if not isinstance(part, _NO_MATCHES):
                found.append(var)
        self.put(depth, f"{target} = {' + '.join(found) if len(found) > 1 else found[0] if found else '[]'}")

    def signal(self, cond: SignalTest, target: str, depth: int) -> None:
        self.uses.add("utt")
        value = self.temp()
        self.put(depth, f"{value} = utt.signals")
        self.put(depth, f"{value} = {value}.values.get({cond.name!r}) if {value} is not None else None")
        if cond.equals is not None:
            test = f"bool({value}) is {bool(cond.equals)!r}"
        else:
            bounds = [f"not {value} < {self.const(cond.min, 'low')}"] if cond.min is not None else []
            bounds += [f"not {value} > {self.const(cond.max, 'high')}"] if cond.max is not None else []
            test = " and ".join(bounds) or "True"
        self.put(depth, f"{target} = [] if {value} is not None and {test} else None")

    def says(self, cond: Says, target: str, depth: int) -> None:
        put = self.put
        finder = cond.finder
        if isinstance(finder, LexiconFinder):
            # each lexicon's matches, cached on the utterance; its pre-filter bits spare the lookup
            put(depth, f"{target} = []")
            for name in finder.lexicons:
                lex = self.leaves.lexicons[name]
                key = "lex:" + lex.name
                got = self.temp()
                self.uses.add("cache")
                lookup = [
                    f"{got} = cache.get({key!r})",
                    f"if {got} is None:",
                    f"    {got} = cache[{key!r}] = {self.const(lex, 'lexicon')}.find(feats)",
                    f"{target} = {got}" if len(finder.lexicons) == 1 else f"{target} = {target} + {got}",
                ]
                if lex.entities:  # entities are not words: no pre-filter
                    for line in lookup:
                        put(depth, line)
                else:
                    self.uses.add("bits")
                    tests = [
                        f"bits & {b}" for b in dict.fromkeys((lex.rare_bit, lex.bit, lex.last_bit, lex.start_bits))
                    ]
                    put(depth, f"if {' and '.join(tests)}:")
                    for line in lookup:
                        put(depth + 1, line)
        else:
            put(depth, f"{target} = {self.const(self.leaves.finder(finder), 'find')}(feats)")
        if cond.skip_if:
            tests = [f"{self.const(self.leaves.skip_test(t), 'skip')}(m, ctx)" for t in cond.skip_if]
            put(depth, f"if {target}:")
            put(depth + 1, f"{target} = [m for m in {target} if not ({' or '.join(tests)})]")
        put(depth, f"{target} = {target} or None")


def _hint(cond: Condition) -> str:
    return {ToneIs: "tone", Earlier: "earlier"}.get(type(cond), type(cond).__name__.lower())


def _describe(cond: Condition) -> str:
    """The condition, on one line, for the top of its source."""
    text = repr(cond)
    return text if len(text) <= 200 else text[:199] + "…"


def cost(cond: Condition) -> int:
    """Evaluation order inside any: cheap checks first (the first option that holds gives the
    matches)."""
    if isinstance(cond, (SpeakerIs, MaxWords, MinLength, SignalTest)):
        return 0
    if isinstance(cond, (Says, ToneIs)):
        return 1
    return 2


def all_cost(cond: Condition) -> float:
    """Evaluation order inside all: cheap checks first, so a failing one spares the others. Only
    conditions that add no match of this utterance move ahead of a ``says`` (lengths, signals,
    a look at the last turn or two: ``earlier``'s matches belong to past turns), so the matches
    a nudge quotes keep the order the rule gives them."""
    if isinstance(cond, Earlier) and cond.turns is not None and cond.turns <= 2:
        return 0.5  # the last turn or two (their results are cached on them)
    if isinstance(cond, Not):
        if isinstance(cond.item, Not):  # a double negation costs and filters what its test does
            return all_cost(cond.item.item)
        # "not X" seldom fails (X seldom holds), so it goes just after the tests as costly as X
        return all_cost(cond.item) + 0.25
    if isinstance(cond, AllOf) and all(all_cost(c) < 1 for c in cond.items):
        return max((all_cost(c) for c in cond.items), default=0)
    return cost(cond)
