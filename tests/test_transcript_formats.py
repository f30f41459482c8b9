"""Transcripts made by cloud call products, replayed here as they are: Amazon Transcribe Call
Analytics and Contact Lens post-call JSON, WebVTT and SRT captions, and transcripts that name
people rather than sides (``--speaker-map``). The calls below are made up for these tests."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from rapport_assist.cli import main
from rapport_assist.errors import BadInput, UsageError
from rapport_assist.transcript import not_a_transcript, parse_speaker_map, read_transcript
from rapport_assist.types import Speaker

AGENT, CUSTOMER = Speaker.AGENT, Speaker.CUSTOMER
HELLO = "Thanks for calling, how can I help?"
ANGRY = "This is ridiculous! I have called three times and nobody has fixed my bill."
ASK = "What is your account number?"
# the call every fixture below holds, as (side, words, start, end)
CALL_TURNS = [(AGENT, HELLO, 1.0, 3.5), (CUSTOMER, ANGRY, 4.0, 9.0), (AGENT, ASK, 11.5, 14.0)]

# Shaped like the post-call examples of Amazon Transcribe Call Analytics
# (https://docs.aws.amazon.com/transcribe/latest/dg/tca-output-batch.html): a role on each segment,
# times in milliseconds, with fields this reader does not use (sentiment, loudness, ids) beside them.
CALL_ANALYTICS = {
    "JobStatus": "COMPLETED",
    "LanguageCode": "en-US",
    "Transcript": [
        {
            "Id": "seg-1",
            "ParticipantRole": "AGENT",
            "Content": HELLO,
            "BeginOffsetMillis": 1000,
            "EndOffsetMillis": 3500,
            "Sentiment": "NEUTRAL",
            "LoudnessScores": [71.2, 73.0],
        },
        {
            "Id": "seg-2",
            "ParticipantRole": "CUSTOMER",
            "Content": ANGRY,
            "BeginOffsetMillis": 4000,
            "EndOffsetMillis": 9000,
            "Sentiment": "NEGATIVE",
        },
        {
            "Id": "seg-3",
            "ParticipantRole": "AGENT",
            "Content": ASK,
            "BeginOffsetMillis": 11500,
            "EndOffsetMillis": 14000,
        },
    ],
    "ConversationCharacteristics": {"NonTalkTime": {"Instances": [], "TotalTimeMillis": 0}},
}

# Shaped like Contact Lens's example output files
# (https://docs.aws.amazon.com/connect/latest/adminguide/contact-lens-example-output-files.html):
# segments name a ParticipantId; the Participants list gives each id's role.
CONTACT_LENS = {
    "Version": "1.1.0",
    "Channel": "VOICE",
    "Participants": [
        {"ParticipantId": "caller-7", "ParticipantRole": "CUSTOMER"},
        {"ParticipantId": "desk-2", "ParticipantRole": "AGENT"},
    ],
    "Transcript": [
        {"Id": "t1", "ParticipantId": "desk-2", "Content": HELLO, "BeginOffsetMillis": 1000, "EndOffsetMillis": 3500},
        {"Id": "t2", "ParticipantId": "caller-7", "Content": " ", "BeginOffsetMillis": 3600, "EndOffsetMillis": 3700},
        {"Id": "t3", "ParticipantId": "caller-7", "Content": ANGRY, "BeginOffsetMillis": 4000, "EndOffsetMillis": 9000},
        {"Id": "t4", "ParticipantId": "desk-2", "Content": ASK, "BeginOffsetMillis": 11500, "EndOffsetMillis": 14000},
    ],
}

VTT = f"""\
WEBVTT

NOTE made up for the tests

intro
00:00:01.000 --> 00:00:03.500 align:start
<v Julie (Agent)>{HELLO}</v>

00:04.000 --> 00:09.000
<v.loud Customer>{ANGRY.replace("ridiculous", "<i>ridiculous</i>")}

00:00:09.500 --> 00:00:11.000
I&apos;m sick of this.

00:00:11.500 --> 00:00:14.000
Agent: {ASK}
"""

SRT = f"""\
1
00:00:01,000 --> 00:00:03,500
Agent: {HELLO}

2
00:00:04,000 --> 00:00:09,000
Customer: {ANGRY}

