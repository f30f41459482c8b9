"""YAML syntax errors in plain words, at the place a person editing the file by hand would look.

PyYAML reports where its parser gave up, in parser terms ("while parsing a flow node expected the
node content"), often lines after the mistake. ``syntax_problem`` turns such an error into what
went wrong, where to edit and how to fix it. The rule files (``rules.source``) and the masking
list (``privacy``) both use it, so it sits below both layers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # the line breaks PyYAML counts


@dataclass(frozen=True)
class SyntaxProblem:
    """A YAML syntax error: where (1-based line and column), what, and the fix."""

    path: str
    line: int
    col: int
    message: str
    hint: str = ""


# PyYAML's wording -> (plain words, fix, whether the place is where the construct opened)
_SYNTAX = (
    (
        "mapping values are not allowed",
        "a 'key:' where none can be: this line is indented deeper than the keys above it, or its text holds ': '",
        "line its key up with the keys above, or put the text in quotes: \"...\"",
        False,
    ),
    (
        "block collection expected <block end>, but found '?'",
        "this 'key:' line starts in the column of the '- ' items above it: a block holds '- ' items or "
        "'key: value' lines, not both",
        "indent it to line up with the keys of the item above (under 'id:'), or start it with '- ' if it "
        "begins a new item",
        False,
    ),
    (
        "block mapping expected <block end>, but found '-'",
        "this '- ' item is indented differently from the lines above it: it stands among 'key: value' lines, "
        "and a block holds '- ' items or 'key: value' lines, not both",
        "start it in the column of the other '- ' items of its list; a list under a key goes on the lines "
        "after 'key:', indented deeper than the key",
        False,
    ),
    (
        "expected <block end>",
        "this line is indented differently from the lines above it",
        "start it in the same column as the other keys (or '- ' items) of its block; spaces only",
        False,
    ),
    (
        "could not find expected ':'",
        "a line here has no 'key: value' (a ':' followed by a space)",
        "write 'key: value', or quote a text that runs over several lines",
        True,
    ),
    (
        "did not find expected",
        "this line is indented differently from the lines above it",
        "start it in the same column as the other keys (or '- ' items) of its block; spaces only",
        False,
    ),
    (
        "cannot start any token",
        "a tab or a stray character where YAML expects a key or value",
        "indent with spaces only, and quote values that start with a special character",
        False,
    ),
    (
        "unknown escape character",
        "a backslash inside double quotes starts an escape, and this one ('\\s', '\\d', '\\w'...) is not "
        "one YAML knows",
        "put a regular expression in single quotes ('...'), where a backslash is just a backslash, "
        "or write it twice inside double quotes (\"\\\\s\")",
        False,
    ),
    (
        "quoted scalar",
        "a quote opened here is never closed",
        "close the text with the same quote mark it starts with",
        True,
    ),
    (
        "flow sequence",
        "a '[' list opened here is never closed, or its items lack commas",
        "close it with ']' and separate its items with ','",
        True,
    ),
    (
        "flow mapping",
        "a '{' mapping opened here is never closed, or its entries lack commas",
        "close it with '}' and separate its entries with ','",
        True,
    ),
)

# a closing bracket where no list or mapping is open: (what, fix) by the bracket
_STRAY = {
    "]": ("a ']' here closes no '[' list", "remove it, or add the '[' it was meant to close"),
    "}": ("a '}' here closes no '{' mapping", "remove it, or add the '{' it was meant to close"),
}
# 'key:value' (no space after the colon): a name, a ':' and a character that is not a space
# (nor '/', as in a web address)
_NO_SPACE = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w-]*):([^\s/:][^#]*?)\s*(?:#.*)?$")


def _no_space_line(lines: list[str], line: int) -> int | None:
    """The 0-based line, at or above ``line`` in the same block, written 'key:value' with no space
    after the ':' (YAML reads it as text, so the error shows on a later line), or None."""
    for number in range(min(line, len(lines) - 1), -1, -1):
        text = lines[number]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if _NO_SPACE.match(text):
            return number
        if number < line:  # only the line itself and the nearest written line above it
            return None
    return None


_FLOW = {"[": "flow sequence", "{": "flow mapping"}  # an opening bracket -> its needle in _SYNTAX


def _unclosed_bracket(text: str) -> tuple[str, yaml.Mark] | None:
    """The innermost '[' or '{' that ``text`` never closes, and where it is; None when all are
    closed. Only called on a syntax error: it scans the text again (the scanner's tokens, no
    parsing), up to where the scanner stops."""
    stack: list[tuple[str, yaml.Mark]] = []
    scanner = yaml.SafeLoader(text)
    try:
        while scanner.check_token():
            token = scanner.get_token()
            if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken)):
                stack.append(("[" if isinstance(token, yaml.FlowSequenceStartToken) else "{", token.start_mark))
            elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)) and stack:
                stack.pop()
    except yaml.YAMLError:
        pass
    finally:
        scanner.dispose()
    return stack[-1] if stack else None


def _opening(text: str, opening: str) -> int:
    """The 0-based column of the bracket that the last character of ``text`` closes (outside quotes
    it cannot tell: the value is plain text that starts with the bracket)."""
    closing = text[-1]
    depth = 0
    for column in range(len(text) - 1, -1, -1):
        depth += (text[column] == closing) - (text[column] == opening)
        if depth == 0:
            return column
    return len(text) - 1


def control_character(exc: yaml.reader.ReaderError, path: str, text: str) -> SyntaxProblem:
    """A character YAML does not allow (a NUL, an ESC: PyYAML's ``ReaderError``, raised before it
    parses anything) at its line and column in ``text``."""
    lines = LINE_BREAK.split(text[: exc.position])  # as PyYAML counts lines
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
    return SyntaxProblem(
        path,
        len(lines),
        len(lines[-1]) + 1,
        f"a control character (U+{code:04X}) YAML does not allow",
        "delete it: most editors do not show it, so retype the text around it",
    )


def syntax_problem(exc: yaml.MarkedYAMLError, path: str, text: str = "") -> SyntaxProblem:
    """A PyYAML syntax error in plain words, at the place a person would look."""
    raw = " ".join(t for t in (exc.context, exc.problem) if t) or "invalid YAML"
    mark = exc.problem_mark or exc.context_mark
    lines = LINE_BREAK.split(text)  # the lines as PyYAML counts them
    found = re.search(r"but found '(.)'", exc.problem or "")
    before = lines[mark.line][: mark.column].rstrip() if mark is not None and mark.line < len(lines) else ""
    if "anchors and aliases" in raw:  # a real '*name' (refused by _Loader)
        what, hint = (
            exc.problem or raw,
            "anchors and aliases are not supported; repeat the value or use a named lexicon (a text that "
            'starts with \'*\' goes in quotes: "*really* sorry")',
        )
    elif "alias" in raw or "anchor" in raw:  # '*' or '&' then no name: text that starts with it
        what, hint = (
            "a value that starts with '*' or '&' is read as a YAML alias or anchor, which rule files do not use",
            'put the value in quotes ("*really* sorry"); to use the same words twice, use a named lexicon',
        )
        mark = exc.context_mark or mark
    elif found and found.group(1) in _STRAY:
        what, hint = _STRAY[found.group(1)]
    elif "but found '<scalar>'" in raw and before[-1:] in ("'", '"'):
        assert mark is not None
        mark = yaml.Mark(mark.name, mark.index, mark.line, len(before) - 1, None, None)  # that quote
        what = f"text goes on after this quote ({before[-1]}), which ends the quoted value"
        hint = (
            "quote the whole value; an apostrophe inside '...' is written twice ('Don''t'), or put the text "
            "in double quotes (\"Don't\")"
            if before[-1] == "'"
            else "quote the whole value; a '\"' inside \"...\" is written \\\", or put the text in single "
            "quotes ('Say \"sorry\"')"
        )
    elif "but found '<scalar>'" in raw and before[-1:] in ("]", "}"):
        opening = "[" if before[-1] == "]" else "{"
        assert mark is not None
        mark = yaml.Mark(mark.name, mark.index, mark.line, _opening(before, opening), None, None)
        what, hint = (
            f"more text after a '{opening}...{before[-1]}': a value that starts with '{opening}' is read as a "
            f"{'list' if opening == '[' else 'mapping'}, which ends at its '{before[-1]}'",
            f'put the whole text in quotes: "{opening}...{before[-1]} ..."',
        )
    elif "found '<stream end>'" in raw and (bracket := _unclosed_bracket(text)) is not None:
        # a flow list or mapping cut off: "[sorry,\n  apologize," as the last lines
        opening, mark = bracket
        _, what, hint, _ = next(entry for entry in _SYNTAX if entry[0] == _FLOW[opening])
    elif "flow node" in raw and found is not None and found.group(1) == ",":
        what, hint = "two commas with nothing between them", "remove one, or write the item that goes between them"
    elif "flow node" in raw and found is not None and found.group(1) == "-":
        what, hint = (
            "a '- ' item inside a '[...]' list, where items are separated by commas",
            "write the item without '- ' and end it with ',' (or make the whole list '- ' lines, without '[' and ']')",
        )
    elif ("flow node" in raw or "block node" in raw) and found is not None:
        what, hint = (
            f"a value cannot start with {found.group(1)!r} here",
            'remove it, or put the value in quotes: "..."',
        )
    elif "sequence entries are not allowed here" in raw:
        what, hint = (
            "a '- ' item cannot follow 'key:' on the same line",
            "put each '- ' item on a line of its own under the key, indented, or write the list as '[a, b]'",
        )
    elif "expected '<document start>'" in raw:
        hint = "start every top-level key (version:, lexicons:, rules:, overrides:) in column 1"
        first = next((n for n, t in enumerate(lines) if t.strip() and not t.lstrip().startswith("#")), None)
        if first is not None and lines[first][:1] == " ":  # the file's first key indented: edit it
            indent = len(lines[first]) - len(lines[first].lstrip(" "))
            return SyntaxProblem(
                path,
                first + 1,
                indent + 1,
                "YAML syntax error: the file's first line is indented, and a later top-level key is not",
                hint,
            )
        what, hint = (
            "this line starts a second top-level part: the lines above it make a whole one already "
            "(a list or a text comes before the keys)",
            hint + ", with only comments before them",
        )
    elif "cannot start any token" in raw and (char := re.search(r"found character '(.+?)'", raw)) is not None:
        if char.group(1) == "\\t":
            what, hint = (
                "a tab here: YAML takes spaces only, for indenting and after a ':'",
                "replace the tab with spaces (set the editor to insert spaces for the Tab key)",
            )
        else:
            what, hint = f"a value cannot start with {char.group(1)!r} in YAML", 'put the value in quotes: "..."'
    elif "while scanning a block scalar" in raw:
        what, hint = (
            "a value that starts with '|' or '>' is a block of text on the lines below it, so nothing may follow "
            "it on its line",
            'put the value in quotes ("> 2 calls"), or write the text on the next lines, indented',
        )
        mark = exc.context_mark or mark
    elif (
        mark is not None
        and ("mapping values are not allowed" in raw or "could not find expected ':'" in raw)
        and (number := _no_space_line(lines, (exc.context_mark or mark).line)) is not None
    ):
        match = _NO_SPACE.match(lines[number])
        assert match is not None
        key, value = match.group(1), match.group(2)
        what = f"'{key}:{value}' has no space after the ':', so YAML reads it as text, not as 'key: value'"
        hint = f"write '{key}: {value}'"
        return SyntaxProblem(path, number + 1, lines[number].index(key) + 1, f"YAML syntax error: {what}", hint)
    else:
        for needle, plain, fix, at_open in _SYNTAX:
            if needle in raw:
                what, hint = plain, fix
                if at_open and exc.context_mark is not None:
                    mark = exc.context_mark
                break
        else:
            what, hint = raw, "check indentation, quotes and colons near this place"
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return SyntaxProblem(path, line, col, f"YAML syntax error: {what}", hint)
