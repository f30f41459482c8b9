"""One sidebar per user and settings: a second start hands its request to the panel already open
and ends, instead of opening a second panel that would load a second speech model and, on a
live call, nudge twice. (The menu entry and the one opened at login, ``launcher.py``, make a
second start easy.)

The open panel listens on a local socket (QLocalServer: a Unix socket, a named pipe on Windows),
named from the user and the settings file, so a test's or a screenshot's own ``--settings`` is a
panel of its own. A start first tries to reach one; if nothing answers, it listens itself. A
socket left by a panel that crashed answers nothing and is replaced.

A request is one line of JSON, ``{"qa": PATH}``, ``{"demo": true}`` or ``{}``; the panel answers one line, what it
did, which the second start prints.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_MS = 1500
REPLY_MS = 5000


def server_name(settings_path: Path | None) -> str:
    """The socket's name: this user's, for these settings (the default ones when None)."""
    where = str(settings_path.resolve()) if settings_path is not None else "default"
    digest = hashlib.sha256(f"{getpass.getuser()}\0{where}".encode()).hexdigest()[:16]
    return f"rapport-assist-{digest}"


def request_for(qa: Path | None, demo: bool) -> dict:
    """What a start asks of the open panel: review ``qa`` (absolute: the panel has its own
    working folder), or the demo call, or only to show itself."""
    return {"qa": str(qa.resolve())} if qa is not None else {"demo": True} if demo else {}


def hand_over(name: str, request: dict) -> str | None:
    """Give ``request`` to the panel listening on ``name``: what it answered, or None when no
    panel is open there (or it does not answer). Needs no QApplication, so a second start can
    ask before it loads the GUI (0.1 s instead of 1 s)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return None
    socket.write((json.dumps(request) + "\n").encode())
    socket.flush()
    answer = b""
    while not answer.endswith(b"\n") and socket.waitForReadyRead(REPLY_MS):
        answer += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return answer.decode(errors="replace").strip() or None


class Listener(QObject):
    """The open panel's end: each request goes to ``handler``, whose answer goes back."""

    def __init__(self, name: str, handler: Callable[[dict], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.handler = handler
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        """Listen on the name; a socket a crashed panel left is replaced. False if it cannot."""
        if self.server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)  # nothing answered on it (hand_over came first)
        return self.server.listen(self.name)

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
