"""Lint: what is legal but probably wrong in a rule set. Warnings, kept apart from load errors.

A rule set with warnings still loads and runs; ``rapport-assist rules check`` prints them
(``--strict`` turns them into a failure). Each warning points at ``file:line:col`` with a fix.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from ..signal_catalogue import CUE_LEXICONS
from .features import compile_phrase
from .model import (
    AllOf,
    AnyOf,
    Condition,
    Earlier,
    MaxWords,
    MinLength,
    Not,
    Rule,
    RuleSet,
    SignalTest,
    SpeakerIs,
    required_speakers,
)
from .source import Loc, RuleProblem

MIN_EXAMPLES = 2  # of each kind, per rule


def lint(ruleset: RuleSet, used_lexicons: Iterable[str] = ()) -> list[RuleProblem]:
    """Every warning about ``ruleset``; ``used_lexicons`` are the lexicons some rule or tone names."""

    out: list[RuleProblem] = []
    for rule in ruleset.rules + ruleset.disabled:
        out.extend(_rule_warnings(rule))
    used = set(used_lexicons) | set(CUE_LEXICONS.values())
    for name, lex in sorted(ruleset.lexicons.items()):
        if name not in used:
            out.append(
                _at(
                    lex.loc,
                    f"lexicon {name!r} is never used by a rule, a tone or a signal cue",
                    "use it in 'says:', or delete it",
                )
            )
        for phrase in lex.phrases + lex.except_:
            slip = _choice_slip(phrase.text)
            if slip:
                out.append(
                    _at(
                        phrase.loc,
                        f"phrase {phrase.text!r} of lexicon {name!r}: a choice is one word, so "
                        f"{slip!r} chooses between single words and repeats the word beside it",
                        "write the choice on the word that differs ('one|1 star'), or group whole choices: '(one star|1 star)'",
                    )
                )
        seen: dict[tuple[frozenset[int | str], ...], str] = {}
        vetoes = [compile_phrase(p.text, str) for p in lex.except_]
        for phrase in lex.phrases:
            key = compile_phrase(phrase.text, str)
            if key in seen:
                out.append(
                    _at(
                        phrase.loc,
                        f"phrase {phrase.text!r} of lexicon {name!r} repeats {seen[key]!r}",
                        "delete one of them",
                    )
                )
                continue
            seen[key] = phrase.text
            if any(_covers(v, key) for v in vetoes):
                out.append(
                    _at(
                        phrase.loc,
                        f"phrase {phrase.text!r} of lexicon {name!r} contains one of its "
                        "'except' phrases, so it can never match",
                        "delete it or narrow the 'except' phrase",
                    )
                )
    return sorted(out, key=lambda p: (p.path, p.line, p.col))


def _rule_warnings(rule: Rule) -> Iterator[RuleProblem]:
    fires = sum(1 for e in rule.examples if e.kind == "fires")
    quiet = sum(1 for e in rule.examples if e.kind == "quiet")
    if fires < MIN_EXAMPLES or quiet < MIN_EXAMPLES:
        yield _at(
            rule.loc,
            f"rule {rule.id!r} has {fires} 'fires' and {quiet} 'quiet' examples "
            f"(at least {MIN_EXAMPLES} of each are expected)",
            "add examples: they document the rule and 'rules test' checks them",
        )
    why = _never(rule.when)
    if why:
        yield _at(rule.loc, f"rule {rule.id!r} can never fire: its 'when' {why}", "fix the contradiction")
    if rule.expect is not None:
        why = _never(rule.expect.condition)
        if why:
            yield _at(
                rule.loc, f"rule {rule.id!r}: its 'expect' {why}, so it fires every time", "fix the contradiction"
            )
        if required_speakers(rule.expect.condition) - {rule.expect.speaker}:
            yield _at(
                rule.loc,
                f"rule {rule.id!r}: 'expect' waits for the {rule.expect.speaker.value} but asks "
                "for another speaker's words, so it fires every time",
                "make the two speakers agree",
            )


def _never(cond: Condition) -> str:
    """Why a condition can never hold ('' when it can), for the contradictions lint can see."""
    if isinstance(cond, AllOf):
        speakers = {c.speaker for c in cond.items if isinstance(c, SpeakerIs)}
        if len(speakers) > 1:
            return "asks for both speakers at once"
        longest = [c.words for c in cond.items if isinstance(c, MinLength) and c.words and c.seconds is None]
        shortest = [c.words for c in cond.items if isinstance(c, MaxWords)]
        if longest and shortest and max(longest) > min(shortest):
            return f"asks for at least {max(longest)} and at most {min(shortest)} words"
        ranges: dict[str, list[SignalTest]] = {}
        for c in cond.items:
            if isinstance(c, SignalTest):
                ranges.setdefault(c.name, []).append(c)
        for name, tests in ranges.items():
            lo = max((t.min for t in tests if t.min is not None), default=None)
            hi = min((t.max for t in tests if t.max is not None), default=None)
            if lo is not None and hi is not None and lo > hi:
                return f"asks for {name} >= {lo:g} and <= {hi:g}"
        for c in cond.items:
            why = _never(c)
            if why:
                return why
        return ""
    if isinstance(cond, AnyOf):
        whys = [_never(c) for c in cond.items]
        return whys[0] if all(whys) else ""
    if isinstance(cond, Not) and isinstance(cond.item, AllOf) and not cond.item.items:
        return "negates an empty condition"
    if isinstance(cond, Earlier):
        return _never(cond.condition)
    return ""


def _choice_slip(text: str) -> str:
    """The choice in ``text`` that looks like a choice between phrases written as one ("one
    star|1 star" reads "one (star|1) star"): one of its words is also the word before or after it
    ("deal with|work with", "it was|this was"); "" if none."""
    chunks = text.split()
    for i, chunk in enumerate(chunks):
        if "|" not in chunk:
            continue
        alts = {a.lower() for a in chunk.split("|") if a}
        before = {a.lower() for a in chunks[i - 1].split("|")} if i else set()
        after = {a.lower() for a in chunks[i + 1].split("|")} if i + 1 < len(chunks) else set()
        if alts & (before | after):
            return chunk
    return ""


def _covers(veto: tuple[frozenset[int | str], ...], phrase: tuple[frozenset[int | str], ...]) -> bool:
    """Every match of ``phrase`` contains a match of ``veto`` (so it is always dropped)."""
    n, m = len(phrase), len(veto)
    for i in range(n - m + 1):
        if all(phrase[i + j] <= veto[j] for j in range(m)):
            return True
    return False


def _at(loc: Loc, message: str, hint: str) -> RuleProblem:
    return RuleProblem(loc.path, loc.line, loc.col, "warning: " + message, hint)
