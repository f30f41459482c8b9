"""``rules list``: what rules are loaded, with their settings and params as they take effect.

A team lead tunes the default packs from a file of overrides; this tells them what there is to
tune without reading the YAML: per rule its id, title, severity (as the sidebar says it),
status, switch, where it is defined, tags, params (each with the comment written beside or above
it), how many inline examples it has, and, for one rule in detail, its ``why``, message and the
lexicons it reads. With a team's file loaded on top, every value is the effective one, and each
value an override sets carries the override's ``file:line`` and what it was before.

``list_rules(paths)`` loads and returns a ``RulesListing`` (plain typed values); ``select`` picks
rules by id and tag; ``format_text`` and ``to_json`` turn it into text or JSON. Nothing here
prints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from ..errors import UsageError
from ..wording import plural
from ..yaml_words import LINE_BREAK
from .loader import load_rules
from .model import Lexicon, Phrase, RegexFinder, Rule, RuleSet, TokenFinder, ToneIs
from .source import Loc, Problems, YMap, YScalar, YSeq, YValue, closest_hint, read_rule_file, unknown_rule_hint
from .spec import SEVERITY_WORDS

SIDEBAR_SEVERITY = {level: word for word, level in SEVERITY_WORDS.items()}  # high -> urgent

# the settings of a rule an override may set (README "Team overrides"), in the order shown
SETTINGS = (
    "enabled",
    "severity",
    "priority",
    "status",
    "cooldown_s",
    "max_per_call",
    "title",
    "message",
    "message_if_no_rewrite",
)

Value = Any  # a setting's value: bool, str, int, float or None


@dataclass(frozen=True)
class Override:
    """Where an override set a value (``file:line`` of the key in its entry), and the value the
    rule had without any override (the pack's own, or the rule's default)."""

    at: str
    was: Value


@dataclass(frozen=True)
class Param:
    """One of a rule's ``params`` (a number its conditions read as ``$name``)."""

    name: str
    value: float | int
    defined_at: str  # file:line of the param in the rule
    comment: str  # the YAML comment beside it, or on the lines just above it ("" if none)
    override: Override | None = None


@dataclass(frozen=True)
class LexiconUse:
    """A lexicon the rule reads, directly or through a named tone (``via_tone``)."""

    name: str
    defined_at: str
    phrases: int
    via_tone: str | None = None
    overrides: tuple[str, ...] = ()  # file:line of each add/remove override of it


@dataclass(frozen=True)
class RuleEntry:
    id: str
    title: str
    kind: Literal["nudge", "praise", "record"]
    severity: str  # low | medium | high (what events and reports write)
    sidebar_severity: str  # tip | nudge | urgent (what the card says)
    status: str
    enabled: bool
    priority: int
    cooldown_s: float
    max_per_call: int | None
    defined_at: str
    tags: tuple[str, ...]
    params: tuple[Param, ...]
    params_comment: str  # a comment on a line of several params, said of them together
    fires: int
    quiet: int
    why: str
    message: str
    message_if_no_rewrite: str
    record_list: str | None
    lexicons: tuple[LexiconUse, ...]
    overrides: dict[str, Override]  # setting name -> where a team's file set it

    @property
    def overridden(self) -> bool:
        return bool(self.overrides) or any(p.override is not None for p in self.params)


@dataclass(frozen=True)
class RulesListing:
    rules: tuple[RuleEntry, ...]
    files: tuple[str, ...]
    lexicon_overrides: dict[str, tuple[str, ...]]  # lexicon -> file:line of each add/remove entry

    @property
    def tags(self) -> set[str]:
        return {t for r in self.rules for t in r.tags}


# ------------------------------------------------------------------ building the listing


