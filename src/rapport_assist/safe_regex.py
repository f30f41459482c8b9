"""Regular expressions from rule packs and the masking list, compiled with RE2.

RE2 runs in linear time (no backtracking), so no pattern a team writes can freeze the app; the
memory bound refuses oversized programs. A leaf module: the rule loader, the rule conditions,
the token patterns and the masking stage all compile through it.
"""

from __future__ import annotations

REGEX_MAX_MEM = 2 << 20  # bytes of compiled program RE2 may use; bigger patterns are refused


def compile_regex(pattern: str, ignore_case: bool):  # type: ignore[no-untyped-def]
    """Compile with RE2 under a memory bound; ValueError with RE2's reason when refused."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None
