"""Masking personal data (privacy.py): each pattern of the default list, what must stay as it is,
a team's own list, words and evidence masked with the text, and the leak test: a call holding a
card number (digits and spoken), an SSN, a phone number and an e-mail, through every command
that writes, with every byte written searched for them."""

from __future__ import annotations

import io
from dataclasses import replace
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.cli import main
from rapport_assist.errors import BadInput
from rapport_assist.privacy import Masker, load_mask_list, luhn_ok, masker_for
from rapport_assist.types import Speaker, Utterance, Word

MASK = masker_for(True)


@pytest.fixture(autouse=True)
def _own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The saved settings of whoever runs the tests (masking turned off?) play no part."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "own-config"))


# ------------------------------------------------------------------ the default list, pattern by pattern


@pytest.mark.parametrize(
    "text, masked",
    [
        # cards: Luhn-checked, spaced, dashed, run together, split by commas as the recognizer writes them
        ("my card is 4929 3810 4672 8154", "my card is #### #### #### 8154"),
        ("4929-3810-4672-8154.", "####-####-####-8154."),
        ("4929381046728154", "############8154"),
        ("it's 4929, 3810, 46728154 ok", "it's ####, ####, ####8154 ok"),
        # SSNs, phone numbers (brackets and a country code too)
        ("ssn 536-27-4819 thanks", "ssn ###-##-4819 thanks"),
        ("call me at (555) 867-5309.", "call me at (###) ###-5309."),
        ("it's +1 555 867 5309", "it's +# ### ###-5309".replace("-", " ")),
        ("5-5-5-867-5-3-0-9", "#-#-#-###-5-3-0-9"),
        ("call me at 5.5. 867. 5.3.0.9", "call me at #.#. ###. 5.3.0.9"),  # read slowly, as tiny.en writes it
        # other long digit runs (accounts, orders): the last 4 only when 5 or more are hidden
        ("account 12345678 please", "account ######## please"),
        ("reference 1234567890", "reference ######7890"),
        # short groups right after "social security number is", "pin", "card number"... (a number split
        # over two utterances leaves its first group there)
        ("my social security number is 536 27", "my social security number is ### ##"),
        ("my social is five three six", "my social is #### ##### ###"),
        ("and the pin is 1234.", "and the pin is ####."),
        ("my current number is 4929,", "my current number is ####,"),  # "card" misheard: "number is" is enough
        ("Call me at 5, 5, 5", "Call me at #, #, #"),  # the rest of the number may come in the next utterance
        ("number is 4,111,111,111,111, 7,234.", "number is #,###,###,###,###, 7,234."),
        # digits said as words, "oh" for zero, "double", tens
        (
            "four nine two nine three eight one oh four six seven two eight one five four",
            "# # # # # # # # # # # # 8 1 5 4",
        ),
        ("it's eight six seven, five three oh nine", "it's # # #, # # # #"),
        ("double five oh three two one nine", "# # # # # # #"),
        ("fifty three twenty one forty four", "# # # # # #"),
        # e-mail addresses, written and spoken
        ("mail john.smith@gmail.com today", "mail ####.#####@#####.com today"),
        ("it is john dot smith at gmail dot com", "it is #### dot ##### at ##### dot com"),
        ("my email is john smithatgmail.com", "my email is #### ############.com"),
        # dates of birth, only when said as such
        ("my date of birth is March 5th, 1984", "my date of birth is ##### ###, ####"),
        ("born on 05/03/1984", "born on ##/##/####"),
        ("my birthday is the fifth of March 1984", "my birthday is the ##### ## ##### ####"),
    ],
)
def test_masks(text: str, masked: str) -> None:
    assert MASK.mask_text(text) == masked
    assert MASK.mask_text(masked) == masked  # idempotent: masked text stays as it is


