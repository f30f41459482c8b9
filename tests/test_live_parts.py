"""The parts of a live call on their own seams (live_recording, live_capture, live_recognition),
and the timing each utterance carries through the pipeline. The whole call, through a real
PulseAudio server, is tests/test_live.py."""

from __future__ import annotations

import json
import queue
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.capture import ArrayCapture, AudioDevice, DeviceChoice
from rapport_assist.errors import RapportError
from rapport_assist.live_capture import CaptureSupervisor
from rapport_assist.live_recognition import RecognitionWorker
from rapport_assist.live_recording import CallAudio, CallRecord
from rapport_assist.live_shared import CallTimeline, ClosedSegment, LiveSettings, SpeechFeed
from rapport_assist.types import (
    Recognition,
    RecognitionTiming,
    SpeechActivity,
    SpeechSegment,
    Speaker,
    Status,
    Utterance,
    Word,
)

from live_support import timeline_items


def _wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 16000)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)


# ------------------------------------------------------------------ the call record


def test_call_record_logs_events_and_saves_both_sides_on_the_call_clock(tmp_path: Path) -> None:
    """Only the agent is captured: the WAV's right channel is silence as long as the left; the
    agent's audio sits where the call clock put it (silence before); 16-bit audio is kept exactly."""
    failed: list[str] = []
    record = CallRecord.open(tmp_path / "calls", (Speaker.AGENT,), audio=True, on_audio_failed=failed.append)
    assert record.log_path.suffix == ".jsonl" and record.wav_path == record.log_path.with_suffix(".wav")
    record.log(Status("info", "capture_started", "capturing", 0.0))
    record.log(Utterance(0, Speaker.AGENT, "Hello there.", 1.0, 1.5))
    # the log is on disk as the call goes, before it is closed
    assert [json.loads(line)["type"] for line in record.log_path.read_text().splitlines()] == ["status", "utterance"]
    tone = (np.round(0.25 * np.sin(np.arange(8000) / 5) * 32768) / 32768).astype(np.float32)
    assert record.audio is not None
    record.audio.add(Speaker.AGENT, 16000, tone)  # starts 1 s into the call
    record.audio.flush()
    record.close()
    frames = _wav(record.wav_path)
    assert frames.shape == (24000, 2)
    assert not frames[:16000].any() and not frames[:, 1].any()
    assert np.array_equal(frames[16000:, 0], np.round(tone * 32768).astype("<i2"))
    assert failed == []


def test_a_lost_side_is_padded_and_the_record_never_appends_to_another_call(tmp_path: Path) -> None:
    first = CallRecord.open(tmp_path, (Speaker.AGENT, Speaker.CUSTOMER), audio=True, on_audio_failed=print)
    second = CallRecord.open(tmp_path, (Speaker.AGENT,), audio=False, on_audio_failed=print)
    assert first.log_path != second.log_path and second.wav_path is None  # two calls in one second
    assert first.audio is not None
    first.audio.add(Speaker.AGENT, 0, np.full(16000, 0.5, np.float32))
    first.audio.pad_to(Speaker.CUSTOMER, 16000)  # the customer's device was gone for that second
    first.audio.flush()
    first.audio.add(Speaker.CUSTOMER, 16000, np.full(8000, -0.5, np.float32))
    first.close()  # the agent's side is padded to the customer's at the end
    second.close()
    frames = _wav(first.wav_path)
    assert frames.shape == (24000, 2)
    assert (frames[:16000, 0] == 16384).all() and not frames[16000:, 0].any()
    assert not frames[:16000, 1].any() and (frames[16000:, 1] == -16384).all()


def test_a_record_folder_that_cannot_be_written_raises_oserror(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OSError):
        CallRecord.open(tmp_path / "file", (Speaker.AGENT,), audio=True, on_audio_failed=print)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a disk that is always full)")
def test_a_full_disk_stops_the_log_and_the_audio_once(tmp_path: Path) -> None:
    full = open("/dev/full", "w", encoding="utf-8")  # every write: ENOSPC
    record = CallRecord(Path("/dev/full"), full, None)
    event = Status("info", "x", "y", 0.0)
    with pytest.raises(RapportError, match="cannot write to /dev/full") as raised:
        record.log(event)
    assert "free some disk space" in raised.value.one_line()  # what LiveCall's log_failed status says
    record.log(event)  # stopped: no second error
    record.close()

    failed: list[str] = []
    audio = CallAudio(Path("/dev/full"), (Speaker.AGENT,), failed.append)
    for _ in range(3):
        audio.add(Speaker.AGENT, 0, np.zeros(16000, np.float32))
        audio.flush()
    audio.close()
    assert len(failed) == 1 and failed[0].startswith("stopped saving the call audio"), failed
    assert not audio.recording


# ------------------------------------------------------------------ capture supervision


def _device(name: str) -> AudioDevice:
    return AudioDevice(f"fake:{name}", name, name, "portaudio", "input", 1, 16000.0)


