"""Running each rule's inline examples (``rapport-assist rules test`` and CI).

Above the pipeline in the layers (it runs examples as calls); the rule loader only reads the
examples (``rules.model.Example``).

An example is a few turns, run through the same pipeline as a call (conversation signals,
then rules, timing events included). Times are synthetic: each turn lasts its word count at
``WORDS_PER_S`` (or its ``seconds``, which also makes its pace known) and starts ``pause_s``
(default 0.5 s) after the previous one ends. When a turn gives ``louder_db``, every turn of
the example gets a voice level (``BASE_DBFS`` + its ``louder_db``), so loudness rules can be
shown. A ``fires`` example passes when its rule fires (or records) at least once (at turn
``at``, if given: the utterance at whose end it fired); a ``quiet`` example when it never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .annotate import Annotator
from .pipeline import CallPipeline
from .rules.engine import RuleEngine
from .rules.model import Example, Rule, RuleSet
from .signals import SignalTracker
from .types import Nudge, Praise, RecordItem, Utterance, VoiceMeasure

WORDS_PER_S = 2.6
MIN_TURN_S = 0.6
BASE_DBFS = -30.0


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
    voiced = any(turn.louder_db is not None for turn in example.turns)
    for i, turn in enumerate(example.turns):
        start = t + turn.pause_s
        length = turn.seconds if turn.seconds is not None else max(MIN_TURN_S, len(turn.text.split()) / WORDS_PER_S)
        end = start + length
        voice = VoiceMeasure(BASE_DBFS + (turn.louder_db or 0.0), length) if voiced else None
        out.append(
            Utterance(
                i,
                turn.speaker,
                turn.text,
                round(start, 3),
                round(end, 3),
                timing_estimated=turn.seconds is None,
                voice=voice,
            )
        )
        t = end
    return out


def run_examples(ruleset: RuleSet, annotator: Annotator, only: Sequence[str] | None = None) -> list[ExampleResult]:
    """Run every enabled rule's examples (or those of the ``only`` rules) through the engine,
    with all rules loaded, as in a call."""
    engine = RuleEngine(ruleset)
    tracker = SignalTracker(ruleset, compiler=engine.compiler)
    results: list[ExampleResult] = []
    for rule in ruleset.rules:
        if only and rule.id not in only:
            continue
        for example in rule.examples:
            results.append(_run_one(engine, tracker, annotator, rule, example))
    return results


def _run_one(
    engine: RuleEngine, tracker: SignalTracker, annotator: Annotator, rule: Rule, example: Example
) -> ExampleResult:
    """One example through the conversation signals and the engine, as in a call."""
    utterances = example_utterances(example)
    pipeline = CallPipeline(annotator, engine, tracker, masker=None)  # examples are rule text, not call data
    fired = [
        e.utterance_index
        for e in pipeline.run(utterances)
        if isinstance(e, (Nudge, RecordItem, Praise)) and e.rule == rule.id
    ]
    source = str(example.loc)
    if example.kind == "quiet":
        if fired:
            return ExampleResult(
                rule.id, "quiet", example.number, False, f"expected no nudge, but it fired at turn {fired[0]}", source
            )
        return ExampleResult(rule.id, "quiet", example.number, True, "ok", source)
    if not fired:
        return ExampleResult(rule.id, "fires", example.number, False, "expected a nudge, but it never fired", source)
    if example.at is not None and example.at not in fired:
        return ExampleResult(
            rule.id,
            "fires",
            example.number,
            False,
            f"expected a nudge at turn {example.at}, but it fired at "
            f"{'turn' if len(fired) == 1 else 'turns'} {', '.join(map(str, fired))}",
            source,
        )
    return ExampleResult(rule.id, "fires", example.number, True, "ok", source)


def explain_example(ruleset: RuleSet, annotator: Annotator, rule_id: str, kind: str, number: int) -> list[str]:
    """The trace of one example through a fresh engine, as ``rules explain`` prints it for a
    call: which conditions held at each turn, what matched, what the rule did."""
    from .rules.explain import RuleExplainer  # only when a failure is explained

    rule = next(r for r in ruleset.rules if r.id == rule_id)
    example = next(e for e in rule.examples if e.kind == kind and e.number == number)
    engine = RuleEngine(ruleset)
    explainer = RuleExplainer(engine, rule_id)
    pipeline = CallPipeline(annotator, engine, observer=explainer, masker=None)
    lines: list[str] = []
    for event in pipeline.run(example_utterances(example)):
        explainer.on_event(event)
        lines += explainer.lines
        explainer.lines.clear()
    return lines + explainer.lines
