"""Run calls end to end, resumably, on a local process pool or a Dask cluster.

``process_calls`` does a group of calls (``group_tasks``: short recordings are recognized
together, so they share Whisper's 30 s windows): each call's timeline from the cache or from
recognition (batch mode), then annotation, signals and rules (``CallPipeline``), then its
outputs in ``OUT/calls/<id>/``:
``events.jsonl``, ``report.html`` and, written last, ``call.json``, the done-marker (its key
covers the audio, recognition settings and rules, so a finished call is skipped and a changed
one is redone). Every file is written to a temporary name and renamed, so an interrupted
run leaves finished calls complete and nothing half-written.

Each worker process (pool or Dask) keeps what it loaded — the model, spaCy, the rules — for
every call it gets (``_worker_for``): the model loads once per worker, and only when a call
misses the cache.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import multiprocessing
import os
import re
import shlex
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from ..endpoint import EndpointerOptions
from ..errors import OutputError, RapportError, UsageError
from ..fileio import write_atomic
from ..privacy import MaskList, Masker, default_mask_list
from .cache import CachedTimeline, TranscriptCache, call_key, settings_identity
from .inputs import CallInput, safe_id
from .outcome import CallOutcome, outcome_from_json, outcome_to_json, written_format
from .stats import call_stats
from .summary import write_summary

if TYPE_CHECKING:  # pragma: no cover
    from ..recognizer import Recognizer, RecognizerOptions


def _no_recognizer() -> Recognizer:
    """The recognizer factory of a transcript, which is never recognized."""
    raise AssertionError("a transcript needs no recognizer")


OUTPUT_FORMAT = 4  # bump when events.jsonl/report.html/call.json change so finished calls are redone
# (3: call.json's stats hold the call's warnings, which the summary lists)


@dataclass(frozen=True)
class QaSettings:
    """Everything a worker needs to process a call (picklable: it travels to pool and cluster workers)."""

    out_dir: Path
    cache_dir: Path
    rule_paths: tuple[Path, ...]
    model_dir: Path | None = None
    compute_type: str = "int8"
    threads: int = 1
    batch: bool = True
    endpointer: EndpointerOptions = field(default_factory=EndpointerOptions)
    report: bool = True
    pack_calls: bool = True  # recognize short calls together, in shared windows (see ``group_tasks``)
    # what to mask (privacy.py), read once where the run starts; None: masking off (--no-mask)
    mask_list: MaskList | None = field(default_factory=default_mask_list)
    cache_unmasked: bool = False  # keep recognized text unmasked in the cache (outputs are still masked)
    turn_pass: bool | None = None  # a second pass over each turn (turn_pass.py); None: RecognizerOptions' default
    batch_beam_size: int | None = None  # the packed batches' beam (--beam); None: RecognizerOptions' default

    @property
    def mask_identity(self) -> str:
        """What masking does to the outputs (part of each finished call's key)."""
        return self.mask_list.fingerprint if self.mask_list is not None else "off"

    @property
    def cache_mask_identity(self) -> str:
        """What masking does to the cached text (part of the cache key)."""
        return "unmasked" if self.cache_unmasked or self.mask_list is None else self.mask_list.fingerprint

    def recognizer_options(self) -> RecognizerOptions:
        from ..recognizer import RecognizerOptions

        options = RecognizerOptions(
            model_dir=self.model_dir, compute_type=self.compute_type, cpu_threads=self.threads, keep_freed_memory=True
        )  # page faults cost a fifth of recognition (BENCHMARKS.md)
        if self.batch_beam_size is not None:
            options = replace(options, batch_beam_size=self.batch_beam_size)
        return options if self.turn_pass is None else replace(options, turn_pass=self.turn_pass)


def rules_fingerprint(paths: Sequence[Path]) -> str:
    """sha256 of the rule files' names and bytes (what the rules are, not where they are)."""
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(root.rglob("*.yaml")) if root.is_dir() else [root]
        for f in files:
            try:
                digest.update(f.name.encode() + b"\0" + f.read_bytes())
            except OSError:
                digest.update(f.name.encode() + b"\0missing")
    return digest.hexdigest()


def unreadable(exc: OSError) -> str:
    """The error of a call's file that cannot be read, with the fix (as ``replay`` words it)."""
    return f"cannot read {exc.filename}: {exc.strerror or exc} — check the file's permissions"


def os_error(call: CallInput, exc: OSError, folders: str = "the --out and --cache folders") -> str:
    """What an OSError while doing ``call`` means: one of its files cannot be read, or else what
    it writes (its outputs, the transcript cache in ``folders``) cannot be (a full disk, permissions)."""
    if exc.filename is not None and os.fsdecode(exc.filename) in {str(f) for f in call.files}:
        return unreadable(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return (
        f"cannot write its outputs{where}: {exc.strerror or exc} — free some disk space or check the "
        f"permissions of {folders}, then run the same command again"
    )


def call_dir(out_dir: Path, call_id: str) -> Path:
    return out_dir / "calls" / call_id


# ---------------------------------------------------------------------------- one worker


class _Worker:
    """What one process loads once: rules, spaCy, and (on the first cache miss) the model."""

    def __init__(self, settings: QaSettings) -> None:
        from ..annotate import Annotator
        from ..pipeline import CallPipeline
        from ..rules import RuleEngine, load_rules

        self.settings = settings
        self.ruleset = load_rules(list(settings.rule_paths))
        self.masker = Masker(settings.mask_list)
        self.pipeline = CallPipeline(Annotator(), RuleEngine(self.ruleset), masker=self.masker)
        self.cache = TranscriptCache(settings.cache_dir)
        self._recognizer: Any = None  # a Recognizer, loaded on the first recording (imports faster-whisper)
        self.lock = threading.Lock()  # a Dask worker may run several tasks in threads: one call at a time
        self.name = f"{os.uname().nodename}:{os.getpid()}"

    def recognizer(self) -> Recognizer:
        if self._recognizer is None:
            from ..recognizer import Recognizer

            self._recognizer = Recognizer(
                self.settings.recognizer_options()
            )  # no warm-up: no one waits on the first call
        return self._recognizer


_WORKERS: dict[tuple, _Worker] = {}
_WORKERS_LOCK = threading.Lock()


def _worker_for(settings: QaSettings) -> _Worker:
    key = (
        settings.rule_paths,
        settings.model_dir,
        settings.compute_type,
        settings.threads,
        settings.batch,
        settings.endpointer,
        str(settings.cache_dir),
        settings.mask_list,
        settings.cache_unmasked,
    )
    with _WORKERS_LOCK:
        worker = _WORKERS.get(key)
        if worker is None:
            worker = _WORKERS[key] = _Worker(settings)
        return worker


def recognition_identity(settings: QaSettings) -> dict[str, Any]:
    from ..models import resolve_whisper_model_dir

    identity = settings_identity(
        resolve_whisper_model_dir(settings.model_dir),
        settings.compute_type,
        settings.recognizer_options(),
        settings.endpointer,
        settings.batch,
    )
    identity["mask"] = settings.cache_mask_identity  # a changed masking list misses the cache
    return identity


def done_key(transcript_key: str, rules_digest: str) -> str:
    return hashlib.sha256(f"{OUTPUT_FORMAT}:{transcript_key}:{rules_digest}".encode()).hexdigest()


def read_done(out_dir: Path, call_id: str) -> dict[str, Any] | None:
    try:
        return json.loads((call_dir(out_dir, call_id) / "call.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def timeline_for(call: CallInput, key: str, worker: _Worker) -> tuple[CachedTimeline, bool]:
    """The call's timeline from the cache, or recognized now and cached; and whether it was recognized."""
    ready = ready_timeline(call, key, worker)
    if ready is not None:
        return ready, False
    return recognize_alone(call, key, worker), True


def recognize_alone(call: CallInput, key: str, worker: _Worker) -> CachedTimeline:
    """Recognize one recording on its own (no cache lookup) and cache its timeline."""
    from ..sources import open_replay

    source = open_replay(call.spec, worker.recognizer, worker.settings.endpointer, batch=worker.settings.batch)
    return _cache_timeline(call, key, source, worker)


def _cache_timeline(call: CallInput, key: str, source: Any, worker: _Worker) -> CachedTimeline:
    """A recognized replay source as a timeline, kept in the transcript cache under ``key`` (masked,
    unless the user keeps an unmasked cache)."""
    items = source.items()
    if not worker.settings.cache_unmasked:
        items = worker.masker.timeline(items)
    timeline = CachedTimeline(tuple(items), source.audio_s)
    worker.cache.put(key, timeline, {"call": call.id, "files": [str(f) for f in call.files]})
    return timeline


def ready_timeline(call: CallInput, key: str, worker: _Worker) -> CachedTimeline | None:
    """A transcript's timeline, or a recording's from the cache; None when it must be recognized."""
    if call.spec.is_transcript:
        from ..sources import open_replay

        source = open_replay(call.spec, worker.recognizer)
        return CachedTimeline(tuple(source.items()), None)
    return worker.cache.get(key)


def process_calls(tasks: Sequence["Task"], settings: QaSettings) -> list[CallOutcome]:
    """Process a group of calls (``group_tasks``) and write each one's outputs; one outcome per
    task, in order. The recordings that miss the cache are recognized together, packed into
    shared windows (``Recognizer.recognize_batch``), then each call goes on alone: a call that
    cannot be read, or fails later, is an error outcome and the others complete. The short calls
    of a group are held whole (their segments) until recognized; a call alone in its group is
    streamed (``recognize_alone``), so a long recording takes the memory of a short one."""
    worker = _worker_for(settings)
    with worker.lock:
        ready: dict[int, tuple[CachedTimeline, bool, float]] = {}  # task -> timeline, recognized, seconds
        failed: dict[int, CallOutcome] = {}
        recordings: dict[int, Any] = {}  # task -> EndpointedRecording still to recognize
        for n, task in enumerate(tasks):
            started = time.perf_counter()
            try:
                timeline = ready_timeline(task.call, task.key, worker)
                if timeline is not None:
                    ready[n] = (timeline, False, time.perf_counter() - started)
                elif not settings.batch or len(tasks) == 1:
                    # one decode per utterance, or a call alone (long calls are): streamed, never
                    # held whole (``open_replay``; batch mode recognizes it in chunks)
                    ready[n] = (recognize_alone(task.call, task.key, worker), True, time.perf_counter() - started)
                else:
                    from ..sources import endpoint_recording

                    recordings[n] = endpoint_recording(task.call.spec, settings.endpointer)
            except Exception as exc:  # noqa: BLE001 - one bad call must not stop a batch of thousands
                failed[n] = _error_outcome(task.call, exc, started, worker)
        if recordings:
            ready.update(_recognize_together(tasks, recordings, worker, failed))
        outcomes = []
        for n, task in enumerate(tasks):
            if n in failed:
                outcomes.append(failed[n])
                continue
            timeline, recognized, spent = ready[n]
            started = time.perf_counter() - spent
            try:
                outcomes.append(_finish(task, settings, timeline, recognized, worker, started))
            except Exception as exc:  # noqa: BLE001
                outcomes.append(_error_outcome(task.call, exc, started, worker))
        return outcomes


def _recognize_together(
    tasks: Sequence["Task"], recordings: dict[int, Any], worker: _Worker, failed: dict[int, CallOutcome]
) -> dict[int, tuple[CachedTimeline, bool, float]]:
    """Recognize the segments of several recordings in one packed batch, then cache each call's
    timeline. If the batch fails, each call is recognized alone, so only a bad one fails."""
    started = time.perf_counter()
    order = list(recordings)
    segments = [seg for n in order for seg in recordings[n].segments]
    groups = [k for k, n in enumerate(order) for _ in recordings[n].segments]
    recognizer = worker.recognizer()
    try:
        found = recognizer.recognize_batch(segments, groups=groups) if segments else []
        per_call = {}
        at = 0
        for n in order:
            count = len(recordings[n].segments)
            per_call[n] = found[at : at + count]
            at += count
    except Exception:  # noqa: BLE001 - fall back to one call at a time
        per_call = {}
        for n in order:
            try:
                per_call[n] = recognizer.recognize_batch(recordings[n].segments)
            except Exception as exc:  # noqa: BLE001
                failed[n] = _error_outcome(tasks[n].call, exc, started, worker)
    total_audio = sum(recordings[n].audio_s for n in per_call) or 1.0
    spent = time.perf_counter() - started
    out = {}
    for n, recognitions in per_call.items():
        try:
            source = recordings[n].source(recognizer, recognitions)
            timeline = _cache_timeline(tasks[n].call, tasks[n].key, source, worker)
        except Exception as exc:  # noqa: BLE001 - that call's (a full disk under the cache), not the batch's
            failed[n] = _error_outcome(tasks[n].call, exc, started, worker)
            continue
        out[n] = (timeline, True, spent * recordings[n].audio_s / total_audio)  # its share of the batch
    return out


def call_timeline(
    call: CallInput, settings: QaSettings, progress: "Callable[[str, float | None], None] | None" = None
) -> tuple[CachedTimeline, bool]:
    """One call's timeline exactly as ``qa`` gets it (``rules explain`` on a recording): the same
    cache key and batch recognition, so the same words and utterance numbers; from the transcript
    cache, else recognized now and cached for ``qa``. Whether it was recognized now.

    ``progress(step, fraction)``: ``("decoding", None)``, then ``("recognizing", 0…1)``.
    """
    from ..sources import endpoint_recording, open_replay

    if call.spec.is_transcript:
        source = open_replay(call.spec, _no_recognizer)
        return CachedTimeline(tuple(source.items()), None), False
    key = call_key(call, recognition_identity(settings))
    cache = TranscriptCache(settings.cache_dir)
    hit = cache.get(key)
    if hit is not None:
        return hit, False
    from ..recognizer import Recognizer

    if progress is not None:
        progress("decoding", None)
    recording = endpoint_recording(call.spec, settings.endpointer)
    recognizer = Recognizer(settings.recognizer_options())
    on_batch = None if progress is None else (lambda f: progress("recognizing", f))
    if on_batch is not None:
        on_batch(0.0)
    recognitions = (
        recognizer.recognize_batch([s for s in recording.segments], progress=on_batch) if settings.batch else None
    )
    source = (
        recording.source(recognizer, recognitions)
        if recognitions is not None
        else open_replay(call.spec, lambda: recognizer, settings.endpointer, batch=False)
    )
    timeline = CachedTimeline(tuple(source.items()), source.audio_s)
    if on_batch is not None:
        on_batch(1.0)
    cache.put(key, timeline, {"call": call.id, "files": [str(f) for f in call.files]})
    return timeline, True


_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS})


def _error_outcome(call: CallInput, exc: BaseException, started: float, worker: _Worker) -> CallOutcome:
    if isinstance(exc, MemoryError):
        raise exc
    if isinstance(exc, RapportError):
        error = exc.one_line()
    elif isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:  # the disk, not a bug
        error = os_error(call, exc)
    else:
        error = f"internal error: {exc.__class__.__name__}: {exc}"
    return CallOutcome(
        call.id,
        "error",
        error=error,
        processing_s=time.perf_counter() - started,
        files=tuple(map(str, call.files)),
        worker=worker.name,
    )


def _finish(
    task: "Task", settings: QaSettings, timeline: CachedTimeline, recognized: bool, worker: _Worker, started: float
) -> CallOutcome:
    """Rules over a call's timeline, and its outputs: events.jsonl, report.html, then call.json."""
    from ..sources import TRANSCRIPT_READ_AHEAD, Timeline, heard_sides

    call = task.call
    sides = heard_sides(timeline.items, call.spec.sides)  # one side: a transcript of one speaker, a silent channel
    events = [
        e.to_json()
        for e in worker.pipeline.run(
            Timeline(iter(timeline.items), TRANSCRIPT_READ_AHEAD), audio_s=timeline.audio_s, sides=sides
        )
    ]
    stats = call_stats(events)
    folder = call_dir(settings.out_dir, call.id)
    write_atomic(folder / "events.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    if settings.report:
        from .report import render_report

        write_atomic(folder / "report.html", render_report(call, events, stats))
    else:  # an earlier run's report no longer tells this call's figures
        (folder / "report.html").unlink(missing_ok=True)
    elapsed = time.perf_counter() - started
    outcome = CallOutcome(
        call.id,
        "done",
        audio_s=timeline.audio_s,
        processing_s=elapsed,
        recognized=recognized,
        stats=stats,
        files=tuple(map(str, call.files)),
        worker=worker.name,
    )
    write_atomic(
        folder / "call.json",
        json.dumps(
            outcome_to_json(outcome, done_key(task.key, task.rules_digest), OUTPUT_FORMAT), ensure_ascii=False, indent=1
        )
        + "\n",
    )
    return outcome


# ---------------------------------------------------------------------------- many calls


@dataclass(frozen=True)
class Task:
    call: CallInput
    key: str
    rules_digest: str


def plan(calls: Sequence[CallInput], settings: QaSettings, force: bool = False) -> tuple[list[Task], list[CallOutcome]]:
    """Split ``calls`` into tasks to run and outcomes already known (finished before, or unreadable)."""
    return plan_calls(calls, settings, force)[1:3]


def plan_calls(
    calls: Sequence[CallInput], settings: QaSettings, force: bool = False
) -> tuple[list[CallInput], list[Task], list[CallOutcome], list[str]]:
    """``plan``, and the calls as planned with notes on the ids changed: a call whose id is that of
    another call finished in ``OUT`` by an earlier run (the same file name in another folder, each
    run on its own) gets its folder's name in front, as it would in one run with the other, so
    neither report replaces the other's."""
    rules_digest = rules_fingerprint(settings.rule_paths) + ":mask=" + settings.mask_identity
    identity = recognition_identity(settings) if any(not c.spec.is_transcript for c in calls) else {}
    planned: list[CallInput] = []
    notes: list[str] = []
    todo: list[Task] = []
    known: list[CallOutcome] = []
    taken = {c.id for c in calls}
    for call in calls:
        key, error = None, call.missing  # a path given that does not exist: an error row of its own
        if error is None:
            try:
                key = call_key(call, identity)
            except OSError as exc:
                error = unreadable(exc)
        finished = None if key is None else done_key(key, rules_digest)
        done = read_done(settings.out_dir, call.id)
        if _another_calls(done, call, finished):
            assert done is not None
            base = safe_id(f"{call.files[0].parent.name}__{call.id}")
            new_id, n = base, 2
            while new_id in taken or _another_calls(read_done(settings.out_dir, new_id), call, finished):
                new_id, n = f"{base}-{n}", n + 1
            notes.append(
                f"{' + '.join(map(str, call.files))}: {call_dir(settings.out_dir, call.id)} holds the reports of "
                f"another call ({' + '.join(done['files'])}), which are kept: this call is {new_id}"
            )
            taken.add(new_id)
            call, done = replace(call, id=new_id), read_done(settings.out_dir, new_id)
        planned.append(call)
        if error is not None or key is None:
            known.append(CallOutcome(call.id, "error", error=error, files=tuple(map(str, call.files))))
        elif (
            not force
            and done
            and done.get("status") == "done"
            and done.get("key") == finished
            and written_format(done) >= OUTPUT_FORMAT
            and (not settings.report or (call_dir(settings.out_dir, call.id) / "report.html").is_file())
        ):  # finished (a run with --no-report made no report: one without it makes the report)
            known.append(outcome_from_json(done, "skipped"))
        else:
            todo.append(Task(call, key, rules_digest))
    return planned, todo, known, notes


def _another_calls(done: dict[str, Any] | None, call: CallInput, finished: str | None) -> bool:
    """Is ``done`` (a ``call.json`` in OUT) that of another call than ``call``: none of its files
    are ``call``'s, and it is not ``call`` moved elsewhere (its key: the same content, settings and rules)."""
    if not done or done.get("status") != "done":
        return False
    theirs = {str(f) for f in done.get("files") or ()}
    return bool(theirs) and not theirs & {str(f) for f in call.files} and done.get("key") != finished


def _start_pool_worker() -> None:
    """A pool worker: Ctrl-C is the parent's to handle, which stops the workers (``_stop_pool``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:  # faster-whisper's batches make a tqdm bar, whose lock is then a named semaphore: a worker
        # stopped by terminate() leaves it for the resource tracker, which then warns of "leaked
        # semaphore objects" under the interrupted command's last line. A thread lock does here.
        from tqdm.std import TqdmDefaultWriteLock

        TqdmDefaultWriteLock.mp_lock = None
    except ImportError:  # pragma: no cover - faster-whisper brings tqdm
        pass


PACK_CALLS_S = 120.0  # short calls are recognized together, about this much call audio per group
PACK_CALLS_MAX = 16  # and at most this many calls


def group_tasks(tasks: Sequence[Task], settings: QaSettings) -> list[list[Task]]:
    """The tasks as groups a worker does together (``process_calls``), biggest first.

    Whisper encodes 30 s windows whatever they hold, so the last, part-empty window of each side
    of each call costs as much as a full one; on short calls that is most of the work. So
    recordings shorter than ``PACK_CALLS_S`` that miss the transcript cache are recognized in
    groups, their segments sharing windows. The groups are as few as ``PACK_CALLS_S`` and
    ``PACK_CALLS_MAX`` allow, and even: longest calls first, each call goes to the group with
    the least audio so far. Even groups, biggest first, let the workers finish together instead
    of one waiting on another's last group; past a minute or two of audio a bigger group saves
    little, as the part-empty windows are then a small share. Each call's words depend a little
    on the calls beside it, as they already depend on its own neighbouring utterances; the
    grouping depends only on the calls to do, so a local run and a cluster run group alike.
    Transcripts, cached calls, long calls and recordings whose length cannot be read go alone;
    ``pack_calls=False`` (``--no-pack-calls``) keeps every call alone."""
    if not (settings.pack_calls and settings.batch):
        return [[t] for t in tasks]
    cache = TranscriptCache(settings.cache_dir)
    alone: list[tuple[float, list[Task]]] = []
    short: list[tuple[float, Task]] = []
    for task in tasks:
        length = None if task.call.spec.is_transcript or cache.path(task.key).exists() else _audio_length(task.call)
        if length is None or length >= PACK_CALLS_S:
            alone.append((length or 0.0, [task]))
        else:
            short.append((length, task))
    n_groups = max(math.ceil(sum(length for length, _ in short) / PACK_CALLS_S), math.ceil(len(short) / PACK_CALLS_MAX))
    bins: list[tuple[float, list[Task]]] = [(0.0, []) for _ in range(n_groups)]
    for length, task in sorted(short, key=lambda lt: (-lt[0], lt[1].call.id)):
        k = min((k for k in range(n_groups) if len(bins[k][1]) < PACK_CALLS_MAX), key=lambda k: bins[k][0])
        bins[k] = (bins[k][0] + length, bins[k][1] + [task])
    groups = [(audio, sorted(group, key=lambda t: t.call.id)) for audio, group in bins] + alone
    return [group for _, group in sorted(groups, key=lambda ag: (-ag[0], ag[1][0].call.id))]


def _audio_length(call: CallInput) -> float | None:
    """A recording's length from its header (the longer side of a pair), or None if unreadable."""
    import av

    longest = 0.0
    for path in call.files:
        try:
            with av.open(str(path), metadata_errors="replace") as container:  # tags not in UTF-8 too
                if container.duration is None:
                    return None
                longest = max(longest, container.duration / 1_000_000)
        except (OSError, av.error.FFmpegError, ValueError):
            return None
    return longest


def _run_group(group_and_settings: tuple[list[Task], QaSettings]) -> list[CallOutcome]:
    group, settings = group_and_settings
    return process_calls(group, settings)


def run_local(tasks: Sequence[Task], settings: QaSettings, workers: int) -> Iterable[CallOutcome]:
    """Outcomes as calls finish: in this process when ``workers`` is 1, else on a process pool."""
    groups = group_tasks(tasks, settings)
    if workers <= 1 or len(groups) <= 1:
        for group in groups:
            yield from _run_group((group, settings))
        return
    yield from run_on_pool(groups, settings, min(workers, len(groups)))


WORKER_DIED = (
    "the process working on this call died (a crash, or the system ran out of memory and stopped it); "
    "the other calls went on"
)
WORKER_DIED_HINT = "run this call alone with '--workers 1' to see why; with less memory in use it may pass"


def run_on_pool(
    groups: Sequence[list[Task]],
    settings: QaSettings,
    workers: int,
    run: Callable[[tuple[list[Task], QaSettings]], list[CallOutcome]] = _run_group,
) -> Iterator[CallOutcome]:
    """The groups' outcomes as they finish on ``workers`` processes (``run``: what a worker does
    with a group, module-level so a spawned worker can import it).

    A worker that dies (a crash in native code, or the kernel's out-of-memory killer) breaks the
    pool, and the groups it had not finished would never come back (``multiprocessing.Pool`` waited
    for them for ever). Here the calls not finished then are run again, one call at a time on one
    worker: a call that kills its worker again is the one that fails (``WORKER_DIED``), on a fresh
    worker the rest go on."""
    from concurrent.futures import Future, ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold model threads
    todo = list(groups)
    while todo:
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_start_pool_worker)
        # biggest groups first (group_tasks' order) keeps the pool busy to the end
        futures: dict[Future[list[CallOutcome]], int] = {pool.submit(run, (g, settings)): n for n, g in enumerate(todo)}
        done: set[int] = set()
        broken = stopped = False
        try:
            for future in as_completed(futures):
                try:
                    outcomes = future.result()
                except BrokenProcessPool:
                    broken = True
                    break
                done.add(futures[future])
                yield from outcomes
            stopped = True
        finally:
            if stopped or broken:
                pool.shutdown(wait=True, cancel_futures=True)
            else:  # interrupted: stop the calls under way (their outputs are not written yet, or complete)
                _stop_pool(pool)
        if not broken:
            return
        for future, n in futures.items():  # groups that finished before the pool broke
            if n not in done and future.done() and not future.cancelled() and future.exception() is None:
                done.add(n)
                yield from future.result()
        left = [[task] for n, group in enumerate(todo) if n not in done for task in group]
        if workers == 1 and left:  # one call at a time: the first not finished is the one that was running
            call = left.pop(0)[0].call
            yield CallOutcome(
                call.id,
                "error",
                error=f"{WORKER_DIED} ({WORKER_DIED_HINT})",
                files=tuple(map(str, call.files)),
            )
        todo, workers = left, 1


def _stop_pool(pool: Any) -> None:
    """Stop a process pool at once: its queued groups cancelled, the workers' calls under way too."""
    pool.shutdown(wait=False, cancel_futures=True)
    workers = multiprocessing.active_children()  # (this command's only child processes are its workers)
    for process in workers:
        process.terminate()
    for process in workers:
        process.join()


def local_cluster_size(address: str) -> int | None:
    """N for ``local[:N]`` (default: one per core), None for a scheduler address; UsageError if neither."""
    if address == "local" or address.startswith("local:"):
        n = address.partition(":")[2]
        if n and not (n.isdigit() and int(n) >= 1):
            raise UsageError(f"--cluster {address}: N must be a whole number of workers", "write --cluster local:2")
        return int(n) if n else (os.cpu_count() or 1)
    if not re.fullmatch(r"(tcp|tls|ws|wss|inproc|ucx)://\S+|[\w.\-]+:\d+", address):
        raise UsageError(
            f"--cluster {address!r} is not a Dask scheduler address",
            "write --cluster tcp://HOST:8786, or --cluster local:N for a cluster on this machine",
        )
    return None


def run_cluster(tasks: Sequence[Task], settings: QaSettings, address: str) -> Iterable[CallOutcome]:
    """Outcomes as calls finish on a Dask cluster: ``tcp://host:8786``, or ``local[:N]`` for a cluster
    of N worker processes on this machine started for this run."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError("--cluster needs Dask: pip install 'dask[distributed]'", "or run without --cluster") from None
    cluster = None
    n_workers = local_cluster_size(address)
    if n_workers is not None:
        # its worker processes, started now, ignore Ctrl-C as a pool's do: a terminal sends it to
        # them too, and each printed a KeyboardInterrupt traceback; this process stops them
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # its workers write to this terminal: closed under a call (Ctrl-C), each logged a
                # warning that the call "ended with CancelledError" under our summary; errors still show
                silence_logs=logging.ERROR,
            )
        finally:
            signal.signal(signal.SIGINT, previous)
        address = cluster.scheduler_address
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise UsageError(
            f"cannot reach the Dask scheduler at {address}: {exc}",
            "start it with 'dask scheduler' and workers with 'dask worker ADDRESS'",
        ) from None
    try:
        futures = [
            client.submit(
                process_calls, g, settings, pure=False, key=f"qa-{g[0].call.id}-{g[0].key[:12]}", priority=-n
            )  # biggest groups first, as locally
            for n, g in enumerate(group_tasks(tasks, settings))
        ]
        for future in as_completed(futures):
            yield from future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_batch(
    calls: Sequence[CallInput],
    settings: QaSettings,
    workers: int = 1,
    cluster: str | None = None,
    force: bool = False,
    on_outcome: Callable[[CallOutcome], None] | None = None,
    on_plan: Callable[[list[Task], list[CallOutcome], list[str]], None] | None = None,
) -> list[CallOutcome]:
    """Process ``calls`` (skipping finished ones), then write the summary; outcomes in ``calls`` order."""

    calls, todo, known, notes = plan_calls(calls, settings, force)
    if on_plan is not None:
        on_plan(todo, known, notes)
    outcomes = {o.call_id: o for o in known}
    runner = run_cluster(todo, settings, cluster) if cluster else run_local(todo, settings, workers)
    try:
        for outcome in runner:
            outcomes[outcome.call_id] = outcome
            if on_outcome is not None:
                on_outcome(outcome)
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
        for task in todo:  # interrupted: a call a worker finished whose outcome had not come yet
            done = read_done(settings.out_dir, task.call.id) if task.call.id not in outcomes else None
            if done and done.get("key") == done_key(task.key, task.rules_digest):
                outcomes[task.call.id] = outcome_from_json(done)
        ordered = [outcomes[c.id] for c in calls if c.id in outcomes]
        if ordered:
            earlier_calls, earlier = finished_earlier(settings.out_dir, {c.id for c in calls})
            everything = sorted([*calls, *earlier_calls], key=lambda c: c.id)
            try:
                write_summary(settings.out_dir, everything, ordered + earlier)
            except OSError as exc:  # a full disk or a read-only folder: the user's to fix, not a bug
                raise OutputError(
                    f"cannot write the summary in {settings.out_dir}: {exc.strerror or exc}",
                    "free some disk space or check the folder's permissions, then run the same command "
                    "again (finished calls are kept)",
                ) from None
    return [outcomes[c.id] for c in calls]


EARLIER_VERSION = "earlier_version"  # the warning of a call whose outputs an earlier version wrote


def earlier_version_note(done: dict[str, Any], out_dir: Path) -> str:
    """What the summary says of a call finished by an earlier version (``written_format`` below
    ``OUTPUT_FORMAT``): its figures are kept as they were, and how to have them redone."""
    files = [str(f) for f in done.get("files", ())]
    target = files[0] if len(files) == 1 else str(Path(files[0]).parent) if files else "ITS FILES"
    lacks = (
        ""
        if "warnings" in (done.get("stats") or {})
        else ", which did not record warnings (a silent or cut-short recording, one side only)"
    )
    return (
        f"made by an earlier version of rapport-assist{lacks}: its figures may be out of date; "
        f"refresh it with 'rapport-assist qa {shlex.quote(target)} --out {shlex.quote(str(out_dir))}'"
    )


def finished_earlier(out_dir: Path, ids: set[str]) -> tuple[list[CallInput], list[CallOutcome]]:
    """The calls finished in ``out_dir`` by earlier runs, other than ``ids`` (this run's calls): a
    run over a subset of the calls still has every finished call in its summary. One written by
    an earlier version (an older ``OUTPUT_FORMAT``) has an ``EARLIER_VERSION`` warning that says
    so and how to refresh it (a summary made before warnings were recorded would show none)."""
    from ..sources import ReplayInput

    calls: list[CallInput] = []
    outcomes: list[CallOutcome] = []
    for marker in sorted((out_dir / "calls").glob("*/call.json")):
        call_id = marker.parent.name
        if call_id in ids:
            continue
        done = read_done(out_dir, call_id)
        try:
            if not done or done.get("status") != "done" or done.get("call") != call_id or not done.get("files"):
                continue
            files = tuple(Path(f) for f in done["files"])
            spec = (
                ReplayInput(path=files[0])
                if len(files) == 1
                else ReplayInput(agent_path=files[0], customer_path=files[1])
            )
            outcome = outcome_from_json(done, "skipped")
            if written_format(done) < OUTPUT_FORMAT and outcome.stats is not None:
                outcome = replace(
                    outcome,
                    stats=replace(
                        outcome.stats,
                        warnings={**outcome.stats.warnings, EARLIER_VERSION: earlier_version_note(done, out_dir)},
                    ),
                )
        except (KeyError, TypeError, ValueError, AttributeError):  # a damaged marker: the call is not finished
            continue
        calls.append(CallInput(call_id, spec, files))
        outcomes.append(outcome)
    return calls, outcomes
