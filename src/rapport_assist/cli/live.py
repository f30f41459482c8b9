"""``devices`` and ``live``: list the audio inputs, and run a live call from the terminal."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import IO

from ..errors import ExitStatus, OutputError, RapportError, UsageError
from ..fileio import refuse_overwrite
from ..output import EventSink, JsonlSink, TextSink
from .common import Console, _rule_files, _rule_paths, _with_turn_pass
from .parser import DEBUG, EVENTS, MASK, MODELS, RULES, _block, _call_seconds, _command


def _add_live_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the commands ``devices`` and ``live``."""
    own = _block()
    own.add_argument("--json", action="store_true", help="print one JSON object per device")
    _command(
        sub,
        "devices",
        _devices_command,
        [own, DEBUG],
        help="list the audio inputs and monitors a live call can capture",
    )

    own = _block()
    own.add_argument(
        "--agent",
        metavar="DEVICE",
        help="agent microphone id from 'rapport-assist devices' "
        "(DEVICE#N picks channel N, counted from 0; without #N its channels mixed down; "
        "default: saved, else the default input)",
    )
    own.add_argument(
        "--customer",
        metavar="DEVICE",
        help="customer side: e.g. pulse:<sink>.monitor, or DEVICE#N (default: saved, else none)",
    )
    own.add_argument("--no-customer", action="store_true", help="capture only the agent")
    own.add_argument("--record", type=Path, metavar="DIR", help="save the call's event log (JSONL) in DIR")
    own.add_argument(
        "--record-audio",
        action="store_true",
        help="with --record: also save the call audio as a stereo WAV (agent left, customer right)",
    )
    own.add_argument("--seconds", type=_call_seconds, metavar="S", help="end the call after S seconds")
    own.add_argument("--no-save", action="store_true", help="do not save these choices as the new defaults")
    _command(
        sub,
        "live",
        _live_command,
        [RULES, MODELS, own, EVENTS, MASK, DEBUG],
        help="run a live call from the terminal: microphone + customer audio",
        description="Capture the agent's microphone and the customer's side (a monitor of the "
        "softphone's output, a second device, or one channel of a device) and print "
        "utterances and nudges as they happen. Ctrl-C ends the call. Device choices "
        "are saved and used next time.",
    )


def _devices_command(args: argparse.Namespace, con: Console) -> int:
    import json

    from ..capture import list_devices

    stdout = con.stdout
    devices = list_devices()
    if args.json:
        for dev in devices:
            stdout.write(json.dumps(dev.to_json()) + "\n")
        return ExitStatus.OK
    if not devices:
        stdout.write("no audio inputs found (no devices, or no audio server running)\n")
        return ExitStatus.OK
    for kind, title in (
        ("input", "inputs"),
        ("monitor", "monitors (what an output device plays: the customer's side)"),
    ):
        shown = [d for d in devices if d.kind == kind]
        if not shown:
            continue
        stdout.write(f"{title}:\n")
        for d in shown:
            mark = "*" if d.is_default else " "
            rate = f", {d.default_rate_hz:g} Hz" if d.default_rate_hz else ""
            desc = f"  ({d.description})" if d.description != d.name else ""
            stdout.write(f" {mark} {d.id}{desc}  [{d.host_api}, {d.channels} ch{rate}]\n")
    stdout.write("use: rapport-assist live --agent ID --customer ID   (ID#N picks channel N of a device)\n")
    return ExitStatus.OK


