"""Validating located YAML against the models of ``rules.spec``, problems at ``file:line:col``.

``check`` runs pydantic on a plain copy of a located tree (``rules.source``) and turns each of
pydantic's errors into a ``RuleProblem`` in the loader's words: the place comes from following
the error's path through the located tree, the wording from the error's type and the model
that holds the key ("unknown key in a rule 'titel' (fix: did you mean 'title'?)"). Every error
of the tree is reported, not only the first.

``valid`` validates without reporting: the loader uses it to build what is valid in a file
that also has errors elsewhere, so problems in the rest are still found in the same run.
"""

from __future__ import annotations

import math
import typing
from functools import lru_cache
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from . import spec
from .source import Loc, Problems, YMap, YScalar, YSeq, YValue, closest_hint
from .spec import MAX_REGEX_CHARS, NAME_PATTERN, PARAM_PATTERN, SHAPE_WORDS, Spec

Step = Union[str, int]

# the depth of a tree's parts the loader builds one by one: ('rules', 3), ('lexicons', 'thanks')
UNIT_DEPTH = 2
# how a value of each kind is named in "unknown X" messages, by the key holding it
_CHOICE_WORDS = {"skip_if": "skip_if test", "entities": "entity label", "kind": "event kind"}
_MISSING_HINTS = {
    "speaker": "add 'speaker: agent'",
    "within": "add e.g. 'within: {turns: 1, seconds: 20}'",
    "kind": "add 'kind: dead_air' or 'kind: talk_over'",
    "min_shared": "add e.g. 'min_shared: 2'",
}
_EXPECTED = {  # pydantic error type -> (what the value must be, fix)
    "string_type": ("text", 'quote it: "..."'),
    "float_type": ("a number", "write a number like 20 or 2.5"),
    "int_type": ("a whole number", "write a number like 1"),
    "bool_type": ("true or false", "write true or false"),
    "dict_type": ("a mapping (key: value lines)", "indent its keys under it"),
    "model_type": ("a mapping (key: value lines)", "indent its keys under it"),
    "model_attributes_type": ("a mapping (key: value lines)", "indent its keys under it"),
    "list_type": ("a list", "write each item on a '- ' line"),
}
# a condition written as a bare value where it takes a mapping: an example of the mapping
_MAPPING_EXAMPLES = {
    "min_length": "{words: 35, seconds: 12}",
    "earlier": "{within: {turns: 4}, count: 2, says: NAME}",
    "within": "{turns: 1, seconds: 20}",
    "reflects": "{min_shared: 2}",
    "event": "{kind: dead_air, min_s: 8}",
}
_SHAPE_HINTS = {
    spec.TEXT: 'write text, quoted if it has special characters: "..."',
    spec.NUMBER: "write a number like 20 or 2.5",
    spec.FLAG: "write true or false",
    spec.LIST: "write each item on a '- ' line",
    spec.MAPPING: "indent its keys under it",
}


def plain(value: YValue | None) -> Any:
    """A located YAML value as the plain Python pydantic validates."""
    if isinstance(value, YMap):
        return {k: plain(v) for k, (_, v) in value.entries.items()}
    if isinstance(value, YSeq):
        return [plain(v) for v in value.items]
    return value.value if value is not None else None


@lru_cache(maxsize=None)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


