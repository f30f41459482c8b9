"""``qa``: many recorded calls and transcripts through the rules, one report per call and a summary."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..errors import ExitStatus, OutputError, UsageError
from ..wording import plural
from .common import Console, _discover_options, _qa_settings, _rule_paths, default_workers
from .parser import BATCH_MODELS, CORPUS, DEBUG, MASK, RULES, TRANSCRIPTS, _block, _command

if TYPE_CHECKING:  # pragma: no cover
    from ..qa.outcome import CallOutcome
    from ..qa.runner import Task


def _add_qa_parser(sub: argparse._SubParsersAction) -> None:
    own = _block()
    own.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="recordings, transcripts, folders, globs or @LIST files"
    )
    own.add_argument("--out", type=Path, required=True, metavar="DIR", help="where reports and the summary go")
    own.add_argument("--workers", type=int, metavar="N", help="worker processes (default: one per core)")
    own.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run on a Dask cluster: tcp://HOST:8786, or local[:N] for N worker processes here",
    )
    own.add_argument("--force", action="store_true", help="redo finished calls (the transcript cache still applies)")
    own.add_argument("--no-report", action="store_true", help="no per-call HTML (events.jsonl and the summary only)")
    own.add_argument(
        "--no-pack-calls",
        action="store_true",
        help="recognize each call on its own (default: short calls share recognition windows, which is "
        "faster; a call's words then depend a little on the calls beside it)",
    )
    mask = _block(MASK)
    mask.add_argument(
        "--cache-unmasked",
        action="store_true",
        help="keep recognized text unmasked in the transcript cache, so a changed masking list needs no "
        "new recognition (outputs are still masked)",
    )
    _command(
        sub,
        "qa",
        _qa_command,
        [RULES, BATCH_MODELS, own, CORPUS, TRANSCRIPTS, mask, DEBUG],
        help="replay many recorded calls: one HTML report per call and a summary",
        description="Replay recorded calls (stereo, or agent/customer pairs) and transcripts through "
        "the rules: per call events.jsonl and report.html in OUT/calls/ID/, and "
        "OUT/summary.html and summary.csv. Finished calls are skipped when run again; "
        "transcripts are cached, so new rules over old calls take seconds.",
    )


def _check_qa_out(out: Path, inputs: Sequence[Path]) -> None:
    """UsageError (exit 2) when qa's outputs would go into an input folder (the next run would read
    them as calls) or among the inputs; checked before anything is written."""
    from ..fileio import inside, same_file

    for path in inputs:
        if path.is_file() and same_file(path, out):
            raise UsageError(f"--out {out} is the input {path}", "give --out a folder of its own")
        if path.is_dir() and inside(out, path):
            raise UsageError(
                f"--out {out} is inside the input folder {path}; its reports would be read as calls",
                f"put --out outside {path}, e.g. --out {path.absolute().parent / (path.absolute().name + '-qa')}",
            )
        if path.exists() and inside(path, out):
            raise UsageError(
                f"--out {out} holds the input {path}; the reports would be written among the inputs",
                "give --out a folder of its own",
            )


def _check_writable(folder: Path, what: str, other: str) -> None:
    """OutputError (exit 7) unless ``folder`` is, or can be made, a folder that files can be made in."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(
            f"{what} {folder} is not a folder", "give a folder (a new one is made), not a file or a device"
        ) from None
    except OSError as exc:
        raise OutputError(f"cannot create {what} {folder}: {exc.strerror}", "check the path and permissions") from None
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise OutputError(
            f"cannot write in {what} {folder}: {exc.strerror}",
            f"check the folder's permissions, or give {other} a folder you can write in",
        ) from None


