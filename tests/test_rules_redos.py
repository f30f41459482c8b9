"""No token pattern can freeze the app: ``REGEX`` in token patterns runs on RE2, whichever way the
pattern is matched (the engine's own matcher or spaCy's ``Matcher``), and what RE2 cannot take is
refused at load with its location.

Patterns that make Python's backtracking ``re`` run for ever on a long word (``(a+)+$`` against
"aaaa…ab") are evaluated in a child process, so a regression fails the test instead of hanging it.
The bound (2 s an utterance) is a hang guard, not a speed figure.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapport_assist.errors import RuleError
from rapport_assist.rules import load_rules

BOUND_S = 2.0
CATASTROPHIC = [
    "(a+)+$",
    "(a|aa)+$",
    "(.*a){20}",
    "(a*)*b",
    "((a+)+)+$",
    "(a|a?)+$",
    "^(\\w+\\s?)*$",
    "(a+){10}$",
    "(.*){1,100}[bc]",
    "(?:a|b|ab)*c",
]

CHILD = textwrap.dedent("""
    import json, sys, tempfile, time, traceback
    from pathlib import Path
    from rapport_assist.annotate import Annotator
    from rapport_assist.errors import RuleError
    from rapport_assist.rules import RuleEngine, load_rules
    from rapport_assist.types import Speaker, Utterance
    annotator = Annotator()
    annotator.annotate(Utterance(0, Speaker.CUSTOMER, "warm up", 0.0, 1.0))
    folder = Path(tempfile.mkdtemp())
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        ask = json.loads(line)
        path = folder / "pack.yaml"
        path.write_text(ask["rules"], encoding="utf-8")
        try:
            engine = RuleEngine(load_rules([path]))
        except RuleError as exc:
            print(json.dumps({"refused": exc.message}), flush=True)
            continue
        engine.start_call()
        seconds, fired = [], 0
        try:
            for i, text in enumerate(ask["texts"]):
                print(json.dumps({"started": i}), flush=True)
                t0 = time.perf_counter()
                utt = Utterance(i, Speaker.CUSTOMER, text, 2.0 * i, 2.0 * i + 1.0)
                fired += len(engine.on_utterance(annotator.annotate(utt)))
                seconds.append(time.perf_counter() - t0)
        except Exception:
            print(json.dumps({"crashed": traceback.format_exc()}), flush=True)
            continue
        print(json.dumps({"seconds": seconds, "fired": fired}), flush=True)
""")


class Child:
    """A process that loads the rules it is sent and times each utterance; killed if it hangs."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.read(120.0).get("ready")

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def read(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            pytest.fail(f"no answer within {timeout:.0f} s: a pattern froze the rule engine")
        assert line, "the child process died"
        return json.loads(line)

    def ask(self, rules: str, texts: list[str]) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"rules": rules, "texts": texts}) + "\n")
        self.proc.stdin.flush()
        got = self.read(60.0)  # the rules loaded (or refused), the first utterance starts
        while "started" in got:
            got = self.read(BOUND_S + 10.0)  # that utterance done: far past the bound means a hang
        return got


@pytest.fixture(scope="module")
def child():
    c = Child()
    yield c
    c.proc.kill()
    c.proc.wait()


def pack(spec: dict) -> str:
    pattern = json.dumps([[spec]])
    return textwrap.dedent(f"""\
        version: 1
        rules:
          - id: token-regex
            title: Token regex
            severity: low
            why: test
            message: m
            cooldown_s: 0
            when: {{speaker: customer, says: {{tokens: {pattern}}}}}
        """)


