"""Which mode made an analysis (schema.Analysis.sampled) and where its taggram rows lie (patch_starts).

Revision ID: 0005_analysis_sampled
Revises: 0004_track_tempo_key
Create Date: 2026-12-03

Library mode (issue 14) analyses a fixed budget of patches spread over a track, so its taggram holds only
those rows. Every analysis stored before was a full one: ``sampled`` starts false and ``patch_starts``
empty (consecutive patches from 0 s), which is what those rows are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_analysis_sampled"
down_revision = "0004_track_tempo_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analyses") as batch:
        batch.add_column(sa.Column("sampled", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("patch_starts", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analyses") as batch:
        batch.drop_column("patch_starts")
        batch.drop_column("sampled")
