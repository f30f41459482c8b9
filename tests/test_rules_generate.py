"""Conditions compiled to Python source (``rules.generate``) mean what the condition tree
says: checked against a plain truth table of ``all``/``any``/``not`` over the leaves, each
compiled alone, on real annotated utterances with their conversation signals."""

from __future__ import annotations

import linecache
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapport_assist.annotate import Annotator
from rapport_assist.rules import RuleEngine, load_rules
from rapport_assist.rules.conditions import EvalContext
from rapport_assist.rules.generate import MAX_DEPTH
from rapport_assist.rules.model import (
    AllOf,
    AnyOf,
    Condition,
    LexiconFinder,
    MaxWords,
    MinLength,
    Negated,
    Not,
    Says,
    SignalTest,
    SpeakerIs,
    ToneIs,
)
from rapport_assist.signals import SignalTracker
from rapport_assist.types import Speaker, Utterance

PACK = textwrap.dedent("""\
    version: 1
    lexicons:
      sorry: [sorry, apologize]
      thanks: [thank you, thanks]
      negation: [not, never, no]
    tones:
      angry: {text: {says: sorry}}
    rules: []
    """)

TURNS = [
    (Speaker.AGENT, "Thanks for calling, this is Sam, how can I help?"),
    (Speaker.CUSTOMER, "I'm not sorry at all, I've waited three weeks and nobody called me back, thanks for nothing."),
    (Speaker.AGENT, "I'm so sorry about that, I apologize."),
    (Speaker.CUSTOMER, "Thanks."),
    (Speaker.AGENT, "Let me check the order for you right now."),
]

LEAVES: list[Condition] = [
    SpeakerIs(Speaker.AGENT),
    SpeakerIs(Speaker.CUSTOMER),
    MaxWords(3),
    MinLength(words=9, seconds=None),
    MinLength(words=None, seconds=2.5),
    Says(LexiconFinder(("sorry",)), ()),
    Says(LexiconFinder(("thanks",)), ()),
    Says(LexiconFinder(("sorry", "thanks")), ()),
    Says(LexiconFinder(("sorry",)), (Negated("negation", 2, 0),)),
    SignalTest("speaker_turn", max=1),
    SignalTest("speaker_turn", min=2, max=2),
    ToneIs("angry"),
]


@pytest.fixture(scope="module")
def contexts(tmp_path_factory) -> tuple[RuleEngine, list[EvalContext]]:
    path = Path(tmp_path_factory.mktemp("pack")) / "pack.yaml"
    path.write_text(PACK, encoding="utf-8")
    ruleset = load_rules([path])
    engine = RuleEngine(ruleset)
    tracker = SignalTracker(ruleset, compiler=engine.compiler)
    annotator = Annotator()
    tracker.start_call()
    out = []
    t = 0.0
    for i, (speaker, text) in enumerate(TURNS):
        duration = 0.3 * len(text.split())
        au = tracker.on_utterance(annotator.annotate(Utterance(i, speaker, text, t, t + duration)))[0]
        t += duration + 0.5
        out.append(EvalContext(engine.compiler.extractor.features(au)))
    return engine, out


def truth(cond: Condition, leaves: dict[Condition, bool]) -> bool:
    if isinstance(cond, AllOf):
        return all(truth(c, leaves) for c in cond.items)
    if isinstance(cond, AnyOf):
        return any(truth(c, leaves) for c in cond.items)
    if isinstance(cond, Not):
        return not truth(cond.item, leaves)
    return leaves[cond]


trees = st.recursive(
    st.sampled_from(LEAVES),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: AllOf(tuple(items))),
        st.lists(children, max_size=4).map(lambda items: AnyOf(tuple(items))),
        children.map(Not),
    ),
    max_leaves=14,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees)
def test_a_compiled_tree_holds_exactly_when_its_truth_table_says(contexts, tree) -> None:
    engine, ctxs = contexts
    compiler = engine.compiler
    compiled = compiler.condition(tree)
    for ctx in ctxs:
        ctx.tones.clear()
        alone = {leaf: compiler.condition(leaf)(ctx) for leaf in LEAVES}
        got = compiled(ctx)
        assert (got is not None) == truth(tree, {leaf: found is not None for leaf, found in alone.items()}), (
            ctx.feats.text,
            compiled.source,
        )
        if got:  # the matches come from the leaves that matched
            possible = {(m.start, m.end, m.label) for found in alone.values() if found for m in found}
            assert {(m.start, m.end, m.label) for m in got} <= possible


def test_the_leaves_mean_what_they_say(contexts) -> None:
    """The truth table above rests on the leaves: each checked on the turns by hand."""
    engine, ctxs = contexts
    holds = {leaf: [engine.compiler.condition(leaf)(ctx) is not None for ctx in ctxs] for leaf in LEAVES}
    assert holds[SpeakerIs(Speaker.AGENT)] == [True, False, True, False, True]
    assert holds[MaxWords(3)] == [False, False, False, True, False]
    assert holds[Says(LexiconFinder(("sorry",)), ())] == [False, True, True, False, False]
    assert holds[Says(LexiconFinder(("sorry",)), (Negated("negation", 2, 0),))] == [False, False, True, False, False]
    assert holds[Says(LexiconFinder(("sorry", "thanks")), ())] == [True, True, True, True, False]
    assert holds[SignalTest("speaker_turn", max=1)] == [True, True, False, False, False]
    assert holds[MinLength(words=None, seconds=2.5)] == [True, True, False, False, True]


def test_deep_trees_compile_and_keep_their_meaning(contexts) -> None:
    """Nesting deeper than one function should hold (``MAX_DEPTH``) is split into functions."""
    engine, ctxs = contexts
    says_sorry = Says(LexiconFinder(("sorry",)), ())
    for depth in (MAX_DEPTH - 1, MAX_DEPTH, 3 * MAX_DEPTH + 1):
        negated: Condition = says_sorry
        nested: Condition = says_sorry
        for _ in range(depth):
            negated = Not(negated)
            nested = AllOf((SpeakerIs(Speaker.AGENT), AnyOf((MaxWords(0), nested))))
        inner, outer = engine.compiler.condition(says_sorry), engine.compiler.condition(negated)
        nested_fn = engine.compiler.condition(nested)
        for ctx in ctxs:
            base = inner(ctx) is not None
            assert (outer(ctx) is not None) == (base if depth % 2 == 0 else not base)
            is_agent = ctx.feats.au.utterance.speaker is Speaker.AGENT
            found = nested_fn(ctx)
            assert (found is not None) == (base and is_agent)
            if found is not None:
                assert [m.label for m in found] == ["sorry"] * len(inner(ctx))


def test_the_source_is_kept_for_tracebacks(contexts) -> None:
    engine, _ = contexts
    fn = engine.compiler.condition(AllOf((SpeakerIs(Speaker.CUSTOMER), Says(LexiconFinder(("thanks",)), ()))))
    assert "lex:thanks" in fn.source  # the lexicon lookup is inline
    assert "".join(linecache.getlines(fn.__code__.co_filename)) == fn.source
