"""What the sidebar's start-up leaves out or does faster, checked to give the same results:
spaCy without its command line (``models.import_spacy``) and rule files composed by libyaml
(``rules.source.parse_yaml``) with the Python parser's places, values and problems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rapport_assist.rules import default_rules_dir, load_rules
from rapport_assist.rules.source import (
    MAX_DEPTH,
    Problems,
    YMap,
    YScalar,
    YSeq,
    YValue,
    _compose_fast,
    parse_yaml,
    parse_yaml_python,
)

SPACY_CLI = ("spacy.cli", "typer", "click", "rich", "weasel", "jinja2", "httpx", "requests")
"""Imported by ``import spacy`` for its command line (``spacy.info``), never used by the app."""


def _python(code: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_import_spacy_leaves_out_its_command_line_which_still_works_when_asked_for():
    found = json.loads(
        _python(
            f"""
            import json, sys
            from rapport_assist.models import import_spacy, load_spacy
            import_spacy()
            left_out = [m for m in {SPACY_CLI!r} if m in sys.modules]
            nlp = load_spacy()
            doc = nlp("The cats were running by 3PM")
            loaded_cli = [m for m in {SPACY_CLI!r} if m in sys.modules]
            import spacy
            info = spacy.info(silent=True)  # imports the real command line now
            import spacy.cli
            print(json.dumps(dict(left_out=left_out, loaded_cli=loaded_cli, lemmas=[t.lemma_ for t in doc],
                                  version=info["spacy_version"], real=spacy.__version__,
                                  app=type(spacy.cli.app).__name__)))
            """
        )
    )
    assert found["left_out"] == [] and found["loaded_cli"] == []  # nor did loading the pipeline import it
    assert found["lemmas"] == ["the", "cat", "be", "run", "by", "3", "pm"]  # "3PM" split (models.CLOCK_SUFFIX)
    assert found["version"] == found["real"] and found["app"] == "Typer"


@pytest.mark.model
def test_the_sidebar_starts_without_spacys_command_line(tmp_path: Path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RAPPORT_ASSIST_DATA=str(tmp_path))
    found = json.loads(
        _python(
            f"""
            import io, json, sys
            from rapport_assist.cli import main
            out = io.StringIO()
            code = main(["sidebar", "--exit-when-ready", "--settings", {str(tmp_path / "s.ini")!r}], out, sys.stderr)
            report = json.loads(out.getvalue().splitlines()[-1])
            print(json.dumps(dict(code=code, report=report, loaded=[m for m in {SPACY_CLI!r} if m in sys.modules],
                                  spacy="spacy" in sys.modules)))
            """,
            env=env,
        )
    )
    assert found["code"] == 0 and found["report"]["recognizer"].startswith("ready (tiny.en")
    assert found["spacy"] and found["loaded"] == []


def _tree(value: YValue | None) -> object:
    """A located value as plain data: every value, its YAML text and its place."""
    if isinstance(value, YScalar):
        return ("scalar", value.value, type(value.value).__name__, value.raw, value.loc)
    if isinstance(value, YSeq):
        return ("seq", value.loc, [_tree(item) for item in value.items])
    if isinstance(value, YMap):
        return ("map", value.loc, [(key, loc, _tree(item)) for key, (loc, item) in value.entries.items()])
    return value


def _both(text: str) -> tuple[tuple[object, list[object]], tuple[object, list[object]]]:
    fast, slow = Problems(), Problems()
    return (_tree(parse_yaml(text, "f.yaml", fast)), fast.items), (
        _tree(parse_yaml_python(text, "f.yaml", slow)),
        slow.items,
    )


def test_the_default_rule_files_are_composed_by_libyaml_with_the_python_parsers_places_and_values():
    files = sorted(default_rules_dir().glob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _compose_fast(text) is not None, path  # the fast path is taken for them
        fast, slow = _both(text)
        assert fast == slow, path
        assert fast[1] == []


OTHER_SHAPES = """\
version: 1
# non-ASCII before values on the same line: columns count characters, as the Python parser does
lexicons:
  café: {phrases: ["crème brûlée", 'naïve', "😀 emoji", plain é text]}
  multi: "a quoted text
    over two lines"
  block: |
    kept
      as is
  folded: >-
    one
    line
  numbers: [1, -2, 0x1F, 1_000, 3.5, .inf, 1e3, "7"]
  truth: [yes, No, on, true, ~, null, '']
  anchored: &a only an anchor, no alias
  nested: [[[[{a: [b, {c: d}]}]]]]
