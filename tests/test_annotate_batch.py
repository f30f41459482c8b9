"""Batched annotation of transcripts: same annotations and same events as one at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rapport_assist.annotate import AnnotatedUtterance, Annotator
from rapport_assist.errors import BadInput
from rapport_assist.pipeline import CallPipeline
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
from rapport_assist.sources import TRANSCRIPT_READ_AHEAD, ReplayInput, open_replay
from rapport_assist.types import CallSummary, Speaker, Status, Utterance
from spacy_support import stock_pipeline

DEMO_TRANSCRIPT = Path(__file__).resolve().parents[1] / "src" / "rapport_assist" / "data" / "demo_call.jsonl"

TEXTS = [
    "I've called three times since last Tuesday and nobody has fixed it!",
    "I'm so sorry about that. I'll have a technician call you back by 5 pm tomorrow.",
    "",
    "Um, so, uh, you need to, you need to reset the modem. Can you do that? Great.",
    "We can't do that before Friday, but I will send the refund on March 3rd.",
    "ok",
]


def utt(i: int, text: str, speaker: Speaker = Speaker.CUSTOMER) -> Utterance:
    return Utterance(index=i, speaker=speaker, text=text, start_s=2.0 * i, end_s=2.0 * i + 1.5)


def reading(au: AnnotatedUtterance) -> list[tuple]:
    """Everything the rules read from a Doc: words, lemmas, tags, the parse, sentences, entities."""
    doc = au.doc
    tokens = [
        (
            t.text,
            t.lower_,
            t.norm_,
            t.lemma_,
            t.pos_,
            t.tag_,
            t.dep_,
            t.head.i,
            t.is_sent_start,
            t.ent_iob_,
            t.ent_type_,
            str(t.morph),
        )
        for t in doc
    ]
    return tokens + [(e.start, e.end, e.label_) for e in doc.ents]


def test_batched_annotation_equals_one_at_a_time(annotator: Annotator) -> None:
    utts = [utt(i, t) for i, t in enumerate(TEXTS)]
    single = [annotator.annotate(u) for u in utts]
    for read_ahead in (2, 4, TRANSCRIPT_READ_AHEAD):
        batched = list(annotator.annotate_timeline(utts, read_ahead))
        assert [b.utterance for b in batched] == utts
        assert [reading(b) for b in batched] == [reading(s) for s in single]
    # the examples do exercise the parts the rules read
    assert any(e.label_ in ("DATE", "TIME") for s in single for e in s.doc.ents)
    assert any(len(list(s.doc.sents)) > 1 for s in single)


def test_timeline_order_and_how_far_it_reads(annotator: Annotator) -> None:
    pulled: list[object] = []
    items: list[Utterance | Status] = [Status("info", "note", "first", 0.0)]
    items += [utt(i, f"Sentence number {i}.") for i in range(5)]
    items.insert(3, Status("warning", "mid", "between", 0.0))

    def source():
        for item in items:
            pulled.append(item)
            yield item

    out = annotator.annotate_timeline(source(), read_ahead=1)
    first = next(out)
    assert first is items[0] and len(pulled) == 1
    second = next(out)
    assert isinstance(second, AnnotatedUtterance) and len(pulled) == 2  # live: no reading ahead
    rest = list(out)
    assert [x if isinstance(x, Status) else x.utterance for x in [first, second, *rest]] == items

    pulled.clear()
    out = annotator.annotate_timeline(source(), read_ahead=2)
    got = [next(out)]
    assert len(pulled) == 3  # the status and two utterances, annotated together
    got += list(out)
    assert [x if isinstance(x, Status) else x.utterance for x in got] == items


def test_items_before_a_source_error_are_handed_on(annotator: Annotator) -> None:
    def source():
        yield utt(0, "Hello there.")
        yield utt(1, "My bill is wrong.")
        raise BadInput("t.jsonl:3: not valid JSON", "fix it")

    got = []
    with pytest.raises(BadInput, match="t.jsonl:3"):
        for item in annotator.annotate_timeline(source(), read_ahead=TRANSCRIPT_READ_AHEAD):
            got.append(item)
    assert [a.utterance.text for a in got] == ["Hello there.", "My bill is wrong."]


def events_json(events) -> list[dict]:
    out = []
    for event in events:
        d = event.to_json()
        if isinstance(event, CallSummary):
            d.pop("processing", None)
        out.append(d)
    return out


def test_transcript_replay_reads_ahead_and_yields_the_same_events(annotator: Annotator, tmp_path: Path) -> None:
    pipeline = CallPipeline(annotator, RuleEngine(load_rules([default_rules_dir()])))
    source = open_replay(ReplayInput(path=DEMO_TRANSCRIPT), lambda: None)
    timeline = source.items()
    assert timeline.read_ahead == TRANSCRIPT_READ_AHEAD
    batched = events_json(pipeline.run(timeline, audio_s=source.audio_s))
    source = open_replay(ReplayInput(path=DEMO_TRANSCRIPT), lambda: None)
    one_by_one = events_json(pipeline.run(source.items(), audio_s=source.audio_s, read_ahead=1))
    assert batched == one_by_one
    assert any(e["type"] == "nudge" for e in batched)

    # a bad line: the events of the lines before it still come out, then the error
    lines = DEMO_TRANSCRIPT.read_text(encoding="utf-8").splitlines()[:4] + ["{not json"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = open_replay(ReplayInput(path=bad), lambda: None)
    got = []
    with pytest.raises(BadInput, match="bad.jsonl:5"):
        for event in pipeline.run(source.items()):
            got.append(event)
    assert [e.text for e in got if isinstance(e, Utterance)] == [json.loads(x)["text"] for x in lines[:4]]


def test_numpy_matmul_gives_the_same_annotations_as_blis(annotator: Annotator) -> None:
    """``models.load_spacy`` swaps thinc's BLIS kernels for numpy's single-thread BLAS (faster
    here); a pipeline loaded as spaCy ships it must read every text the same way."""
    stock = stock_pipeline()
    assert annotator.nlp.get_pipe("tok2vec").model.ops.use_blis is False
    assert stock.get_pipe("tok2vec").model.ops.use_blis is True
    utts = [utt(i, t) for i, t in enumerate(TEXTS)]
    ours = [reading(au) for au in annotator.annotate_many(utts)]
    theirs = [reading(AnnotatedUtterance(u, d)) for u, d in zip(utts, stock.pipe(u.text for u in utts))]
    assert ours == theirs


def test_clock_times_are_a_number_and_am_pm_in_any_case() -> None:
    from rapport_assist.models import load_spacy

    nlp = load_spacy()
    words = lambda text: [t.text for t in nlp(text)]  # noqa: E731
    assert words("by 3PM today") == ["by", "3", "PM", "today"]
    assert words("at 3:30pm, ok?") == ["at", "3:30", "pm", ",", "ok", "?"]
    assert words("at 11AM.") == ["at", "11", "AM", "."]  # the sentence's period stays its own
    assert words("by 9 A.M.") == ["by", "9", "A.M."]
    assert words("more RAM and 4G") == ["more", "RAM", "and", "4", "G"]  # no digit before: untouched
