"""The user's accept / edit / reject decisions per track and field (schema.TrackReview; schema_version 2).

Revision ID: 0002_track_reviews
Revises: 0001_initial_schema
Create Date: 2026-01-01

Indexes made by releases before Alembic carry ``meta.schema_version`` = 2 for this schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_track_reviews"
down_revision = "0001_initial_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "track_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("track_id", "field"),
    )
    op.create_index("ix_track_reviews_track_id", "track_reviews", ["track_id"])


def downgrade() -> None:
    op.drop_table("track_reviews")
