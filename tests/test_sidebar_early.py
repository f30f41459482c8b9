"""Early nudges in the sidebar as a real Qt window (pytest-qt, offscreen): the card of an early
nudge appears while the agent is still speaking; the final text confirms it in place or
withdraws it (the card goes, with no history line and no second card)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

import test_sidebar_gui as gui_tests  # noqa: E402

from rapport_assist.assist import BudgetConfig  # noqa: E402
from rapport_assist.pipeline import CallPipeline  # noqa: E402
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules  # noqa: E402
from rapport_assist.types import Nudge, Partial, SpeechActivity, Speaker, Utterance, Withdrawn  # noqa: E402

A, C = Speaker.AGENT, Speaker.CUSTOMER
PushRunner = gui_tests.PushRunner
annotator = gui_tests.annotator  # the sidebar tests' fixtures: one spaCy model, a real window
make_sidebar = gui_tests.make_sidebar


def pipeline_events(annotator, items) -> list:
    """The events the call pipeline makes of these timeline items (real spaCy, the shipped rules)."""
    pipe = CallPipeline(annotator, RuleEngine(load_rules([default_rules_dir()])), masker=None)
    return [e for e in pipe.run(items) if type(e).__name__ not in ("CallSummary", "CallCoaching")]


def split_at(events: list, kind: type) -> tuple[list, list]:
    at = next(i for i, e in enumerate(events) if isinstance(e, kind) and getattr(e, "speaker", A) is A)
    return events[:at], events[at:]


def test_an_early_card_appears_mid_sentence_and_is_withdrawn_without_a_trace(qtbot, make_sidebar, annotator):
    window = make_sidebar(budget=BudgetConfig(min_gap_s=0))
    window.cards.animate = True
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    events = pipeline_events(
        annotator,
        [
            SpeechActivity(A, 1.0, True),
            Partial(A, 1.0, 2.5, "You need to restart the router,", "is"),
            Utterance(0, A, "You need to restart the router, is that what you were asking?", 1.0, 4.5),
        ],
    )
    before, after = split_at(events, Utterance)
    assert any(isinstance(e, Nudge) and e.early for e in before)
    runner.push(SpeechActivity(A, 1.0, True), *before)  # the agent is still speaking (live capture delivers
    # the speech marks to the sidebar itself: the pipeline does not hand them on)
    qtbot.waitUntil(lambda: len(window.cards.widgets) == 1)
    widget = next(iter(window.cards.widgets.values()))
    assert widget.card.nudge.rule == "you-not-we" and widget.card.nudge.early
    assert window.model.agent_speaking  # shown mid-sentence: an early medium card may
    destroyed: list[bool] = []
    widget.destroyed.connect(lambda *_: destroyed.append(True))
    assert any(isinstance(e, Withdrawn) for e in after)
    runner.push(*after)
    qtbot.waitUntil(lambda: window.cards.widgets == {})
    assert window.history.labels == [] and window.model.history.maxlen and not window.model.history
    assert not window.cards.waiting_label.isVisible() and window.cards.empty_label.isVisible()
    qtbot.waitUntil(lambda: destroyed == [True], timeout=3000)
    window.controller.stop()


def test_a_confirmed_early_card_stays_one_card_redrawn_in_place(qtbot, make_sidebar, annotator):
    window = make_sidebar(budget=BudgetConfig(min_gap_s=0))
    window.cards.animate = True
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    events = pipeline_events(
        annotator,
        [
            Utterance(0, C, "The app keeps logging me out.", 0.0, 2.0),
            SpeechActivity(A, 2.5, True),
            Partial(A, 2.5, 4.0, "You need to reinstall the app", "and"),
            Utterance(1, A, "You need to reinstall the app and sign in again.", 2.5, 6.0),
        ],
    )
    before, after = split_at(events, Utterance)
    runner.push(SpeechActivity(A, 2.5, True), *before)
    qtbot.waitUntil(lambda: len(window.cards.widgets) == 1)
    card_id = next(iter(window.cards.widgets))
    qtbot.waitUntil(lambda: window.cards.widgets[card_id].graphicsEffect() is None, timeout=3000)  # faded in
    runner.push(*after)
    qtbot.waitUntil(lambda: window.model.cards[card_id].nudge.confirms is not None)
    assert list(window.cards.widgets) == [card_id]  # the same card, no second one
    redrawn = window.cards.widgets[card_id]
    assert redrawn.graphicsEffect() is None  # drawn again in place, not faded in anew
    assert "reinstall the app and sign in again" in redrawn.card.nudge.message
    window.controller.stop()
