"""Transcripts of Azure AI Speech (batch transcription result files, fast transcription
responses) and Google Cloud (CCAI
Insights conversations, Speech-to-Text responses), replayed as they are. The fixtures below are
written by hand for these tests, shaped after each product's documented fields (see the
docstrings of transcript_azure and transcript_google); the call is the one of
test_transcript_formats."""

from __future__ import annotations

import copy
import csv
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from test_transcript_formats import ANGRY, ASK, CALL_TURNS, HELLO, one_line_error, replay, turns, write

from rapport_assist.cli import main
from rapport_assist.errors import BadInput, RapportError
from rapport_assist.transcript import not_a_transcript, parse_speaker_map, read_transcript
from rapport_assist.types import Speaker

AGENT, CUSTOMER = Speaker.AGENT, Speaker.CUSTOMER
TICKS = 10_000_000  # a tick is 100 ns
SWAPPED = [(CUSTOMER if s is AGENT else AGENT, *rest) for s, *rest in CALL_TURNS]


def azure_phrase(text: str, start: float, end: float, channel: int = 0, **more: Any) -> dict[str, Any]:
    """A recognized phrase of an Azure batch transcription result, with fields this reader leaves alone."""
    return {
        "recognitionStatus": "Success",
        "channel": channel,
        **more,
        "offset": f"PT{start}S",
        "duration": f"PT{round(end - start, 3)}S",
        "offsetInTicks": float(start * TICKS),  # Azure writes these as 7600000.0
        "durationInTicks": float((end - start) * TICKS),
        "nBest": [
            {
                "confidence": 0.91,
                "lexical": text.lower(),
                "itn": text.lower(),
                "maskedITN": text.lower(),
                "display": text,
            },
            {"confidence": 0.4, "lexical": "something else", "display": "Something else."},
        ],
    }


# A stereo call: the phrases listed channel by channel, as a stereo result may be; a phrase that
# failed (no words) and one of silence among them.
AZURE_STEREO = {
    "source": "https://example.invalid/calls/0413.wav",
    "timestamp": "2026-11-30T10:00:00Z",
    "durationInTicks": 140_000_000,
    "duration": "PT14S",
    "combinedRecognizedPhrases": [{"channel": 0, "display": f"{HELLO} {ASK}"}, {"channel": 1, "display": ANGRY}],
    "recognizedPhrases": [
        azure_phrase(HELLO, 1.0, 3.5, channel=0),
        azure_phrase(ASK, 11.5, 14.0, channel=0),
        {"recognitionStatus": "NoMatch", "channel": 1, "offsetInTicks": 0.0, "durationInTicks": 5_000_000.0},
        azure_phrase(ANGRY, 4.0, 9.0, channel=1),
        azure_phrase("", 9.5, 9.6, channel=1),
    ],
}
# Diarization of a mono call: one channel, a speaker number on each phrase.
AZURE_DIARIZED = {
    "recognizedPhrases": [
        azure_phrase(HELLO, 1.0, 3.5, speaker=1),
        azure_phrase(ANGRY, 4.0, 9.0, speaker=2),
        azure_phrase(ASK, 11.5, 14.0, speaker=1),
    ]
}
AZURE_MAP = "speaker1=agent,speaker2=customer"


def fast_phrase(text: str, start: float, end: float, **more: Any) -> dict[str, Any]:
    """A phrase of an Azure fast transcription response: times in whole milliseconds, its words
    timed too, with the fields this reader leaves alone (locale, confidence)."""
    words = text.split()
    step = (end - start) / len(words) if words else 0.0
    return {
        **more,
        "offsetMilliseconds": round(start * 1000),
        "durationMilliseconds": round((end - start) * 1000),
        "text": text,
        "words": [
            {
                "text": w,
                "offsetMilliseconds": round((start + k * step) * 1000),
                "durationMilliseconds": round(step * 1000),
            }
            for k, w in enumerate(words)
        ],
        "locale": "en-US",
        "confidence": 0.93,
    }


# A stereo call transcribed with channel separation: each phrase's channel, each channel's whole
# text again in combinedPhrases (not read: it repeats the phrases), the phrases channel by channel.
FAST_STEREO = {
    "durationMilliseconds": 14000,
    "combinedPhrases": [{"channel": 0, "text": f"{HELLO} {ASK}"}, {"channel": 1, "text": ANGRY}],
    "phrases": [
        fast_phrase(HELLO, 1.0, 3.5, channel=0),
        fast_phrase(ASK, 11.5, 14.0, channel=0),
        fast_phrase(ANGRY, 4.0, 9.0, channel=1),
        fast_phrase("", 9.5, 9.6, channel=1),
    ],
}
# Diarization: one text in combinedPhrases, a speaker number on each phrase.
FAST_DIARIZED = {
    "durationMilliseconds": 14000,
    "combinedPhrases": [{"text": f"{HELLO} {ANGRY} {ASK}"}],
    "phrases": [
        fast_phrase(HELLO, 1.0, 3.5, speaker=1),
        fast_phrase(ANGRY, 4.0, 9.0, speaker=2),
        fast_phrase(ASK, 11.5, 14.0, speaker=1),
    ],
}


def ccai_segment(text: str, start: float, end: float, role: str | None, channel: int = 0) -> dict[str, Any]:
    """A transcript segment of a CCAI Insights conversation, its words timed as offsets ("1.500s")."""
    words = text.split()
    step = (end - start) / len(words)
    segment: dict[str, Any] = {
        "text": text,
        "confidence": 0.9,
        "languageCode": "en-us",
        "words": [
            {"word": w, "startOffset": f"{start + k * step:.3f}s", "endOffset": f"{start + (k + 1) * step:.3f}s"}
            for k, w in enumerate(words)
        ],
        "channelTag": channel,
        "segmentParticipant": {"role": role} if role else {"userId": "7"},
        "sentiment": {"magnitude": 0.4, "score": -0.2},
    }
    return segment


