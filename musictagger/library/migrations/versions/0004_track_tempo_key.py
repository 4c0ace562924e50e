"""Tempo and key per track (schema.Track: bpm, key, their confidences and reasons, and what estimated them),
indexed for sorting and filtering by BPM and key.

Revision ID: 0004_track_tempo_key
Revises: 0003_track_energy_valence
Create Date: 2026-12-03

All start empty: the next analysis run estimates tempo and key of every analysed track from a decode
alone (library/store.py), without running the taggers again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_track_tempo_key"
down_revision = "0003_track_energy_valence"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("bpm", sa.Float()),
    ("bpm_confidence", sa.Float()),
    ("bpm_reason", sa.Text()),
    ("key", sa.String(16)),
    ("key_confidence", sa.Float()),
    ("key_reason", sa.Text()),
    ("tempo_key_basis", sa.String(128)),
    ("tempo_key_fingerprint", sa.String(64)),
)


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        for name, type_ in _COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_index("ix_tracks_bpm", "tracks", ["bpm"])
    op.create_index("ix_tracks_key", "tracks", ["key"])


def downgrade() -> None:
    op.drop_index("ix_tracks_key", "tracks")
    op.drop_index("ix_tracks_bpm", "tracks")
    with op.batch_alter_table("tracks") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
