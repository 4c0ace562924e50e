"""Indexes for a million-track index (issue 15; numbers and plans in docs/scale.md).

Revision ID: 0006_query_indexes
Revises: 0005_analysis_sampled
Create Date: 2026-12-03

- ``ix_track_labels_facets`` (category, confident, label, score, track_id): the facet counts read this
  index alone, label by label, instead of every label row and its track.
- ``ix_tracks_title_order``, ``ix_tracks_artist_order``, ``ix_tracks_bpm_order``: (column, path, id,
  missing_since) of the present tracks (partial: ``missing_since IS NULL``, what the table and ``list``
  show; missing_since, all NULL there, so that SQLite sees the index covers the query). A page sorted by
  title, artist or BPM is read in index order, ties by path and id as queries.py orders them, and stops
  after the page instead of sorting every track; the table's ordered ids of every track come from the
  index alone, no row visited (docs/scale.md).
- ``ix_tracks_missing``: the ids of missing tracks, a partial index (only rows with ``missing_since``), so
  the facet counts leave them out without joining every label to its track, and a query for present
  tracks ("missing_since IS NULL") never takes it over a sort index.

Nothing else changes: building them on an existing index takes seconds per 100,000 tracks, once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_query_indexes"
down_revision = "0005_analysis_sampled"
branch_labels = None
depends_on = None

_PRESENT = sa.text("missing_since IS NULL")
_MISSING = sa.text("missing_since IS NOT NULL")
_INDEXES = (
    ("ix_track_labels_facets", "track_labels", ["category", "confident", "label", "score", "track_id"], None),
    ("ix_tracks_title_order", "tracks", ["title", "path", "id", "missing_since"], _PRESENT),
    ("ix_tracks_artist_order", "tracks", ["artist", "path", "id", "missing_since"], _PRESENT),
    ("ix_tracks_bpm_order", "tracks", ["bpm", "path", "id", "missing_since"], _PRESENT),
    ("ix_tracks_missing", "tracks", ["id"], _MISSING),
)


def upgrade() -> None:
    for name, table, columns, where in _INDEXES:
        op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, table, _columns, _where in reversed(_INDEXES):
        op.drop_index(name, table)
