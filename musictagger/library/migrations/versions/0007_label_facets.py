"""Facet counts kept by triggers (issue 15; library/facet_counts.py, docs/scale.md).

Revision ID: 0007_label_facets
Revises: 0006_query_indexes
Create Date: 2026-12-03

``label_facets`` (category, label, tracks): how many present tracks have each label confidently, kept by
triggers on ``track_labels`` and ``tracks``, so the app's facets read a few dozen rows instead of counting
millions. This step makes the table; ``db._migrate`` fills it and makes the triggers after the upgrade
(``facet_counts.recount``: migrations run without the triggers). Filling takes one GROUP BY over the
confident labels (about as long as one facet count took before: seconds on a million tracks, once).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from musictagger.library.facet_counts import drop_triggers

revision = "0007_label_facets"
down_revision = "0006_query_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_facets",
        sa.Column("category", sa.String(32), primary_key=True),
        sa.Column("label", sa.String(128), primary_key=True),
        sa.Column("tracks", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    drop_triggers(op.get_bind())
    op.drop_table("label_facets")