def _supervise(settings: LiveSettings, opener, devices, audio=None):
    timeline, feed = CallTimeline(), SpeechFeed()
    supervisor = CaptureSupervisor(settings, timeline, feed, opener=opener, devices=devices, audio=audio)
    timeline.start_clock()
    supervisor.open_all()
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    return supervisor, thread, timeline, feed


def test_the_supervisor_reports_an_unplugged_customer_device_and_reopens_it() -> None:
    """Two devices; the customer's stops delivering audio: device_gone (the customer's row), the
    agent's goes on, the customer's is reopened (capture_resumed for the customer only)."""
    opened: dict[str, list[ArrayCapture]] = {"agent": [], "customer": []}

    def opener(device, channels, on_block):
        name = device.name
        quiet_after_first = name == "customer" and not opened[name]  # the first customer stream dies
        audio = np.zeros((4000 if quiet_after_first else 16000, 1), np.float32)
        opened[name].append(ArrayCapture(audio, on_block, speed=1.0, loop=not quiet_after_first))
        return opened[name][-1]

    settings = LiveSettings(
        agent=DeviceChoice("fake:agent"), customer=DeviceChoice("fake:customer"), retry_s=0.3, device_timeout_s=0.5
    )
    supervisor, thread, timeline, feed = _supervise(settings, opener, [_device("agent"), _device("customer")])
    seen: list = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(isinstance(s, Status) and s.code == "capture_resumed" for s in seen):
        seen += timeline_items(timeline)
        time.sleep(0.05)
    assert supervisor.inputs == [("agent", "fake:agent", False), ("customer", "fake:customer", False)]
    supervisor.stop()
    thread.join(10)
    assert not thread.is_alive() and feed.done.is_set()
    statuses = [s for s in seen if isinstance(s, Status)]
    codes = [s.code for s in statuses]
    assert codes[:2] == ["capture_started", "capture_started"], codes
    gone = [s for s in statuses if s.code == "device_gone"]
    assert len(gone) == 1 and gone[0].component == "customer" and "customer's audio stopped" in gone[0].message
    assert "mic_lost" not in codes  # the agent's device kept going
    resumed = [s for s in statuses if s.code == "capture_resumed"]
    assert resumed[0].speakers == (Speaker.CUSTOMER,) and codes.index("device_gone") < codes.index("capture_resumed")
    assert len(opened["customer"]) == 2 and len(opened["agent"]) == 1
    assert supervisor.stats["blocks"] > 0


def _one_utterance_in_real_time(speech: np.ndarray):
    """``speech`` between half-second gaps, captured in real time: (audio, captures, opener)."""
    gap = np.zeros(8000, np.float32)
    audio = np.concatenate([gap, speech, gap, gap])
    captures: list[ArrayCapture] = []

    def opener(device, channels, on_block):
        captures.append(ArrayCapture(audio[:, None], on_block, speed=1.0))
        return captures[-1]

    return audio, captures, opener


def test_the_supervisor_hands_closed_segments_with_their_close_time_and_saves_the_audio(speak, tmp_path: Path) -> None:
    """Speech captured in real time: a SpeechActivity mark as it starts, a closed segment with the
    call time it closed (after the speech ends: the hangover), the same audio in the WAV."""
    audio, captures, opener = _one_utterance_in_real_time(speak("Hello there how are you today"))

    failed: list[str] = []
    wav = CallAudio(tmp_path / "call.wav", (Speaker.AGENT,), failed.append)
    settings = LiveSettings(agent=DeviceChoice("fake:agent"), customer=None, device_timeout_s=30.0)
    supervisor, thread, timeline, feed = _supervise(settings, opener, [_device("agent")], audio=wav)
    assert captures[0].done.wait(30)
    time.sleep(0.3)
    supervisor.stop()
    thread.join(10)
    wav.close()
    closed = []
    while not feed.closed.empty():
        closed.append(feed.closed.get())
    assert len(closed) == 1, closed
    segment = closed[0].segment
    assert segment.speaker is Speaker.AGENT and segment.end_s - segment.start_s > 0.8
    assert segment.end_s < closed[0].closed_s < timeline.now()  # closed after the speech ended, on the call clock
    marks = [i for i in timeline_items(timeline) if isinstance(i, SpeechActivity)]
    assert [(m.speaker, m.speaking) for m in marks] == [(Speaker.AGENT, True)]
    assert abs(marks[0].t_s - segment.start_s) < 1e-9
    saved = _wav(tmp_path / "call.wav")[:, 0].astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(saved) > 0.01)
    # the WAV holds the speech where the endpointer heard it (the segment's audio, onset padding included)
    start = int(round(segment.start_s * 16000))
    assert start <= loud[0] and np.allclose(saved[start : start + len(segment.audio)], segment.audio, atol=1 / 32768)
    assert failed == []


