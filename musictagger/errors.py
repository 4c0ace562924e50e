"""Errors a user can act on. Each names the file and the cause in one line."""

from __future__ import annotations

import os


class MusictaggerError(Exception):
    """Base of every error the CLI and GUI report per file instead of crashing."""


class FileError(MusictaggerError):
    """Something went wrong with one file: ``path`` names it, ``cause`` says why in a few words.

    Batches report these per file and go on; ``str()`` is the one line a user sees.
    """

    def __init__(self, path: str | os.PathLike, cause: str, *, summary: str | None = None):
        self.path = os.fspath(path)
        self.cause = cause
        super().__init__(f"{self.path}: {summary + ': ' if summary else ''}{cause}")


class AudioLoadError(FileError):
    """A file could not be decoded to audio: missing, unreadable, corrupt, truncated or not audio."""


class ModelError(MusictaggerError):
    """A model folder is missing, incomplete or does not match its card."""
