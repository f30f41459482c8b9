"""``launcher``: the sidebar in the desktop's application menu, and opened at login if wanted
(``launcher.py``: XDG desktop entries; Linux desktops)."""

from __future__ import annotations

import argparse

from .. import launcher
from .common import Console
from .parser import DEBUG, _block, _command, _Parser


def _add_launcher_parser(sub: argparse._SubParsersAction) -> None:
    """Add the command ``launcher`` and its actions."""
    p = sub.add_parser(
        "launcher",
        help="put the sidebar in the desktop's application menu, and open it at login if wanted",
        description="Put Rapport Assist in the desktop's application menu (an XDG desktop entry that "
        "runs this install's 'rapport-assist sidebar'), and with --at-login open the sidebar each time "
        "you log in. Linux desktops. 'launcher status' says what is there now.",
    )
    actions = p.add_subparsers(dest="launcher_command", metavar="ACTION", parser_class=_Parser)
    own = _block()
    own.add_argument("--at-login", action="store_true", help="also open the sidebar each time you log in")
    _command(
        actions,
        "install",
        _install,
        [own, DEBUG],
        help="add Rapport Assist to the application menu (again after the checkout moved)",
    )
    own = _block()
    own.add_argument(
        "--at-login", action="store_true", help="only stop opening it at login; keep it in the application menu"
    )
    _command(actions, "remove", _remove, [own, DEBUG], help="take Rapport Assist out of the menu and the login")
    _command(actions, "status", _status, [DEBUG], help="whether it is in the menu and opens at login, and what it runs")


def _install(args: argparse.Namespace, con: Console) -> int:
    written = launcher.install(at_login=args.at_login)
    where = launcher.places()
    out = con.stdout
    out.write(f"Rapport Assist is in the application menu: {where.menu}\n")
    if where.login in written:
        out.write(f"The sidebar opens each time you log in: {where.login}\n")
    out.write(f"{'Both run' if len(written) > 1 else 'It runs'}: {launcher.exec_line(launcher.program())}\n")
    return 0


def _remove(args: argparse.Namespace, con: Console) -> int:
    removed = launcher.remove(login_only=args.at_login)
    for path in removed:
        con.stdout.write(f"removed {path}\n")
    if not removed:
        con.stdout.write(
            "nothing to remove: " + ("it does not open at login\n" if args.at_login else "no entry found\n")
        )
    return 0


def _status(args: argparse.Namespace, con: Console) -> int:
    where = launcher.places()
    for label, path in (("application menu", where.menu), ("at login", where.login)):
        entry = launcher.find(path)
        if not entry.exists:
            con.stdout.write(f"{label}: no ({path} does not exist)\n")
        elif entry.off:
            con.stdout.write(
                f"{label}: no ({path} is switched off in the desktop's settings; "
                f"'rapport-assist launcher install{' --at-login' if path == where.login else ''}' switches it on)\n"
            )
        elif entry.stale:
            con.stdout.write(
                f"{label}: broken — {path} runs {entry.program}, which no longer exists; "
                "run 'rapport-assist launcher install' from this install to write it again\n"
            )
        elif entry.ours:
            con.stdout.write(f"{label}: yes ({path}, runs this install)\n")
        else:
            con.stdout.write(
                f"{label}: yes ({path}), but it runs {entry.program or 'an unreadable command'}, not this install\n"
            )
    return 0
