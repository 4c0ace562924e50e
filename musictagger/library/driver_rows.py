"""The database driver's own rows for a statement SQLAlchemy compiled, a chunk at a time.

For the few reads that fetch hundreds of thousands of rows (the table's ids, a rescan's index) SQLAlchemy's
row objects cost more than the query: on a million ids 2.5 s against the driver's 0.55 s on PostgreSQL
(docs/scale.md). Reading ``chunk`` rows at a time (``fetchmany``) also lets other threads, the GUI's
included, take the GIL between chunks, where one ``fetchall`` keeps it for the whole read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.orm import Session

CHUNK = 10_000


def driver_rows(
    session: Session, statement: Executable, parameters: dict[str, Any] | None = None, chunk: int = CHUNK
) -> Iterator[Sequence[Any]]:
    """The rows of ``statement`` (with its bound ``parameters``) as the driver gives them (plain tuples:
    no type processing, so a column reads as the driver returns it), ``chunk`` rows per list, in the
    session's transaction."""
    result = session.connection().execute(statement, parameters)
    try:
        while rows := result.cursor.fetchmany(chunk):
            yield rows
    finally:
        result.close()
