"""Timelines of many calls for commands that only need the words and signals (``rules diff``,
``eval`` on audio): from the transcript cache, recognizing (batch mode) what is not cached yet."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

from ..errors import RapportError
from .cache import CachedTimeline, call_key
from .inputs import CallInput
from .runner import QaSettings, _worker_for, recognition_identity, os_error, timeline_for


def call_timelines(
    calls: Sequence[CallInput], settings: QaSettings, on_error: Callable[[CallInput, str], None] | None = None
) -> Iterator[tuple[CallInput, CachedTimeline]]:
    """Each call with its timeline, in order. A call that cannot be read or decoded goes to
    ``on_error(call, reason)`` (or raises, without ``on_error``) and the others go on."""
    worker = _worker_for(settings)
    identity = recognition_identity(settings) if any(not c.spec.is_transcript for c in calls) else {}
    for call in calls:
        try:
            key = call_key(call, identity)
            timeline, _ = timeline_for(call, key, worker)
            # a transcript reads lazily: its errors surface here
            yield call, timeline
        except OSError as exc:
            if on_error is None:
                raise
            on_error(call, os_error(call, exc, "the --cache folder"))
        except RapportError as exc:
            if on_error is None:
                raise
            on_error(call, exc.one_line())
