"""The agent's call summary (``coaching.py``): built from a call's events, kind and short, never a
score; emitted by ``replay`` (text and JSONL) and shown in the ``qa`` report."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path


from rapport_assist.annotate import Annotator
from rapport_assist.cli import main
from rapport_assist.coaching import MAX_WENT_WELL, build_coaching
from rapport_assist.pipeline import CallPipeline
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
from rapport_assist.types import CallCoaching, CallSummary, Evidence, Nudge, Praise, RecordItem, Speaker, Utterance

SCORE = re.compile(r"\d+\s*(/|out of|%)|\bscore\b|\bpoints?\b", re.IGNORECASE)


def call(annotator: Annotator, turns: list[tuple[str, str]]) -> list:
    utterances, t = [], 0.0
    for i, (who, text) in enumerate(turns):
        length = max(1.0, len(text.split()) / 2.6)
        utterances.append(Utterance(i, Speaker.parse(who), text, t, t + length))
        t += length + 0.6
    engine = RuleEngine(load_rules([default_rules_dir()]))
    return list(CallPipeline(annotator, engine, masker=None).run(utterances))


def all_text(c: CallCoaching) -> str:
    lines = [*(f"{w.title} {w.text} {w.quote}" for w in c.went_well), c.closing]
    if c.try_next is not None:
        lines.append(f"{c.try_next.title} {c.try_next.text} {c.try_next.quote}")
    return "\n".join(lines)


def test_an_apology_in_time_and_an_open_promise_make_those_lines(annotator: Annotator) -> None:
    events = call(
        annotator,
        [
            ("agent", "Thanks for calling, this is Sam."),
            ("customer", "This is the third time I'm calling about the refund and it's ridiculous."),
            ("agent", "I'm so sorry about that, that's on us. Let me look right now."),
            ("customer", "Okay."),
            ("agent", "Someone from billing will call you back about it."),
            ("customer", "Fine, thanks."),
        ],
    )
    coaching = [e for e in events if isinstance(e, CallCoaching)]
    assert len(coaching) == 1
    assert isinstance(events[-1], CallSummary) and events[-2] is coaching[0]  # just before call_end
    c = coaching[0]
    titles = [line.title for line in c.went_well]
    assert "Apologized in time" in titles
    apology = next(line for line in c.went_well if line.rule == "praise-apology-in-time")
    assert "sorry" in apology.quote.lower()  # the agent's own words
    assert [p.text for p in c.open_promises] == ["Someone from billing will call you back about it"]
    assert c.try_next is not None and c.try_next.rule == "uncommitted-promise"  # the call's one nudge
    assert not SCORE.search(all_text(c))
    doc = c.to_json()
    assert doc["type"] == "coaching" and doc["promises"][0]["committed"] is False


def test_a_call_with_no_praise_still_gets_a_kind_summary_without_a_score(annotator: Annotator) -> None:
    events = call(
        annotator,
        [
            ("agent", "Billing."),
            ("customer", "This is ridiculous, you charged me twice for one ticket."),
            ("agent", "What's the booking number?"),
            ("customer", "It's four four one."),
            ("agent", "Okay, bye."),
        ],
    )
    c = next(e for e in events if isinstance(e, CallCoaching))
    assert c.went_well == ()
    assert c.try_next is not None and c.try_next.rule == "angry-no-apology"  # high severity leads
    assert c.try_next.quote.startswith("When they said:") and "ridiculous" in c.try_next.quote
    assert c.closing and not SCORE.search(all_text(c))
    assert "practice" in c.closing or "build on" in c.closing
    from rapport_assist.coaching import NO_PRAISE
    from rapport_assist.output import coaching_text

    text = coaching_text(c)
    assert f"What went well: {NO_PRAISE}" in text and "One thing to try next time: Apologize" in text


def test_the_demo_call_says_which_angry_moment_was_praised_and_which_coached(annotator: Annotator) -> None:
    """The bundled demo is praised for its apology at the second upset turn and coached on the
    first, which had none: side by side, each line says when and what the customer said."""
    from rapport_assist.gui.app import DEMO_TRANSCRIPT
    from rapport_assist.output import coaching_text
    from rapport_assist.playback import pipeline_events
    from rapport_assist.rules import RuleLibrary
    from rapport_assist.sources import ReplayInput

    ruleset = RuleLibrary([default_rules_dir()]).ruleset
    events = pipeline_events(ReplayInput(path=DEMO_TRANSCRIPT), ruleset, lambda: None, lambda: annotator, mask=False)
    c = next(e for e in events() if isinstance(e, CallCoaching))
    praised = next(line for line in c.went_well if line.rule == "praise-apology-in-time")
    assert c.try_next is not None and c.try_next.rule == "angry-no-apology"
    assert praised.at_s is not None and c.try_next.at_s is not None
    assert int(praised.at_s) == 48 and int(c.try_next.at_s) == 30  # the two upset turns
    assert praised.cue == "Honestly, I'm going to cancel my contract."  # the script's words (the audio's differ)
    text = coaching_text(c)
    assert "     + Apologized in time (at 0:48): " in text
    assert f"         they said: “{praised.cue}”" in text
    assert "   One thing to try next time: Apologize for the trouble (at 0:30)\n" in text
    assert "When they said: “This is the third time I'm calling" in text
    doc = c.to_json()
    assert doc["went_well"][0]["at"] == round(praised.at_s, 3) and doc["went_well"][0]["cue"] == praised.cue
    assert doc["try_next"]["at"] == round(c.try_next.at_s, 3)


def ev(i: int, who: Speaker = Speaker.AGENT, text: str = "Words.") -> Evidence:
    return Evidence(i, who, text, float(i), float(i) + 1.0)


def test_the_summary_keeps_the_strongest_praise_and_the_most_important_nudge() -> None:
    praise = [Praise(f"p{i}", f"Title {i}", "Well done.", float(i), i, (ev(i),), priority=10 * i) for i in range(1, 6)]
    praise.append(Praise("p5", "Title 5", "Again.", 9.0, 9, (ev(9),), priority=50))  # a rule counts once
    praise.append(Praise("hidden", "Hidden", "x", 1.0, 1, (ev(1),), priority=100, experimental=True))
    nudges = [
        Nudge("tip", "low", "A tip", "m", 1.0, 1, (ev(1),), why="Tips help.", priority=99),
        Nudge("tip", "low", "A tip", "m", 2.0, 2, (ev(2),), why="Tips help.", priority=99),
        Nudge(
            "urgent",
            "high",
            "Apologize",
            "m",
            3.0,
            3,
            (ev(3, Speaker.CUSTOMER, "It's awful. Fix it."),),
            why="Own it.",
            priority=10,
        ),
        Nudge("shh", "high", "Hidden", "m", 4.0, 4, (ev(4),), priority=100, experimental=True),
    ]
    promise = RecordItem("promises", "promise-list", 5.0, 5, Speaker.AGENT, "I'll call you", "tomorrow, Tomorrow")
    c = build_coaching([*praise, *nudges, promise])
    assert [line.rule for line in c.went_well] == ["p3", "p4", "p5"]  # top priorities, in call order
    assert len(c.went_well) == MAX_WENT_WELL
    assert c.try_next is not None and c.try_next.rule == "urgent" and c.try_next.text == "Own it."
    assert c.promises == (promise,) and c.open_promises == ()
    quiet = build_coaching([])
    assert quiet.went_well == () and quiet.try_next is None and quiet.closing


def test_replay_prints_and_emits_the_summary(tmp_path: Path) -> None:
    transcript = tmp_path / "call.jsonl"
    transcript.write_text(
        "\n".join(
            json.dumps(t)
            for t in [
                {
                    "speaker": "agent",
                    "text": "Good morning, thanks for calling. How can I help?",
                    "start": 0.0,
                    "end": 3.0,
                },
                {
                    "speaker": "customer",
                    "text": "My card was declined twice today and it's ridiculous.",
                    "start": 3.5,
                    "end": 7.0,
                },
                {
                    "speaker": "agent",
                    "text": "I'm so sorry, let's find out why. I'll call you back by 3 pm today.",
                    "start": 7.5,
                    "end": 11.0,
                },
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", str(transcript)], out, err) == 0, err.getvalue()
    text = out.getvalue()
    assert "== Call summary for the agent" in text and "What went well:" in text
    assert "+ Apologized in time" in text and "+ Opened warmly" in text and "by 3" in text
    assert text.index("== Call summary") < text.index("-- call end")
    out = io.StringIO()
    assert main(["replay", "--format", "jsonl", str(transcript)], out, io.StringIO()) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["type"] for e in events[-2:]] == ["coaching", "call_end"]
    kinds = {e["rule"] for e in events if e["type"] == "praise"}
    assert {"praise-apology-in-time", "praise-warm-opening", "praise-promise-with-time"} <= kinds
    assert not any(e["type"] == "nudge" and e["rule"].startswith("praise-") for e in events)
    assert events[-1]["nudges"] == sum(e["type"] == "nudge" for e in events)  # praise is not counted as nudges


def test_the_qa_report_shows_the_summary_escaped() -> None:
    from rapport_assist.qa.report import coaching_html

    coaching = {
        "type": "coaching",
        "went_well": [
            {"rule": "r", "title": "Used <b>name</b>", "text": "Nice & kind.", "quote": "Thanks, <Dana>"},
            {"rule": "a", "title": "Apologized", "text": "Owned it.", "at": 48.6, "cue": "I'll <cancel>"},
        ],
        "try_next": {"rule": "n", "title": "Apologize", "text": "Own it.", "quote": "When they said: “x”", "at": 30.4},
        "promises": [{"text": "I'll call <you>", "time": None, "committed": False}],
        "closing": "A good call.",
    }
    html = coaching_html([{"type": "utterance"}, coaching])
    assert "Used &lt;b&gt;name&lt;/b&gt;" in html and "Thanks, &lt;Dana&gt;" in html and "<b>name</b>" not in html
    assert "One thing to try next time" in html and "no time given" in html and "A good call." in html
    # which moment each line is about: praised at 0:48, coached at 0:30
    assert "<b>Apologized</b> (at 0:48.6)" in html and "they said: “I&#39;ll &lt;cancel&gt;”" in html
    assert "<b>Apologize</b> (at 0:30.4)" in html and "<b>Used &lt;b&gt;name&lt;/b&gt;</b> —" in html
    assert "No call summary" in coaching_html([{"type": "utterance"}])
