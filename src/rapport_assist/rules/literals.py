"""A regex's required literals: strings one of which every match contains, so a text holding
none of them needs no regex search (the ``says: {regex: …}`` finder tests this first: a plain
substring test costs a fraction of a call through the RE2 wrapper, and most utterances hold no
match). RE2's own prefilter does the same inside C++; its Python wrapper does not expose it.

The pattern is read with Python's regex parser (``re._parser``), which reads the RE2 syntax
the rule packs use the same way for what matters here (literals, groups, alternatives,
repeats, character sets). Where the two could read a pattern differently (inline flags, POSIX
classes, RE2's own escapes) or the parser refuses it, there is no prefilter (None): the regex
always runs. Zero-width tests (``\\b``, ``^``) keep their neighbours adjacent; anything else
that is not a literal ends a run of literals.
"""

from __future__ import annotations

from typing import Any

_MAX_SET = 64  # alternatives kept in a set of strings (a longer cross product stops a run)
_MAX_CLASS = 16  # a character set of at most this many plain characters counts as literals


class _Req:
    """What a piece of a pattern requires: ``exact``: it matches exactly one of these strings
    (a run of literals can grow through it); ``need``: some string of this set occurs in any
    match (None: no such set known)."""

    __slots__ = ("exact", "need")

    def __init__(self, exact: frozenset[str] | None, need: frozenset[str] | None) -> None:
        self.exact = exact
        self.need = need


def required_literals(pattern: str, ignore_case: bool) -> frozenset[str] | None:
    """Strings of which every match of ``pattern`` contains one (case-folded with
    ``ignore_case``: test them against ``text.casefold()``), or None when none are known."""
    if "(?" in pattern.replace("(?:", "").replace("(?P<", "") or "[:" in pattern or "\\Q" in pattern:
        return None  # inline flags, POSIX classes, RE2-only quoting: leave it to RE2
    try:
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern)
    except Exception:  # noqa: BLE001 - RE2 syntax Python's parser refuses (\pL, \z, …)
        return None
    fold = str.casefold if ignore_case else None
    try:
        req = _sequence(list(parsed), fold)
    except _Unknown:
        return None
    need = req.exact if req.exact is not None else req.need
    if not need or "" in need:
        return None
    return need


class _Unknown(Exception):
    """A parse node this reader does not know: no prefilter."""


def _best(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The more selective of two requirements (longer shortest string, then fewer strings)."""
    if a is None or "" in a:
        return b
    if b is None or "" in b:
        return a
    ka, kb = (min(map(len, a)), -len(a)), (min(map(len, b)), -len(b))
    return a if ka >= kb else b


def _sequence(items: list[Any], fold: Any) -> _Req:
    """A concatenation: the literals run through adjacent exact pieces; the requirement is the
    best of its runs and its pieces' own requirements."""
    run: frozenset[str] | None = frozenset({""})
    best: frozenset[str] | None = None
    exact = True
    for op, arg in items:
        piece = _piece(str(op), arg, fold)
        if piece is None:  # zero-width: neighbours stay adjacent
            continue
        if piece.exact is not None and run is not None:
            grown = frozenset(a + b for a in run for b in piece.exact)
            if len(grown) <= _MAX_SET:
                run = grown
                if piece.need is not None:  # a repeat: one copy is sure, then the run ends
                    best = _best(best, run)
                    run = frozenset({""})
                    exact = False
                continue
        best = _best(best, run)
        best = _best(best, piece.need if piece.exact is None else piece.exact)
        run = frozenset({""})
        exact = False
    if exact:
        return _Req(run, None)
    return _Req(None, _best(best, run))


def _piece(op: str, arg: Any, fold: Any) -> _Req | None:
    """One parse node (None: zero-width)."""
    if op == "LITERAL":
        ch = chr(arg)
        return _Req(frozenset({fold(ch) if fold else ch}), None)
    if op == "AT":
        return None
    if op == "IN":
        chars = []
        for kind, value in arg:
            if str(kind) != "LITERAL":
                return _Req(None, None)
            chars.append(chr(value))
        if not chars or len(chars) > _MAX_CLASS:
            return _Req(None, None)
        return _Req(frozenset(fold(c) if fold else c for c in chars), None)
    if op == "SUBPATTERN":
        return _sequence(list(arg[-1]), fold)
    if op == "BRANCH":
        options = [_sequence(list(branch), fold) for branch in arg[1]]
        if all(o.exact is not None for o in options):
            union = frozenset(s for o in options for s in o.exact or ())
            return _Req(union if len(union) <= _MAX_SET else None, None if len(union) <= _MAX_SET else union)
        needs = [o.exact if o.exact is not None else o.need for o in options]
        if any(n is None or "" in n for n in needs):
            return _Req(None, None)
        return _Req(None, frozenset(s for n in needs for s in n or ()))
    if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, _, body = arg
        if low < 1:
            return _Req(None, None)
        inner = _sequence(list(body), fold)
        if inner.exact is not None:  # at least one copy, right here; the run cannot go on past it
            return _Req(inner.exact, inner.exact)
        return _Req(None, inner.need)
    if op in ("ANY", "NOT_LITERAL", "CATEGORY", "GROUPREF", "ATOMIC_GROUP"):
        return _Req(None, None)
    raise _Unknown(op)  # lookarounds, conditionals: RE2 refuses them anyway
