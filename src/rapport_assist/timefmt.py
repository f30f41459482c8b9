"""Seconds as a clock, the one formatter behind every view's times.

``clock(65.27)`` -> ``1:05.3`` (reports, diffs); ``tenths=False`` -> ``1:05`` (whole seconds, cut
down: the sidebar); ``pad=True`` -> ``01:05.3`` (the terminal's event lines); ``hours=True`` puts
an hour in front from 60 minutes on (``1:02:05``: progress lines). Negative times show as 0.
"""

from __future__ import annotations


def clock(t_s: float, *, tenths: bool = True, pad: bool = False, hours: bool = False) -> str:
    t = max(0.0, float(t_s))
    width = 2 if pad else 1
    if tenths:  # rounded to tenths before the minute is split off: 59.96 s is 1:00.0, not 0:60.0
        head, tenth = divmod(round(t * 10), 600)
        tail = f"{tenth // 10:02d}.{tenth % 10}"
    else:
        head, whole = divmod(int(t), 60)
        tail = f"{whole:02d}"
    if hours and head >= 60:
        h, head = divmod(head, 60)
        return f"{h}:{head:02d}:{tail}"
    return f"{head:0{width}d}:{tail}"