@lru_cache(maxsize=None)
def field_types(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by their YAML key, with their full annotations (constraints, unions)."""
    hints = typing.get_type_hints(model, vars(spec), include_extras=True)
    return {(f.alias or name): hints[name] for name, f in model.model_fields.items()}


def valid(tp: Any, node: YValue | None) -> Any | None:
    """``node`` validated as ``tp`` (a model class or an annotation), or None; reports nothing."""
    try:
        return _adapter(tp).validate_python(plain(node))
    except ValidationError:
        return None


def check(tp: Any, node: YValue, problems: Problems, base: tuple[Step, ...] = ()) -> Any | None:
    """``node`` validated as ``tp``; each error becomes a located problem. ``base`` is the path of
    ``node`` in its file (for the names in messages)."""
    try:
        return _adapter(tp).validate_python(plain(node))
    except ValidationError as exc:
        seen: set[tuple[int, int, str]] = set()
        for error in exc.errors(include_url=False):
            loc, message, hint = describe(tp, node, error, base)
            if (loc.line, loc.col, message) not in seen:  # one per place (dict keys repeat)
                seen.add((loc.line, loc.col, message))
                problems.add(loc, message, hint)
        return None


# ---------------------------------------------------------------- following a path


def _tag_of(arg: Any) -> str | None:
    for meta in getattr(arg, "__metadata__", ()):
        if hasattr(meta, "tag"):
            return str(meta.tag)
    return None


def _bare(tp: Any) -> Any:
    """The type inside ``Annotated[...]`` layers."""
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    return tp


def _step_type(tp: Any, step: Step) -> Any:
    """The type one step below ``tp`` (a field, a list item, a dict value or key, a union branch)."""
    tp = _bare(tp)
    origin = get_origin(tp)
    if origin is Union:
        for arg in get_args(tp):
            if _tag_of(arg) == step:
                return arg
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return field_types(tp).get(str(step))
    if origin is list:
        return get_args(tp)[0]
    if origin is dict:
        return get_args(tp)[0] if step == "[key]" else get_args(tp)[1]
    return None


def _is_tag(step: Step) -> bool:
    return isinstance(step, str) and step.startswith("<")


class _Walk:
    """Where a pydantic error path leads in the located tree and in the models."""

    def __init__(self, tp: Any, node: YValue, path: tuple[Step, ...]) -> None:
        self.types: list[Any] = [tp]
        self.node: YValue | None = node
        self.container: YValue = node  # the last mapping or list passed through
        self.key_loc: Loc | None = None
        for step in path:
            self.types.append(_step_type(self.types[-1], step) if self.types[-1] is not None else None)
            if _is_tag(step):
                continue
            if step == "[key]":
                self.node = None  # the key itself: key_loc
                continue
            if isinstance(self.node, YMap) and isinstance(step, str) and step in self.node.entries:
                self.container = self.node
                self.key_loc, self.node = self.node.entries[step]
            elif isinstance(self.node, YSeq) and isinstance(step, int) and 0 <= step < len(self.node.items):
                self.container = self.node
                self.key_loc, self.node = None, self.node.items[step]
            else:  # a key that is not there (missing): the mapping that lacks it holds the place
                if self.node is not None:
                    self.container = self.node
                self.node = None

    def model_at(self, index: int) -> type[Spec] | None:
        tp = _bare(self.types[index]) if -len(self.types) <= index < len(self.types) else None
        return tp if isinstance(tp, type) and issubclass(tp, Spec) else None


def _keys(path: tuple[Step, ...]) -> list[str]:
    return [s for s in path if isinstance(s, str) and not _is_tag(s) and s != "[key]"]


def _named(model: type[Spec] | None, path: tuple[Step, ...]) -> str:
    """How the part at ``path`` is called in a message: its model's name for itself
    ("a rule", "lexicon 'thanks'") or the keys leading to it ("expect.within")."""
    if model is not None and model.what:
        keys = _keys(path)
        return model.what.format(name=keys[-1] if keys else "")
    inner = _keys(path[UNIT_DEPTH:]) if len(path) > UNIT_DEPTH else _keys(path)
    steps = [s for s in path if not _is_tag(s)]
    if len(steps) > UNIT_DEPTH and isinstance(steps[-1], int):  # an item of a list
        if inner:
            return f"an item of '{inner[-1]}'"
        if isinstance(steps[1], str):  # a lexicon written as a bare list: 'sorry: [sorry, ...]'
            return f"an item of {steps[1]!r}"
    if inner and inner[-1] in ("agent", "customer"):  # in an example turn
        return f"the {inner[-1]}'s words"
    if path[:1] == ("tones",) and inner == ["text"]:
        return f"tone {path[1]!r}"
    return ".".join(inner[-2:]) if inner else "a rule file"


def _colon_text(node: YValue | None) -> str | None:
    """'key: value' as written, for a mapping of one entry whose value is plain text or a
    number: most likely text holding ': ' that YAML read as a mapping; else None."""
    if not isinstance(node, YMap) or len(node.entries) != 1:
        return None
    ((key, (_, value)),) = node.entries.items()
    if not isinstance(value, YScalar) or isinstance(value.value, bool):
        return None
    return f"{key}: {value.raw}" if value.raw else f"{key}:"


def _shown(node: YValue | None, fallback: Any) -> str:
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    value = node.value if isinstance(node, YScalar) else fallback
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _choices(tp: Any) -> tuple[str, ...]:
    tp = _bare(tp)
    if get_origin(tp) is Literal:
        return tuple(str(a) for a in get_args(tp))
    return ()


def _turn_without_its_dash(walk: _Walk) -> tuple[Loc, str, str] | None:
    """An example written as one turn with one dash ('- customer: "..."' under 'fires:'): YAML
    reads it as an example mapping with a speaker in it, which pydantic reports twice ('turns'
    missing, 'customer' unknown). One problem instead, at the example, saying what it takes."""
    if walk.model_at(-2) is not spec.ExampleSpec or not isinstance(walk.container, YMap):
        return None
    speakers = [k for k in walk.container.entries if k in ("agent", "customer")]
    if not speakers or "turns" in walk.container.entries:
        return None
    return (
        walk.container.loc,
        "an example is a list of turns, and this one is a turn on its own (one dash)",
        f"write '- - {speakers[0]}: \"...\"': a dash for the example, then one for each of its turns "
        "(a second turn on the next line, under the first: '  - agent: ...')",
    )


def describe(tp: Any, root: YValue, error: ErrorDetails, base: tuple[Step, ...] = ()) -> tuple[Loc, str, str]:
    """One pydantic error as (where, what is wrong, how to fix it), in the loader's words."""
    path = tuple(error["loc"])
    walk = _Walk(tp, root, path)
    full = base + path
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    here = walk.node.loc if walk.node is not None else (walk.key_loc or walk.container.loc)
    name = _named(walk.model_at(-1), full)  # the value's own name

    if kind in ("extra_forbidden", "missing") and (one_turn := _turn_without_its_dash(walk)) is not None:
        return one_turn
    if kind == "extra_forbidden":
        key = str(path[-1])
        holder = walk.model_at(-2)
        what = _named(holder, full[:-1])
        word = holder.unknown.format(what=what) if holder is not None else f"key in {what}"
        known = field_types(holder) if holder is not None else ()
        hint = closest_hint(key, known, "key")
        head, colon, tail = key.partition(":")
        if colon and tail and not tail.startswith(" ") and head.strip() in known:  # {speaker:agent}
            return (
                walk.key_loc or here,
                f"unknown {word} {key!r}: it has no space after the ':', so YAML reads it as one word",
                f"write '{head.strip()}: {tail}'",
            )
        if getattr(holder, "what", "") == "an override" and not hint.startswith("did you mean"):
            # a threshold written beside 'rule:' ({rule: dead-air, silence_s: 12})
            value_text = value if isinstance(value, (int, float)) and not isinstance(value, bool) else "..."
            hint = (
                f"a rule's threshold goes under 'params' ('params: {{{key}: {value_text}}}'); "
                f"an override's own keys are {', '.join(known)}"
            )
        if getattr(holder, "what", "") == "a lexicon override" and key == "rule":
            # {rule: dead-air, lexicon: hold, add: [...]}: read as a lexicon override, as 'lexicon' is in it
            return (
                walk.key_loc or here,
                "an override changes one rule or one lexicon, not both: this one names a rule and a lexicon",
                "split it in two entries, '- {rule: ID, ...}' and '- {lexicon: NAME, add: [...]}'",
            )
        return walk.key_loc or here, f"unknown {word} {key!r}", hint
    if kind == "missing":
        key = str(path[-1])
        what = _named(walk.model_at(-2), full[:-1])
        return (
            walk.container.loc,
            f"{what} is missing required key {key!r}",
            _MISSING_HINTS.get(key, f"add '{key}: ...'"),
        )
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        if "missing required key" in message:
            key = message.rsplit("'", 2)[-2]
            return here, message, _MISSING_HINTS.get(key, f"add '{key}: ...'")
        return here, message, "write e.g. '- question' or '- negated: {before: 3}'"
    if path and path[-1] == "[key]":
        return walk.key_loc or here, *_bad_key(full, str(value))
    if kind == "literal_error":
        return here, *_bad_choice(walk, full, value)
    if kind in ("string_type", "union_tag_invalid") and (pair := _colon_text(walk.node)) is not None:
        return (  # 'note: this' in a [...] list, or '- note: this': a ': ' makes it a mapping
            here,
            f"{name} must be text, not a mapping: {pair!r} reads as 'key: value' because of the ': '",
            f'put it in quotes: "{pair}"',
        )
    if kind == "string_type" and isinstance(value, list) and full[-1] in ("rule", "lexicon") and full[0] == "overrides":
        # {rule: [dead-air, jargon], enabled: false}: one override changes one rule (or lexicon)
        key = str(full[-1])
        return (
            here,
            f"'{key}:' names one {key}, not a list: an override changes one {key}",
            f"write one override per {key}, each on a '- {{{key}: NAME, ...}}' line of its own",
        )
    if kind in _EXPECTED:
        must, fix = _EXPECTED[kind]
        if kind in ("dict_type", "model_type", "model_attributes_type") and full and full[-1] in _MAPPING_EXAMPLES:
            fix = f"write e.g. '{full[-1]}: {_MAPPING_EXAMPLES[str(full[-1])]}'"  # 'min_length: 5': what it takes
        return here, f"{name} must be {must}, not {_shown(walk.node, value)}", fix
    if kind == "union_tag_invalid":
        tags = [_tag_of(a) for a in get_args(_bare(walk.types[-1]))]
        if spec.RULE_OVERRIDE in tags:  # '- dead-air' under overrides: the rule named, nothing said
            return (
                here,
                f"an override must be a mapping (key: value lines), not {_shown(walk.node, value)}",
                "write e.g. '- {rule: dead-air, enabled: false}' or '- {lexicon: jargon, add: [VLAN]}'",
            )
        words = [SHAPE_WORDS.get(t, t) for t in tags if t is not None]
        if spec.PATTERNS in tags:
            words = ["a list of token specs"]
        fix = _SHAPE_HINTS.get(tags[0] or "", "see rules/README.md") if tags else "see rules/README.md"
        return here, f"{name} must be {' or '.join(dict.fromkeys(words))}, not {_shown(walk.node, value)}", fix
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern")
        if pattern == PARAM_PATTERN:  # a text where a number (or $param) goes
            if isinstance(value, str) and value.startswith("$"):
                return (
                    here,
                    f"{name}: {value!r} is not a $name of a param",
                    "write $ and the param's name, e.g. $wait_s",
                )
            return here, f"{name} must be a number, not {_shown(walk.node, value)}", "write a number like 20 or 2.5"
        if pattern == NAME_PATTERN:
            name = "rule id" if _keys(full)[-1:] == ["id"] else name
            if "says" in _keys(full) and isinstance(value, str) and " " in value.strip():
                return (  # a phrase written where a lexicon's name goes: the usual first rule
                    here,
                    f"{name} {value!r} is a phrase, but 'says' takes the names of lexicons",
                    "put the phrases in a lexicon, e.g. 'lexicons: {cancel-words: [cancel my, close my account]}',"
                    " and write 'says: cancel-words' (or match the words with says: {regex: '...'})",
                )
            return (
                here,
                f"{name} {value!r} is not a valid name",
                "use lowercase letters, digits and dashes, e.g. 'angry-no-apology'",
            )
        return here, f"{name} {value!r} does not match {pattern}", "see rules/README.md"
    if kind == "string_too_short":
        return here, f"{name} is empty", "write some text"
    if kind == "string_too_long" and ctx.get("max_length") == MAX_REGEX_CHARS:
        return (
            here,
            f"regex {value!r}: is {len(str(value))} characters long (at most {MAX_REGEX_CHARS})",
            "split it into several rules or use a lexicon of phrases",
        )
    if kind == "too_short":
        return here, f"{name} list is empty", "add at least one"
    if kind in ("greater_than_equal", "less_than_equal"):
        if _keys(full)[-1:] == ["priority"]:
            return here, f"priority must be 1..100, not {value}", "100 is shown first when nudges compete"
        bound = f">= {ctx.get('ge')}" if kind == "greater_than_equal" else f"<= {ctx.get('le')}"
        return here, f"{name} must be {bound}, not {value}", f"write a number {bound}"
    if kind == "finite_number" or (isinstance(value, float) and not math.isfinite(value)):
        return here, f"{name} must be a finite number, not {value}", "write a number like 20 or 2.5"
    return here, f"{name}: {error['msg']}", "see rules/README.md for this key"


def _bad_key(full: tuple[Step, ...], key: str) -> tuple[str, str]:
    """A mapping key that is not a valid name (lexicons, tones, params)."""
    keys = _keys(full)  # ..., 'lexicons', 'Bad'
    holder = keys[-2] if len(keys) > 1 else "key"
    if holder == "params":
        return (
            f"param name {key!r} is not a valid name",
            "use lowercase letters, digits and underscores, e.g. long_turn_words",
        )
    singular = {"lexicons": "lexicon", "tones": "tone"}.get(holder, holder)
    return f"{singular} name {key!r} is not a valid name", "use lowercase letters, digits and dashes"


def _bad_choice(walk: _Walk, full: tuple[Step, ...], value: Any) -> tuple[str, str]:
    keys = _keys(full)
    field = keys[-1] if keys else "value"
    choices = _choices(walk.types[-1])
    if field == "version":
        return f"unsupported rule file version {value!r}", f"write 'version: {spec.SUPPORTED_VERSIONS[-1]}'"
    if field == "skip_if" and value in spec.SKIP_TESTS:  # a test that needs its parameters
        example = {
            "sentence_says": "'- sentence_says: time-frame'",
            "sentence_lacks": "'- sentence_lacks: time-frame'",
            "reflects_other": "'- reflects_other: {min_shared: 2}'",
        }.get(str(value), f"'- {value}: {{...}}'")
        return f"{value!r} needs parameters", f"write {example}"
    word = _CHOICE_WORDS.get(field, field)
    if not isinstance(value, str):
        return f"{word} must be one of {', '.join(choices)}, not {value!r}", "write one of them"
    return f"unknown {word} {value!r}", closest_hint(value, choices, word)