def _qa_command(args: argparse.Namespace, con: Console) -> int:
    from ..qa.inputs import discover, is_pattern
    from ..qa.progress import Progress
    from ..qa.runner import run_batch
    from ..rules import load_rules

    stderr = con.stderr
    load_rules(_rule_paths(args))  # rule errors before any work
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1", "")
    if args.workers is not None and args.cluster:
        raise UsageError("--workers is for local runs; a cluster has its own workers", "drop --workers or --cluster")
    if args.cluster:
        from ..qa.runner import local_cluster_size

        local_cluster_size(args.cluster)  # a bad address before any work
    _check_qa_out(args.out, [Path(i) for i in args.inputs if not is_pattern(i)])
    settings = _qa_settings(args, args.out, 1)
    # qa's own outputs are never inputs; what globs and @lists found is checked as the files are
    calls, warnings = discover(
        args.inputs,
        **_discover_options(args),
        exclude=(args.out / "calls", settings.cache_dir),
        missing_ok=True,  # a path that does not exist is an error row; the rest of the batch runs
    )
    _check_qa_out(args.out, [f for c in calls for f in c.files])
    for w in warnings:
        stderr.write(f"rapport-assist: warning: {w}\n")
    workers = args.workers or min(default_workers(), len(calls))
    settings = _qa_settings(args, args.out, 1 if args.cluster else workers)
    _check_writable(args.out, "--out", "--out")  # before any call is recognized, not after each one
    if any(not c.spec.is_transcript and c.missing is None for c in calls):  # only recordings are cached
        _check_writable(settings.cache_dir, "the transcript cache", "--cache")
    progress = Progress(len(calls), stderr)
    where = (
        f"Dask cluster {args.cluster}"
        if args.cluster
        else f"{plural(workers, 'worker')} × {plural(settings.threads, 'thread')}"
    )

    def on_plan(todo: list[Task], known: list[CallOutcome], notes: list[str]) -> None:
        for note in notes:
            stderr.write(f"rapport-assist: warning: {note}\n")
        progress.skip(sum(1 for o in known if o.status == "skipped"))
        for o in known:
            if o.status == "error":
                progress.update(None, failed=True)
        stderr.write(f"rapport-assist: qa: {plural(len(calls), 'call')}, {len(todo)} to do, on {where}\n")
        progress.start()

    seen: list[CallOutcome] = []

    def on_outcome(o: CallOutcome) -> None:
        seen.append(o)
        progress.update(o.audio_s, failed=o.status == "error")

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (kill, timeout, a service stopped): as Ctrl-C, the summary so far

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (tests): Ctrl-C only
        previous = None
    try:
        outcomes = run_batch(
            calls,
            settings,
            workers=workers,
            cluster=args.cluster,
            force=args.force,
            on_outcome=on_outcome,
            on_plan=on_plan,
        )
    except KeyboardInterrupt:
        progress.finish()
        stderr.write(
            f"rapport-assist: interrupted after {progress.done} of {len(calls)} calls; finished calls are "
            "complete, run the same command again to do the rest\n"
        )
        return ExitStatus.INTERRUPTED
    except OutputError:  # the summary could not be written: still say why calls failed
        progress.finish()
        for o in seen:
            if o.status == "error":
                stderr.write(f"rapport-assist: error: {o.call_id}: {o.error}\n")
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    progress.finish()
    failed = [o for o in outcomes if o.status == "error"]
    for o in failed:
        stderr.write(f"rapport-assist: error: {o.call_id}: {o.error}\n")
    from ..qa.summary import warning_label

    warned = [o for o in outcomes if o.stats is not None and o.stats.warnings]
    for o in warned:
        assert o.stats is not None
        stderr.write(f"rapport-assist: warning: {o.call_id}: {', '.join(map(warning_label, o.stats.warnings))}\n")
    from ..qa.runner import EARLIER_VERSION, finished_earlier

    # calls in the summary from earlier runs, whose outputs an earlier version wrote: their
    # warnings (or lack of them) and figures are its, so say how to refresh them
    stale = [
        o.call_id
        for o in finished_earlier(args.out, {c.id for c in calls})[1]
        if o.stats is not None and EARLIER_VERSION in o.stats.warnings
    ]
    if stale:
        named = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        stderr.write(
            f"rapport-assist: warning: {plural(len(stale), 'call')} in the summary "
            f"{'was' if len(stale) == 1 else 'were'} made by an earlier version ({named}): "
            f"warnings may be missing and figures out of date; run qa over "
            f"{'it' if len(stale) == 1 else 'them'} again with --out {args.out} to refresh "
            f"{'it' if len(stale) == 1 else 'them'} (summary.html gives the command for each)\n"
        )
    with_warnings = (
        f", {len(warned)} with warnings (listen to them first: the summary lists them at the top)" if warned else ""
    )
    stderr.write(
        f"rapport-assist: qa: {plural(len(outcomes) - len(failed), 'call')} done "
        f"({progress.skipped} skipped as finished){with_warnings}, "
        f"{len(failed)} failed; summary: {args.out / 'summary.html'}\n"
    )
    return ExitStatus.SOME_CALLS_FAILED if failed else ExitStatus.OK
