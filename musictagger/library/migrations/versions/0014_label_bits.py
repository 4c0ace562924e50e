"""Each track's confident genres and moods as bits, in the BPM order's index (issue 15; docs/scale.md).

Revision ID: 0014_label_bits
Revises: 0013_table_order_indexes
Create Date: 2026-12-05

- ``label_bits`` (category, label, mask): a filterable label's bit; ``tracks.label_bits``: the OR of the
  bits of the track's confident labels (library/label_bits.py keeps both by triggers, made after the
  upgrade; this step fills them from the labels as they are).
- ``ix_tracks_bpm_order`` gains ``label_bits`` as its last column: a genre + mood + BPM filter reads the
  BPM range of the index and tests the bits there, no label row read (SQLite 216 ms -> see docs/scale.md
  on 1,000,000 tracks). Last, so the index still gives the BPM order (ties by path and id).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from musictagger.library import label_bits

revision = "0014_label_bits"
down_revision = "0013_table_order_indexes"
branch_labels = None
depends_on = None

_PRESENT = sa.text("missing_since IS NULL")
_BPM_ORDER = ["bpm", "path", "id", "missing_since"]


def upgrade() -> None:
    op.create_table(
        "label_bits",
        sa.Column("category", sa.String(32), primary_key=True),
        sa.Column("label", sa.String(128), primary_key=True),
        sa.Column("mask", sa.BigInteger(), nullable=False, unique=True),
    )
    # ADD COLUMN with a constant default: no copy of the table on either engine.
    op.add_column(
        "tracks",
        sa.Column(
            "label_bits",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            server_default=sa.text("0"),
            nullable=False,
        ),
    )
    label_bits.fill(op.get_bind())
    op.drop_index("ix_tracks_bpm_order", "tracks")
    op.create_index(
        "ix_tracks_bpm_order",
        "tracks",
        [*_BPM_ORDER, "label_bits"],
        sqlite_where=_PRESENT,
        postgresql_where=_PRESENT,
    )


def downgrade() -> None:
    label_bits.drop_triggers(op.get_bind())
    op.drop_index("ix_tracks_bpm_order", "tracks")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's own DROP COLUMN (3.35+): batch mode's copy and rename of ``tracks`` fails while the
        # other triggers (dropped by the older steps' downgrades) still name it.
        op.execute("ALTER TABLE tracks DROP COLUMN label_bits")
    else:
        op.drop_column("tracks", "label_bits")
    op.create_index(
        "ix_tracks_bpm_order", "tracks", _BPM_ORDER, sqlite_where=_PRESENT, postgresql_where=_PRESENT
    )
    op.drop_table("label_bits")
