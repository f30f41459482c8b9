"""The compiled lexicon scan (``rules.scan``: each utterance spelled in letters, one regular
expression per lexicon for where a phrase starts) finds what the plain reading finds (the trie
tried at every word), on real spaCy readings of tricky text."""

from __future__ import annotations


from rapport_assist.annotate import Annotator
from rapport_assist.rules import default_rules_dir, load_rules
from rapport_assist.rules.conditions import Compiler
from rapport_assist.rules.model import Lexicon, Phrase
from rapport_assist.rules.scan import FIRST_LETTER, phrase_pattern
from rapport_assist.rules.source import Loc
from rapport_assist.types import Speaker, Utterance

LOC = Loc("test.yaml", 1, 1)

PHRASES = [
    "sorry",  # one word
    "call back",  # a phrase inside a longer one ...
    "call you back",
    "call you back tomorrow",  # ... and a longer one still
    "can't",  # a contraction: "can not", "cannot", "can't" all read it
    "I am",  # "I'm" reads it through the norm
    "be going to",  # lemmas: "is going to", "was going to"
    "within <num> hours",  # a number word or digits
    "refund|credit|voucher",  # alternatives
    "to the",  # two stop words, overlapping what follows
    "the manager",
    "that's our policy",
]
EXCEPTS = ["sorry you feel"]

TEXTS = [
    "Sorry",  # the phrase is the whole utterance
    "sorry, SORRY! Sorry?",  # case and punctuation, three times
    "I'm sorry you feel that way.",  # vetoed by the except phrase
    "I'll call you back tomorrow, or call back later.",  # longest first, then on after it
    "We can't do it, we cannot do it, we can not.",
    "I am here and I'm there.",
    "He is going to send it; they were going to.",
    "Within 24 hours, within two hours, within hours.",
    "A refund, a credit or a voucher.",
    "Go to the manager.",  # "to the" and "the manager" overlap: left to right, no overlaps
    "I'll call. Back to you.",  # a phrase does not cross a sentence
    "That's our policy",  # the phrase ends the utterance
    "um, uh, sorry, I, I can't",  # fillers and a stutter
    "",
    "...",
    "call you",  # a phrase's start without its end
    "calls you back",  # an inflection through the lemma
    "Within 3:30 hours. THAT'S OUR POLICY!!!",
]


def check(compiler: Compiler, annotator: Annotator, texts: list[str]) -> int:
    """Compare the compiled scan with the plain reading for every lexicon on these texts; the
    matches seen."""
    seen = 0
    for i, text in enumerate(texts):
        feats = compiler.extractor.extract(annotator.annotate(Utterance(i, Speaker.AGENT, text, 0.0, 1.0)))
        for lex in compiler.lexicons.values():
            for index, bits in (
                (lex.phrases, (lex.bit, lex.one_bit, lex.next_bit)),
                (lex.excepts, (lex.except_bit,)),
            ):
                if not index:
                    continue
                assert index.scan is not None
                plain = index.find(feats)  # no pre-filter bit: every word tried
                compiled = index.find(feats, *bits)
                assert compiled == plain, (lex.name, text, compiled, plain)
                seen += len(plain)
    return seen


def test_the_compiled_scan_agrees_with_the_plain_reading_on_tricky_text(annotator: Annotator) -> None:
    lexicon = Lexicon(
        "tricky", tuple(Phrase(p, LOC) for p in PHRASES), tuple(Phrase(p, LOC) for p in EXCEPTS), (), "", LOC
    )
    compiler = Compiler({"tricky": lexicon}, {})
    assert check(compiler, annotator, TEXTS) > 20
    lex = compiler.lexicons["tricky"]

    def found(text: str) -> list[str]:
        feats = compiler.extractor.extract(annotator.annotate(Utterance(0, Speaker.AGENT, text, 0.0, 1.0)))
        return [m.text for m in lex.find(feats)]

    assert found("Sorry") == ["Sorry"]
    assert found("sorry, SORRY! Sorry?") == ["sorry", "Sorry"]  # "sorry, SORRY": a stutter, read once
    assert found("SORRY, I am.") == ["SORRY", "I am"]
    assert found("I'm sorry you feel that way.") == ["I'm"]  # "I am"; "sorry" vetoed
    assert found("I'll call you back tomorrow, or call back later.") == ["call you back tomorrow", "call back"]
    assert found("We can't do it, we cannot do it, we can not.") == ["can't", "cannot", "can not"]
    assert found("Go to the manager.") == ["to the"]
    assert found("I'll call. Back to you.") == []
    assert found("Within 24 hours, within two hours, within hours.") == ["Within 24 hours", "within two hours"]
    assert found("He is going to send it; they were going to.") == ["is going to", "were going to"]
    assert found("THAT'S OUR POLICY!!!") == ["THAT'S OUR POLICY"]


def test_the_compiled_scan_agrees_on_every_lexicon_of_the_default_rules(annotator: Annotator) -> None:
    ruleset = load_rules([default_rules_dir()])
    compiler = Compiler(ruleset.lexicons, ruleset.tones, ruleset.fillers)
    texts = TEXTS + [
        "I'm so sorry about that, I completely understand how frustrating this must be.",
        "Unfortunately that's not possible, it's our policy, you'll have to call back.",
        "Thanks for calling, Sarah! How can I help you today? I'll make sure it's fixed by Friday.",
        "This is ridiculous. I've been waiting for 3 hours and nobody called me back!!",
        "Let me put you on hold for a minute while I check with my manager.",
    ]
    assert check(compiler, annotator, texts) > 10


def test_a_pattern_reads_letters_not_words() -> None:
    letters = {10: chr(FIRST_LETTER), 20: chr(FIRST_LETTER + 1), 30: chr(FIRST_LETTER + 2)}
    # phrases "10 20" and "30": a start is a slot holding 10's letter followed by one holding
    # 20's, or a slot holding 30's
    pattern = phrase_pattern({10: {20: {0: True}}, 30: {0: True}}, letters, 0)
    assert pattern is not None
    a, b, c = letters[10], letters[20], letters[30]
    assert pattern.search(f" {a} {b} ").start() == 1  # in the second slot (the first is empty)
    assert pattern.search(f"{c}{a} {b} ").start() == 0  # a slot of two keys: 30's matches first
    assert pattern.search(f"{a} \n{b} ") is None  # not across a sentence
    assert pattern.search(f"{a}  {b} ") is None  # not over an empty slot
    assert pattern.search(f"{b}{a} {c}{b} ").start() == 1  # any letter of a slot
    assert phrase_pattern({}, letters, 0) is None
