"""Regular expressions from rule packs and the masking list, compiled with RE2.

RE2 runs in linear time (no backtracking), so no pattern a team writes can freeze the app; the
memory bound refuses oversized programs. A leaf module: the rule loader, the rule conditions,
the token patterns and the masking stage all compile through it.
"""

from __future__ import annotations

from typing import Iterator, Protocol

REGEX_MAX_MEM = 2 << 20  # bytes of compiled program RE2 may use; bigger patterns are refused


class RegexMatch(Protocol):
    """What the code reads of an RE2 match (google-re2 ships no type stubs)."""

    def group(self, group: int | str = 0) -> str: ...
    def span(self, group: int | str = 0) -> tuple[int, int]: ...
    def start(self, group: int | str = 0) -> int: ...
    def end(self, group: int | str = 0) -> int: ...


class Regex(Protocol):
    """What the code uses of a compiled RE2 pattern: the ``re.Pattern`` methods RE2 offers."""

    @property
    def pattern(self) -> str: ...
    @property
    def groups(self) -> int: ...
    @property
    def groupindex(self) -> dict[str, int]: ...
    def search(self, text: str, pos: int | None = None, endpos: int | None = None) -> RegexMatch | None: ...
    def match(self, text: str, pos: int | None = None, endpos: int | None = None) -> RegexMatch | None: ...
    def fullmatch(self, text: str, pos: int | None = None, endpos: int | None = None) -> RegexMatch | None: ...
    def finditer(self, text: str, pos: int | None = None, endpos: int | None = None) -> Iterator[RegexMatch]: ...
    def findall(self, text: str, pos: int | None = None, endpos: int | None = None) -> list[str]: ...
    def sub(self, repl: str, text: str, count: int = 0) -> str: ...


def compile_regex(pattern: str, ignore_case: bool) -> Regex:
    """Compile with RE2 under a memory bound; ValueError with RE2's reason when refused."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    options.case_sensitive = not ignore_case
    try:
        compiled: Regex = re2.compile(pattern, options)
        return compiled
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None