empty:
"""


@pytest.mark.parametrize(
    "text",
    [
        OTHER_SHAPES,
        "a: 1\n",
        "",
        "# only a comment\n",
        "[1, 2\n",  # unclosed
        "a: b: c\n",  # mapping values not allowed
        "a: 1\na: 2\n",  # duplicate key
        "a: &x [1]\nb: *x\n",  # alias: refused by the Python path's words
        "a: !!python/object:os.system x\n",  # tags
        "a: !custom, [1]\n",
        "a:\n\t- 1\n",  # a tab where the two parsers differ
        "a: 1\r\nb: 2\r\n",  # CRLF
        "\ufeffa: 1\n",  # BOM
        "a: 1\n---\nb: 2\n",  # two documents
        "a: 'open\n",
        "? [complex, key]\n: v\n",
        "a: {b: 1, b: 2}\n",
        "- x\n- y: [1, {z: 2}]\n",
    ],
)
def test_libyaml_and_the_python_parser_give_the_same_values_places_and_problems(text: str):
    fast, slow = _both(text)
    assert fast == slow


def test_deep_nesting_is_parsed_by_the_python_parser_not_libyaml_which_would_crash():
    # libyaml's composer recurses in C: 100,000 levels crash the process (a segmentation fault);
    # the Python parser stops with a problem
    for depth in (MAX_DEPTH + 1, 100_000):
        text = "a: " + "[" * depth + "]" * depth + "\n"
        assert _compose_fast(text) is None
    inside = MAX_DEPTH - 1  # with the mapping around them: MAX_DEPTH levels
    assert _compose_fast("a: " + "[" * inside + "]" * inside + "\n") is not None
    found = _python(
        """
        from rapport_assist.rules.source import Problems, parse_yaml
        problems = Problems()
        parse_yaml("a: " + "[" * 100_000 + "]" * 100_000 + "\\n", "deep.yaml", problems)
        print(len(problems.items), problems.items[0])
        """
    )
    assert found.startswith("1 deep.yaml:1:")


def test_rule_files_load_to_the_same_rules_either_way(tmp_path: Path):
    """A rule file with a tab in a quoted text goes the Python way: the same rule set."""
    source = default_rules_dir() / "headline.yaml"
    text = source.read_text(encoding="utf-8")
    assert "\t" not in text
    plain = tmp_path / "plain" / "headline.yaml"
    tabbed = tmp_path / "tabbed" / "headline.yaml"
    plain.parent.mkdir()
    tabbed.parent.mkdir()
    plain.write_text(text, encoding="utf-8")
    tabbed.write_text(text + "\n# a comment with a\ttab\n", encoding="utf-8")
    assert _compose_fast(plain.read_text(encoding="utf-8")) is not None
    assert _compose_fast(tabbed.read_text(encoding="utf-8")) is None
    common = default_rules_dir() / "common.yaml"
    one = load_rules([common, plain])
    two = load_rules([common, tabbed])
    assert [r.id for r in one.rules] == [r.id for r in two.rules] and one.rules
    assert [(r.id, r.loc.line) for r in one.rules] == [(r.id, r.loc.line) for r in two.rules]


def test_load_spacy_compiles_the_tokenizer_once_and_gets_the_packages_tokenizer_with_the_clock_suffix():
    import importlib

    from spacy.util import compile_suffix_regex

    from rapport_assist.models import CLOCK_SUFFIX, LATER_PIPES, _split_yall, load_spacy

    nlp = load_spacy.__wrapped__()  # type: ignore[attr-defined]  # not the shared one: other tests add 'ner' to it
    module = importlib.import_module(f"{nlp.meta['lang']}_{nlp.meta['name']}")
    plain = module.load(exclude=list(LATER_PIPES))  # the package as spaCy loads it, then the suffix rule
    plain.tokenizer.suffix_search = compile_suffix_regex([*(plain.Defaults.suffixes or ()), CLOCK_SUFFIX]).search
    _split_yall(plain)  # and "y'all" always split in two (its special cases)
    assert nlp.tokenizer.to_bytes(exclude=["vocab"]) == plain.tokenizer.to_bytes(exclude=["vocab"])
    assert nlp.pipe_names == plain.pipe_names
    texts = [
        "I'll call you back by 3PM, or 5p.m. at the latest; can't promise 11AM.",
        "We're sorry: the U.S. office e-mailed you at 9:30am re. order #A-12 (don't worry).",
    ]
    for text in texts:
        mine, theirs = nlp(text), plain(text)
        assert [t.text for t in mine] == [t.text for t in theirs]
        assert [(t.tag_, t.dep_, t.head.i, t.lemma_) for t in mine] == [
            (t.tag_, t.dep_, t.head.i, t.lemma_) for t in theirs
        ]
    assert [t.text for t in nlp("by 3PM")] == ["by", "3", "PM"]