def test_a_busy_recognizer_holds_one_caption_offer_per_side_and_every_closed_segment(speak) -> None:
    """Nobody takes the audio thread's offers (a recognizer busy for the whole utterance): of the
    open utterance offered again every ``caption_offer_s`` only the latest waits, the utterance so
    far (each a copy of its audio: a queue held them all), while the closed segment waits whole."""
    audio, captures, opener = _one_utterance_in_real_time(
        speak("I restarted the router twice this morning and it still keeps dropping the line")
    )

    settings = LiveSettings(agent=DeviceChoice("fake:agent"), customer=None, device_timeout_s=30.0)
    supervisor, thread, timeline, feed = _supervise(settings, opener, [_device("agent")])
    assert captures[0].done.wait(30)
    time.sleep(0.3)
    supervisor.stop()
    thread.join(10)
    closed = []
    while not feed.closed.empty():
        closed.append(feed.closed.get())
    assert len(closed) == 1, closed
    segment = closed[0].segment
    offer = feed.captions.get_nowait()  # the one offer left
    assert feed.captions.empty()
    offers = 1 + feed.captions.replaced
    assert offers >= 0.5 * segment.duration_s / settings.caption_offer_s, offers  # offered all along
    assert offer.speaker is Speaker.AGENT and offer.start_s == segment.start_s
    assert segment.end_s - offer.end_s < 1.5  # the latest: up to the speech's end (then the hangover)
    assert np.array_equal(offer.audio, segment.audio[: len(offer.audio)])  # the final holds all of it
    with pytest.raises(queue.Empty):
        feed.captions.get_nowait()


def test_the_latest_offer_per_side_replaces_one_not_taken() -> None:
    from rapport_assist.live_shared import LatestPerSide

    offers = LatestPerSide()
    for end in (1.2, 1.4, 1.6):
        offers.put(_segment(1.0, end))
    offers.put(_segment(2.0, 2.5, Speaker.CUSTOMER))
    taken = {offers.get_nowait().speaker: None for _ in range(2)}
    assert set(taken) == {Speaker.AGENT, Speaker.CUSTOMER} and offers.empty() and offers.replaced == 2
    offers.put(_segment(1.0, 1.8))
    got = offers.get_nowait()
    assert (got.start_s, got.end_s) == (1.0, 1.8) and offers.replaced == 2


# ------------------------------------------------------------------ the recognition worker


class _Echo:
    """A stand-in recognizer for the worker's scheduling: each segment becomes words spread
    over it; it remembers what it was asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float]] = []

    def warm_up(self) -> None:
        pass

    def recognize(self, segment: SpeechSegment) -> Recognition:
        self.seen.append((segment.start_s, segment.end_s))
        mid = (segment.start_s + segment.end_s) / 2
        words = (Word("hello", segment.start_s, mid, 0.9), Word("there", mid, segment.end_s, 0.9))
        return Recognition("hello there", words, 0.9, 0.0, -0.2)


def _segment(start_s: float, end_s: float, speaker: Speaker = Speaker.AGENT) -> SpeechSegment:
    return SpeechSegment(speaker, start_s, end_s, np.zeros(int((end_s - start_s) * 16000), np.float32))


def _wait(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


def _run_worker(early: list[SpeechSegment], closed: list[SpeechSegment], recognizer: _Echo):
    """Early segments first (each recognized before the next step), then the closed ones (all
    waiting together when there is no early one)."""
    timeline, feed = CallTimeline(), SpeechFeed()
    worker = RecognitionWorker(LiveSettings(early_max_pass_s=60.0), timeline, feed, recognizer)
    timeline.start_clock()
    thread = threading.Thread(target=worker.run, daemon=True)
    if not early:
        for segment in closed:
            feed.closed.put(ClosedSegment(segment, timeline.now()))
    thread.start()
    for n, segment in enumerate(early, 1):
        feed.early.put(segment)
        _wait(lambda n=n: len(recognizer.seen) >= n)
    for segment in closed if early else []:
        feed.closed.put(ClosedSegment(segment, timeline.now()))
    feed.done.set()
    thread.join(10)
    assert not thread.is_alive()
    return worker, timeline_items(timeline)


def test_an_early_final_is_used_when_its_segment_closes_and_its_timing_says_so() -> None:
    """The early pass over a segment in its hangover is the final text when that segment closes:
    one recognition, and the utterance's timing has the text ready before the close."""
    echo = _Echo()
    worker, items = _run_worker([_segment(1.0, 2.0)], [_segment(1.0, 2.0)], echo)
    assert echo.seen == [(1.0, 2.0)]  # not recognized twice
    assert worker.stats["early_used"] == 1 and worker.stats["early_discarded"] == 0
    assert isinstance(items[0], Status) and items[0].code == "model_ready" and items[0].component == "recognizer"
    utterances = [i for i in items if isinstance(i, Utterance)]
    assert len(utterances) == 1 and items[-1] is None  # the timeline's end
    t = utterances[0].timing
    assert isinstance(t, RecognitionTiming)
    assert 0.0 <= t.recognizer_start_s <= t.recognizer_end_s <= t.segment_closed_s
    assert worker.rtf is None  # early passes do not count for the real-time factor