3
00:00:11,500 --> 00:00:14,000
Rep: {ASK}
"""

NAMED_TXT = f"Julie: {HELLO}\nMr. Jones: {ANGRY}\nJulie: {ASK}\n"
NAMED_SRT = SRT.replace("Agent:", "Julie:").replace("Customer:", "Mr. Jones:").replace("Rep:", "Julie:")
NAMED_VTT = f"WEBVTT\n\n00:01.000 --> 00:03.500\n<v Julie>{HELLO}\n\n00:04.000 --> 00:09.000\n<v Speaker 2>{ANGRY}\n\n00:11.500 --> 00:14.000\n<v Julie>{ASK}\n"
PEOPLE = "Julie=agent,Mr. Jones=customer,Speaker 2=caller"


def write(folder: Path, name: str, content: str | dict) -> Path:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=1), encoding="utf-8")
    return path


def turns(path: Path, speaker_map: str | None = None) -> list[tuple[Speaker, str, float, float]]:
    people = parse_speaker_map(speaker_map) if speaker_map else ()
    return [(u.speaker, u.text, u.start_s, u.end_s) for u in read_transcript(path, people)]


def replay(path: Path, *options: str) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["replay", str(path), "--format", "jsonl", *options], stdout=out, stderr=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines() if line.strip()], err.getvalue()


def test_call_analytics_segments_are_utterances_with_their_times(tmp_path: Path) -> None:
    utts = list(read_transcript(write(tmp_path, "call.json", CALL_ANALYTICS)))
    assert [(u.speaker, u.text, u.start_s, u.end_s) for u in utts] == CALL_TURNS
    assert [u.index for u in utts] == [0, 1, 2] and not any(u.timing_estimated for u in utts)


def test_contact_lens_participants_give_the_sides(tmp_path: Path) -> None:
    # a segment with no words (t2) is left out
    assert turns(write(tmp_path, "call.json", CONTACT_LENS)) == CALL_TURNS
    # without the Participants list, the ids are the roles themselves
    bare = {"Transcript": [{"ParticipantId": "CUSTOMER", "Content": "Hi.", "BeginOffsetMillis": 0}]}
    (utt,) = read_transcript(write(tmp_path, "bare.json", bare))
    assert utt.speaker is CUSTOMER and utt.start_s == 0.0 and utt.timing_estimated  # no end: estimated


def test_webvtt_voices_labels_markup_and_a_voice_carried_on(tmp_path: Path) -> None:
    assert turns(write(tmp_path, "call.vtt", VTT)) == [
        (AGENT, HELLO, 1.0, 3.5),
        (CUSTOMER, ANGRY, 4.0, 9.0),
        (CUSTOMER, "I'm sick of this.", 9.5, 11.0),  # no side: the voice of the cue before
        (AGENT, ASK, 11.5, 14.0),
    ]


def test_a_cue_of_two_turns_shares_its_time_by_words(tmp_path: Path) -> None:
    vtt = "WEBVTT\n\n00:00.000 --> 00:04.000\n<v Agent>One two three.\n<v Customer>Four.\n"
    assert turns(write(tmp_path, "two.vtt", vtt)) == [
        (AGENT, "One two three.", 0.0, 3.0),
        (CUSTOMER, "Four.", 3.0, 4.0),
    ]


def test_srt_labels_and_times(tmp_path: Path) -> None:
    utts = list(read_transcript(write(tmp_path, "call.srt", SRT)))
    assert [(u.speaker, u.text, u.start_s, u.end_s) for u in utts] == CALL_TURNS
    assert not any(u.timing_estimated for u in utts)


@pytest.mark.parametrize(
    "name, content, options",
    [
        ("ca.json", CALL_ANALYTICS, ()),
        ("cl.json", CONTACT_LENS, ()),
        ("call.vtt", VTT, ()),
        ("call.srt", SRT, ()),
        ("named.txt", NAMED_TXT, ("--speaker-map", PEOPLE)),
        ("named.vtt", NAMED_VTT, ("--speaker-map", PEOPLE)),
    ],
)
def test_an_angry_customer_left_without_an_apology_is_nudged(tmp_path: Path, name: str, content, options) -> None:
    code, events, err = replay(write(tmp_path, name, content), *options)
    assert code == 0, err
    said = [(e["speaker"], e["text"]) for e in events if e["type"] == "utterance"]
    assert ("customer", ANGRY) in said and said[-1] == ("agent", ASK)
    nudges = [e for e in events if e["type"] == "nudge"]
    assert [n["rule"] for n in nudges if n["rule"] == "angry-no-apology"] == ["angry-no-apology"]


def test_an_apology_keeps_it_quiet(tmp_path: Path) -> None:
    """The nudge above comes from the words, not from the format: say sorry and it goes."""
    sorry = SRT.replace(ASK, "I'm so sorry we've put you through this, let me fix it now.")
    code, events, err = replay(write(tmp_path, "sorry.srt", sorry))
    assert code == 0, err
    assert not [e for e in events if e["type"] == "nudge" and e["rule"] == "angry-no-apology"]


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_an_unknown_role_names_its_segment_after_the_good_ones(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(CONTACT_LENS))
    doc["Participants"].append({"ParticipantId": "ivr", "ParticipantRole": "IVR"})
    doc["Transcript"].insert(3, {"ParticipantId": "ivr", "Content": "Please hold.", "BeginOffsetMillis": 10000})
    path = write(tmp_path, "call.json", doc)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}: segment 4: participant 'IVR'" in line
    assert "AGENT and CUSTOMER" in line and "SYSTEM and CUSTOM_BOT are skipped" in line  # the roles it knows
    assert "drop the segment" in line  # what to do
    assert [e["text"] for e in events if e["type"] == "utterance"] == [HELLO, ANGRY]  # kept


# A Contact Lens call with Amazon Connect's other participant roles: the system (a flow's prompt, a
# chat's "joined" event without words), a bot (CUSTOM_BOT), and a supervisor who barges in.
OTHER_ROLES = json.loads(json.dumps(CONTACT_LENS))
OTHER_ROLES["Participants"] += [
    {"ParticipantId": "flow", "ParticipantRole": "SYSTEM"},
    {"ParticipantId": "lex", "ParticipantRole": "CUSTOM_BOT"},
    {"ParticipantId": "sup-1", "ParticipantRole": "SUPERVISOR"},
]
OTHER_ROLES["Transcript"][:0] = [
    {"ParticipantId": "flow", "Content": "This call may be recorded.", "BeginOffsetMillis": 0, "EndOffsetMillis": 400},
    {"ParticipantId": "lex", "Content": "Say billing or sales.", "BeginOffsetMillis": 400, "EndOffsetMillis": 900},
    {"ParticipantId": "flow", "ParticipantRole": "SYSTEM"},
]
SORRY = "I am sorry about the bill, I will fix it now."
OTHER_ROLES["Transcript"].insert(
    6, {"ParticipantRole": "Supervisor", "Content": SORRY, "BeginOffsetMillis": 9200, "EndOffsetMillis": 11000}
)


def test_system_and_bot_segments_are_skipped_with_one_warning(tmp_path: Path) -> None:
    """They stopped the read (exit 4); now the call replays, and one warning says how many were
    left out and whose; a supervisor's segment is read as the agent's side, and the warning says so."""
    path = write(tmp_path, "call.json", OTHER_ROLES)
    assert [(s, t) for s, t, _, _ in turns(path)] == [(AGENT, HELLO), (CUSTOMER, ANGRY), (AGENT, SORRY), (AGENT, ASK)]
    code, events, err = replay(path)
    assert code == 0, err
    notes = [e for e in events if e["type"] == "status" and e["level"] == "warning"]
    assert len(notes) == 1 and notes[0]["code"] == "other_participants"
    assert notes[0]["message"] == (
        f"{path}: 3 segments of SYSTEM (2) and CUSTOM_BOT (1) skipped (a system or bot message is no side of "
        "the call); 1 segment of SUPERVISOR read as the agent's side (a supervisor who joined the call speaks for "
        "the contact centre)"
    )
    assert [e["speaker"] for e in events if e["type"] == "utterance"] == ["agent", "customer", "agent", "agent"]
    assert not [e for e in events if e["type"] == "nudge" and e["rule"] == "angry-no-apology"]  # the apology counts
    # a call of the system alone has no words of either side
    bot = {"Transcript": [s for s in OTHER_ROLES["Transcript"] if s.get("ParticipantId") in ("flow", "lex")]}
    bot["Participants"] = OTHER_ROLES["Participants"]
    with pytest.raises(BadInput, match=r"no words of the agent or customer \(only 3 segments of the system or a bot\)"):
        list(read_transcript(write(tmp_path, "bot.json", bot)))
    # a plain Call Analytics file has nothing to say
    code, events, _ = replay(write(tmp_path, "ca.json", CALL_ANALYTICS))
    assert code == 0 and not [e for e in events if e["type"] == "status" and e["level"] == "warning"]


def test_qa_lists_the_skipped_participants_among_the_calls_warnings(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    write(calls, "cl.json", OTHER_ROLES)
    err = io.StringIO()
    argv = ["qa", str(calls), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    assert main(argv, io.StringIO(), err) == 0, err.getvalue()
    assert "warning: cl: other participants" in err.getvalue()
    (row,) = csv.DictReader((tmp_path / "out" / "summary.csv").open())
    assert row["status"] == "done" and row["warnings"] == "other participants"


def test_broken_json_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.json", json.dumps(CALL_ANALYTICS, indent=1)[:300])
    code, _, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}:" in line and "not valid JSON" in line and "cut short" in line
    with pytest.raises(BadInput, match=r"no top-level 'Transcript' list"):
        list(read_transcript(write(tmp_path, "other.json", {"Results": []})))


def test_a_cue_with_no_side_names_its_line_after_the_cues_before(tmp_path: Path) -> None:
    # the cue before is labelled, and this one starts 2.5 s after it: the label does not go on
    srt = SRT.replace(f"Rep: {ASK}", ASK)
    path = write(tmp_path, "call.srt", srt)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}:11: the cue does not say whose words these are (it starts 2.5 s after" in line
    assert "the label of that turn, customer at line 7, goes on to cues within 2 s only" in line  # why not
    assert "<v Agent>" in line and "'Agent:'" in line and "--speaker-map" in line  # the forms that work
    assert [e["text"] for e in events if e["type"] == "utterance"] == [HELLO, ANGRY]
    with pytest.raises(BadInput, match=r"first\.srt:3: the cue does not say whose words these are$"):
        list(read_transcript(write(tmp_path, "first.srt", SRT.replace(f"Agent: {HELLO}", HELLO))))
    # an unreadable cue time, and a voice that is no side
    with pytest.raises(BadInput, match=r"bad\.vtt:3: cannot read the cue time"):
        list(read_transcript(write(tmp_path, "bad.vtt", "WEBVTT\n\n00:01 --> 00:02\n<v Agent>hi\n")))
    with pytest.raises(BadInput, match=r"joined\.srt:4: a cue time inside a cue's text"):
        list(read_transcript(write(tmp_path, "joined.srt", SRT.replace("\n\n2\n", "\n"))))
    with pytest.raises(BadInput, match=r"who\.vtt:4: the voice 'Bob' is not a side"):
        list(read_transcript(write(tmp_path, "who.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\n<v Bob>hi\n")))


# Captioned as style guides ask (a label at each change of speaker) and as transcription services'
# SRT comes (Deepgram's captions: a label when the speaker changes): a turn's later cues have none.
TURN_SRT = f"""\
1
00:00:01,000 --> 00:00:02,500
AGENT: Thanks for calling,