def _live_command(args: argparse.Namespace, con: Console) -> int:
    import threading
    from dataclasses import replace

    from ..capture import DeviceChoice, check_channel, check_sides, find_device, list_devices
    from ..errors import DeviceError
    from ..live import LiveCall, LiveEvent, LiveSettings
    from ..recognizer import RecognizerOptions
    from ..settings import load_choices, save_choices

    stdout, stderr = con.stdout, con.stderr
    saved = load_choices()
    if saved.problem:
        stderr.write(f"rapport-assist: warning: {saved.problem}\n")
    try:
        agent = DeviceChoice.parse(args.agent or saved.agent_device or "default")
        customer_text = None if args.no_customer else (args.customer or saved.customer_device)
        customer = DeviceChoice.parse(customer_text) if customer_text else None
    except ValueError as exc:
        raise UsageError(str(exc), "see 'rapport-assist devices'") from None
    check_sides(agent, customer)  # a setting error, whatever devices there are
    if args.out is not None:  # an output over an input: refused before devices are listed or choices saved
        refuse_overwrite(args.out, _rule_files(_rule_paths(args)))
    devices = list_devices()
    if not devices:
        raise DeviceError(
            "no audio input to capture from (no devices, or no audio server running)",
            "plug in a headset or start PulseAudio/PipeWire; to see the assistant without audio, "
            "run 'rapport-assist demo'",
        )
    for choice in (agent, customer):
        if choice is not None:
            # an unknown device, or a channel it does not have, is a usage problem: say so before starting
            check_channel(choice, find_device(choice, devices))
    record = args.record or (Path(saved.record_dir) if saved.record_dir else None)
    settings = LiveSettings(
        agent=agent,
        customer=customer,
        recognizer=_with_turn_pass(
            args,
            RecognizerOptions(
                model_dir=Path(args.model) if args.model else None,
                compute_type=args.compute_type,
                cpu_threads=args.threads,
            ),
        ),
        rule_paths=tuple(_rule_paths(args)),
        record_to=record,
        record_audio=args.record_audio or (saved.record_audio and args.record is None and record is not None),
        mask_digits=not args.no_mask and saved.mask_digits,  # personal data masked by the pipeline
    )
    if not args.no_save:
        try:
            save_choices(
                replace(
                    saved,
                    agent_device=str(agent),
                    customer_device=str(customer) if customer else None,
                    record_dir=str(record) if record else None,
                    record_audio=settings.record_audio,
                    model=args.model or saved.model,
                )
            )
        except RapportError as exc:
            stderr.write(f"rapport-assist: warning: {exc.one_line()}\n")
    sinks: list[EventSink] = [JsonlSink(stdout, "stdout") if args.format == "jsonl" else TextSink(stdout, "stdout")]
    out_handle = None
    if args.out is not None:
        try:
            out_handle = args.out.open("a", encoding="utf-8")
        except OSError as exc:
            raise OutputError(
                f"cannot create {args.out}: {exc.strerror}", "check the folder exists and is writable"
            ) from None
        sinks.append(JsonlSink(out_handle, str(args.out)))
    ended = threading.Event()
    failures: list[RapportError] = []

    def on_event(event: LiveEvent) -> None:
        from ..types import CallSummary, SpeechActivity

        if isinstance(event, SpeechActivity):  # speech-started marks are for the sidebar
            return
        for sink in sinks:
            try:
                sink.write(event)
            except RapportError as exc:
                failures.append(exc)
                ended.set()
        if isinstance(event, CallSummary):
            ended.set()

    call = LiveCall(settings)
    side = f"{agent}" + (f" + customer {customer}" if customer else " (agent only)")
    stderr.write(f"rapport-assist: live call: agent {side}; Ctrl-C ends the call\n")
    stderr.flush()
    call.start(on_event)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, lambda *_: ended.set())
    except ValueError:  # not the main thread (tests): Ctrl-C/--seconds only
        previous = None
    interrupted = False
    try:
        ended.wait(args.seconds if args.seconds is not None else None)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            call.stop()  # what was heard is still transcribed
        except KeyboardInterrupt:  # a second Ctrl-C: not the backlog, but the call record is still closed
            interrupted = True
            stderr.write(
                "rapport-assist: Ctrl-C again: what is not transcribed yet is skipped; closing the call record\n"
            )
            stderr.flush()
            call.skip_backlog()
            call.join()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if out_handle is not None:
            _close_quietly(out_handle)
    if call.log_path is not None:
        stderr.write(
            f"rapport-assist: call record: {call.log_path}" + (f" and {call.wav_path}" if call.wav_path else "") + "\n"
        )
    if failures:
        raise failures[0]
    if interrupted:
        raise KeyboardInterrupt  # (exit 130: everything printed so far is complete)
    return ExitStatus.OK


def _close_quietly(handle: IO[str]) -> None:
    """Close an output file; a failed final flush was already reported by the sink that hit it."""
    try:
        handle.close()
    except OSError:
        pass
