"""``rules list``: every loaded rule with its settings and params, and what a team's overrides
change, each changed value with the override's file:line (README "Team overrides")."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rapport_assist.cli import main
from rapport_assist.rules import load_rules, rule_paths
from rapport_assist.rules.listing import list_rules, select

TEAM = """version: 1
overrides:
  - {rule: pace-mismatch, enabled: false}
  - rule: dead-air
    severity: urgent
    params: {silence_s: 12}
  - {rule: hedging, status: experimental, priority: 20}
  - {lexicon: jargon, add: [VLAN], remove: [cache]}
  - {rule: jargon, message: "Plain words, please."}
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def team(tmp_path: Path) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(TEAM, encoding="utf-8")
    return path


def test_every_default_rule_is_listed_with_the_loaded_values() -> None:
    ruleset = load_rules(rule_paths())
    loaded = {r.id: r for r in (*ruleset.rules, *ruleset.disabled)}
    listing = list_rules(rule_paths())
    assert [r.id for r in listing.rules] == sorted(
        loaded, key=lambda i: (ruleset.files.index(loaded[i].loc.path), loaded[i].loc.line)
    )
    for entry in listing.rules:
        rule = loaded[entry.id]
        assert {p.name: p.value for p in entry.params} == dict(rule.params)
        assert (entry.severity, entry.status, entry.enabled, entry.priority) == (
            rule.severity,
            rule.status,
            rule.enabled,
            rule.priority,
        )
        assert entry.defined_at == rule.source and entry.tags == rule.tags
        assert entry.fires + entry.quiet == len(rule.examples)
        assert not entry.overridden
        for p in entry.params:  # each param points at its own line inside the rule
            path, line = p.defined_at.rsplit(":", 1)
            assert path == rule.loc.path and int(line) > rule.loc.line
    code, out, err = run("rules", "list")
    assert code == 0, err
    for rule_id, rule in loaded.items():
        assert f"{rule_id}: {rule.title}\n" in out
        if rule.params:
            assert "params: " + ", ".join(f"{n}={v:g}" for n, v in _in_yaml_order(listing, rule_id)) in out
    assert out.rstrip().splitlines()[-1].startswith(f"{len(loaded)} rules from ")


def _in_yaml_order(listing, rule_id: str) -> list[tuple[str, float]]:
    return [(p.name, p.value) for p in next(r for r in listing.rules if r.id == rule_id).params]


def test_praise_rules_and_records_are_marked() -> None:
    listing = list_rules(rule_paths())
    kinds = {r.id: r.kind for r in listing.rules}
    assert kinds["praise-apology-in-time"] == "praise" and kinds["promise-list"] == "record"
    assert kinds["angry-no-apology"] == "nudge"
    code, out, _ = run("rules", "list", "--rule", "promise-list", "--rule", "praise-apology-in-time")
    assert code == 0
    assert "record (the promises list)" in out and "none: praise shows no card" in out
    code, out, _ = run("rules", "list", "--tag", "praise")
    assert code == 0 and "\n    praise · stable · on · priority 90\n" in out
    assert all(r.id.startswith("praise-") for r in select(listing, tags=["praise"]))


def test_params_carry_the_comment_written_for_them() -> None:
    listing = list_rules(rule_paths())
    params = {r.id: {p.name: p for p in r.params} for r in listing.rules}
    # a comment on the lines above a param (block style), and one at the end of its line
    assert params["angry-no-apology"]["reply_turns"].comment.startswith("the reply window: the agent's next turn")
    assert params["angry-no-apology"]["reply_s"].comment == ""
    assert params["missed-reflection"]["long_turn_words"].comment.startswith("words that make a customer turn long")
    assert params["uncommitted-promise"]["request_sentences"].comment.startswith("sentences before a promise")
    # a comment on a line of several params is said of them together
    pace = next(r for r in listing.rules if r.id == "pace-mismatch")
    assert pace.params_comment.startswith("A sustained mismatch") and all(not p.comment for p in pace.params)