@pytest.mark.parametrize(
    "text",
    [
        "see you at 5 pm",
        "that is $200",
        "it costs $1,200,000",
        "back in 2026",
        "allow 24-48 hours",
        "order 12345",  # short order numbers stay: 5 digits or fewer
        "call 911",
        "on 05/03/1984 we shipped it",  # a date not said as a date of birth stays
        "oh oh oh oh oh oh",
        "one or two, maybe three",
        "I was born in the fall",
        "look at this dot",
        "we are at the office",
        "version 3.2 of the app",
        "between 9 and 5 on Monday the 3rd",
        "you chat.com",
        "room 1204, floor 3",
        "a card for 2 people",
        "the pin is oneself",
        "my account is closed",
        "I paid 5. 6 people came",
        "the number of calls is 3",
        "call me at 5 pm",
    ],
)
def test_near_misses_stay(text: str) -> None:
    assert MASK.mask_text(text) == text


def test_a_number_cut_by_the_endpointer_is_masked_as_one() -> None:
    """The same speaker's next utterance, soon after, that starts with a number goes on with the
    number the last ones ended with (a backchannel between does not matter), and so does a later
    revision of it; a number that does not go on, or comes later, is left as it is."""
    from rapport_assist.types import Speaker, TurnRevision, Utterance, Word

    c, a = Speaker.CUSTOMER, Speaker.AGENT
    items = [
        Utterance(0, c, "It's four nine two nine,", 2.0, 4.0),  # alone, 4 digits said as words stay
        Utterance(1, a, "Mm-hm.", 4.2, 4.5),
        Utterance(2, c, "three eight one oh,", 4.6, 6.0),
        Utterance(3, c, "four six seven two, eight one five four.", 6.4, 9.0),  # a card (Luhn)
        Utterance(4, c, "Call me at 555,", 9.5, 10.5),  # (masked as announced)
        Utterance(5, c, "867,", 11.0, 11.5),  # alone, "867" stays; 555 867 is masked
        Utterance(6, c, "5309.", 12.0, 12.5),  # 555 867 5309: a phone number, its last 4 shown
        Utterance(7, c, "I was charged 30", 13.0, 14.0),
        Utterance(8, c, "40 dollars more", 14.5, 15.0),  # 30 40: too short to mask
        Utterance(9, c, "The order was 12345", 16.0, 17.0),  # (5 digits: an order number stays)
        Utterance(10, c, "6 items came.", 22.0, 23.0),  # 5 s later: not the same number
        TurnRevision(c, (Utterance(5, c, "867, 5", 11.0, 11.5),), ("867,",), 12.0),
    ]
    out = list(MASK.timeline(items))
    assert [o.text for o in out[:11]] == [
        "It's four nine two nine,",
        "Mm-hm.",
        "# # # #,",
        "# # # #, 8 1 5 4.",
        "Call me at ###,",
        "###,",
        "5309.",
        "I was charged 30",
        "40 dollars more",
        "The order was 12345",
        "6 items came.",
    ]
    revision = out[11]
    assert [u.text for u in revision.utterances] == ["###, #"] and revision.before == ("###,",)
    # the words masked as the text
    words = tuple(Word(t, 11.0 + 0.1 * i, 11.1 + 0.1 * i, 0.9) for i, t in enumerate(["867", ","]))
    masked = list(MASK.timeline([items[4], replace(items[5], words=words)]))[1]
    assert [w.text for w in masked.words] == ["###", ","] and masked.text == "###,"


def test_luhn() -> None:
    assert luhn_ok("4929381046728154") and not luhn_ok("4929381046728153")


def test_off_masks_nothing() -> None:
    off = Masker(None)
    assert off.mask_text("4929 3810 4672 8154") == "4929 3810 4672 8154" and off.identity == "off"


