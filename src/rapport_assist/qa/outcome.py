"""What became of one call in a batch run (``CallOutcome``), and its form in ``call.json``.

Its own module so that the runner (which makes outcomes) and the summary (which lists them) both
import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .stats import CallStats


@dataclass(frozen=True)
class CallOutcome:
    """What became of one call. ``status``: done (processed now), skipped (finished before), error."""

    call_id: str
    status: str
    audio_s: float | None = None
    processing_s: float = 0.0
    recognized: bool = False  # the audio went through the recognizer (cache miss)
    error: str | None = None
    stats: CallStats | None = None
    files: tuple[str, ...] = ()
    worker: str = ""


def outcome_to_json(o: CallOutcome, key: str | None = None, output_format: int | None = None) -> dict[str, Any]:
    """``output_format``: the ``runner.OUTPUT_FORMAT`` the call's outputs were written in (read
    back by ``made_earlier``)."""
    d: dict[str, Any] = {
        "call": o.call_id,
        "status": o.status,
        "files": list(o.files),
        "audio_s": o.audio_s,
        "processing_s": round(o.processing_s, 3),
        "recognized": o.recognized,
    }
    if output_format is not None:
        d["format"] = output_format
    if o.worker:
        d["worker"] = o.worker
    if key:
        d["key"] = key
    if o.error:
        d["error"] = o.error
    if o.stats is not None:
        d["stats"] = o.stats.to_json()
    return d


def outcome_from_json(d: dict[str, Any], status: str | None = None) -> CallOutcome:
    return CallOutcome(
        d["call"],
        status or d["status"],
        audio_s=d.get("audio_s"),
        processing_s=d.get("processing_s", 0.0),
        recognized=d.get("recognized", False),
        error=d.get("error"),
        stats=CallStats.from_json(d["stats"]) if d.get("stats") else None,
        files=tuple(d.get("files", ())),
    )


def written_format(d: dict[str, Any]) -> int:
    """The output format a ``call.json`` was written in. Before it said so: 3 when its stats hold
    warnings (they came with format 3), else 2 or older."""
    fmt = d.get("format")
    if isinstance(fmt, int):
        return fmt
    return 3 if "warnings" in (d.get("stats") or {}) else 2