# A conversation that starts with the IVR's virtual agent, then the human agent and the customer.
CCAI = {
    "name": "projects/example/locations/us-central1/conversations/0413",
    "medium": "PHONE_CALL",
    "callMetadata": {"customerChannel": 2, "agentChannel": 1},
    "duration": "14s",
    "turnCount": 4,
    "transcript": {
        "transcriptSegments": [
            ccai_segment("Welcome. Please say the reason for your call.", 0.0, 0.9, "AUTOMATED_AGENT", 1),
            ccai_segment(HELLO, 1.0, 3.5, "HUMAN_AGENT", 1),
            ccai_segment(ANGRY, 4.0, 9.0, "END_USER", 2),
            ccai_segment(ASK, 11.5, 14.0, "HUMAN_AGENT", 1),
        ]
    },
}
BOT_WARNING = "left out 1 segment of an automated agent (AUTOMATED_AGENT"

# The same call as a conversation file for upload to CCAI Insights: times in microseconds since 1970.
T0 = 1_764_583_200_000_000
UPLOAD = {
    "conversation_info": {"categories": [{"display_name": "Billing"}]},
    "entries": [
        {
            "start_timestamp_usec": T0,
            "text": "Welcome. Please say the reason for your call.",
            "role": "AUTOMATED_AGENT",
            "user_id": 9,
        },
        {"start_timestamp_usec": T0 + 1_000_000, "text": HELLO, "role": "AGENT", "user_id": 2},
        {"start_timestamp_usec": T0 + 4_000_000, "text": ANGRY, "role": "CUSTOMER", "user_id": 1},
        {"start_timestamp_usec": T0 + 11_500_000, "text": ASK, "role": "AGENT", "user_id": 2},
    ],
}


def stt_result(text: str, start: float, end: float, channel: int, v2: bool = False) -> dict[str, Any]:
    """A result of a Speech-to-Text response (v1 names: startTime, resultEndTime; v2: startOffset, resultEndOffset)."""
    first = text.split()[0]
    word = {
        "word": first,
        ("startOffset" if v2 else "startTime"): f"{start}s",
        ("endOffset" if v2 else "endTime"): f"{start + 0.3}s",
    }
    return {
        "alternatives": [{"transcript": text, "confidence": 0.93, "words": [word]}],
        "channelTag": channel,
        ("resultEndOffset" if v2 else "resultEndTime"): f"{end}s",
        "languageCode": "en-us",
    }


# Each channel recognized on its own (audioChannelCount 2, enableSeparateRecognitionPerChannel):
# the results of channel 1, then those of channel 2, and a result with no words.
SPEECH = {
    "results": [
        stt_result(HELLO, 1.0, 3.5, 1),
        stt_result(ASK, 11.5, 14.0, 1),
        {"alternatives": [{}], "channelTag": 2, "resultEndTime": "3.9s"},
        stt_result(ANGRY, 4.0, 9.0, 2, v2=True),
    ],
    "totalBilledTime": "15s",
}


def said(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["speaker"], e["text"]) for e in events if e["type"] == "utterance"]


# ---------------------------------------------------------------------------- Azure AI Speech


def test_azure_phrases_are_utterances_in_call_order(tmp_path: Path) -> None:
    path = write(tmp_path, "azure.json", AZURE_STEREO)
    utts = list(read_transcript(path))
    assert [(u.speaker, u.text, u.start_s, u.end_s) for u in utts] == CALL_TURNS
    assert [u.index for u in utts] == [0, 1, 2] and not any(u.timing_estimated for u in utts)
    # the ISO durations alone give the same times
    iso = copy.deepcopy(AZURE_STEREO)
    for phrase in iso["recognizedPhrases"]:
        phrase.pop("offsetInTicks", None)
        phrase.pop("durationInTicks", None)
    iso["recognizedPhrases"][0].update(offset="PT0M1S", duration="PT2.5S")
    assert turns(write(tmp_path, "iso.json", iso)) == CALL_TURNS


def test_azure_channels_swap_as_a_recordings_do(tmp_path: Path) -> None:
    path = write(tmp_path, "azure.json", AZURE_STEREO)
    assert turns(path, "ch_0=customer,ch_1=agent") == SWAPPED
    code, events, err = replay(path, "--channels", "customer,agent")
    assert code == 0, err
    assert said(events) == [(s.value, text) for s, text, *_ in SWAPPED]


def test_azure_speakers_need_the_speaker_map(tmp_path: Path) -> None:
    path = write(tmp_path, "diarized.json", AZURE_DIARIZED)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}: Azure AI Speech's speakers speaker1, speaker2 do not say who is the agent" in line
    assert f"--speaker-map '{AZURE_MAP}'" in line and not events
    assert turns(path, AZURE_MAP) == CALL_TURNS
    assert turns(path, "Speaker 1=customer,speaker_2=agent") == SWAPPED  # written as people write it
    with pytest.raises(BadInput) as exc:
        list(read_transcript(path, parse_speaker_map("speaker1=agent")))
    assert "no side to speaker2) — name the sides: --speaker-map 'speaker1=agent,speaker2=customer'" in (
        exc.value.one_line()
    )


def test_a_bad_azure_phrase_is_named_after_the_good_ones(tmp_path: Path) -> None:
    doc = copy.deepcopy(AZURE_DIARIZED)
    doc["recognizedPhrases"][2]["nBest"] = []
    path = write(tmp_path, "broken.json", doc)
    code, events, err = replay(path, "--speaker-map", AZURE_MAP)
    line = one_line_error(err)
    assert code == 4 and f"{path}: recognizedPhrases[2]: no words (no nBest[0].display)" in line
    assert said(events) == [("agent", HELLO), ("customer", ANGRY)]
    empty = write(tmp_path, "empty.json", {"recognizedPhrases": []})
    with pytest.raises(BadInput, match="recognized no words"):
        list(read_transcript(empty))


