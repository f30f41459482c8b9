"""Which calls a ``qa`` run covers: folders, globs, lists of files, paired by name.

A call is one of:

* a stereo recording (agent left, customer right unless ``--channels`` says otherwise);
* two mono recordings named ``<call>_agent.<ext>`` and ``<call>_customer.<ext>`` (also ``-``,
  ``.`` or a space before the side, and ``caller``/``client`` for the customer);
* one mono side alone, named the same way (the other side is missing: a warning);
* a transcript: ``.jsonl`` (replay format), ``.txt`` ("Agent: …" turns), an Amazon Transcribe (a job's
  output, Call Analytics) or Contact Lens ``.json``, or ``.vtt``/``.srt`` captions (a ``.txt`` or ``.json`` that is
  something else, a note or a settings file, is skipped with a warning).

Inputs may be files, folders (searched recursively), glob patterns (``calls/**/*.wav``) and
``@LIST`` files naming one path per line (relative to the list file).
"""

from __future__ import annotations

import glob
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..audio import AUDIO_SUFFIXES
from ..errors import InputNotFound, UsageError
from ..sources import TRANSCRIPT_SUFFIXES, ReplayInput
from ..transcript import SPEAKER_MAP_SUFFIXES, SpeakerMap, not_a_transcript, read_lines
from ..types import Speaker

SIDE_PATTERN = r"^(?P<call>.+?)[_.\- ](?P<side>agent|customer|caller|client)$"
_SIDES = {"agent": Speaker.AGENT, "customer": Speaker.CUSTOMER, "caller": Speaker.CUSTOMER, "client": Speaker.CUSTOMER}
_GLOB_CHARS = re.compile(r"[*?\[]")


def _names_both_sides(stem: str) -> bool:
    """The file name names the agent and the customer both ("call_L-agent_R-customer")."""
    return len({_SIDES[w] for w in re.split(r"[^a-z]+", stem.lower()) if w in _SIDES}) == 2


@dataclass(frozen=True)
class CallInput:
    """One call to process: its id (file name without extension and side), what to replay, and its
    files; ``missing``: why it cannot be processed (a path given that does not exist), else None."""

    id: str
    spec: ReplayInput
    files: tuple[Path, ...]
    missing: str | None = None

    @property
    def kind(self) -> str:
        if self.spec.is_transcript:
            return "transcript"
        if self.spec.path is not None:
            return "mono" if self.spec.speaker is not None else "stereo"
        return "pair" if self.spec.agent_path and self.spec.customer_path else "mono"


def is_pattern(item: str | Path) -> bool:
    """Is an input a glob or an @LIST file (rather than a file or folder)?"""
    return str(item).startswith("@") or bool(_GLOB_CHARS.search(str(item)))


