"""Where a process's resident memory is: /proc/PID/smaps summed by mapping (benchmarks' helper).

``by_mapping(pid)`` gives RSS (MB) per mapped file (its basename) and per kind of anonymous
memory ([heap], [stack], [anon]); ``report(before, after)`` prints the largest and what changed.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path


def by_mapping(pid: int | str = "self") -> dict[str, float]:
    """RSS in MB per mapping name, from /proc/PID/smaps."""
    out: dict[str, float] = defaultdict(float)
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(maxsplit=1)[0]
        if "-" in first and not first.endswith(":"):  # a mapping's header line
            parts = line.split(maxsplit=5)
            path = parts[5].strip() if len(parts) > 5 else ""
            name = os.path.basename(path) if path.startswith("/") else (path or "[anon]")
        elif first == "Rss:":
            out[name] += int(line.split()[1]) / 1024
    return dict(out)


def rollup(pid: int | str = "self") -> dict[str, float]:
    """/proc/PID/smaps_rollup's kB fields, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def report(title: str, now: dict[str, float], before: dict[str, float] | None = None, top: int = 25) -> None:
    """Print the ``top`` largest mappings (and their change since ``before``)."""
    total = sum(now.values())
    print(f"{title}: {total:.0f} MB resident in {len(now)} mappings")
    rows = sorted(now.items(), key=lambda kv: -kv[1])[:top]
    for name, mb in rows:
        change = "" if before is None else f" ({mb - before.get(name, 0.0):+.1f})"
        print(f"  {mb:7.1f} MB{change}  {name}")
    if before is not None:
        grown = sorted(((mb - before.get(n, 0.0), n) for n, mb in now.items()), reverse=True)[:8]
        print("  grew most: " + ", ".join(f"{n} {d:+.1f}" for d, n in grown if d > 0.5))