def list_rules(paths: Sequence[Path]) -> RulesListing:
    """Every rule the paths load (switched-off ones too), in the order loaded. Raises
    ``RuleError`` as ``load_rules`` does."""
    ruleset = load_rules(paths)
    base = load_rules(paths, leave_out=ruleset.overrides) if ruleset.overrides else ruleset
    texts: dict[str, list[str]] = {}
    trees: dict[str, YValue | None] = {}
    for name in ruleset.files:
        try:
            texts[name] = LINE_BREAK.split(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):  # loaded a moment ago; a vanished file loses its comments only
            texts[name] = []
        trees[name] = read_rule_file(Path(name), Problems())
    setting_at, param_at, lexicon_at = _override_places(ruleset.files, trees)
    base_rules = {r.id: r for r in (*base.rules, *base.disabled)}
    order = {name: i for i, name in enumerate(ruleset.files)}
    rules = sorted((*ruleset.rules, *ruleset.disabled), key=lambda r: (order.get(r.loc.path, 0), r.loc.line))
    entries = []
    for rule in rules:
        node = _rule_node(trees.get(rule.loc.path), rule.id)
        was = base_rules.get(rule.id, rule)
        entries.append(
            _entry(
                rule,
                was,
                node,
                texts.get(rule.loc.path, []),
                setting_at.get(rule.id, {}),
                param_at.get(rule.id, {}),
                _lexicons_used(rule, ruleset, lexicon_at),
            )
        )
    changed = {name: tuple(str(loc) for loc in locs) for name, locs in lexicon_at.items()}
    return RulesListing(tuple(entries), ruleset.files, changed)


def _entry(
    rule: Rule,
    was: Rule,
    node: YMap | None,
    lines: list[str],
    setting_at: dict[str, Loc],
    param_at: dict[str, Loc],
    lexicons: tuple[LexiconUse, ...],
) -> RuleEntry:
    params_node = node.get("params") if node is not None else None
    written = params_node.entries if isinstance(params_node, YMap) else {}
    values = dict(rule.params)
    was_values = dict(was.params)
    per_line: dict[int, int] = {}
    for key_loc, _ in written.values():
        per_line[key_loc.line] = per_line.get(key_loc.line, 0) + 1
    params = []
    params_comment = ""
    for name in [*(n for n in written if n in values), *(n for n in values if n not in written)]:
        key_loc = written[name][0] if name in written else rule.loc
        comment = _comment(lines, key_loc) if name in written else ""
        if comment and per_line[key_loc.line] > 1:  # said of the params on that line together
            params_comment = params_comment or comment
            comment = ""
        at = param_at.get(name)
        override = Override(str(at), was_values.get(name)) if at is not None else None
        params.append(Param(name, values[name], str(key_loc), comment, override))
    overrides = {key: Override(str(loc), getattr(was, key)) for key, loc in setting_at.items()}
    kind: Literal["nudge", "praise", "record"] = "praise" if rule.praise else "record" if rule.record else "nudge"
    return RuleEntry(
        id=rule.id,
        title=rule.title,
        kind=kind,
        severity=rule.severity,
        sidebar_severity=SIDEBAR_SEVERITY.get(rule.severity, rule.severity),
        status=rule.status,
        enabled=rule.enabled,
        priority=rule.priority,
        cooldown_s=rule.cooldown_s,
        max_per_call=rule.max_per_call,
        defined_at=rule.source,
        tags=rule.tags,
        params=tuple(params),
        params_comment=params_comment,
        fires=sum(1 for e in rule.examples if e.kind == "fires"),
        quiet=sum(1 for e in rule.examples if e.kind == "quiet"),
        why=rule.why,
        message=rule.message,
        message_if_no_rewrite=rule.message_if_no_rewrite,
        record_list=rule.record.list if rule.record is not None else None,
        lexicons=lexicons,
        overrides=overrides,
    )