def _expand(item: str, found: list[Path], missing: list[tuple[Path, InputNotFound]] | None = None) -> None:
    """Add the files ``item`` names to ``found``. A path that does not exist raises InputNotFound,
    or, given ``missing``, is added there with its error (a list's line named in it)."""
    if item.startswith("@"):
        list_file = Path(item[1:])
        try:
            with list_file.open("rb"):
                pass
        except OSError as exc:
            raise InputNotFound(
                f"cannot read the list {list_file}: {exc.strerror}", "check the path after '@'"
            ) from None
        # as a transcript's lines are read: bytes that are not UTF-8 (a list in UTF-16, as PowerShell's
        # '>' writes it; a name in Latin-1) or a NUL are BadInput naming the line, not a crash
        lines = [line for _, line in read_lines(list_file)]

        def in_list(exc: InputNotFound, number: int) -> InputNotFound:
            """The error of a list's line: which line of which list, and how its paths are read."""
            return InputNotFound(
                f"{list_file}:{number}: {exc.message}",
                f"{exc.hint}; a list's relative paths start from the list's folder"
                f" ({list_file.parent.resolve()}), not the current one",
            )

        for number, line in enumerate(lines, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                path = Path(line)
                inner: list[tuple[Path, InputNotFound]] | None = None if missing is None else []
                try:
                    _expand(str(path if path.is_absolute() else list_file.parent / path), found, inner)
                except InputNotFound as exc:
                    raise in_list(exc, number) from None
                if missing is not None and inner:
                    missing.extend((p, in_list(exc, number)) for p, exc in inner)
        return
    if _GLOB_CHARS.search(item):
        matches = sorted(glob.glob(item, recursive=True))
        if not matches:
            raise InputNotFound(
                f"no file matches {item!r}", "check the pattern (quote it so the shell does not expand it)"
            )
        found.extend(Path(m) for m in matches if Path(m).is_file())
        return
    path = Path(item)
    if path.is_dir():
        unreadable: list[OSError] = []  # a folder that cannot be listed: its calls would be left out unsaid
        walked = [Path(root, name) for root, _, names in os.walk(path, onerror=unreadable.append) for name in names]
        found.extend(sorted(p for p in walked if p.is_file() and _usable(p)))
        for problem in unreadable:
            error = InputNotFound(
                f"cannot read the folder {problem.filename}: {problem.strerror}",
                "check its permissions: the calls in it cannot be read",
            )
            if missing is None:
                raise error
            missing.append((Path(problem.filename), error))
    elif path.is_file():
        found.append(path)
    else:
        error = InputNotFound(f"no such file or folder: {path}", "check the path")
        if missing is None:
            raise error
        missing.append((path, error))


def _usable(path: Path) -> bool:
    suffix = path.suffix.lower()
    return (suffix in AUDIO_SUFFIXES or suffix in TRANSCRIPT_SUFFIXES) and not path.name.startswith(".")


def _twin_channels(path: Path) -> bool:
    """A multi-channel file with the same audio on its first two channels (a side saved as
    stereo): it is the one side its name says. Decodes the file once (only files named as one
    side yet stereo come here); unreadable: False, and the call's replay reports why."""
    from ..audio import probe_audio
    from ..errors import RapportError

    try:
        return probe_audio(path).twin_channels
    except (RapportError, OSError):
        return False


def _channels(path: Path) -> int | None:
    """The channel count of a recording's first audio stream, from its header (None if unreadable)."""
    import av

    try:
        # metadata_errors: a tag not in UTF-8 (a Windows recorder's Latin-1) leaves the channels readable
        with av.open(str(path), metadata_errors="replace") as container:
            streams = container.streams.audio
            context = streams[0].codec_context if streams else None  # None: a codec FFmpeg does not know
            return int(context.channels or 0) or None if context is not None else None
    except (OSError, av.error.FFmpegError, ValueError, IndexError):
        return None


def discover(
    inputs: Sequence[str | Path],
    side_pattern: str = SIDE_PATTERN,
    channel_order: tuple[Speaker, Speaker] = (Speaker.AGENT, Speaker.CUSTOMER),
    exclude: Sequence[Path] = (),
    missing_ok: bool = False,
    speaker_map: SpeakerMap = (),
) -> tuple[list[CallInput], list[str]]:
    """The calls named by ``inputs`` (sorted by id) and warnings (a side without its pair, files skipped).

    ``side_pattern`` is a regular expression on the file name without extension, with groups
    ``call`` and ``side``; files it matches are paired by (folder, call) when they are mono (a
    stereo file is a whole call whatever its name). Files under a folder of ``exclude`` (the run's
    own outputs and cache) are never inputs.

    A path given (or in an ``@LIST``) that does not exist raises InputNotFound; with ``missing_ok``
    (``qa``) it is a call of its own, whose ``missing`` says so (with the list's file and line), and
    InputNotFound only when no input exists at all.

    ``speaker_map``: people named as sides (``--speaker-map``), for the transcripts that label turns.
    """
    from ..fileio import inside

    try:
        pattern = re.compile(side_pattern, re.IGNORECASE)
    except re.error as exc:
        raise UsageError(f"--pair-pattern is not a valid regular expression: {exc}", "") from None
    if not {"call", "side"} <= set(pattern.groupindex):
        raise UsageError(
            "--pair-pattern needs the groups (?P<call>...) and (?P<side>...)", f"the default is {SIDE_PATTERN}"
        )
    files: list[Path] = []
    missing: list[tuple[Path, InputNotFound]] | None = [] if missing_ok else None
    for item in inputs:
        _expand(str(item), files, missing)
    warnings: list[str] = []
    seen: set[Path] = set()
    unique: list[Path] = []
    for f in files:
        key = f.resolve()
        if any(inside(key, folder) for folder in exclude):
            continue
        if key not in seen:
            seen.add(key)
            unique.append(f.absolute())  # workers (pool, cluster) may run elsewhere than here
    calls: list[
        tuple[str, Path, ReplayInput, tuple[Path, ...], str | None]
    ] = []  # (name, folder, spec, files, missing)
    sides: dict[tuple[Path, str], dict[Speaker, Path]] = defaultdict(dict)
    for f in unique:
        suffix = f.suffix.lower()
        if suffix in TRANSCRIPT_SUFFIXES:
            why = not_a_transcript(f, speaker_map)
            if why is not None:
                warnings.append(f"{f}: skipped ({why})")
                continue
            people = speaker_map if suffix in SPEAKER_MAP_SUFFIXES else ()
            spec = ReplayInput(path=f, speaker_map=people, channel_order=channel_order)  # a Transcribe job's channels
            calls.append((f.stem, f.parent, spec, (f,), None))
            continue
        if suffix not in AUDIO_SUFFIXES:
            warnings.append(f"{f}: skipped (not a recording or a transcript)")
            continue
        m = pattern.match(f.stem)
        side = _SIDES.get(m.group("side").lower()) if m else None
        if m and side is not None and (_channels(f) or 1) >= 2 and not _twin_channels(f):
            # a name that holds both sides ("call_L-agent_R-customer.wav") says it is stereo
            if not _names_both_sides(f.stem):
                warnings.append(f"{f}: named like one side of a call, but it is stereo: processed as a whole call")
            side = None
        if m and side is not None:
            slot = sides[(f.parent, m.group("call"))]
            if side in slot:
                warnings.append(f"{f}: skipped, {slot[side]} is already the {side.value} of call {m.group('call')!r}")
            else:
                slot[side] = f
            continue
        calls.append((f.stem, f.parent, ReplayInput(path=f, channel_order=channel_order), (f,), None))
    for (folder, name), slot in sides.items():
        agent, customer = slot.get(Speaker.AGENT), slot.get(Speaker.CUSTOMER)
        if agent and customer:
            calls.append((name, folder, ReplayInput(agent_path=agent, customer_path=customer), (agent, customer), None))
        else:
            only = agent or customer
            assert only is not None
            speaker = Speaker.AGENT if agent else Speaker.CUSTOMER
            warnings.append(f"{only}: no {speaker.other().value} side found; processing the {speaker.value} side alone")
            calls.append((name, folder, ReplayInput(path=only, speaker=speaker), (only,), None))
    gone: set[Path] = set()
    for path, not_found in missing or ():  # a row of its own, named by the path as written
        path = path.absolute()
        if path not in gone:
            gone.add(path)
            calls.append((path.stem or path.name, path.parent, ReplayInput(path=path), (path,), not_found.one_line()))
    # ids are file names; the same name in two folders gets the folder in front
    # (the same name twice in one folder, e.g. a call's .flac and its .jsonl: the extension after it)
    counts: dict[str, int] = defaultdict(int)
    in_folder: dict[tuple[str, Path], int] = defaultdict(int)
    for name, folder, *_ in calls:
        counts[name] += 1
        in_folder[(name, folder)] += 1
    out: list[CallInput] = []
    used: set[str] = set()
    for name, folder, spec, paths, why in sorted(calls, key=lambda c: (c[0], str(c[1]))):
        call_id = name
        if counts[name] > in_folder[(name, folder)]:  # in other folders too
            call_id = f"{folder.name}__{name}"
        if in_folder[(name, folder)] > 1:
            call_id += "_" + paths[0].suffix.lstrip(".").lower()
        call_id = safe_id(call_id)
        base, n = call_id, 2
        while call_id in used:
            call_id, n = f"{base}-{n}", n + 1
        used.add(call_id)
        out.append(CallInput(call_id, spec, paths, why))
    if missing and all(c.missing for c in out):  # nothing there at all: a usage slip, not a batch
        first = missing[0][1]
        more = f" (and {len(missing) - 1} more inputs not found)" if len(missing) > 1 else ""
        raise InputNotFound(first.message + more, first.hint)
    if not out:
        raise InputNotFound(
            "no recordings or transcripts found in " + ", ".join(map(str, inputs)),
            "give folders, files or globs of recordings (wav, flac, mp3, ...) or transcripts "
            "(.jsonl, .txt, .json, .vtt, .srt)",
        )
    return out, warnings


def safe_id(name: str) -> str:
    """A call id usable as a folder name everywhere."""
    cleaned = re.sub(r"[^\w.\-]+", "_", name).strip("._") or "call"
    return cleaned[:120]
