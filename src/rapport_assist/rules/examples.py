"""Running each rule's inline examples (``rapport-assist rules test`` and CI).

An example is a few turns. Times are synthetic: each turn lasts its word count at
``WORDS_PER_S`` and starts ``pause_s`` (default 0.5 s) after the previous one ends. A
``fires`` example passes when its rule fires at least once (at turn ``at``, if given: the
utterance at whose end the nudge fired); a ``quiet`` example passes when it never fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..annotate import Annotator
from ..types import Nudge, Utterance
from .engine import RuleEngine
from .model import Example, Rule, RuleSet

if TYPE_CHECKING:  # pragma: no cover
    from ..signals import SignalTracker

WORDS_PER_S = 2.6
MIN_TURN_S = 0.6


@dataclass(frozen=True)
class ExampleResult:
    """The outcome of one inline example."""

    rule: str
    kind: str
    number: int
    passed: bool
    reason: str
    source: str  # file:line of the example

    def describe(self) -> str:
        return f"{self.source}: {self.rule} {self.kind}[{self.number}]: {self.reason}"


def example_utterances(example: Example) -> list[Utterance]:
    """The example's turns as utterances on a synthetic timeline."""
    out: list[Utterance] = []
    t = 0.0
    for i, turn in enumerate(example.turns):
        start = t + turn.pause_s
        end = start + max(MIN_TURN_S, len(turn.text.split()) / WORDS_PER_S)
        out.append(Utterance(i, turn.speaker, turn.text, round(start, 3), round(end, 3), timing_estimated=True))
        t = end
    return out


def run_examples(ruleset: RuleSet, annotator: Annotator) -> list[ExampleResult]:
    """Run every enabled rule's examples through the engine (all rules loaded, as in a call)."""
    from ..signals import SignalTracker

    engine = RuleEngine(ruleset)
    tracker = SignalTracker(ruleset)
    results: list[ExampleResult] = []
    for rule in ruleset.rules:
        for example in rule.examples:
            results.append(_run_one(engine, tracker, annotator, rule, example))
    return results


def _run_one(engine: RuleEngine, tracker: "SignalTracker", annotator: Annotator, rule: Rule,
             example: Example) -> ExampleResult:
    """One example through the conversation signals and the engine, as in a call."""
    utterances = example_utterances(example)
    engine.start_call()
    tracker.start_call()
    nudges: list[Nudge] = []
    for au in annotator.annotate_many(utterances):
        au, _events = tracker.on_utterance(au)
        nudges.extend(engine.on_utterance(au))
    nudges.extend(engine.finish(utterances[-1].end_s))
    fired = [n.utterance_index for n in nudges if n.rule == rule.id]
    source = str(example.loc)
    if example.kind == "quiet":
        if fired:
            return ExampleResult(rule.id, "quiet", example.number, False,
                                 f"expected no nudge, but it fired at turn {fired[0]}", source)
        return ExampleResult(rule.id, "quiet", example.number, True, "ok", source)
    if not fired:
        return ExampleResult(rule.id, "fires", example.number, False, "expected a nudge, but it never fired", source)
    if example.at is not None and example.at not in fired:
        return ExampleResult(rule.id, "fires", example.number, False,
                             f"expected a nudge at turn {example.at}, but it fired at turn(s) "
                             f"{', '.join(map(str, fired))}", source)
    return ExampleResult(rule.id, "fires", example.number, True, "ok", source)