2
00:00:02,500 --> 00:00:03,500
how can I help?

3
00:00:04,000 --> 00:00:06,000
CUSTOMER: This is ridiculous! I have called three times

4
00:00:06,000 --> 00:00:09,000
and nobody has fixed my bill.

5
00:00:09,200 --> 00:00:11,000
I'm sick of this.

6
00:00:11,500 --> 00:00:14,000
AGENT: {ASK}
"""


def test_a_label_goes_on_to_the_cues_of_its_turn(tmp_path: Path) -> None:
    """Only a voice went on to a cue with no side; a label stopped the read at the turn's second cue."""
    path = write(tmp_path, "turns.srt", TURN_SRT)
    assert turns(path) == [
        (AGENT, "Thanks for calling,", 1.0, 2.5),
        (AGENT, "how can I help?", 2.5, 3.5),  # after a question too: cues are cut by length, not sentence
        (CUSTOMER, "This is ridiculous! I have called three times", 4.0, 6.0),
        (CUSTOMER, "and nobody has fixed my bill.", 6.0, 9.0),
        (CUSTOMER, "I'm sick of this.", 9.2, 11.0),  # on and on, while each cue follows within 2 s
        (AGENT, ASK, 11.5, 14.0),
    ]
    code, events, err = replay(path)
    assert code == 0 and [e["rule"] for e in events if e["type"] == "nudge"] == ["angry-no-apology"], err
    # a label with a name, as a WebVTT cue's text
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nJulie (Agent): Hello,\n\n00:02.000 --> 00:03.000\nhow are you?\n"
    assert [s for s, _, _, _ in turns(write(tmp_path, "named.vtt", vtt))] == [AGENT, AGENT]


