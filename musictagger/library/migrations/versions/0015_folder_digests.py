"""What the last complete scan saw in each folder (issue 15; docs/scale.md).

Revision ID: 0015_folder_digests
Revises: 0014_label_bits
Create Date: 2026-12-05

``folder_digests`` (folder_key, folder, files, digest, failed): a rescan compares a folder's walked files with
its digest and reads the folder's index rows only when they differ (library/folder_digests.py; its
triggers are made after the upgrade). Empty here: the next rescan stores the digests.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from musictagger.library import folder_digests

revision = "0015_folder_digests"
down_revision = "0014_label_bits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "folder_digests",
        sa.Column("folder_key", sa.LargeBinary(), primary_key=True),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("failed", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_folder_digests_folder", "folder_digests", ["folder"])


def downgrade() -> None:
    folder_digests.drop_triggers(op.get_bind())
    op.drop_index("ix_folder_digests_folder", "folder_digests")
    op.drop_table("folder_digests")
