"""A label's tracks in id order, for the table's filter on several labels (issue 15; docs/scale.md).

Revision ID: 0011_label_filter_index
Revises: 0010_search_trigrams
Create Date: 2026-12-04

``ix_track_labels_by_label`` (label, confident, track_id, category): a genre + mood filter is the
INTERSECT of each label's confident tracks; ordered by track id, SQLite merges the two index ranges
instead of building a temporary B-tree of each (on a million tracks, about 300,000 ids a label).
"""

from __future__ import annotations

from alembic import op

revision = "0011_label_filter_index"
down_revision = "0010_search_trigrams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_track_labels_by_label", "track_labels", ["label", "confident", "track_id", "category"]
    )


def downgrade() -> None:
    op.drop_index("ix_track_labels_by_label", "track_labels")
