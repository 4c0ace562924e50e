"""The app's settings: ``settings.toml`` (musictagger/settings.py), the one file the command line reads too.

    prefs = AppSettings()                    # the user's settings.toml (MUSICTAGGER_CONFIG_DIR moves it)
    prefs.device, prefs.models, prefs.theme  # what the window starts with
    policy = prefs.write_policy()            # a WritePolicy for the write dialog
    selection = prefs.selection_policy()     # a SelectionPolicy for the suggestions shown
    prefs.save(prefs.current.replace(display={"cap": 5}))

Only the window's own layout (geometry, dock state, last folder) stays in QSettings, which MainWindow keeps
itself. AppSettings re-reads the file whenever it changed on disk (the Settings dialog saved it, or the user
edited it by hand), so every reader sees the same settings without being told.
"""

from __future__ import annotations

import os
from pathlib import Path

from musictagger.library.policy import WritePolicy
from musictagger.settings import THEMES, Settings, load_settings, save_settings, settings_path
from musictagger.taxonomy import SelectionPolicy

# The devices the Settings dialog offers (settings.toml also takes cuda:N, shown there when set).
DEVICES = ("auto", "cpu", "cuda", "mps")


class AppSettings:
    """A live view of one settings file (default: the user's settings.toml)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self._path = Path(path) if path is not None else None
        self._stamp: tuple[int, int] | None = None
        self._current = Settings()
        self._loaded = False

    @property
    def path(self) -> Path:
        return self._path if self._path is not None else settings_path()

    @property
    def current(self) -> Settings:
        """The file's settings, read again when it changed since the last read (size or mtime)."""
        stamp = _stamp(self.path)
        if not self._loaded or stamp != self._stamp:
            self._current = load_settings(self.path)
            self._stamp, self._loaded = stamp, True
        return self._current

    def save(self, settings: Settings) -> None:
        save_settings(settings, self.path)
        self._current, self._stamp, self._loaded = settings, _stamp(self.path), True

    # -- what the window and the dialogs take --------------------------------------------------------------

    @property
    def device(self) -> str:
        return self.current.analysis.device

    @property
    def models(self) -> list[str] | None:
        """The models to run; None means every model shipped."""
        models = self.current.analysis.models
        return None if models is None else list(models)

    @property
    def theme(self) -> str:
        return self.current.display.theme

    def write_policy(self) -> WritePolicy:
        return self.current.write_policy()

    def selection_policy(self) -> SelectionPolicy:
        return self.current.selection_policy()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


__all__ = ["DEVICES", "THEMES", "AppSettings"]
