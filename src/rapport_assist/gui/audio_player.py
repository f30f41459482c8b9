"""Audio under a QA review, where the platform has it (Qt Multimedia from PySide6-Addons).

The review's clock leads; the player follows it (``follow`` every tick): it plays at the
review's speed, pauses with it, jumps when it drifts or the timeline is seeked, and stays
silent at "max". Without Qt Multimedia the review runs silently and the panel says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..sources import TRANSCRIPT_SUFFIXES
from ..types import Status

DRIFT_S = 0.35


@dataclass
class SilentPlayer:
    note: Status
    available: bool = False

    def follow(self, now_s: float, playing: bool, speed: float) -> None:
        pass

    def stop(self) -> None:
        pass


class QtPlayer:
    available = True
    note = None

    def __init__(self, path: Path) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

        self._player = QMediaPlayer()
        self._output = QAudioOutput()
        self._player.setAudioOutput(self._output)
        self._player.setSource(QUrl.fromLocalFile(str(path)))
        self._playing_state = QMediaPlayer.PlaybackState.PlayingState

    def follow(self, now_s: float, playing: bool, speed: float) -> None:
        player = self._player
        if not playing or math.isinf(speed):
            if player.playbackState() == self._playing_state:
                player.pause()
            return
        if player.playbackRate() != speed:
            player.setPlaybackRate(speed)
        if abs(player.position() / 1000.0 - now_s) > DRIFT_S * speed:
            player.setPosition(int(now_s * 1000))
        if player.playbackState() != self._playing_state:
            player.play()

    def stop(self) -> None:
        self._player.stop()


def open_player(path: Path) -> QtPlayer | SilentPlayer | None:
    """A player for a recording (None for a transcript: nothing to hear)."""
    if path.suffix.lower() in TRANSCRIPT_SUFFIXES:
        return None
    try:
        from PySide6 import QtMultimedia  # noqa: F401  (PySide6-Addons)
    except ImportError:
        return SilentPlayer(Status("info", "audio_playback_unavailable",
                                   "Reviewing without sound: audio playback needs Qt Multimedia "
                                   "(pip install PySide6-Addons).", 0.0))
    try:
        return QtPlayer(path)
    except Exception as exc:  # no audio output on this machine
        return SilentPlayer(Status("info", "audio_playback_unavailable", f"Reviewing without sound: {exc}", 0.0))
