"""Energy (1-10) and valence (-1..1) per track, from the energy_valence head (schema.Track); whether a
label is confident (schema.TrackLabel.confident: at its calibrated threshold).

Revision ID: 0003_track_energy_valence
Revises: 0002_track_reviews
Create Date: 2026-12-03

Both start empty; the next analysis run relabels every analysed track from its stored embeddings
(library/labelling.py), which fills them without decoding any audio.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_track_energy_valence"
down_revision = "0002_track_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("energy", sa.Float(), nullable=True))
        batch.add_column(sa.Column("valence", sa.Float(), nullable=True))
    op.create_index("ix_tracks_energy", "tracks", ["energy"])
    with op.batch_alter_table("track_labels") as batch:
        batch.add_column(sa.Column("confident", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("track_labels") as batch:
        batch.drop_column("confident")
    op.drop_index("ix_tracks_energy", "tracks")
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("valence")
        batch.drop_column("energy")