def test_words_are_masked_as_one_sequence_with_the_text() -> None:
    """The recognizer's words ("5" "-867" ...) are masked as the utterance, so no group survives."""
    said = [
        "Call",
        "me",
        "at",
        "5",
        "-5",
        "-5",
        "-867",
        "-5",
        "-3",
        "-0",
        "-9",
        "or",
        "four",
        "nine",
        "two",
        "nine",
        "three",
        "eight",
        "one",
        "oh",
        "four",
        "six",
        "seven",
        "two",
        "eight",
        "one",
        "five",
        "four.",
    ]
    words = tuple(Word(t, i, i + 0.5, 0.9) for i, t in enumerate(said))
    text = "Call me at 5-5-5-867-5-3-0-9 or " + " ".join(said[12:])
    u = MASK.mask_utterance(Utterance(0, Speaker.CUSTOMER, text, 0.0, 9.0, words=words))
    assert u.text == "Call me at #-#-#-###-5-3-0-9 or # # # # # # # # # # # # 8 1 5 4."
    assert [w.text for w in u.words] == [
        "Call",
        "me",
        "at",
        "#",
        "-#",
        "-#",
        "-###",
        "-5",
        "-3",
        "-0",
        "-9",
        "or",
        *["#"] * 12,
        "8",
        "1",
        "5",
        "4.",
    ]
    assert [(w.start_s, w.end_s) for w in u.words] == [(w.start_s, w.end_s) for w in words]


def test_evidence_and_matched_words_come_from_the_masked_text(tmp_path: Path) -> None:
    """A rule that quotes the card: its evidence and matched words hold the masked number only."""
    rules = tmp_path / "card.yaml"
    rules.write_text(CARD_RULE)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(json.dumps({"speaker": "customer", "text": "my card number is 4929 3810 4672 8154"}) + "\n")
    out = io.StringIO()
    assert main(["replay", str(transcript), "--rules", str(rules), "--format", "jsonl"], out, io.StringIO()) == 0
    nudge = next(json.loads(line) for line in out.getvalue().splitlines() if '"nudge"' in line)
    assert nudge["evidence"][0]["text"] == "my card number is #### #### #### 8154"
    assert nudge["evidence"][0]["matched"] == ["card number is #### #### #### 8154"]
    assert json.loads(out.getvalue().splitlines()[-1])["masking"] == "on"