def test_an_early_final_is_dropped_when_speech_resumed() -> None:
    """The segment that closes is longer than the early one (speech resumed in the hangover):
    the early result is thrown away and the whole segment recognized, after it closed."""
    echo = _Echo()
    worker, items = _run_worker([_segment(1.0, 2.0)], [_segment(1.0, 3.5)], echo)
    assert echo.seen == [(1.0, 2.0), (1.0, 3.5)]
    assert worker.stats["early_used"] == 0 and worker.stats["early_discarded"] == 1
    (utt,) = [i for i in items if isinstance(i, Utterance)]
    assert (utt.start_s, utt.end_s) == (1.0, 3.5) and utt.timing is not None
    assert utt.timing.segment_closed_s <= utt.timing.recognizer_start_s <= utt.timing.recognizer_end_s
    assert worker.rtf is not None  # a final pass: it counts for the real-time factor


def test_finals_go_in_end_order_with_each_its_own_timing() -> None:
    echo = _Echo()
    late, soon = _segment(0.5, 3.0, Speaker.CUSTOMER), _segment(4.0, 5.0, Speaker.CUSTOMER)
    worker, items = _run_worker([], [soon, late], echo)
    utterances = [i for i in items if isinstance(i, Utterance)]
    assert [(u.index, u.end_s) for u in utterances] == [(0, 3.0), (1, 5.0)]
    assert worker.stats["segments"] == worker.stats["utterances"] == 2
    assert all(u.timing is not None and u.timing.segment_closed_s <= u.timing.recognizer_start_s for u in utterances)


# ------------------------------------------------------------------ timing through the pipeline


def test_timing_rides_on_each_utterance_through_the_pipeline_whatever_it_reads_ahead() -> None:
    """The pipeline masks, annotates and adds signals (new Utterance values each time): each
    utterance keeps its own timing, also when several are annotated together; the timing is
    neither in the JSON nor part of equality."""
    from rapport_assist.annotate import Annotator
    from rapport_assist.pipeline import CallPipeline
    from rapport_assist.privacy import masker_for
    from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules

    utterances = [
        Utterance(
            i,
            Speaker.CUSTOMER if i % 2 else Speaker.AGENT,
            f"My card is 4111 1111 1111 12{i}3.",
            2.0 * i,
            2.0 * i + 1.5,
            timing=RecognitionTiming(2.0 * i + 1.8, 2.0 * i + 1.9, 2.0 * i + 2.4),
        )
        for i in range(4)
    ]
    pipeline = CallPipeline(Annotator(), RuleEngine(load_rules([default_rules_dir()])), masker=masker_for(True))
    out = [e for e in pipeline.run(utterances, read_ahead=4) if isinstance(e, Utterance)]
    assert [u.text for u in out][0] == "My card is #### #### #### 1203."  # new values: masked, with signals
    assert all(u.signals is not None for u in out)
    assert [u.timing for u in out] == [u.timing for u in utterances]
    assert "timing" not in json.dumps(out[0].to_json())
    assert utterances[0] == Utterance(0, Speaker.AGENT, utterances[0].text, 0.0, 1.5)


# ------------------------------------------------------------------ scheduling: finals before extras


class _Optioned:
    """A stand-in recognizer with options and ``with_options`` as the real one: it logs each
    pass (end of the segment, word check, encoder window) and hears the word ``said`` at
    ``probability`` in the short window, ``heard_in_30`` in Whisper's full window."""

    def __init__(self, options, log: list, probability: float = 0.9, heard_in_30: str = "there") -> None:
        self.options = options
        self.log = log
        self.probability = probability
        self.heard_in_30 = heard_in_30

    def warm_up(self) -> None:
        pass

    def with_options(self, options) -> "_Optioned":
        return _Optioned(options, self.log, self.probability, self.heard_in_30)

    def recognize(self, segment: SpeechSegment) -> Recognition:
        full = self.options.encoder_window_s >= 30
        self.log.append((segment.end_s, self.options.short_window_min_word_prob, self.options.encoder_window_s))
        mid = (segment.start_s + segment.end_s) / 2
        second = self.heard_in_30 if full else "hair"
        p = 0.9 if full else self.probability
        words = (Word("hello", segment.start_s, mid, 0.9), Word(second, mid, segment.end_s, p))
        return Recognition(f"hello {second}", words, 0.9, 0.0, -0.2)


def _start_worker(recognizer, settings: LiveSettings | None = None):
    timeline, feed = CallTimeline(), SpeechFeed()
    worker = RecognitionWorker(settings or LiveSettings(), timeline, feed, recognizer)
    timeline.start_clock()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return timeline, feed, worker, thread


