"""``replay`` and ``demo``: one recorded call or transcript (or the bundled demo call) through the
pipeline, its events printed as they come (and written to ``--out``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable

from ..bundled import DEMO_AUDIO as DEMO_CALL
from ..errors import ExitStatus, OutputClosed, OutputError
from ..fileio import PartialFile, refuse_overwrite
from ..output import EventSink, JsonlSink, TextSink
from ..types import Speaker
from .common import REPLAY_TURN_PASS, Console, _channel_order, _masking, _rule_files, _rule_paths, _with_turn_pass
from .parser import DEBUG, EVENTS, MASK, MODELS, RULES, TRANSCRIPTS, _block, _command

if TYPE_CHECKING:  # pragma: no cover
    from ..qa.progress import CallProgress
    from ..recognizer import Recognizer
    from ..rules import RuleEngine
    from ..sources import ReplayInput


def _add_replay_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the commands ``replay`` and ``demo``."""
    own = _block()
    own.add_argument(
        "input",
        nargs="?",
        type=Path,
        help="recording (wav, flac, mp3, ogg, m4a…) or transcript (.jsonl; .txt with Agent:/Customer: lines; "
        "Amazon Transcribe, Call Analytics, Contact Lens, Azure AI Speech or Google CCAI Insights / Speech-to-Text "
        ".json; .vtt or .srt captions)",
    )
    own.add_argument("--agent", type=Path, metavar="FILE", help="mono recording of the agent")
    own.add_argument("--customer", type=Path, metavar="FILE", help="mono recording of the customer")
    own.add_argument("--speaker", choices=("agent", "customer"), help="whose voice a mono INPUT holds")
    own.add_argument(
        "--channels",
        default="agent,customer",
        metavar="L,R",
        help="who is on the left and right channel, also ch_0 and ch_1 of an Amazon Transcribe or Azure .json, "
        "channels 1 and 2 of a Google one (default: agent,customer)",
    )
    _command(
        sub,
        "replay",
        _replay_command,
        [RULES, MODELS, own, TRANSCRIPTS, EVENTS, MASK, DEBUG],
        help="replay a recorded call or transcript through the pipeline",
        description="Replay a stereo recording (left=agent, right=customer), two mono recordings, "
        "one side with --speaker, or a transcript (.jsonl, .txt, Amazon Transcribe, Call Analytics, Contact Lens, "
        "Azure AI Speech or Google CCAI Insights / Speech-to-Text .json, .vtt, .srt).",
    )

    _command(
        sub,
        "demo",
        _demo_command,
        [RULES, MODELS, EVENTS, MASK, DEBUG],
        help="replay the bundled demo call in the terminal",
        description="Replay the bundled demo call (a 96-second support call, recorded in stereo) "
        "through the recognizer and the rules, printing its utterances and nudges as "
        "they come: what the assistant does, without a microphone or a display.",
    )


def _load_engine(args: argparse.Namespace) -> RuleEngine:
    from ..rules import RuleEngine, load_rules

    return RuleEngine(load_rules(_rule_paths(args)))


def _recognizer_factory(args: argparse.Namespace) -> Callable[[], Recognizer]:
    """Builds the recognizer only when audio needs it (transcripts never load the model)."""

    def factory() -> Recognizer:
        from ..recognizer import Recognizer, RecognizerOptions

        model = getattr(args, "model", None)
        return Recognizer(
            _with_turn_pass(
                args,
                RecognizerOptions(
                    model_dir=Path(model) if model else None,
                    compute_type=getattr(args, "compute_type", "int8"),
                    cpu_threads=getattr(args, "threads", 2),
                    keep_freed_memory=True,
                ),
                REPLAY_TURN_PASS,
            )
        )  # a batch run: 9x fewer page faults

    return factory


def _replay_command(args: argparse.Namespace, con: Console) -> int:
    from ..sources import ReplayInput

    spec = ReplayInput(
        path=args.input,
        agent_path=args.agent,
        customer_path=args.customer,
        speaker=Speaker.parse(args.speaker) if args.speaker else None,
        channel_order=_channel_order(args.channels),
        speaker_map=args.speaker_map,
    )
    return _replay(args, spec, con.stdout, con.stderr)


def _demo_command(args: argparse.Namespace, con: Console) -> int:
    from ..sources import ReplayInput

    con.stderr.write(
        "rapport-assist: replaying the bundled demo call in the terminal "
        f"({DEMO_CALL.name}: agent on the left channel, customer on the right)\n"
    )
    con.stderr.flush()
    return _replay(args, ReplayInput(path=DEMO_CALL), con.stdout, con.stderr)


def _replay(args: argparse.Namespace, spec: ReplayInput, stdout: IO[str], stderr: IO[str]) -> int:
    from ..annotate import Annotator
    from ..pipeline import CallPipeline
    from ..assist import event_time
    from ..privacy import masker_for
    from ..sources import open_replay

    out = getattr(args, "out", None)
    if out is not None:  # before anything is read or opened for writing
        inputs = [spec.path, spec.agent_path, spec.customer_path, *_rule_files(_rule_paths(args))]
        refuse_overwrite(out, inputs)
        refuse_overwrite(out.with_name(out.name + ".partial"), inputs, "--out's partial file")
    engine = _load_engine(args)  # rule errors before any work
    source = open_replay(spec, _recognizer_factory(args))
    pipeline = CallPipeline(Annotator(), engine, masker=masker_for(_masking(args)))
    sinks: list[EventSink] = [JsonlSink(stdout, "stdout") if args.format == "jsonl" else TextSink(stdout, "stdout")]
    partial = None
    if out is not None:
        try:
            partial = PartialFile(out)
        except OSError as exc:
            raise OutputError(
                f"cannot create {out}: {exc.strerror}", "check the folder exists and is writable"
            ) from None
        sinks.append(JsonlSink(partial.handle, str(partial.partial)))
    # on a terminal, while the events go elsewhere: how far the call has got
    progress = _replay_progress(source.audio_s, stdout, stderr)
    try:
        for event in pipeline.run(source.items(), audio_s=source.audio_s):
            for sink in list(sinks):
                try:
                    sink.write(event)
                except OutputClosed:  # the reader of stdout stopped (| head): --out still gets every event
                    if sink is not sinks[0] or len(sinks) == 1:
                        raise
                    sinks.remove(sink)
            t_s = event_time(event)
            if t_s is not None:
                progress.update(t_s)
        if partial is not None:
            try:
                partial.commit()
            except OSError as exc:
                raise OutputError(
                    f"cannot finish {out}: {exc.strerror or exc}", f"the events are in {partial.partial}"
                ) from None
            partial = None
    finally:
        progress.finish()
        if partial is not None:  # interrupted or failed: keep what was written, and say where
            partial.close()
            if not partial.direct:
                stderr.write(f"rapport-assist: the events so far are in {partial.partial} ({out} was left as it was)\n")
    return ExitStatus.OK


def _replay_progress(audio_s: float | None, stdout: IO[str], stderr: IO[str]) -> CallProgress:
    """A progress line on stderr when it is a terminal and the events do not go to one (there,
    they show the progress themselves); silent for transcripts (they take a moment)."""
    from ..qa.progress import CallProgress

    try:
        events_on_terminal = stdout.isatty()
    except (AttributeError, ValueError, OSError):
        events_on_terminal = False
    progress = CallProgress("replay", audio_s, stderr)
    if events_on_terminal or audio_s is None:
        progress.tty = False
    return progress