def test_azure_fast_transcription_phrases_are_utterances_in_call_order(tmp_path: Path) -> None:
    path = write(tmp_path, "fast.json", FAST_STEREO)
    assert not_a_transcript(path) is None
    utts = list(read_transcript(path))
    assert [(u.speaker, u.text, u.start_s, u.end_s) for u in utts] == CALL_TURNS  # combinedPhrases not read again
    assert [u.index for u in utts] == [0, 1, 2] and not any(u.timing_estimated for u in utts)
    # channels swap as a batch result's do
    assert turns(path, "ch_0=customer,ch_1=agent") == SWAPPED
    code, events, err = replay(path, "--channels", "customer,agent")
    assert code == 0 and said(events) == [(s.value, text) for s, text, *_ in SWAPPED], err
    # the preview API (2024-05-15-preview) named the times 'offset' and 'duration', milliseconds too
    preview = copy.deepcopy(FAST_STEREO)
    preview["duration"] = preview.pop("durationMilliseconds")
    for phrase in preview["phrases"]:
        phrase["offset"] = phrase.pop("offsetMilliseconds")
        phrase["duration"] = phrase.pop("durationMilliseconds")
    assert turns(write(tmp_path, "preview.json", preview)) == CALL_TURNS
    # a 'phrases' list beside a bare 'duration' is another tool's JSON, skipped as one
    other = write(tmp_path, "other.json", {"duration": 12.3, "phrases": [{"text": "Hello.", "speaker": "A"}]})
    assert "not an Amazon Transcribe, Azure AI Speech or Google Cloud transcript" in str(not_a_transcript(other))


def test_azure_fast_transcription_speakers_need_the_speaker_map(tmp_path: Path) -> None:
    path = write(tmp_path, "fast.json", FAST_DIARIZED)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}: Azure AI Speech's speakers speaker1, speaker2 do not say who is the agent" in line
    assert f"--speaker-map '{AZURE_MAP}'" in line and not events
    assert turns(path, AZURE_MAP) == CALL_TURNS
    assert turns(path, "Speaker 1=customer,speaker_2=agent") == SWAPPED
    code, events, err = replay(path, "--speaker-map", AZURE_MAP)
    assert code == 0 and [e["rule"] for e in events if e["type"] == "nudge"] == ["angry-no-apology"], err


def test_a_mono_fast_transcription_says_whose_words_are_not_known(tmp_path: Path) -> None:
    """Neither channels nor speakers: both voices in one stream, as for a mono batch result."""
    mono = copy.deepcopy(FAST_DIARIZED)
    for phrase in mono["phrases"]:
        del phrase["speaker"]
    path = write(tmp_path, "mono.json", mono)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}: Azure AI Speech heard one channel and no speakers" in line
    assert "--speaker-map 'ch_0=agent'" in line and not events
    assert {s for s, *_ in turns(path, "ch_0=customer")} == {CUSTOMER}
    # channel separation with a silent right channel: its combinedPhrases entry says it was there
    silent = copy.deepcopy(FAST_STEREO)
    silent["phrases"] = [p for p in silent["phrases"] if p["channel"] == 0]
    silent["combinedPhrases"][1]["text"] = ""
    assert {s for s, *_ in turns(write(tmp_path, "silent.json", silent))} == {AGENT}


def test_a_bad_fast_transcription_phrase_is_named_after_the_good_ones(tmp_path: Path) -> None:
    doc = copy.deepcopy(FAST_DIARIZED)
    doc["phrases"][2]["text"] = ["What", "is"]
    path = write(tmp_path, "broken.json", doc)
    code, events, err = replay(path, "--speaker-map", AZURE_MAP)
    line = one_line_error(err)
    assert code == 4 and f"{path}: phrases[2]: 'text' must be a string, got a list" in line
    assert said(events) == [("agent", HELLO), ("customer", ANGRY)]
    empty = write(tmp_path, "empty.json", {"durationMilliseconds": 0, "combinedPhrases": [], "phrases": []})
    with pytest.raises(BadInput, match="recognized no words"):
        list(read_transcript(empty))


# ---------------------------------------------------------------------------- Google Cloud


def test_ccai_roles_give_the_sides_and_a_bot_is_left_out_with_one_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "ccai.json", CCAI)
    told: list[str] = []
    utts = list(read_transcript(path, warn=told.append))
    assert [(u.speaker, u.text, u.start_s, u.end_s) for u in utts] == CALL_TURNS
    assert len(told) == 1 and BOT_WARNING in told[0] and str(path) in told[0]
    code, events, err = replay(path)
    assert code == 0, err
    warnings = [e for e in events if e["type"] == "status" and e["level"] == "warning"]
    assert [w["code"] for w in warnings] == ["other_participants"] and BOT_WARNING in warnings[0]["message"]
    assert said(events) == [("agent", HELLO), ("customer", ANGRY), ("agent", ASK)]
    assert [e["rule"] for e in events if e["type"] == "nudge" and e["rule"] == "angry-no-apology"] == [
        "angry-no-apology"
    ]


