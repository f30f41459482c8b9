"""JSON Schema of a rule file, for editor autocompletion and red squiggles.

Generated from the pydantic models of ``rules.spec`` (``model_json_schema()``), the same models
the loader validates every file with, so the schema cannot drift from what the loader accepts.
``rules/rapport-rules.schema.json`` is this schema written out (a test keeps the file in step;
regenerate with ``rapport-assist rules schema > rules/rapport-rules.schema.json``). The loader
checks more than the schema can say: lexicon and tone names, ``$param`` values, rule ids of
overrides, regexes (RE2) and token patterns (spaCy), and it reports every problem with
``file:line:col``.

VS Code (YAML extension): add to a rule file's first line
``# yaml-language-server: $schema=./rapport-rules.schema.json``.
"""

from __future__ import annotations

from typing import Any

from .spec import RuleFileSpec

SCHEMA_ID = "https://rapport-assist.example/schemas/rules-v1.json"
SCHEMA_FILE = "rapport-rules.schema.json"

Json = dict[str, Any]


def _tidy(node: Any, in_properties: bool = False) -> Any:
    """Drop what pydantic adds for Python readers: titles made from class and field names,
    ``default: null`` of optional keys (the loader's defaults are documented in rules/README.md)
    and the discriminator mapping (an editor picks the alternative by the value's shape)."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: Json = {}
    for key, value in node.items():
        if in_properties:  # keys here are rule-file keys, whatever they are called
            out[key] = _tidy(value)
        elif key == "title" and isinstance(value, str):
            continue
        elif key == "default" and value is None:
            continue
        elif key == "discriminator":
            continue
        else:
            out[key] = _tidy(value, in_properties=key in ("properties", "$defs"))
    return out


def rule_schema() -> Json:
    """The JSON Schema (draft 2020-12) of one rule file."""
    generated = _tidy(RuleFileSpec.model_json_schema(mode="validation"))
    defs = generated.pop("$defs")
    generated.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Rapport Assist rule file",
        "description": "Lexicons, tones, rules and team overrides; see rules/README.md.",
        **generated,
        "$defs": defs,
    }
