"""Reading rule files: safe YAML into located values, and the problems found on the way.

Rule files are parsed with PyYAML's safe composer into a small tree of located values
(``YMap``, ``YSeq``, ``YScalar``), each carrying the file, line and column it came from, so
every later validation error can say ``file:line:col``. Duplicate keys and anchors/aliases
are rejected here; nothing in a rule file is ever turned into a Python object by tag.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Union

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..yaml_words import LINE_BREAK, control_character, syntax_problem

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
    if len(known) <= 15:  # a short vocabulary (a condition's 13 keys) whole: the word meant may look nothing alike
        return "use one of: " + ", ".join(known)

    def score(k: str) -> float:
        return difflib.SequenceMatcher(None, name.lower(), k.lower()).ratio()

    nearest = sorted(known, key=lambda k: (-score(k), k))[:5]
    return f"nearest of the {len(known)}: " + ", ".join(nearest)


def unknown_rule_hint(rule_id: str, known: Iterable[str]) -> str:
    """For a rule id asked for on the command line: the closest ids; with none close, also the
    likely slip, a team's own rule whose file was not given."""
    hint = closest_hint(rule_id, known, "rule id")
    if hint.startswith("did you mean"):
        return hint
    return f"{hint}; a rule of a team file loads with that file: add '--rules FILE'"


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
        return _convert(fast, path, problems, 0, LINE_BREAK.split(text))
    return parse_yaml_python(text, path, problems)


def parse_yaml_python(text: str, path: str, problems: Problems) -> YValue | None:
    """``parse_yaml`` with PyYAML's Python loader only (aliases refused as they come)."""
    try:
        loader = _Loader(text)  # checks every character first: YAML allows no control characters
    except yaml.reader.ReaderError as exc:
        found = control_character(exc, path, text)
        problems.items.append(RuleProblem(path, found.line, found.col, found.message, found.hint))
        return None
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
        found = syntax_problem(exc, path, text)
        problems.items.append(RuleProblem(found.path, found.line, found.col, found.message, found.hint))
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
    return _convert(node, path, problems, 0, LINE_BREAK.split(text))


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