def test_ccai_without_roles_reads_the_channels(tmp_path: Path) -> None:
    doc = copy.deepcopy(CCAI)
    for segment in doc["transcript"]["transcriptSegments"]:
        segment["segmentParticipant"] = {"role": "ROLE_UNSPECIFIED"}
    del doc["transcript"]["transcriptSegments"][0]  # the bot's, no longer known as one
    # the conversation's callMetadata says which channel is whose
    assert turns(write(tmp_path, "meta.json", doc)) == CALL_TURNS
    doc["callMetadata"] = {"agentChannel": 2, "customerChannel": 1}
    assert turns(write(tmp_path, "meta_swapped.json", doc)) == SWAPPED
    # without it: channel 1 (the left) is the agent; --channels or --speaker-map say otherwise
    del doc["callMetadata"]
    path = write(tmp_path, "channels.json", doc)
    assert turns(path) == CALL_TURNS
    assert turns(path, "channel 1=customer,channel 2=agent") == SWAPPED
    code, events, err = replay(path, "--channels", "customer,agent")
    assert code == 0 and said(events) == [(s.value, text) for s, text, *_ in SWAPPED], err


def test_an_unknown_ccai_role_stops_after_the_good_segments(tmp_path: Path) -> None:
    doc = copy.deepcopy(CCAI)
    doc["transcript"]["transcriptSegments"][3]["segmentParticipant"]["role"] = "ANY_AGENT"
    path = write(tmp_path, "any.json", doc)
    code, events, err = replay(path)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 4 and len(lines) == 1, err  # the bot's warning is an event, not a line on stderr
    assert f"{path}: segment 4: participant role 'ANY_AGENT'" in lines[0] and "HUMAN_AGENT" in lines[0]
    assert said(events) == [("agent", HELLO), ("customer", ANGRY)]
    # no role and mono audio: whose words is not known
    mono = copy.deepcopy(CCAI)
    mono["transcript"]["transcriptSegments"][1]["segmentParticipant"] = {}
    mono["transcript"]["transcriptSegments"][1]["channelTag"] = 0
    with pytest.raises(BadInput, match=r"segment 2: no participant role and no channel"):
        list(read_transcript(write(tmp_path, "mono.json", mono)))


def test_a_ccai_upload_file_reads_its_roles_and_times(tmp_path: Path) -> None:
    path = write(tmp_path, "upload.json", UPLOAD)
    told: list[str] = []
    utts = list(read_transcript(path, warn=told.append))
    assert [(u.speaker, u.text, u.start_s) for u in utts] == [(s, t, start) for s, t, start, _ in CALL_TURNS]
    assert all(u.timing_estimated for u in utts)  # no ends: estimated from the words
    assert len(told) == 1 and "left out 1 entry of an automated agent" in told[0]
    doc = copy.deepcopy(UPLOAD)
    doc["entries"][2]["role"] = "SUPERVISOR"
    path = write(tmp_path, "odd_role.json", doc)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}: entry 3: participant role 'SUPERVISOR'" in line
    assert said(events) == [("agent", HELLO)]


def test_speech_to_text_channels_are_the_sides(tmp_path: Path) -> None:
    path = write(tmp_path, "speech.json", SPEECH)
    utts = list(read_transcript(path))
    assert [(u.speaker, u.text, u.start_s, u.end_s) for u in utts] == CALL_TURNS
    assert not any(u.timing_estimated for u in utts)
    assert turns(path, "ch_0=customer,ch_1=agent") == SWAPPED  # as --channels customer,agent gives them
    # a result without its words has no start: estimated before its end
    bare = copy.deepcopy(SPEECH)
    del bare["results"][1]["alternatives"][0]["words"]
    (ask,) = [u for u in read_transcript(write(tmp_path, "bare.json", bare)) if u.text == ASK]
    assert ask.end_s == 14.0 and ask.start_s < 14.0 and ask.timing_estimated
    # a mono recognition (no channelTag) does not say whose words
    mono = {"results": [{"alternatives": [{"transcript": HELLO}], "resultEndTime": "3.5s"}]}
    path = write(tmp_path, "mono.json", mono)
    code, _, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}: results[0]: a result and no channel" in line
    assert "enableSeparateRecognitionPerChannel" in line


@pytest.mark.parametrize(
    "name, doc", [("azure.json", AZURE_STEREO), ("ccai.json", CCAI), ("upload.json", UPLOAD), ("speech.json", SPEECH)]
)
def test_an_angry_customer_left_without_an_apology_is_nudged(tmp_path: Path, name: str, doc: dict) -> None:
    code, events, err = replay(write(tmp_path, name, doc))
    assert code == 0, err
    assert said(events) == [("agent", HELLO), ("customer", ANGRY), ("agent", ASK)]
    nudges = [e["rule"] for e in events if e["type"] == "nudge" and e["rule"] == "angry-no-apology"]
    assert nudges == ["angry-no-apology"]


# ---------------------------------------------------------------------------- odd JSON


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


