"""The spoken development set: its generator (scripts/make_spoken_dev.py), the time matching that
puts audio-route nudges on labelled turns, WER, and ``rapport-assist eval`` on a spoken set.

The dialogues are written here (not read from ../shared). The generator needs espeak-ng and
flite (scripts/setup.sh installs both): when one is missing these tests fail and say how to
install it. The last test recognizes a generated call with the real tiny.en model.
"""

from __future__ import annotations

import importlib.util
import io
import json
import random
import shutil
import sys
from pathlib import Path

import jiwer
import numpy as np
import pytest

from rapport_assist.cli import main
from rapport_assist.evaluate import CallResult, Conversation
from rapport_assist.spoken_eval import (
    SpokenDialogue,
    _tone,
    _wer,
    nudge_on_turns,
    read_spoken_set,
    turn_at,
    utterance_turns,
)
from rapport_assist.types import Evidence, Nudge, Speaker, ToneEstimate, Utterance, UtteranceSignals
from rapport_assist.wer import measure, normalize, word_errors

ROOT = Path(__file__).resolve().parent.parent
RATE = 8000


def _generator():
    for tool in ("espeak-ng", "flite"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed; it is a required test dependency: run 'make setup'")
    spec = importlib.util.spec_from_file_location("make_spoken_dev", ROOT / "scripts" / "make_spoken_dev.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_spoken_dev", module)
    spec.loader.exec_module(module)
    return module


# Two tiny labelled dialogues. In the first the customer's second turn is angry (the turn before
# the angry-no-apology label) and the first is a calm two-sentence complaint.
DIALOGUES = [
    {
        "id": "t1",
        "turns": [
            {"speaker": "agent", "text": "Thank you for calling, this is Sam. How can I help you today?"},
            {
                "speaker": "customer",
                "text": "My internet stopped working this morning. The light on the router is red.",
            },
            {"speaker": "agent", "text": "You need to restart the router and wait two minutes."},
            {"speaker": "customer", "text": "I did that three times already. This is the third time I am calling."},
            {"speaker": "agent", "text": "The line looks fine on our side."},
            {"speaker": "customer", "text": "Okay. Thank you, goodbye."},
        ],
        "labels": {"angry-no-apology": [4], "you-not-we": [2]},
        "hard_negatives": {"you-not-we": [0]},
        "notes": "",
    },
    {
        "id": "t2",
        "turns": [
            {"speaker": "agent", "text": "Good morning, how can I help?"},
            {"speaker": "customer", "text": "I would like to change the date of my delivery."},
            {"speaker": "agent", "text": "Of course. Let's find a new date together."},
        ],
        "labels": {"you-not-we": []},
        "notes": "",
    },
]


def _dbfs(x: np.ndarray) -> float:
    return 10 * np.log10(float(np.mean(np.square(x.astype(np.float64) / 32768.0))) + 1e-12)


def _active_dbfs(x: np.ndarray) -> float:
    """Level of the loudest 20 ms frames (the top quarter): the speech, not its pauses."""
    frames = x[: x.size // 160 * 160].astype(np.float64).reshape(-1, 160) / 32768.0
    power = np.sort(np.mean(frames**2, axis=1))[::-1]
    return 10 * np.log10(float(np.mean(power[: max(1, power.size // 4)])) + 1e-12)


def _peak_frame_dbfs(x: np.ndarray) -> float:
    frames = x[: x.size // 160 * 160].astype(np.float64).reshape(-1, 160) / 32768.0
    return 10 * np.log10(float(np.max(np.mean(frames**2, axis=1))) + 1e-12)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    gen = _generator()
    a, b = tmp_path_factory.mktemp("spoken_a"), tmp_path_factory.mktemp("spoken_b")
    gen.generate(DIALOGUES, a)
    gen.generate(DIALOGUES, b, jobs=2)  # in two processes: still the same bytes
    return a, b


def test_generator_is_deterministic(generated) -> None:
    a, b = generated
    for name in ("spoken.jsonl", "audio/t1.flac", "audio/t2.flac"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    other = _generator().render_dialogue(DIALOGUES[1], {"espeak": "espeak-ng", "flite": "flite"}, seed=1)[0]
    same = _generator().render_dialogue(DIALOGUES[1], {"espeak": "espeak-ng", "flite": "flite"}, seed=0)[0]
    assert other.shape != same.shape or not np.array_equal(other, same), "another seed gives another call"


def test_turn_times_fall_on_speech_in_the_right_channel(generated) -> None:
    from rapport_assist.audio import decode_channels

    a, _ = generated
    records = {r["id"]: r for r in map(json.loads, (a / "spoken.jsonl").read_text().splitlines())}
    for did in ("t1", "t2"):
        rec = records[did]
        assert rec["labels"] == next(d for d in DIALOGUES if d["id"] == did)["labels"]
        decoded = decode_channels(a / rec["audio"])
        pcm = (np.stack(decoded.channels) * 32767).astype(np.int16)  # 16 kHz, agent then customer
        sr = 16000
        side_of = {"agent": 0, "customer": 1}
        turns = rec["turns"]
        for i, t in enumerate(turns):
            assert t["text"] == DIALOGUES[[d["id"] for d in DIALOGUES].index(did)]["turns"][i]["text"]
            ch = side_of[t["speaker"]]
            s, e = int(t["start"] * sr), int(t["end"] * sr)
            speech = _active_dbfs(pcm[ch, s:e])
            # each side's line silence: before the call's first turn starts
            quiets = [_dbfs(pcm[k, : int(min(u["start"] for u in turns) * sr) - 800]) for k in (0, 1)]
            quiet = quiets[ch]
            assert speech > quiet + 25, (did, i, speech, quiet)
            # speech starts and ends within 200 ms of the span's edges (espeak-ng's onsets and tails are soft)
            assert _peak_frame_dbfs(pcm[ch, s : s + 3200]) > quiet + 15
            assert _peak_frame_dbfs(pcm[ch, e - 3200 : e]) > quiet + 10  # a soft final "ts"
            assert _active_dbfs(pcm[ch, max(0, s - 3200) : s - 800]) < quiet + 6 or any(
                u["start"] < t["start"] < u["end"] + 0.3 for u in turns if u["speaker"] == t["speaker"] and u is not t
            )
            # the other side is silent during the turn, but for its backchannels and overlaps
            other = 1 - ch
            busy = [(u["start"], u["end"]) for u in (*turns, *rec["backchannels"]) if side_of[u["speaker"]] == other]
            mask = np.ones(e - s, bool)
            for bs, be in busy:
                mask[max(0, int(bs * sr) - 1600 - s) : max(0, int(be * sr) + 1600 - s)] = False
            if mask.sum() > 1600:
                assert _dbfs(pcm[other, s:e][mask]) < quiets[other] + 6, (did, i)


def test_angry_turn_is_louder_and_faster_than_the_calm_one(generated) -> None:
    from rapport_assist.audio import decode_channels

    a, _ = generated
    rec = json.loads((a / "spoken.jsonl").read_text().splitlines()[0])
    assert rec["voiced_angry"] == [3]  # the customer turn before the angry-no-apology label at 4
    customer = (decode_channels(a / rec["audio"]).channels[1] * 32767).astype(np.int16)
    span = {i: customer[int(rec["turns"][i]["start"] * 16000) : int(rec["turns"][i]["end"] * 16000)] for i in (1, 3)}
    assert _active_dbfs(span[3]) > _active_dbfs(span[1]) + 5
    words_per_s = {
        i: len(rec["turns"][i]["text"].split()) / (rec["turns"][i]["end"] - rec["turns"][i]["start"]) for i in (1, 3)
    }
    assert words_per_s[3] > words_per_s[1]
    # the calm complaint has two sentences, said with a pause of 0.4-1.5 s between them
    frames = span[1][: span[1].size // 160 * 160].astype(np.float64).reshape(-1, 160)
    quiet = _dbfs(customer[: int(rec["turns"][0]["start"] * 16000) - 800])
    silent = 10 * np.log10(np.mean((frames / 32768.0) ** 2, axis=1) + 1e-12) < quiet + 6
    longest, run = 0, 0
    for s in silent:
        run = run + 1 if s else 0
        longest = max(longest, run)
    assert 0.35 <= longest * 0.01 <= 1.6, longest


def test_read_spoken_set_checks_its_input(generated, tmp_path) -> None:
    from rapport_assist.errors import RapportError

    a, _ = generated
    dialogues = read_spoken_set(a / "spoken.jsonl")
    assert [d.conversation.id for d in dialogues] == ["t1", "t2"]
    assert dialogues[0].voiced_angry == {3} and dialogues[0].conversation.labels.moments["you-not-we"] == (2,)
    broken = tmp_path / "spoken.jsonl"
    lines = (a / "spoken.jsonl").read_text().splitlines()
    broken.write_text(lines[0] + "\n")  # its audio is not beside this copy
    with pytest.raises(RapportError, match="no recording"):
        read_spoken_set(broken)


# ---------------------------------------------------------------------------- time matching


def _u(i: int, speaker: str, start: float, end: float, text: str = "x") -> Utterance:
    return Utterance(index=i, speaker=Speaker.parse(speaker), text=text, start_s=start, end_s=end)


TURNS = [
    _u(0, "agent", 0.5, 3.0),
    _u(1, "customer", 3.6, 12.0),
    _u(2, "agent", 12.4, 15.0),
    _u(3, "customer", 15.5, 17.0),
]


def test_turn_at_picks_the_same_speakers_turn_it_overlaps_most() -> None:
    assert turn_at(0.3, 1.0, Speaker.AGENT, TURNS) == 0  # onset padding before the turn
    assert turn_at(4.0, 7.0, Speaker.CUSTOMER, TURNS) == 1  # first piece of a complaint cut at a pause
    assert turn_at(8.2, 12.3, Speaker.CUSTOMER, TURNS) == 1  # its last piece, ending in the tolerance
    assert turn_at(12.1, 12.35, Speaker.CUSTOMER, TURNS, tolerance_s=0.5) == 1
    assert turn_at(12.1, 12.35, Speaker.CUSTOMER, TURNS, tolerance_s=0.0) is None
    assert turn_at(6.0, 6.5, Speaker.AGENT, TURNS) is None  # a backchannel inside the customer's turn
    assert turn_at(11.8, 14.0, Speaker.AGENT, TURNS) == 2  # overlap: starts before the customer ends
    assert turn_at(14.8, 16.0, Speaker.CUSTOMER, TURNS) == 3
    assert turn_at(2.0, 2.0, Speaker.AGENT, TURNS) == 0  # a word time inside


def test_nudges_move_from_utterance_numbers_to_turns() -> None:
    recognized = [
        _u(0, "agent", 0.4, 3.1),
        _u(1, "customer", 3.5, 7.0),
        _u(2, "agent", 7.5, 7.9, "okay"),
        _u(3, "customer", 8.6, 12.2),
        _u(4, "agent", 12.3, 15.1),
    ]
    where = utterance_turns(recognized, TURNS)
    assert where == {0: 0, 1: 1, 2: None, 3: 1, 4: 2}

    def ev(u: Utterance) -> Evidence:
        return Evidence(u.index, u.speaker, u.text, u.start_s, u.end_s)

    nudge = Nudge(
        rule="missed-reflection",
        severity="medium",
        title="t",
        message="m",
        t_s=15.1,
        utterance_index=4,
        evidence=(ev(recognized[3]), ev(recognized[4])),
    )
    moved = nudge_on_turns(nudge, where)
    assert moved.utterance_index == 2 and [e.utterance_index for e in moved.evidence] == [1, 2]
    on_backchannel = nudge_on_turns(
        Nudge(
            rule="r",
            severity=nudge.severity,
            title="t",
            message="m",
            t_s=7.9,
            utterance_index=2,
            evidence=(ev(recognized[2]),),
        ),
        where,
    )
    assert on_backchannel.utterance_index == -1 and on_backchannel.evidence[0].utterance_index == -1
    # a turn rule rests on the turn so far: its span, the index of its last utterance. That last
    # piece alone (a stray "okay" heard after the agent's turn, 15.8-16.0 s) falls on no agent
    # turn; the span does, and the fired-at index follows it
    stray = _u(5, "agent", 15.8, 16.0, "okay")
    where = utterance_turns([*recognized, stray], TURNS)
    assert where[5] is None
    whole = Evidence(5, Speaker.AGENT, "the line looks fine okay", 12.3, 16.0)
    merged = Nudge(
        rule="angry-no-apology",
        severity="high",
        title="t",
        message="m",
        t_s=16.0,
        utterance_index=5,
        evidence=(whole, ev(recognized[3])),
    )
    assert nudge_on_turns(merged, where).utterance_index == -1  # by index alone: lost
    moved = nudge_on_turns(merged, where, TURNS)
    assert moved.utterance_index == 2 and [e.utterance_index for e in moved.evidence] == [2, 1]


def test_wer_by_turn_counts_a_word_heard_in_the_next_utterance() -> None:
    """Per side the words are the same in the same order; by turn, "birth" heard at the start of
    the agent's next turn is a deletion in one turn and an insertion in the other."""
    from rapport_assist.evaluate import Conversation

    def utt(i: int, speaker: Speaker, text: str, start: float, end: float) -> Utterance:
        return Utterance(index=i, speaker=speaker, text=text, start_s=start, end_s=end)

    turns = (
        utt(0, Speaker.AGENT, "What's your date of birth?", 0.0, 2.0),
        utt(1, Speaker.CUSTOMER, "March the second.", 2.5, 4.0),
        utt(2, Speaker.AGENT, "Thank you.", 4.5, 5.5),
    )
    dialogue = SpokenDialogue(Conversation("d", "d", turns), Path("d.flac"), frozenset())
    right = (
        utt(0, Speaker.AGENT, "What's your date of birth?", 0.1, 1.9),
        utt(1, Speaker.CUSTOMER, "March the second.", 2.6, 3.9),
        utt(2, Speaker.AGENT, "Thank you.", 4.6, 5.4),
    )
    moved = (
        utt(0, Speaker.AGENT, "What's your date of", 0.1, 1.9),
        utt(1, Speaker.CUSTOMER, "March the second.", 2.6, 3.9),
        utt(2, Speaker.AGENT, "birth? Thank you.", 4.6, 5.4),
        utt(3, Speaker.CUSTOMER, "hello", 9.0, 9.5),  # on no turn: an insertion
    )
    good, bad = _wer([dialogue], {"d": right}), _wer([dialogue], {"d": moved})
    assert good["by-turn"].errors == 0 and good["pooled"].errors == 0
    assert bad["agent"].errors == 0 and bad["pooled"].errors == 1  # per side: only "hello"
    assert bad["by-turn"].errors == 3 and bad["by-turn"].words == good["by-turn"].words == 10


def test_tone_lists_each_turn_it_got_wrong_with_what_was_heard_and_why() -> None:
    """Turns are matched by time: an angry piece of a voiced-angry turn finds it; a turn voiced
    angry with nothing angry heard is a miss; an angry utterance on a calm turn a false alarm."""
    A, C = Speaker.AGENT, Speaker.CUSTOMER
    turns = (
        Utterance(0, C, "This is the third time. I want it fixed.", 0.0, 4.0),
        Utterance(1, A, "I'm sorry, let me look.", 4.5, 6.0),
        Utterance(2, C, "It still does not work. Nobody called me.", 6.5, 10.0),
        Utterance(3, A, "One moment please.", 10.5, 12.0),
        Utterance(4, C, "Okay, thanks.", 12.5, 13.5),
    )
    dialogue = SpokenDialogue(Conversation("d1", "x", turns), Path("d1.wav"), frozenset({0, 2}))

    def heard(i: int, start: float, end: float, text: str, label: str, evidence: tuple[str, ...] = ()):
        tone = ToneEstimate(label, {"calm": 0.1, "tense": 0.5, "angry": 0.8}[label], evidence)
        return Utterance(i, C, text, start, end, signals=UtteranceSignals({}, {}, tone, tone))

    utterances = (
        heard(0, 0.0, 1.5, "This is the third time.", "calm"),
        heard(1, 2.0, 4.0, "I want it fixed.", "angry", ("8.1 dB louder than usual (this turn)",)),
        heard(2, 6.6, 10.0, "It still does not work, nobody called me.", "tense", ("7.0 dB louder than usual",)),
        heard(3, 12.5, 13.5, "Okay, thanks.", "angry", ('said "thanks"',)),
    )
    score = _tone([dialogue], [CallResult(dialogue.conversation, (), utterances)])
    assert (score.turns.tp, score.turns.fp, score.turns.fn, score.turns.tn) == (1, 1, 1, 0)
    assert [(k.turn, k.miss) for k in score.cases] == [(2, True), (4, False)]
    miss = score.cases[0]
    assert miss.said == turns[2].text and miss.heard[0][1:3] == ("tense", 0.5)
    assert miss.heard[0][3] == ("7.0 dB louder than usual",)
    assert score.cases[1].heard[0][0] == "Okay, thanks."


def test_word_errors_agree_with_jiwer() -> None:
    assert word_errors(["a", "b", "c"], ["a", "x", "c", "d"]) == 2
    assert word_errors([], ["a", "b"]) == 2 and word_errors(["a", "b"], []) == 2
    rng = random.Random(3)
    for _ in range(200):
        ref = [rng.choice("abcde") for _ in range(rng.randint(1, 12))]
        hyp = [rng.choice("abcdef") for _ in range(rng.randint(0, 12))]
        out = jiwer.process_words(" ".join(ref), " ".join(hyp) or "zz")
        expected = out.substitutions + out.deletions + out.insertions if hyp else len(ref)
        assert word_errors(ref, hyp) == expected, (ref, hyp)


def test_normalize_writes_numbers_and_hesitations_one_way() -> None:
    assert normalize("It's, uh, four four seven, two nine one.") == normalize("It's 447-291.")
    assert normalize("Call me at 10 a.m.") == "call me at ten am"
    assert measure("Um, the router is red.", "The router is red").errors == 0


# ---------------------------------------------------------------------------- through the model


@pytest.mark.model
@pytest.mark.slow
def test_eval_scores_a_spoken_dialogue_by_time_through_the_model(generated, tmp_path) -> None:
    a, _ = generated
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "eval",
            str(a),
            "--cache",
            str(tmp_path / "cache"),
            "--rule",
            "you-not-we",
            "--rule",
            "angry-no-apology",
            "--format",
            "json",
        ],
        stdout=out,
        stderr=err,
    )
    assert code == 0, err.getvalue()
    report = json.loads(out.getvalue())
    assert report["dialogues"] == 2 and report["turns"] == 9
    assert report["audio_utterances"] >= 9  # the two-sentence turns come back in pieces
    for route in ("transcript", "audio"):
        rules = {r["rule"]: r for r in report[route]["rules"]}
        you = rules["you-not-we"]["turn_level"]
        assert (you["tp"], you["fn"]) == (1, 0), (route, rules["you-not-we"])
        assert rules["angry-no-apology"]["turn_level"]["tp"] == 1, (route, rules["angry-no-apology"])
    # matched by time: the audio route's fire is about turn 2 of spoken.jsonl, whatever its utterance number
    assert report["wer"]["agent"]["words"] > 20 and report["wer"]["customer"]["words"] > 20
    assert report["wer"]["pooled"]["wer"] < 0.5, report["wer"]
    tone = report["tone"]["audio"]["turns"]
    assert tone["tp"] + tone["fn"] == 1  # one customer turn voiced angry
    text = io.StringIO()
    assert (
        main(["eval", str(a), "--cache", str(tmp_path / "cache"), "--rule", "you-not-we"], stdout=text, stderr=err) == 0
    )
    assert "transcript" in text.getvalue() and "audio" in text.getvalue() and "WER" in text.getvalue()
    # a full disk under the report is the clear OutputError of any eval (exit 7), not a crash

    class FullDisk(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(28, "No space left on device")

    err = io.StringIO()
    code = main(
        ["eval", str(a), "--cache", str(tmp_path / "cache"), "--rule", "you-not-we"], stdout=FullDisk(), stderr=err
    )
    assert code == 7 and "cannot write the report: No space left on device" in err.getvalue(), err.getvalue()