def test_a_word_in_doubt_goes_out_at_once_and_its_30_s_redo_comes_as_a_revision() -> None:
    """The short window hears a word at probability 0.2 (below short_window_min_word_prob): the
    utterance goes out with that text, decoded once; the 30 s decoding comes afterwards, once
    nobody talks, and its different text is a ``TurnRevision`` (``redo``) of that utterance."""
    from rapport_assist.recognizer import RecognizerOptions
    from rapport_assist.types import TurnRevision

    log: list = []
    timeline, feed, worker, thread = _start_worker(_Optioned(RecognizerOptions(), log, probability=0.2))
    feed.talking[Speaker.CUSTOMER] = True  # the customer talks: the redo waits
    feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
    _wait(lambda: worker.stats["utterances"] == 1)
    time.sleep(0.3)
    assert log == [(2.0, 0.0, 10.0)]  # the short window, no word check; no 30 s pass yet
    assert worker.stats["redo_later"] == 1
    feed.talking[Speaker.CUSTOMER] = False
    _wait(lambda: len(log) == 2)
    feed.done.set()
    thread.join(10)
    assert not thread.is_alive()
    assert log[1] == (2.0, 0.3, 30.0)  # then the full window
    items = [i for i in timeline_items(timeline) if isinstance(i, (Utterance, TurnRevision))]
    assert [type(i).__name__ for i in items] == ["Utterance", "TurnRevision"]
    utt, revision = items
    assert utt.text == "hello hair" and revision.redo and revision.before == ("hello hair",)
    assert [(u.index, u.text, u.start_s, u.end_s) for u in revision.utterances] == [
        (utt.index, "hello there", utt.start_s, utt.end_s)
    ]
    assert [p.kind for p in worker.passes] == ["final", "redo"]
    assert worker.passes[1].start_s >= utt.timing.recognizer_end_s


def test_a_redo_with_the_same_words_or_a_confident_word_changes_nothing() -> None:
    from rapport_assist.recognizer import RecognizerOptions
    from rapport_assist.types import TurnRevision

    for probability, heard_in_30, passes in ((0.2, "hair", 2), (0.9, "there", 1)):
        log: list = []
        timeline, feed, worker, thread = _start_worker(
            _Optioned(RecognizerOptions(), log, probability=probability, heard_in_30=heard_in_30)
        )
        feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
        feed.done.set()
        thread.join(10)
        assert len(log) == passes
        items = timeline_items(timeline)
        assert not any(isinstance(i, TurnRevision) for i in items)
        assert [i.text for i in items if isinstance(i, Utterance)] == ["hello hair"]


def test_a_redo_expected_to_be_slow_is_skipped_and_the_first_text_stays() -> None:
    """A busy PC (here: any redo is too slow): the utterance keeps its first text, no 30 s pass
    runs during the call to hold up the next final."""
    from rapport_assist.recognizer import RecognizerOptions
    from rapport_assist.types import TurnRevision

    log: list = []
    timeline, feed, worker, thread = _start_worker(
        _Optioned(RecognizerOptions(), log, probability=0.2), LiveSettings(redo_max_pass_s=0.0)
    )
    feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
    _wait(lambda: worker.stats["redo_skipped"] == 1)
    feed.done.set()
    thread.join(10)
    assert log == [(2.0, 0.0, 10.0)] and worker.stats["redo_later"] == 1
    items = timeline_items(timeline)
    assert not any(isinstance(i, TurnRevision) for i in items)
    assert [i.text for i in items if isinstance(i, Utterance)] == ["hello hair"]


def test_at_most_redo_max_waiting_redos_wait_the_oldest_is_skipped_and_every_final_goes_out() -> None:
    """Five finals with a doubtful word while someone talks all along (no redo is due): only the
    latest two redos wait with their audio, the three older ones are skipped (their first text
    stays); every utterance is out, and once nobody talks the two waiting are decoded in 30 s."""
    from rapport_assist.recognizer import RecognizerOptions

    log: list = []
    settings = LiveSettings(redo_max_waiting=2, redo_max_pass_s=60.0, redo_max_wait_s=60.0, early_final=False)
    timeline, feed, worker, thread = _start_worker(_Optioned(RecognizerOptions(), log, probability=0.2), settings)
    feed.talking[Speaker.CUSTOMER] = True
    for start in (1.0, 3.0, 5.0, 7.0, 9.0):
        feed.closed.put(ClosedSegment(_segment(start, start + 1.0), timeline.now()))
    feed.wake.set()
    _wait(lambda: worker.stats["utterances"] == 5)
    time.sleep(0.2)
    assert [r.segment.end_s for r in worker._redos] == [8.0, 10.0]
    assert worker.stats["redo_later"] == 5 and worker.stats["redo_skipped"] == 3
    feed.talking[Speaker.CUSTOMER] = False
    feed.done.set()
    thread.join(10)
    assert [end for end, _, window in log if window >= 30] == [8.0, 10.0]
    items = timeline_items(timeline)
    assert [i.text for i in items if isinstance(i, Utterance)] == ["hello hair"] * 5
    said = [i for i in items if isinstance(i, Status) and i.code == "redos_skipped"]
    assert len(said) == 1 and said[0].component is None and "first text" in said[0].message  # once, a notice


def test_with_redo_later_off_the_30_s_decoding_comes_first() -> None:
    from rapport_assist.recognizer import RecognizerOptions

    log: list = []
    timeline, feed, worker, thread = _start_worker(
        _Optioned(RecognizerOptions(), log, probability=0.2), LiveSettings(redo_later=False)
    )
    feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
    feed.done.set()
    thread.join(10)
    assert log == [(2.0, 0.3, 10.0)]  # one recognize call: the recognizer itself redoes it in 30 s
    assert worker.stats["redo_later"] == 0


