"""scripts/speak_threads.py: written customer-care text made speakable (made-up strings)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from speak_threads import EMPTY_TURN, speakable, speakable_rows  # noqa: E402


def test_handles_and_links_go():
    assert speakable("@AcmeHelp my kettle broke again https://acme.example.com/x?y=1") == "my kettle broke again"
    assert speakable("see https: //www.example.com/a/b for details") == "see for details"
    assert speakable("Check help.acme.com/faq and tell us @pat_99") == "Check and tell us"
    assert speakable("mail us at acme[.]com today") == "mail us at today"


def test_placeholder_emoji_and_emoticons_go():
    assert speakable("It froze twice 😭😭 link") == "It froze twice"
    assert speakable("Still waiting :( link link") == "Still waiting"
    assert speakable("Thanks 👍🏽 :-)") == "Thanks"
    assert speakable("\U0001f926\u200d\u2642\ufe0f") == ""


def test_capitals_and_marks_kept():
    assert speakable("This is NOT okay!!! Fix it??") == "This is NOT okay!!! Fix it??"


def test_hashtags_and_entities():
    assert speakable("#NeverAgain and #PS5 issues") == "Never Again and PS5 issues"
    assert speakable("tea &amp; cake") == "tea and cake"
    assert speakable("Go to Menu &gt; Settings") == "Go to Menu Settings"


def test_signoffs_and_line_breaks():
    assert speakable("We can help with that. ^AB") == "We can help with that."
    assert speakable("Please DM us. *QZ") == "Please DM us."
    assert speakable("Glad to help.Thanks. -Robin") == "Glad to help. Thanks."
    assert speakable("First line\nsecond line") == "First line. second line"


def test_rows_keep_labels_and_fill_empty_turns():
    rows = [
        {
            "id": "x",
            "turns": [{"speaker": "customer", "text": "@Acme link"}, {"speaker": "agent", "text": "Sorry!"}],
            "labels": {"angry-no-apology": [1]},
        }
    ]
    out, empty = speakable_rows(rows)
    assert empty == 1
    assert out[0]["turns"][0]["text"] == EMPTY_TURN
    assert out[0]["labels"] == {"angry-no-apology": [1]}


def test_emails_counters_and_slash_signoffs():
    assert speakable("write to help@acme.example today") == "write to today"
    assert speakable("1/2 The app keeps crashing") == "The app keeps crashing"
    assert speakable("and it is open 24/7 (2/2)") == "and it is open 24/7"
    assert speakable("We are on it. /QX") == "We are on it."