def _override_places(
    files: Iterable[str], trees: dict[str, YValue | None]
) -> tuple[dict[str, dict[str, Loc]], dict[str, dict[str, Loc]], dict[str, list[Loc]]]:
    """Where the ``overrides:`` of the loaded files set each rule setting and param, and each
    lexicon's add/remove entries; a later file's entry wins, as it does when loading."""
    settings: dict[str, dict[str, Loc]] = {}
    params: dict[str, dict[str, Loc]] = {}
    lexicons: dict[str, list[Loc]] = {}
    for name in files:
        tree = trees.get(name)
        entries = tree.get("overrides") if isinstance(tree, YMap) else None
        for entry in entries.items if isinstance(entries, YSeq) else ():
            if not isinstance(entry, YMap):
                continue
            rule, lexicon = entry.get("rule"), entry.get("lexicon")
            if isinstance(lexicon, YScalar) and isinstance(lexicon.value, str):
                lexicons.setdefault(lexicon.value, []).append(entry.loc)
            if not (isinstance(rule, YScalar) and isinstance(rule.value, str)):
                continue
            for key, (key_loc, value) in entry.entries.items():
                if key in SETTINGS:
                    settings.setdefault(rule.value, {})[key] = key_loc
                elif key == "params" and isinstance(value, YMap):
                    for param, (param_loc, _) in value.entries.items():
                        params.setdefault(rule.value, {})[param] = param_loc
    return settings, params, lexicons


def _rule_node(tree: YValue | None, rule_id: str) -> YMap | None:
    """The YAML mapping that defines rule ``rule_id`` in a file's ``rules:``."""
    rules = tree.get("rules") if isinstance(tree, YMap) else None
    for item in rules.items if isinstance(rules, YSeq) else ():
        if isinstance(item, YMap):
            found = item.get("id")
            if isinstance(found, YScalar) and found.value == rule_id:
                return item
    return None


def _comment(lines: list[str], loc: Loc) -> str:
    """The comment written for the key at ``loc``: the ``#`` lines just above its line, then the
    ``#`` comment at the end of that line ("" if neither)."""
    if not 0 < loc.line <= len(lines):
        return ""
    above = []
    number = loc.line - 2
    while number >= 0 and lines[number].lstrip().startswith("#"):
        above.append(lines[number].strip().lstrip("#").strip())
        number -= 1
    text = lines[loc.line - 1]
    beside = ""
    for i in range(loc.col - 1, len(text)):  # a param's value is a number: the first " #" opens the comment
        if text[i] == "#" and i > 0 and text[i - 1] in " \t":
            beside = text[i + 1 :].strip()
            break
    return " ".join(p for p in [*reversed(above), beside] if p)


_NOT_NAMES = (RegexFinder, TokenFinder, Phrase, Loc)  # their text is words or patterns, never a lexicon


def _names(
    value: object, lexicons: dict[str, Lexicon], tones: set[str], found: dict[str, None], via: list[str]
) -> None:
    """The lexicon names (into ``found``) and tone names (into ``via``) a rule's parts refer to."""
    if isinstance(value, _NOT_NAMES):
        return
    if isinstance(value, ToneIs):
        if value.tone in tones and value.tone not in via:
            via.append(value.tone)
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name not in ("examples", "loc", "id", "title", "why", "message", "message_if_no_rewrite"):
                _names(getattr(value, f.name), lexicons, tones, found, via)
    elif isinstance(value, tuple):
        for item in value:
            _names(item, lexicons, tones, found, via)
    elif isinstance(value, str) and value in lexicons:
        found[value] = None


def _lexicons_used(rule: Rule, ruleset: RuleSet, overridden: dict[str, list[Loc]]) -> tuple[LexiconUse, ...]:
    """The lexicons ``rule`` reads: named in its conditions, tests, rewrites and record, then
    those the named tones it reads (``tone: angry``) read."""
    tones = set(ruleset.tones)
    direct: dict[str, None] = {}
    via: list[str] = []
    _names(rule, ruleset.lexicons, tones, direct, via)
    uses: list[tuple[str, str | None]] = [(name, None) for name in direct]
    seen = set(direct)
    for tone in via:  # a tone may name another tone: read them all, each once
        inner: dict[str, None] = {}
        _names(ruleset.tones[tone].text, ruleset.lexicons, tones, inner, via)
        uses += [(name, tone) for name in inner if name not in seen]
        seen |= set(inner)
    out = []
    for name, via_tone in uses:
        lex = ruleset.lexicons[name]
        at = tuple(str(loc) for loc in overridden.get(name, []))
        out.append(LexiconUse(name, str(lex.loc), len(lex.phrases), via_tone, at))
    return tuple(out)


