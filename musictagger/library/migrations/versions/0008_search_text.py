"""Each track's searched text stored folded (issue 15; library/search_text.py, docs/scale.md).

Revision ID: 0008_search_text
Revises: 0007_label_facets
Create Date: 2026-12-03

``tracks.search_text``: path, title, artist and album folded as the search folds them, kept by triggers,
so a search reads one column instead of folding four per row (in Python, on SQLite) at every query. On
SQLite, ``ix_tracks_search`` (search_text, id): a search scans it, not the rows.
This step adds the column and the index; ``db._migrate`` fills the column and makes the triggers after the
upgrade (``search_text.refresh``: one fold per track, once: tens of seconds on a million tracks).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_search_text"
down_revision = "0007_label_facets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tracks", sa.Column("search_text", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_tracks_search", "tracks", ["search_text", "id"])


def downgrade() -> None:
    from musictagger.library.search_text import drop_triggers

    drop_triggers(op.get_bind())
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_tracks_search", "tracks")
    # A plain DROP COLUMN (SQLite 3.35+): batch mode would rebuild the table the other triggers name.
    op.execute("ALTER TABLE tracks DROP COLUMN search_text")
