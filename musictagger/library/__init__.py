"""The library index: every track, what the models heard in it, and a journal of every tag write."""

from musictagger.library.db import Library, LibraryError, default_url, open_library
from musictagger.library.schema import Analysis, Track, TrackLabel, WriteBatch, WriteEntry

__all__ = [
    "Analysis",
    "Library",
    "LibraryError",
    "Track",
    "TrackLabel",
    "WriteBatch",
    "WriteEntry",
    "default_url",
    "open_library",
]