atoms = st.sampled_from(["a", "aa", ".", "[ab]", "\\w", "a|aa", "a?", "(?:a|b)"])
quantifier = st.sampled_from(["+", "*", "{2,5}", "{1,30}", "?"])
regex = st.recursive(atoms, lambda inner: st.builds(lambda r, q: f"({r}){q}", inner, quantifier), max_leaves=4)
patterns = st.one_of(
    st.sampled_from(CATASTROPHIC), st.builds(lambda r, end: r + end, regex, st.sampled_from(["$", "b", ""]))
)
words = st.builds(lambda n, tail: "a" * n + tail, st.integers(25, 3000), st.sampled_from(["b", "!", "c", ""]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pattern=patterns,
    attr=st.sampled_from(["LOWER", "ORTH", "TEXT", "NORM", "LEMMA"]),
    via=st.sampled_from(["engine", "spacy"]),
    word=words,
)
def test_catastrophic_token_regexes_never_hang(child, pattern, attr, via, word) -> None:
    """Each utterance is evaluated within the bound, on the engine's matcher and on spaCy's
    (an operator it alone knows, ``{1,2}``, sends the pattern there)."""
    spec = {attr: {"REGEX": pattern}, **({"OP": "{1,2}"} if via == "spacy" else {})}
    got = child.ask(pack(spec), [word, f"so {word} and {word}"])
    assert "crashed" not in got, got["crashed"]
    if "refused" in got:  # what RE2 cannot take: refused with its place and a fix, never run on re
        assert "pack.yaml:9:" in got["refused"] and "fix:" in got["refused"], got
        assert pattern not in CATASTROPHIC, got  # these RE2 takes: they are accepted and run safely
        return
    assert max(got["seconds"]) < BOUND_S, (pattern, got)


def test_spacy_route_matches_like_the_engine(child) -> None:
    """The RE2-backed predicate given to spaCy's Matcher finds what the engine's matcher finds."""
    text = "the router and the rooter are both rather rad"
    fast = child.ask(pack({"LOWER": {"REGEX": "^r.*r$"}}), [text])
    slow = child.ask(pack({"LOWER": {"REGEX": "^r.*r$"}, "OP": "{1,2}"}), [text])
    assert fast["fired"] == slow["fired"] == 1


@pytest.mark.parametrize(
    "bad, why",
    [
        ("(a)\\1", "backreference"),
        ("(?=a)a", "lookahead"),
        ("(?<!x)y", "lookbehind"),
        ("a(?!b)", "negative lookahead"),
        ("(a{90}){90}", "too big"),
        ("x" * 301, "too long"),
    ],
)
@pytest.mark.parametrize("where", ["engine", "spacy", "extension"])
def test_what_re2_cannot_take_is_refused_at_load_with_its_location(
    tmp_path: Path, bad: str, why: str, where: str
) -> None:
    spec = {
        "engine": {"LOWER": {"REGEX": bad}},
        "spacy": {"LOWER": {"REGEX": bad}, "OP": "{2}"},
        "extension": {"_": {"flag": {"REGEX": bad}}},
    }[where]
    path = tmp_path / "pack.yaml"
    path.write_text(pack(spec), encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules([path])
    problems = info.value.errors  # type: ignore[attr-defined]
    assert len(problems) == 1, why
    p = problems[0]
    line = path.read_text().splitlines()[8]
    assert p.line == 9 and p.col - 1 == line.index('"REGEX"'), str(p)  # at the regex itself
    assert "REGEX" in p.message
    assert "RE2" in str(p) or "repeat counts" in str(p) or "at most" in str(p), str(p)


def test_rules_check_reports_the_location(tmp_path: Path) -> None:
    import io

    from rapport_assist.cli import main

    path = tmp_path / "pack.yaml"
    path.write_text(pack({"LOWER": {"REGEX": "(a)\\1"}}), encoding="utf-8")
    err = io.StringIO()
    assert main(["rules", "check", str(path)], io.StringIO(), err) == 5
    assert f"{path}:9:" in err.getvalue() and "backreferences" in err.getvalue()


@pytest.mark.parametrize(
    ("bad", "what", "fix"),
    [
        ("(unclosed", "a '(' group is never closed (RE2: missing ): (unclosed)", "close it with ')'"),
        ("a)b", "a ')' closes no '(' group", "write a literal ')' as '\\)'"),
        ("[abc", "a '[' set is never closed", "close it with ']'"),
        ("*abc", "a '*', '+' or '?' with nothing before it to repeat", "'\\*'"),
        ("a**", "a repeat of a repeat", "'a*', not 'a**'"),
    ],
)
def test_a_typing_slip_in_a_regex_is_told_in_plain_words(tmp_path: Path, bad: str, what: str, fix: str) -> None:
    """A missing ')' got 'missing ): (unclosed' and a fix about backreferences and lookarounds; a
    leading '*' got 'use smaller repeat counts'. RE2's words stay, in brackets."""
    from rapport_assist.rules.loader import regex_problem, token_regex_problem

    message, hint = regex_problem(bad, True) or ("", "")
    assert message.startswith(what) and fix in hint, (message, hint)
    assert "backreferences" not in hint and "repeat counts" not in hint
    token = token_regex_problem([{"LOWER": {"REGEX": bad}}])
    assert token is not None and what in token[0] and fix in token[1], token
