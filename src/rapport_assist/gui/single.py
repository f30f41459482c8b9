"""One sidebar per user and settings: a second start hands its request to the panel already open
and ends, instead of opening a second panel that would load a second speech model and, on a
live call, nudge twice. (The menu entry and the one opened at login, ``launcher.py``, make a
second start easy.)

The open panel listens on a local socket (QLocalServer: a Unix socket, a named pipe on Windows),
named from the user and the settings file, so a test's or a screenshot's own ``--settings`` is a
panel of its own. On Unix the socket is in ``$XDG_RUNTIME_DIR`` (the session's folder, this
user's alone), not in the shared temporary folder, where another user could put a socket of the
same name first (the name is predictable), be asked instead of the panel, read the calls' paths
and keep the sidebar from opening; without a private ``$XDG_RUNTIME_DIR`` the temporary folder
is the fallback. A start first tries to reach one; if nothing takes the connection, it listens
itself. A socket left by a panel that crashed refuses connections and is replaced; one that takes
them belongs to a live panel, maybe one still loading (it answers from its event loop, which runs
only once the window is up), and is never replaced: replacing it would open a second panel, and
orphan the first one's socket.

A request is one line of JSON, ``{"qa": PATH}``, ``{"demo": true}`` or ``{}``; the panel answers one line, what it
did, which the second start prints.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import QCoreApplication, QDir, QLockFile, QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from ..settings import settings_path as default_settings

CONNECT_MS = 1500
# a panel still loading (spaCy, the rules: seconds, more at login on a busy machine) answers
# once its event loop runs
REPLY_MS = 30000
LOCK_MS = 3000
WAIT_STEP_MS = 200
NO_ANSWER = "it did not answer in time (still starting, or not responding)"


def server_name(settings_path: Path | None) -> str:
    """The socket's name: this user's, for these settings (the default ones when None: the file in
    today's config folder, so a start with another ``$XDG_CONFIG_HOME`` is a panel of its own and
    an explicit ``--settings`` naming the default file is the same panel); a path in
    ``$XDG_RUNTIME_DIR`` when that is private."""
    where = str((settings_path or default_settings()).resolve())
    # the uid on Unix: getpass.getuser() raises there for a uid with no passwd entry and no $USER
    # (a container's user); Windows' has $USERNAME
    user = str(os.getuid()) if hasattr(os, "getuid") else getpass.getuser()
    digest = hashlib.sha256(f"{user}\0{where}".encode()).hexdigest()[:16]
    name = f"rapport-assist-{digest}"
    folder = _private_folder()
    return str(Path(folder) / name) if folder else name


def _private_folder() -> str | None:
    """``$XDG_RUNTIME_DIR`` when it is set and this user's alone (owned by them, mode 0700, as the
    Base Directory spec requires), else None (and on Windows, whose named pipes have no folder)."""
    folder = os.environ.get("XDG_RUNTIME_DIR")
    if not folder or os.name == "nt" or not Path(folder).is_absolute():
        return None
    try:
        st = os.stat(folder)
    except OSError:
        return None
    mine = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077
    return folder if mine else None


def request_for(qa: Path | None, demo: bool) -> dict:
    """What a start asks of the open panel: review ``qa`` (absolute: the panel has its own
    working folder), or the demo call, or only to show itself."""
    return {"qa": str(qa.resolve())} if qa is not None else {"demo": True} if demo else {}


def call_named(request: dict) -> str:
    """The call a start's request (``request_for``) asks the panel to review, by name; "" for none."""
    if isinstance(request.get("qa"), str):
        return Path(request["qa"]).name
    return "the demo call" if request.get("demo") else ""


def already_open(answer: str, not_handed_over: Sequence[str] = ()) -> str:
    """What a second start says: the open panel's answer, and the options it did not take."""
    kept = f"; not applied there: {', '.join(not_handed_over)} (close it, then start it again with them)"
    return f"the sidebar is already open: {answer}" + (kept if not_handed_over else "")


def hand_over(name: str, request: dict) -> str | None:
    """Give ``request`` to the panel listening on ``name``: what it answered, or None when no
    panel is open there (nothing takes the connection). A panel that takes it but does not answer
    within ``REPLY_MS`` is still a panel: ``NO_ANSWER``. Needs no QApplication, so a second start
    can ask before it loads the GUI (0.1 s instead of 1 s)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return None
    socket.write((json.dumps(request) + "\n").encode())
    socket.flush()
    answer = b""
    deadline = time.monotonic() + REPLY_MS / 1000
    # short waits: Ctrl-C is handled between them (Qt's wait holds the interpreter until it ends)
    while not answer.endswith(b"\n") and time.monotonic() < deadline:
        if socket.waitForReadyRead(WAIT_STEP_MS):
            answer += bytes(socket.readAll().data())
        elif socket.state() != QLocalSocket.LocalSocketState.ConnectedState:
            break  # the panel went away
    socket.disconnectFromServer()
    return answer.decode(errors="replace").strip() or NO_ANSWER


def _socket_path(name: str) -> str:
    """Where QLocalServer puts ``name`` (a name without a folder goes in the temporary folder)."""
    return name if Path(name).is_absolute() else QDir(QDir.tempPath()).filePath(name)


def _taken(name: str) -> bool:
    """Whether a live panel listens on ``name`` (it takes a connection; a crashed one's socket
    refuses it)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    live = socket.waitForConnected(CONNECT_MS)
    socket.abort()
    return live


class Listener(QObject):
    """The open panel's end: each request goes to ``handler``, whose answer goes back."""

    def __init__(self, name: str, handler: Callable[[dict], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.handler = handler
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        self.taken = False  # listen() found another panel listening on the name
        # once the event loop has ended nothing answers: a start while the panel finishes (the
        # last call's recognition, seconds) finds no panel and opens one, instead of waiting
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.server.close)

    def listen(self) -> bool:
        """Listen on the name; a socket a crashed panel left is replaced. False if it cannot, or
        if another panel listens there (``taken``: one that started at the same time).

        Checked first, under a lock file beside the socket, since with ``UserAccessOption``
        ``QLocalServer.listen`` binds in a temporary folder and renames the socket into place,
        silently over a live panel's socket."""
        lock = QLockFile(_socket_path(self.name) + ".lock")
        locked = lock.tryLock(LOCK_MS)  # without it (a lock file not ours): checked all the same
        try:
            if _taken(self.name):
                self.taken = True
                return False
            if self.server.listen(self.name):
                return True
            QLocalServer.removeServer(self.name)  # a crashed panel's: it refuses connections
            return self.server.listen(self.name)
        finally:
            if locked:
                lock.unlock()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        try:
            request = json.loads(bytes(socket.readLine().data()).decode())
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            socket.write(b"not understood\n")
            socket.flush()
            return
        socket.write((self.handler(request) + "\n").encode())
        socket.flush()
