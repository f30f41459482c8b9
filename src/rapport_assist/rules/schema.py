"""JSON Schema of a rule file, for editor autocompletion and red squiggles.

Built from the loader's own key lists and the signal table, so it cannot drift from what the
loader accepts; ``rules/rapport-rules.schema.json`` is this schema written out (a test keeps
the file in step; regenerate with ``rapport-assist rules schema > rules/rapport-rules.schema.json``).
The loader stays the authority: it also checks references, regexes and token patterns, and
reports every problem with ``file:line:col``.

VS Code (YAML extension): add to a rule file's first line
``# yaml-language-server: $schema=./rapport-rules.schema.json``.
"""

from __future__ import annotations

from typing import Any

from .loader import (
    CONDITION_KEYS,
    EARLIER_KEYS,
    ENTITY_LABELS,
    EVENT_KINDS,
    EXPECT_KEYS,
    LEXICON_KEYS,
    LEXICON_OVERRIDE_KEYS,
    RULE_KEYS,
    RULE_OVERRIDE_KEYS,
    RULE_REQUIRED,
    SAYS_FINDERS,
    SEVERITIES,
    SEVERITY_WORDS,
    SKIP_TESTS,
    QUOTES,
    STATUSES,
    SUPPORTED_VERSIONS,
    TOP_KEYS,
    UNITS,
)

SCHEMA_ID = "https://rapport-assist.example/schemas/rules-v1.json"
SCHEMA_FILE = "rapport-rules.schema.json"

Json = dict[str, Any]


def _ref(name: str) -> Json:
    return {"$ref": f"#/$defs/{name}"}


def _obj(properties: Json, required: tuple[str, ...] = (), description: str = "") -> Json:
    out: Json = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    if description:
        out["description"] = description
    return out


