"""A final that contradicts what two caption passes agreed on gets a second opinion
(``LiveSettings.caption_agreement``): the recognizer thread decodes the same speech once more as
another cut, and that text goes out when it agrees with the caption; else the final stands."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rapport_assist.captions import CaptionTracker, contradicts
from rapport_assist.live_recognition import RecognitionWorker
from rapport_assist.live_shared import CallTimeline, ClosedSegment, LiveSettings, SpeechFeed
from rapport_assist.types import Recognition, SpeechSegment, Speaker, Utterance, Word

from live_support import timeline_items

A = Speaker.AGENT


def test_a_final_contradicts_the_caption_when_it_rewrites_or_drops_a_committed_word() -> None:
    committed = ["Because", "you", "didn't", "complete", "the"]
    assert not contradicts(committed, "because you didn't complete the pre-visit forms.")  # case, punctuation
    assert not contradicts(["the", "router."], "the router, right?")
    assert contradicts(committed, "Because you've been complete the pre-visit forms.")
    assert contradicts(committed, "Because you didn't")  # dropped
    assert not contradicts(committed, "Because you didn't finish the forms.", words=3)  # the first three only
    assert not contradicts([], "anything")


def test_the_tracker_gives_the_committed_words_of_that_utterance_only() -> None:
    tracker = CaptionTracker()
    words = [Word(w, 1.0 + i * 0.3, 1.25 + i * 0.3, 0.9) for i, w in enumerate(["You", "need", "to"])]
    tracker.update(A, 1.0, 2.0, words[:2])
    tracker.update(A, 1.0, 2.3, words)
    assert tracker.committed(A, 1.0) == ["You", "need"]  # two passes agreed on these
    assert tracker.committed(A, 5.0) == [] and tracker.committed(Speaker.CUSTOMER, 1.0) == []
    tracker.finish(A)
    assert tracker.committed(A, 1.0) == []


class _Script:
    """A stand-in recognizer whose text depends on the audio it is given (where the segment
    starts and ends), as Whisper's choice between two close readings can; it keeps what it
    heard."""

    def __init__(self, texts: dict[tuple[float, float], str]) -> None:
        self.texts = texts
        self.heard: list[tuple[float, float]] = []

    def warm_up(self) -> None:
        pass

    def recognize(self, segment: SpeechSegment) -> Recognition | None:
        key = (round(segment.start_s, 2), round(segment.end_s, 2))
        self.heard.append(key)
        words = self.texts[key].split()
        step = (segment.end_s - segment.start_s) / len(words)
        spread = tuple(
            Word(w, segment.start_s + i * step, segment.start_s + (i + 1) * step, 0.9) for i, w in enumerate(words)
        )
        return Recognition(" ".join(words), spread, 0.9, 0.0, -0.2)


def _segment(start_s: float, end_s: float) -> SpeechSegment:
    return SpeechSegment(A, start_s, end_s, np.zeros(int(round((end_s - start_s) * 16000)), np.float32))


def _call(recognizer: _Script, nudged: int = 4, **settings: object) -> tuple[RecognitionWorker, list]:
    """Two caption passes over the agent's open utterance (1.0 s on), an early nudge on its
    caption's first ``nudged`` committed words (as the pipeline thread notes it; 0: none), then
    its closed segment."""
    timeline, feed = CallTimeline(), SpeechFeed()
    worker = RecognitionWorker(
        LiveSettings(caption_max_pass_s=60.0, caption_max_load=1.0, **settings),  # type: ignore[arg-type]
        timeline,
        feed,
        recognizer,
    )
    timeline.start_clock()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    for n, end in enumerate((2.5, 3.0), 1):
        feed.captions.put(_segment(1.0, end))
        deadline = time.monotonic() + 10
        while worker.stats["caption_passes"] < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.stats["caption_passes"] == n
    if nudged:
        feed.early_nudged.append((A, 1.0, nudged))
    feed.closed.put(ClosedSegment(_segment(1.0, 4.0), timeline.now()))
    feed.done.set()
    thread.join(10)
    assert not thread.is_alive()
    return worker, [i for i in timeline_items(timeline) if isinstance(i, Utterance)]


CAPTIONS = {(1.0, 2.5): "Because you didn't complete", (1.0, 3.0): "Because you didn't complete the"}


def test_a_second_cut_that_agrees_with_the_caption_is_the_final_text() -> None:
    script = _Script(
        {
            **CAPTIONS,
            (1.0, 4.0): "Because you've been complete the forms.",
            (1.15, 4.0): "Because you didn't complete the forms.",
        }
    )
    worker, utterances = _call(script)
    assert [u.text for u in utterances] == ["Because you didn't complete the forms."]
    assert 1.0 <= utterances[0].start_s <= 1.15 and utterances[0].end_s == 4.0  # (narrowed to its words)
    assert script.heard[-2:] == [(1.0, 4.0), (1.15, 4.0)]  # the second cut: 0.15 s less onset padding
    assert [p.kind for p in worker.passes][-2:] == ["final", "agreement"]
    assert (worker.stats["agreement_checked"], worker.stats["agreement_kept"]) == (1, 1)
    assert [a[3:] for a in worker.agreements] == [
        ("Because you've been complete the forms.", "Because you didn't complete the forms.", True)
    ]


def test_a_second_cut_that_hears_what_the_final_heard_leaves_the_final_text() -> None:
    """The speaker really said something else than the caption's words: the final stands (and an
    early nudge on the caption's words is withdrawn)."""
    final = "Because you've been complete the forms."
    worker, utterances = _call(_Script({**CAPTIONS, (1.0, 4.0): final, (1.15, 4.0): final}))
    assert [u.text for u in utterances] == [final]
    assert (worker.stats["agreement_checked"], worker.stats["agreement_kept"]) == (1, 0)


@pytest.mark.parametrize("case", ["agrees", "off", "no early nudge"])
def test_no_second_cut_when_the_final_agrees_with_the_caption_no_early_nudge_fired_or_it_is_off(case: str) -> None:
    final = "Because you didn't complete the forms." if case == "agrees" else "Because you've been complete the forms."
    script = _Script({**CAPTIONS, (1.0, 4.0): final})
    worker, utterances = _call(script, nudged=0 if case == "no early nudge" else 4, caption_agreement=case != "off")
    assert [u.text for u in utterances] == [final]
    assert (1.15, 4.0) not in script.heard and worker.stats["agreement_checked"] == 0


def test_no_second_cut_when_the_final_rewrote_only_words_after_those_the_early_nudge_fired_on() -> None:
    """The early nudge fired on "Because you didn't" (three committed words then); the final keeps
    them and hears the rest otherwise: its reading does not touch the nudge."""
    script = _Script({**CAPTIONS, (1.0, 4.0): "Because you didn't finish the forms."})
    worker, utterances = _call(script, nudged=3)
    assert [u.text for u in utterances] == ["Because you didn't finish the forms."]
    assert (1.15, 4.0) not in script.heard and worker.stats["agreement_checked"] == 0