class _Unsure(_Optioned):
    """A stand-in whose short window finds the whole decoding unsure in the way ``doubt`` names
    (``recognizer.DoubtKind``): when it keeps that kind (``keeping``) it gives
    the short window's text and says so (``kept_doubt``), else it decodes again in 30 s itself,
    as the real recognizer does (logged as a second pass). ``dropped``: the guards drop the kept
    short-window text."""

    def __init__(self, options, log: list, doubt: str = "no_speech", dropped: bool = False, keep=frozenset()) -> None:
        super().__init__(options, log)
        self.doubt, self.dropped, self.keep = doubt, dropped, keep
        self.kept_doubt = self.last_doubt = None
        self.short_window_retries = 0  # (as the real one counts its own 30 s decodings)

    def with_options(self, options) -> "_Unsure":
        return _Unsure(options, self.log, self.doubt, self.dropped, self.keep)

    def keeping(self, kinds) -> "_Unsure":
        return _Unsure(self.options, self.log, self.doubt, self.dropped, frozenset(kinds))

    def recognize(self, segment: SpeechSegment) -> Recognition | None:
        from dataclasses import replace

        full = self.options.encoder_window_s >= 30
        self.last_doubt = None if full else self.doubt
        self.kept_doubt = self.last_doubt if self.last_doubt in self.keep else None
        if full or self.kept_doubt is not None:
            rec = super().recognize(segment)
            return None if self.kept_doubt is not None and self.dropped else rec
        super().recognize(segment)  # the short window, then again in 30 s (its own fallback)
        self.short_window_retries += 1
        return super(_Unsure, self.with_options(replace(self.options, encoder_window_s=30.0))).recognize(segment)


def test_a_kind_of_doubt_in_redo_later_doubts_goes_out_first_and_its_30_s_redo_comes_after() -> None:
    """The short window is unsure of the whole decoding (a no-speech score, not a word): with
    that kind in ``LiveSettings.redo_later_doubts`` the utterance goes out with the short
    window's text, and the 30 s decoding comes afterwards as a ``TurnRevision``; without it, the
    30 s decoding comes before the utterance goes out (one final with the 30 s text)."""
    from rapport_assist.recognizer import RecognizerOptions
    from rapport_assist.types import TurnRevision

    log: list = []
    settings = LiveSettings()  # (no_speech is in redo_later_doubts by default)
    timeline, feed, worker, thread = _start_worker(_Unsure(RecognizerOptions(), log), settings)
    feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
    feed.done.set()
    thread.join(10)
    assert not thread.is_alive()
    assert [window for *_, window in log] == [10.0, 30.0]  # the short window, then (after) the full one
    items = [i for i in timeline_items(timeline) if isinstance(i, (Utterance, TurnRevision))]
    assert [type(i).__name__ for i in items] == ["Utterance", "TurnRevision"]
    assert items[0].text == "hello hair" and items[1].redo and items[1].utterances[0].text == "hello there"
    assert [(p.kind, p.doubt) for p in worker.passes] == [("final", "no_speech"), ("redo", None)]
    assert worker.stats["redo_later"] == 1 and worker.stats["redo_revised"] == 1

    log = []
    without = LiveSettings(redo_later_doubts=frozenset({"word"}))
    timeline, feed, worker, thread = _start_worker(_Unsure(RecognizerOptions(), log), without)
    feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
    feed.done.set()
    thread.join(10)
    assert [window for *_, window in log] == [10.0, 30.0]  # both in the one pass, before it goes out
    items = [i for i in timeline_items(timeline) if isinstance(i, (Utterance, TurnRevision))]
    assert [i.text for i in items] == ["hello there"]
    assert [(p.kind, p.doubt) for p in worker.passes] == [("final", "no_speech")]
    assert worker.stats["redo_later"] == 0


def test_a_kept_doubt_the_guards_drop_is_decoded_in_30_s_at_once_without_a_second_short_pass() -> None:
    """The short window's text, kept for its doubt, fails the guards: the segment is decoded in
    Whisper's full window straight away (the short window's result is known, so no second short
    pass), and that text goes out with no redo after it."""
    from rapport_assist.recognizer import RecognizerOptions
    from rapport_assist.types import TurnRevision

    log: list = []
    settings = LiveSettings(redo_later_doubts=frozenset({"word", "low_logprob"}))
    recognizer = _Unsure(RecognizerOptions(), log, doubt="low_logprob", dropped=True)
    timeline, feed, worker, thread = _start_worker(recognizer, settings)
    feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
    feed.done.set()
    thread.join(10)
    assert [window for *_, window in log] == [10.0, 30.0]
    items = [i for i in timeline_items(timeline) if isinstance(i, (Utterance, TurnRevision))]
    assert [type(i).__name__ for i in items] == ["Utterance"] and items[0].text == "hello there"
    assert worker.stats["redo_later"] == 0 and [p.kind for p in worker.passes] == ["final", "final"]


