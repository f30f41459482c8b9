"""Writing output files safely: never over an input, all or nothing, with the user's umask.

* ``refuse_overwrite(out, inputs, what)``: a ``UsageError`` (exit 2) when an output path is, or
  resolves to (symlinks followed, hard links compared by inode), one of the input files. Called
  before anything is opened for writing.
* ``write_atomic(path, text)``: the text goes to a temporary file in the same folder, which is
  renamed over ``path``: readers see the old file or the new one, never half of one, and a failed
  write removes its temporary file. The file gets the mode a plain ``open()`` would give
  (0666 minus the umask), not ``mkstemp``'s 0600, so shared folders work as the umask says.
* ``PartialFile``: a streaming output (``replay --out``), written as it happens to ``FILE.partial``
  (flushed per event, so an interrupted replay keeps everything) and renamed to ``FILE`` when it
  ends well; an interrupted or failed run leaves ``FILE.partial`` and ``FILE`` as it was. A pipe
  or device (``/dev/stdout``, a shell's ``>(...)``) is written directly.

A rename replaces the directory entry, never the bytes of the file that was there: even a path
that is a symlink or a hard link to an input only loses its link, not the input's content. The
explicit check is there so that the user hears about it instead of losing a link.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterable

from .errors import UsageError


def current_umask() -> int:
    """The process umask, read without changing it (``os.umask`` sets it, which races with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc (macOS): the classic read, restoring it at once
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file."""
    return 0o666 & ~current_umask()


def same_file(a: Path, b: Path) -> bool:
    """Do ``a`` and ``b`` name the same file (symlinks followed, hard links by inode)?"""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def refuse_overwrite(out: Path, inputs: Iterable[Path | None], what: str = "--out") -> None:
    """UsageError (exit 2) when ``out`` is one of ``inputs``: the input would be lost."""
    for inp in inputs:
        if inp is not None and same_file(out, inp):
            via = "" if os.path.realpath(out) == os.path.abspath(out) else f" (it leads to {os.path.realpath(out)})"
            raise UsageError(
                f"{what} {out} is the input {inp}{via}; writing it would destroy the input",
                f"give {what} another file name",
            )


def inside(path: Path, folder: Path) -> bool:
    """Is ``path`` (symlinks followed) ``folder`` or somewhere under it?"""
    p, f = os.path.realpath(path), os.path.realpath(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (see the module's description)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def is_stream(path: Path) -> bool:
    """Is ``path`` an existing pipe, socket or device (``/dev/stdout``, ``>(jq ...)``), not a file?"""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


class PartialFile:
    """A text file written as it happens under ``path.partial``, renamed to ``path`` by ``commit()``.
    A pipe or device (``is_stream``) is written directly: it has no partial state to hide."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():  # found now, not by the rename at the end of the call
            raise IsADirectoryError(21, "Is a directory", str(self.path))
        direct = is_stream(self.path)
        self.partial = self.path if direct else self.path.with_name(self.path.name + ".partial")
        self.handle: IO[str] = self.partial.open("w", encoding="utf-8")  # OSError for the caller to report

    @property
    def direct(self) -> bool:
        return self.partial == self.path

    def commit(self) -> None:
        """Close and rename to the final name."""
        self.handle.close()
        if not self.direct:
            os.replace(self.partial, self.path)

    def close(self) -> None:
        """Close without renaming (interrupted or failed: the partial file stays)."""
        try:
            self.handle.close()
        except OSError:
            pass
