"""Errors of the tag layer. Each names the file and says what went wrong in one line."""

from __future__ import annotations

import os

from musictagger.errors import FileError


class TagReadError(FileError):
    """A file's tags could not be read: missing, unreadable, not audio, or a container we do not handle."""


class TagWriteError(FileError):
    """Tags were not written. The file on disk is exactly as it was before the attempt."""

    def __init__(self, path: str | os.PathLike, cause: str):
        super().__init__(path, cause, summary="tags not written, file left unchanged")