def test_an_early_pass_whose_kept_doubt_the_guards_drop_is_decoded_in_30_s_before_the_segment_closes() -> None:
    """The early pass keeps a low-log-probability doubt but the guards drop that text: the 30 s
    decoding runs in the same early step (while the segment is still in its hangover, as it did
    when the recognizer did it itself), so the final only takes the early result when it closes."""
    from rapport_assist.recognizer import RecognizerOptions
    from rapport_assist.types import TurnRevision

    log: list = []
    recognizer = _Unsure(RecognizerOptions(), log, doubt="low_logprob", dropped=True)
    settings = LiveSettings(early_max_pass_s=60.0)  # (low_logprob is in redo_later_doubts by default)
    timeline, feed, worker, thread = _start_worker(recognizer, settings)
    feed.early.put(_segment(1.0, 2.0))
    _wait(lambda: len(log) == 2)
    assert [window for *_, window in log] == [10.0, 30.0] and [p.kind for p in worker.passes] == ["early", "early"]
    feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
    feed.done.set()
    thread.join(10)
    assert len(log) == 2 and worker.stats["early_used"] == 1 and worker.stats["redo_later"] == 0
    items = [i for i in timeline_items(timeline) if isinstance(i, (Utterance, TurnRevision))]
    assert [i.text for i in items] == ["hello there"]


def test_a_segment_the_guards_drop_in_the_full_window_is_not_decoded_again_when_it_closes() -> None:
    """The early pass's short window was unsure, its 30 s decoding dropped too (nobody spoke):
    when the segment closes, no further pass (the same decoding would be dropped again); the
    segment ends as a speech-ended mark."""
    from rapport_assist.recognizer import RecognizerOptions

    class _Nothing(_Unsure):
        def with_options(self, options) -> "_Nothing":
            return _Nothing(options, self.log, self.doubt, self.dropped, self.keep)

        def keeping(self, kinds) -> "_Nothing":
            return _Nothing(self.options, self.log, self.doubt, self.dropped, frozenset(kinds))

        def recognize(self, segment: SpeechSegment) -> None:
            super().recognize(segment)
            return None

    log: list = []
    timeline, feed, worker, thread = _start_worker(
        _Nothing(RecognizerOptions(), log, doubt="repeat"), LiveSettings(early_max_pass_s=60.0)
    )
    feed.early.put(_segment(1.0, 2.0))
    _wait(lambda: len(log) == 2)  # the short window, then 30 s (a repeat is decoded again at once)
    feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
    feed.done.set()
    thread.join(10)
    assert [window for *_, window in log] == [10.0, 30.0] and worker.stats["guard_dropped"] == 1
    assert not any(isinstance(i, Utterance) for i in timeline_items(timeline))


def test_no_caption_pass_starts_while_a_side_is_in_its_hangover() -> None:
    """The agent's utterance may close any moment: the customer's caption pass waits, and the
    agent's final, when its segment closes, is recognized first."""
    from rapport_assist.recognizer import RecognizerOptions

    log: list = []
    timeline, feed, worker, thread = _start_worker(
        _Optioned(RecognizerOptions(), log), LiveSettings(caption_max_pass_s=60.0, caption_max_load=1.0)
    )
    _wait(lambda: worker._model is not None)  # warmed up
    feed.in_hangover[Speaker.AGENT] = True
    feed.captions.put(_segment(0.5, 1.8, Speaker.CUSTOMER))
    time.sleep(0.3)
    assert log == []  # not while the agent's hangover runs
    feed.closed.put(ClosedSegment(_segment(1.0, 2.0), timeline.now()))
    feed.in_hangover[Speaker.AGENT] = False
    _wait(lambda: len(log) == 2)
    feed.done.set()
    thread.join(10)
    assert [entry[0] for entry in log] == [2.0, 1.8]  # the agent's final, then the customer's caption
    assert [p.kind for p in worker.passes] == ["final", "caption"]


def test_an_agent_utterance_that_cannot_be_a_leak_does_not_wait_for_the_customer() -> None:
    """The customer started talking just as the agent's utterance ended (an answer, not the same
    words leaking in): the agent's utterance goes out without waiting for the customer's to
    close; one said over most of it waits (up to leak_wait_s)."""
    log: list = []
    from rapport_assist.recognizer import RecognizerOptions

    timeline, feed, worker, thread = _start_worker(_Optioned(RecognizerOptions(), log), LiveSettings(leak_wait_s=5.0))
    feed.customer_open_s = 2.9  # opened near the agent's end (its onset padding reaching back)
    feed.closed.put(ClosedSegment(_segment(1.0, 3.0), timeline.now()))
    _wait(lambda: worker.stats["utterances"] == 1, 3.0)
    assert worker.stats["utterances"] == 1 and worker.stats["leak_held"] == 0
    feed.customer_open_s = 3.5  # over most of the next one
    feed.closed.put(ClosedSegment(_segment(3.2, 5.0), timeline.now()))
    time.sleep(0.5)
    assert worker.stats["utterances"] == 1 and worker.stats["leak_held"] == 1  # held for the customer's
    feed.customer_open_s = None
    feed.done.set()
    thread.join(10)
    assert worker.stats["utterances"] == 2