ODD = {
    # Azure
    "phrases_not_list.json": ({"recognizedPhrases": {"a": 1}}, "not a transcript this reads"),
    "phrase_str.json": ({"recognizedPhrases": ["hello"]}, "recognizedPhrases[0]: expected an object, got a string"),
    "nbest_str.json": ({"recognizedPhrases": [{"nBest": "hi"}]}, "recognizedPhrases[0]: no words"),
    "display_num.json": ({"recognizedPhrases": [{"nBest": [{"display": 7}]}]}, "recognizedPhrases[0]: no words"),
    "channel_str.json": (
        {"recognizedPhrases": [{"channel": "left", "nBest": [{"display": "hi"}]}]},
        "'channel' must be a whole number",
    ),
    "channel_bool.json": (
        {"recognizedPhrases": [{"channel": True, "nBest": [{"display": "hi"}]}]},
        "'channel' must be a whole number",
    ),
    "speaker_list.json": (
        {"recognizedPhrases": [{"speaker": [1], "nBest": [{"display": "hi"}]}]},
        "'speaker' must be a whole number",
    ),
    "channel_7.json": ({"recognizedPhrases": [{"channel": 7, "nBest": [{"display": "hi"}]}]}, "ch_7 does not say"),
    "huge_ticks.json": (
        '{"recognizedPhrases": [{"channel": 0, "offsetInTicks": ' + "9" * 400 + ', "nBest": [{"display": "hi"}]}]}',
        "'offsetInTicks' must be a number of ticks",
    ),
    "negative_ticks.json": (
        {"recognizedPhrases": [{"offsetInTicks": -5, "nBest": [{"display": "hi"}]}]},
        "'offsetInTicks' must be a number of ticks ≥ 0",
    ),
    "bad_iso.json": ({"recognizedPhrases": [{"offset": "1.5 s", "nBest": [{"display": "hi"}]}]}, "ISO 8601"),
    "huge_iso.json": (
        {"recognizedPhrases": [{"offset": "PT" + "9" * 400 + "S", "nBest": [{"display": "hi"}]}]},
        "'offset'",
    ),
    "iso_list.json": ({"recognizedPhrases": [{"duration": ["PT1S"], "nBest": [{"display": "hi"}]}]}, "'duration'"),
    "many_digits.json": (
        '{"recognizedPhrases": [{"offsetInTicks": ' + "9" * 5000 + ', "nBest": [{"display": "hi"}]}]}',
        "a number too long to read",
    ),
    "azure_deep.json": ('{"recognizedPhrases": ' + deep(100_000) + "}", "nested too deeply"),
    # Azure fast transcription
    "fast_phrases_obj.json": ({"combinedPhrases": [], "phrases": {"a": 1}}, "not a transcript this reads"),
    "fast_phrase_str.json": (
        {"combinedPhrases": [], "phrases": ["hi"]},
        "phrases[0]: expected an object, got a string",
    ),
    "fast_text_missing.json": (
        {"durationMilliseconds": 10, "phrases": [{"offsetMilliseconds": 0}]},
        "phrases[0]: 'text' must be a string, got null",
    ),
    "fast_channel_str.json": (
        {"combinedPhrases": [], "phrases": [{"text": "hi", "channel": "left"}]},
        "phrases[0]: 'channel' must be a whole number",
    ),
    "fast_speaker_neg.json": (
        {"combinedPhrases": [], "phrases": [{"text": "hi", "speaker": -1}]},
        "'speaker' must be a whole number ≥ 0",
    ),
    "fast_channel_7.json": ({"combinedPhrases": [], "phrases": [{"text": "hi", "channel": 7}]}, "ch_7 does not say"),
    "fast_offset_neg.json": (
        {"combinedPhrases": [], "phrases": [{"text": "hi", "channel": 0, "offsetMilliseconds": -5}]},
        "'offsetMilliseconds' must be a number of milliseconds ≥ 0",
    ),
    "fast_offset_str.json": (
        {"combinedPhrases": [], "phrases": [{"text": "hi", "channel": 0, "durationMilliseconds": "PT1S"}]},
        "'durationMilliseconds' must be a number of milliseconds",
    ),
    "fast_offset_huge.json": (
        '{"combinedPhrases": [], "phrases": [{"text": "hi", "channel": 0, "offsetMilliseconds": ' + "9" * 400 + "}]}",
        "'offsetMilliseconds' must be a number of milliseconds",
    ),
    "fast_no_words.json": ({"combinedPhrases": [], "phrases": [{"text": " ", "channel": 0}]}, "recognized no words"),
    # CCAI Insights
    "segments_obj.json": ({"transcript": {"transcriptSegments": {}}}, "not a transcript this reads"),
    "segment_num.json": ({"transcript": {"transcriptSegments": [3]}}, "segment 1: expected an object, got a number"),
    "text_missing.json": ({"transcript": {"transcriptSegments": [{"channelTag": 1}]}}, "'text' must be a string"),
    "role_list.json": (
        {"transcript": {"transcriptSegments": [{"text": "hi", "segmentParticipant": {"role": ["END_USER"]}}]}},
        "'role' must be a string",
    ),
    "role_odd.json": (
        {"transcript": {"transcriptSegments": [{"text": "hi", "segmentParticipant": {"role": "SUPERVISOR"}}]}},
        "participant role 'SUPERVISOR'",
    ),
    "words_str.json": (
        {"transcript": {"transcriptSegments": [{"text": "hi", "channelTag": 1, "words": "hi"}]}},
        "'words' must be a list",
    ),
    "word_num.json": (
        {"transcript": {"transcriptSegments": [{"text": "hi", "channelTag": 1, "words": [1]}]}},
        "each of 'words' must be an object",
    ),
    "offset_num.json": (
        {"transcript": {"transcriptSegments": [{"text": "hi", "channelTag": 1, "words": [{"startOffset": 1.5}]}]}},
        "'words[0].startOffset' must be a duration",
    ),
    "offset_huge.json": (
        {
            "transcript": {
                "transcriptSegments": [{"text": "hi", "channelTag": 1, "words": [{"startOffset": "9" * 500 + "s"}]}]
            }
        },
        "must be a duration",
    ),
    "offset_dict_huge.json": (
        '{"transcript": {"transcriptSegments": [{"text": "hi", "channelTag": 1, "words": [{"startOffset": '
        '{"seconds": ' + "9" * 400 + "}}]}]}}",
        "must be a duration",
    ),
    "channel_neg.json": ({"transcript": {"transcriptSegments": [{"text": "hi", "channelTag": -1}]}}, "'channelTag'"),
    "channel_9.json": ({"transcript": {"transcriptSegments": [{"text": "hi", "channelTag": 9}]}}, "channel 9"),
    "ccai_deep.json": ('{"transcript": {"transcriptSegments": [' + deep(100_000) + "]}}", "nested too deeply"),
    # CCAI Insights, the upload format
    "entry_str.json": ({"entries": [{"role": "AGENT", "text": "hi"}, "x"]}, "entry 2: expected an object"),
    "entry_text_num.json": ({"entries": [{"role": "AGENT", "text": 5}]}, "entry 1: 'text' must be a string"),
    "entry_role_num.json": ({"entries": [{"role": 1, "text": "hi"}]}, "entry 1: 'role' must be a string"),
    "entry_role_empty.json": ({"entries": [{"role": "", "text": "hi"}]}, "entry 1: no 'role'"),
    "stamp_str.json": (
        {"entries": [{"role": "AGENT", "text": "hi", "start_timestamp_usec": "1"}]},
        "'start_timestamp_usec' must be a whole number",
    ),
    "stamp_huge.json": (
        '{"entries": [{"role": "AGENT", "text": "hi", "start_timestamp_usec": ' + "9" * 400 + "}]}",
        "'start_timestamp_usec' must be a whole number",
    ),
    # Speech-to-Text
    "result_str.json": ({"results": [{"alternatives": []}, "x"]}, "results[1]: expected an object"),
    "alts_str.json": ({"results": [{"alternatives": "hi"}]}, "'alternatives' must be a list"),
    "alt_num.json": ({"results": [{"alternatives": [5]}]}, "alternatives[0] must be an object"),
    "transcript_num.json": ({"results": [{"alternatives": [{"transcript": 5}]}]}, "'transcript' must be a string"),
    "end_bad.json": (
        {"results": [{"alternatives": [{"transcript": "hi"}], "channelTag": 1, "resultEndTime": "soon"}]},
        "'resultEndTime' must be a duration",
    ),
    "no_words.json": ({"results": [{"alternatives": []}]}, "the Speech-to-Text response has no words"),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_azure_and_google_json_is_bad_input_not_a_crash(tmp_path: Path, name: str) -> None:
    """Valid JSON that the products would not write ends with a one-line error naming the file
    (exit 4), not an internal error."""
    content, expected = ODD[name]
    path = write(tmp_path, name, content)
    code, _, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and str(path) in line and expected in line, (name, err)


def field_paths(node: Any, at: list[Any]) -> Any:
    """The path (keys, indexes) of every value inside ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield [*at, key]
        yield from field_paths(child, [*at, key])


def _odd_values() -> list[Any]:
    return [None, True, -1, 0, 10**400, 1e308, "", "x", "PT1S", "1.5s", [], [1], {}, {"a": None}, [[[[[]]]]]]


def test_random_odd_values_never_crash(tmp_path: Path) -> None:
    """Every field of the fixtures set, one at a time, to odd values: each read ends in utterances
    or a known error (BadInput), never another exception."""
    rng = random.Random(20261206)
    docs = [AZURE_STEREO, AZURE_DIARIZED, FAST_STEREO, FAST_DIARIZED, CCAI, UPLOAD, SPEECH]
    n = 0
    for d, doc in enumerate(docs):
        paths = list(field_paths(doc, []))
        for at in paths:
            for value in rng.sample(_odd_values(), 3):
                mutated = copy.deepcopy(doc)
                node = mutated
                for key in at[:-1]:
                    node = node[key]
                node[at[-1]] = value
                path = tmp_path / f"odd{d}.json"
                path.write_text(json.dumps(mutated))  # a big integer is written whole
                try:
                    list(read_transcript(path, parse_speaker_map(AZURE_MAP), warn=lambda _: None))
                except RapportError:
                    pass
                n += 1
    assert n > 300


# ---------------------------------------------------------------------------- qa, eval, rules explain


def calls_folder(tmp_path: Path) -> Path:
    calls = tmp_path / "calls"
    calls.mkdir()
    write(calls, "azure.json", AZURE_STEREO)
    write(calls, "diarized.json", AZURE_DIARIZED)
    write(calls, "ccai.json", CCAI)
    write(calls, "upload.json", UPLOAD)
    write(calls, "speech.json", SPEECH)
    write(calls, "settings.json", {"recognizedPhrasesCount": 3, "transcript": "none"})
    return calls


def test_qa_runs_azure_and_google_transcripts(tmp_path: Path) -> None:
    calls = calls_folder(tmp_path)
    argv = ["qa", str(calls), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    err = io.StringIO()
    assert main([*argv, "--speaker-map", AZURE_MAP], io.StringIO(), err) == 0, err.getvalue()
    assert "settings.json: skipped (a .json file that is not an Amazon Transcribe, Azure AI Speech" in err.getvalue()
    rows = {r["call"]: r for r in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    assert set(rows) == {"azure", "diarized", "ccai", "upload", "speech"}
    assert all(r["status"] == "done" for r in rows.values()), rows
    for call in rows:
        assert int(rows[call]["nudges:angry-no-apology"]) == 1, call
    assert rows["ccai"]["warnings"] == "other participants" and not rows["azure"]["warnings"]
    report = json.loads((tmp_path / "out" / "calls" / "ccai" / "call.json").read_text())
    assert BOT_WARNING in json.dumps(report)
    # without the speaker map the diarized call fails, saying what to do; the others are done
    err = io.StringIO()
    main([*argv[:3], str(tmp_path / "out2"), *argv[4:]], io.StringIO(), err)
    rows = {r["call"]: r for r in csv.DictReader((tmp_path / "out2" / "summary.csv").open())}
    assert rows["diarized"]["status"] == "error" and rows["azure"]["status"] == "done"
    assert "--speaker-map 'speaker1=agent,speaker2=customer'" in err.getvalue()


def test_a_json_transcript_is_parsed_once_where_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """qa parsed a .json transcript three times: to find the calls, to tell whether it is one
    side's, to read it. Now once to find the calls (it keeps nothing: a folder of calls is not
    held in memory), once where the call is read (``parse_ahead``): replay's two readings share it."""
    calls = tmp_path / "calls"
    calls.mkdir()
    write(calls, "azure.json", AZURE_STEREO)
    parses: list[str] = []
    loads = json.loads

    def counting(text: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(text, str) and '"recognizedPhrases"' in text:
            parses.append(text)
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", counting)  # json_document's json.loads (transcript_base)
    err = io.StringIO()
    argv = ["qa", str(calls), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    assert main(argv, io.StringIO(), err) == 0, err.getvalue()
    (row,) = csv.DictReader((tmp_path / "out" / "summary.csv").open())
    assert row["status"] == "done" and int(row["nudges:angry-no-apology"]) == 1
    assert len(parses) == 2  # finding the calls, reading this one
    parses.clear()
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", str(calls / "azure.json"), "--format", "jsonl"], out, err) == 0, err.getvalue()
    assert '"angry-no-apology"' in out.getvalue()
    assert len(parses) == 1
    # a file that cannot be parsed says so once, as before, when it is read
    cut = write(calls, "cut.json", json.dumps(AZURE_STEREO, indent=1)[:300])
    err = io.StringIO()
    assert main(["replay", str(cut)], io.StringIO(), err) == 4
    assert err.getvalue().count("not valid JSON") == 1 and f"{cut}:" in err.getvalue(), err.getvalue()


def test_eval_and_explain_read_azure_and_google(tmp_path: Path) -> None:
    calls = calls_folder(tmp_path)
    labels = write(
        tmp_path,
        "labels.json",
        {name: {"angry-no-apology": [2]} for name in ("azure", "diarized", "ccai", "upload", "speech")},
    )
    speech_labels = write(tmp_path, "speech_labels.json", {"speech": {"angry-no-apology": [2]}})
    argv = ["eval", str(calls), "--labels", str(labels), "--rule", "angry-no-apology", "--format", "json"]
    out, err = io.StringIO(), io.StringIO()
    assert main([*argv, "--speaker-map", AZURE_MAP], out, err) == 0, err.getvalue()
    (rule,) = json.loads(out.getvalue())["rules"]
    assert rule["conversation_level"]["tp"] == 5 and rule["conversation_level"]["fp"] == 0
    warnings = [line for line in err.getvalue().splitlines() if "warning" in line]
    assert len(warnings) == 2 and BOT_WARNING in warnings[0] and "ccai.json" in warnings[0]
    assert "upload.json: left out 1 entry of an automated agent" in warnings[1]
    # one file, not a folder: a .json transcript, not dialogues
    out, err = io.StringIO(), io.StringIO()
    one = ["eval", str(calls / "speech.json"), "--labels", str(speech_labels), "--rule", "angry-no-apology"]
    assert main([*one, "--format", "json"], out, err) == 0, err.getvalue()
    assert json.loads(out.getvalue())["rules"][0]["conversation_level"]["tp"] == 1
    for name, options in (("ccai.json", ()), ("azure.json", ()), ("diarized.json", ("--speaker-map", AZURE_MAP))):
        out, err = io.StringIO(), io.StringIO()
        code = main(["rules", "explain", "--rule", "angry-no-apology", str(calls / name), *options], out, err)
        assert code == 0, err.getvalue()
        assert "angry-no-apology fired 1 time: #2" in out.getvalue(), name
        assert (BOT_WARNING in err.getvalue()) == (name == "ccai.json"), name


def test_only_transcripts_are_taken_from_a_folder_of_json(tmp_path: Path) -> None:
    calls = calls_folder(tmp_path)
    assert not_a_transcript(calls / "settings.json") is not None
    for name in ("azure.json", "diarized.json", "ccai.json", "upload.json", "speech.json"):
        assert not_a_transcript(calls / name) is None, name


def test_the_readmes_examples_read_as_it_says(tmp_path: Path) -> None:
    """README's Azure (batch and fast transcription) and CCAI examples: the customer's words, 12.3 s
    to 15 s into the call."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in readme.split("```json\n")[1:]]
    for key in ("recognizedPhrases", "combinedPhrases", "transcriptSegments"):
        (block,) = [b for b in blocks if key in b]
        (utt,) = read_transcript(write(tmp_path, f"{key}.json", block))
        assert (utt.speaker, utt.text, utt.start_s, utt.end_s) == (
            CUSTOMER,
            "This is the third time I'm calling.",
            12.3,
            15.0,
        ), key


def test_a_mono_azure_result_says_whose_words_are_not_known(tmp_path: Path) -> None:
    """Every phrase on channel 0 and no speakers: a mono recording transcribed whole, both voices on
    one channel. Read as the agent's, the customer's anger would be the agent's words."""
    mono = {"recognizedPhrases": [azure_phrase(HELLO, 1.0, 3.5), azure_phrase(ANGRY, 4.0, 9.0)]}
    path = write(tmp_path, "mono.json", mono)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}: Azure AI Speech heard one channel and no speakers" in line
    assert "diarization" in line and "--speaker-map 'ch_0=agent'" in line and not events
    # one side's own recording, said so
    assert [s for s, *_ in turns(path, "ch_0=customer")] == [CUSTOMER, CUSTOMER]
    # a stereo result whose right channel was silent lists it: the agent alone
    silent = {**mono, "combinedRecognizedPhrases": [{"channel": 0, "display": HELLO}, {"channel": 1, "display": ""}]}
    assert [s for s, *_ in turns(write(tmp_path, "silent.json", silent))] == [AGENT, AGENT]


def test_a_number_of_thousands_of_digits_is_bad_input_everywhere(tmp_path: Path) -> None:
    """Python converts integers of at most 4,300 digits; a longer one in JSON was an internal error
    (ValueError) in every JSON reader: a .json transcript, a JSONL line, a labels file."""
    digits = "9" * 5000
    jsonl = write(tmp_path, "call.jsonl", '{"speaker": "agent", "text": "hi", "start": ' + digits + "}\n")
    code, _, err = replay(jsonl)
    assert code == 4 and f"{jsonl}:1: a number too long to read" in one_line_error(err)
    labels = write(tmp_path, "labels.json", '{"azure": {"angry-no-apology": [' + digits + "]}}")
    write(tmp_path, "azure.json", AZURE_STEREO)
    err = io.StringIO()
    code = main(["eval", str(tmp_path / "azure.json"), "--labels", str(labels)], io.StringIO(), err)
    assert code == 4 and f"{labels}: not a labels file" in one_line_error(err.getvalue())


def test_a_conversation_of_the_bot_alone_says_so(tmp_path: Path) -> None:
    """A call the IVR ended before any person spoke: the error said the transcript 'has no words',
    and eval's warning before it 'the rest of the call is read'."""
    bot = copy.deepcopy(CCAI)
    segments = bot["transcript"]["transcriptSegments"]
    bot["transcript"]["transcriptSegments"] = [segments[0], {**segments[0], "text": "Goodbye."}]
    upload = {"entries": [UPLOAD["entries"][0]]}
    for name, doc, what in (("ccai.json", bot, "2 segments"), ("upload.json", upload, "1 entry")):
        path = write(tmp_path, name, doc)
        told: list[str] = []
        with pytest.raises(BadInput) as exc:
            list(read_transcript(path, warn=told.append))
        assert f"no words of the agent or customer (only {what} of an automated agent)" in exc.value.message
        assert not told, told  # not 'the rest of the call is read'


def test_channels_do_not_make_a_mono_azure_result_one_sides(tmp_path: Path) -> None:
    """--channels customer,agent (a folder of stereo calls recorded the other way round) names both
    channels; a mono result among them, both voices on channel 0, was read as the customer's alone."""
    mono = {"recognizedPhrases": [azure_phrase(HELLO, 1.0, 3.5), azure_phrase(ANGRY, 4.0, 9.0)]}
    path = write(tmp_path, "mono.json", mono)
    code, events, err = replay(path, "--channels", "customer,agent")
    assert code == 4 and "Azure AI Speech heard one channel and no speakers" in one_line_error(err), err
    assert not said(events)
    # a stereo result swaps as before, and the speaker map still says a mono file is one side's
    code, events, err = replay(write(tmp_path, "azure.json", AZURE_STEREO), "--channels", "customer,agent")
    assert code == 0 and said(events)[0] == ("customer", HELLO), err
    code, events, err = replay(path, "--speaker-map", "ch_0=customer")
    assert code == 0 and {s for s, _ in said(events)} == {"customer"}, err


def test_a_speech_response_as_the_api_wraps_it_is_read(tmp_path: Path) -> None:
    """The response saved as the API gives it: a v1 long-running operation ('response' of an
    operation that is 'done') or a v2 BatchRecognize response with its results inline (under the
    file's URI). They were 'not a transcript', though the message said it looks for 'results'."""
    v1 = {
        "name": "4120",
        "metadata": {"progressPercent": 100},
        "done": True,
        "response": {"@type": "type.googleapis.com/google.cloud.speech.v1.LongRunningRecognizeResponse", **SPEECH},
    }
    v2 = {
        "results": {"gs://calls/0413.wav": {"inlineResult": {"transcript": SPEECH}, "metadata": {}}},
        "totalBilledDuration": "15s",
    }
    v2_old = {"results": {"gs://calls/0413.wav": {"transcript": SPEECH}}}  # the deprecated field
    for name, doc in (("v1.json", v1), ("v2.json", v2), ("v2_old.json", v2_old)):
        path = write(tmp_path, name, doc)
        assert not_a_transcript(path) is None, name
        assert [(u.speaker, u.text, u.start_s, u.end_s) for u in read_transcript(path)] == CALL_TURNS, name
    # a bad result is named where it is
    bad = copy.deepcopy(v2)
    bad["results"]["gs://calls/0413.wav"]["inlineResult"]["transcript"]["results"][1]["channelTag"] = "one"
    with pytest.raises(BadInput, match=r"results\['gs://calls/0413.wav'\]\.inlineResult\.transcript\.results\[1\]"):
        list(read_transcript(write(tmp_path, "bad.json", bad)))
    # the results of several files: which is the call is not known
    two = {"results": {"gs://calls/a.wav": v2["results"]["gs://calls/0413.wav"], "gs://calls/b.wav": {}}}
    with pytest.raises(BadInput, match="not a transcript this reads"):
        list(read_transcript(write(tmp_path, "two.json", two)))


def test_another_vendors_results_are_not_taken_for_speech_to_text(tmp_path: Path) -> None:
    """Speechmatics' JSON (a 'results' list of words, each with its 'alternatives') and IBM Watson's
    ('results' with 'alternatives' and their 'transcript') were read as a Google Speech-to-Text
    response: 'the Speech-to-Text response has no words', or a hint about Google's channel settings.
    They are no transcript this reads, and a folder's qa skips them with that note."""
    speechmatics = {
        "format": "2.9",
        "results": [
            {
                "type": "word",
                "start_time": 0.2,
                "end_time": 0.6,
                "alternatives": [{"content": "Hello", "confidence": 0.98, "speaker": "S1"}],
            }
        ],
    }
    watson = {
        "result_index": 0,
        "results": [
            {"final": True, "alternatives": [{"transcript": "hello there ", "timestamps": [["hello", 0.1, 0.4]]}]}
        ],
    }
    for name, doc in (("speechmatics.json", speechmatics), ("watson.json", watson)):
        path = write(tmp_path, name, doc)
        assert "not an Amazon Transcribe, Azure AI Speech or Google Cloud transcript" in str(not_a_transcript(path))
        with pytest.raises(BadInput, match="not a transcript this reads"):
            list(read_transcript(path))
