"""Ids in lists short enough for one ``IN (...)``: SQLite bounds the parameters of one statement (999 on
builds before 3.32), and PostgreSQL plans a long list no better than several short ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

ID_CHUNK = 500

_Ids = TypeVar("_Ids")  # a list, tuple or numpy array of ids: anything sliceable with a length


def id_chunks(ids: _Ids) -> Iterator[_Ids]:
    """``ids`` in consecutive slices of at most ``ID_CHUNK``, in order."""
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]
