"""``sidebar``: open the agent-assist window; with no display (or no Qt), replay the call it would
have opened in the terminal instead."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..bundled import DEMO_AUDIO as DEMO_CALL
from ..errors import ExitStatus, InputNotFound
from ..fileio import refuse_overwrite
from .common import Console, _masking, _rule_files, _rule_paths, _turn_pass
from .parser import DEBUG, MASK, MODELS, RULES, TRANSCRIPTS, _block, _command, _events_parent
from .replay import _replay


def _add_sidebar_parser(sub: argparse._SubParsersAction) -> None:
    """Add the command ``sidebar``."""
    own = _block()
    own.add_argument(
        "--qa",
        type=Path,
        metavar="FILE",
        help="review this recording or transcript (.jsonl, .txt, .json, .vtt, .srt) in QA mode "
        "(without a display: replay it in the terminal)",
    )
    own.add_argument("--demo", action="store_true", help="review the bundled demo call right away")
    own.add_argument("--speed", choices=("1", "2", "4", "max"), help="QA replay speed (default: the last one used)")
    own.add_argument("--style", choices=("light", "dark"), help="colour style (default: the saved one, else light)")
    own.add_argument(
        "--hotkeys",
        choices=("on", "off"),
        help="system-wide hotkeys that act on the newest card from any application, also during a call "
        "(Ctrl+Alt+J dismiss, P snooze, H helpful, W wrong; change them in Settings): on or off for this "
        "session (default: the saved setting, else off; X11 and Windows only)",
    )
    own.add_argument("--settings", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    own.add_argument(
        "--feedback",
        type=Path,
        metavar="FILE",
        help="feedback log (default: feedback.jsonl in $RAPPORT_ASSIST_DATA or ~/.local/share/rapport-assist)",
    )
    own.add_argument("--exit-when-ready", action="store_true", help=argparse.SUPPRESS)  # bench/sidebar_startup.py
    events = _events_parent(
        "— only without a display, where the call (--qa FILE, else the demo call) replays in the terminal"
    )
    parser = _command(
        sub,
        "sidebar",
        _sidebar,
        [RULES, MODELS, own, TRANSCRIPTS, events, MASK, DEBUG],
        help="open the sidebar (live calls; QA review of recordings and transcripts)",
        description="Open the agent-assist sidebar. With no microphone it offers the bundled demo "
        "call for review. With no display it replays the --qa FILE in the terminal (as 'replay FILE'), "
        "or the demo call when no file is named. Ctrl-C in its terminal closes it (exit 130).",
    )
    options = {
        a.dest: (a.option_strings[-1], a.default)
        for a in parser._actions
        if a.option_strings and a.dest not in HANDED_OVER and a.dest != "help"
    }
    parser.set_defaults(sidebar_options=options)  # what _not_handed_over compares with


def _sidebar(args: argparse.Namespace, con: Console) -> int:
    """Open the sidebar; with no display (or no Qt) say so and replay the call of --qa, else the demo
    call, in the terminal."""
    from ..sources import ReplayInput

    if args.qa is not None and not args.qa.exists():
        raise InputNotFound(f"{args.qa} does not exist", "check the path of the recording or transcript")
    if args.feedback is not None:  # the feedback log is appended to: never an input
        refuse_overwrite(args.feedback, [args.qa, *_rule_files(_rule_paths(args))], "--feedback")
    if args.out is not None:  # written when the call replays in the terminal: never an input either
        refuse_overwrite(args.out, [args.qa, *_rule_files(_rule_paths(args))])
    stdout, stderr, environ = con.stdout, con.stderr, con.environ
    display = bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY") or environ.get("QT_QPA_PLATFORM"))
    reason = "" if display else "no display found ($DISPLAY and $WAYLAND_DISPLAY are not set)"
    if display:
        try:
            from ..gui import single
        except ImportError as exc:
            reason = f"the sidebar cannot load Qt ({exc}); run 'make setup'"
        else:
            # a panel already open for these settings takes the request (gui/single.py), before
            # this start loads the GUI
            answer = single.hand_over(single.server_name(args.settings), single.request_for(args.qa, args.demo))
            if answer is not None:
                stderr.write(f"rapport-assist: {single.already_open(answer, _not_handed_over(args))}\n")
                return ExitStatus.OK
        try:
            from ..gui.app import SidebarOptions, parse_speed, run_sidebar
        except ImportError as exc:
            reason = reason or f"the sidebar cannot load Qt ({exc}); run 'make setup'"
    if reason:
        # the call the window would have opened: the one named by --qa (as 'replay FILE' reads it), else the demo
        what = f"{args.qa}" if args.qa is not None else f"the bundled demo call ({DEMO_CALL.name})"
        stderr.write(
            f"rapport-assist: {reason}, so the sidebar cannot open — replaying {what} in the terminal instead\n"
        )
        stderr.flush()
        spec = (
            ReplayInput(path=args.qa, speaker_map=args.speaker_map)
            if args.qa is not None
            else ReplayInput(path=DEMO_CALL)
        )
        return _replay(args, spec, stdout, stderr)
    options = SidebarOptions(
        rules=_rule_paths(args),
        qa=args.qa,
        demo=args.demo,
        speed=parse_speed(args.speed) if args.speed else None,
        style=args.style,
        hotkeys=None if args.hotkeys is None else args.hotkeys == "on",
        model_dir=Path(args.model) if args.model else None,
        compute_type=args.compute_type,
        threads=args.threads,
        turn_pass=bool(_turn_pass(args)),
        exit_when_ready=args.exit_when_ready,
        settings_path=args.settings,
        feedback_path=args.feedback,
        mask=_masking(args),
        speaker_map=args.speaker_map,
        not_handed_over=_not_handed_over(args),
    )
    return run_sidebar(options, stdout, stderr)


# what a second start hands to the panel already open: the call to review (and the settings file
# and --debug, which choose and describe this start); every other option given stays behind
HANDED_OVER = {"qa", "demo", "settings", "debug"}


def _not_handed_over(args: argparse.Namespace) -> list[str]:
    """The options given on this start (not at their defaults) that the open panel will not take,
    by their flags, in --help order."""
    return [flag for dest, (flag, default) in args.sidebar_options.items() if getattr(args, dest, default) != default]
