"""A covering index for the rescan (issue 15; docs/scale.md).

Revision ID: 0009_rescan_index
Revises: 0008_search_text
Create Date: 2026-12-03

``ix_tracks_rescan`` (path_key, size, mtime_ns, fingerprint, missing_since, error, id): what
``scanner._load_index`` reads of each indexed file under the scanned folders, in path order, so the
rescan of a folder is one index range and no wide row (tags, analysis results) is visited.
"""

from __future__ import annotations

from alembic import op

revision = "0009_rescan_index"
down_revision = "0008_search_text"
branch_labels = None
depends_on = None

_COLUMNS = ["path_key", "size", "mtime_ns", "fingerprint", "missing_since", "error", "id"]


def upgrade() -> None:
    op.create_index("ix_tracks_rescan", "tracks", _COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_tracks_rescan", "tracks")
