"""Playback through Qt Multimedia, or a stand-in that says why there is none.

Qt Multimedia links against PulseAudio's client library; on a machine without ``libpulse.so.0`` (Debian
package ``libpulse0``) the import itself fails. The app must still analyse and explain tracks there, so
the import is tried once and a failure becomes ``Player.unavailable_reason`` instead of a crash.
"""

from __future__ import annotations

import os
from functools import cache

from PySide6.QtCore import QObject, QUrl, Signal


@cache
def _multimedia():
    """(QtMultimedia module, None) or (None, why it cannot be used)."""
    if os.environ.get("MUSICTAGGER_NO_AUDIO"):
        return None, "Playback is turned off (MUSICTAGGER_NO_AUDIO is set)."
    try:
        from PySide6 import QtMultimedia
    except ImportError as exc:
        return None, (
            f"Playback unavailable: Qt Multimedia could not load ({exc}). "
            "On Debian/Ubuntu install the 'libpulse0' package."
        )
    return QtMultimedia, None


class Player(QObject):
    position_changed = Signal(float)  # seconds
    playing_changed = Signal(bool)
    error = Signal(str)

    def __init__(self, parent: QObject | None = None, *, enabled: bool = True):
        super().__init__(parent)
        module, reason = _multimedia() if enabled else (None, "Playback is turned off.")
        self.unavailable_reason: str | None = reason
        self._player = None
        self._position_s = 0.0
        if module is None:
            return
        self._audio_output = module.QAudioOutput(self)
        self._player = module.QMediaPlayer(self)
        self._player.setAudioOutput(self._audio_output)
        self._playing_state = module.QMediaPlayer.PlaybackState.PlayingState
        self._player.positionChanged.connect(self._on_position)
        self._player.playbackStateChanged.connect(
            lambda state: self.playing_changed.emit(state == self._playing_state)
        )
        self._player.errorOccurred.connect(lambda _code, message: self.error.emit(message))

    @property
    def available(self) -> bool:
        return self._player is not None

    def is_playing(self) -> bool:
        return self.available and self._player.playbackState() == self._playing_state

    def set_source(self, path: str | None) -> None:
        self._position_s = 0.0
        if self._player is not None:
            self._player.stop()
            self._player.setSource(QUrl.fromLocalFile(path) if path else QUrl())
        self.position_changed.emit(0.0)

    def toggle(self) -> None:
        if self._player is None:
            return
        if self.is_playing():
            self._player.pause()
        else:
            self._player.play()

    def stop(self) -> None:
        if self._player is not None:
            self._player.stop()

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds``; without a backend the playhead still moves, so seeking stays visible."""
        self._position_s = max(0.0, seconds)
        if self._player is not None:
            self._player.setPosition(int(self._position_s * 1000))
        self.position_changed.emit(self._position_s)

    def position_seconds(self) -> float:
        return self._position_s

    def _on_position(self, milliseconds: int) -> None:
        self._position_s = milliseconds / 1000
        self.position_changed.emit(self._position_s)
