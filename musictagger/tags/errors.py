"""Errors of the tag layer. Each names the file and says what went wrong in one line."""

from __future__ import annotations

import os

from musictagger.errors import MusictaggerError


class TagReadError(MusictaggerError):
    """A file's tags could not be read: missing, unreadable, not audio, or a container we do not handle."""

    def __init__(self, path: str | os.PathLike, cause: str):
        self.path = os.fspath(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class TagWriteError(MusictaggerError):
    """Tags were not written. The file on disk is exactly as it was before the attempt."""

    def __init__(self, path: str | os.PathLike, cause: str):
        self.path = os.fspath(path)
        self.cause = cause
        super().__init__(f"{self.path}: tags not written, file left unchanged: {cause}")
