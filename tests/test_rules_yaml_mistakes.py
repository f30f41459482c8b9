"""The YAML mistakes a person editing a rule file by hand makes, and what the loader says for each:
plain words, at the ``file:line:col`` to edit (an unclosed bracket: where it opens), with a fix;
never PyYAML's own wording. Each case is a tiny made-up rule file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rapport_assist.errors import RuleError
from rapport_assist.rules import RuleProblem, load_rules

LEXICON = "version: 1\nlexicons:\n  sorry: [sorry, apologize]\n"
RULE = (
    "rules:\n"
    "  - id: said-sorry\n"  # line 5
    "    title: Sorry\n"
    "    severity: low\n"
    "    why: An apology calms.\n"
    "    message: Good.\n"  # line 9
    "    when: {speaker: agent, says: sorry}\n"  # line 10
)
GOOD = LEXICON + RULE

# PyYAML's own words, none of which a team lead should have to read
RAW = (
    "while parsing",
    "while scanning",
    "expected <block end>",
    "<stream end>",
    "mapping values are not allowed",
    "cannot start any token",
    "simple key",
    "but found",
    "but got",
    "a rule file must",
    "expected alphabetic",
    "block scalar",
    "flow node",
    "document start",
    "not allowed here",
)

MISTAKES = {
    # name: (file text, line, col, words in the message, words in the fix)
    "unclosed [ mid-file": (
        LEXICON.replace("apologize]", "apologize") + "  thanks: [thanks]\n" + RULE,
        3,
        10,
        "a '[' list opened here is never closed",
        "']'",
    ),
    "unclosed [ as the last line": (
        "version: 1\n" + RULE + "lexicons:\n  sorry:\n    phrases: [sorry, apologize",
        11,
        14,
        "a '[' list opened here is never closed",
        "']'",
    ),
    "unclosed [ as the last line, after a comma": (
        "version: 1\n" + RULE + "lexicons:\n  sorry:\n    phrases: [sorry, apologize,\n",
        11,
        14,
        "a '[' list opened here is never closed",
        "']'",
    ),
    "unclosed [ over several lines at the end of the file": (
        "version: 1\n" + RULE + "lexicons:\n  sorry:\n    phrases: [sorry,\n      apologize,\n      my apologies,\n",
        11,
        14,
        "a '[' list opened here is never closed",
        "']'",
    ),
    "unclosed [ inside a { at the end of the file": (
        GOOD.replace("says: sorry}", "says: [sorry, regret,"),
        10,
        34,
        "a '[' list opened here is never closed",
        "']'",
    ),
    "unclosed { mid-file": (
        GOOD.replace("says: sorry}", "says: sorry") + "  - id: other\n    title: Other\n",
        10,
        11,
        "a '{' mapping opened here is never closed",
        "'}'",
    ),
    "unclosed { as the last line": (
        GOOD.replace("says: sorry}", "says: sorry"),
        10,
        11,
        "a '{' mapping opened here is never closed",
        "'}'",
    ),
    "unclosed quote mid-file": (
        GOOD.replace("message: Good.", 'message: "Good.'),
        9,
        14,
        "a quote opened here is never closed",
        "same quote mark",
    ),
    "unclosed quote as the last line": (
        GOOD + "    message_if_no_rewrite: 'Good.\n",
        11,
        28,
        "a quote opened here is never closed",
        "same quote mark",
    ),
    "tab used for indentation": (
        GOOD.replace("    severity: low", "\tseverity: low"),
        7,
        1,
        "a tab here: YAML takes spaces only",
        "replace the tab with spaces",
    ),
    "tab after a colon": (
        GOOD.replace("severity: low", "severity:\tlow"),
        7,
        14,
        "a tab here: YAML takes spaces only",
        "replace the tab with spaces",
    ),
    "list item at the wrong indent": (
        GOOD + "    fires:\n      - - agent: I am sorry.\n     - - agent: So sorry.\n",
        13,
        6,
        "indented differently from the lines above",
        "same column",
    ),
    "a '- ' item deeper than the one above (YAML joins them into one text)": (
        GOOD.replace("  sorry: [sorry, apologize]\n", "  sorry:\n    - sorry\n      - apologize\n"),
        5,
        7,
        "indented deeper than the line above it, so YAML reads it as more words of that line ('sorry - apologize')",
        "same column as the '- ' items above it",
    ),
    "key with no space after the colon (when:speaker)": (
        GOOD.replace("    when: {speaker: agent, says: sorry}\n", "    when:speaker\n    title: Again\n"),
        10,
        5,
        "'when:speaker' has no space after the ':'",
        "write 'when: speaker'",
    ),
    "no space after the colon, the error showing on the next line": (
        GOOD.replace("{speaker: agent, says: sorry}", "\n      speaker:agent\n      says: sorry"),
        11,
        7,
        "'speaker:agent' has no space after the ':'",
        "write 'speaker: agent'",
    ),
    "no space after the colon, Windows line endings": (
        GOOD.replace("{speaker: agent, says: sorry}", "\n      speaker:agent\n      says: sorry").replace("\n", "\r\n"),
        11,
        7,
        "'speaker:agent' has no space after the ':'",
        "write 'speaker: agent'",
    ),
    "no space after the colon inside { }": (
        GOOD.replace("{speaker: agent,", "{speaker:agent,"),
        10,
        12,
        "'speaker:agent': it has no space after the ':'",
        "write 'speaker: agent'",
    ),
    "duplicate key": (
        GOOD.replace("    title: Sorry\n", "    title: Sorry\n    title: Apology\n"),
        7,
        5,
        "duplicate key 'title' (first at line 6)",
        "keep one of them",
    ),
    "colon inside an unquoted phrase": (
        GOOD.replace("[sorry, apologize]", "[sorry, note: this]"),
        3,
        18,
        "an item of 'sorry' must be text, not a mapping: 'note: this' reads as 'key: value'",
        'put it in quotes: "note: this"',
    ),
    "stray ]": (
        GOOD.replace("apologize]", "apologize]]"),
        3,
        28,
        "a ']' here closes no '[' list",
        "remove it",
    ),
    "stray }": (
        GOOD.replace("says: sorry}", "says: sorry}}"),
        10,
        40,
        "a '}' here closes no '{' mapping",
        "remove it",
    ),
    "a key line among list items": (
        GOOD.replace("    why:", "  why:"),
        8,
        3,
        "starts in the column of the '- ' items above it",
        "line up with the keys of the item above",
    ),
    "a list item among key lines": (
        LEXICON + "  - thanks\n" + RULE,
        4,
        3,
        "it stands among 'key: value' lines",
        "a list under a key goes on the lines after 'key:'",
    ),
    "an apostrophe inside single quotes": (
        GOOD.replace("message: Good.", "message: 'Don't stop'"),
        9,
        18,
        "text goes on after this quote (')",
        "written twice ('Don''t')",
    ),
    "text after a closing double quote": (
        GOOD.replace("message: Good.", 'message: "Good" apology'),
        9,
        19,
        'text goes on after this quote (")',
        "quote the whole value",
    ),
    "a message that starts with {quote}": (
        GOOD.replace("message: Good.", "message: {quote} is a good apology"),
        9,
        14,
        "more text after a '{...}': a value that starts with '{' is read as a mapping",
        'put the whole text in quotes: "{...} ..."',
    ),
    "a message that starts with [": (
        GOOD.replace("message: Good.", "message: [Tip] say it once"),
        9,
        14,
        "a value that starts with '[' is read as a list",
        "put the whole text in quotes",
    ),
    "a value that starts with @": (
        GOOD.replace("message: Good.", "message: @agent well done"),
        9,
        14,
        "a value cannot start with '@'",
        "put the value in quotes",
    ),
    "a value that starts with *": (
        GOOD.replace("message: Good.", "message: *Good* apology"),
        9,
        14,
        "starts with '*' or '&' is read as a YAML alias or anchor",
        'put the value in quotes ("*really* sorry")',
    ),
    "a value that starts with > and goes on": (
        GOOD.replace("message: Good.", "message: > 2 apologies"),
        9,
        14,
        "a value that starts with '|' or '>' is a block of text on the lines below it",
        "put the value in quotes",
    ),
    "two commas in a row": (
        GOOD.replace("[sorry, apologize]", "[sorry,, apologize]"),
        3,
        17,
        "two commas with nothing between them",
        "remove one",
    ),
    "a '- ' item inside a [ ] list over several lines": (
        GOOD.replace("[sorry, apologize]", "[sorry,\n    - apologize]"),
        4,
        5,
        "a '- ' item inside a '[...]' list, where items are separated by commas",
        "write the item without '- '",
    ),
    "a '- ' item on the line of its key": (
        GOOD.replace("[sorry, apologize]", "- sorry"),
        3,
        10,
        "a '- ' item cannot follow 'key:' on the same line",
        "a line of its own under the key",
    ),
    "the first line indented": (
        "  " + GOOD,
        1,
        3,
        "the file's first line is indented, and a later top-level key is not",
        "in column 1",
    ),
    "a value that starts with > then a letter": (
        GOOD.replace("message: Good.", "message: >Good."),
        9,
        14,
        "a value that starts with '|' or '>' is a block of text on the lines below it",
        "put the value in quotes",
    ),
    "a BOM: columns on line 1 as the editor shows them (already so)": (
        "\ufeffversion: 9\n" + GOOD.removeprefix("version: 1\n"),
        1,
        10,
        "unsupported rule file version 9",
        "version: 1",
    ),
    "one override naming a rule and a lexicon (was: unknown key in a lexicon override 'rule')": (
        GOOD + "overrides:\n  - {rule: said-sorry, lexicon: sorry, add: [my bad]}\n",
        12,
        6,
        "an override changes one rule or one lexicon, not both",
        "split it in two entries",
    ),
    "an override that is only a rule's name (was: must be <rule override> or <lexicon override>)": (
        GOOD + "overrides:\n  - said-sorry\n",
        12,
        5,
        "an override must be a mapping (key: value lines), not 'said-sorry'",
        "'- {rule: dead-air, enabled: false}'",
    ),
    "one override for two rules (was: rule must be text, fix: quote it)": (
        GOOD + "overrides:\n  - {rule: [said-sorry, other], enabled: false}\n",
        12,
        12,
        "'rule:' names one rule, not a list: an override changes one rule",
        "one override per rule",
    ),
    "a number where a condition takes a mapping (was: fix: indent its keys under it)": (
        GOOD.replace("says: sorry}", "says: sorry, min_length: 5}"),
        10,
        53,
        "when.min_length must be a mapping (key: value lines), not 5",
        "write e.g. 'min_length: {words: 35, seconds: 12}'",
    ),
    "an example written as one turn with one dash (was: 'turns' missing and 'agent' unknown, two problems)": (
        GOOD + "    examples:\n      fires:\n        - agent: \"I'm so sorry.\"\n",
        13,
        11,
        "an example is a list of turns, and this one is a turn on its own",
        "write '- - agent: \"...\"'",
    ),
    # YAML allows no control characters: PyYAML refused the file before parsing with a ReaderError,
    # which escaped load_rules (an internal error, exit 1)
    "a NUL byte (unseen in most editors)": (
        GOOD.replace("message: Good.", "message: Go\x00od."),
        9,
        16,
        "a control character (U+0000) YAML does not allow",
        "delete it",
    ),
    "a control character after Windows line endings": (
        GOOD.replace("says: sorry}", "says: sorry\x1b}").replace("\n", "\r\n"),
        10,
        39,
        "a control character (U+001B) YAML does not allow",
        "delete it",
    ),
    "Windows line endings: lines counted as the editor shows them": (
        GOOD.replace("says: sorry}", "says: sorry").replace("\n", "\r\n"),
        10,
        11,
        "a '{' mapping opened here is never closed",
        "'}'",
    ),
}


def _problems(tmp_path: Path, text: str) -> list[RuleProblem]:
    path = tmp_path / "team.yaml"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(RuleError) as info:
        load_rules([path])
    return info.value.errors  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("name", list(MISTAKES))
def test_each_hand_editing_mistake_is_told_in_plain_words_where_to_edit(tmp_path: Path, name: str) -> None:
    text, line, col, words, fix = MISTAKES[name]
    (problem,) = _problems(tmp_path, text)
    shown = str(problem)
    assert problem.path == str(tmp_path / "team.yaml")
    assert (problem.line, problem.col) == (line, col), shown
    assert words in problem.message and fix in problem.hint, shown
    for raw in RAW:
        assert raw not in shown, shown


@pytest.mark.parametrize(
    "name, text, rules",
    [
        ("the file is fine", GOOD, 1),
        ("a BOM", "\ufeff" + GOOD, 1),
        ("Windows line endings", GOOD.replace("\n", "\r\n"), 1),
        ("a BOM and Windows line endings", "\ufeff" + GOOD.replace("\n", "\r\n"), 1),
        ("an empty file", "", 0),
        ("only a comment", "# team changes go here\n", 0),
        ("only blank lines", "\n\n  \n", 0),
        ("a text over several lines", GOOD.replace("message: Good.", "message: Good,\n      well said."), 1),
        ("a '- ' line inside a quoted text", GOOD.replace("message: Good.", "message: 'Good\n      - well said.'"), 1),
        (
            "a '- ' line inside a block text",
            GOOD.replace("message: Good.", "message: |\n      Good\n      - well said."),
            1,
        ),
    ],
)
def test_files_that_just_work(tmp_path: Path, name: str, text: str, rules: int) -> None:
    path = tmp_path / "team.yaml"
    path.write_bytes(text.encode("utf-8"))
    ruleset = load_rules([path])
    assert len(ruleset.rules) == rules, name
    if rules:
        assert ruleset.rule("said-sorry").source == f"{path}:5"
