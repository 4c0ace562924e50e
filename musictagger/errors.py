"""Errors a user can act on. Each names the file and the cause in one line."""

from __future__ import annotations

import os


class MusictaggerError(Exception):
    """Base of every error the CLI and GUI report per file instead of crashing."""


class AudioLoadError(MusictaggerError):
    """A file could not be decoded to audio: missing, unreadable, corrupt, truncated or not audio."""

    def __init__(self, path: str | os.PathLike, cause: str):
        self.path = os.fspath(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class ModelError(MusictaggerError):
    """A model folder is missing, incomplete or does not match its card."""
