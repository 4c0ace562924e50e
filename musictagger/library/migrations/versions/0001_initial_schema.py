"""Initial schema: tracks, analyses, track labels, write batches and entries (release 1, schema_version 1).

Revision ID: 0001_initial_schema
Revises:
Create Date: 2026-01-01

Indexes made by releases before Alembic carry ``meta.schema_version`` = 1 for this schema; db.py stamps
them with this revision. A brand-new index is created from the models and stamped head instead, so this
step runs only when the whole chain is replayed on an empty database (tests check that the chain ends
where the models are).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial_schema"
down_revision = None
branch_labels = None
depends_on = None

# 64-bit sizes and nanosecond mtimes on PostgreSQL (INTEGER is 32-bit there); INTEGER, as released, on SQLite.
_BIG_INTEGER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "tracks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path_key", sa.LargeBinary(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("size", _BIG_INTEGER, nullable=False),
        sa.Column("mtime_ns", _BIG_INTEGER, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("container", sa.String(length=16), nullable=True),
        sa.Column("codec", sa.String(length=32), nullable=True),
        sa.Column("file_tags", sa.JSON(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("artist", sa.Text(), nullable=True),
        sa.Column("album", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.Column("missing_since", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path_key"),
    )
    op.create_index("ix_tracks_fingerprint", "tracks", ["fingerprint"])
    op.create_index("ix_tracks_folder", "tracks", ["folder"])
    op.create_index("ix_tracks_path", "tracks", ["path"])
    op.create_table(
        "write_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("patch_seconds", sa.Float(), nullable=False),
        sa.Column("taggram", sa.LargeBinary(), nullable=False),
        sa.Column("n_patches", sa.Integer(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("track_id", "model"),
    )
    op.create_index("ix_analyses_track_id", "analyses", ["track_id"])
    op.create_table(
        "track_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("track_id", "category", "label"),
    )
    op.create_index("ix_track_labels_category_label", "track_labels", ["category", "label"])
    op.create_index("ix_track_labels_track_id", "track_labels", ["track_id"])
    op.create_table(
        "write_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.Column("path_key", sa.LargeBinary(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("old", sa.JSON(), nullable=False),
        sa.Column("new", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["write_batches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_write_entries_batch_id", "write_entries", ["batch_id"])
    op.create_index("ix_write_entries_status", "write_entries", ["status"])
    op.create_index("ix_write_entries_track_id", "write_entries", ["track_id"])


def downgrade() -> None:
    for table in ("write_entries", "track_labels", "analyses", "write_batches", "tracks", "meta"):
        op.drop_table(table)