def test_a_label_is_not_carried_where_the_file_labels_every_cue(tmp_path: Path) -> None:
    """Zoom labels every cue, even one speaker's in a row: there a cue without a label is a slip, and
    taking it for the speaker before could give the customer's words to the agent."""
    zoom = f"""WEBVTT

1
00:00:01.000 --> 00:00:02.500
Agent: Thanks for calling,

2
00:00:02.500 --> 00:00:03.500
Agent: how can I help?

3
00:00:04.000 --> 00:00:09.000
{ANGRY}
"""
    path = write(tmp_path, "zoom.vtt", zoom)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}:13: the cue does not say whose words these are (this file labels every cue" in line
    assert "even one speaker's in a row as at line 9" in line
    assert [e["speaker"] for e in events if e["type"] == "utterance"] == ["agent", "agent"]


def test_a_new_speaker_mark_is_never_carried(tmp_path: Path) -> None:
    """'>>' marks a change of speaker in broadcast captions: with a label it is read ('>> AGENT:'),
    without one its side is not known, even right after a labelled cue."""
    srt = TURN_SRT.replace("AGENT: Thanks", ">> AGENT: Thanks").replace("CUSTOMER: This", ">> CUSTOMER: This")
    assert turns(write(tmp_path, "marked.srt", srt)) == turns(write(tmp_path, "plain.srt", TURN_SRT))
    srt = TURN_SRT.replace("CUSTOMER: This", ">> This")
    path = write(tmp_path, "unnamed.srt", srt)
    with pytest.raises(BadInput, match=r"unnamed\.srt:11: the cue marks a new speaker \('>>'\) but not whose side"):
        list(read_transcript(path))
    assert [u.text for u in read_transcript_until_error(path)] == ["Thanks for calling,", "how can I help?"]


# Deepgram's SRT (deepgram-captions): a '[speaker N]' line of its own when the speaker changes
DIARIZED_SRT = f"""\
1
00:00:01,000 --> 00:00:02,500
[speaker 0]
Thanks for calling,

2
00:00:02,500 --> 00:00:03,500
how can I help?

3
00:00:04,000 --> 00:00:09,000
[speaker 1]
{ANGRY}

4
00:00:11,500 --> 00:00:14,000
[speaker 0]
{ASK}
"""


def test_a_bracketed_speaker_line_is_a_label_with_the_speaker_map(tmp_path: Path) -> None:
    path = write(tmp_path, "dg.srt", DIARIZED_SRT)
    assert [s for s, _, _, _ in turns(path, "speaker 0=agent,speaker 1=customer")] == [AGENT, AGENT, CUSTOMER, AGENT]
    code, events, err = replay(path)  # without it: whose side is not known, and what to write is said
    line = one_line_error(err)
    assert code == 4 and f"{path}:3: '[speaker 0]' is not a side of the call" in line
    assert "--speaker-map 'speaker 0=agent,speaker 1=customer'" in line and not events
    code, events, err = replay(path, "--speaker-map", "speaker 0=agent,speaker 1=customer")
    assert code == 0 and [e["rule"] for e in events if e["type"] == "nudge"] == ["angry-no-apology"], err
    # a side word in brackets is a label; a sound in brackets is still a sound
    srt = DIARIZED_SRT.replace("[speaker 0]", "[Agent]").replace("[speaker 1]", "(Customer)")
    srt = srt.replace("how can I help?", "[customer laughs]\nhow can I help?")
    assert turns(write(tmp_path, "sides.srt", srt)) == turns(path, "speaker 0=agent,speaker 1=customer")
    # a '>>' alone on its line: the words under it are a new speaker's
    srt = DIARIZED_SRT.replace("[speaker 1]", ">>")
    with pytest.raises(BadInput, match=r"marked\.srt:13: the cue marks a new speaker"):
        list(read_transcript(write(tmp_path, "marked.srt", srt), parse_speaker_map("speaker 0=agent")))


def read_transcript_until_error(path: Path) -> list:
    read = []
    try:
        for u in read_transcript(path):
            read.append(u)
    except BadInput:
        pass
    return read


@pytest.mark.parametrize(
    "name, content, line",
    [("named.txt", NAMED_TXT, 1), ("named.srt", NAMED_SRT, 3), ("named.vtt", NAMED_VTT, 4)],
)
def test_names_read_as_sides_with_the_speaker_map_only(tmp_path: Path, name: str, content: str, line: int) -> None:
    path = write(tmp_path, name, content)
    assert [(s, t) for s, t, *_ in turns(path, PEOPLE)] == [(AGENT, HELLO), (CUSTOMER, ANGRY), (AGENT, ASK)]
    code, events, err = replay(path)
    message = one_line_error(err)
    assert code == 4 and f"{path}:{line}:" in message and "is not a side" in message
    assert "--speaker-map 'Julie=agent'" in message
    assert not [e for e in events if e["type"] == "utterance"]


def test_a_mapped_name_wins_and_side_words_still_work(tmp_path: Path) -> None:
    path = write(tmp_path, "call.txt", "Support: Hello.\nCaller: Hi.\nJulie (Agent): Go on.\n")
    assert [s for s, *_ in turns(path, "support=customer")] == [CUSTOMER, CUSTOMER, AGENT]


def test_a_bad_speaker_map_is_a_usage_error(tmp_path: Path) -> None:
    for text, problem in [
        ("Julie", "is not NAME=SIDE"),
        ("Julie=boss", "'boss' (for 'Julie') is not a side"),
        ("Julie=agent,julie=customer", "both sides"),
        (",", "names nobody"),
    ]:
        with pytest.raises(UsageError, match=re.escape(problem)):
            parse_speaker_map(text)
    assert parse_speaker_map(" Mr  Jones = Caller , Julie=rep") == (("mr jones", CUSTOMER), ("julie", AGENT))
    srt = write(tmp_path, "call.srt", SRT)
    assert replay(srt, "--speaker-map", "Julie")[0] == 2
    jsonl = write(tmp_path, "call.jsonl", '{"speaker": "agent", "text": "Hello."}\n')
    code, _, err = replay(jsonl, "--speaker-map", "Julie=agent")
    assert code == 2 and "--speaker-map is for" in err


def test_names_match_caselessly_as_unicode_folds_them(tmp_path: Path) -> None:
    """A name and its capitals are one name however the script writes them: German 'ß' is 'SS' in
    capitals, Armenian 'և' is 'ԵՒ'. Lower case alone made 'STRASSE' another person than 'Straße'
    (lower() keeps 'ß' and 'և'); names are composed, case-folded and composed again."""
    assert parse_speaker_map("Straße=agent,ՍԵՒԱԿ=customer") == (("strasse", AGENT), ("սեւակ", CUSTOMER))
    with pytest.raises(UsageError, match="both sides"):
        parse_speaker_map("Straße=agent,STRASSE=customer")
    txt = f"STRASSE: {HELLO}\nՍևակ: {ANGRY}\nStraße: {ASK}\n"
    for people in ("Straße=agent,ՍԵՒԱԿ=customer", "STRASSE=agent,Սևակ=customer", "strasse=agent,սևակ=customer"):
        assert [(s, t) for s, t, *_ in turns(write(tmp_path, "call.txt", txt), people)] == [
            (AGENT, HELLO),
            (CUSTOMER, ANGRY),
            (AGENT, ASK),
        ], people
    # a name of four words is found by the speaker map's own pattern, not as a side's few words
    long = f"Frau Dr. Anna Strauß: {HELLO}\nCustomer: {ANGRY}\nFRAU DR. ANNA STRAUSS: {ASK}\n"
    got = turns(write(tmp_path, "long.txt", long), "frau dr. anna strauss=agent")
    assert [(s, t) for s, t, *_ in got] == [(AGENT, HELLO), (CUSTOMER, ANGRY), (AGENT, ASK)]
    # captions: a WebVTT voice and a label in brackets on a line of its own
    vtt = NAMED_VTT.replace("<v Julie>", "<v GROSS>").replace("Speaker 2", "Սևակ")
    assert turns(write(tmp_path, "call.vtt", vtt), "Groß=agent,ՍԵՒԱԿ=customer") == CALL_TURNS
    srt = SRT.replace("Agent: ", "[STRASSE]\n").replace("Customer: ", "[Սևակ]\n").replace("Rep: ", "[Straße]\n")
    assert turns(write(tmp_path, "call.srt", srt), "Straße=agent,ՍԵՒԱԿ=customer") == CALL_TURNS
    # a dotted capital I and its lower case written as 'i' with a combining dot are one letter too
    dotted = f"İpek: {HELLO}\ni\u0307pek: {ASK}\n"
    assert [s for s, *_ in turns(write(tmp_path, "dotted.txt", dotted), "İPEK=agent")] == [AGENT, AGENT]


# names written surname first, as directories and CRM exports write them
COMMA_TXT = f"Smith, Julie: {HELLO}\nJones, Bob: {ANGRY}\nSmith, Julie: {ASK}\n"
COMMA_MAP = '"Smith, Julie"=agent, "Jones, Bob" = customer'


def test_a_name_with_a_comma_is_quoted_in_the_speaker_map(tmp_path: Path) -> None:
    assert parse_speaker_map(COMMA_MAP) == (("smith, julie", AGENT), ("jones, bob", CUSTOMER))
    assert parse_speaker_map('"a=b"=agent,Julie="rep"') == (("a=b", AGENT), ("julie", AGENT))
    for text, problem, hint in [
        ('"Smith, Julie=agent', "a double quote is not closed", "quote a whole name, both ends"),
        ('Smith "J" Julie=agent', "double quotes go around a whole name", "quote a whole name, both ends"),
        ("Smith, Julie=agent", "'Smith' is not NAME=SIDE", "a name with a comma goes in double quotes"),
    ]:
        with pytest.raises(UsageError) as exc:
            parse_speaker_map(text)
        assert problem in exc.value.one_line() and hint in exc.value.one_line()
        assert """--speaker-map '"Smith, Julie"=agent'""" in exc.value.one_line()
    with pytest.raises(UsageError) as exc:  # no comma, no talk of quotes
        parse_speaker_map("Julie")
    assert "double quotes" not in exc.value.one_line()
    # through the readers: a .txt turn, a WebVTT voice, an SRT label
    txt = write(tmp_path, "call.txt", COMMA_TXT)
    assert [(s, t) for s, t, _, _ in turns(txt, COMMA_MAP)] == [(AGENT, HELLO), (CUSTOMER, ANGRY), (AGENT, ASK)]
    vtt = write(
        tmp_path, "call.vtt", NAMED_VTT.replace("<v Julie>", "<v Smith, Julie>").replace("Speaker 2", "Jones, Bob")
    )
    assert turns(vtt, COMMA_MAP) == CALL_TURNS
    srt = write(tmp_path, "call.srt", SRT.replace("Agent:", "Smith, Julie:").replace("Customer:", "Jones, Bob:"))
    assert turns(srt, COMMA_MAP) == CALL_TURNS
    # and the command line: the angry customer is nudged; a quote left open is a usage error
    code, events, err = replay(txt, "--speaker-map", COMMA_MAP)
    assert code == 0 and [e["rule"] for e in events if e["type"] == "nudge"] == ["angry-no-apology"], err
    code, _, err = replay(txt, "--speaker-map", '"Smith, Julie=agent')
    assert code == 2 and "a double quote is not closed" in one_line_error(err)


def test_an_unnamed_comma_name_stops_rather_than_running_on(tmp_path: Path) -> None:
    """'Jones, Bob: …' is no label the readers know (a side has no comma): without this it went on
    the turn before, the customer's words read as the agent's."""
    txt = write(tmp_path, "call.txt", COMMA_TXT)
    code, events, err = replay(txt, "--speaker-map", '"Smith, Julie"=agent')
    line = one_line_error(err)
    assert code == 4 and f"{txt}:2: 'Jones, Bob' is not a side of the call" in line
    assert """--speaker-map '"Jones, Bob"=agent'""" in line
    assert [e["text"] for e in events if e["type"] == "utterance"] == [HELLO]
    with pytest.raises(BadInput, match=r"call\.txt:1: 'Smith, Julie' is not a side"):
        list(read_transcript(txt))
    assert """--speaker-map '"Smith, Julie"=agent'""" in str(not_a_transcript(txt))  # what qa says as it skips it
    srt = write(tmp_path, "call.srt", SRT.replace("Customer:", "Jones, Bob:"))
    with pytest.raises(BadInput, match=r"call\.srt:7: 'Jones, Bob' is not a side"):
        list(read_transcript(srt))
    # a wrapped line that reads like a sentence is still the turn's words
    wrapped = write(tmp_path, "wrapped.txt", f"Agent: {HELLO}\nWell, I think: yes.\n")
    assert [t for _, t, _, _ in turns(wrapped)] == [f"{HELLO} Well, I think: yes."]


def test_qa_runs_a_folder_of_mixed_formats_and_skips_what_is_not_a_call(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    write(calls, "ca.json", CALL_ANALYTICS)
    write(calls, "cl.json", CONTACT_LENS)
    write(calls, "cap.vtt", VTT)
    write(calls, "sub.srt", SRT)
    write(calls, "named.txt", NAMED_TXT)
    write(calls, "plain.jsonl", "".join(json.dumps({"speaker": s, "text": t}) + "\n" for s, t in (("agent", HELLO),)))
    write(calls, "settings.json", {"team": "north", "week": 47})
    out, err = io.StringIO(), io.StringIO()
    argv = ["qa", str(calls), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    assert main(argv, out, err) == 0, err.getvalue()
    warnings = err.getvalue()
    assert "settings.json: skipped (a .json file that is not an Amazon Transcribe" in warnings
    assert "named.txt: skipped" in warnings and "--speaker-map 'Julie=agent'" in warnings
    rows = {r["call"]: r for r in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    assert set(rows) == {"ca", "cl", "cap", "sub", "plain"}
    assert all(r["status"] == "done" for r in rows.values())
    for call in ("ca", "cl", "cap", "sub"):
        assert int(rows[call]["nudges:angry-no-apology"]) == 1, call
    # with the people named, the named transcript is a call too, and its sides are right
    argv = ["qa", str(calls), "--out", str(tmp_path / "out2"), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    err = io.StringIO()
    assert main([*argv, "--speaker-map", PEOPLE], io.StringIO(), err) == 0, err.getvalue()
    rows = {r["call"]: r for r in csv.DictReader((tmp_path / "out2" / "summary.csv").open())}
    assert rows["named"]["status"] == "done" and int(rows["named"]["nudges:angry-no-apology"]) == 1


def test_a_speaker_map_changes_a_transcripts_qa_key(tmp_path: Path) -> None:
    """A finished call is redone when the people named change (its sides may have)."""
    from rapport_assist.qa.cache import call_key
    from rapport_assist.qa.inputs import discover

    write(tmp_path, "named.txt", NAMED_TXT)
    keys = []
    for people in (PEOPLE, "Julie=agent,Mr. Jones=agent,Speaker 2=caller"):
        (call,), _ = discover([tmp_path], speaker_map=parse_speaker_map(people))
        keys.append(call_key(call, {}))
    write(tmp_path, "plain.srt", SRT)
    calls, _ = discover([tmp_path / "plain.srt"])
    assert keys[0] != keys[1] and call_key(calls[0], {}) == call_key(calls[0], {"model": "ignored"})


def test_eval_and_explain_read_the_new_formats(tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    write(folder, "ca.json", CALL_ANALYTICS)
    write(folder, "cap.vtt", VTT)
    write(folder, "named.txt", NAMED_TXT)
    write(folder, "labels.json", {"not": "a call"})  # skipped, as a note is
    labels = write(tmp_path, "labels.json", {"ca": {"angry-no-apology": [2]}, "named": {"angry-no-apology": [2]}})
    out, err = io.StringIO(), io.StringIO()
    argv = ["eval", str(folder), "--labels", str(labels), "--rule", "angry-no-apology", "--format", "json"]
    assert main([*argv, "--speaker-map", PEOPLE], out, err) == 0, err.getvalue()
    (rule,) = json.loads(out.getvalue())["rules"]
    assert rule["conversation_level"]["tp"] == 2 and rule["conversation_level"]["fp"] == 0
    out, err = io.StringIO(), io.StringIO()
    code = main(["rules", "explain", "--rule", "angry-no-apology", str(folder / "cap.vtt")], out, err)
    assert code == 0, err.getvalue()
    assert "angry-no-apology fired 1 time: #3" in out.getvalue()


def test_a_cue_that_only_describes_a_sound_says_no_words(tmp_path: Path) -> None:
    """Caption files mark music, holds and unclear speech as cues of their own, with no speaker:
    they are not turns, and they do not stop the read."""
    srt = (
        "1\n00:00:00,500 --> 00:00:01,000\n[hold music]\n\n"
        f"2\n00:00:01,000 --> 00:00:03,500\nAgent: {HELLO}\n\n"
        "3\n00:00:03,600 --> 00:00:03,900\n(inaudible)\n\n"
        "4\n00:00:03,900 --> 00:00:04,000\n♪ ♪\n\n"
        f"5\n00:00:04,000 --> 00:00:09,000\nCustomer: {ANGRY}\n"
    )
    utts = list(read_transcript(write(tmp_path, "call.srt", srt)))
    assert [(u.speaker, u.text) for u in utts] == [(AGENT, HELLO), (CUSTOMER, ANGRY)]


# ---------------------------------------------------------------------------- plain Amazon Transcribe jobs


def job_items(text: str, start: float, end: float, **label: str) -> list[dict]:
    """``text`` as Transcribe items: one per word, timed evenly from ``start`` to ``end`` (times as
    strings), its punctuation as items of their own with no time; ``label``: channel_label or
    speaker_label, written on every item as newer outputs do."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    out: list[dict] = []
    for k, token in enumerate(tokens):
        word = token.rstrip(",.?!")
        t0, t1 = round(start + k * step, 3), round(start + (k + 1) * step, 3)
        out.append(
            {
                **label,
                "start_time": str(t0),
                "end_time": str(t1),
                "alternatives": [{"confidence": "0.98", "content": word}],
                "type": "pronunciation",
            }
        )
        out += [
            {**label, "alternatives": [{"confidence": "0.0", "content": p}], "type": "punctuation"}
            for p in token[len(word) :]
        ]
    return out


def number_items(items: list[dict]) -> list[dict]:
    return [{"id": k, **item} for k, item in enumerate(items)]


# Channel identification as in https://docs.aws.amazon.com/transcribe/latest/dg/channel-id-output-batch.html:
# each channel's words listed under channel_labels, one channel after the other (not in call order).
JOB_CHANNELS = {
    "jobName": "call-0412",
    "accountId": "000000000000",
    "status": "COMPLETED",
    "results": {
        "transcripts": [{"transcript": f"{HELLO} {ANGRY} {ASK}"}],
        "channel_labels": {
            "number_of_channels": 2,
            "channels": [
                {
                    "channel_label": "ch_0",
                    "items": job_items(HELLO, 1.0, 3.5, channel_label="ch_0")
                    + job_items(ASK, 11.5, 14.0, channel_label="ch_0"),
                },
                {"channel_label": "ch_1", "items": job_items(ANGRY, 4.0, 9.0, channel_label="ch_1")},
            ],
        },
        "items": [],  # an older output: the words are under channel_labels only
    },
}

# A newer output: each item labelled, and audio_segments that split the customer's turn in two
# sentences with no pause between them (words alone would make it one utterance).
ANGRY_1, ANGRY_2 = "This is ridiculous!", "I have called three times and nobody has fixed my bill."
_NEW_ITEMS = number_items(
    job_items(HELLO, 1.0, 3.5, channel_label="ch_0")
    + job_items(ANGRY_1, 4.0, 5.5, channel_label="ch_1")
    + job_items(ANGRY_2, 5.5, 9.0, channel_label="ch_1")
    + job_items(ASK, 11.5, 14.0, channel_label="ch_0")
)
JOB_SEGMENTS = {
    "jobName": "call-0413",
    "results": {
        "transcripts": [{"transcript": f"{HELLO} {ANGRY} {ASK}"}],
        "items": _NEW_ITEMS,
        "audio_segments": [
            {
                "id": 0,
                "transcript": HELLO,
                "start_time": "1.0",
                "end_time": "3.5",
                "channel_label": "ch_0",
                "items": [0],
            },
            {
                "id": 1,
                "transcript": ANGRY_1,
                "start_time": "4.0",
                "end_time": "5.5",
                "channel_label": "ch_1",
                "items": [1],
            },
            {
                "id": 2,
                "transcript": ANGRY_2,
                "start_time": "5.5",
                "end_time": "9.0",
                "channel_label": "ch_1",
                "items": [2],
            },
            {
                "id": 3,
                "transcript": ASK,
                "start_time": "11.5",
                "end_time": "14.0",
                "channel_label": "ch_0",
                "items": [3],
            },
        ],
    },
}

# Speaker partitioning of a mono call (https://docs.aws.amazon.com/transcribe/latest/dg/diarization-output-batch.html),
# the newer shape: a speaker_label on each item.
JOB_SPEAKERS = {
    "jobName": "call-0414",
    "results": {
        "transcripts": [{"transcript": f"{HELLO} {ANGRY} {ASK}"}],
        "speaker_labels": {"channel_label": "ch_0", "speakers": 2, "segments": []},
        "items": number_items(
            job_items(HELLO, 1.0, 3.5, speaker_label="spk_0")
            + job_items(ANGRY, 4.0, 9.0, speaker_label="spk_1")
            + job_items(ASK, 11.5, 14.0, speaker_label="spk_0")
        ),
    },
}
SPEAKERS_MAP = "spk_0=agent,spk_1=customer"


def test_transcribe_channels_are_the_sides_in_call_order(tmp_path: Path) -> None:
    path = write(tmp_path, "job.json", JOB_CHANNELS)
    utts = list(read_transcript(path))
    assert [(u.speaker, u.text, u.start_s, u.end_s) for u in utts] == CALL_TURNS  # punctuation on its word
    assert [u.index for u in utts] == [0, 1, 2] and not any(u.timing_estimated for u in utts)
    # a call recorded the other way round says so
    swapped = [(CUSTOMER if s is AGENT else AGENT, *rest) for s, *rest in CALL_TURNS]
    assert turns(path, "ch_0=customer,ch_1=agent") == swapped
    # or with --channels, as for its recording; a channel named in --speaker-map wins
    code, events, err = replay(path, "--channels", "customer,agent")
    assert code == 0, err
    said = [(e["speaker"], e["text"]) for e in events if e["type"] == "utterance"]
    assert said == [(s.value, text) for s, text, *_ in swapped]
    code, events, err = replay(path, "--channels", "customer,agent", "--speaker-map", "ch_0=agent")
    assert [e["speaker"] for e in events if e["type"] == "utterance"] == ["agent", "agent", "agent"]


def test_transcribe_audio_segments_are_preferred_to_the_words(tmp_path: Path) -> None:
    path = write(tmp_path, "job.json", JOB_SEGMENTS)
    assert turns(path) == [
        (AGENT, HELLO, 1.0, 3.5),
        (CUSTOMER, ANGRY_1, 4.0, 5.5),
        (CUSTOMER, ANGRY_2, 5.5, 9.0),
        (AGENT, ASK, 11.5, 14.0),
    ]
    # the same words without their segments: one customer turn, as it ran on without a pause
    words_only = {"results": {**JOB_SEGMENTS["results"], "audio_segments": []}}
    assert turns(write(tmp_path, "words.json", words_only)) == CALL_TURNS


def test_a_pause_splits_a_speakers_words(tmp_path: Path) -> None:
    items = (
        job_items("Let me check that.", 1.0, 2.0, channel_label="ch_0")
        + job_items("Okay, found it.", 2.9, 4.0, channel_label="ch_0")  # 0.9 s: the same utterance
        + job_items("Your refund went out today.", 5.5, 7.0, channel_label="ch_0")  # 1.5 s: a new one
    )
    path = write(tmp_path, "job.json", {"results": {"items": number_items(items)}})
    assert turns(path) == [
        (AGENT, "Let me check that. Okay, found it.", 1.0, 4.0),
        (AGENT, "Your refund went out today.", 5.5, 7.0),
    ]


def test_transcribe_speakers_need_the_speaker_map(tmp_path: Path) -> None:
    path = write(tmp_path, "job.json", JOB_SPEAKERS)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}: Amazon Transcribe's speaker labels spk_0, spk_1" in line
    assert "--speaker-map 'spk_0=agent,spk_1=customer'" in line and not events
    assert turns(path, SPEAKERS_MAP) == CALL_TURNS
    assert turns(path, "SPK_0=customer,spk_1=agent")[0][0] is CUSTOMER  # labels in any case
    # a map that leaves one out says which, and writes the whole option
    with pytest.raises(BadInput) as exc:
        list(read_transcript(path, parse_speaker_map("spk_0=agent")))
    assert "no side to spk_1) — name the sides: --speaker-map 'spk_0=agent,spk_1=customer'" in exc.value.one_line()
    # the older shape: only speaker_labels.segments say who spoke when
    old = json.loads(json.dumps(JOB_SPEAKERS))
    for item in old["results"]["items"]:
        del item["speaker_label"]
    old["results"]["speaker_labels"]["segments"] = [
        {"start_time": "1.0", "end_time": "3.5", "speaker_label": "spk_0", "items": []},
        {"start_time": "4.0", "end_time": "9.0", "speaker_label": "spk_1", "items": []},
        {"start_time": "11.5", "end_time": "14.0", "speaker_label": "spk_0", "items": []},
    ]
    assert turns(write(tmp_path, "old.json", old), SPEAKERS_MAP) == CALL_TURNS


@pytest.mark.parametrize(
    "name, content, options",
    [
        ("channels.json", JOB_CHANNELS, ()),
        ("segments.json", JOB_SEGMENTS, ()),
        ("speakers.json", JOB_SPEAKERS, ("--speaker-map", SPEAKERS_MAP)),
    ],
)
def test_an_angry_customer_of_a_transcribe_job_is_nudged(tmp_path: Path, name: str, content, options) -> None:
    code, events, err = replay(write(tmp_path, name, content), *options)
    assert code == 0, err
    said = [(e["speaker"], e["text"]) for e in events if e["type"] == "utterance"]
    assert said[0] == ("agent", HELLO) and said[-1] == ("agent", ASK)
    nudges = [e for e in events if e["type"] == "nudge"]
    assert [n["rule"] for n in nudges if n["rule"] == "angry-no-apology"] == ["angry-no-apology"]


def test_a_bad_transcribe_job_says_where_and_what_to_do(tmp_path: Path) -> None:
    # a single-speaker job: no channel or speaker labels at all
    plain = {"results": {"items": number_items(job_items(HELLO, 1.0, 3.5) + job_items(ANGRY, 4.0, 9.0))}}
    path = write(tmp_path, "single.json", plain)
    code, events, err = replay(path)
    line = one_line_error(err)
    assert code == 4 and f"{path}: the Amazon Transcribe job labelled no channels or speakers" in line
    assert "channel identification" in line and not events
    # an item with no word: named by its place in the JSON, after the utterances before it
    broken = json.loads(json.dumps(JOB_SPEAKERS))
    bad = next(k for k, item in enumerate(broken["results"]["items"]) if item["speaker_label"] == "spk_0" and k > 20)
    broken["results"]["items"][bad]["alternatives"] = []
    path = write(tmp_path, "broken.json", broken)
    code, events, err = replay(path, "--speaker-map", SPEAKERS_MAP)
    line = one_line_error(err)
    assert code == 4 and f"{path}: results.items[{bad}]: no word (no alternatives[0].content)" in line
    assert [e["text"] for e in events if e["type"] == "utterance"] == [HELLO, ANGRY]  # kept


def test_qa_reads_a_transcribe_job_among_other_json(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    write(calls, "job.json", JOB_CHANNELS)
    write(calls, "results.json", {"results": [1, 2, 3]})  # has 'results', but not a job's
    write(calls, "settings.json", {"team": "north"})
    out, err = io.StringIO(), io.StringIO()
    argv = ["qa", str(calls), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    assert main(argv, out, err) == 0, err.getvalue()
    warnings = err.getvalue()
    assert "settings.json: skipped" in warnings and "results.json: skipped" in warnings
    rows = {r["call"]: r for r in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    assert set(rows) == {"job"} and rows["job"]["status"] == "done"
    assert int(rows["job"]["nudges:angry-no-apology"]) == 1
    # recorded the other way round: the angry words are the agent's, and the finished call is redone
    err = io.StringIO()
    assert main([*argv, "--channels", "customer,agent"], io.StringIO(), err) == 0, err.getvalue()
    rows = {r["call"]: r for r in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    assert rows["job"]["status"] == "done" and int(rows["job"].get("nudges:angry-no-apology") or 0) == 0


def test_eval_and_explain_read_transcribe_jobs(tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    write(folder, "channels.json", JOB_CHANNELS)
    write(folder, "speakers.json", JOB_SPEAKERS)
    labels = write(
        tmp_path, "labels.json", {"channels": {"angry-no-apology": [2]}, "speakers": {"angry-no-apology": [2]}}
    )
    argv = ["eval", str(folder), "--labels", str(labels), "--rule", "angry-no-apology", "--format", "json"]
    for options, tp in (
        (("--speaker-map", SPEAKERS_MAP), 2),
        (("--speaker-map", SPEAKERS_MAP, "--channels", "customer,agent"), 1),
    ):
        out, err = io.StringIO(), io.StringIO()
        assert main([*argv, *options], out, err) == 0, err.getvalue()
        (rule,) = json.loads(out.getvalue())["rules"]
        assert rule["conversation_level"]["tp"] == tp, options  # swapped channels: the call's customer is calm
    out, err = io.StringIO(), io.StringIO()
    explain = ["rules", "explain", "--rule", "angry-no-apology", str(folder / "speakers.json")]
    assert main([*explain, "--speaker-map", SPEAKERS_MAP], out, err) == 0, err.getvalue()
    assert "angry-no-apology fired 1 time: #2" in out.getvalue()


def test_a_sound_said_by_a_voice_or_label_is_no_turn_either(tmp_path: Path) -> None:
    """'<v Customer>[sighs]' or 'Agent: (inaudible)' only describes a sound too: no turn of its own
    (it was read as an utterance '[sighs]'); the voice still carries to the cue after it."""
    vtt = (
        f"WEBVTT\n\n00:01.000 --> 00:03.500\n<v Agent>{HELLO}\n\n"
        "00:03.500 --> 00:03.900\n<v Customer>[sighs]</v>\n\n"
        f"00:04.000 --> 00:09.000\n{ANGRY}\n\n"
        "00:09.000 --> 00:11.000\nAgent: (inaudible)\n\n"
        f"00:11.500 --> 00:14.000\nAgent: {ASK}\n"
    )
    assert turns(write(tmp_path, "call.vtt", vtt)) == CALL_TURNS


def test_amazon_json_of_odd_shapes_is_bad_input_not_a_crash(tmp_path: Path) -> None:
    """Valid JSON that no Amazon product writes still ends with a one-line error (exit 4), not an
    internal error: a ParticipantId that is a list, a time too large for a float, nesting deeper
    than the JSON reader goes."""
    cases = {
        "id_list.json": ({"Transcript": [{"ParticipantId": ["a1"], "Content": HELLO}]}, "segment 1: participant"),
        "huge_ms.json": (
            '{"Transcript": [{"ParticipantRole": "AGENT", "Content": "hi", "BeginOffsetMillis": ' + "9" * 400 + "}]}",
            "segment 1: 'BeginOffsetMillis' must be a number",
        ),
        "huge_s.json": (
            '{"results": {"items": [{"type": "pronunciation", "start_time": ' + "9" * 400 + ', "end_time": "1", '
            '"alternatives": [{"content": "hi"}], "channel_label": "ch_0"}]}}',
            "results.items[0]: 'start_time' must be a number",
        ),
        "deep.json": ("[" * 100_000 + "]" * 100_000, "nested"),
    }
    for name, (content, said) in cases.items():
        path = write(tmp_path, name, content)
        code, _, err = replay(path)
        line = one_line_error(err)
        assert code == 4 and f"{path}" in line and said in line, (name, err)
    assert not_a_transcript(tmp_path / "deep.json") is None  # qa's look at a folder: a call that fails, not a crash


def test_a_contact_lens_participant_listed_without_a_role_is_named(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(CONTACT_LENS))
    doc["Participants"].append({"ParticipantId": "sup-7"})
    doc["Transcript"].append({"ParticipantId": "sup-7", "Content": "Joining the call.", "BeginOffsetMillis": 15000})
    code, _, err = replay(write(tmp_path, "call.json", doc))
    assert code == 4 and "segment 5: participant 'sup-7'" in one_line_error(err)  # said 'no ParticipantId'


def test_a_cue_right_under_the_webvtt_header_is_read(tmp_path: Path) -> None:
    """With no blank line after 'WEBVTT' (or its metadata), WebVTT's own parser ends the header at
    the first time line and reads the cue there; it was skipped with the header, silently."""
    cues = f"00:01.000 --> 00:03.500\n<v Agent>{HELLO}\n\n00:04.000 --> 00:09.000\n<v Customer>{ANGRY}\n"
    for name, head in (("bare.vtt", "WEBVTT\n"), ("meta.vtt", "WEBVTT\nKind: captions\nLanguage: en\n")):
        assert turns(write(tmp_path, name, head + cues)) == CALL_TURNS[:2], name
    # a comment's first line before a time line is that cue's id, as in WebVTT
    assert turns(write(tmp_path, "note.vtt", "WEBVTT\n\nNOTE\n" + cues)) == CALL_TURNS[:2]


def test_a_backchannel_on_the_other_channel_does_not_cut_a_sentence(tmp_path: Path) -> None:
    """With channel identification each side has its own channel, as in a stereo recording: the
    customer's 'mm-hmm' while the agent talks overlaps the agent's utterance, as the recording's
    would, instead of cutting it in two ('I will look into your' | 'account …'). The same call's
    audio_segments (newer outputs) are per channel too. Speakers of a mono call still take turns."""
    promise = "I will look into your account and call you back tomorrow."
    items = job_items(promise, 1.0, 5.0, channel_label="ch_0") + job_items("mm-hmm", 2.5, 2.8, channel_label="ch_1")
    for name, doc in (
        ("items.json", {"results": {"items": number_items(items)}}),
        (
            "channels.json",
            {
                "results": {
                    "channel_labels": {
                        "channels": [
                            {"channel_label": "ch_0", "items": items[:-1]},
                            {"channel_label": "ch_1", "items": items[-1:]},
                        ]
                    },
                    "items": [],
                }
            },
        ),
    ):
        assert turns(write(tmp_path, name, doc)) == [(AGENT, promise, 1.0, 5.0), (CUSTOMER, "mm-hmm", 2.5, 2.8)], name
    spoken = [{**item, "speaker_label": item["channel_label"].replace("ch", "spk")} for item in items]
    for item in spoken:
        del item["channel_label"]
    path = write(tmp_path, "speakers.json", {"results": {"items": number_items(spoken)}})
    assert [u.speaker for u in read_transcript(path, parse_speaker_map(SPEAKERS_MAP))] == [AGENT, CUSTOMER, AGENT]


def test_a_long_job_of_the_older_speaker_shape_reads_whole_with_each_word_to_its_speaker(tmp_path: Path) -> None:
    """A long call of the older diarization shape (20,000 speaker segments): every word reaches
    its speaker, and a word that starts where one segment ends and the next begins (words often
    touch) is the next one's, the new speaker's: it was the one before's. Its words were once
    looked up by scanning every segment, minutes for this call; no time is asserted here (the
    test would take those minutes again), the lookup is a binary search."""
    items, segments, t = [], [], 0.0
    for n in range(20000):
        start = t
        for k in range(4):
            items.append(
                {"start_time": f"{t:.2f}", "end_time": f"{t + 0.25:.2f}", "type": "pronunciation",
                 "alternatives": [{"content": f"w{k}"}]}
            )  # fmt: skip
            t += 0.25  # each word ends where the next begins
        segments.append({"start_time": f"{start:.2f}", "end_time": f"{t:.2f}", "speaker_label": f"spk_{n % 2}"})
    job = {"results": {"items": items, "speaker_labels": {"speakers": 2, "segments": segments}}}
    path = write(tmp_path, "long.json", job)
    utts = list(read_transcript(path, parse_speaker_map(SPEAKERS_MAP)))
    assert len(utts) == 20000 and [u.speaker for u in utts[:3]] == [AGENT, CUSTOMER, AGENT]
    assert {u.text for u in utts} == {"w0 w1 w2 w3"}


def test_call_analytics_segments_come_in_the_order_they_began(tmp_path: Path) -> None:
    """Segments listed one participant after the other (as a merge of two channels' files lists
    them) were replayed as listed, times going back: the customer's anger came after the agent's
    next turn, and no nudge fired. The other .json readers put theirs in call order."""
    doc = json.loads(json.dumps(CALL_ANALYTICS))
    doc["Transcript"] = [s for s in doc["Transcript"] if s["ParticipantRole"] == "AGENT"] + [
        s for s in doc["Transcript"] if s["ParticipantRole"] == "CUSTOMER"
    ]
    path = write(tmp_path, "call.json", doc)
    utts = list(read_transcript(path))
    assert [(u.speaker, u.text, u.start_s, u.end_s) for u in utts] == CALL_TURNS
    assert [u.index for u in utts] == [0, 1, 2]
    code, events, err = replay(path)
    assert code == 0 and [e["rule"] for e in events if e["type"] == "nudge"] == ["angry-no-apology"], err