def test_caption_passes_come_when_due_by_the_measured_pass_time() -> None:
    """The audio thread offers an open utterance every 0.2 s of audio; a caption pass runs on the
    first offer, then once ``caption_step_s`` more audio is in: ``caption_every_s`` while passes
    are quick, the expected pass time over ``caption_share`` when they are slow (fewer passes, the
    same audio heard). A first pass of the other side's new utterance goes before a later one."""
    from rapport_assist.recognizer import RecognizerOptions

    def heard(pass_rate: float) -> list[float]:
        log: list = []
        worker = RecognitionWorker(
            LiveSettings(caption_max_pass_s=60.0, caption_max_load=1.0), CallTimeline(), SpeechFeed()
        )
        model = _Optioned(RecognizerOptions(), log)
        for i in range(11):  # offers of the utterance begun at 0.5 s, up to 1.0, 1.2, ... 3.0 s
            worker._captions[Speaker.AGENT] = _segment(0.5, round(1.0 + 0.2 * i, 1))
            worker._pass_rate = pass_rate  # (the stand-in's passes take no time)
            due = worker._caption_due()
            if due is not None:
                worker._caption_pass(model, due, 0.0)
        assert [p.kind for p in worker.passes] == ["caption"] * len(worker.passes)
        return [round(p.segment_end_s, 1) for p in worker.passes]

    assert heard(0.05) == [1.0, 1.4, 1.8, 2.2, 2.6, 3.0]  # every caption_every_s (0.4 s of audio)
    assert heard(0.3) == [1.0, 2.2]  # a pass of ~0.4 s over 1.5 s of audio: a step of 0.41 / 0.4 s

    worker = RecognitionWorker(LiveSettings(), CallTimeline(), SpeechFeed())
    worker._caption_heard[Speaker.AGENT] = (0.5, 1.0)
    worker._captions[Speaker.AGENT] = _segment(0.5, 2.0)  # due its next pass
    worker._captions[Speaker.CUSTOMER] = _segment(1.5, 2.1, Speaker.CUSTOMER)  # due its first
    assert worker._caption_due() is Speaker.CUSTOMER
    worker._captions[Speaker.CUSTOMER] = _segment(1.5, 2.1, Speaker.CUSTOMER)
    worker._caption_heard[Speaker.CUSTOMER] = (1.5, 1.9)  # heard 0.2 s ago: not due
    assert worker._caption_due() is Speaker.AGENT


def test_caption_passes_give_way_for_a_while_once_a_final_waited() -> None:
    """The recognizer fell behind (a final waited over ``caption_strain_lag_s`` for the passes
    before it): the next caption pass is skipped, though nothing waits any more; the finals all
    go out."""
    from rapport_assist.recognizer import RecognizerOptions

    class _Slow(_Optioned):
        def with_options(self, options) -> "_Slow":
            return _Slow(options, self.log)

        def recognize(self, segment: SpeechSegment) -> Recognition:
            time.sleep(1.1)
            return super().recognize(segment)

    log: list = []
    settings = LiveSettings(caption_max_pass_s=60.0, caption_max_load=1.0, early_final=False, redo_later=False)
    timeline, feed, worker, thread = _start_worker(_Slow(RecognizerOptions(), log), settings)
    _wait(lambda: worker._model is not None)
    for start in (1.0, 3.0, 5.0):  # three finals at once: the third waits 2.2 s for the two before it
        feed.closed.put(ClosedSegment(_segment(start, start + 1.0, Speaker.CUSTOMER), timeline.now()))
    feed.wake.set()
    _wait(lambda: worker.stats["utterances"] == 3)
    feed.captions.put(_segment(7.0, 8.0))
    feed.wake.set()
    _wait(lambda: worker.stats["caption_skipped"] == 1)
    feed.done.set()
    thread.join(10)
    assert [p.kind for p in worker.passes] == ["final"] * 3 and worker.stats["caption_passes"] == 0


def test_one_input_set_as_both_sides_is_refused_before_capture() -> None:
    """The agent and the customer on the same input (device and channel) would each hear every
    word: a setting error, said before anything opens (the sidebar shows it as why live is off);
    two channels of one device are two sides."""
    from rapport_assist.cli import main

    opened: list[str] = []

    def opener(device, channels, on_block):
        opened.append(device.id)
        return ArrayCapture(np.zeros((1, 1600), np.float32), on_block)

    same = LiveSettings(agent=DeviceChoice("fake:usb"), customer=DeviceChoice("fake:usb"))
    with pytest.raises(RapportError, match=r"both set to fake:usb") as raised:
        CaptureSupervisor(same, CallTimeline(), SpeechFeed(), opener=opener, devices=[_device("usb")])
    assert "DEVICE#0, DEVICE#1" in raised.value.one_line() and opened == []

    two = LiveSettings(agent=DeviceChoice("fake:usb", 0), customer=DeviceChoice("fake:usb", 1))
    supervisor = CaptureSupervisor(two, CallTimeline(), SpeechFeed(), opener=opener, devices=[_device("usb")])
    assert [side for side, _, _ in supervisor.inputs] == ["agent+customer"]

    import io

    err = io.StringIO()
    assert main(["live", "--agent", "pulse:x", "--customer", "pulse:x"], stdout=io.StringIO(), stderr=err) == 2
    assert "both set to pulse:x" in err.getvalue()