def rule_schema() -> Json:
    """The JSON Schema (draft 2020-12) of one rule file."""
    from ..signals import SIGNAL_FIELDS

    number = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^\$[a-z][a-z0-9_]*$"}],
              "description": "a number, or $name of one of the rule's params"}
    integer = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\$[a-z][a-z0-9_]*$"}]}
    name = {"type": "string", "pattern": r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$"}
    names = {"anyOf": [name, {"type": "array", "items": name, "minItems": 1}]}
    phrases = {"type": "array", "items": {"type": ["string", "number", "boolean"]}}
    speaker = {"enum": ["agent", "customer"]}
    window = _obj({"turns": integer, "seconds": number}, description="how long to wait or look back")

    signal_props: Json = {}
    for key, fld in SIGNAL_FIELDS.items():
        if fld.unit == "true/false":
            signal_props[key] = {"type": "boolean", "description": fld.description}
        else:
            signal_props[key] = {"anyOf": [number, _obj({"min": number, "max": number})],
                                 "description": f"{fld.description} ({fld.unit})"}

    skip_names = [t for t in SKIP_TESTS if t in ("question", "conditional", "negated", "after_request", "subordinate")]
    skip_test = {"anyOf": [
        {"enum": skip_names},
        _obj({"question": {"type": "object", "maxProperties": 0}}, ("question",)),
        _obj({"conditional": _obj({"cues": name, "before": integer})}, ("conditional",)),
        _obj({"negated": _obj({"cues": name, "before": integer, "after": integer})}, ("negated",)),
        _obj({"subordinate": _obj({"cues": name})}, ("subordinate",)),
        _obj({"sentence_says": name}, ("sentence_says",)),
        _obj({"reflects_other": _obj({"min_shared": integer, "ignore": name}, ("min_shared",))}, ("reflects_other",)),
        _obj({"after_request": _obj({"cues": name, "sentences": integer})}, ("after_request",)),
    ]}
    token_spec = {"type": "object", "description": "a spaCy Matcher token spec, e.g. {LOWER: you} or {LEMMA: {IN: [a, b]}}"}
    token_pattern = {"type": "array", "items": token_spec, "minItems": 1}
    finders: Json = {
        "lexicon": names,
        "future_action": name,
        "regex": {"anyOf": [{"type": "string", "maxLength": 300},
                            _obj({"pattern": {"type": "string", "maxLength": 300}, "ignore_case": {"type": "boolean"}},
                                 ("pattern",))],
                  "description": "an RE2 regular expression (linear time: no backreferences or lookarounds)"},
        "tokens": {"anyOf": [{"type": "array", "items": token_pattern, "minItems": 1}, token_pattern]},
        "subject": _obj({"is": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                         "verb": name}, ("is", "verb")),
    }
    assert set(finders) == set(SAYS_FINDERS)
    says = {"anyOf": [names, {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {**finders, "skip_if": {"type": "array", "items": _ref("skip_test")}},
    }]}

    condition_props: Json = {
        "speaker": speaker,
        "says": says,
        "tone": name,
        "signals": {"type": "object", "properties": signal_props, "additionalProperties": False, "minProperties": 1},
        "min_length": _obj({"words": integer, "seconds": number}),
        "max_words": integer,
        "reflects": _obj({"min_shared": integer, "ignore": name, "min_verbs": integer, "problem": name,
                          "dense_min": integer, "dense_share": number}, ("min_shared",)),
        "uses_name": {"anyOf": [{"const": True}, _obj({"intro": name})]},
        "earlier": {"type": "object", "required": ["within"], "additionalProperties": False,
                    "properties": {"within": window, "count": integer, **{k: _ref(f"condition_key_{k}")
                                                                         for k in CONDITION_KEYS if k != "event"}}},
        "event": {"type": "object", "required": ["kind"], "additionalProperties": False,
                  "properties": {"kind": {"enum": list(EVENT_KINDS)}, "min_s": number, "max_s": number,
                                 "hold_announced": {"type": "boolean"}, "by": speaker}},
        "all": {"type": "array", "items": _ref("condition"), "minItems": 1},
        "any": {"type": "array", "items": _ref("condition"), "minItems": 1},
        "not": _ref("condition"),
    }
    assert set(condition_props) == set(CONDITION_KEYS)
    assert set(EARLIER_KEYS) <= set(condition_props["earlier"]["properties"])
    condition = {"type": "object", "minProperties": 1, "additionalProperties": False,
                 "properties": {k: _ref(f"condition_key_{k}") for k in CONDITION_KEYS}}

    expect = {"type": "object", "required": ["speaker", "within"], "additionalProperties": False,
              "properties": {**{k: _ref(f"condition_key_{k}") for k in CONDITION_KEYS if k != "event"},
                             "within": window, "ignore": _ref("condition"),
                             "if_call_ends": {"enum": ["drop", "fire"]}}}
    assert set(EXPECT_KEYS) <= set(expect["properties"])

    turn = {"type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {"agent": {"type": "string"}, "customer": {"type": "string"}, "pause_s": number,
                           "seconds": number, "louder_db": number}}
    turns = {"type": "array", "items": turn, "minItems": 1}
    example = {"anyOf": [turns, _obj({"turns": turns, "at": {"type": "integer", "minimum": 0}}, ("turns",))]}

    severity = {"enum": [*SEVERITIES, *SEVERITY_WORDS, *(w.upper() for w in SEVERITY_WORDS)]}
    rule_props: Json = {
        "id": name, "title": {"type": "string"}, "severity": severity,
        "priority": {"type": "integer", "minimum": 1, "maximum": 100}, "status": {"enum": list(STATUSES)},
        "tags": {"type": "array", "items": name}, "enabled": {"type": "boolean"}, "why": {"type": "string"},
        "params": {"type": "object", "additionalProperties": {"type": "number"}},
        "when": _ref("condition"), "unless": _ref("condition"), "expect": expect,
        "points_at": {"enum": ["trigger", "reply"]}, "quote": {"enum": list(QUOTES)}, "unit": {"enum": list(UNITS)},
        "episode": _obj({"ends_when": _ref("condition")}, ("ends_when",)),
        "cooldown_s": number, "max_per_call": integer,
        "message": {"type": "string"}, "message_if_no_rewrite": {"type": "string"},
        "rewrites": {"type": "array", "items": _obj({"from": {"type": "string"}, "to": {"type": "string"}},
                                                    ("from", "to"))},
        "rewrite_unless_next": name,
        "record": _obj({"list": name, "time": name}, ("list",)),
        "examples": _obj({"fires": {"type": "array", "items": example}, "quiet": {"type": "array", "items": example}}),
    }
    assert set(rule_props) == set(RULE_KEYS)
    rule = {"type": "object", "properties": rule_props, "additionalProperties": False,
            "anyOf": [{"required": list(RULE_REQUIRED)},
                      {"required": ["id", "title", "why", "when", "record"]}]}

    lexicon = {"anyOf": [phrases, _obj({
        "phrases": phrases, "except": phrases, "description": {"type": "string"},
        "entities": {"type": "array", "items": {"enum": list(ENTITY_LABELS)}},
    })]}
    assert set(lexicon["anyOf"][1]["properties"]) == set(LEXICON_KEYS)
    rule_override = _obj({
        "rule": name, "enabled": {"type": "boolean"}, "severity": severity,
        "priority": {"type": "integer", "minimum": 1, "maximum": 100}, "status": {"enum": list(STATUSES)},
        "cooldown_s": {"type": "number"}, "max_per_call": {"type": "integer", "minimum": 1},
        "params": {"type": "object", "additionalProperties": {"type": "number"}},
        "title": {"type": "string"}, "message": {"type": "string"}, "message_if_no_rewrite": {"type": "string"},
    }, ("rule",))
    assert set(rule_override["properties"]) == set(RULE_OVERRIDE_KEYS)
    lexicon_override = _obj({"lexicon": name, "add": phrases, "remove": phrases}, ("lexicon",))
    assert set(lexicon_override["properties"]) == set(LEXICON_OVERRIDE_KEYS)

    top: Json = {
        "version": {"enum": list(SUPPORTED_VERSIONS)},
        "fillers": {"type": "array", "items": {"type": "string"}},
        "lexicons": {"type": "object", "additionalProperties": lexicon},
        "tones": {"type": "object", "additionalProperties": _obj({"text": _ref("condition")}, ("text",))},
        "rules": {"type": "array", "items": rule},
        "overrides": {"type": "array", "items": {"anyOf": [rule_override, lexicon_override]}},
    }
    assert set(top) == set(TOP_KEYS)
    defs: Json = {"condition": condition, "skip_test": skip_test}
    defs.update({f"condition_key_{k}": v for k, v in condition_props.items()})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Rapport Assist rule file",
        "description": "Lexicons, tones, rules and team overrides; see rules/README.md.",
        "type": "object",
        "properties": top,
        "additionalProperties": False,
        "$defs": defs,
    }