# ------------------------------------------------------------------ choosing rules


def select(listing: RulesListing, rule_ids: Sequence[str] = (), tags: Sequence[str] = ()) -> tuple[RuleEntry, ...]:
    """The rules with one of ``rule_ids`` (if any are given) and one of ``tags`` (if any), in the
    order of ``rule_ids``, else the listing's. An unknown id or tag is a ``UsageError`` with the
    closest names."""
    ids = {r.id for r in listing.rules}
    for rule_id in rule_ids:
        if rule_id not in ids:
            raise UsageError(f"no rule {rule_id!r}", unknown_rule_hint(rule_id, ids))
    known_tags = listing.tags
    for tag in tags:
        if tag not in known_tags:
            raise UsageError(f"no rule has the tag {tag!r}", closest_hint(tag, known_tags, "tag"))
    chosen = [r for r in listing.rules if (not rule_ids or r.id in rule_ids) and (not tags or set(tags) & set(r.tags))]
    if rule_ids:  # in the order asked for
        asked = list(dict.fromkeys(rule_ids))
        chosen.sort(key=lambda r: asked.index(r.id))
    return tuple(chosen)


# ------------------------------------------------------------------ output


def to_json(listing: RulesListing, rules: Sequence[RuleEntry]) -> dict[str, Any]:
    """The listing as plain JSON values, keys in a fixed order (the dataclasses' fields)."""

    def rule(entry: RuleEntry) -> dict[str, Any]:
        out = dataclasses.asdict(entry)
        out["tags"] = list(entry.tags)
        out["overridden"] = entry.overridden
        return out

    lexicons = {name: list(at) for name, at in listing.lexicon_overrides.items()}
    return {"files": list(listing.files), "lexicon_overrides": lexicons, "rules": [rule(r) for r in rules]}