def test_no_mask_shows_the_numbers_and_says_so(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(json.dumps({"speaker": "customer", "text": "my card is 4929 3810 4672 8154"}) + "\n")
    out = io.StringIO()
    assert main(["replay", str(transcript), "--no-mask"], out, io.StringIO()) == 0
    assert "4929 3810 4672 8154" in out.getvalue() and "masking off" in out.getvalue()


# ------------------------------------------------------------------ a team's own list


def test_a_team_adds_replaces_and_switches_off_entries(tmp_path: Path) -> None:
    team = tmp_path / "masking.yaml"
    team.write_text(
        "patterns:\n  - name: member_id\n    regex: '\\bAB\\d{6}\\b'\n    keep_last: 0\n"
        "  - name: date_of_birth\n    enabled: false\n"
        "numbers:\n  - name: account\n    digits: [5]\n    keep_last: 0\n"
        "spoken_digits:\n  words: {nil: '0'}\n"
    )
    masker = Masker(load_mask_list([team]))
    assert masker.mask_text("member AB123456 here") == "member ######## here"
    assert masker.mask_text("order 12345") == "order #####"  # accounts from 5 digits now
    assert masker.mask_text("my date of birth is March 5th, 1984") == "my date of birth is March 5th, 1984"
    assert masker.mask_text("nil nil one two three four") == "# # # # # #"
    assert masker.identity != MASK.identity  # a changed list changes the cache key


def test_the_cache_key_follows_the_masking_list(tmp_path: Path) -> None:
    from rapport_assist.qa.runner import QaSettings

    masked = QaSettings(tmp_path, tmp_path, ())
    assert masked.cache_mask_identity == masked.mask_list.fingerprint == MASK.identity  # type: ignore[union-attr]
    assert QaSettings(tmp_path, tmp_path, (), cache_unmasked=True).cache_mask_identity == "unmasked"
    off = QaSettings(tmp_path, tmp_path, (), mask_list=None)
    assert off.cache_mask_identity == "unmasked" and off.mask_identity == "off" != masked.mask_identity


def test_the_team_list_is_found_in_the_config_folder_and_by_env(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    folder = tmp_path / "cfg" / "rapport-assist"
    folder.mkdir(parents=True)
    (folder / "masking.yaml").write_text("patterns:\n  - name: pin\n    regex: 'pin (?P<mask>\\d{4})'\n")
    listed = load_mask_list(environ={})
    assert Masker(listed).mask_text("my pin 1234") == "my pin ####"
    other = tmp_path / "other.yaml"
    other.write_text("patterns:\n  - name: code\n    regex: 'code \\d+'\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty"))
    listed = load_mask_list(environ={"RAPPORT_ASSIST_MASKING": str(other)})
    assert Masker(listed).mask_text("code 42") == "#### ##"


@pytest.mark.parametrize(
    "body, says",
    [
        ("patterns:\n  - name: bad\n    regex: '(a+)\\1'\n", "RE2 cannot use this regex"),
        ("patterns:\n  - name: empty\n    regex: 'x*'\n", "matches empty text"),
        ("numbers:\n  - name: n\n    digits: many\n", "digits must be"),
        ("patterns: [1, 2]\n", "each entry is a mapping with a name"),
        ("stuff: 1\n", "a masking list is a mapping"),
        ("patterns:\n  - name: x\n   regex: y\n", "not valid YAML"),
    ],
)
def test_a_bad_team_list_is_a_clear_error(tmp_path: Path, body: str, says: str) -> None:
    team = tmp_path / "masking.yaml"
    team.write_text(body)
    with pytest.raises(BadInput) as exc:
        load_mask_list([team])
    assert str(team) in exc.value.one_line() and says in exc.value.one_line()


@pytest.mark.parametrize(
    "body, says",
    [
        # read_text raised UnicodeDecodeError, which is no OSError: an internal error
        ("numbers:\n  - {name: caf\xe9, digits: 4}\n".encode("latin-1"), ":2: masking list is not UTF-8 text"),
        # PyYAML's ReaderError came out as two lines in its own words ('special characters...')
        (b"numbers:\n  - {name: x\x00, digits: 4}\n", ":2:13: masking list holds a control character (U+0000)"),
    ],
)
def test_a_team_list_of_bad_bytes_is_one_line_bad_input(tmp_path: Path, body: bytes, says: str) -> None:
    team = tmp_path / "masking.yaml"
    team.write_bytes(body)
    with pytest.raises(BadInput) as exc:
        load_mask_list([team])
    line = exc.value.one_line()
    assert f"{team}{says}" in line and "\n" not in line and "special characters" not in line, line
    assert exc.value.hint


# ------------------------------------------------------------------ the leak test

CARD = "4929381046728154"
SPOKEN_CARD = "four nine two nine, three eight one oh, four six seven two, eight one five four"
TRANSCRIPT = [
    ("agent", "Thanks for calling, how can I help you today?"),
    ("customer", "I'd like to pay by card. The number is 4929 3810 4672 8154."),
    ("customer", f"Again that is {SPOKEN_CARD}."),
    ("customer", "My social security number is 536-27-4819 and you can call me at (555) 867-5309."),
    ("customer", "My email is john.smith@gmail.com, that's john dot smith at gmail dot com."),
    ("agent", "You need to restart the router."),
]
CARD_RULE = """version: 1
rules:
  - id: card-given
    title: Card given
    severity: low
    why: Read a card number back masked.
    when:
      speaker: customer
      says: {regex: '(card|number|email) (number )?is [^a-z]*|email|card'}
    message: "Read it back masked."
"""
_SEP = r"[\s\-,()/]*"  # no dots: JSON floats hold digits after a dot
_WORD = {
    "0": "(?:zero|oh|o)",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
}
SECRETS = {
    # the last 4 may stay, by design; a dot may split the card ("4.929 3810 …", as tiny.en writes
    # it), and 12 given digits in a row are no JSON float
    "card": re.compile(r"[\s\-,()/.]*".join(CARD[:12])),
    "spoken card": re.compile(r"\W+".join(_WORD[d] for d in CARD[:12]), re.I),
    "ssn": re.compile(_SEP.join("53627")),
    "spoken ssn": re.compile(r"\W+".join(_WORD[d] for d in "53627"), re.I),
    "phone": re.compile(_SEP.join("555867")),
    "spoken phone": re.compile(r"\W+".join(_WORD[d] for d in "555867"), re.I),
    "e-mail": re.compile(r"smith|gmail", re.I),
}


def leaks_in(folder: Path) -> dict[str, list[str]]:
    """Every file under ``folder`` (recursively), every byte: which secrets each holds."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", "replace")
        hits = [name for name, pattern in SECRETS.items() if pattern.search(text)]
        if hits:
            found[str(path.relative_to(folder))] = hits
    return found


def _write_transcript(path: Path) -> Path:
    t = 0.0
    lines = []
    for speaker, text in TRANSCRIPT:
        lines.append(json.dumps({"speaker": speaker, "text": text, "start": t, "end": t + 4.0}))
        t += 4.5
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(argv: list[str], out: Path | None = None) -> str:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(argv, stdout, stderr)
    assert code == 0, stderr.getvalue()
    if out is not None:
        out.write_text(stdout.getvalue())
    return stdout.getvalue()


def _every_command(call: Path, rules: Path, outputs: Path, cache: Path, no_mask: bool = False) -> None:
    """replay (text, JSONL, --out), qa (events, report, summary, cache), rules explain, rules diff."""
    flag = ["--no-mask"] if no_mask else []
    outputs.mkdir(parents=True, exist_ok=True)
    engine = ["--rules", str(rules)]  # on top of the default packs
    _run(["replay", str(call), *engine, *flag], outputs / "replay.txt")
    _run(
        ["replay", str(call), *engine, "--format", "jsonl", "--out", str(outputs / "replay-out.jsonl"), *flag],
        outputs / "replay.jsonl",
    )
    _run(["qa", str(call), "--out", str(outputs / "qa"), "--cache", str(cache), *engine, "--workers", "1", *flag])
    _run(["rules", "explain", str(call), "--rule", "card-given", "--rules", str(rules), *flag], outputs / "explain.txt")
    _run(
        ["rules", "diff", "--new", str(rules), str(call), "--cache", str(cache), "--format", "json", *flag],
        outputs / "diff.json",
    )


def test_no_secret_in_any_output_of_a_transcript(tmp_path: Path) -> None:
    call = _write_transcript(tmp_path / "in" / "call.jsonl")
    rules = tmp_path / "card.yaml"
    rules.write_text(CARD_RULE)
    _every_command(call, rules, tmp_path / "out", tmp_path / "cache")
    assert leaks_in(tmp_path / "out") == {}
    events = [json.loads(line) for line in (tmp_path / "out" / "qa" / "calls" / "call" / "events.jsonl").open()]
    assert any(e["type"] == "nudge" and e["rule"] == "card-given" for e in events)  # the evidence was written
    assert events[-1]["masking"] == "on" and events[-1]["masked_utterances"] == 4
    assert "personal data masked" in (tmp_path / "out" / "qa" / "calls" / "call" / "report.html").read_text()
    # the same commands with --no-mask write the secrets: the search above can fail
    _every_command(call, rules, tmp_path / "raw", tmp_path / "cache", no_mask=True)
    raw = leaks_in(tmp_path / "raw")
    assert set(raw["replay.txt"]) == set(SECRETS) - {"spoken ssn", "spoken phone"}
    assert "card" in raw["explain.txt"] and "card" in raw["qa/calls/call/events.jsonl"]


SPOKEN_CALL = [  # (speaker, text, espeak words per minute): short, so the test stays fast
    ("agent", "Thanks for calling. How can I help?", 170),
    ("customer", "My card number is 4 9 2 9, 3 8 1 0, 4 6 7 2, 8 1 5 4.", 150),
    ("customer", "My social security number is 5 3 6, 2 7, 4 8 1 9.", 150),
    ("customer", "Call me back at 5 5 5, 8 6 7, 5 3 0 9.", 150),
    ("customer", "My email is john smith at gmail dot com.", 120),
]


@pytest.fixture(scope="module")
def spoken_call(tmp_path_factory: pytest.TempPathFactory, write_audio) -> Path:
    """A stereo call made with espeak-ng (agent left, customer right), about 30 s."""
    import shutil
    import subprocess

    from rapport_assist.audio import decode_channels

    folder = tmp_path_factory.mktemp("spoken")
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is not installed; it is a required test dependency: run 'make setup'")
    pause = np.zeros(int(0.8 * 16000), np.float32)
    sides: dict[str, list[np.ndarray]] = {"agent": [], "customer": []}
    for n, (speaker, text, wpm) in enumerate(SPOKEN_CALL):
        wav = folder / f"{n}.wav"
        subprocess.run([espeak, "-v", "en-us", "-s", str(wpm), "-w", str(wav), text], check=True, capture_output=True)
        speech = decode_channels(wav).channels[0]
        other = "customer" if speaker == "agent" else "agent"
        sides[speaker] += [speech, pause]
        sides[other] += [np.zeros_like(speech), pause]
    stereo = np.stack([np.concatenate(sides["agent"]), np.concatenate(sides["customer"])])
    return write_audio(folder / "spoken-call.wav", stereo, 16000)


@pytest.mark.slow
def test_no_secret_in_any_output_of_a_spoken_call(spoken_call: Path, tmp_path: Path) -> None:
    """The real model recognizes an espeak-ng call; nothing any command writes holds the secrets,
    the transcript cache included. With --no-mask they are there: the model did hear them."""
    rules = tmp_path / "card.yaml"
    rules.write_text(CARD_RULE)
    cache = tmp_path / "cache"
    _every_command(spoken_call, rules, tmp_path / "out", cache)
    assert leaks_in(tmp_path / "out") == {}
    cached = list((cache / "transcripts").rglob("*.jsonl"))
    assert cached and leaks_in(cache) == {}
    # the control: unmasked (qa --no-mask), the recognizer's words hold the card, the SSN, the phone
    # and the address, so the search above can fail
    _run(
        [
            "qa",
            str(spoken_call),
            "--out",
            str(tmp_path / "raw"),
            "--cache",
            str(cache),
            "--rules",
            str(rules),
            "--workers",
            "1",
            "--no-mask",
        ]
    )
    raw = leaks_in(tmp_path / "raw")
    heard = set(raw["calls/spoken-call/events.jsonl"])
    # as digits or as words (qa's beam writes "five three six…" where greedy decoding wrote digits)
    assert all({name, "spoken " + name} & heard for name in ("card", "ssn", "phone")) and "e-mail" in heard, raw
    assert len(list((cache / "transcripts").rglob("*.jsonl"))) == 2  # --no-mask: its own, unmasked, cache entry


def test_the_sidebar_qa_review_and_feedback_hold_no_secret(qtbot, tmp_path: Path) -> None:
    """The sidebar reviews the call (pytest-qt, offscreen); the agent marks a card wrong, so its
    feedback record (with the turns before it, pasted into rule files) is written."""
    pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QLabel

    from rapport_assist.assist import AssistModel, FeedbackLog
    from rapport_assist.gui.app import AppBackend, SidebarOptions
    from rapport_assist.gui.controller import Prefs, RuleWatcher
    from rapport_assist.rules import RuleLibrary, default_rules_dir

    call = _write_transcript(tmp_path / "call.jsonl")
    rules = tmp_path / "team" / "card.yaml"
    rules.parent.mkdir()
    rules.write_text(CARD_RULE)
    written = tmp_path / "written"
    written.mkdir()
    prefs = Prefs(QSettings(str(written / "sidebar.ini"), QSettings.Format.IniFormat))
    library = RuleLibrary([default_rules_dir(), rules.parent])
    model = AssistModel(prefs.budget(), FeedbackLog(written / "feedback.jsonl"))
    watcher = RuleWatcher(library, model)
    backend = AppBackend(SidebarOptions(rules=library.paths, warm_up=False), lambda: watcher.ruleset)
    from rapport_assist.gui.window import SidebarWindow

    window = SidebarWindow(model, prefs, backend, watcher)
    watcher.setParent(window)
    qtbot.addWidget(window)
    window.cards.animate = False
    window.show()
    qtbot.waitExposed(window)
    window.open_qa(call, speed=math.inf)
    qtbot.waitUntil(lambda: window.model.ended, timeout=30000)
    cards = list(window.model.cards.values()) + list(window.model.history)
    assert any(c.nudge.rule == "card-given" for c in cards)
    for card in cards:
        model.give_feedback(card.id, "wrong")
    window.controller.stop()
    shown = "\n".join(label.text() for label in window.findChildren(QLabel))
    shown += "\n".join(u.text + " ".join(w.text for w in u.words) for u in model.transcript)
    (written / "shown.txt").write_text(shown)
    records = [json.loads(line) for line in (written / "feedback.jsonl").read_text().splitlines()]
    assert records and any("####" in json.dumps(r["example"]) for r in records)
    assert leaks_in(written) == {}


@pytest.mark.slow
def test_a_live_call_record_holds_no_secret(pulse, speak, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rapport-assist live --record`: the customer reads the card and phone number into PulseAudio."""
    import threading

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    speech = speak("My card number is 4 9 2 9, 3 8 1 0, 4 6 7 2, 8 1 5 4. Call me at 5 5 5, 8 6 7, 5 3 0 9.")
    timer = threading.Timer(3.0, pulse.play, [{"customer_line": speech}])
    timer.start()
    out = tmp_path / "written"
    out.mkdir()
    stdout = _run(
        [
            "live",
            "--agent",
            "pulse:agent_line.monitor",
            "--customer",
            "pulse:customer_line.monitor",
            "--seconds",
            str(7.0 + len(speech) / 16000),
            "--record",
            str(out / "calls"),
            "--no-save",
            "--format",
            "jsonl",
            "--out",
            str(out / "events.jsonl"),
        ],
        out / "stdout.jsonl",
    )
    timer.join()
    assert list((out / "calls").glob("call-*.jsonl"))
    said = [json.loads(line) for line in stdout.splitlines() if '"utterance"' in line]
    assert any(u["speaker"] == "customer" and "####" in u["text"] for u in said), stdout  # heard, and masked
    assert leaks_in(out) == {}
    assert '"masking": "on"' in stdout
    # live captions (partial events) of the half-said number: no digit of it at all
    captions = [json.loads(line) for line in stdout.splitlines() if '"partial"' in line]
    assert all(not re.search(r"\d", c["text"] + c["pending"]) for c in captions), captions


def test_a_caption_of_a_half_said_number_shows_none_of_it() -> None:
    """Every word prefix of the transcript's lines, masked as a live caption: no digit, and no
    number word next to another or at the end (the rest of the number may be still to come)."""
    from rapport_assist.privacy import masker_for

    masker = masker_for(True)
    numbers = {w for w in _WORD.values() if w.isalpha()} | {"zero", "oh", "o"}
    for _, text in TRANSCRIPT:
        words = text.split()
        for n in range(1, len(words) + 1):
            shown = masker.mask_partial_text(" ".join(words[:n]))
            assert not re.search(r"\d", shown), shown
            tokens = [t.strip(".,").lower() for t in shown.split()]
            spoken = [t in numbers for t in tokens]
            assert not spoken[-1], shown
            assert not any(a and b for a, b in zip(spoken, spoken[1:])), shown
    assert masker.mask_partial_text("I have two questions") == "I have two questions"  # lone words stay
    assert masker_for(False).mask_partial_text("card 4929 38") == "card 4929 38"  # masking off


@pytest.mark.parametrize(
    "body, where, says",
    [
        ("patterns:\n  - name: x\n    regex: [0-9\n", ":3:12:", "a '[' list opened here is never closed"),
        (
            "patterns:\n  - name: x\n    regex: [0-9]+ digits\n",
            ":3:12:",
            "more text after a '[...]'",
        ),
        ('patterns:\n  - name: x\n    regex: "\\d+"\n', ":3:14:", "a backslash inside double quotes starts an escape"),
    ],
)
def test_a_yaml_mistake_in_a_team_list_is_told_as_for_rule_files(
    tmp_path: Path, body: str, where: str, says: str
) -> None:
    """The masking list's YAML errors in the rule files' plain words, at the place to edit."""
    team = tmp_path / "masking.yaml"
    team.write_text(body)
    with pytest.raises(BadInput) as exc:
        load_mask_list([team])
    told = exc.value.one_line()
    assert f"{team}{where} masking list is not valid YAML: {says}" in told, told
    assert "<stream end>" not in told and "but got" not in told and "but found" not in told
