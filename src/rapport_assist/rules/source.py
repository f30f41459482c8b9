"""Reading rule files: safe YAML into located values, and the problems found on the way.

Rule files are parsed with PyYAML's safe composer into a small tree of located values
(``YMap``, ``YSeq``, ``YScalar``), each carrying the file, line and column it came from, so
every later validation error can say ``file:line:col``. Duplicate keys and anchors/aliases
are rejected here; nothing in a rule file is ever turned into a Python object by tag.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Union

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 64
MAX_FILE_BYTES = 2_000_000


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong in a rule file, with where it is (1-based line and column) and a fix."""

    path: str
    line: int
    col: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        fix = f" (fix: {self.hint})" if self.hint else ""
        return f"{self.path}:{self.line}:{self.col}: {self.message}{fix}"


@dataclass(frozen=True)
class Loc:
    """A place in a rule file (1-based line and column)."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, eq=False)
class YScalar:
    """A scalar with its resolved YAML type (str, int, float, bool or None) and its source text."""

    value: Union[str, int, float, bool, None]
    loc: Loc
    raw: str = ""


@dataclass(frozen=True, eq=False)
class YSeq:
    items: tuple["YValue", ...]
    loc: Loc


@dataclass(frozen=True, eq=False)
class YMap:
    """A mapping with string keys (other keys are reported and dropped); key order is kept."""

    entries: dict[str, tuple[Loc, "YValue"]]
    loc: Loc

    def get(self, key: str) -> "YValue | None":
        entry = self.entries.get(key)
        return entry[1] if entry else None


YValue = Union[YScalar, YSeq, YMap]


@dataclass
class Problems:
    """Collects every problem instead of stopping at the first."""

    items: list[RuleProblem] = field(default_factory=list)

    def add(self, loc: Loc, message: str, hint: str = "") -> None:
        self.items.append(RuleProblem(loc.path, loc.line, loc.col, message, hint))

    def unknown(self, loc: Loc, what: str, name: str, known: Iterable[str]) -> None:
        """Report an unknown name, suggesting the closest known ones."""
        self.add(loc, f"unknown {what} {name!r}", closest_hint(name, known, what))


def closest_hint(name: str, known: Iterable[str], what: str = "name") -> str:
    """ "did you mean" the closest known names; else the few nearest, never an alphabetical slice."""
    known = sorted(set(known))
    if not known:
        return f"define the {what} first"
    folded = {k.lower(): k for k in known}
    close = [folded[c] for c in difflib.get_close_matches(name.lower(), list(folded), n=3, cutoff=0.6)]
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if len(known) <= 8:
        return "use one of: " + ", ".join(known)

    def score(k: str) -> float:
        return difflib.SequenceMatcher(None, name.lower(), k.lower()).ratio()

    nearest = sorted(known, key=lambda k: (-score(k), k))[:5]
    return f"nearest of the {len(known)}: " + ", ".join(nearest)


class _Loader(yaml.SafeLoader):
    """A SafeLoader used only to compose nodes (tags are resolved, never constructed).

    Aliases are refused while composing, so a file can neither expand exponentially
    ("billion laughs") nor refer to itself.
    """

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (*name) are not supported", event.start_mark
            )
        return super().compose_node(parent, index)


def _mark_loc(path: str, node: Node) -> Loc:
    return Loc(path, node.start_mark.line + 1, node.start_mark.column + 1)


def _scalar_value(node: ScalarNode) -> Union[str, int, float, bool, None]:
    """Resolve a plain scalar the way SafeLoader would, limited to the JSON-like types."""
    tag = node.tag
    text = node.value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return text.lower() in ("yes", "true", "on", "y")
    if tag == "tag:yaml.org,2002:int":
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            return text
    if tag == "tag:yaml.org,2002:float":
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    return text


# a BOM and line breaks other than \n (PyYAML's reader counts places itself), tabs (libyaml
# accepts some that PyYAML refuses)
_FAST_SKIP = ("\ufeff", "\x85", "\u2028", "\u2029", "\r", "\t")


def _compose_fast(text: str) -> Node | None:
    """The one document of ``text`` composed by libyaml (PyYAML's C parser, about ten times
    faster than its Python one: the default rules in 0.04 s instead of 0.3 s, the sidebar's
    start waits for them), or None when it cannot be, or must not be, used: no libyaml; a
    YAML error; aliases; explicit tags; more than one document; nesting deeper than ``MAX_DEPTH``
    (libyaml's composer recurses in C, so a file nested 100,000 deep would crash the process);
    a tab, a BOM or a line break other than \n (where the two parsers differ). Then ``parse_yaml`` parses with the Python loader, which says
    what is wrong exactly as before. A first pass over the events (libyaml's parser keeps its
    own stacks, no recursion) checks all that before anything is composed."""
    loader_class = getattr(yaml, "CSafeLoader", None)
    if loader_class is None or not getattr(yaml, "__with_libyaml__", False) or any(c in text for c in _FAST_SKIP):
        return None
    try:
        events = loader_class(text)
        try:
            depth = documents = 0
            while (event := events.get_event()) is not None:
                kind = type(event)
                if getattr(event, "tag", None) is not None:  # "!tag": refused, in PyYAML's words
                    return None
                if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                    depth += 1
                    if depth > MAX_DEPTH:
                        return None
                elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                    depth -= 1
                elif kind is yaml.AliasEvent:
                    return None
                elif kind is yaml.DocumentStartEvent:
                    documents += 1
        finally:
            events.dispose()
        if documents != 1:
            return None
        composer = loader_class(text)
        try:
            node: Node | None = composer.get_single_node()
        finally:
            composer.dispose()
        return node
    except (yaml.YAMLError, RecursionError, ValueError):
        return None


def parse_yaml(text: str, path: str, problems: Problems) -> YValue | None:
    """Parse one YAML document into located values; syntax problems go to ``problems``."""
    fast = _compose_fast(text)
    if fast is not None:
        return _convert(fast, path, problems, 0, _LINE_BREAK.split(text))
    return parse_yaml_python(text, path, problems)


def parse_yaml_python(text: str, path: str, problems: Problems) -> YValue | None:
    """``parse_yaml`` with PyYAML's Python loader only (aliases refused as they come)."""
    loader = _Loader(text)
    try:
        if not loader.check_node():
            return None
        node = loader.get_node()
        if loader.check_node():
            extra = loader.get_node()
            problems.add(
                _mark_loc(path, extra),
                "a rule file holds one YAML document, found a second",
                "remove the '---' separator or split the file",
            )
    except yaml.MarkedYAMLError as exc:
        problems.items.append(syntax_problem(exc, path, text))
        return None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        problems.items.append(
            RuleProblem(
                path, 1, 1, f"YAML could not be read ({exc.__class__.__name__})", "check the file is plain YAML text"
            )
        )
        return None
    finally:
        loader.dispose()
    return _convert(node, path, problems, 0, _LINE_BREAK.split(text))


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
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
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


def syntax_problem(exc: yaml.MarkedYAMLError, path: str, text: str = "") -> RuleProblem:
    """A PyYAML syntax error in plain words, at the place a person would look."""
    raw = " ".join(t for t in (exc.context, exc.problem) if t) or "invalid YAML"
    mark = exc.problem_mark or exc.context_mark
    lines = _LINE_BREAK.split(text)  # the lines as PyYAML counts them
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
            return RuleProblem(
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
        return RuleProblem(path, number + 1, lines[number].index(key) + 1, f"YAML syntax error: {what}", hint)
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
    return RuleProblem(path, line, col, f"YAML syntax error: {what}", hint)


def _convert(node: Node, path: str, problems: Problems, depth: int, lines: list[str]) -> YValue | None:
    loc = _mark_loc(path, node)
    if depth > MAX_DEPTH:
        problems.add(loc, f"nesting deeper than {MAX_DEPTH} levels", "flatten the structure")
        return None
    if isinstance(node, ScalarNode):
        if node.tag not in _PLAIN_TAGS:
            problems.add(loc, f"unsupported YAML tag {node.tag!r}", "remove the '!' tag")
            return None
        if (joined := _joined_item(node, lines)) is not None:
            line, column = joined
            problems.add(
                Loc(path, line + 1, column + 1),
                f"this '- ' item is indented deeper than the line above it, so YAML reads it as more words of "
                f"that line ({node.value!r})",
                "start it in the same column as the '- ' items above it; a text that goes on over several "
                'lines goes in quotes: "..."',
            )
            return None
        return YScalar(_scalar_value(node), loc, node.value)
    if isinstance(node, SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            problems.add(loc, f"unsupported YAML tag {node.tag!r}", "remove the '!' tag")
            return None
        items = [_convert(child, path, problems, depth + 1, lines) for child in node.value]
        return YSeq(tuple(i for i in items if i is not None), loc)
    if isinstance(node, MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            problems.add(loc, f"unsupported YAML tag {node.tag!r}", "remove the '!' tag")
            return None
        entries: dict[str, tuple[Loc, YValue]] = {}
        for key_node, value_node in node.value:
            key_loc = _mark_loc(path, key_node)
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                problems.add(key_loc, "keys must be plain names", "write the key as text, e.g. 'title:'")
                continue
            key = str(key_node.value)
            if key in entries:
                first = entries[key][0]
                problems.add(
                    key_loc,
                    f"duplicate key {key!r} (first at line {first.line})",
                    "keep one of them; YAML would silently drop the first",
                )
                continue
            value = _convert(value_node, path, problems, depth + 1, lines)
            if value is not None:
                entries[key] = (key_loc, value)
        return YMap(entries, loc)
    problems.add(loc, "unsupported YAML node", "use mappings, lists and plain values only")
    return None


def _joined_item(node: ScalarNode, lines: list[str]) -> tuple[int, int] | None:
    """Where a '- ' line was folded into an unquoted text running over lines (an item indented
    deeper than the one above it: '- sorry' then '  - apologize' is the one text 'sorry -
    apologize'), as 0-based (line, column); None when there is none."""
    if node.style or node.end_mark.line <= node.start_mark.line:  # quoted, a block, or one line
        return None
    for line in range(node.start_mark.line + 1, min(node.end_mark.line + 1, len(lines))):
        text = lines[line]
        if text.lstrip() == "-" or text.lstrip().startswith("- "):
            return line, len(text) - len(text.lstrip())
    return None


_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))


def read_rule_file(path: Path, problems: Problems) -> YValue | None:
    """Read and parse one rule file; unreadable files become problems, never exceptions."""
    shown = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.items.append(
            RuleProblem(
                shown, 1, 1, f"cannot read rule file ({exc.strerror or exc})", "check the path and its permissions"
            )
        )
        return None
    if len(data) > MAX_FILE_BYTES:
        problems.items.append(
            RuleProblem(shown, 1, 1, f"rule file is larger than {MAX_FILE_BYTES} bytes", "split it into several packs")
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1  # in bytes: the text cannot be decoded
        problems.items.append(RuleProblem(shown, line, col, "rule file is not UTF-8 text", "save the file as UTF-8"))
        return None
    return parse_yaml(text, shown, problems)