def _number(value: Value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _shown(entry: RuleEntry, key: str, value: Value) -> str:
    """A setting's value as text; with its override's place and old value when a file set it."""
    text = SIDEBAR_SEVERITY.get(value, value) if key == "severity" else value
    shown = _number(text)
    override = entry.overrides.get(key)
    return shown + (_mark(key, override, value) if override is not None else "")


def _mark(key: str, override: Override, value: Value) -> str:
    was = SIDEBAR_SEVERITY.get(override.was, override.was) if key == "severity" else override.was
    if override.was == value:
        return f" [set at {override.at}, as before]"
    if key == "on/off":  # the summary line's words for 'enabled', as it shows the new value
        old = "on" if was else "OFF"
    else:
        old = _quoted(was) if key in ("title", "message", "message_if_no_rewrite") else _number(was)
    return f" [set at {override.at}; was {old}]"


def _quoted(value: Value) -> str:
    return f'"{value}"' if isinstance(value, str) else _number(value)


def _param(p: Param) -> str:
    text = f"{p.name}={_number(p.value)}"
    if p.override is not None:
        text += _mark("param", p.override, p.value)
    return text


def _what(entry: RuleEntry) -> str:
    if entry.kind == "praise":
        return "praise"
    if entry.kind == "record":
        return f"record ({entry.record_list} list)"
    return _shown(entry, "severity", entry.severity)


def format_text(listing: RulesListing, rules: Sequence[RuleEntry], detail: bool = False) -> str:
    """A short block per rule; ``detail``: everything about each (why, message, every param with
    its comment, the lexicons it reads)."""
    if detail:
        return "\n".join(_detail(r) for r in rules)
    lines = []
    for r in rules:
        changed = "  (changed by overrides)" if r.overridden else ""
        lines.append(f"{r.id}: {_shown(r, 'title', r.title)}{changed}")
        facts = [
            _what(r),
            _shown(r, "status", r.status),
            "on" if r.enabled else "OFF",
            f"priority {_shown(r, 'priority', r.priority)}",
        ]
        facts += [f"{k} {_shown(r, k, getattr(r, k))}" for k in ("cooldown_s", "max_per_call") if k in r.overrides]
        if "enabled" in r.overrides:
            facts[2] = ("on" if r.enabled else "OFF") + _mark("on/off", r.overrides["enabled"], r.enabled)
        lines.append("    " + " · ".join(facts))
        tags = ", ".join(r.tags) if r.tags else "none"
        lines.append(f"    {r.defined_at} · tags: {tags} · examples: {r.fires} fires, {r.quiet} quiet")
        if r.params:
            lines.append("    params: " + ", ".join(_param(p) for p in r.params))
        for key in ("message", "message_if_no_rewrite"):
            if key in r.overrides:
                lines.append(f"    {key}: {_shown(r, key, getattr(r, key))}")
    off = sum(1 for r in rules if not r.enabled)
    n = len(rules)
    total = plural(n, "rule") + (f" ({off} switched off)" if off else "")
    n_changed = sum(1 for r in rules if r.overridden)
    lines.append(
        f"{total} from {', '.join(listing.files)}"
        + (f"; {n_changed} changed by overrides" if n_changed else "")
        + ("" if n == len(listing.rules) else f" (of {len(listing.rules)})")
    )
    for name, at in listing.lexicon_overrides.items():
        lines.append(f"lexicon {name}: phrases added or removed at {', '.join(at)}")
    return "\n".join(lines) + "\n"


def _severity(r: RuleEntry) -> str:
    """'urgent (high)': as the sidebar says it, then as events and reports write it."""
    shown = _shown(r, "severity", r.severity)
    word = SIDEBAR_SEVERITY.get(r.severity, r.severity)
    return shown.replace(word, f"{word} ({r.severity})", 1)


def _detail(r: RuleEntry) -> str:
    rows = [
        ("defined at", r.defined_at),
        ("kind", r.kind + (f" (the {r.record_list} list)" if r.record_list else "")),
        ("severity", "none: praise shows no card" if r.kind == "praise" else _severity(r)),
        ("status", _shown(r, "status", r.status)),
        ("enabled", _shown(r, "enabled", r.enabled)),
        ("priority", _shown(r, "priority", r.priority)),
        ("cooldown_s", _shown(r, "cooldown_s", r.cooldown_s)),
        ("max_per_call", _shown(r, "max_per_call", r.max_per_call)),
        ("tags", ", ".join(r.tags) or "none"),
        ("why", r.why.strip()),
        ("message", _shown(r, "message", r.message)),
    ]
    if r.message_if_no_rewrite != r.message:
        rows.append(("message_if_no_rewrite", _shown(r, "message_if_no_rewrite", r.message_if_no_rewrite)))
    rows.append(("examples", f"{r.fires} fires, {r.quiet} quiet"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{r.id}: {_shown(r, 'title', r.title)}"]
    lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
    if r.params:
        lines.append("  params (a team sets them with 'overrides: [{rule: " + r.id + ", params: {NAME: N}}]'):")
        if r.params_comment:
            lines.append(f"    # {r.params_comment}")
        for p in r.params:
            lines.append(f"    {_param(p)}  ({p.defined_at})")
            if p.comment:
                lines.append(f"        # {p.comment}")
    else:
        lines.append("  params: none")
    if r.lexicons:
        lines.append("  lexicons (a team tunes them with 'overrides: [{lexicon: NAME, add: [...], remove: [...]}]'):")
        for lex in r.lexicons:
            if lex.via_tone is None or lex.overrides:
                via = f", through tone {lex.via_tone}" if lex.via_tone else ""
                changed = f"; changed at {', '.join(lex.overrides)}" if lex.overrides else ""
                lines.append(f"    {lex.name} ({plural(lex.phrases, 'phrase')}, {lex.defined_at}{via}{changed})")
        tones: dict[str, list[str]] = {}
        for lex in r.lexicons:  # a tone reads many: their names only (each is in the JSON)
            if lex.via_tone is not None and not lex.overrides:
                tones.setdefault(lex.via_tone, []).append(lex.name)
        for tone, names in tones.items():
            lines.append(f"    through tone {tone} ({plural(len(names), 'lexicon')}): {', '.join(names)}")
    return "\n".join(lines) + "\n"