def test_an_override_shows_the_new_value_marked_with_its_line(team: Path) -> None:
    code, out, err = run("rules", "list", "--rules", str(team))
    assert code == 0, err
    block = out.split("dead-air: ")[1].split("\n    params: ")[1].split("\n")[0]
    assert block == f"silence_s=12 [set at {team}:6; was 8]"
    assert f"urgent [set at {team}:5; was nudge]" in out
    assert f"OFF [set at {team}:3; was on]" in out  # the line's own words, not 'was yes'
    assert f"experimental [set at {team}:7; was stable]" in out and f"priority 20 [set at {team}:7; was 25]" in out
    assert f"lexicon jargon: phrases added or removed at {team}:8" in out
    assert f'\n    message: Plain words, please. [set at {team}:9; was "Say it in plain words' in out
    assert "(1 switched off)" in out and "4 changed by overrides" in out
    # one rule in full: the same marks, the old severity in both words
    code, out, err = run("rules", "list", "--rules", str(team), "--rule", "dead-air")
    assert code == 0, err
    assert f"severity      urgent (high) [set at {team}:5; was nudge]" in out
    assert f"silence_s=12 [set at {team}:6; was 8]" in out
    listing = list_rules([*rule_paths(), team])
    dead_air = next(r for r in listing.rules if r.id == "dead-air")
    assert dead_air.severity == "high" and dead_air.overrides["severity"].was == "medium"
    jargon = next(r for r in listing.rules if r.id == "jargon")
    assert [lex.overrides for lex in jargon.lexicons if lex.name == "jargon"] == [(f"{team}:8",)]


def test_json_parses_and_matches_the_listing(team: Path) -> None:
    code, out, err = run("rules", "list", "--rules", str(team), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["files", "lexicon_overrides", "rules"]
    assert data["files"][-1] == str(team) and data["lexicon_overrides"] == {"jargon": [f"{team}:8"]}
    ruleset = load_rules([*rule_paths(), team])
    loaded = {r.id: r for r in (*ruleset.rules, *ruleset.disabled)}
    assert {r["id"] for r in data["rules"]} == set(loaded)
    for r in data["rules"]:
        rule = loaded[r["id"]]
        assert {p["name"]: p["value"] for p in r["params"]} == dict(rule.params)
        assert (r["severity"], r["status"], r["enabled"]) == (rule.severity, rule.status, rule.enabled)
    dead_air = next(r for r in data["rules"] if r["id"] == "dead-air")
    assert dead_air["sidebar_severity"] == "urgent" and dead_air["overridden"] is True
    assert dead_air["overrides"] == {"severity": {"at": f"{team}:5", "was": "medium"}}
    assert dead_air["params"][0]["override"] == {"at": f"{team}:6", "was": 8}
    assert list(dead_air) == [
        "id",
        "title",
        "kind",
        "severity",
        "sidebar_severity",
        "status",
        "enabled",
        "priority",
        "cooldown_s",
        "max_per_call",
        "defined_at",
        "tags",
        "params",
        "params_comment",
        "fires",
        "quiet",
        "why",
        "message",
        "message_if_no_rewrite",
        "record_list",
        "lexicons",
        "overrides",
        "overridden",
    ]
    code, out, _ = run("rules", "list", "--format", "json", "--rule", "angry-no-apology")
    one = json.loads(out)["rules"]
    assert [r["id"] for r in one] == ["angry-no-apology"]
    lexicons = {lex["name"]: lex["via_tone"] for lex in one[0]["lexicons"]}
    assert lexicons["apology"] is None and lexicons["anger-cues"] == "angry"


def test_one_rule_in_full() -> None:
    code, out, err = run("rules", "list", "--rule", "angry-no-apology")
    assert code == 0, err
    assert out.startswith("angry-no-apology: Apologize for the trouble\n")
    for row in ("defined at", "severity      urgent (high)", "why ", "message ", "examples "):
        assert f"\n  {row}" in out
    assert "\n    reply_s=20  (" in out and "\n        # the reply window" in out
    assert "\n    apology (" in out and "through tone angry (" in out


def test_unknown_rule_or_tag_says_did_you_mean() -> None:
    code, out, err = run("rules", "list", "--rule", "angry-no-apolgy")
    assert code == 2 and out == ""
    assert "no rule 'angry-no-apolgy'" in err and "did you mean 'angry-no-apology'" in err
    code, out, err = run("rules", "list", "--tag", "timng")
    assert code == 2 and "did you mean 'timing'" in err


def test_a_broken_team_file_is_a_rule_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\noverrides:\n  - {rule: ded-air, enabled: false}\n", encoding="utf-8")
    code, out, err = run("rules", "list", "--rules", str(bad))
    assert code == 5 and out == "" and "did you mean 'dead-air'" in err
