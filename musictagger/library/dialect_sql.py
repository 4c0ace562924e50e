"""Raw SQL written once per engine (the triggers that keep derived tables), run on the connection's own."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection


def execute_for_dialect(connection: Connection, *, sqlite: Sequence[str], postgresql: Sequence[str]) -> None:
    """Run, in order, the statements written for the connection's engine."""
    for statement in postgresql if connection.dialect.name == "postgresql" else sqlite:
        connection.execute(text(statement))
